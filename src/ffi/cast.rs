//! The ffi core: what each C type is on the Rust side and who owns it ([`Castable`]), and the only
//! code that turns C pointers into Rust values — references, boxes, strings, out-params — and the
//! panic boundary's fallback per return type ([`PanicFallback`]).
//!
//! Every exported function is a safe `extern "C" fn`: the pointer contract is the C API's own,
//! stated once in the header's overview (a pointer argument is NULL or points to a live object of
//! its type, used as its documentation allows; strings are NUL-terminated; buffers hold the given
//! length). The helpers here rely on that contract and say so in their SAFETY comments; NULL is
//! always checked and becomes `TCHAT_INVALID_ARGUMENT` naming the argument.

use std::ffi::{CStr, CString};
use std::marker::PhantomData;
use std::os::raw::c_char;

use super::{tchat_status, Fail};

/// A C type's ownership: how a pointer to it comes into existence and how it ends.
pub(crate) trait Castable {
    /// [`Boxed`] or [`Borrowed`].
    type Ownership;
}

/// Made by the library as a `Box` (a `_new` function or an out-param), owned by the caller, and
/// ended by its `_free` function, exactly once.
pub(crate) struct Boxed;

/// Lent by the library for a documented time (e.g. an event during its callback); never freed by
/// the caller.
pub(crate) struct Borrowed;

/// `&T` from a pointer argument, or `TCHAT_INVALID_ARGUMENT` naming it.
pub(crate) fn try_ref<'a, T: Castable>(ptr: *const T, name: &str) -> Result<&'a T, Fail> {
    // SAFETY: by the C contract a non-NULL `ptr` points to a live `T` (made by this library) for
    // the call; `as_ref` checks NULL.
    unsafe { ptr.as_ref() }.ok_or_else(|| Fail::invalid(format!("{name} is NULL")))
}

/// `&mut T` from a pointer argument of a type the caller owns, or `TCHAT_INVALID_ARGUMENT`.
pub(crate) fn try_mut<'a, T: Castable<Ownership = Boxed>>(ptr: *mut T, name: &str) -> Result<&'a mut T, Fail> {
    // SAFETY: by the C contract a non-NULL `ptr` is a live boxed `T` that no other thread uses
    // during the call (the documented rule of every builder type).
    unsafe { ptr.as_mut() }.ok_or_else(|| Fail::invalid(format!("{name} is NULL")))
}

/// Hands `value` to C as an owned pointer, ended by [`free_box`].
pub(crate) fn to_box_ptr<T: Castable<Ownership = Boxed>>(value: T) -> *mut T {
    Box::into_raw(Box::new(value))
}

/// Takes back a pointer made by [`to_box_ptr`]; NULL is `None`.
pub(crate) fn take_box<T: Castable<Ownership = Boxed>>(ptr: *mut T) -> Option<Box<T>> {
    if ptr.is_null() {
        return None;
    }
    // SAFETY: by the C contract a non-NULL `ptr` came from `to_box_ptr` and is freed once, when
    // no other call uses it.
    Some(unsafe { Box::from_raw(ptr) })
}

/// Ends a pointer made by [`to_box_ptr`] (NULL is ignored).
pub(crate) fn free_box<T: Castable<Ownership = Boxed>>(ptr: *mut T) {
    drop(take_box(ptr));
}

/// A checked, non-NULL out-param, written only on success.
pub(crate) struct Out<'a, T> {
    ptr: *mut T,
    _lifetime: PhantomData<&'a mut T>,
}

impl<T> Out<'_, T> {
    pub fn set(self, value: T) {
        // SAFETY: `ptr` is non-NULL (checked by `try_out`) and by the C contract writable as a `T`;
        // `write` does not drop the old, possibly uninitialized, value.
        unsafe { self.ptr.write(value) }
    }
}

/// A required out-param: NULL is `TCHAT_INVALID_ARGUMENT`.
pub(crate) fn try_out<'a, T>(ptr: *mut T, name: &str) -> Result<Out<'a, T>, Fail> {
    if ptr.is_null() {
        Err(Fail::invalid(format!("{name} is NULL")))
    } else {
        Ok(Out { ptr, _lifetime: PhantomData })
    }
}

/// An optional out-param: written when not NULL.
pub(crate) fn set_opt_out<T>(ptr: *mut T, value: T) {
    if let Ok(out) = try_out(ptr, "") {
        out.set(value);
    }
}

/// A required C string argument: NUL-terminated UTF-8. NULL or invalid UTF-8 is
/// `TCHAT_INVALID_ARGUMENT`; the message names the argument but never quotes it (it may be a token).
pub(crate) fn try_str<'a>(ptr: *const c_char, name: &str) -> Result<&'a str, Fail> {
    if ptr.is_null() {
        return Err(Fail::invalid(format!("{name} is NULL")));
    }
    // SAFETY: by the C contract a non-NULL string argument is NUL-terminated and alive for the call.
    let bytes = unsafe { CStr::from_ptr(ptr) }.to_bytes();
    std::str::from_utf8(bytes)
        .map_err(|e| Fail::invalid(format!("{name} is not valid UTF-8 (at byte {})", e.valid_up_to())))
}

/// An optional C string argument: NULL is `None`, otherwise as [`try_str`].
pub(crate) fn try_opt_str<'a>(ptr: *const c_char, name: &str) -> Result<Option<&'a str>, Fail> {
    if ptr.is_null() {
        Ok(None)
    } else {
        try_str(ptr, name).map(Some)
    }
}

/// `len` bytes at `ptr` (NULL is allowed only with `len == 0`).
pub(crate) fn try_bytes<'a>(ptr: *const u8, len: usize, name: &str) -> Result<&'a [u8], Fail> {
    if len == 0 {
        return Ok(&[]);
    }
    if ptr.is_null() {
        return Err(Fail::invalid(format!("{name} is NULL but its length is {len}")));
    }
    // SAFETY: by the C contract `ptr` is readable for `len` bytes during the call.
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

/// An owned C string for an out-param, ended by [`free_c_string`] (`tchat_string_free`).
pub(crate) fn owned_c_string(s: &str) -> *mut c_char {
    c_string(s).into_raw()
}

/// Ends a string made by [`owned_c_string`] (NULL is ignored).
pub(crate) fn free_c_string(ptr: *mut c_char) {
    if !ptr.is_null() {
        // SAFETY: by the C contract a non-NULL `ptr` came from `owned_c_string` and is freed once.
        drop(unsafe { CString::from_raw(ptr) });
    }
}

/// What an exported function returns when its body panicked (the panic is caught at the
/// boundary, never unwound into C): the value that says "nothing" for its return type.
pub(crate) trait PanicFallback {
    fn on_panic() -> Self;
}

impl PanicFallback for () {
    fn on_panic() {}
}

impl PanicFallback for bool {
    fn on_panic() -> bool {
        false
    }
}

impl PanicFallback for tchat_status {
    fn on_panic() -> tchat_status {
        tchat_status::TCHAT_PANIC
    }
}

impl<T> PanicFallback for *const T {
    fn on_panic() -> *const T {
        std::ptr::null()
    }
}

impl<T> PanicFallback for *mut T {
    fn on_panic() -> *mut T {
        std::ptr::null_mut()
    }
}

macro_rules! zero_on_panic {
    ($($t:ty),*) => {
        $(impl PanicFallback for $t {
            fn on_panic() -> $t {
                0
            }
        })*
    };
}
zero_on_panic!(u32, u64, usize, i32);
