//! `tchat_chat`: one conversation (opened from a `tchat_chat_options`, see `chat_options`).

use std::ffi::CString;
use std::os::raw::{c_char, c_int, c_void};
use std::sync::{Arc, Mutex, OnceLock, RwLock};
use std::time::Duration;

use serde_json::Value;

use super::chat_options::tchat_chat_options;
use super::client::{tchat_client, tchat_user_data_free_callback};
use super::event::tchat_event;
use super::{
    c_string, ffi_boundary, ffi_getter, free_box, owned_c_string, tchat_status, to_box_ptr, try_json_object,
    try_opt_str, try_out, try_ref, try_str, Boxed, Castable, Fail, UserData, UserDataGuard,
};
use crate::chat::{Chat, Polled};
use crate::event::Event;

/// One conversation with a `chat.agent`: open it with `tchat_chat_open` (or `tchat_chat_restore`),
/// send with `tchat_chat_send_text` and friends, receive its events through a callback
/// (`tchat_chat_set_callback`) or by polling (`tchat_chat_next_event`), and free it with
/// `tchat_chat_free`.
///
/// Thread safety: every function may be called from any thread, concurrently; calls are serialized
/// internally where needed. Each chat has one reader thread of its own, which receives the stream
/// and runs the event callback, and, from its first `_async` call, a sender thread that makes those
/// calls in order. `tchat_chat_free` must be the last call: no other thread may be
/// using the chat while (or after) it is freed.
pub struct tchat_chat {
    /// `None` once `tchat_chat_free` has taken the chat out (it is being dropped). Every call holds
    /// the read lock; free takes the write lock only to take the chat out, then drops it unlocked,
    /// so a callback that calls into the chat meanwhile gets `TCHAT_INVALID_STATE`, never a deadlock.
    inner: RwLock<Option<Chat>>,
    /// Made when first asked once the session is known (at once, but for `tchat_chat_open_async`).
    session_id: OnceLock<CString>,
    chat_id: CString,
    /// Our own reference to the installed C callback, so that a replaced callback's `user_data_free`
    /// runs here, outside every lock (or on the reader thread once an invocation in progress ends),
    /// never under the chat's internal callback lock.
    callback: Mutex<Option<Arc<EventCallback>>>,
}

impl tchat_chat {
    /// The C chat around `chat`, holding our reference to the C callback it was opened with.
    fn new(chat: Chat, callback: Option<Arc<EventCallback>>) -> tchat_chat {
        tchat_chat {
            session_id: OnceLock::new(),
            chat_id: c_string(chat.chat_id()),
            inner: RwLock::new(Some(chat)),
            callback: Mutex::new(callback),
        }
    }

    /// The session id, once the chat knows it.
    fn session_id(&self) -> Option<&CString> {
        if let Some(id) = self.session_id.get() {
            return Some(id);
        }
        let id = self.with(|c| Ok(c.session_id().to_owned())).ok().filter(|id| !id.is_empty())?;
        Some(self.session_id.get_or_init(|| c_string(&id)))
    }

    /// Runs `f` with the chat, unless it is being freed.
    fn with<R>(&self, f: impl FnOnce(&Chat) -> Result<R, Fail>) -> Result<R, Fail> {
        let guard = self.inner.read().unwrap_or_else(|e| e.into_inner());
        match guard.as_ref() {
            Some(chat) => f(chat),
            None => Err(Fail::state("the chat is being freed")),
        }
    }
}

/// Runs `f` with the chat behind `chat` (NULL-checked).
pub(super) fn with_chat<R>(chat: *const tchat_chat, f: impl FnOnce(&Chat) -> Result<R, Fail>) -> Result<R, Fail> {
    try_ref(chat, "chat")?.with(f)
}

impl Castable for tchat_chat {
    type Ownership = Boxed;
}

/// Opens a conversation: creates the session (idempotent on the chat id) and starts the agent's run
/// (preloaded, or with the first message). Blocks for the HTTP round trips (bounded by the client's
/// timeouts and retry policy; `tchat_client_cancel_calls` from another thread ends it with
/// `TCHAT_CANCELLED`). `tchat_chat_open_async` is the same without blocking.
///
/// On success writes a new chat to `*out_chat` (free with `tchat_chat_free`). Events start flowing
/// at once: to the callback of `tchat_chat_options_set_callback` if one was set, else to
/// `tchat_chat_next_event`. On failure `*out_chat` is untouched.
///
/// Opening a chat id that already has turns (without saved state) delivers no event for them: the
/// last completed answer is offered by `tchat_chat_last_assistant_message`, and the next send gets
/// exactly its own reply. A turn still streaming at that moment is delivered once, from its start.
#[no_mangle]
pub extern "C" fn tchat_chat_open(
    client: *const tchat_client,
    options: *const tchat_chat_options,
    out_chat: *mut *mut tchat_chat,
) -> tchat_status {
    ffi_boundary!({ open_chat(client, options, out_chat, false) })
}

