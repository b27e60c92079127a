//! The C ABI. Each C type has its own module; this one holds what belongs to no type: the version,
//! `tchat_string_free`, and the helpers every exported function uses.
//!
//! Conventions (see DESIGN.md, "C ABI conventions"):
//! - every exported body runs inside [`ffi_boundary!`] (or [`ffi_getter!`] for infallible accessors),
//!   which catches panics: a panic becomes `TCHAT_PANIC`, never an unwind into C;
//! - fallible functions return [`tchat_status`]; out-params are written only on success; the
//!   thread-local last error (`tchat_last_error_message`) describes the latest status-returning call;
//! - pointers are NULL-checked and C strings UTF-8-checked before use ([`arg_ref`], [`arg_str`]).
//!
//! No protocol logic lives here: the C layer only converts between C and the Rust API.

// C naming for C types. The safety contract of every `unsafe extern "C"` function is the C API's
// own, stated once in the header's overview (pointers are NULL or live objects of the documented
// kind, strings NUL-terminated), not repeated as a `# Safety` section on each.
#![allow(non_camel_case_types, clippy::missing_safety_doc)]

use std::ffi::{CStr, CString};
use std::os::raw::c_char;

// Declaration order is the header's order.
pub mod chat;
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
pub unsafe extern "C" fn tchat_string_free(s: *mut c_char) {
    ffi_getter!((), {
        if !s.is_null() {
            // SAFETY: the caller passes a pointer obtained from `owned_c_string` (CString::into_raw).
            drop(unsafe { CString::from_raw(s) });
        }
    })
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
/// `$on_panic` instead. Does not touch the last error.
macro_rules! ffi_getter {
    ($on_panic:expr, $body:block) => {{
        match ::std::panic::catch_unwind(::std::panic::AssertUnwindSafe(|| $body)) {
            Ok(v) => v,
            Err(_) => $on_panic,
        }
    }};
}
pub(crate) use ffi_getter;

/// `&T` from a pointer the caller passed, or `TCHAT_INVALID_ARGUMENT` naming the argument.
///
/// # Safety
/// `ptr` is NULL or points to a live `T` for `'a`.
pub(crate) unsafe fn arg_ref<'a, T>(ptr: *const T, name: &str) -> Result<&'a T, Fail> {
    // SAFETY: the caller's contract.
    unsafe { ptr.as_ref() }.ok_or_else(|| Fail::invalid(format!("{name} is NULL")))
}

/// `&mut T` from a pointer the caller passed, or `TCHAT_INVALID_ARGUMENT` naming the argument.
///
/// # Safety
/// `ptr` is NULL or points to a live `T` for `'a` that nothing else uses meanwhile.
pub(crate) unsafe fn arg_mut<'a, T>(ptr: *mut T, name: &str) -> Result<&'a mut T, Fail> {
    // SAFETY: the caller's contract.
    unsafe { ptr.as_mut() }.ok_or_else(|| Fail::invalid(format!("{name} is NULL")))
}

/// Checks an out-param is not NULL (it is written only on success, with [`write_out`]).
pub(crate) fn arg_out<T>(ptr: *mut T, name: &str) -> Result<*mut T, Fail> {
    if ptr.is_null() {
        Err(Fail::invalid(format!("{name} is NULL")))
    } else {
        Ok(ptr)
    }
}

/// Writes an out-param checked by [`arg_out`].
///
/// # Safety
/// `ptr` is valid for writes of `T`.
pub(crate) unsafe fn write_out<T>(ptr: *mut T, value: T) {
    // SAFETY: the caller's contract; `write` does not drop the (uninitialized) old value.
    unsafe { ptr.write(value) }
}

/// A required C string argument: NUL-terminated UTF-8. NULL or invalid UTF-8 is
/// `TCHAT_INVALID_ARGUMENT`; the message names the argument but never quotes it (it may be a token).
///
/// # Safety
/// `ptr` is NULL or a NUL-terminated string alive for `'a`.
pub(crate) unsafe fn arg_str<'a>(ptr: *const c_char, name: &str) -> Result<&'a str, Fail> {
    if ptr.is_null() {
        return Err(Fail::invalid(format!("{name} is NULL")));
    }
    // SAFETY: the caller's contract.
    let bytes = unsafe { CStr::from_ptr(ptr) }.to_bytes();
    std::str::from_utf8(bytes)
        .map_err(|e| Fail::invalid(format!("{name} is not valid UTF-8 (at byte {})", e.valid_up_to())))
}

/// An optional C string argument: NULL is `None`, otherwise as [`arg_str`].
///
/// # Safety
/// As [`arg_str`].
pub(crate) unsafe fn arg_opt_str<'a>(ptr: *const c_char, name: &str) -> Result<Option<&'a str>, Fail> {
    if ptr.is_null() {
        Ok(None)
    } else {
        // SAFETY: the caller's contract.
        unsafe { arg_str(ptr, name) }.map(Some)
    }
}

/// `len` bytes at `ptr` (NULL is allowed only with `len == 0`).
///
/// # Safety
/// `ptr` is valid for reads of `len` bytes.
pub(crate) unsafe fn arg_bytes<'a>(ptr: *const u8, len: usize, name: &str) -> Result<&'a [u8], Fail> {
    if len == 0 {
        return Ok(&[]);
    }
    if ptr.is_null() {
        return Err(Fail::invalid(format!("{name} is NULL but its length is {len}")));
    }
    // SAFETY: the caller's contract.
    Ok(unsafe { std::slice::from_raw_parts(ptr, len) })
}

/// A NUL-terminated copy of `s` for C. An interior NUL (impossible in JSON text, rare elsewhere)
/// becomes U+FFFD so the C string keeps its full length.
pub(crate) fn c_string(s: &str) -> CString {
    match CString::new(s) {
        Ok(c) => c,
        Err(_) => CString::new(s.replace('\0', "\u{FFFD}")).expect("no NUL left"),
    }
}

/// An owned C string for an out-param, freed by `tchat_string_free`.
pub(crate) fn owned_c_string(s: &str) -> *mut c_char {
    c_string(s).into_raw()
}

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
