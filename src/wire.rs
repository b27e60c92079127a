//! wire — serde types for every JSON body tchat sends or receives (PROTOCOL.md sections 1, 2, 4, 5).
//!
//! Three rules hold for every type here, because the same types serve the client (which must survive
//! a newer server) and the devserver (which must survive a newer official client):
//!
//! - **Unknown fields pass through.** Each object type keeps what it does not name in `extra`
//!   (`#[serde(flatten)]`), so deserialize → serialize gives back the same JSON object.
//! - **Optional request fields are omitted, not `null`**, so a body has exactly the shape the protocol
//!   shows. Response fields that the server always sends as `null` (the session object's
//!   `closedAt` and friends) are written as `null`, because the official client's schema requires the
//!   key to be present.
//! - **Reading is lenient**: most response fields are `Option`, so a missing or renamed field never
//!   turns a successful call into a decode error.
//!
//! Tokens are [`Secret`]s: a `Debug` of any type here never prints one.

use std::fmt;

use serde::de::{self, Deserializer};
use serde::ser::Serializer;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::secret::Secret;

// ---------------------------------------------------------------------------------------------
// UIMessage
// ---------------------------------------------------------------------------------------------

/// An AI SDK `UIMessage`: `{id, role, parts, metadata?}`.
///
/// `parts` is kept as raw JSON values rather than a typed enum. Parts are the part of the protocol
/// that changes fastest (every AI SDK major adds part types and fields: `custom`, `reasoning-file`,
/// `steering-message`, approval descriptors, ...), and a message tchat did not write must go back on
/// the wire byte-for-byte equivalent — a typed enum with an `Other` arm would still drop unknown
/// *fields* of known part types unless every variant carried its own `extra` map. Values keep all of
/// it for free; the typed view lives in helpers ([`part_type`], [`is_tool_part`], [`tool_name`],
/// [`UIMessage::text`]) and in the assembler, which knows the handful of fields it updates.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UIMessage {
    #[serde(default)]
    pub id: String,
    /// `"user"`, `"assistant"` or `"system"`; a string so a future role does not fail a decode.
    #[serde(default)]
    pub role: String,
    #[serde(default)]
    pub parts: Vec<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "some_value")]
    pub metadata: Option<Value>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl UIMessage {
    /// An empty message with the given id and role.
    pub fn new(id: impl Into<String>, role: impl Into<String>) -> Self {
        UIMessage { id: id.into(), role: role.into(), parts: Vec::new(), metadata: None, extra: Map::new() }
    }

    /// The user message a chat sends for plain text: `{id, role: "user", parts: [{type: "text", text}]}`.
    pub fn user_text(id: impl Into<String>, text: impl Into<String>) -> Self {
        let mut part = Map::new();
        part.insert("type".into(), Value::String("text".into()));
        part.insert("text".into(), Value::String(text.into()));
        let mut m = UIMessage::new(id, "user");
        m.parts.push(Value::Object(part));
        m
    }

    /// The concatenated text of all `text` parts, the way a UI shows a finished reply.
    pub fn text(&self) -> String {
        let mut out = String::new();
        for p in &self.parts {
            if part_type(p) == Some("text") {
                if let Some(t) = p.get("text").and_then(Value::as_str) {
                    out.push_str(t);
                }
            }
        }
        out
    }
}

/// The `type` of a part, when it is an object with a string `type`.
pub fn part_type(part: &Value) -> Option<&str> {
    part.get("type").and_then(Value::as_str)
}

/// Whether a part is a tool part: `tool-<name>` (static tool) or `dynamic-tool` — the AI SDK's
/// `isToolUIPart`.
pub fn is_tool_part(part: &Value) -> bool {
    part_type(part).is_some_and(is_tool_type)
}

/// [`is_tool_part`] on a bare type string.
pub fn is_tool_type(t: &str) -> bool {
    t.starts_with("tool-") || t == "dynamic-tool"
}

/// Whether a part is a `data-*` part.
pub fn is_data_part(part: &Value) -> bool {
    part_type(part).is_some_and(|t| t.starts_with("data-"))
}

