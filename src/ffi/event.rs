//! `tchat_event`: one thing that happened on a chat's stream, and its accessors.

use std::os::raw::{c_char, c_int};

use super::{arg_out, arg_ref, ffi_boundary, ffi_getter, tchat_status, write_out};
use crate::event::Event;

/// What a `tchat_event` is. `tchat_event_get_kind()` returns it.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum tchat_event_kind {
    /// Not an event (`tchat_event_get_kind(NULL)`).
    None = 0,
    /// One chunk of the agent's reply (a `UIMessageChunk`): `tchat_event_chunk_type`,
    /// `tchat_event_chunk_json`, `tchat_event_delta` (text and reasoning deltas),
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
}

/// Text copied out of an event, NUL-terminated for C, with its exact length (a delta may contain
/// NUL bytes; JSON never does).
#[derive(Clone)]
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

/// One event of a chat's stream (see `tchat_event_kind` for what each kind carries).
///
/// Ownership: an event from `tchat_chat_next_event` or `tchat_event_copy` is owned by the caller:
/// free it with `tchat_event_free`. The event passed to a `tchat_event_callback` is borrowed: valid
/// only until the callback returns; never free it (copy it with `tchat_event_copy` to keep it).
/// Strings returned by accessors belong to the event and live exactly as long as it does.
///
/// Thread safety: an event is not shareable: use it from one thread at a time (an owned event may
/// be handed to another thread as a whole).
#[derive(Clone)]
pub struct tchat_event {
    kind: tchat_event_kind,
    /// The event passed to a callback: `tchat_event_free` must leave it alone.
    borrowed: bool,
    seq_num: u64,
    chunk_type: Option<CText>,
    json: Option<CText>,
    delta: Option<CText>,
    message_id: Option<CText>,
    finish_reason: Option<CText>,
    error_text: Option<CText>,
    stopped: bool,
    incomplete: bool,
    approvals: Vec<CText>,
    attempt: u32,
    delay_ms: u64,
    cause: Option<CText>,
    cause_http_status: c_int,
    reason: Option<CText>,
    error_status: tchat_status,
    error_http_status: c_int,
    error_message: Option<CText>,
}

impl tchat_event {
    /// The C view of `event`.
    pub(crate) fn new(event: &Event, borrowed: bool) -> tchat_event {
        let mut e = tchat_event {
            kind: tchat_event_kind::None,
            borrowed,
            seq_num: 0,
            chunk_type: None,
            json: None,
            delta: None,
            message_id: None,
            finish_reason: None,
            error_text: None,
            stopped: false,
            incomplete: false,
            approvals: Vec::new(),
            attempt: 0,
            delay_ms: 0,
            cause: None,
            cause_http_status: 0,
            reason: None,
            error_status: tchat_status::TCHAT_OK,
            error_http_status: 0,
            error_message: None,
        };
        let text = |s: &Option<String>| s.as_deref().map(CText::new);
        match event {
            Event::Chunk(c) => {
                e.kind = tchat_event_kind::Chunk;
                e.seq_num = c.seq_num;
                e.chunk_type = Some(CText::new(&c.chunk_type));
                e.json = Some(CText::new(&c.json));
                e.delta = text(&c.delta);
            }
            Event::TurnComplete(t) => {
                e.kind = tchat_event_kind::TurnComplete;
                e.json = Some(CText::new(&t.message_json));
                e.message_id = text(&t.message_id);
                e.finish_reason = text(&t.finish_reason);
                e.error_text = text(&t.error_text);
                e.stopped = t.stopped;
                e.incomplete = t.incomplete;
                e.approvals = t.pending_approvals.iter().map(|a| CText::new(a)).collect();
            }
            Event::UpgradeRequired => e.kind = tchat_event_kind::UpgradeRequired,
            Event::PendingVersion => e.kind = tchat_event_kind::PendingVersion,
            Event::SessionClosed { reason } => {
                e.kind = tchat_event_kind::SessionClosed;
                e.reason = text(reason);
            }
            Event::Reconnecting { attempt, delay, cause, status } => {
                e.kind = tchat_event_kind::Reconnecting;
                e.attempt = *attempt;
                e.delay_ms = u64::try_from(delay.as_millis()).unwrap_or(u64::MAX);
                e.cause = Some(CText::new(cause));
                e.cause_http_status = status.map_or(0, c_int::from);
            }
            Event::Connected { attempts } => {
                e.kind = tchat_event_kind::Connected;
                e.attempt = *attempts;
            }
            Event::Error(err) => {
                e.kind = tchat_event_kind::Error;
                e.error_status = tchat_status::from_kind(err.kind());
                e.error_http_status = err.status().map_or(0, c_int::from);
                e.error_message = Some(CText::new(err.message()));
            }
        }
        e
    }

