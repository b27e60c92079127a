//! `tchat_event`: one thing that happened on a chat's stream, and its accessors.

use std::cell::OnceCell;
use std::os::raw::{c_char, c_int};

use super::{
    ffi_boundary, ffi_getter, set_opt_out, take_box, tchat_status, to_box_ptr, try_out, try_ref, Boxed, Castable,
};
use crate::event::{ChunkEvent, Event, TurnCompleteEvent};

/// What a `tchat_event` is. `tchat_event_get_kind()` returns it.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum tchat_event_kind {
    /// Not an event (`tchat_event_get_kind(NULL)`).
    None = 0,
    /// One chunk of the agent's reply (a `UIMessageChunk`): `tchat_event_chunk_kind`,
    /// `tchat_event_chunk_type`, `tchat_event_chunk_json`, `tchat_event_text_delta` (the reply's
    /// text), `tchat_event_reasoning_delta`, `tchat_event_delta` (either),
    /// `tchat_event_seq_num`.
    Chunk = 1,
    /// The agent's turn is finished: `tchat_event_message_json` (the assembled assistant message),
    /// `tchat_event_message_id`, `tchat_event_finish_reason`, `tchat_event_error_text` (error turns),
    /// `tchat_event_stopped`, `tchat_event_pending_approval_count` / `_id`.
    TurnComplete = 2,
    /// The agent asked for an upgrade and the conversation moves to a new run; informational, the
    /// stream goes on.
    UpgradeRequired = 3,
    /// A new run waits for a deployment of the agent; informational.
    PendingVersion = 4,
    /// The session was closed by someone else (another client, the dashboard, the agent) while the
    /// chat was subscribed — told by a `session-closed` record, or found by tchat when a long-poll
    /// window of a turn in flight ends empty; the stream has ended for good and the turn in flight
    /// ends with it: `tchat_event_session_closed_reason`. Not sent after this chat's own
    /// `tchat_chat_close_session`.
    SessionClosed = 5,
    /// The stream dropped and tchat reconnects after a delay, resuming after the last record:
    /// `tchat_event_reconnect_attempt`, `tchat_event_reconnect_delay_ms`, and what failed:
    /// `tchat_event_reconnect_cause`, `tchat_event_reconnect_http_status`. While the network or the
    /// service is down one arrives per attempt; a turn in flight waits on unless the client's
    /// reconnect limit (`tchat_client_options_set_reconnect_limit_ms`) ends it with an error event.
    Reconnecting = 6,
    /// Streaming stopped on an error no reconnect can fix (auth, session gone, protocol), or the
    /// turn in flight is over without its turn-complete: `TCHAT_RUN_ENDED` when the agent's run died
    /// mid-turn (found when a long-poll window ends empty and the run is final, within one window
    /// of the client's long-poll option plus a backoff; at most 5 empty windows in a row when the
    /// run cannot be read). Sending a new message subscribes again: `tchat_event_error_status`,
    /// `tchat_event_error_http_status`, `tchat_event_error_message`.
    Error = 7,
    /// The stream is connected again after `TCHAT_EVENT_KIND_RECONNECTING` events; the turn goes on:
    /// `tchat_event_reconnect_attempt` (how many reconnects it took).
    Connected = 8,
    /// A call made with an `_async` function (`tchat_chat_open_async`, `tchat_chat_send_text_async`,
    /// ...) has finished: `tchat_event_request_id` (what the call wrote to `*out_request`),
    /// `tchat_event_request_op` (which call), and `tchat_event_error_status` — `TCHAT_OK` when it
    /// succeeded, else what the blocking call would have returned, with
    /// `tchat_event_error_http_status` and `tchat_event_error_message`.
    RequestDone = 9,
}

/// Which `_async` call a `TCHAT_EVENT_KIND_REQUEST_DONE` event reports:
/// `tchat_event_request_op()` returns it.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum tchat_request_op {
    /// Not a request-done event.
    None = 0,
    /// `tchat_chat_open_async` (always request 1 of its chat).
    Open = 1,
    SendText = 2,
    SendMessageJson = 3,
    Regenerate = 4,
    SendAction = 5,
    Stop = 6,
    Steer = 7,
    Approve = 8,
    CloseSession = 9,
    CloseAgent = 10,
}

