//! `make header`: generates `include/tchat.h` from the `#[no_mangle]` items under `src/ffi` with the
//! cbindgen version this tool pins (Cargo.lock keeps it), configured by `cbindgen.toml`.
//!
//! Any cbindgen failure is an error (exit status 1, its message on stderr): a header that could not
//! be generated must never pass for an up-to-date one. The file is only rewritten when its content
//! changes. `make check-header` runs this, then `git diff --exit-code include/tchat.h`.
#![forbid(unsafe_code)]

use std::path::PathBuf;
use std::process::ExitCode;

fn main() -> ExitCode {
    // This tool lives in tools/gen-header; the crate it reads is the workspace root.
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let config = match cbindgen::Config::from_file(root.join("cbindgen.toml")) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("gen-header: cannot read cbindgen.toml: {e}");
            return ExitCode::FAILURE;
        }
    };
    match cbindgen::Builder::new().with_crate(&root).with_config(config).generate() {
        Ok(bindings) => {
            let path = root.join("include/tchat.h");
            let changed = bindings.write_to_file(&path);
            println!("gen-header: include/tchat.h {}", if changed { "written" } else { "unchanged" });
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("gen-header: cbindgen could not generate include/tchat.h: {e}");
            ExitCode::FAILURE
        }
    }
}
