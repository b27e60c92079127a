//! The C ABI. Each C type has its own module; this one holds what belongs to no type.

use std::os::raw::c_char;

/// The library version as a NUL-terminated UTF-8 string, for example `"0.1.0"`.
///
/// The string is static: never free it. Safe to call from any thread.
#[no_mangle]
pub extern "C" fn tchat_version() -> *const c_char {
    concat!(env!("CARGO_PKG_VERSION"), "\0").as_ptr().cast()
}