impl tchat_request_op {
    fn of(op: crate::OpKind) -> tchat_request_op {
        use crate::OpKind as K;
        match op {
            K::Open => tchat_request_op::Open,
            K::SendText => tchat_request_op::SendText,
            K::SendMessageJson => tchat_request_op::SendMessageJson,
            K::Regenerate => tchat_request_op::Regenerate,
            K::Action => tchat_request_op::SendAction,
            K::Stop => tchat_request_op::Stop,
            K::Steer => tchat_request_op::Steer,
            K::Approve => tchat_request_op::Approve,
            K::CloseSession => tchat_request_op::CloseSession,
            K::CloseAgent => tchat_request_op::CloseAgent,
        }
    }
}

/// What a chunk event's `UIMessageChunk` is, by its `type`: `tchat_event_chunk_kind()` returns it, so
/// telling the reply's text from the model's reasoning (or a tool call) needs no `strcmp`.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum tchat_chunk_kind {
    /// Not a chunk event (or NULL).
    None = 0,
    /// `text-delta`: a piece of the reply's text (`tchat_event_text_delta`).
    TextDelta = 1,
    /// `reasoning-delta`: a piece of the model's reasoning, not the reply (`tchat_event_reasoning_delta`).
    ReasoningDelta = 2,
    /// `text-start`, `text-end`: a text part opens or ends.
    TextStart = 3,
    TextEnd = 4,
    /// `reasoning-start`, `reasoning-end`.
    ReasoningStart = 5,
    ReasoningEnd = 6,
    /// A tool call's input: `tool-input-start`, `tool-input-delta`, `tool-input-available`,
    /// `tool-input-error`.
    ToolInputStart = 7,
    ToolInputDelta = 8,
    ToolInputAvailable = 9,
    ToolInputError = 10,
    /// `tool-approval-request`: the turn will wait for `tchat_chat_approve`.
    ToolApprovalRequest = 11,
    /// A tool call's output: `tool-output-available`, `tool-output-error`, `tool-output-denied`.
    ToolOutputAvailable = 12,
    ToolOutputError = 13,
    ToolOutputDenied = 14,
    /// `data-*`: application data parts.
    Data = 15,
    /// `source-url`, `source-document`.
    SourceUrl = 16,
    SourceDocument = 17,
    /// `file`, `reasoning-file`.
    File = 18,
    /// `start-step`, `finish-step`.
    StartStep = 19,
    FinishStep = 20,
    /// `start`, `finish`: the message begins or is finished.
    Start = 21,
    Finish = 22,
    /// `error`: the turn failed (its text in the turn-complete's `tchat_event_error_text`).
    Error = 23,
    /// `abort`: the turn was aborted (stopped).
    Abort = 24,
    /// `message-metadata`.
    MessageMetadata = 25,
    /// Any other type (newer AI SDK chunks, `custom`, ...): see `tchat_event_chunk_type`.
    Other = 26,
}

impl tchat_chunk_kind {
    fn of(chunk_type: &str) -> tchat_chunk_kind {
        use tchat_chunk_kind as K;
        match chunk_type {
            "text-delta" => K::TextDelta,
            "reasoning-delta" => K::ReasoningDelta,
            "text-start" => K::TextStart,
            "text-end" => K::TextEnd,
            "reasoning-start" => K::ReasoningStart,
            "reasoning-end" => K::ReasoningEnd,
            "tool-input-start" => K::ToolInputStart,
            "tool-input-delta" => K::ToolInputDelta,
            "tool-input-available" => K::ToolInputAvailable,
            "tool-input-error" => K::ToolInputError,
            "tool-approval-request" => K::ToolApprovalRequest,
            "tool-output-available" => K::ToolOutputAvailable,
            "tool-output-error" => K::ToolOutputError,
            "tool-output-denied" => K::ToolOutputDenied,
            t if t.starts_with("data-") => K::Data,
            "source-url" => K::SourceUrl,
            "source-document" => K::SourceDocument,
            "file" | "reasoning-file" => K::File,
            "start-step" => K::StartStep,
            "finish-step" => K::FinishStep,
            "start" => K::Start,
            "finish" => K::Finish,
            "error" => K::Error,
            "abort" => K::Abort,
            "message-metadata" => K::MessageMetadata,
            _ => K::Other,
        }
    }
}

impl super::PanicFallback for tchat_chunk_kind {
    fn on_panic() -> tchat_chunk_kind {
        tchat_chunk_kind::None
    }
}

