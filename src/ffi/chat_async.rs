//! The non-blocking half of `tchat_chat`: `tchat_chat_open_async` and the `_async` variants of
//! every send. Each checks its arguments, queues the call on the chat's sender thread and returns
//! at once; the call's end arrives as a `TCHAT_EVENT_KIND_REQUEST_DONE` event, in order with the
//! stream's events (see `crate::chat::Op`).

use std::os::raw::c_char;

use super::chat::{open_chat, tchat_chat, with_chat};
use super::chat_options::tchat_chat_options;
use super::client::tchat_client;
use super::{ffi_boundary, set_opt_out, tchat_status, try_opt_str, try_str, Fail};
use crate::chat::Op;

/// Queues `op` on `chat`; its request id to `*out_request` when that is not NULL.
fn submit(chat: *const tchat_chat, op: Op, out_request: *mut u64) -> Result<(), Fail> {
    let request = with_chat(chat, |c| Ok(c.submit(op)?))?;
    set_opt_out(out_request, request);
    Ok(())
}

/// `tchat_chat_open` without waiting for the network, for a thread that must not block (a game's
/// main loop, a UI thread). The options are checked now (`TCHAT_INVALID_ARGUMENT` at once, with
/// `*out_chat` untouched); then a new chat is written to `*out_chat` and the session is created on
/// the chat's sender thread. A `TCHAT_EVENT_KIND_REQUEST_DONE` event for `TCHAT_REQUEST_OP_OPEN`
/// (request 1) tells how the open went — to the options' callback, or through
/// `tchat_chat_next_event`.
///
/// Until that event: `_async` calls may be made (they run after the open, and fail with its error
/// if it failed); blocking calls and `tchat_chat_save_state` return `TCHAT_INVALID_STATE`;
/// `tchat_chat_session_id` is NULL. After a failed open every call fails with the open's error;
/// free the chat. Free it with `tchat_chat_free` in every case (also while opening: the open is
/// abandoned, with no event).
#[no_mangle]
pub extern "C" fn tchat_chat_open_async(
    client: *const tchat_client,
    options: *const tchat_chat_options,
    out_chat: *mut *mut tchat_chat,
) -> tchat_status {
    ffi_boundary!({ open_chat(client, options, out_chat, true) })
}

/// `tchat_chat_send_text`, queued: returns at once (`TCHAT_OK`: queued) with the call's request id
/// in `*out_request` (may be NULL); the call runs on the chat's sender thread after the `_async`
/// calls made before it, and its `TCHAT_EVENT_KIND_REQUEST_DONE` event tells how it went. Never
/// blocks on the network: safe on a game's main thread or from inside the event callback. Freeing
/// the chat drops the queued calls not yet made, with no event.
#[no_mangle]
pub extern "C" fn tchat_chat_send_text_async(
    chat: *const tchat_chat,
    text: *const c_char,
    out_request: *mut u64,
) -> tchat_status {
    ffi_boundary!({ submit(chat, Op::SendText(try_str(text, "text")?.to_owned()), out_request) })
}

/// `tchat_chat_steer`, queued (see `tchat_chat_send_text_async`).
#[no_mangle]
pub extern "C" fn tchat_chat_steer_async(
    chat: *const tchat_chat,
    text: *const c_char,
    out_request: *mut u64,
) -> tchat_status {
    ffi_boundary!({ submit(chat, Op::Steer(try_str(text, "text")?.to_owned()), out_request) })
}

/// `tchat_chat_send_message_json`, queued (see `tchat_chat_send_text_async`). JSON that does not
/// parse is `TCHAT_INVALID_ARGUMENT` at once; the other checks come in the done event.
#[no_mangle]
pub extern "C" fn tchat_chat_send_message_json_async(
    chat: *const tchat_chat,
    message_json: *const c_char,
    out_request: *mut u64,
) -> tchat_status {
    ffi_boundary!({ submit(chat, Op::SendMessageJson(try_str(message_json, "message_json")?.to_owned()), out_request) })
}

/// `tchat_chat_regenerate`, queued (see `tchat_chat_send_text_async`).
#[no_mangle]
pub extern "C" fn tchat_chat_regenerate_async(chat: *const tchat_chat, out_request: *mut u64) -> tchat_status {
    ffi_boundary!({ submit(chat, Op::Regenerate, out_request) })
}

/// `tchat_chat_send_action`, queued (see `tchat_chat_send_text_async`). JSON that does not parse is
/// `TCHAT_INVALID_ARGUMENT` at once.
#[no_mangle]
pub extern "C" fn tchat_chat_send_action_async(
    chat: *const tchat_chat,
    action_json: *const c_char,
    out_request: *mut u64,
) -> tchat_status {
    ffi_boundary!({ submit(chat, Op::Action(try_str(action_json, "action_json")?.to_owned()), out_request) })
}

/// `tchat_chat_approve`, queued (see `tchat_chat_send_text_async`). `reason` may be NULL.
#[no_mangle]
pub extern "C" fn tchat_chat_approve_async(
    chat: *const tchat_chat,
    approval_id: *const c_char,
    approved: bool,
    reason: *const c_char,
    out_request: *mut u64,
) -> tchat_status {
    ffi_boundary!({
        let op = Op::Approve {
            approval_id: try_str(approval_id, "approval_id")?.to_owned(),
            approved,
            reason: try_opt_str(reason, "reason")?.map(str::to_owned),
        };
        submit(chat, op, out_request)
    })
}

/// `tchat_chat_stop`, queued (see `tchat_chat_send_text_async`). `reason` may be NULL. The turn's
/// remaining chunks are skipped from when the stop is made on the sender thread, not from this call.
#[no_mangle]
pub extern "C" fn tchat_chat_stop_async(
    chat: *const tchat_chat,
    reason: *const c_char,
    out_request: *mut u64,
) -> tchat_status {
    ffi_boundary!({ submit(chat, Op::Stop(try_opt_str(reason, "reason")?.map(str::to_owned)), out_request) })
}

/// `tchat_chat_close_agent`, queued (see `tchat_chat_send_text_async`).
#[no_mangle]
pub extern "C" fn tchat_chat_close_agent_async(chat: *const tchat_chat, out_request: *mut u64) -> tchat_status {
    ffi_boundary!({ submit(chat, Op::CloseAgent, out_request) })
}

/// `tchat_chat_close_session`, queued (see `tchat_chat_send_text_async`). `reason` may be NULL. Its
/// done event is the last event of the chat that it closed.
#[no_mangle]
pub extern "C" fn tchat_chat_close_session_async(
    chat: *const tchat_chat,
    reason: *const c_char,
    out_request: *mut u64,
) -> tchat_status {
    ffi_boundary!({ submit(chat, Op::CloseSession(try_opt_str(reason, "reason")?.map(str::to_owned)), out_request) })
}
