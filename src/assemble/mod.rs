//! assemble — fold AI SDK `UIMessageChunk`s into the assistant `UIMessage`, the way the AI SDK does.
//!
//! The reference is `processUIMessageStream` as driven by `readUIMessageStream` in `ai@7` (what the
//! official server-side client, `AgentChat`, uses to build its messages). The goal is that
//! [`Assembler::to_json`] equals, as JSON, the message the AI SDK would hold after the same chunks;
//! the fixtures in `tests/fixtures/assemble/` were produced by running the real AI SDK.
//!
//! Where the AI SDK throws (a `text-delta` before its `text-start`, a tool chunk for an unknown call,
//! ...), the assembler cannot: a chunk comes off the network and one malformed chunk must not cost
//! the whole turn. Each such case does the least surprising thing and is documented at its arm.
//!
//! Versions: `ai@7` is a superset of 5 and 6 on the chunk types it handles (`custom`,
//! `reasoning-file`, `steering-message`, `reset-step`, `tool-approval-response` only exist there).
//! Where they disagree on the same chunk, `ai@7` wins:
//! - `finish-step` no longer forgets open text/reasoning parts (5 and 6 did; only a stream that
//!   would make 5/6 throw can tell the difference);
//! - `tool-input-error` on a static tool keeps the input in `input` (5 and 6 moved it to `rawInput`);
//! - an approval carries `requestReason` and `isAutomatic` (7 only), and tool parts `title`,
//!   `toolMetadata`, `inputEncoding`, `resultProviderMetadata` (6 and 7).
//!
//! The SDK's message is a JavaScript object, whose keys keep insertion order; here parts are
//! `serde_json` maps, so `to_json` writes keys sorted. Equal as JSON, not byte for byte.

use std::borrow::Cow;
use std::collections::HashMap;

use serde_json::{Map, Value};

use crate::records::{ChunkRecord, DeltaKind, Scan};

mod approval;
mod js;
mod parts;
mod repair;
#[cfg(test)]
mod tests;

use crate::wire::{is_tool_type, tool_name, UIMessage};
use approval::answer_approval;
pub use approval::{approval_response, pending_approvals, slim_for_wire};
use js::*;
pub use repair::{parse_partial_json, repair_json};

/// A tool call waiting for the user's decision (a tool part in state `approval-requested`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingApproval {
    pub approval_id: String,
    pub tool_call_id: String,
    pub tool_name: String,
}

/// Why a tool approval cannot be answered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ApprovalError {
    #[error("no tool part carries approval id {approval_id:?}")]
    UnknownApproval { approval_id: String },
    #[error("tool approval {approval_id:?} is not awaiting an answer (state {state:?})")]
    NotPending { approval_id: String, state: String },
}

/// What a `tool-input-start` announced, needed to interpret the `tool-input-delta`s that follow.
#[derive(Debug, Clone)]
struct PartialToolCall {
    /// The concatenated input text so far.
    text: String,
    input_encoding: Option<Value>,
    tool_name: String,
    dynamic: bool,
    title: Option<Value>,
    tool_metadata: Option<Value>,
}

/// The assistant message of one turn, being assembled from its chunks.
///
/// Text and reasoning deltas are the hot path (a busy stream is almost only `text-delta`s): each one
/// finds its part by the chunk's `id` (a cached compare, else a hash lookup), then appends in place;
/// the message is never re-serialized until [`Assembler::to_json`] is called.
#[derive(Debug, Clone)]
pub struct Assembler {
    message: UIMessage,
    applied: bool,
    finish_reason: Option<String>,
    finished: bool,
    error_text: Option<String>,
    aborted: bool,
    abort_reason: Option<String>,
    /// Open text parts: chunk id → index in `message.parts`.
    active_text: OpenParts,
    /// Open reasoning parts: chunk id → index in `message.parts`.
    active_reasoning: OpenParts,
    /// Tool calls whose input is streaming: toolCallId → state.
    partial_tools: HashMap<String, PartialToolCall>,
    /// Text parts of a restored message still `streaming`, oldest first, not yet claimed by a chunk
    /// id: a text part does not store its chunk id, so [`Assembler::from_message`] cannot put them in
    /// `active_text` (see [`Assembler::claim_restored_text`]).
    restored_text: Vec<usize>,
    /// The assistant message the next turn may continue (see [`Assembler::set_previous`]).
    previous: Option<UIMessage>,
}