/// Text of an event, NUL-terminated for C, with its exact length (a delta may contain NUL bytes;
/// JSON never does).
struct CText(Box<[u8]>);

impl CText {
    fn new(s: &str) -> CText {
        let mut v = Vec::with_capacity(s.len() + 1);
        v.extend_from_slice(s.as_bytes());
        v.push(0);
        CText(v.into_boxed_slice())
    }

    fn ptr(&self) -> *const c_char {
        self.0.as_ptr().cast()
    }

    fn len(&self) -> usize {
        self.0.len() - 1
    }
}

/// A C string of the event, made on its first access: one cell per accessor that returns text.
type Lazy = OnceCell<Option<CText>>;

/// One event of a chat's stream (see `tchat_event_kind` for what each kind carries).
///
/// Ownership: an event from `tchat_chat_next_event` or `tchat_event_copy` is owned by the caller:
/// free it with `tchat_event_free`. The event passed to a `tchat_event_callback` is borrowed: valid
/// only until the callback returns; never free it (copy it with `tchat_event_copy` to keep it).
/// Strings returned by accessors belong to the event and live exactly as long as it does.
///
/// Thread safety: an event is not shareable: use it from one thread at a time (an owned event may
/// be handed to another thread as a whole).
pub struct tchat_event {
    event: EventRef,
    chunk_type: Lazy,
    /// The chunk's JSON, or the turn's message JSON.
    json: Lazy,
    delta: Lazy,
    message_id: Lazy,
    finish_reason: Lazy,
    error_text: Lazy,
    approvals: OnceCell<Vec<CText>>,
    cause: Lazy,
    reason: Lazy,
    error_message: Lazy,
}

/// The Rust event behind a `tchat_event`: owned, or the one a callback is called with.
enum EventRef {
    Owned(Event),
    /// Valid while the callback runs: the `tchat_event` holding it lives in that call's frame.
    Borrowed(*const Event),
}

impl super::PanicFallback for tchat_request_op {
    fn on_panic() -> tchat_request_op {
        tchat_request_op::None
    }
}

impl super::PanicFallback for tchat_event_kind {
    fn on_panic() -> tchat_event_kind {
        tchat_event_kind::None
    }
}

impl Castable for tchat_event {
    type Ownership = Boxed;
}

impl tchat_event {
    /// An owned event, for `tchat_chat_next_event`.
    pub(crate) fn owned(event: Event) -> tchat_event {
        tchat_event::with(EventRef::Owned(event))
    }

    /// Runs `f` with a borrowed C view of `event` (no copy: strings are made only if read).
    pub(crate) fn borrowed<R>(event: &Event, f: impl FnOnce(&tchat_event) -> R) -> R {
        f(&tchat_event::with(EventRef::Borrowed(event)))
    }

    fn with(event: EventRef) -> tchat_event {
        tchat_event {
            event,
            chunk_type: Lazy::new(),
            json: Lazy::new(),
            delta: Lazy::new(),
            message_id: Lazy::new(),
            finish_reason: Lazy::new(),
            error_text: Lazy::new(),
            approvals: OnceCell::new(),
            cause: Lazy::new(),
            reason: Lazy::new(),
            error_message: Lazy::new(),
        }
    }

    fn event(&self) -> &Event {
        match &self.event {
            EventRef::Owned(e) => e,
            // SAFETY: a borrowed `tchat_event` exists only inside `tchat_event::borrowed`, whose
            // caller holds the `&Event` for the whole call.
            EventRef::Borrowed(e) => unsafe { &**e },
        }
    }

    fn is_borrowed(&self) -> bool {
        matches!(self.event, EventRef::Borrowed(_))
    }

    fn kind(&self) -> tchat_event_kind {
        match self.event() {
            Event::Chunk(_) => tchat_event_kind::Chunk,
            Event::TurnComplete(_) => tchat_event_kind::TurnComplete,
            Event::UpgradeRequired => tchat_event_kind::UpgradeRequired,
            Event::PendingVersion => tchat_event_kind::PendingVersion,
            Event::SessionClosed { .. } => tchat_event_kind::SessionClosed,
            Event::Reconnecting { .. } => tchat_event_kind::Reconnecting,
            Event::Connected { .. } => tchat_event_kind::Connected,
            Event::Error(_) => tchat_event_kind::Error,
            Event::Done(_) => tchat_event_kind::RequestDone,
        }
    }

