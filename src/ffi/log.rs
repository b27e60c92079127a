//! The process-wide log callback.

use std::cell::Cell;
use std::os::raw::{c_char, c_int, c_void};
use std::sync::{Arc, RwLock};

use super::client::tchat_user_data_free_callback;
use super::{c_string, ffi_boundary, tchat_status, Fail, UserData, UserDataGuard};
use crate::log::Level;

/// How important a log message is (lower is more important).
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum tchat_log_level {
    /// Something failed and the library could not recover (e.g. streaming stopped).
    Error = 1,
    /// Something failed and the library recovers (e.g. a reconnect).
    Warn = 2,
    /// Milestones (a session created, a continuation run started).
    Info = 3,
    /// Details for debugging.
    Debug = 4,
}

/// Receives the library's log messages. `message` is NUL-terminated UTF-8, borrowed for the
/// duration of the call, and never contains a token.
///
/// Called on whichever thread logs: often a chat's reader thread, possibly several threads at once.
/// It must not call `tchat_set_log_callback`; other tchat calls made from inside it do not log.
pub type tchat_log_callback =
    Option<unsafe extern "C" fn(user_data: *mut c_void, level: tchat_log_level, message: *const c_char)>;

struct Sink {
    callback: unsafe extern "C" fn(*mut c_void, tchat_log_level, *const c_char),
    user_data: UserData,
    /// Runs the application's `user_data_free` when the sink is replaced or removed.
    _free: UserDataGuard,
}

/// The installed C callback. Calls hold the read lock, so that replacing it (write lock) waits for
/// calls in progress: after `tchat_set_log_callback` returns, the old `user_data` is unused.
static SINK: RwLock<Option<Sink>> = RwLock::new(None);

thread_local! {
    /// Set while this thread runs the C callback: nested logging is dropped (a nested read lock could
    /// deadlock behind a waiting writer) and `tchat_set_log_callback` is refused.
    static IN_CALLBACK: Cell<bool> = const { Cell::new(false) };
}

fn forward(level: Level, message: &str) {
    if IN_CALLBACK.try_with(Cell::get).unwrap_or(true) {
        return;
    }
    let sink = SINK.read().unwrap_or_else(|e| e.into_inner());
    if let Some(sink) = sink.as_ref() {
        let level = match level {
            Level::Error => tchat_log_level::Error,
            Level::Warn => tchat_log_level::Warn,
            Level::Info => tchat_log_level::Info,
            Level::Debug => tchat_log_level::Debug,
        };
        let message = c_string(message);
        IN_CALLBACK.with(|c| c.set(true));
        // SAFETY: the application's callback with its own user_data and a NUL-terminated message.
        unsafe { (sink.callback)(sink.user_data.0, level, message.as_ptr()) };
        IN_CALLBACK.with(|c| c.set(false));
    }
}

/// Installs the process-wide log callback, receiving messages at `max_level` and more important
/// (`max_level` is a `tchat_log_level` value: `TCHAT_LOG_LEVEL_ERROR` .. `TCHAT_LOG_LEVEL_DEBUG`).
/// `callback` NULL turns logging off (the default: tchat never writes to stdout/stderr itself).
///
/// `user_data` is passed to every call. When this function returns, no call of the previous
/// callback is in progress or will start, so the previous `user_data` may be freed; the previous
/// callback's `user_data_free` (may be NULL) has then run, on this thread, exactly once. If this
/// function fails, the new `user_data_free` is not called. Any thread, but not from inside the log
/// callback (`TCHAT_INVALID_STATE`).
#[no_mangle]
pub extern "C" fn tchat_set_log_callback(
    callback: tchat_log_callback,
    user_data: *mut c_void,
    user_data_free: tchat_user_data_free_callback,
    max_level: c_int,
) -> tchat_status {
    ffi_boundary!({
        if IN_CALLBACK.try_with(Cell::get).unwrap_or(false) {
            return Err(Fail::state("tchat_set_log_callback cannot be called from inside the log callback"));
        }
        let level = match max_level {
            1 => Level::Error,
            2 => Level::Warn,
            3 => Level::Info,
            4 => Level::Debug,
            _ if callback.is_none() => Level::Error,
            other => return Err(Fail::invalid(format!("max_level must be 1..4 (TCHAT_LOG_LEVEL_*), got {other}"))),
        };
        let new = callback.map(|callback| Sink {
            callback,
            user_data: UserData(user_data),
            _free: UserDataGuard { user_data: UserData(user_data), free: user_data_free },
        });
        let old = {
            let mut sink = SINK.write().unwrap_or_else(|e| e.into_inner());
            crate::log::set_logger(new.as_ref().map(|_| (Arc::new(forward) as crate::log::Logger, level)));
            std::mem::replace(&mut *sink, new)
        };
        // Outside the lock: the old user_data_free may log or call tchat.
        drop(old);
        Ok(())
    })
}