impl Default for Assembler {
    fn default() -> Self {
        Self::new()
    }
}

/// Open text or reasoning parts by chunk id, with the last id looked up cached in front of the map:
/// deltas come in long runs for one id, and comparing one short string is cheaper than hashing it.
#[derive(Debug, Clone, Default)]
struct OpenParts {
    map: HashMap<String, usize>,
    /// `Some((id, idx))` only while `map[id] == idx`.
    last: Option<(String, usize)>,
}

impl OpenParts {
    #[inline]
    fn get(&mut self, id: &str) -> Option<usize> {
        if let Some((last_id, idx)) = &self.last {
            if last_id == id {
                return Some(*idx);
            }
        }
        let idx = *self.map.get(id)?;
        match &mut self.last {
            Some((last_id, last_idx)) => {
                last_id.clear();
                last_id.push_str(id);
                *last_idx = idx;
            }
            None => self.last = Some((id.to_owned(), idx)),
        }
        Some(idx)
    }

    fn insert(&mut self, id: String, idx: usize) {
        self.last = Some((id.clone(), idx));
        self.map.insert(id, idx);
    }

    fn remove(&mut self, id: &str) -> Option<usize> {
        if self.last.as_ref().is_some_and(|(last_id, _)| last_id == id) {
            self.last = None;
        }
        self.map.remove(id)
    }

    fn clear(&mut self) {
        self.map.clear();
        self.last = None;
    }
}

/// One update of a tool part. Every `Option` is a JavaScript value that may be `undefined` (`None`);
/// `Some(Value::Null)` is an explicit `null`. The AI SDK assigns `undefined` to erase a field, so
/// `None` removes the key where the SDK assigns unconditionally.
#[derive(Default)]
struct ToolUpdate {
    tool_call_id: Value,
    tool_name: String,
    state: &'static str,
    input: Option<Value>,
    input_encoding: Option<Value>,
    output: Option<Value>,
    error_text: Option<Value>,
    raw_input: Option<Value>,
    preliminary: Option<Value>,
    provider_executed: Option<Value>,
    provider_metadata: Option<Value>,
    title: Option<Value>,
    tool_metadata: Option<Value>,
}

impl Assembler {
    pub fn new() -> Self {
        Assembler {
            message: UIMessage::new("", "assistant"),
            applied: false,
            finish_reason: None,
            finished: false,
            error_text: None,
            aborted: false,
            abort_reason: None,
            active_text: OpenParts::default(),
            active_reasoning: OpenParts::default(),
            partial_tools: HashMap::new(),
            restored_text: Vec::new(),
            previous: None,
        }
    }

    /// An empty assembler for a turn that may continue `previous`: see [`Assembler::set_previous`].
    pub fn continuing(previous: Option<UIMessage>) -> Self {
        let mut a = Assembler::new();
        a.set_previous(previous);
        a
    }

    /// Name the assistant message the coming turn may continue — after a tool approval, the message
    /// as answered (what useChat holds after `addToolApprovalResponse`, not the slimmed copy sent to
    /// the agent: that one has lost its inputs, text and step-starts).
    ///
    /// The first `start` chunk carrying a `messageId` decides: the id of `previous` makes the turn
    /// continue it exactly as `readUIMessageStream({message: previous})` does (the chunks are folded
    /// into it, replacing whatever came before that `start`, as a new id would); any other id starts
    /// a new message as without `previous`, which is then forgotten. A `start` without a `messageId`
    /// does not decide: the SDK would continue there, but a caller that names the last assistant
    /// message before every turn must not have an ordinary reply appended to it, and an agent
    /// continuing a message always sends its id. A `previous` whose role is not `assistant` is
    /// ignored (the SDK starts a new message for it too). [`Assembler::reset`] forgets it.
    pub fn set_previous(&mut self, previous: Option<UIMessage>) {
        self.previous = previous.filter(|m| m.role == "assistant");
    }

    /// The message named by [`Assembler::set_previous`] that no `start` has decided on yet (saved
    /// with the chat, so a restore between an approval and its continuation still continues it).
    pub fn previous(&self) -> Option<&UIMessage> {
        self.previous.as_ref()
    }