    fn chunk(&self) -> Option<&ChunkEvent> {
        match self.event() {
            Event::Chunk(c) => Some(c),
            _ => None,
        }
    }

    /// The event's JSON, made once: a chunk's, or a turn-complete's message (one cell serves both
    /// accessors, so each asks for its kind first: asking the other one must not fill it with
    /// nothing).
    fn json_text(&self) -> Option<&CText> {
        lazy(&self.json, || match self.event() {
            Event::Chunk(c) => Some(c.json.as_str()),
            Event::TurnComplete(t) => Some(t.message_json.as_str()),
            _ => None,
        })
    }

    fn done(&self) -> Option<&crate::DoneEvent> {
        match self.event() {
            Event::Done(d) => Some(d),
            _ => None,
        }
    }

    fn turn(&self) -> Option<&TurnCompleteEvent> {
        match self.event() {
            Event::TurnComplete(t) => Some(t),
            _ => None,
        }
    }

    fn error(&self) -> Option<&crate::Error> {
        match self.event() {
            Event::Error(e) => Some(e),
            Event::Done(done) => done.error.as_ref(),
            _ => None,
        }
    }
}

/// The event's text in `cell`, made from `text` the first time.
fn lazy<'a>(cell: &'a Lazy, text: impl FnOnce() -> Option<&'a str>) -> Option<&'a CText> {
    cell.get_or_init(|| text().map(CText::new)).as_ref()
}

/// `ev` as a reference, or `None` for NULL.
fn event<'a>(ev: *const tchat_event) -> Option<&'a tchat_event> {
    try_ref(ev, "ev").ok()
}

/// The text's pointer (its length to `out_len` when that is not NULL), or NULL without text.
fn text_ptr(t: Option<&CText>, out_len: *mut usize) -> *const c_char {
    match t {
        Some(t) => {
            set_opt_out(out_len, t.len());
            t.ptr()
        }
        None => std::ptr::null(),
    }
}

/// A text accessor's body: `text` of the event behind `ev`, NULL when `ev` is NULL or the event
/// has no such text.
fn text_of<'a>(
    ev: *const tchat_event,
    out_len: *mut usize,
    text: impl FnOnce(&'a tchat_event) -> Option<&'a CText>,
) -> *const c_char {
    text_ptr(event(ev).and_then(text), out_len)
}

/// Frees an event returned by `tchat_chat_next_event` or `tchat_event_copy` (NULL is ignored).
/// Calling it on the borrowed event of a callback does nothing. Any thread.
#[no_mangle]
pub extern "C" fn tchat_event_free(ev: *mut tchat_event) {
    ffi_getter!({
        // The event of a callback is not the caller's to free: a mistaken free leaves it alone.
        if event(ev).is_some_and(|e| !e.is_borrowed()) {
            drop(take_box(ev));
        }
    })
}

/// Copies an event (owned or borrowed) into a new owned event, e.g. to keep the event of a callback
/// after it returns or to hand it to another thread. On success writes it to `*out_event`; free it
/// with `tchat_event_free`.
#[no_mangle]
pub extern "C" fn tchat_event_copy(ev: *const tchat_event, out_event: *mut *mut tchat_event) -> tchat_status {
    ffi_boundary!({
        let ev = try_ref(ev, "ev")?;
        let out = try_out(out_event, "out_event")?;
        out.set(to_box_ptr(tchat_event::owned(ev.event().clone())));
        Ok(())
    })
}

/// The event's kind; `TCHAT_EVENT_KIND_NONE` for NULL.
#[no_mangle]
pub extern "C" fn tchat_event_get_kind(ev: *const tchat_event) -> tchat_event_kind {
    ffi_getter!({ event(ev).map_or(tchat_event_kind::None, tchat_event::kind) })
}

/// A static name for an event kind value, e.g. `"chunk"`, `"turn-complete"`; `"unknown"` for other
/// values. Never NULL; never free it.
#[no_mangle]
pub extern "C" fn tchat_event_kind_name(kind: c_int) -> *const c_char {
    // Compared as integers (a C caller may pass any value), against the enum so the two cannot drift.
    use tchat_event_kind as K;
    let name: &'static std::ffi::CStr = match kind {
        k if k == K::None as c_int => c"none",
        k if k == K::Chunk as c_int => c"chunk",
        k if k == K::TurnComplete as c_int => c"turn-complete",
        k if k == K::UpgradeRequired as c_int => c"upgrade-required",
        k if k == K::PendingVersion as c_int => c"pending-version",
        k if k == K::SessionClosed as c_int => c"session-closed",
        k if k == K::Reconnecting as c_int => c"reconnecting",
        k if k == K::Error as c_int => c"error",
        k if k == K::Connected as c_int => c"connected",
        k if k == K::RequestDone as c_int => c"request-done",
        _ => c"unknown",
    };
    name.as_ptr()
}

