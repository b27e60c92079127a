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
use crate::wire::{is_tool_type, tool_name, UIMessage};

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
            "text-start" => {
                let mut p = Map::new();
                p.insert("type".into(), "text".into());
                p.insert("text".into(), "".into());
                put(&mut p, "providerMetadata", c.get("providerMetadata"));
                p.insert("state".into(), "streaming".into());
                let idx = self.push(p);
                self.active_text.insert(id_key(c.get("id")), idx);
            }
            "text-end" => {
                // The SDK throws on an unknown id. A restored part still waiting for its id is the
                // one this ends (see claim_restored_text); else there is nothing to close.
                let key = id_key(c.get("id"));
                let open = self.active_text.remove(&key);
                let Some(idx) = open.or_else(|| self.restored_text.pop()) else {
                    return;
                };
                if let Some(p) = self.part_mut(idx) {
                    p.insert("state".into(), "done".into());
                    if let Some(citations) = non_null(c.get("citations")) {
                        p.insert("citations".into(), citations.clone());
                    }
                    if let Some(pm) = non_null(c.get("providerMetadata")) {
                        p.insert("providerMetadata".into(), pm.clone());
                    }
                }
            }
            "reasoning-start" => {
                let mut p = Map::new();
                p.insert("type".into(), "reasoning".into());
                put(&mut p, "id", c.get("id"));
                p.insert("text".into(), "".into());
                put(&mut p, "providerMetadata", c.get("providerMetadata"));
                p.insert("state".into(), "streaming".into());
                let idx = self.push(p);
                self.active_reasoning.insert(id_key(c.get("id")), idx);
            }
            "reasoning-end" => {
                let Some(idx) = self.active_reasoning.remove(&id_key(c.get("id"))) else {
                    return;
                };
                if let Some(p) = self.part_mut(idx) {
                    if let Some(pm) = non_null(c.get("providerMetadata")) {
                        p.insert("providerMetadata".into(), pm.clone());
                    }
                    p.insert("state".into(), "done".into());
                }
            }
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

    // -- internals ------------------------------------------------------------------------------

    fn clear_message(&mut self) {
        let applied = self.applied;
        *self = Assembler::new();
        self.applied = applied;
    }

    fn push(&mut self, part: Map<String, Value>) -> usize {
        self.message.parts.push(Value::Object(part));
        self.message.parts.len() - 1
    }

    fn part_mut(&mut self, idx: usize) -> Option<&mut Map<String, Value>> {
        self.message.parts.get_mut(idx).and_then(Value::as_object_mut)
    }

    fn text_delta(&mut self, c: &Map<String, Value>) {
        let key = id_str(c.get("id"));
        let idx = match self.active_text.get(&key) {
            Some(i) => i,
            None => match self.claim_restored_text(&key) {
                Some(i) => i,
                None => self.open_delta_part(DeltaKind::Text, key.into_owned(), None),
            },
        };
        append_text(self.message.parts.get_mut(idx), c);
    }

    /// A text chunk whose id is not open, after [`Assembler::from_message`] restored text parts
    /// still `streaming`: the id belongs to one of them (the turn is going on where it was saved), so
    /// it takes one and keeps it, instead of opening a second part that would split the reply. The
    /// message does not say which: with one open text part (what a model streams) there is no
    /// choice; with several, the newest is taken, since an older one left open is likelier a part
    /// whose end never came than one still receiving deltas.
    fn claim_restored_text(&mut self, key: &str) -> Option<usize> {
        let idx = self.restored_text.pop()?;
        self.active_text.insert(key.to_owned(), idx);
        Some(idx)
    }

    fn reasoning_delta(&mut self, c: &Map<String, Value>) {
        let idx = match self.active_reasoning.get(&id_str(c.get("id"))) {
            Some(i) => i,
            None => {
                let id = c.get("id").cloned();
                self.open_delta_part(DeltaKind::Reasoning, id_key(c.get("id")), id)
            }
        };
        append_text(self.message.parts.get_mut(idx), c);
    }

    /// A delta for a text or reasoning part that is not open. The SDK throws ("Ensure a text-start
    /// chunk is sent before..."). Creating the part keeps the text of a stream picked up mid-part
    /// (restored state, trimmed history) instead of losing it. `id` is the chunk's `id`, stored on
    /// reasoning parts (as `reasoning-start` does); `key` is its open-parts key.
    fn open_delta_part(&mut self, kind: DeltaKind, key: String, id: Option<Value>) -> usize {
        let mut p = Map::new();
        match kind {
            DeltaKind::Text => {
                p.insert("type".into(), "text".into());
            }
            DeltaKind::Reasoning => {
                p.insert("type".into(), "reasoning".into());
                if let Some(id) = id {
                    p.insert("id".into(), id);
                }
            }
        }
        p.insert("text".into(), "".into());
        p.insert("state".into(), "streaming".into());
        let idx = self.push(p);
        match kind {
            DeltaKind::Text => self.active_text.insert(key, idx),
            DeltaKind::Reasoning => self.active_reasoning.insert(key, idx),
        }
        idx
    }

    fn tool_input_start(&mut self, c: &Map<String, Value>) {
        let dynamic = truthy(c.get("dynamic"));
        let tool_name = js_string(c.get("toolName"));
        self.partial_tools.insert(
            id_key(c.get("toolCallId")),
            PartialToolCall {
                text: String::new(),
                input_encoding: c.get("inputEncoding").cloned(),
                tool_name: tool_name.clone(),
                dynamic,
                title: c.get("title").cloned(),
                tool_metadata: c.get("toolMetadata").cloned(),
            },
        );
        let upd = ToolUpdate {
            tool_call_id: c.get("toolCallId").cloned().unwrap_or(Value::Null),
            tool_name,
            state: "input-streaming",
            input_encoding: c.get("inputEncoding").cloned(),
            provider_executed: c.get("providerExecuted").cloned(),
            title: c.get("title").cloned(),
            tool_metadata: c.get("toolMetadata").cloned(),
            provider_metadata: c.get("providerMetadata").cloned(),
            ..Default::default()
        };
        self.update_tool(upd, dynamic, None);
    }

    fn tool_input_delta(&mut self, c: &Map<String, Value>) {
        // The SDK throws without a preceding tool-input-start: nothing says which tool this is.
        let Some(partial) = self.partial_tools.get_mut(&*id_str(c.get("toolCallId"))) else {
            return;
        };
        if let Some(d) = c.get("inputTextDelta").and_then(Value::as_str) {
            partial.text.push_str(d);
        }
        let input = if partial.input_encoding.as_ref().and_then(Value::as_str) == Some("text") {
            Some(Value::String(partial.text.clone()))
        } else {
            parse_partial_json(&partial.text)
        };
        let upd = ToolUpdate {
            tool_call_id: c.get("toolCallId").cloned().unwrap_or(Value::Null),
            tool_name: partial.tool_name.clone(),
            state: "input-streaming",
            input_encoding: partial.input_encoding.clone(),
            input,
            raw_input: Some(Value::String(partial.text.clone())),
            title: partial.title.clone(),
            tool_metadata: partial.tool_metadata.clone(),
            ..Default::default()
        };
        let dynamic = partial.dynamic;
        self.update_tool(upd, dynamic, None);
    }

    fn tool_output(&mut self, chunk_type: &str, c: &Map<String, Value>) {
        let Some(idx) = self.find_tool_invocation(c.get("toolCallId")) else {
            return;
        };
        let part = &self.message.parts[idx];
        let dynamic = part.get("type").and_then(Value::as_str) == Some("dynamic-tool");
        let mut upd = ToolUpdate {
            tool_call_id: c.get("toolCallId").cloned().unwrap_or(Value::Null),
            tool_name: if dynamic { js_string(part.get("toolName")) } else { static_tool_name(part).to_owned() },
            input: part.get("input").cloned(),
            provider_executed: c.get("providerExecuted").cloned(),
            provider_metadata: c.get("providerMetadata").cloned(),
            title: part.get("title").cloned(),
            tool_metadata: non_null(c.get("toolMetadata")).or_else(|| part.get("toolMetadata")).cloned(),
            ..Default::default()
        };
        if chunk_type == "tool-output-available" {
            upd.state = "output-available";
            upd.output = c.get("output").cloned();
            upd.preliminary = c.get("preliminary").cloned();
        } else {
            upd.state = "output-error";
            upd.error_text = c.get("errorText").cloned();
            if !dynamic {
                upd.raw_input = part.get("rawInput").cloned();
            }
        }
        self.update_tool(upd, dynamic, Some(idx));
    }

    /// Index of the first part after the last `step-start` (0 when there is none).
    fn current_step_start(&self) -> usize {
        self.message
            .parts
            .iter()
            .rposition(|p| p.get("type").and_then(Value::as_str) == Some("step-start"))
            .map_or(0, |i| i + 1)
    }

    /// The SDK's `getToolInvocation`: the tool part with this call id in the current step, else the
    /// last one in the whole message.
    fn find_tool_invocation(&self, call_id: Option<&Value>) -> Option<usize> {
        let parts = &self.message.parts;
        let matches = |i: &usize| {
            let p = &parts[*i];
            is_tool_value(p) && js_eq(p.get("toolCallId"), call_id)
        };
        let step = self.current_step_start();
        (step..parts.len()).find(matches).or_else(|| (0..parts.len()).rev().find(matches))
    }

    /// The SDK's `updateToolPart` / `updateDynamicToolPart`: update the given part, else the matching
    /// tool part of the current step, else append a new one.
    fn update_tool(&mut self, u: ToolUpdate, dynamic: bool, existing: Option<usize>) {
        let existing = existing.or_else(|| {
            let step = self.current_step_start();
            (step..self.message.parts.len()).find(|&i| {
                let p = &self.message.parts[i];
                let t = p.get("type").and_then(Value::as_str).unwrap_or("");
                let kind_ok = if dynamic { t == "dynamic-tool" } else { t.starts_with("tool-") };
                kind_ok && js_eq(p.get("toolCallId"), Some(&u.tool_call_id))
            })
        });
        let is_result = u.state == "output-available" || u.state == "output-error";
        let pm_key = if is_result { "resultProviderMetadata" } else { "callProviderMetadata" };

        if let Some(p) = existing.and_then(|i| self.part_mut(i)) {
            p.insert("state".into(), u.state.into());
            if dynamic {
                p.insert("toolName".into(), Value::String(u.tool_name));
            } else {
                p.insert("type".into(), Value::String(format!("tool-{}", u.tool_name)));
            }
            set(p, "input", u.input);
            set(p, "output", u.output);
            set(p, "errorText", u.error_text);
            set(p, "rawInput", u.raw_input);
            set(p, "inputEncoding", u.input_encoding.filter(|v| !v.is_null()));
            set(p, "preliminary", u.preliminary);
            if let Some(t) = u.title {
                p.insert("title".into(), t);
            }
            if let Some(m) = u.tool_metadata {
                p.insert("toolMetadata".into(), m);
            }
            if let Some(pe) = u.provider_executed.filter(|v| !v.is_null()) {
                p.insert("providerExecuted".into(), pe);
            }
            if let Some(pm) = u.provider_metadata.filter(|v| !v.is_null()) {
                p.insert(pm_key.into(), pm);
            }
            return;
        }

        let mut p = Map::new();
        if dynamic {
            p.insert("type".into(), "dynamic-tool".into());
            p.insert("toolName".into(), Value::String(u.tool_name));
        } else {
            p.insert("type".into(), Value::String(format!("tool-{}", u.tool_name)));
            put(&mut p, "rawInput", u.raw_input.as_ref());
        }
        p.insert("toolCallId".into(), u.tool_call_id);
        p.insert("state".into(), u.state.into());
        put(&mut p, "title", u.title.as_ref());
        put(&mut p, "toolMetadata", u.tool_metadata.as_ref());
        put(&mut p, "input", u.input.as_ref());
        put(&mut p, "inputEncoding", non_null(u.input_encoding.as_ref()));
        put(&mut p, "output", u.output.as_ref());
        put(&mut p, "errorText", u.error_text.as_ref());
        put(&mut p, "providerExecuted", u.provider_executed.as_ref());
        put(&mut p, "preliminary", u.preliminary.as_ref());
        put(&mut p, pm_key, non_null(u.provider_metadata.as_ref()));
        self.push(p);
    }

    fn data_part(&mut self, chunk_type: &str, chunk: &Value, c: &Map<String, Value>) {
        // Transient parts are delivered to the SDK's onData and never stored.
        if truthy(c.get("transient")) {
            return;
        }
        if let Some(id) = non_null(c.get("id")) {
            let found =
                self.message.parts.iter_mut().find(|p| {
                    p.get("type").and_then(Value::as_str) == Some(chunk_type) && js_eq(p.get("id"), Some(id))
                });
            if let Some(Value::Object(p)) = found {
                set(p, "data", c.get("data").cloned());
                return;
            }
        }
        // The SDK stores the chunk object itself, unknown fields and all.
        self.message.parts.push(chunk.clone());
    }

    /// The SDK's deep merge of message metadata (`mergeObjects`). Metadata that is not a JSON object
    /// on either side replaces instead (the SDK would spread a string or array into index keys).
    fn merge_metadata(&mut self, incoming: Option<&Value>) {
        let Some(incoming) = non_null(incoming) else {
            return;
        };
        match (&mut self.message.metadata, incoming) {
            (Some(Value::Object(base)), Value::Object(over)) => merge_objects(base, over),
            (slot, _) => *slot = Some(incoming.clone()),
        }
    }
}

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

