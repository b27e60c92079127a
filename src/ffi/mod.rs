//! The C ABI. Each C type has its own module; this one holds what belongs to no type: the version,
//! `tchat_string_free`, and the helpers every exported function uses.
//!
//! The C conventions (ownership, threads, the `const` rule, statuses, strings, panics) are stated
//! once, in the header's overview (`cbindgen.toml`'s `header`); here they are implemented: pointers
//! through [`cast`], every exported body inside [`ffi_boundary!`] or [`ffi_getter!`].
//!
//! No protocol logic lives here: the C layer only converts between C and the Rust API.

// C naming for C types. Exported functions are safe `extern "C" fn`s: the pointer contract is the
// C API's own, stated once in the header's overview, and relied on only in `cast` (see there).
#![allow(non_camel_case_types)]
// `unsafe` blocks live in `cast` and at the calls of the application's C function pointers, each
// with its SAFETY comment (`#[no_mangle]` counts as unsafe code too, so the lint cannot be denied
// here; the crate denies it everywhere outside this module).
#![warn(clippy::undocumented_unsafe_blocks)]

use std::os::raw::c_char;

mod cast;
pub(crate) use cast::*;

// Declaration order is the header's order.
pub mod chat;
pub mod chat_async;
pub mod chat_options;
pub mod client;
pub mod error;
pub mod event;
pub mod log;
pub mod status;

pub use status::tchat_status;

/// The library version as a NUL-terminated UTF-8 string, for example `"0.1.0"`.
///
/// The string is static: never free it. Safe to call from any thread.
#[no_mangle]
pub extern "C" fn tchat_version() -> *const c_char {
    concat!(env!("CARGO_PKG_VERSION"), "\0").as_ptr().cast()
}

/// Frees a string the library returned as owned (`char *` out-params such as the one of
/// `tchat_chat_save_state`). NULL is ignored.
///
/// Only pass strings documented as "free with tchat_string_free": never a string you allocated, and
/// never a borrowed `const char *` (those belong to their object). Any thread.
#[no_mangle]
pub extern "C" fn tchat_string_free(s: *mut c_char) {
    ffi_getter!({ free_c_string(s) })
}

/// A failed call: its status, message (never a token) and, when an HTTP answer caused it, the status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Fail {
    pub status: tchat_status,
    pub message: String,
    pub http_status: Option<u16>,
}

impl Fail {
    pub fn new(status: tchat_status, message: impl Into<String>) -> Self {
        Fail { status, message: message.into(), http_status: None }
    }

    pub fn invalid(message: impl Into<String>) -> Self {
        Fail::new(tchat_status::TCHAT_INVALID_ARGUMENT, message)
    }

    pub fn state(message: impl Into<String>) -> Self {
        Fail::new(tchat_status::TCHAT_INVALID_STATE, message)
    }
}

impl From<crate::error::Error> for Fail {
    fn from(e: crate::error::Error) -> Self {
        Fail { status: tchat_status::from_kind(e.kind()), message: e.message().to_owned(), http_status: e.status() }
    }
}

/// The JSON text a C argument holds (NULL-checked, UTF-8), parsed.
pub(crate) fn try_json(ptr: *const c_char, name: &str) -> Result<serde_json::Value, Fail> {
    serde_json::from_str(try_str(ptr, name)?).map_err(|e| Fail::invalid(format!("{name} is not valid JSON: {e}")))
}

/// [`try_json`] for an argument that must be a JSON object.
pub(crate) fn try_json_object(
    ptr: *const c_char,
    name: &str,
) -> Result<serde_json::Map<String, serde_json::Value>, Fail> {
    match try_json(ptr, name)? {
        serde_json::Value::Object(map) => Ok(map),
        _ => Err(Fail::invalid(format!("{name} must be a JSON object"))),
    }
}

/// What an exported body returns inside [`ffi_boundary!`].
pub(crate) type FfiResult = Result<(), Fail>;

/// Runs an exported function's body: catches panics (→ `TCHAT_PANIC`), records the outcome as the
/// thread's last error, and returns the `tchat_status`. The body is a block evaluating to
/// [`FfiResult`]; `?` and `return Err(..)` work inside it. Placed inside the function body so that
/// cbindgen sees the plain signature.
macro_rules! ffi_boundary {
    ($body:block) => {{
        let outcome =
            ::std::panic::catch_unwind(::std::panic::AssertUnwindSafe(|| -> $crate::ffi::FfiResult { $body }));
        $crate::ffi::error::finish(outcome)
    }};
}
pub(crate) use ffi_boundary;

/// Runs an infallible accessor's body (returning a value, not a status): catches panics and returns
/// the return type's [`PanicFallback`] instead (NULL, 0, false, `TCHAT_PANIC`), or `$on_panic` where
/// the documentation promises another value. Does not touch the last error.
macro_rules! ffi_getter {
    ($body:block) => {{
        ::std::panic::catch_unwind(::std::panic::AssertUnwindSafe(|| $body))
            .unwrap_or_else(|_| $crate::ffi::PanicFallback::on_panic())
    }};
    (or $on_panic:expr, $body:block) => {{
        ::std::panic::catch_unwind(::std::panic::AssertUnwindSafe(|| $body)).unwrap_or_else(|_| $on_panic)
    }};
}
pub(crate) use ffi_getter;

/// A `void *user_data` handed back to C callbacks, possibly on another thread.
///
/// The C API documents that callbacks may run on library threads, so the application promises that
/// its `user_data` may be used there: that promise is what these impls encode.
#[derive(Clone, Copy)]
pub(crate) struct UserData(pub *mut std::os::raw::c_void);

// SAFETY: see the type's documentation: the C contract makes `user_data` usable from any thread.
unsafe impl Send for UserData {}
// SAFETY: as above.
unsafe impl Sync for UserData {}

/// A C destructor for `user_data`, run exactly once when the owning Rust value is dropped.
pub(crate) struct UserDataGuard {
    pub user_data: UserData,
    pub free: Option<unsafe extern "C" fn(user_data: *mut std::os::raw::c_void)>,
}

impl Drop for UserDataGuard {
    fn drop(&mut self) {
        if let Some(free) = self.free.take() {
            // SAFETY: the application gave us this destructor for this pointer.
            unsafe { free(self.user_data.0) };
        }
    }
}

/// Milliseconds as a `Duration`.
pub(crate) fn millis(ms: u64) -> std::time::Duration {
    std::time::Duration::from_millis(ms)
}