/// The body of `tchat_chat_open` (`non_blocking` false) and `tchat_chat_open_async` (true).
pub(super) fn open_chat(
    client: *const tchat_client,
    options: *const tchat_chat_options,
    out_chat: *mut *mut tchat_chat,
    non_blocking: bool,
) -> Result<(), Fail> {
    let client = &try_ref(client, "client")?.client;
    let options = try_ref(options, "options")?;
    let out = try_out(out_chat, "out_chat")?;
    let rust_options = options.to_rust()?;
    let callback = options.callback();
    let rust_callback = callback.clone().map(EventCallback::as_rust);
    let open = if non_blocking { Chat::open_async } else { Chat::open };
    let chat = open(client.clone(), rust_options, rust_callback)?;
    out.set(to_box_ptr(tchat_chat::new(chat, callback)));
    Ok(())
}

/// Resumes a conversation from the JSON that `tchat_chat_save_state` produced (e.g. after an app
/// restart). If a turn was streaming when the state was saved, its remaining chunks stream again,
/// without duplicates. On success writes a new chat to `*out_chat` (free with `tchat_chat_free`).
#[no_mangle]
pub extern "C" fn tchat_chat_restore(
    client: *const tchat_client,
    state_json: *const c_char,
    out_chat: *mut *mut tchat_chat,
) -> tchat_status {
    tchat_chat_restore_with_callback(client, state_json, None, std::ptr::null_mut(), None, out_chat)
}

/// `tchat_chat_restore` with the event callback installed from the start, so the rest of a turn
/// saved mid-stream, like every later event, goes to `callback` (see `tchat_chat_set_callback` for
/// `user_data` and `user_data_free`): nothing lands in the poll queue. If this function fails,
/// `user_data_free` is not called. `callback` NULL is `tchat_chat_restore`.
#[no_mangle]
pub extern "C" fn tchat_chat_restore_with_callback(
    client: *const tchat_client,
    state_json: *const c_char,
    callback: tchat_event_callback,
    user_data: *mut c_void,
    user_data_free: tchat_user_data_free_callback,
    out_chat: *mut *mut tchat_chat,
) -> tchat_status {
    ffi_boundary!({
        let client = try_ref(client, "client")?;
        let state = try_str(state_json, "state_json")?;
        let out = try_out(out_chat, "out_chat")?;
        let Some(callback) = callback else {
            let chat = client.client.restore(state)?;
            out.set(to_box_ptr(tchat_chat::new(chat, None)));
            return Ok(());
        };
        let cb = EventCallback::new(callback, user_data, user_data_free);
        match client.client.restore_with_callback(state, cb.clone().as_rust()) {
            Ok(chat) => {
                out.set(to_box_ptr(tchat_chat::new(chat, Some(cb))));
                Ok(())
            }
            Err(e) => {
                cb.disown();
                Err(e.into())
            }
        }
    })
}

/// Frees a chat: stops its stream and its reader thread (promptly, even mid-read) and waits for the
/// thread to exit, so no callback runs once this returns. Then calls the callback's
/// `user_data_free`, if any. The session itself stays open on the server (see
/// `tchat_chat_close_session`). NULL is ignored (`TCHAT_OK`).
///
/// Returns `TCHAT_INVALID_STATE` and frees nothing when called from inside the chat's event callback
/// (on either of its threads) or on its reader thread (a log/token callback running there): free it
/// from another thread after the callback returned. Must not be called while another thread is
/// still using the chat. `_async` calls not yet made are dropped, with no event; one in progress on
/// the sender thread ends on its own (bounded by the client's timeouts), with no event.
#[no_mangle]
pub extern "C" fn tchat_chat_free(chat: *mut tchat_chat) -> tchat_status {
    ffi_boundary!({
        if chat.is_null() {
            return Ok(());
        }
        let wrapper = try_ref(chat.cast_const(), "chat")?;
        wrapper.with(|c| {
            if c.is_reader_thread() || c.is_in_callback() {
                return Err(Fail::state(
                    "tchat_chat_free called from inside the chat's own callback (its reader thread); free it from another thread",
                ));
            }
            // Unblocks a tchat_chat_next_event still waiting on another thread (a misuse, but
            // better to return than to hang).
            c.wake();
            Ok(())
        })?;
        let taken = wrapper.inner.write().unwrap_or_else(|e| e.into_inner()).take();
        // Drop outside the lock: it joins the reader thread, whose callback may still call in (and
        // then gets TCHAT_INVALID_STATE).
        drop(taken);
        // Then the callback's user_data_free, while the wrapper still exists: a call into this chat
        // from there gets TCHAT_INVALID_STATE instead of touching freed memory.
        let callback = wrapper.callback.lock().unwrap_or_else(|e| e.into_inner()).take();
        drop(callback);
        // The reader thread has exited and, by contract, no other thread uses the chat.
        free_box(chat);
        Ok(())
    })
}

