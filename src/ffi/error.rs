//! The thread-local last error: what the latest status-returning call on this thread said.

use std::cell::RefCell;
use std::ffi::CString;
use std::os::raw::{c_char, c_int};

use super::{tchat_status, Fail, FfiResult};

struct LastError {
    message: CString,
    http_status: Option<u16>,
}

thread_local! {
    static LAST_ERROR: RefCell<LastError> = RefCell::new(LastError { message: CString::default(), http_status: None });
}

fn set_last_error(message: &str, http_status: Option<u16>) {
    let message = super::c_string(message);
    // `try_with`: during thread teardown the slot may be gone; there is nobody left to read it then.
    let _ = LAST_ERROR.try_with(|slot| {
        if let Ok(mut slot) = slot.try_borrow_mut() {
            *slot = LastError { message, http_status };
        }
    });
}

/// Turns the outcome of an exported body (see `ffi_boundary!`) into its status, recording the
/// message (empty on success) as this thread's last error.
pub(crate) fn finish(outcome: std::thread::Result<FfiResult>) -> tchat_status {
    match outcome {
        Ok(Ok(())) => {
            set_last_error("", None);
            tchat_status::TCHAT_OK
        }
        Ok(Err(Fail { status, message, http_status })) => {
            set_last_error(&message, http_status);
            status
        }
        Err(payload) => {
            let what = payload
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".to_owned());
            set_last_error(&format!("internal error (panic): {what}"), None);
            tchat_status::TCHAT_PANIC
        }
    }
}

/// The message of the latest call on this thread that returns a `tchat_status`: the reason it
/// failed (HTTP method, path and status, the server's error text...), or `""` when it succeeded.
///
/// The string is owned by the library and stays valid until the next status-returning tchat call on
/// the same thread; copy it to keep it. Never NULL; never contains a token. Each thread has its own
/// last error (a callback running on a reader thread sees the reader thread's).
#[no_mangle]
pub extern "C" fn tchat_last_error_message() -> *const c_char {
    super::ffi_getter!(or c"".as_ptr(), {
        LAST_ERROR
            .try_with(|slot| match slot.try_borrow() {
                // The CString's heap buffer stays put until the slot is overwritten.
                Ok(last) => last.message.as_ptr(),
                Err(_) => c"".as_ptr(),
            })
            .unwrap_or(c"".as_ptr())
    })
}

/// The HTTP status of the answer that made the latest status-returning call on this thread fail, or
/// 0 when no HTTP answer was involved (or the call succeeded).
#[no_mangle]
pub extern "C" fn tchat_last_error_http_status() -> c_int {
    super::ffi_getter!({
        LAST_ERROR
            .try_with(|slot| slot.try_borrow().ok().and_then(|l| l.http_status).map_or(0, c_int::from))
            .unwrap_or(0)
    })
}