/// The tool name of a tool part — the AI SDK's `getToolName`: the `toolName` field of a
/// `dynamic-tool` part, else the type without its `tool-` prefix.
pub fn tool_name(part: &Value) -> Option<&str> {
    match part_type(part)? {
        "dynamic-tool" => part.get("toolName").and_then(Value::as_str),
        t => t.strip_prefix("tool-"),
    }
}

/// The `state` of a part (`streaming`/`done` for text, the tool states for tool parts).
pub fn part_state(part: &Value) -> Option<&str> {
    part.get("state").and_then(Value::as_str)
}

// ---------------------------------------------------------------------------------------------
// ChatTaskWirePayload and ChatInputChunk (PROTOCOL.md 4, 4.1)
// ---------------------------------------------------------------------------------------------

/// Why a payload reaches the agent (`trigger` of [`ChatTaskWirePayload`]).
///
/// Serialized as the protocol's kebab-case strings. A value this client does not know is kept in
/// [`Trigger::Other`] so the devserver can read (and reject, or pass on) what a newer client sends.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Trigger {
    SubmitMessage,
    RegenerateMessage,
    Preload,
    Close,
    Action,
    /// Head-start only (official browser transport); tchat never sends it.
    HandoverPrepare,
    Other(String),
}

impl Trigger {
    pub fn as_str(&self) -> &str {
        match self {
            Trigger::SubmitMessage => "submit-message",
            Trigger::RegenerateMessage => "regenerate-message",
            Trigger::Preload => "preload",
            Trigger::Close => "close",
            Trigger::Action => "action",
            Trigger::HandoverPrepare => "handover-prepare",
            Trigger::Other(s) => s,
        }
    }

    pub fn parse(s: &str) -> Trigger {
        match s {
            "submit-message" => Trigger::SubmitMessage,
            "regenerate-message" => Trigger::RegenerateMessage,
            "preload" => Trigger::Preload,
            "close" => Trigger::Close,
            "action" => Trigger::Action,
            "handover-prepare" => Trigger::HandoverPrepare,
            other => Trigger::Other(other.to_owned()),
        }
    }
}

impl fmt::Display for Trigger {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for Trigger {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Trigger {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        Ok(Trigger::parse(&s))
    }
}

/// The payload of a `message` input chunk, and of a run (`basePayload`, trigger body).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ChatTaskWirePayload {
    /// Lenient on read: a base payload may leave it to the server to fill in.
    #[serde(default)]
    pub chat_id: String,
    pub trigger: Trigger,
    /// One message, for `submit-message` only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<UIMessage>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message_id: Option<String>,
    /// The client's data for the agent. An explicit `null` is kept (`Some(Value::Null)`).
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "some_value")]
    pub metadata: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "some_value")]
    pub action: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub continuation: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous_run_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idle_timeout_in_seconds: Option<u64>,
    /// The preload base payload carries `"messages": []`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub messages: Option<Vec<UIMessage>>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl ChatTaskWirePayload {
    /// A payload with only `chatId` and `trigger` set.
    pub fn new(chat_id: impl Into<String>, trigger: Trigger) -> Self {
        ChatTaskWirePayload {
            chat_id: chat_id.into(),
            trigger,
            message: None,
            message_id: None,
            metadata: None,
            action: None,
            continuation: None,
            previous_run_id: None,
            session_id: None,
            idle_timeout_in_seconds: None,
            messages: None,
            extra: Map::new(),
        }
    }

    /// `submit-message` with one message.
    pub fn submit(chat_id: impl Into<String>, message: UIMessage) -> Self {
        let mut p = Self::new(chat_id, Trigger::SubmitMessage);
        p.message = Some(message);
        p
    }

    /// The preload base payload of a session: `{chatId, trigger: "preload", messages: []}`.
    pub fn preload(chat_id: impl Into<String>) -> Self {
        let mut p = Self::new(chat_id, Trigger::Preload);
        p.messages = Some(Vec::new());
        p
    }

    /// `action` with the given action value.
    pub fn action(chat_id: impl Into<String>, action: Value) -> Self {
        let mut p = Self::new(chat_id, Trigger::Action);
        p.action = Some(action);
        p
    }
}