/// The session's friendly id (`"session_..."`). Borrowed: valid until `tchat_chat_free`. NULL for a
/// NULL chat, and for a chat of `tchat_chat_open_async` until its open has succeeded.
#[no_mangle]
pub extern "C" fn tchat_chat_session_id(chat: *const tchat_chat) -> *const c_char {
    ffi_getter!({
        try_ref(chat, "chat").ok().and_then(tchat_chat::session_id).map_or(std::ptr::null(), |id| id.as_ptr())
    })
}

/// The chat id (the session's external id). Borrowed: valid until `tchat_chat_free`. NULL for a NULL
/// chat.
#[no_mangle]
pub extern "C" fn tchat_chat_chat_id(chat: *const tchat_chat) -> *const c_char {
    ffi_getter!({ try_ref(chat, "chat").map_or(std::ptr::null(), |c| c.chat_id.as_ptr()) })
}

/// The current run id. It follows continuations, also those the server starts on its own (read
/// from each turn-complete's token and from the session). On success writes an owned copy
/// to `*out_run_id` (free with `tchat_string_free`), or NULL when no run is known.
#[no_mangle]
pub extern "C" fn tchat_chat_run_id(chat: *const tchat_chat, out_run_id: *mut *mut c_char) -> tchat_status {
    ffi_boundary!({
        let out = try_out(out_run_id, "out_run_id")?;
        let run_id = with_chat(chat, |c| Ok(c.run_id()))?;
        let ptr = run_id.as_deref().map_or(std::ptr::null_mut(), owned_c_string);
        out.set(ptr);
        Ok(())
    })
}

/// The stream cursor: the `seq_num` of the last record received, or -1 when none was received yet
/// (or `chat` is NULL or being freed).
#[no_mangle]
pub extern "C" fn tchat_chat_last_event_id(chat: *const tchat_chat) -> i64 {
    ffi_getter!(or - 1, {
        with_chat(chat, |c| Ok(c.last_event_id())).ok().flatten().and_then(|id| i64::try_from(id).ok()).unwrap_or(-1)
    })
}

/// Whether an agent turn is streaming or awaited (between a send and its turn-complete event).
/// False for a NULL chat.
#[no_mangle]
pub extern "C" fn tchat_chat_is_turn_in_flight(chat: *const tchat_chat) -> bool {
    ffi_getter!({ with_chat(chat, |c| Ok(c.is_turn_in_flight())).unwrap_or(false) })
}

/// The last complete assistant message (AI SDK `UIMessage` JSON). On success writes an owned copy to
/// `*out_json` (free with `tchat_string_free`), or NULL when no turn has completed yet.
#[no_mangle]
pub extern "C" fn tchat_chat_last_assistant_message(
    chat: *const tchat_chat,
    out_json: *mut *mut c_char,
) -> tchat_status {
    ffi_boundary!({
        let out = try_out(out_json, "out_json")?;
        let json = with_chat(chat, |c| Ok(c.last_assistant_message()))?;
        out.set(json.as_deref().map_or(std::ptr::null_mut(), owned_c_string));
        Ok(())
    })
}

/// The conversation's state as JSON, to resume it later with `tchat_chat_restore`. On success writes
/// an owned string to `*out_state_json`; free it with `tchat_string_free`. It holds the session's
/// access token: store it as you would store a password.
#[no_mangle]
pub extern "C" fn tchat_chat_save_state(chat: *const tchat_chat, out_state_json: *mut *mut c_char) -> tchat_status {
    ffi_boundary!({
        let out = try_out(out_state_json, "out_state_json")?;
        let state = with_chat(chat, |c| {
            if c.session_id().is_empty() {
                return Err(Fail::state("the chat has no session yet: its tchat_chat_open_async is not done"));
            }
            Ok(c.save_state())
        })?;
        out.set(owned_c_string(&state));
        Ok(())
    })
}