    fn is(&self, kind: tchat_event_kind) -> bool {
        self.kind == kind
    }
}

/// `ev` as a reference, or `None` for NULL.
///
/// # Safety
/// `ev` is NULL or a live event.
unsafe fn event<'a>(ev: *const tchat_event) -> Option<&'a tchat_event> {
    // SAFETY: the caller's contract.
    unsafe { ev.as_ref() }
}

fn text_ptr(t: Option<&CText>, out_len: *mut usize) -> *const c_char {
    match t {
        Some(t) => {
            if !out_len.is_null() {
                // SAFETY: the caller passes NULL or a writable size_t.
                unsafe { out_len.write(t.len()) };
            }
            t.ptr()
        }
        None => std::ptr::null(),
    }
}

/// Frees an event returned by `tchat_chat_next_event` or `tchat_event_copy` (NULL is ignored).
/// Calling it on the borrowed event of a callback does nothing. Any thread.
#[no_mangle]
pub unsafe extern "C" fn tchat_event_free(ev: *mut tchat_event) {
    ffi_getter!((), {
        // SAFETY: `ev` is NULL or a live event; an owned one came from `Box::into_raw`.
        if let Some(e) = unsafe { event(ev) } {
            if !e.borrowed {
                drop(unsafe { Box::from_raw(ev) });
            }
        }
    })
}

/// Copies an event (owned or borrowed) into a new owned event, e.g. to keep the event of a callback
/// after it returns or to hand it to another thread. On success writes it to `*out_event`; free it
/// with `tchat_event_free`.
#[no_mangle]
pub unsafe extern "C" fn tchat_event_copy(ev: *const tchat_event, out_event: *mut *mut tchat_event) -> tchat_status {
    ffi_boundary!({
        let ev = unsafe { arg_ref(ev, "ev") }?;
        let out = arg_out(out_event, "out_event")?;
        let mut copy = ev.clone();
        copy.borrowed = false;
        unsafe { write_out(out, Box::into_raw(Box::new(copy))) };
        Ok(())
    })
}

/// The event's kind; `TCHAT_EVENT_KIND_NONE` for NULL.
#[no_mangle]
pub unsafe extern "C" fn tchat_event_get_kind(ev: *const tchat_event) -> tchat_event_kind {
    ffi_getter!(tchat_event_kind::None, { unsafe { event(ev) }.map_or(tchat_event_kind::None, |e| e.kind) })
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
        _ => c"unknown",
    };
    name.as_ptr()
}

/// `TCHAT_EVENT_KIND_CHUNK`: the chunk's `type`, e.g. `"text-delta"`, `"reasoning-delta"`,
/// `"tool-input-available"`, `"tool-approval-request"`, `"data-status"`, `"finish"`. NULL for other
/// kinds. Borrowed from the event.
#[no_mangle]
pub unsafe extern "C" fn tchat_event_chunk_type(ev: *const tchat_event) -> *const c_char {
    ffi_getter!(std::ptr::null(), {
        unsafe { event(ev) }.map_or(std::ptr::null(), |e| text_ptr(e.chunk_type.as_ref(), std::ptr::null_mut()))
    })
}