fn answer_approval(
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

/// The AI SDK's `parsePartialJson(...).value`: the text parsed as JSON, else the text repaired by
/// [`repair_json`] and parsed, else `None` (the SDK's `undefined`: the tool part then has no input).
pub fn parse_partial_json(text: &str) -> Option<Value> {
    serde_json::from_str(text).ok().or_else(|| serde_json::from_str(&repair_json(text)).ok())
}

/// Contexts of the repair scanner; one stack entry per open construct.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Ctx {
    /// Before the top-level value.
    Root,
    /// After the top-level value started; everything else is ignored.
    Done,
    ObjStart,
    ObjKey,
    ObjAfterKey,
    ObjBeforeValue,
    ObjAfterValue,
    ObjAfterComma,
    ArrStart,
    ArrAfterValue,
    ArrAfterComma,
    Str,
    StrEscape,
    /// Inside `\uXXXX`: digits seen so far and their value.
    StrUnicode(u8, u16),
    Number,
    Literal,
}

/// Turn a JSON prefix into a complete JSON text, the way the AI SDK's `fixJson` does: cut the text
/// after the last character that ends something well-formed (a closed string or container, a digit,
/// a literal prefix, a string character), then close whatever is still open — strings with `"`,
/// objects with `}`, arrays with `]`, `tru` with `e`. A dangling key or a `,` is dropped with what
/// follows it, so `{"a":1,"b` becomes `{"a":1}`.
///
/// One deliberate difference: a string cut between the two `\u` escapes of a surrogate pair is cut
/// before the pair, because a lone surrogate is not valid JSON for serde (JavaScript accepts it).
pub fn repair_json(input: &str) -> String {
    let mut stack = vec![Ctx::Root];
    // Byte offset just past the last character that may end the repaired text.
    let mut cut = 0usize;
    let mut literal_start = 0usize;

    // A value begins at `i` with `c`: the enclosing context becomes `after`, and the value's own
    // context is pushed. Anything that cannot start a value is ignored, as in the SDK.
    fn value_start(stack: &mut Vec<Ctx>, cut: &mut usize, lit: &mut usize, c: char, i: usize, end: usize, after: Ctx) {
        let inner = match c {
            '"' => Ctx::Str,
            'f' | 't' | 'n' => {
                *lit = i;
                Ctx::Literal
            }
            '-' | '0'..='9' => Ctx::Number,
            '{' => Ctx::ObjStart,
            '[' => Ctx::ArrStart,
            _ => return,
        };
        if c != '-' {
            *cut = end;
        }
        stack.pop();
        stack.push(after);
        stack.push(inner);
    }
    // After a complete value inside a container: `,` awaits the next member, the closer ends it.
    fn after_value(stack: &mut Vec<Ctx>, cut: &mut usize, c: char, end: usize) {
        match (stack.last(), c) {
            (Some(Ctx::ObjAfterValue), ',') => *stack.last_mut().unwrap() = Ctx::ObjAfterComma,
            (Some(Ctx::ArrAfterValue), ',') => *stack.last_mut().unwrap() = Ctx::ArrAfterComma,
            (Some(Ctx::ObjAfterValue), '}') | (Some(Ctx::ArrAfterValue), ']') => {
                *cut = end;
                stack.pop();
            }
            _ => {}
        }
    }

    for (i, c) in input.char_indices() {
        let end = i + c.len_utf8();
        let Some(&top) = stack.last() else { break };
        match top {
            Ctx::Root => value_start(&mut stack, &mut cut, &mut literal_start, c, i, end, Ctx::Done),
            Ctx::Done => {}
            Ctx::ObjStart => match c {
                '"' => *stack.last_mut().unwrap() = Ctx::ObjKey,
                '}' => {
                    cut = end;
                    stack.pop();
                }
                _ => {}
            },
            Ctx::ObjAfterComma => {
                if c == '"' {
                    *stack.last_mut().unwrap() = Ctx::ObjKey;
                }
            }
            // Like the SDK, a key ends at the next quote, escaped or not: keys are cut away anyway
            // unless their value started.
            Ctx::ObjKey => {
                if c == '"' {
                    *stack.last_mut().unwrap() = Ctx::ObjAfterKey;
                }
            }
            Ctx::ObjAfterKey => {
                if c == ':' {
                    *stack.last_mut().unwrap() = Ctx::ObjBeforeValue;
                }
            }
            Ctx::ObjBeforeValue => value_start(&mut stack, &mut cut, &mut literal_start, c, i, end, Ctx::ObjAfterValue),
            Ctx::ObjAfterValue => after_value(&mut stack, &mut cut, c, end),
            Ctx::ArrStart if c == ']' => {
                cut = end;
                stack.pop();
            }
            Ctx::ArrStart | Ctx::ArrAfterComma => {
                value_start(&mut stack, &mut cut, &mut literal_start, c, i, end, Ctx::ArrAfterValue)
            }
            Ctx::ArrAfterValue => match c {
                ',' | ']' => after_value(&mut stack, &mut cut, c, end),
                // The SDK lets anything after an array element extend the cut (whitespace is the
                // only thing that can legally appear there).
                _ => cut = end,
            },
            Ctx::Str => match c {
                '"' => {
                    stack.pop();
                    cut = end;
                }
                '\\' => stack.push(Ctx::StrEscape),
                _ => cut = end,
            },
            Ctx::StrEscape => {
                stack.pop();
                if c == 'u' {
                    stack.push(Ctx::StrUnicode(0, 0));
                } else {
                    cut = end;
                }
            }
            Ctx::StrUnicode(n, v) => {
                if let Some(d) = c.to_digit(16) {
                    let v = (v << 4) | d as u16;
                    if n + 1 == 4 {
                        stack.pop();
                        if !(0xD800..0xDC00).contains(&v) {
                            cut = end;
                        }
                    } else {
                        *stack.last_mut().unwrap() = Ctx::StrUnicode(n + 1, v);
                    }
                }
            }
            Ctx::Number => match c {
                '0'..='9' => cut = end,
                'e' | 'E' | '-' | '.' => {}
                ',' | '}' | ']' => {
                    stack.pop();
                    // `,` may end an object member or an array element; a closer only its own kind
                    // (after_value ignores a mismatched one).
                    after_value(&mut stack, &mut cut, c, end);
                }
                // Anything else ends the number and is itself skipped.
                _ => {
                    stack.pop();
                }
            },
            Ctx::Literal => {
                let partial = &input[literal_start..end];
                if ["false", "true", "null"].iter().any(|l| l.starts_with(partial)) {
                    cut = end;
                } else {
                    stack.pop();
                    after_value(&mut stack, &mut cut, c, end);
                }
            }
        }
    }

    let mut out = String::with_capacity(cut + stack.len());
    out.push_str(&input[..cut]);
    for ctx in stack.iter().rev() {
        match ctx {
            Ctx::Str => out.push('"'),
            Ctx::ObjStart
            | Ctx::ObjKey
            | Ctx::ObjAfterKey
            | Ctx::ObjBeforeValue
            | Ctx::ObjAfterValue
            | Ctx::ObjAfterComma => out.push('}'),
            Ctx::ArrStart | Ctx::ArrAfterValue | Ctx::ArrAfterComma => out.push(']'),
            Ctx::Literal => {
                let partial = &input[literal_start..];
                if let Some(l) = ["true", "false", "null"].iter().find(|l| l.starts_with(partial)) {
                    out.push_str(&l[partial.len()..]);
                }
            }
            Ctx::Root | Ctx::Done | Ctx::StrEscape | Ctx::StrUnicode(..) | Ctx::Number => {}
        }
    }
    out
}