    /// Continue an assistant message the AI SDK way (`readUIMessageStream({message})`): chunks are
    /// folded into it, and tool calls of its last step still in `input-streaming` accept further
    /// `tool-input-delta`s. A `start` with a different `messageId` still starts over.
    ///
    /// Unlike the SDK (which throws on a delta for a part it did not see start), parts still
    /// `streaming` stay open, so a message saved in the middle of a turn goes on with the rest of
    /// its chunks as if it had never been interrupted: a reasoning part by its `id`, a text part
    /// (which keeps no id) by the first text chunk whose id is not open — with several text parts
    /// open, the newest first.
    ///
    /// A message whose role is not `assistant` is not continued (the SDK ignores it too): the
    /// assembler starts empty, with that message's id.
    pub fn from_message(message: UIMessage) -> Self {
        let mut a = Assembler::new();
        if message.role != "assistant" {
            a.message.id = message.id;
            return a;
        }
        a.message = message;
        let step = a.current_step_start();
        for part in &a.message.parts[step..] {
            let Some(t) = part.get("type").and_then(Value::as_str) else {
                continue;
            };
            if !is_tool_type(t) || part.get("state").and_then(Value::as_str) != Some("input-streaming") {
                continue;
            }
            let Some(id) = part.get("toolCallId").and_then(Value::as_str) else {
                continue;
            };
            a.partial_tools.insert(
                id.to_owned(),
                PartialToolCall {
                    text: part.get("rawInput").and_then(Value::as_str).unwrap_or("").to_owned(),
                    input_encoding: part.get("inputEncoding").cloned(),
                    tool_name: tool_name(part).unwrap_or("").to_owned(),
                    dynamic: t == "dynamic-tool",
                    title: part.get("title").cloned(),
                    tool_metadata: part.get("toolMetadata").cloned(),
                },
            );
        }
        // Open parts are not limited to the last step: ai@7's `finish-step` leaves them open.
        for (idx, part) in a.message.parts.iter().enumerate() {
            if part.get("state").and_then(Value::as_str) != Some("streaming") {
                continue;
            }
            match part.get("type").and_then(Value::as_str) {
                Some("text") => a.restored_text.push(idx),
                // The key `reasoning-start` used (its `id` is stored on the part); a later part
                // with the same id wins, as the later start did.
                Some("reasoning") => a.active_reasoning.insert(id_key(part.get("id")), idx),
                _ => {}
            }
        }
        a
    }

    /// Fold one chunk (the `data` object of a data record).
    ///
    /// Never fails or panics: a non-object or a chunk without a string `type` is ignored, unknown
    /// types are ignored (as the AI SDK does), unknown fields are ignored or, where the SDK stores the
    /// chunk itself (`data-*` parts), kept.
    pub fn apply(&mut self, chunk: &Value) {
        if let Some(t) = chunk.get("type").and_then(Value::as_str) {
            self.apply_typed(t, chunk);
        }
    }

    /// Fold one decoded chunk: [`Assembler::apply`] without building a [`Value`] for the hot chunks.
    ///
    /// A `text-delta` or `reasoning-delta` that [`ChunkRecord::text_delta`] describes goes straight to
    /// [`Assembler::apply_delta`]; any other chunk is parsed and applied as [`Assembler::apply`] would.
    pub fn apply_record(&mut self, record: &ChunkRecord) {
        if let Some(d) = record.text_delta() {
            return self.apply_delta(d.kind, d.id, d.delta);
        }
        if let Some(t) = record.chunk_type_if_string() {
            self.apply_typed(t, &record.chunk_value());
        }
    }

    /// Fold one chunk given as JSON text; the same as parsing it and calling [`Assembler::apply`],
    /// except that plain text and reasoning deltas are applied without building a [`Value`]. Text
    /// that is not a JSON object is ignored.
    pub fn apply_json(&mut self, json: &str) {
        let Ok(scan) = Scan::new(json) else { return };
        let fields = scan.fields();
        if let (Some(kind), Some(id)) = (fields.kind, fields.delta_id) {
            return self.apply_delta(kind, id, fields.delta.unwrap_or(""));
        }
        if let Scan::Map(map) = scan {
            let chunk = Value::Object(map);
            if let Some(t) = chunk.get("type").and_then(Value::as_str) {
                self.apply_typed(t, &chunk);
            }
        }
    }