/// `TCHAT_EVENT_KIND_CHUNK`: the whole chunk object as JSON text, exactly as the agent wrote it.
/// Writes its length (without the NUL) to `*out_len` when `out_len` is not NULL. NULL for other kinds
/// (and then `*out_len` is untouched). Borrowed from the event.
#[no_mangle]
pub unsafe extern "C" fn tchat_event_chunk_json(ev: *const tchat_event, out_len: *mut usize) -> *const c_char {
    ffi_getter!(std::ptr::null(), {
        unsafe { event(ev) }
            .filter(|e| e.is(tchat_event_kind::Chunk))
            .map_or(std::ptr::null(), |e| text_ptr(e.json.as_ref(), out_len))
    })
}

/// `TCHAT_EVENT_KIND_CHUNK` of type `"text-delta"` or `"reasoning-delta"`: the delta text (UTF-8,
/// NUL-terminated). Concatenating the text deltas of a turn gives the reply's text. Writes its length
/// in bytes to `*out_len` when `out_len` is not NULL (use it if the text may contain NUL bytes).
/// NULL for other events. Borrowed from the event.
#[no_mangle]
pub unsafe extern "C" fn tchat_event_delta(ev: *const tchat_event, out_len: *mut usize) -> *const c_char {
    ffi_getter!(std::ptr::null(), {
        unsafe { event(ev) }.map_or(std::ptr::null(), |e| text_ptr(e.delta.as_ref(), out_len))
    })
}

/// `TCHAT_EVENT_KIND_CHUNK`: the record's `seq_num`, its position in the session's output stream
/// (monotonic across turns and runs). 0 for other kinds.
#[no_mangle]
pub unsafe extern "C" fn tchat_event_seq_num(ev: *const tchat_event) -> u64 {
    ffi_getter!(0, { unsafe { event(ev) }.map_or(0, |e| e.seq_num) })
}

/// `TCHAT_EVENT_KIND_TURN_COMPLETE`: the assembled assistant message (an AI SDK `UIMessage`) as JSON.
/// Writes its length to `*out_len` when `out_len` is not NULL. NULL for other kinds. Borrowed from
/// the event.
#[no_mangle]
pub unsafe extern "C" fn tchat_event_message_json(ev: *const tchat_event, out_len: *mut usize) -> *const c_char {
    ffi_getter!(std::ptr::null(), {
        unsafe { event(ev) }
            .filter(|e| e.is(tchat_event_kind::TurnComplete))
            .map_or(std::ptr::null(), |e| text_ptr(e.json.as_ref(), out_len))
    })
}

/// `TCHAT_EVENT_KIND_TURN_COMPLETE`: the message id from the turn's `start` chunk, or NULL (also for
/// other kinds). Borrowed from the event.
#[no_mangle]
pub unsafe extern "C" fn tchat_event_message_id(ev: *const tchat_event) -> *const c_char {
    ffi_getter!(std::ptr::null(), {
        unsafe { event(ev) }.map_or(std::ptr::null(), |e| text_ptr(e.message_id.as_ref(), std::ptr::null_mut()))
    })
}

/// `TCHAT_EVENT_KIND_TURN_COMPLETE`: the `finish` chunk's finish reason (e.g. `"stop"`), or NULL (also
/// for other kinds). Borrowed from the event.
#[no_mangle]
pub unsafe extern "C" fn tchat_event_finish_reason(ev: *const tchat_event) -> *const c_char {
    ffi_getter!(std::ptr::null(), {
        unsafe { event(ev) }.map_or(std::ptr::null(), |e| text_ptr(e.finish_reason.as_ref(), std::ptr::null_mut()))
    })
}

/// `TCHAT_EVENT_KIND_TURN_COMPLETE` of an error turn: the agent's error text; NULL otherwise.
/// Borrowed from the event.
#[no_mangle]
pub unsafe extern "C" fn tchat_event_error_text(ev: *const tchat_event) -> *const c_char {
    ffi_getter!(std::ptr::null(), {
        unsafe { event(ev) }.map_or(std::ptr::null(), |e| text_ptr(e.error_text.as_ref(), std::ptr::null_mut()))
    })
}

/// `TCHAT_EVENT_KIND_TURN_COMPLETE`: true when the turn was stopped by `tchat_chat_stop` (the rest of
/// its chunks were skipped). False otherwise.
#[no_mangle]
pub unsafe extern "C" fn tchat_event_stopped(ev: *const tchat_event) -> bool {
    ffi_getter!(false, { unsafe { event(ev) }.is_some_and(|e| e.stopped) })
}