/// One record appended to a session's `.in` channel (the raw body of an append).
// Built once per send and serialized at once, never stored in bulk: boxing the payload would only
// make every construction noisier.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum ChatInputChunk {
    Message {
        payload: ChatTaskWirePayload,
    },
    Stop {
        /// Reason surfaced to the agent's stop handler.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        message: Option<String>,
        #[serde(flatten)]
        extra: Map<String, Value>,
    },
    /// Head-start signals of the official browser transport; kept opaque so the devserver can read
    /// them, tchat never sends them.
    Handover {
        #[serde(flatten)]
        extra: Map<String, Value>,
    },
    HandoverSkip {
        #[serde(flatten)]
        extra: Map<String, Value>,
    },
    /// A kind this build does not know. Deserialize-only: serializing it is an error, because the
    /// original kind string is not kept.
    #[serde(other, skip_serializing)]
    Unknown,
}

impl ChatInputChunk {
    pub fn message(payload: ChatTaskWirePayload) -> Self {
        ChatInputChunk::Message { payload }
    }

    pub fn stop(reason: Option<String>) -> Self {
        ChatInputChunk::Stop { message: reason, extra: Map::new() }
    }
}

// ---------------------------------------------------------------------------------------------
// Sessions (PROTOCOL.md 1, 5)
// ---------------------------------------------------------------------------------------------

/// Body of `POST /api/v1/sessions`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CreateSessionRequest {
    /// `"chat.agent"` for chat sessions.
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_id: Option<String>,
    pub task_identifier: String,
    pub trigger_config: TriggerConfig,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tags: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "some_value")]
    pub metadata: Option<Value>,
    /// ISO 8601 date.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<String>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl CreateSessionRequest {
    /// A `chat.agent` session request with only the required fields.
    pub fn chat_agent(task_identifier: impl Into<String>, base_payload: ChatTaskWirePayload) -> Self {
        CreateSessionRequest {
            kind: "chat.agent".into(),
            external_id: None,
            task_identifier: task_identifier.into(),
            trigger_config: TriggerConfig::new(base_payload),
            tags: None,
            metadata: None,
            expires_at: None,
            extra: Map::new(),
        }
    }
}

/// `triggerConfig` of a session: what every run of the session is started with.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TriggerConfig {
    pub base_payload: ChatTaskWirePayload,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub machine: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub queue: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tags: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_attempts: Option<u32>,
    /// Seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_duration: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idle_timeout_in_seconds: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lock_to_version: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl TriggerConfig {
    pub fn new(base_payload: ChatTaskWirePayload) -> Self {
        TriggerConfig {
            base_payload,
            machine: None,
            queue: None,
            tags: None,
            max_attempts: None,
            max_duration: None,
            idle_timeout_in_seconds: None,
            lock_to_version: None,
            region: None,
            extra: Map::new(),
        }
    }
}

/// The session object: the answer of create (with `runId`, `publicAccessToken`, `isCached`), of
/// retrieve and of close.
///
/// The keys the server always sends, `null` or not (`externalId`, `metadata`, `closedAt`,
/// `closedReason`, `expiresAt`, `currentRunId`), are written even when `None`: the official client's
/// schema requires them, and the devserver serializes this type. The create-only keys are omitted
/// when `None`, as on a retrieve.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SessionResponse {
    /// The friendly id, `session_...`.
    #[serde(default)]
    pub id: String,
    #[serde(default)]
    pub external_id: Option<String>,
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task_identifier: Option<String>,
    /// Kept raw: the server echoes whatever config the session was created with.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trigger_config: Option<Value>,
    #[serde(default)]
    pub current_run_id: Option<String>,
    #[serde(default)]
    pub tags: Vec<String>,
    #[serde(default)]
    pub metadata: Option<Value>,
    #[serde(default)]
    pub closed_at: Option<String>,
    #[serde(default)]
    pub closed_reason: Option<String>,
    #[serde(default)]
    pub expires_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated_at: Option<String>,
    /// Create only: the first run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_id: Option<String>,
    /// Create only: the session PAT (`read:sessions:<key>` + `write:sessions:<key>`).
    #[serde(default, skip_serializing_if = "Option::is_none", with = "opt_secret")]
    pub public_access_token: Option<Secret>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_cached: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pending_version: Option<bool>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl SessionResponse {
    /// Whether the session is closed (`closedAt` set).
    pub fn is_closed(&self) -> bool {
        self.closed_at.is_some()
    }
}

