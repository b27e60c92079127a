//! `tchat_chat_options`: how to open a conversation (the builder `tchat_chat_open` reads).

use std::os::raw::{c_char, c_void};
use std::sync::Arc;

use serde_json::Value;

use super::chat::{tchat_event_callback, EventCallback};
use super::client::tchat_user_data_free_callback;
use super::{
    ffi_boundary, ffi_getter, free_box, tchat_status, to_box_ptr, try_json, try_json_object, try_mut, try_str, Boxed,
    Castable, Fail,
};
use crate::chat::{ChatOptions, TriggerConfig};

impl Castable for tchat_chat_options {
    type Ownership = Boxed;
}

/// How to open a conversation: a builder for `tchat_chat_open`. Create with
/// `tchat_chat_options_new`, set at least the task id, open, then free with
/// `tchat_chat_options_free` (the chat keeps its own copy). All strings are copied.
///
/// Thread safety: not shareable; use one options object from one thread at a time.
#[derive(Default)]
pub struct tchat_chat_options {
    task_id: Option<String>,
    chat_id: Option<String>,
    metadata: Option<Value>,
    trigger_config: TriggerConfig,
    first_message: Option<String>,
    watch: bool,
    callback: Option<Arc<EventCallback>>,
}

/// A new, empty options object. Never NULL. Free it with `tchat_chat_options_free`.
#[no_mangle]
pub extern "C" fn tchat_chat_options_new() -> *mut tchat_chat_options {
    ffi_getter!({ to_box_ptr(Default::default()) })
}

/// Frees an options object (NULL is ignored). Chats opened with it are not affected.
#[no_mangle]
pub extern "C" fn tchat_chat_options_free(options: *mut tchat_chat_options) {
    ffi_getter!({ free_box(options) })
}

/// Sets the agent's task identifier (required), e.g. `"my-chat"`.
#[no_mangle]
pub extern "C" fn tchat_chat_options_set_task_id(
    options: *mut tchat_chat_options,
    task_id: *const c_char,
) -> tchat_status {
    ffi_boundary!({
        let options = try_mut(options, "options")?;
        let task_id = try_str(task_id, "task_id")?;
        crate::chat::check_task_id(task_id)?;
        options.task_id = Some(task_id.to_owned());
        Ok(())
    })
}

/// Installs the event callback of every chat opened with these options from the start (see
/// `tchat_chat_set_callback` for what a callback may do): the chat's first events, like every later
/// one, go to `callback`, and nothing lands in the poll queue. `callback` NULL removes it.
///
/// `user_data_free` (may be NULL) runs exactly once, when neither the options nor any chat opened
/// with them use the callback any more (the options freed or given another callback, and each such
/// chat freed or given another callback). If this function fails, it is not called.
#[no_mangle]
pub extern "C" fn tchat_chat_options_set_callback(
    options: *mut tchat_chat_options,
    callback: tchat_event_callback,
    user_data: *mut c_void,
    user_data_free: tchat_user_data_free_callback,
) -> tchat_status {
    ffi_boundary!({
        let options = try_mut(options, "options")?;
        options.callback = callback.map(|callback| EventCallback::new(callback, user_data, user_data_free));
        Ok(())
    })
}

/// Watch mode (default false): the chat stays subscribed across turns and delivers the events of
/// every turn on the chat, whoever drives it (another device, a dashboard, a backend), each exactly
/// once, across continuations and reconnects; its own sends work as usual. Costs one held
/// connection for the chat's life. Saved state keeps the mode for `tchat_chat_restore`.
#[no_mangle]
pub extern "C" fn tchat_chat_options_set_watch(options: *mut tchat_chat_options, watch: bool) -> tchat_status {
    ffi_boundary!({
        let options = try_mut(options, "options")?;
        options.watch = watch;
        Ok(())
    })
}

/// Sets your stable conversation id (the session's external id): 1..256 characters (counted in
/// UTF-16 units, as the server counts), no white space at either end, not starting with
/// `"session_"`; otherwise `TCHAT_INVALID_ARGUMENT`. Opening the same chat id again joins the
/// existing conversation. Without it, a random chat id is used.
#[no_mangle]
pub extern "C" fn tchat_chat_options_set_chat_id(
    options: *mut tchat_chat_options,
    chat_id: *const c_char,
) -> tchat_status {
    ffi_boundary!({
        let options = try_mut(options, "options")?;
        let chat_id = try_str(chat_id, "chat_id")?;
        crate::chat::check_chat_id(chat_id)?;
        options.chat_id = Some(chat_id.to_owned());
        Ok(())
    })
}

/// Sets client data (JSON text, e.g. `{"userId":"u1"}`) sent as `metadata` with the first run and
/// every message. Invalid JSON is `TCHAT_INVALID_ARGUMENT`.
#[no_mangle]
pub extern "C" fn tchat_chat_options_set_metadata_json(
    options: *mut tchat_chat_options,
    metadata_json: *const c_char,
) -> tchat_status {
    ffi_boundary!({
        let options = try_mut(options, "options")?;
        options.metadata = Some(try_json(metadata_json, "metadata_json")?);
        Ok(())
    })
}