/// `TCHAT_EVENT_KIND_TURN_COMPLETE`: true when the turn ended without its turn-complete record —
/// the server said the session settled while the stream had not finished the turn (a run that
/// stopped writing, a close). The message is what had arrived; `tchat_chat_last_assistant_message`
/// keeps the previous complete answer. False for other kinds.
#[no_mangle]
pub unsafe extern "C" fn tchat_event_incomplete(ev: *const tchat_event) -> bool {
    ffi_getter!(false, { unsafe { event(ev) }.is_some_and(|e| e.is(tchat_event_kind::TurnComplete) && e.incomplete) })
}

/// `TCHAT_EVENT_KIND_TURN_COMPLETE`: how many tool calls wait for `tchat_chat_approve`. 0 otherwise.
#[no_mangle]
pub unsafe extern "C" fn tchat_event_pending_approval_count(ev: *const tchat_event) -> usize {
    ffi_getter!(0, { unsafe { event(ev) }.map_or(0, |e| e.approvals.len()) })
}

/// `TCHAT_EVENT_KIND_TURN_COMPLETE`: the approval id of pending tool call `index` (0-based, below
/// `tchat_event_pending_approval_count`), to pass to `tchat_chat_approve`. NULL when out of range.
/// Borrowed from the event.
#[no_mangle]
pub unsafe extern "C" fn tchat_event_pending_approval_id(ev: *const tchat_event, index: usize) -> *const c_char {
    ffi_getter!(std::ptr::null(), {
        unsafe { event(ev) }.map_or(std::ptr::null(), |e| text_ptr(e.approvals.get(index), std::ptr::null_mut()))
    })
}

/// `TCHAT_EVENT_KIND_RECONNECTING`: 1 for the first reconnect after a record arrived, then 2, 3...;
/// `TCHAT_EVENT_KIND_CONNECTED`: how many reconnects it took. 0 for other kinds.
#[no_mangle]
pub unsafe extern "C" fn tchat_event_reconnect_attempt(ev: *const tchat_event) -> u32 {
    ffi_getter!(0, { unsafe { event(ev) }.map_or(0, |e| e.attempt) })
}

/// `TCHAT_EVENT_KIND_RECONNECTING`: how long tchat waits before reconnecting, in milliseconds. 0 for
/// other kinds.
#[no_mangle]
pub unsafe extern "C" fn tchat_event_reconnect_delay_ms(ev: *const tchat_event) -> u64 {
    ffi_getter!(0, { unsafe { event(ev) }.map_or(0, |e| e.delay_ms) })
}

/// `TCHAT_EVENT_KIND_RECONNECTING`: what failed — the HTTP method, path, status and the server's
/// text, or the network error, or why a stream was given up (a stall, a cut body); never contains
/// a token. NULL for other kinds. Borrowed from the event.
#[no_mangle]
pub unsafe extern "C" fn tchat_event_reconnect_cause(ev: *const tchat_event) -> *const c_char {
    ffi_getter!(std::ptr::null(), {
        unsafe { event(ev) }.map_or(std::ptr::null(), |e| text_ptr(e.cause.as_ref(), std::ptr::null_mut()))
    })
}

/// `TCHAT_EVENT_KIND_RECONNECTING`: the HTTP status behind the failure (e.g. 503), or 0 for a
/// network failure or a cut stream (also for other kinds).
#[no_mangle]
pub unsafe extern "C" fn tchat_event_reconnect_http_status(ev: *const tchat_event) -> c_int {
    ffi_getter!(0, { unsafe { event(ev) }.map_or(0, |e| e.cause_http_status) })
}

/// `TCHAT_EVENT_KIND_SESSION_CLOSED`: why the session was closed, if the server said; NULL otherwise.
/// Borrowed from the event.
#[no_mangle]
pub unsafe extern "C" fn tchat_event_session_closed_reason(ev: *const tchat_event) -> *const c_char {
    ffi_getter!(std::ptr::null(), {
        unsafe { event(ev) }.map_or(std::ptr::null(), |e| text_ptr(e.reason.as_ref(), std::ptr::null_mut()))
    })
}