// -- small JSON helpers mirroring JavaScript semantics -----------------------------------------

/// Append a delta to the `text` of a text/reasoning part and take a newer `providerMetadata`.
#[inline]
fn append_text(part: Option<&mut Value>, c: &Map<String, Value>) {
    let Some(Value::Object(p)) = part else { return };
    let delta = c.get("delta").and_then(Value::as_str).unwrap_or("");
    match p.get_mut("text") {
        Some(Value::String(s)) => s.push_str(delta),
        _ => {
            p.insert("text".into(), Value::String(delta.to_owned()));
        }
    }
    if let Some(pm) = non_null(c.get("providerMetadata")) {
        p.insert("providerMetadata".into(), pm.clone());
    }
}

/// Insert `key` when the JavaScript value is not `undefined` (an explicit `null` is kept, as
/// `JSON.stringify` keeps it).
#[inline]
fn put(map: &mut Map<String, Value>, key: &str, v: Option<&Value>) {
    if let Some(v) = v {
        map.insert(key.to_owned(), v.clone());
    }
}

/// JavaScript assignment `obj[key] = v`, where assigning `undefined` makes the key vanish from JSON.
#[inline]
fn set(map: &mut Map<String, Value>, key: &str, v: Option<Value>) {
    match v {
        Some(v) => {
            map.insert(key.to_owned(), v);
        }
        None => {
            map.remove(key);
        }
    }
}