/// `TCHAT_EVENT_KIND_CHUNK`: the chunk's `type`, e.g. `"text-delta"`, `"reasoning-delta"`,
/// `"tool-input-available"`, `"tool-approval-request"`, `"data-status"`, `"finish"`. NULL for other
/// kinds. Borrowed from the event.
#[no_mangle]
pub extern "C" fn tchat_event_chunk_type(ev: *const tchat_event) -> *const c_char {
    ffi_getter!({
        text_of(ev, std::ptr::null_mut(), |e| lazy(&e.chunk_type, || e.chunk().map(|c| c.chunk_type.as_str())))
    })
}

/// `TCHAT_EVENT_KIND_CHUNK`: the whole chunk object as JSON text, exactly as the agent wrote it.
/// Writes its length (without the NUL) to `*out_len` when `out_len` is not NULL. NULL for other kinds
/// (and then `*out_len` is untouched). Borrowed from the event.
#[no_mangle]
pub extern "C" fn tchat_event_chunk_json(ev: *const tchat_event, out_len: *mut usize) -> *const c_char {
    ffi_getter!({ text_of(ev, out_len, |e| e.chunk().and_then(|_| e.json_text())) })
}

/// `TCHAT_EVENT_KIND_CHUNK` of type `"text-delta"` or `"reasoning-delta"`: the delta text (UTF-8,
/// NUL-terminated), either kind: `tchat_event_text_delta` gives the reply's text only. Writes its length
/// in bytes to `*out_len` when `out_len` is not NULL (use it if the text may contain NUL bytes).
/// NULL for other events. Borrowed from the event.
#[no_mangle]
pub extern "C" fn tchat_event_delta(ev: *const tchat_event, out_len: *mut usize) -> *const c_char {
    ffi_getter!({ text_of(ev, out_len, |e| lazy(&e.delta, || e.chunk().and_then(|c| c.delta.as_deref()))) })
}

/// `TCHAT_EVENT_KIND_CHUNK`: what the chunk is (see `tchat_chunk_kind`); `TCHAT_CHUNK_KIND_NONE` for
/// other kinds and NULL.
#[no_mangle]
pub extern "C" fn tchat_event_chunk_kind(ev: *const tchat_event) -> tchat_chunk_kind {
    ffi_getter!({
        event(ev).and_then(tchat_event::chunk).map_or(tchat_chunk_kind::None, |c| tchat_chunk_kind::of(&c.chunk_type))
    })
}

/// The reply's text in a `text-delta` chunk (its length to `*out_len` when `out_len` is not NULL);
/// NULL for every other event, reasoning deltas included. Borrowed from the event.
#[no_mangle]
pub extern "C" fn tchat_event_text_delta(ev: *const tchat_event, out_len: *mut usize) -> *const c_char {
    ffi_getter!({ delta_of_kind(ev, out_len, tchat_chunk_kind::TextDelta) })
}

/// The model's reasoning in a `reasoning-delta` chunk (its length to `*out_len` when not NULL);
/// NULL for every other event. Borrowed from the event.
#[no_mangle]
pub extern "C" fn tchat_event_reasoning_delta(ev: *const tchat_event, out_len: *mut usize) -> *const c_char {
    ffi_getter!({ delta_of_kind(ev, out_len, tchat_chunk_kind::ReasoningDelta) })
}

fn delta_of_kind(ev: *const tchat_event, out_len: *mut usize, kind: tchat_chunk_kind) -> *const c_char {
    text_of(ev, out_len, |e| {
        let c = e.chunk().filter(|c| tchat_chunk_kind::of(&c.chunk_type) == kind)?;
        lazy(&e.delta, || c.delta.as_deref())
    })
}

/// `TCHAT_EVENT_KIND_CHUNK`: the record's `seq_num`, its position in the session's output stream
/// (monotonic across turns and runs). 0 for other kinds.
#[no_mangle]
pub extern "C" fn tchat_event_seq_num(ev: *const tchat_event) -> u64 {
    ffi_getter!({ event(ev).and_then(tchat_event::chunk).map_or(0, |c| c.seq_num) })
}