    /// Fold a `text-delta` (`kind` [`DeltaKind::Text`]) or `reasoning-delta` chunk with a string `id`,
    /// the given `delta` (`""` for a chunk without one) and no `providerMetadata`: the hot path, the
    /// same as [`Assembler::apply`] on such a chunk.
    pub fn apply_delta(&mut self, kind: DeltaKind, id: &str, delta: &str) {
        self.applied = true;
        let open = match kind {
            DeltaKind::Text => &mut self.active_text,
            DeltaKind::Reasoning => &mut self.active_reasoning,
        };
        let idx = match open.get(id) {
            Some(idx) => idx,
            None => match kind {
                DeltaKind::Text => match self.claim_restored_text(id) {
                    Some(idx) => idx,
                    None => self.open_delta_part(kind, id.to_owned(), None),
                },
                DeltaKind::Reasoning => {
                    let id_value = Value::String(id.to_owned());
                    self.open_delta_part(kind, id.to_owned(), Some(id_value))
                }
            },
        };
        if let Some(Value::Object(p)) = self.message.parts.get_mut(idx) {
            match p.get_mut("text") {
                Some(Value::String(s)) => s.push_str(delta),
                _ => {
                    p.insert("text".into(), Value::String(delta.to_owned()));
                }
            }
        }
    }

