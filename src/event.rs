//! What a chat tells the application while it streams.

use std::time::Duration;

use crate::error::Error;

/// One thing that happened on a chat's `.out` stream, in stream order.
///
/// Delivered either to the callback registered with [`crate::Chat::set_callback`] (on the chat's
/// reader thread) or, without a callback, through [`crate::Chat::next_event`].
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Event {
    /// One `UIMessageChunk` of the agent's reply.
    Chunk(ChunkEvent),
    /// The agent's turn is finished: the assembled assistant message is final.
    TurnComplete(TurnCompleteEvent),
    /// The agent asked for an upgrade. With server-managed runs the server has already moved the
    /// conversation to a new run; with client-managed runs tchat triggered the continuation itself.
    /// Either way the stream goes on: this is informational.
    UpgradeRequired,
    /// A new run waits for a deployment of the agent; informational.
    PendingVersion,
    /// The session is closed; the stream has ended for good.
    SessionClosed {
        /// Why, if the server said.
        reason: Option<String>,
    },
    /// The stream dropped or failed and is about to reconnect (resuming after the last record).
    Reconnecting {
        /// 1 for the first retry after a record arrived, then 2, 3, ...
        attempt: u32,
        /// How long tchat waits before reconnecting.
        delay: Duration,
        /// What failed: the server's status and text, or the network error.
        cause: String,
        /// The HTTP status behind the failure; `None` for a network failure or a cut stream.
        status: Option<u16>,
    },
    /// The stream is connected again after [`Event::Reconnecting`] events: the turn goes on.
    Connected {
        /// How many reconnects it took.
        attempts: u32,
    },
    /// A call queued with [`crate::Chat::submit`] (or the open of [`crate::Client::open_async`])
    /// has finished, successfully or not.
    Done(DoneEvent),
    /// Streaming stopped on an error no reconnect can fix (auth, session gone, protocol).
    /// Sending a new message subscribes again.
    Error(Error),
}

/// A chunk of the reply.
#[derive(Debug, Clone, PartialEq)]
pub struct ChunkEvent {
    /// The record's position in the session's `.out` stream (the resume cursor).
    pub seq_num: u64,
    /// The chunk's `type`, e.g. `"text-delta"`, `"tool-input-available"`, `"data-status"`.
    pub chunk_type: String,
    /// The chunk object as JSON, untouched (unknown fields included).
    pub json: String,
    /// For `text-delta` and `reasoning-delta`: the delta text.
    pub delta: Option<String>,
}

/// The end of one agent turn.
#[derive(Debug, Clone, PartialEq)]
pub struct TurnCompleteEvent {
    /// The assembled assistant `UIMessage` as JSON (AI SDK shape).
    pub message_json: String,
    /// The message id the stream's `start` chunk gave, if any.
    pub message_id: Option<String>,
    /// The `finish` chunk's finish reason, if any.
    pub finish_reason: Option<String>,
    /// The `error` chunk's text, for an error turn.
    pub error_text: Option<String>,
    /// True when this turn was stopped by [`crate::Chat::stop`]; its remaining chunks were skipped.
    pub stopped: bool,
    /// Tool calls waiting for [`crate::Chat::approve`].
    pub pending_approvals: Vec<String>,
    /// True when the turn ended without its turn-complete record: the server said the session
    /// settled (`X-Session-Settled`) while the stream had not finished the turn. The message is
    /// what had arrived by then.
    pub incomplete: bool,
}

/// A step of one send's life, for telemetry (`ClientConfig::with_send_observer`), as the official
/// transport reports them: the append answered, the reply's first chunk, its turn-complete, or the
/// send's failure. `elapsed` counts from the start of the send call.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum SendEvent {
    /// The message is on the session's `.in` (`seq`, when the server told it).
    MessageSent { message_id: Option<String>, seq: Option<u64>, elapsed: Duration },
    /// The first chunk of the turn the send started arrived.
    FirstChunk { message_id: Option<String>, elapsed: Duration },
    /// That turn's turn-complete arrived.
    TurnCompleted { message_id: Option<String>, elapsed: Duration },
    /// The send failed (the call returns the same error).
    SendFailed { message_id: Option<String>, error: Error, elapsed: Duration },
}

/// The end of a call queued with [`crate::Chat::submit`] or [`crate::Client::open_async`].
#[derive(Debug, Clone, PartialEq)]
pub struct DoneEvent {
    /// The call's request id: what `submit` returned (a chat numbers its calls 1, 2, 3, ... in
    /// the order they were queued; the open of `open_async` is request 1).
    pub request: u64,
    pub op: OpKind,
    /// `None` when the call succeeded; else the error the blocking call would have returned.
    pub error: Option<Error>,
}

/// Which call an [`Event::Done`] reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum OpKind {
    /// The open of [`crate::Client::open_async`].
    Open,
    SendText,
    SendMessageJson,
    Regenerate,
    Action,
    Stop,
    Steer,
    Approve,
    CloseSession,
    CloseAgent,
}
