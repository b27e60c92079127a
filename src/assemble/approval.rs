//! Tool approvals: answering one as the AI SDK does, and slimming the message for the wire as
//! `@trigger.dev/sdk` does.

use super::*;

/// Build the slimmed assistant message that answers a tool approval (PROTOCOL.md 4.2, "Tool approval
/// response"), exactly as the official transport does: the AI SDK's `addToolApprovalResponse`
/// (every tool part in `approval-requested` with this approval id goes to `approval-responded`, its
/// `approval` becomes `{...approval, id, approved, reason?}`), then `@trigger.dev/sdk`'s
/// `slimSubmitMessageForWire` (see [`slim_for_wire`]).
///
/// Errors when no tool part has that approval id, or when it is not in `approval-requested` (already
/// answered, or denied).
pub fn approval_response(
    message: &UIMessage,
    approval_id: &str,
    approved: bool,
    reason: Option<&str>,
) -> Result<UIMessage, ApprovalError> {
    let mut parts = message.parts.clone();
    answer_approval(&mut parts, approval_id, approved, reason)?;
    let answered =
        UIMessage { id: message.id.clone(), role: message.role.clone(), parts, metadata: None, extra: Map::new() };
    Ok(slim_for_wire(&answered))
}

/// `@trigger.dev/sdk`'s `slimSubmitMessageForWire`: the agent rebuilds text, reasoning and tool
/// inputs from its own copy, so an assistant message sent back only needs the tool parts the client
/// advanced (`output-available`, `output-error`, `approval-responded`, `output-denied`), each reduced
/// to `{type, toolCallId, state, toolName (dynamic-tool only), output | errorText, approval}` — which
/// keeps a long reasoning turn under the append size limit. The result is `{id, role, parts}` (no
/// metadata).
///
/// Like the SDK, a non-assistant message, or one without any advanced tool part, is returned
/// unchanged.
pub fn slim_for_wire(message: &UIMessage) -> UIMessage {
    if message.role != "assistant" {
        return message.clone();
    }
    let advanced = |p: &&Value| {
        p.get("type").and_then(Value::as_str).is_some_and(is_tool_type)
            && matches!(
                p.get("state").and_then(Value::as_str),
                Some("output-available" | "output-error" | "approval-responded" | "output-denied")
            )
    };
    if !message.parts.iter().any(|p| advanced(&p)) {
        return message.clone();
    }
    let parts = message
        .parts
        .iter()
        .filter(advanced)
        .map(|p| {
            let mut s = Map::new();
            put(&mut s, "type", p.get("type"));
            put(&mut s, "toolCallId", p.get("toolCallId"));
            put(&mut s, "state", p.get("state"));
            if p.get("type").and_then(Value::as_str) == Some("dynamic-tool") {
                if let Some(name @ Value::String(_)) = p.get("toolName") {
                    s.insert("toolName".into(), name.clone());
                }
            }
            match p.get("state").and_then(Value::as_str) {
                Some("output-available") => put(&mut s, "output", p.get("output")),
                Some("output-error") => put(&mut s, "errorText", p.get("errorText")),
                _ => {}
            }
            put(&mut s, "approval", p.get("approval"));
            Value::Object(s)
        })
        .collect();
    UIMessage { id: message.id.clone(), role: message.role.clone(), parts, metadata: None, extra: Map::new() }
}

/// Tool parts of a message in state `approval-requested`, in message order.
pub fn pending_approvals(message: &UIMessage) -> Vec<PendingApproval> {
    message
        .parts
        .iter()
        .filter(|p| is_tool_value(p) && p.get("state").and_then(Value::as_str) == Some("approval-requested"))
        .map(|p| PendingApproval {
            approval_id: p.get("approval").and_then(|a| a.get("id")).and_then(Value::as_str).unwrap_or("").to_owned(),
            tool_call_id: p.get("toolCallId").and_then(Value::as_str).unwrap_or("").to_owned(),
            tool_name: tool_name(p).unwrap_or("").to_owned(),
        })
        .collect()
}

pub(super) fn answer_approval(
    parts: &mut [Value],
    approval_id: &str,
    approved: bool,
    reason: Option<&str>,
) -> Result<(), ApprovalError> {
    let has_id = |p: &Value| {
        is_tool_value(p) && p.get("approval").and_then(|a| a.get("id")).and_then(Value::as_str) == Some(approval_id)
    };
    let mut answered = false;
    let mut other_state = None;
    for p in parts.iter_mut().filter(|p| has_id(p)) {
        let Some(obj) = p.as_object_mut() else {
            continue;
        };
        if obj.get("state").and_then(Value::as_str) != Some("approval-requested") {
            other_state.get_or_insert_with(|| js_string(obj.get("state")));
            continue;
        }
        let mut approval = match obj.get("approval") {
            Some(Value::Object(a)) => a.clone(),
            _ => Map::new(),
        };
        approval.insert("id".into(), approval_id.into());
        approval.insert("approved".into(), approved.into());
        // `reason: undefined` on the SDK side: no key, and an earlier one is erased.
        match reason {
            Some(r) => approval.insert("reason".into(), r.into()),
            None => approval.remove("reason"),
        };
        obj.insert("state".into(), "approval-responded".into());
        obj.insert("approval".into(), Value::Object(approval));
        answered = true;
    }
    match (answered, other_state) {
        (true, _) => Ok(()),
        (false, Some(state)) => Err(ApprovalError::NotPending { approval_id: approval_id.to_owned(), state }),
        (false, None) => Err(ApprovalError::UnknownApproval { approval_id: approval_id.to_owned() }),
    }
}

// -- partial JSON -------------------------------------------------------------------------------