/// Sends a user text message (UTF-8). The reply streams as events. Sent while a turn streams, it is
/// a pending (steering) message and does not interrupt the stream. Blocks for the HTTP round trip
/// (`tchat_client_cancel_calls` ends it with `TCHAT_CANCELLED`; `tchat_chat_send_text_async` does
/// not block).
/// May be called from inside the event callback.
#[no_mangle]
pub extern "C" fn tchat_chat_send_text(chat: *const tchat_chat, text: *const c_char) -> tchat_status {
    ffi_boundary!({
        let text = try_str(text, "text")?;
        with_chat(chat, |c| Ok(c.send_text(text)?))
    })
}

/// `tchat_chat_send_text` with metadata for this message only: `metadata_json`, a JSON object, is
/// merged over the chat's client data (its keys win) and sent as the message's `metadata`. Not an
/// object: `TCHAT_INVALID_ARGUMENT`.
#[no_mangle]
pub extern "C" fn tchat_chat_send_text_with_metadata(
    chat: *const tchat_chat,
    text: *const c_char,
    metadata_json: *const c_char,
) -> tchat_status {
    ffi_boundary!({
        let text = try_str(text, "text")?;
        let metadata = Value::Object(try_json_object(metadata_json, "metadata_json")?);
        with_chat(chat, |c| Ok(c.send_text_with_metadata(text, &metadata)?))
    })
}

/// Sends a steering message mid-turn: the agent takes it into account at its next step boundary (or,
/// as its configuration says, keeps it for the turn after). Never cancels the stream. With no turn
/// in flight it is an ordinary message and starts a turn at once, as the official clients'
/// `sendPendingMessage` does. Same rules as `tchat_chat_send_text`.
#[no_mangle]
pub extern "C" fn tchat_chat_steer(chat: *const tchat_chat, text: *const c_char) -> tchat_status {
    ffi_boundary!({
        let text = try_str(text, "text")?;
        with_chat(chat, |c| Ok(c.steer(text)?))
    })
}

/// Sends a whole user message: an AI SDK `UIMessage` JSON object with a `parts` array (`id` and
/// `role` are filled in when missing), e.g. `{"parts":[{"type":"text","text":"hi"}]}`.
#[no_mangle]
pub extern "C" fn tchat_chat_send_message_json(chat: *const tchat_chat, message_json: *const c_char) -> tchat_status {
    ffi_boundary!({
        let json = try_str(message_json, "message_json")?;
        with_chat(chat, |c| Ok(c.send_message_json(json)?))
    })
}

/// Asks the agent to answer the last user message again (a new turn replaces the last reply).
#[no_mangle]
pub extern "C" fn tchat_chat_regenerate(chat: *const tchat_chat) -> tchat_status {
    ffi_boundary!({ with_chat(chat, |c| Ok(c.regenerate()?)) })
}

/// Sends a custom action (JSON, validated by the agent's action schema), e.g. `{"type":"undo"}`.
#[no_mangle]
pub extern "C" fn tchat_chat_send_action(chat: *const tchat_chat, action_json: *const c_char) -> tchat_status {
    ffi_boundary!({
        let json = try_str(action_json, "action_json")?;
        with_chat(chat, |c| Ok(c.send_action(json)?))
    })
}

/// Answers a tool call waiting for approval: `approval_id` comes from the turn-complete event
/// (`tchat_event_pending_approval_id`); `reason` may be NULL. The agent then continues the same
/// assistant message. `TCHAT_INVALID_STATE` when no such approval is pending.
#[no_mangle]
pub extern "C" fn tchat_chat_approve(
    chat: *const tchat_chat,
    approval_id: *const c_char,
    approved: bool,
    reason: *const c_char,
) -> tchat_status {
    ffi_boundary!({
        let approval_id = try_str(approval_id, "approval_id")?;
        let reason = try_opt_str(reason, "reason")?;
        with_chat(chat, |c| Ok(c.approve(approval_id, approved, reason)?))
    })
}