/// `TCHAT_EVENT_KIND_ERROR`: the failure class (never `TCHAT_OK` for an error event). `TCHAT_OK` for
/// other kinds and NULL.
#[no_mangle]
pub unsafe extern "C" fn tchat_event_error_status(ev: *const tchat_event) -> tchat_status {
    ffi_getter!(tchat_status::TCHAT_OK, { unsafe { event(ev) }.map_or(tchat_status::TCHAT_OK, |e| e.error_status) })
}

/// `TCHAT_EVENT_KIND_ERROR`: the HTTP status behind the error, or 0 (also for other kinds).
#[no_mangle]
pub unsafe extern "C" fn tchat_event_error_http_status(ev: *const tchat_event) -> c_int {
    ffi_getter!(0, { unsafe { event(ev) }.map_or(0, |e| e.error_http_status) })
}

/// `TCHAT_EVENT_KIND_ERROR`: the error message (never contains a token); NULL for other kinds.
/// Borrowed from the event.
#[no_mangle]
pub unsafe extern "C" fn tchat_event_error_message(ev: *const tchat_event) -> *const c_char {
    ffi_getter!(std::ptr::null(), {
        unsafe { event(ev) }.map_or(std::ptr::null(), |e| text_ptr(e.error_message.as_ref(), std::ptr::null_mut()))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{ChunkEvent, TurnCompleteEvent};
    use std::ffi::CStr;

    #[test]
    fn chunk_accessors() {
        let ev = tchat_event::new(
            &Event::Chunk(ChunkEvent {
                seq_num: 7,
                chunk_type: "text-delta".into(),
                json: r#"{"type":"text-delta","delta":"a\u0000b"}"#.into(),
                delta: Some("a\0b".into()),
            }),
            false,
        );
        let p: *const tchat_event = &ev;
        unsafe {
            assert_eq!(tchat_event_get_kind(p), tchat_event_kind::Chunk);
            assert_eq!(tchat_event_seq_num(p), 7);
            assert_eq!(CStr::from_ptr(tchat_event_chunk_type(p)).to_str().unwrap(), "text-delta");
            let mut len = 0usize;
            let d = tchat_event_delta(p, &mut len);
            assert_eq!(len, 3);
            assert_eq!(std::slice::from_raw_parts(d.cast::<u8>(), 4), b"a\0b\0");
            assert!(tchat_event_message_json(p, std::ptr::null_mut()).is_null());
            assert!(tchat_event_error_message(p).is_null());
            assert_eq!(tchat_event_get_kind(std::ptr::null()), tchat_event_kind::None);
        }
    }

    #[test]
    fn turn_complete_accessors() {
        let ev = tchat_event::new(
            &Event::TurnComplete(TurnCompleteEvent {
                message_json: "{}".into(),
                message_id: Some("m1".into()),
                finish_reason: None,
                error_text: None,
                stopped: true,
                pending_approvals: vec!["ap1".into(), "ap2".into()],
                incomplete: true,
            }),
            true,
        );
        let p: *const tchat_event = &ev;
        unsafe {
            assert!(tchat_event_stopped(p));
            assert!(tchat_event_incomplete(p));
            assert!(!tchat_event_incomplete(std::ptr::null()));
            assert_eq!(tchat_event_pending_approval_count(p), 2);
            assert_eq!(CStr::from_ptr(tchat_event_pending_approval_id(p, 1)).to_str().unwrap(), "ap2");
            assert!(tchat_event_pending_approval_id(p, 2).is_null());
            assert!(tchat_event_chunk_json(p, std::ptr::null_mut()).is_null());
            // Borrowed: free leaves it alone (no double free when `ev` drops).
            tchat_event_free(p.cast_mut());
            let mut copy = std::ptr::null_mut();
            assert_eq!(tchat_event_copy(p, &mut copy), tchat_status::TCHAT_OK);
            assert_eq!(CStr::from_ptr(tchat_event_message_id(copy)).to_str().unwrap(), "m1");
            tchat_event_free(copy);
        }
    }
}