/// `v != null` in JavaScript: neither undefined nor null.
#[inline]
fn non_null(v: Option<&Value>) -> Option<&Value> {
    v.filter(|v| !v.is_null())
}

/// JavaScript truthiness.
fn truthy(v: Option<&Value>) -> bool {
    match v {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(Value::Number(n)) => n.as_f64().is_some_and(|f| f != 0.0 && !f.is_nan()),
        Some(Value::String(s)) => !s.is_empty(),
        Some(Value::Array(_) | Value::Object(_)) => true,
    }
}

/// JavaScript `===` on two possibly-undefined JSON values: objects and arrays are never equal (the
/// SDK compares ids, which are strings; distinct parsed objects are distinct references).
fn js_eq(a: Option<&Value>, b: Option<&Value>) -> bool {
    match (a, b) {
        (None, None) => true,
        (Some(Value::Null), Some(Value::Null)) => true,
        (Some(Value::String(x)), Some(Value::String(y))) => x == y,
        (Some(Value::Bool(x)), Some(Value::Bool(y))) => x == y,
        (Some(Value::Number(x)), Some(Value::Number(y))) => x.as_f64() == y.as_f64(),
        _ => false,
    }
}

/// JavaScript `String(v)` for the scalar ids and names the SDK interpolates.
fn js_string(v: Option<&Value>) -> String {
    match v {
        None => "undefined".to_owned(),
        Some(Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
    }
}

/// The key under which an id-keyed map (open text parts, tool calls) stores a chunk's id. The SDK
/// indexes a plain object, which stringifies the key the same way.
fn id_key(v: Option<&Value>) -> String {
    js_string(v)
}

/// Borrowing form of [`id_key`] for lookups on the hot path: no allocation for the usual string id.
#[inline]
fn id_str(v: Option<&Value>) -> Cow<'_, str> {
    match v {
        Some(Value::String(s)) => Cow::Borrowed(s),
        other => Cow::Owned(js_string(other)),
    }
}