/// Stops the agent's current turn, with an optional `reason` (NULL for none) for the agent's stop
/// handler. The turn completes early (its turn-complete event has `tchat_event_stopped` true); chunks
/// still in flight are skipped. May be called from inside the event callback.
#[no_mangle]
pub extern "C" fn tchat_chat_stop(chat: *const tchat_chat, reason: *const c_char) -> tchat_status {
    ffi_boundary!({
        let reason = try_opt_str(reason, "reason")?;
        with_chat(chat, |c| Ok(c.stop(reason)?))
    })
}

/// Ends the agent's loop without closing the session; a later message starts a new run.
#[no_mangle]
pub extern "C" fn tchat_chat_close_agent(chat: *const tchat_chat) -> tchat_status {
    ffi_boundary!({ with_chat(chat, |c| Ok(c.close_agent()?)) })
}

/// Closes the session for good (needs a secret API key as the client's token), with an optional
/// `reason` (NULL for none), and stops streaming. The return value is the whole outcome: no event
/// follows (not `TCHAT_EVENT_KIND_SESSION_CLOSED`, which reports closes by someone else), and a turn
/// in flight ends without its turn-complete. Later sends fail with `TCHAT_SESSION_CLOSED`. The
/// chat must still be freed with `tchat_chat_free`.
#[no_mangle]
pub extern "C" fn tchat_chat_close_session(chat: *const tchat_chat, reason: *const c_char) -> tchat_status {
    ffi_boundary!({
        let reason = try_opt_str(reason, "reason")?;
        with_chat(chat, |c| Ok(c.close_session(reason)?))
    })
}

/// Receives a chat's events: `user_data` as given to `tchat_chat_set_callback`, and the event,
/// borrowed: valid only until the callback returns (copy it with `tchat_event_copy` to keep it;
/// never free it).
///
/// Runs on the chat's reader thread — but for `TCHAT_EVENT_KIND_REQUEST_DONE` events, which run it on
/// the chat's sender thread — one event at a time (never two calls at once), in stream order; while
/// it runs, no further event is read. It may call any function of this chat (send, stop, approve,
/// the `_async` calls, set_callback, save_state...) except `tchat_chat_free`, which returns
/// `TCHAT_INVALID_STATE` there. Keep it short: hand heavy work to another thread.
pub type tchat_event_callback = Option<unsafe extern "C" fn(user_data: *mut c_void, event: *const tchat_event)>;

/// The C callback plus its user_data, whose destructor runs when the last reference drops.
pub(super) struct EventCallback {
    callback: unsafe extern "C" fn(*mut c_void, *const tchat_event),
    user_data: UserDataGuard,
}

impl EventCallback {
    /// The application's callback and its user_data, whose `user_data_free` runs when the last
    /// reference drops.
    pub(super) fn new(
        callback: unsafe extern "C" fn(*mut c_void, *const tchat_event),
        user_data: *mut c_void,
        user_data_free: tchat_user_data_free_callback,
    ) -> Arc<EventCallback> {
        Arc::new(EventCallback {
            callback,
            user_data: UserDataGuard { user_data: UserData(user_data), free: user_data_free },
        })
    }

    /// A callback that was not installed: its `user_data` stays the caller's, so its
    /// `user_data_free` must not run.
    fn disown(self: Arc<Self>) {
        if let Some(cb) = Arc::into_inner(self) {
            std::mem::forget(cb.user_data);
        }
    }

    /// The Rust callback that calls this C one.
    fn as_rust(self: Arc<Self>) -> Arc<crate::chat::Callback> {
        Arc::new(move |ev: &Event| self.call(ev))
    }

    fn call(&self, event: &Event) {
        tchat_event::borrowed(event, |ev| {
            // SAFETY: the application's callback, with its own user_data and an event alive for the
            // call (the C contract of `tchat_event_callback`).
            unsafe { (self.callback)(self.user_data.user_data.0, ev) }
        });
    }
}