    /// [`Assembler::apply`] for a caller that has already read the chunk's `type`.
    pub fn apply_typed(&mut self, chunk_type: &str, chunk: &Value) {
        let Some(c) = chunk.as_object() else { return };
        // Trigger.dev's in-band control chunks (`trigger:turn-complete`, ...) belong to the record
        // layer; if one gets here it is not message content and must not mark the turn as started.
        if chunk_type.starts_with("trigger:") {
            return;
        }
        self.applied = true;
        match chunk_type {
            "text-delta" => self.text_delta(c),
            "reasoning-delta" => self.reasoning_delta(c),
            "text-start" => self.start_part(DeltaKind::Text, c),
            "text-end" => self.end_part(DeltaKind::Text, c),
            "reasoning-start" => self.start_part(DeltaKind::Reasoning, c),
            "reasoning-end" => self.end_part(DeltaKind::Reasoning, c),
            "custom" => {
                let mut p = Map::new();
                p.insert("type".into(), "custom".into());
                put(&mut p, "kind", c.get("kind"));
                put(&mut p, "providerMetadata", c.get("providerMetadata"));
                self.push(p);
            }
            "file" | "reasoning-file" => {
                let mut p = Map::new();
                p.insert("type".into(), chunk_type.into());
                put(&mut p, "mediaType", c.get("mediaType"));
                put(&mut p, "url", c.get("url"));
                put(&mut p, "providerMetadata", non_null(c.get("providerMetadata")));
                self.push(p);
            }
            "source-url" => {
                let mut p = Map::new();
                p.insert("type".into(), "source-url".into());
                for k in ["sourceId", "url", "title", "providerMetadata"] {
                    put(&mut p, k, c.get(k));
                }
                self.push(p);
            }
            "source-document" => {
                let mut p = Map::new();
                p.insert("type".into(), "source-document".into());
                for k in ["sourceId", "mediaType", "title", "filename", "providerMetadata"] {
                    put(&mut p, k, c.get(k));
                }
                self.push(p);
            }
            "steering-message" => {
                let mut p = Map::new();
                p.insert("type".into(), "steering-message".into());
                put(&mut p, "id", c.get("id"));
                put(&mut p, "parts", c.get("parts"));
                self.push(p);
            }
            "tool-input-start" => self.tool_input_start(c),
            "tool-input-delta" => self.tool_input_delta(c),
            "tool-input-available" => {
                let upd = ToolUpdate {
                    tool_call_id: c.get("toolCallId").cloned().unwrap_or(Value::Null),
                    tool_name: js_string(c.get("toolName")),
                    state: "input-available",
                    input: c.get("input").cloned(),
                    provider_executed: c.get("providerExecuted").cloned(),
                    provider_metadata: c.get("providerMetadata").cloned(),
                    title: c.get("title").cloned(),
                    tool_metadata: c.get("toolMetadata").cloned(),
                    ..Default::default()
                };
                self.update_tool(upd, truthy(c.get("dynamic")), None);
            }
            "tool-input-error" => {
                let call_id = c.get("toolCallId").cloned().unwrap_or(Value::Null);
                let step = self.current_step_start();
                let existing = (step..self.message.parts.len()).find(|&i| {
                    let p = &self.message.parts[i];
                    is_tool_value(p) && js_eq(p.get("toolCallId"), Some(&call_id))
                });
                let dynamic = match existing {
                    Some(i) => self.message.parts[i].get("type").and_then(Value::as_str) == Some("dynamic-tool"),
                    None => truthy(c.get("dynamic")),
                };
                let upd = ToolUpdate {
                    tool_call_id: call_id,
                    tool_name: js_string(c.get("toolName")),
                    state: "output-error",
                    input: c.get("input").cloned(),
                    error_text: c.get("errorText").cloned(),
                    provider_executed: c.get("providerExecuted").cloned(),
                    provider_metadata: c.get("providerMetadata").cloned(),
                    tool_metadata: c.get("toolMetadata").cloned(),
                    ..Default::default()
                };
                self.update_tool(upd, dynamic, None);
            }
            "tool-approval-request" => {
                // The SDK throws when no tool part has this call id; there is nothing to mark.
                let Some(idx) = self.find_tool_invocation(c.get("toolCallId")) else {
                    return;
                };
                let mut approval = Map::new();
                put(&mut approval, "id", c.get("approvalId"));
                put(&mut approval, "descriptor", non_null(c.get("approvalDescriptor")));
                // Kept even when null: the SDK tests for the key, not the value.
                put(&mut approval, "inputSchemaInput", c.get("inputSchemaInput"));
                put(&mut approval, "requestReason", non_null(c.get("reason")));
                if c.get("isAutomatic") == Some(&Value::Bool(true)) {
                    approval.insert("isAutomatic".into(), Value::Bool(true));
                }
                put(&mut approval, "signature", non_null(c.get("signature")));
                if let Some(p) = self.part_mut(idx) {
                    p.insert("state".into(), "approval-requested".into());
                    p.insert("approval".into(), Value::Object(approval));
                }
            }
            "tool-approval-response" => {
                let approval_id = c.get("approvalId");
                let found = self.message.parts.iter().position(|p| {
                    is_tool_value(p) && p.get("approval").is_some_and(|a| js_eq(a.get("id"), approval_id))
                });
                let Some(idx) = found else { return };
                let Some(p) = self.part_mut(idx) else { return };
                let mut approval = match p.get("approval") {
                    Some(Value::Object(a)) => a.clone(),
                    _ => Map::new(),
                };
                put(&mut approval, "id", approval_id);
                put(&mut approval, "approved", c.get("approved"));
                put(&mut approval, "reason", non_null(c.get("reason")));
                p.insert("state".into(), "approval-responded".into());
                p.insert("approval".into(), Value::Object(approval));
                if let Some(v) = non_null(c.get("providerExecuted")) {
                    p.insert("providerExecuted".into(), v.clone());
                }
                if let Some(v) = non_null(c.get("providerMetadata")) {
                    p.insert("callProviderMetadata".into(), v.clone());
                }
            }
            "tool-output-denied" => {
                let Some(idx) = self.find_tool_invocation(c.get("toolCallId")) else {
                    return;
                };
                if let Some(p) = self.part_mut(idx) {
                    p.insert("state".into(), "output-denied".into());
                }
            }
            "tool-output-available" | "tool-output-error" => self.tool_output(chunk_type, c),
            "start-step" => {
                let mut p = Map::new();
                p.insert("type".into(), "step-start".into());
                self.push(p);
            }
            // ai@5/6 forgot the open text and reasoning parts here; ai@7 does nothing (see the
            // module comment).
            "finish-step" => {}
            "reset-step" => {
                // A retried step: its parts so far are discarded, the step-start itself stays.
                let step = self.current_step_start();
                self.message.parts.truncate(step);
                self.active_text.clear();
                self.restored_text.clear();
                self.active_reasoning.clear();
                self.partial_tools.clear();
            }
            "start" => {
                if let Some(id) = non_null(c.get("messageId")) {
                    let id = js_string(Some(id));
                    match self.previous.take() {
                        // The agent continues the message named by set_previous: from here on it is
                        // readUIMessageStream({message: previous}).
                        Some(previous) if previous.id == id => {
                            let applied = self.applied;
                            *self = Assembler::from_message(previous);
                            self.applied = applied;
                        }
                        // readUIMessageStream's `resetStateOnMessageIdChange`: a new message id is a
                        // new message, even without an explicit `reset()`.
                        _ if id != self.message.id => self.clear_message(),
                        _ => {}
                    }
                    self.message.id = id;
                }
                self.merge_metadata(c.get("messageMetadata"));
            }
            "finish" => {
                self.finished = true;
                if let Some(r) = non_null(c.get("finishReason")) {
                    self.finish_reason = Some(js_string(Some(r)));
                }
                self.merge_metadata(c.get("messageMetadata"));
            }
            "message-metadata" => self.merge_metadata(c.get("messageMetadata")),
            "error" => {
                // The SDK only reports it (onError); the message itself is untouched.
                self.error_text = Some(match c.get("errorText") {
                    Some(Value::String(s)) => s.clone(),
                    None | Some(Value::Null) => String::new(),
                    Some(other) => other.to_string(),
                });
            }
            "abort" => {
                // Not folded by the SDK either; recorded so the caller can tell a stopped turn.
                self.aborted = true;
                self.abort_reason = c.get("reason").and_then(Value::as_str).map(str::to_owned);
            }
            t if t.starts_with("data-") => self.data_part(t, chunk, c),
            _ => {}
        }
    }