fn is_tool_value(p: &Value) -> bool {
    p.get("type").and_then(Value::as_str).is_some_and(is_tool_type)
}

/// The SDK's `getStaticToolName`: the type after its first `-`.
fn static_tool_name(part: &Value) -> &str {
    let t = part.get("type").and_then(Value::as_str).unwrap_or("");
    t.split_once('-').map_or("", |(_, rest)| rest)
}

fn merge_objects(base: &mut Map<String, Value>, over: &Map<String, Value>) {
    for (k, v) in over {
        if matches!(k.as_str(), "__proto__" | "constructor" | "prototype") {
            continue;
        }
        match (base.get_mut(k), v) {
            (Some(Value::Object(b)), Value::Object(o)) => merge_objects(b, o),
            _ => {
                base.insert(k.clone(), v.clone());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn fold(chunks: &[Value]) -> Assembler {
        let mut a = Assembler::new();
        for c in chunks {
            a.apply(c);
        }
        a
    }

    #[test]
    fn repair_closes_what_is_open() {
        let cases = [
            ("", ""),
            ("{", "{}"),
            ("{\"a", "{}"),
            ("{\"a\":", "{}"),
            ("{\"a\":\"b", "{\"a\":\"b\"}"),
            ("{\"a\":1,", "{\"a\":1}"),
            ("{\"a\":1,\"b", "{\"a\":1}"),
            ("{\"a\":tr", "{\"a\":true}"),
            ("{\"a\":[1,2", "{\"a\":[1,2]}"),
            ("{\"a\":[1,2,", "{\"a\":[1,2]}"),
            ("[\"x\\", "[\"x\"]"),
            ("[\"x\\u00", "[\"x\"]"),
            ("[\"x\\u0041", "[\"x\\u0041\"]"),
            ("-", ""),
            ("-1.", "-1"),
            ("1e", "1"),
            ("nul", "null"),
            ("{\"a\":{\"b\":[{\"c\":n", "{\"a\":{\"b\":[{\"c\":null}]}}"),
        ];
        for (input, want) in cases {
            assert_eq!(repair_json(input), want, "input {input:?}");
        }
    }

    #[test]
    fn repair_never_splits_a_surrogate_pair() {
        assert_eq!(repair_json("\"a\\ud83d"), "\"a\"");
        assert_eq!(repair_json("\"a\\ud83d\\ude00"), "\"a\\ud83d\\ude00\"");
        assert_eq!(parse_partial_json("\"a\\ud83d\\ude0"), Some(json!("a")));
    }

    #[test]
    fn repair_handles_non_ascii_without_panicking() {
        for s in ["{\"é\":\"ü", "[\"日本", "{\"a\":tö", "[1 é", "\"\\é"] {
            let _ = repair_json(s);
            let _ = parse_partial_json(s);
        }
    }

    #[test]
    fn parse_partial_prefers_the_text_as_is() {
        assert_eq!(parse_partial_json("{\"a\":1}"), Some(json!({"a":1})));
        assert_eq!(parse_partial_json("{\"city\":\"Par"), Some(json!({"city":"Par"})));
        assert_eq!(parse_partial_json(""), None);
        assert_eq!(parse_partial_json("x"), None);
    }

    #[test]
    fn text_delta_hot_path_appends_in_place() {
        let a = fold(&[
            json!({"type":"text-start","id":"t"}),
            json!({"type":"text-delta","id":"t","delta":"a"}),
            json!({"type":"text-delta","id":"t","delta":"b"}),
        ]);
        assert_eq!(a.message().parts, vec![json!({"type":"text","text":"ab","state":"streaming"})]);
    }

    #[test]
    fn ended_and_restarted_ids_do_not_reuse_the_cached_part() {
        let a = fold(&[
            json!({"type":"text-start","id":"t"}),
            json!({"type":"text-delta","id":"t","delta":"one"}),
            json!({"type":"text-end","id":"t"}),
            json!({"type":"text-delta","id":"t","delta":"two"}),
            json!({"type":"text-start","id":"t"}),
            json!({"type":"text-delta","id":"t","delta":"three"}),
            json!({"type":"reset-step"}),
            json!({"type":"text-delta","id":"t","delta":"four"}),
        ]);
        let texts: Vec<_> = a.message().parts.iter().map(|p| p["text"].clone()).collect();
        assert_eq!(texts, vec![json!("four")]);
        let b = fold(&[
            json!({"type":"text-start","id":"t"}),
            json!({"type":"text-delta","id":"t","delta":"one"}),
            json!({"type":"text-end","id":"t"}),
            json!({"type":"text-delta","id":"t","delta":"two"}),
            json!({"type":"text-start","id":"t"}),
            json!({"type":"text-delta","id":"t","delta":"three"}),
        ]);
        let texts: Vec<_> = b.message().parts.iter().map(|p| p["text"].clone()).collect();
        assert_eq!(texts, vec![json!("one"), json!("two"), json!("three")]);
    }

    #[test]
    fn delta_without_start_creates_the_part() {
        let a = fold(&[json!({"type":"text-delta","id":"t","delta":"late"})]);
        assert_eq!(a.message().text(), "late");
    }

    #[test]
    fn hostile_chunks_are_ignored() {
        let a = fold(&[
            json!(null),
            json!([1, 2]),
            json!({"type": 5}),
            json!({"type":"text-end","id":"nope"}),
            json!({"type":"tool-output-available","toolCallId":"x","output":1}),
            json!({"type":"tool-input-delta","toolCallId":"x","inputTextDelta":"{"}),
            json!({"type":"tool-approval-request","toolCallId":"x","approvalId":"a"}),
            json!({"type":"tool-approval-response","approvalId":"a","approved":true}),
            json!({"type":"text-delta","id":{"o":1},"delta":7}),
        ]);
        assert_eq!(a.message().parts.len(), 1);
    }

    #[test]
    fn start_with_new_id_starts_over() {
        let a = fold(&[
            json!({"type":"start","messageId":"m1"}),
            json!({"type":"text-start","id":"t"}),
            json!({"type":"start","messageId":"m2"}),
        ]);
        assert_eq!(a.message_id(), Some("m2"));
        assert!(a.message().parts.is_empty());
        assert!(!a.is_empty());
    }
}
