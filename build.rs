//! Generates `include/tchat.h` from the `#[no_mangle]` items under `src/ffi` with cbindgen.
//!
//! The header is committed. It is rewritten only when its content changes (so its mtime does not
//! churn), and `make check-header` fails when a build changed it: the committed header must always
//! match the code.

use std::path::PathBuf;

fn main() {
    println!("cargo:rerun-if-changed=src");
    println!("cargo:rerun-if-changed=cbindgen.toml");
    // A hand edit of the committed header regenerates it, so `make check-header` catches the edit.
    println!("cargo:rerun-if-changed=include/tchat.h");

    let crate_dir = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("CARGO_MANIFEST_DIR"));
    let config = cbindgen::Config::from_file(crate_dir.join("cbindgen.toml")).expect("read cbindgen.toml");
    let bindings = match cbindgen::Builder::new().with_crate(&crate_dir).with_config(config).generate() {
        Ok(b) => b,
        Err(e) => {
            // A parse error in the middle of an edit must not hide the compiler's own message.
            println!("cargo:warning=cbindgen could not generate include/tchat.h: {e}");
            return;
        }
    };
    let include_dir = crate_dir.join("include");
    if include_dir.is_dir() {
        // `write_to_file` only writes when the content differs.
        bindings.write_to_file(include_dir.join("tchat.h"));
    }
}