/// `TCHAT_EVENT_KIND_TURN_COMPLETE`: the assembled assistant message (an AI SDK `UIMessage`) as JSON.
/// Writes its length to `*out_len` when `out_len` is not NULL. NULL for other kinds. Borrowed from
/// the event.
#[no_mangle]
pub extern "C" fn tchat_event_message_json(ev: *const tchat_event, out_len: *mut usize) -> *const c_char {
    ffi_getter!({ text_of(ev, out_len, |e| e.turn().and_then(|_| e.json_text())) })
}

/// `TCHAT_EVENT_KIND_TURN_COMPLETE`: the message id from the turn's `start` chunk, or NULL (also for
/// other kinds). Borrowed from the event.
#[no_mangle]
pub extern "C" fn tchat_event_message_id(ev: *const tchat_event) -> *const c_char {
    ffi_getter!({
        text_of(ev, std::ptr::null_mut(), |e| lazy(&e.message_id, || e.turn().and_then(|t| t.message_id.as_deref())))
    })
}

/// `TCHAT_EVENT_KIND_TURN_COMPLETE`: the `finish` chunk's finish reason (e.g. `"stop"`), or NULL (also
/// for other kinds). Borrowed from the event.
#[no_mangle]
pub extern "C" fn tchat_event_finish_reason(ev: *const tchat_event) -> *const c_char {
    ffi_getter!({
        text_of(ev, std::ptr::null_mut(), |e| {
            lazy(&e.finish_reason, || e.turn().and_then(|t| t.finish_reason.as_deref()))
        })
    })
}

/// `TCHAT_EVENT_KIND_TURN_COMPLETE` of an error turn: the agent's error text; NULL otherwise.
/// Borrowed from the event.
#[no_mangle]
pub extern "C" fn tchat_event_error_text(ev: *const tchat_event) -> *const c_char {
    ffi_getter!({
        text_of(ev, std::ptr::null_mut(), |e| lazy(&e.error_text, || e.turn().and_then(|t| t.error_text.as_deref())))
    })
}

/// `TCHAT_EVENT_KIND_TURN_COMPLETE`: true when the turn was stopped by `tchat_chat_stop` (the rest of
/// its chunks were skipped). False otherwise.
#[no_mangle]
pub extern "C" fn tchat_event_stopped(ev: *const tchat_event) -> bool {
    ffi_getter!({ event(ev).and_then(tchat_event::turn).is_some_and(|t| t.stopped) })
}

/// `TCHAT_EVENT_KIND_TURN_COMPLETE`: true when the turn ended without its turn-complete record —
/// the server said the session settled while the stream had not finished the turn (a run that
/// stopped writing, a close). The message is what had arrived; `tchat_chat_last_assistant_message`
/// keeps the previous complete answer. False for other kinds.
#[no_mangle]
pub extern "C" fn tchat_event_incomplete(ev: *const tchat_event) -> bool {
    ffi_getter!({ event(ev).and_then(tchat_event::turn).is_some_and(|t| t.incomplete) })
}

/// `TCHAT_EVENT_KIND_TURN_COMPLETE`: how many tool calls wait for `tchat_chat_approve`. 0 otherwise.
#[no_mangle]
pub extern "C" fn tchat_event_pending_approval_count(ev: *const tchat_event) -> usize {
    ffi_getter!({ event(ev).and_then(tchat_event::turn).map_or(0, |t| t.pending_approvals.len()) })
}

/// `TCHAT_EVENT_KIND_TURN_COMPLETE`: the approval id of pending tool call `index` (0-based, below
/// `tchat_event_pending_approval_count`), to pass to `tchat_chat_approve`. NULL when out of range.
/// Borrowed from the event.
#[no_mangle]
pub extern "C" fn tchat_event_pending_approval_id(ev: *const tchat_event, index: usize) -> *const c_char {
    ffi_getter!({
        text_of(ev, std::ptr::null_mut(), |e| {
            e.approvals
                .get_or_init(|| {
                    e.turn().map_or(Vec::new(), |t| t.pending_approvals.iter().map(|a| CText::new(a)).collect())
                })
                .get(index)
        })
    })
}