/// Sets the machine preset of the agent's runs, e.g. `"small-1x"`.
#[no_mangle]
pub extern "C" fn tchat_chat_options_set_machine(
    options: *mut tchat_chat_options,
    machine: *const c_char,
) -> tchat_status {
    ffi_boundary!({
        let options = try_mut(options, "options")?;
        options.trigger_config.machine = Some(try_str(machine, "machine")?.to_owned());
        Ok(())
    })
}

/// Sets the queue of the agent's runs.
#[no_mangle]
pub extern "C" fn tchat_chat_options_set_queue(options: *mut tchat_chat_options, queue: *const c_char) -> tchat_status {
    ffi_boundary!({
        let options = try_mut(options, "options")?;
        options.trigger_config.queue = Some(try_str(queue, "queue")?.to_owned());
        Ok(())
    })
}

/// Adds one tag to the agent's runs (call once per tag; at most 128 characters each, else
/// `tchat_chat_open` fails with `TCHAT_INVALID_ARGUMENT`). Runs are tagged as the official
/// clients tag them: `chat:<chat id>` first when it fits in 128 characters, then these tags,
/// at most 10 in all (later ones are dropped).
#[no_mangle]
pub extern "C" fn tchat_chat_options_add_tag(options: *mut tchat_chat_options, tag: *const c_char) -> tchat_status {
    ffi_boundary!({
        let options = try_mut(options, "options")?;
        let tag = try_str(tag, "tag")?;
        if tag.is_empty() {
            return Err(Fail::invalid("tag is empty"));
        }
        options.trigger_config.tags.push(tag.to_owned());
        Ok(())
    })
}

/// `value` unless it is 0: the run limits the server takes are all at least 1.
fn at_least_one<T: Default + PartialEq>(value: T, what: &str) -> Result<T, Fail> {
    if value == T::default() {
        return Err(Fail::invalid(format!("{what} must be at least 1")));
    }
    Ok(value)
}

/// Sets the maximum attempts of each agent run (>= 1).
#[no_mangle]
pub extern "C" fn tchat_chat_options_set_max_attempts(
    options: *mut tchat_chat_options,
    max_attempts: u32,
) -> tchat_status {
    ffi_boundary!({
        let options = try_mut(options, "options")?;
        options.trigger_config.max_attempts = Some(at_least_one(max_attempts, "max_attempts")?);
        Ok(())
    })
}

/// Sets the maximum duration of each agent run, in seconds (> 0).
#[no_mangle]
pub extern "C" fn tchat_chat_options_set_max_duration_secs(
    options: *mut tchat_chat_options,
    seconds: u64,
) -> tchat_status {
    ffi_boundary!({
        let options = try_mut(options, "options")?;
        options.trigger_config.max_duration_secs = Some(at_least_one(seconds, "max duration (s)")?);
        Ok(())
    })
}

/// Sets how long the agent's run waits idle for the next message before it ends, in seconds (> 0).
/// A message after that starts a continuation run transparently.
#[no_mangle]
pub extern "C" fn tchat_chat_options_set_idle_timeout_secs(
    options: *mut tchat_chat_options,
    seconds: u64,
) -> tchat_status {
    ffi_boundary!({
        let options = try_mut(options, "options")?;
        options.trigger_config.idle_timeout_secs = Some(at_least_one(seconds, "idle timeout (s)")?);
        Ok(())
    })
}

/// Sets further `triggerConfig` fields as a JSON object, merged as they are (e.g.
/// `{"lockToVersion":"20250101.1","region":"eu"}`). Not an object: `TCHAT_INVALID_ARGUMENT`.
#[no_mangle]
pub extern "C" fn tchat_chat_options_set_trigger_config_json(
    options: *mut tchat_chat_options,
    trigger_config_json: *const c_char,
) -> tchat_status {
    ffi_boundary!({
        let options = try_mut(options, "options")?;
        options.trigger_config.extra = Some(try_json_object(trigger_config_json, "trigger_config_json")?);
        Ok(())
    })
}

/// Starts the conversation with this user message (text) instead of preloading the agent: the
/// reply streams as soon as the chat is open.
#[no_mangle]
pub extern "C" fn tchat_chat_options_set_first_message(
    options: *mut tchat_chat_options,
    text: *const c_char,
) -> tchat_status {
    ffi_boundary!({
        let options = try_mut(options, "options")?;
        options.first_message = Some(try_str(text, "text")?.to_owned());
        Ok(())
    })
}

impl tchat_chat_options {
    /// The Rust options these C options set (the callback apart).
    pub(super) fn to_rust(&self) -> Result<ChatOptions, Fail> {
        let task_id = self
            .task_id
            .clone()
            .ok_or_else(|| Fail::invalid("no task id: call tchat_chat_options_set_task_id first"))?;
        Ok(ChatOptions {
            task_id,
            chat_id: self.chat_id.clone(),
            metadata: self.metadata.clone(),
            trigger_config: self.trigger_config.clone(),
            first_message: self.first_message.clone(),
            watch: self.watch,
        })
    }

    /// Our reference to the C callback chats opened with these options start with.
    pub(super) fn callback(&self) -> Option<Arc<EventCallback>> {
        self.callback.clone()
    }
}