/// Manual so the derive cannot print `extra`, where a future server might put another token.
impl fmt::Debug for SessionResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SessionResponse")
            .field("id", &self.id)
            .field("external_id", &self.external_id)
            .field("kind", &self.kind)
            .field("task_identifier", &self.task_identifier)
            .field("current_run_id", &self.current_run_id)
            .field("tags", &self.tags)
            .field("closed_at", &self.closed_at)
            .field("closed_reason", &self.closed_reason)
            .field("expires_at", &self.expires_at)
            .field("created_at", &self.created_at)
            .field("updated_at", &self.updated_at)
            .field("run_id", &self.run_id)
            .field("public_access_token", &self.public_access_token)
            .field("is_cached", &self.is_cached)
            .field("pending_version", &self.pending_version)
            .field("extra_keys", &self.extra.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

/// Body of `POST /api/v1/sessions/{session}/close`. Never empty on the wire: the server rejects an
/// empty body, and `{}` is what this serializes to without a reason.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CloseSessionRequest {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

// ---------------------------------------------------------------------------------------------
// .in append (PROTOCOL.md 4) and error bodies (0)
// ---------------------------------------------------------------------------------------------

/// Answer of `POST .../in/append`. A duplicate `X-Part-Id` answers `{"ok":true}` without `seq`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AppendResponse {
    #[serde(default)]
    pub ok: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seq: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pending_version: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// Any error body: `{"error": ...}`, `{"ok": false, "error": ...}`, with optional `code`
/// (`session_closed`, `unauthorized`) and `closedReason`. Other keys (`param`, `type`) stay in `extra`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ErrorBody {
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "lenient_string")]
    pub error: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub closed_reason: Option<String>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl ErrorBody {
    /// A body with just `{"error": message}`.
    pub fn new(message: impl Into<String>) -> Self {
        ErrorBody { error: Some(message.into()), ..Default::default() }
    }

    /// Whether the body says the session is closed, in either of the server's two ways.
    pub fn is_session_closed(&self) -> bool {
        self.code.as_deref() == Some("session_closed")
            || self.error.as_deref().is_some_and(|e| e.contains("closed session") || e.starts_with("Session is closed"))
    }
}

// ---------------------------------------------------------------------------------------------
// Runs (PROTOCOL.md 2): seed flow
// ---------------------------------------------------------------------------------------------

/// Body of `POST /api/v1/tasks/{taskId}/trigger`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TriggerTaskRequest {
    pub payload: ChatTaskWirePayload,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub options: Option<TriggerOptions>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `options` of a trigger request.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TriggerOptions {
    /// The server also accepts a single string; it is read as a one-element list.
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "string_or_strings")]
    pub tags: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub machine: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub queue: Option<QueueOptions>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_attempts: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_duration: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idempotency_key: Option<String>,
    /// A duration string (`"10m"`) or seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttl: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "some_value")]
    pub metadata: Option<Value>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `options.queue` of a trigger request.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct QueueOptions {
    pub name: String,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// Answer of a trigger. The run's JWT comes in the `x-trigger-jwt` response header, not here.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TriggerTaskResponse {
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_cached: Option<bool>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// Answer of `GET /api/v3/runs/{runId}` (only what tchat needs is named).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RunResponse {
    pub id: String,
    #[serde(default)]
    pub status: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_completed: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_failed: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_cancelled: Option<bool>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl RunResponse {
    /// Whether the run has ended (by status; see [`RunStatus::is_final`]).
    pub fn is_final(&self) -> bool {
        RunStatus::is_final(&self.status)
    }
}

/// A run's `status`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RunStatus {
    PendingVersion,
    Queued,
    Dequeued,
    Executing,
    Waiting,
    Delayed,
    Completed,
    Canceled,
    Failed,
    Crashed,
    SystemFailure,
    Expired,
    TimedOut,
}