/// `TCHAT_EVENT_KIND_RECONNECTING`: 1 for the first reconnect after a record arrived, then 2, 3...;
/// `TCHAT_EVENT_KIND_CONNECTED`: how many reconnects it took. 0 for other kinds.
#[no_mangle]
pub extern "C" fn tchat_event_reconnect_attempt(ev: *const tchat_event) -> u32 {
    ffi_getter!({
        event(ev).map_or(0, |e| match e.event() {
            Event::Reconnecting { attempt, .. } => *attempt,
            Event::Connected { attempts } => *attempts,
            _ => 0,
        })
    })
}

/// `TCHAT_EVENT_KIND_RECONNECTING`: how long tchat waits before reconnecting, in milliseconds. 0 for
/// other kinds.
#[no_mangle]
pub extern "C" fn tchat_event_reconnect_delay_ms(ev: *const tchat_event) -> u64 {
    ffi_getter!({
        event(ev).map_or(0, |e| match e.event() {
            Event::Reconnecting { delay, .. } => u64::try_from(delay.as_millis()).unwrap_or(u64::MAX),
            _ => 0,
        })
    })
}

/// `TCHAT_EVENT_KIND_RECONNECTING`: what failed — the HTTP method, path, status and the server's
/// text, or the network error, or why a stream was given up (a stall, a cut body); never contains
/// a token. NULL for other kinds. Borrowed from the event.
#[no_mangle]
pub extern "C" fn tchat_event_reconnect_cause(ev: *const tchat_event) -> *const c_char {
    ffi_getter!({
        text_of(ev, std::ptr::null_mut(), |e| {
            lazy(&e.cause, || match e.event() {
                Event::Reconnecting { cause, .. } => Some(cause.as_str()),
                _ => None,
            })
        })
    })
}

/// `TCHAT_EVENT_KIND_RECONNECTING`: the HTTP status behind the failure (e.g. 503), or 0 for a
/// network failure or a cut stream (also for other kinds).
#[no_mangle]
pub extern "C" fn tchat_event_reconnect_http_status(ev: *const tchat_event) -> c_int {
    ffi_getter!({
        event(ev).map_or(0, |e| match e.event() {
            Event::Reconnecting { status, .. } => status.map_or(0, c_int::from),
            _ => 0,
        })
    })
}

/// `TCHAT_EVENT_KIND_SESSION_CLOSED`: why the session was closed, if the server said; NULL otherwise.
/// Borrowed from the event.
#[no_mangle]
pub extern "C" fn tchat_event_session_closed_reason(ev: *const tchat_event) -> *const c_char {
    ffi_getter!({
        text_of(ev, std::ptr::null_mut(), |e| {
            lazy(&e.reason, || match e.event() {
                Event::SessionClosed { reason } => reason.as_deref(),
                _ => None,
            })
        })
    })
}

/// `TCHAT_EVENT_KIND_REQUEST_DONE`: the finished call's request id (what it wrote to
/// `*out_request`; a chat numbers its `_async` calls 1, 2, 3, ... in the order they were made). 0
/// for other kinds and NULL.
#[no_mangle]
pub extern "C" fn tchat_event_request_id(ev: *const tchat_event) -> u64 {
    ffi_getter!({ event(ev).and_then(tchat_event::done).map_or(0, |d| d.request) })
}

/// `TCHAT_EVENT_KIND_REQUEST_DONE`: which call finished. `TCHAT_REQUEST_OP_NONE` for other kinds and
/// NULL.
#[no_mangle]
pub extern "C" fn tchat_event_request_op(ev: *const tchat_event) -> tchat_request_op {
    ffi_getter!({
        event(ev).and_then(tchat_event::done).map_or(tchat_request_op::None, |d| tchat_request_op::of(d.op))
    })
}

/// `TCHAT_EVENT_KIND_ERROR`: the failure class (never `TCHAT_OK` for an error event).
/// `TCHAT_EVENT_KIND_REQUEST_DONE`: `TCHAT_OK` when the call succeeded, else its failure class.
/// `TCHAT_OK` for other kinds and NULL.
#[no_mangle]
pub extern "C" fn tchat_event_error_status(ev: *const tchat_event) -> tchat_status {
    ffi_getter!({
        event(ev).and_then(tchat_event::error).map_or(tchat_status::TCHAT_OK, |e| tchat_status::from_kind(e.kind()))
    })
}