/// Delivers the chat's events to `callback` on its reader thread (see `tchat_event_callback`)
/// instead of the poll queue; `callback` NULL goes back to polling. Events already queued for
/// `tchat_chat_next_event` stay there.
///
/// A barrier: this returns only when no call of the old callback is in progress any more, so the
/// caller may free what the old callback used right after (with `callback` NULL too). Called from
/// inside a callback of this chat (on its reader thread) it returns at once — that call is still
/// running until the callback returns.
///
/// `user_data` is passed to every call. `user_data_free` (may be NULL) is called exactly once with
/// `user_data`, when the callback is replaced (by another call of this function) or the chat is
/// freed, and no call of the callback is running any more: on the thread that replaced or freed it,
/// or, when replaced from inside the callback, on the reader thread right after it returns. It
/// runs outside the library's locks, so it may call tchat functions; calls on this chat made from it
/// while the chat is being freed return `TCHAT_INVALID_STATE`. If this function fails,
/// `user_data_free` is not called. With `callback` NULL, `user_data` and `user_data_free` are
/// ignored.
#[no_mangle]
pub extern "C" fn tchat_chat_set_callback(
    chat: *const tchat_chat,
    callback: tchat_event_callback,
    user_data: *mut c_void,
    user_data_free: tchat_user_data_free_callback,
) -> tchat_status {
    ffi_boundary!({
        // Checked before the guard exists, so that a failure does not run `user_data_free`.
        let wrapper = try_ref(chat, "chat")?;
        let new = callback.map(|callback| EventCallback::new(callback, user_data, user_data_free));
        let old = {
            let mut slot = wrapper.callback.lock().unwrap_or_else(|e| e.into_inner());
            let installed = wrapper.with(|c| {
                match &new {
                    Some(cb) => c.set_callback(Some(cb.clone().as_rust())),
                    None => c.set_callback(None),
                }
                Ok(())
            });
            match installed {
                Ok(()) => std::mem::replace(&mut *slot, new),
                Err(e) => {
                    if let Some(cb) = new {
                        cb.disown();
                    }
                    return Err(e);
                }
            }
        };
        // Outside the locks: the old user_data is freed here, unless the reader thread is still in
        // the old callback, in which case it frees it when that call returns.
        drop(old);
        Ok(())
    })
}

/// Waits up to `timeout_ms` milliseconds for the chat's next event (0: do not wait; negative: wait
/// without limit). On `TCHAT_OK` writes an owned event to `*out_event` (free with
/// `tchat_event_free`). Two more answers are not errors, and leave `*out_event` untouched:
/// `TCHAT_NO_EVENT` when no event came in time (poll again), `TCHAT_WOKEN` when `tchat_chat_wake`
/// ended the wait. Any other status is a real failure (e.g. `TCHAT_INVALID_ARGUMENT`): a loop
/// should stop on it, not poll again.
///
/// For main loops (a game loop polls with 0 every frame). With a callback installed, events go to
/// the callback and this only answers `TCHAT_NO_EVENT` (or `TCHAT_WOKEN`). Any thread; usually one
/// thread polls.
#[no_mangle]
pub extern "C" fn tchat_chat_next_event(
    chat: *const tchat_chat,
    timeout_ms: c_int,
    out_event: *mut *mut tchat_event,
) -> tchat_status {
    ffi_boundary!({
        let out = try_out(out_event, "out_event")?;
        let timeout = match u64::try_from(timeout_ms) {
            Ok(ms) => Duration::from_millis(ms),
            Err(_) => Duration::MAX,
        };
        match with_chat(chat, |c| Ok(c.poll_event(timeout)))? {
            Polled::Event(event) => {
                out.set(to_box_ptr(tchat_event::owned(event)));
                Ok(())
            }
            Polled::Nothing => Err(Fail::new(tchat_status::TCHAT_NO_EVENT, "no event within the timeout")),
            Polled::Woken => Err(Fail::new(tchat_status::TCHAT_WOKEN, "woken by tchat_chat_wake")),
        }
    })
}

/// Reconnects the chat's stream at once, e.g. after the app learns the network changed (Wi-Fi to
/// cellular, a laptop waking up): the current connection, which may be dead without knowing it, is
/// cut and a new one resumes from the cursor, and a reconnect backoff under way is cut short.
/// Nothing is lost or repeated. With no stream open (idle, no idle watch) it does nothing. Returns
/// at once; any thread, also the chat's callback.
#[no_mangle]
pub extern "C" fn tchat_chat_reconnect_now(chat: *const tchat_chat) -> tchat_status {
    ffi_boundary!({
        with_chat(chat, |c| {
            c.reconnect_now();
            Ok(())
        })
    })
}

/// Makes a `tchat_chat_next_event` that is waiting (or the next one to wait) return `TCHAT_WOKEN`
/// at once. Any thread, e.g. a UI thread waking a worker that polls.
#[no_mangle]
pub extern "C" fn tchat_chat_wake(chat: *const tchat_chat) -> tchat_status {
    ffi_boundary!({
        with_chat(chat, |c| {
            c.wake();
            Ok(())
        })
    })
}