impl RunStatus {
    const ALL: [(RunStatus, &'static str); 13] = [
        (RunStatus::PendingVersion, "PENDING_VERSION"),
        (RunStatus::Queued, "QUEUED"),
        (RunStatus::Dequeued, "DEQUEUED"),
        (RunStatus::Executing, "EXECUTING"),
        (RunStatus::Waiting, "WAITING"),
        (RunStatus::Delayed, "DELAYED"),
        (RunStatus::Completed, "COMPLETED"),
        (RunStatus::Canceled, "CANCELED"),
        (RunStatus::Failed, "FAILED"),
        (RunStatus::Crashed, "CRASHED"),
        (RunStatus::SystemFailure, "SYSTEM_FAILURE"),
        (RunStatus::Expired, "EXPIRED"),
        (RunStatus::TimedOut, "TIMED_OUT"),
    ];

    /// The status for its wire string; `None` for a status this build does not know.
    pub fn parse(status: &str) -> Option<RunStatus> {
        Self::ALL.iter().find(|(_, s)| *s == status).map(|(r, _)| *r)
    }

    pub fn as_str(self) -> &'static str {
        Self::ALL.iter().find(|(r, _)| *r == self).map(|(_, s)| *s).unwrap_or("")
    }

    /// Whether a run in this status has ended for good.
    ///
    /// An unknown status counts as alive: treating it as final would make the client start a
    /// second run next to a live one, which is worse than waiting on a dead one (the server starts a
    /// continuation on append anyway).
    pub fn is_final(status: &str) -> bool {
        Self::parse(status).is_some_and(RunStatus::is_terminal)
    }

    /// [`RunStatus::is_final`] on a parsed status.
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            RunStatus::Completed
                | RunStatus::Canceled
                | RunStatus::Failed
                | RunStatus::Crashed
                | RunStatus::SystemFailure
                | RunStatus::Expired
                | RunStatus::TimedOut
        )
    }
}

impl fmt::Display for RunStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

// ---------------------------------------------------------------------------------------------
// serde helpers
// ---------------------------------------------------------------------------------------------

/// `Option<Value>` that keeps an explicit `null` as `Some(Value::Null)`: serde's default maps it to
/// `None`, which would silently drop `"metadata": null` on a round trip.
fn some_value<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Value>, D::Error> {
    Value::deserialize(d).map(Some)
}

/// A string, or any other JSON value rendered as text, so an odd error body still yields a message.
fn lenient_string<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    Ok(match Value::deserialize(d)? {
        Value::Null => None,
        Value::String(s) => Some(s),
        other => Some(other.to_string()),
    })
}

fn string_or_strings<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Vec<String>>, D::Error> {
    match Value::deserialize(d)? {
        Value::Null => Ok(None),
        Value::String(s) => Ok(Some(vec![s])),
        v @ Value::Array(_) => serde_json::from_value(v).map(Some).map_err(de::Error::custom),
        _ => Err(de::Error::custom("expected a string or a list of strings")),
    }
}

/// `Option<Secret>` as a plain JSON string (`Secret` itself has no serde impls, on purpose: writing
/// one out should be a visible decision at the field).
mod opt_secret {
    use super::*;

    pub fn serialize<S: Serializer>(v: &Option<Secret>, s: S) -> Result<S::Ok, S::Error> {
        match v {
            Some(secret) => s.serialize_str(secret.expose()),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Secret>, D::Error> {
        Ok(Option::<String>::deserialize(d)?.map(Secret::new))
    }
}