/// `TCHAT_EVENT_KIND_ERROR` and a failed `TCHAT_EVENT_KIND_REQUEST_DONE`: the HTTP status behind the
/// error, or 0 (also for other kinds).
#[no_mangle]
pub extern "C" fn tchat_event_error_http_status(ev: *const tchat_event) -> c_int {
    ffi_getter!({ event(ev).and_then(tchat_event::error).map_or(0, |e| e.status().map_or(0, c_int::from)) })
}

/// `TCHAT_EVENT_KIND_ERROR` and a failed `TCHAT_EVENT_KIND_REQUEST_DONE`: the error message (never
/// contains a token, names the request and the host); NULL for other kinds and a successful call.
/// Borrowed from the event.
#[no_mangle]
pub extern "C" fn tchat_event_error_message(ev: *const tchat_event) -> *const c_char {
    ffi_getter!({
        text_of(ev, std::ptr::null_mut(), |e| lazy(&e.error_message, || e.error().map(crate::Error::message)))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The NUL-terminated text at `p` (from an accessor, so valid while its event lives).
    fn text(p: *const c_char) -> String {
        assert!(!p.is_null());
        // SAFETY: accessors return NUL-terminated strings owned by a live event.
        unsafe { std::ffi::CStr::from_ptr(p) }.to_str().unwrap().to_owned()
    }

    #[test]
    fn chunk_accessors() {
        let ev = tchat_event::owned(Event::Chunk(ChunkEvent {
            seq_num: 7,
            chunk_type: "text-delta".into(),
            json: r#"{"type":"text-delta","delta":"a\u0000b"}"#.into(),
            delta: Some("a\0b".into()),
        }));
        let p: *const tchat_event = &ev;
        assert_eq!(tchat_event_get_kind(p), tchat_event_kind::Chunk);
        assert_eq!(tchat_event_seq_num(p), 7);
        assert_eq!(text(tchat_event_chunk_type(p)), "text-delta");
        let mut len = 0usize;
        let d = tchat_event_delta(p, &mut len);
        assert_eq!(len, 3);
        // SAFETY: the delta is `len` bytes plus its NUL, owned by `ev`.
        assert_eq!(unsafe { std::slice::from_raw_parts(d.cast::<u8>(), 4) }, b"a\0b\0");
        // The same pointer on a second access: made once.
        assert_eq!(tchat_event_delta(p, std::ptr::null_mut()), d);
        assert!(tchat_event_message_json(p, std::ptr::null_mut()).is_null());
        assert!(tchat_event_error_message(p).is_null());
        // The wrong JSON accessor first leaves the right one working.
        let fresh = tchat_event::owned(Event::Chunk(ChunkEvent {
            seq_num: 1,
            chunk_type: "start".into(),
            json: r#"{"type":"start"}"#.into(),
            delta: None,
        }));
        assert!(tchat_event_message_json(&fresh, std::ptr::null_mut()).is_null());
        assert_eq!(text(tchat_event_chunk_json(&fresh, std::ptr::null_mut())), r#"{"type":"start"}"#);
        assert_eq!(tchat_event_get_kind(std::ptr::null()), tchat_event_kind::None);
    }

    #[test]
    fn turn_complete_accessors() {
        let event = Event::TurnComplete(TurnCompleteEvent {
            message_json: "{}".into(),
            message_id: Some("m1".into()),
            finish_reason: None,
            error_text: None,
            stopped: true,
            pending_approvals: vec!["ap1".into(), "ap2".into()],
            incomplete: true,
        });
        tchat_event::borrowed(&event, |ev| {
            let p: *const tchat_event = ev;
            assert!(tchat_event_stopped(p));
            assert!(tchat_event_incomplete(p));
            assert!(!tchat_event_incomplete(std::ptr::null()));
            assert_eq!(tchat_event_pending_approval_count(p), 2);
            assert_eq!(text(tchat_event_pending_approval_id(p, 1)), "ap2");
            assert!(tchat_event_pending_approval_id(p, 2).is_null());
            assert!(tchat_event_chunk_json(p, std::ptr::null_mut()).is_null());
            assert_eq!(text(tchat_event_message_json(p, std::ptr::null_mut())), "{}");
            // Borrowed: free leaves it alone (no double free when `ev` drops).
            tchat_event_free(p.cast_mut());
            let mut copy = std::ptr::null_mut();
            assert_eq!(tchat_event_copy(p, &mut copy), tchat_status::TCHAT_OK);
            assert_eq!(text(tchat_event_message_id(copy)), "m1");
            tchat_event_free(copy);
        });
    }
}