    /// The message as assembled so far: role `assistant`, id from `start.messageId` (empty until a
    /// `start` carried one).
    pub fn message(&self) -> &UIMessage {
        &self.message
    }

    /// Take the assembled message.
    pub fn into_message(self) -> UIMessage {
        self.message
    }

    /// The message JSON, as the AI SDK would serialize it.
    pub fn to_json(&self) -> String {
        // Values and string-keyed maps always serialize; the fallback is unreachable.
        serde_json::to_string(&self.message).unwrap_or_else(|_| "{}".to_owned())
    }

    pub fn message_id(&self) -> Option<&str> {
        (!self.message.id.is_empty()).then_some(self.message.id.as_str())
    }

    /// The `finishReason` of the `finish` chunk. The AI SDK keeps it on its stream state, not on
    /// the message, so it is not part of [`Assembler::to_json`].
    pub fn finish_reason(&self) -> Option<&str> {
        self.finish_reason.as_deref()
    }

    /// Whether a `finish` chunk arrived.
    pub fn is_finished(&self) -> bool {
        self.finished
    }

    /// The `errorText` of the last `error` chunk.
    pub fn error_text(&self) -> Option<&str> {
        self.error_text.as_deref()
    }

    /// Whether an `abort` chunk arrived (the turn was stopped).
    pub fn is_aborted(&self) -> bool {
        self.aborted
    }

    /// The `reason` of the `abort` chunk, if it had one.
    pub fn abort_reason(&self) -> Option<&str> {
        self.abort_reason.as_deref()
    }

    /// Whether no chunk has been applied since creation or the last [`Assembler::reset`].
    pub fn is_empty(&self) -> bool {
        !self.applied
    }

    /// Start a new turn: an empty message with no id, and all per-turn state forgotten (a message
    /// named by [`Assembler::set_previous`] too: name it after the reset).
    pub fn reset(&mut self) {
        *self = Assembler::new();
    }

    /// Tool parts in state `approval-requested`, in message order.
    pub fn pending_approvals(&self) -> Vec<PendingApproval> {
        pending_approvals(&self.message)
    }

    /// Answer a tool approval on the assembled message (so it shows `approval-responded`, as the
    /// AI SDK's `addToolApprovalResponse` does locally) and return the slimmed message to send;
    /// see [`approval_response`].
    pub fn respond_to_approval(
        &mut self,
        approval_id: &str,
        approved: bool,
        reason: Option<&str>,
    ) -> Result<UIMessage, ApprovalError> {
        answer_approval(&mut self.message.parts, approval_id, approved, reason)?;
        Ok(slim_for_wire(&self.message))
    }
}
