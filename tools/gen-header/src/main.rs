//! `make header`: generates `include/tchat.h` from the `#[no_mangle]` items under `src/ffi` with the
//! cbindgen version this tool pins (Cargo.lock keeps it), configured by `cbindgen.toml`.
//!
//! Any cbindgen failure is an error (exit status 1, its message on stderr): a header that could not
//! be generated must never pass for an up-to-date one. The file is only rewritten when its content
//! changes. `make check-header` runs this, then `git diff --exit-code include/tchat.h`.
#![forbid(unsafe_code)]

use std::path::PathBuf;
use std::process::ExitCode;

/// `version = "X.Y.Z"` of the `[package]` table (a plain reading: the file is ours).
fn crate_version(path: &std::path::Path) -> Option<(u32, u32, u32)> {
    let text = std::fs::read_to_string(path).ok()?;
    let mut in_package = false;
    for line in text.lines() {
        let line = line.trim();
        if line.starts_with('[') {
            in_package = line == "[package]";
        } else if in_package {
            if let Some(v) = line.strip_prefix("version").map(str::trim).and_then(|r| r.strip_prefix('=')) {
                let mut parts = v.trim().trim_matches('"').split('.').map(|p| p.parse::<u32>().ok());
                return Some((parts.next()??, parts.next()??, parts.next()??));
            }
        }
    }
    None
}

fn main() -> ExitCode {
    // This tool lives in tools/gen-header; the crate it reads is the workspace root.
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let mut config = match cbindgen::Config::from_file(root.join("cbindgen.toml")) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("gen-header: cannot read cbindgen.toml: {e}");
            return ExitCode::FAILURE;
        }
    };
    // The version macros come from the crate's own Cargo.toml, so the header cannot drift from it.
    let version = match crate_version(&root.join("Cargo.toml")) {
        Some(v) => v,
        None => {
            eprintln!("gen-header: no [package] version = \"X.Y.Z\" in Cargo.toml");
            return ExitCode::FAILURE;
        }
    };
    let (major, minor, patch) = version;
    config.after_includes = Some(format!(
        "\n// The version of this header; tchat_version() gives the library's at run time.\n\
         #define TCHAT_VERSION_MAJOR {major}\n#define TCHAT_VERSION_MINOR {minor}\n#define TCHAT_VERSION_PATCH {patch}\n\
         #define TCHAT_VERSION_STRING \"{major}.{minor}.{patch}\""
    ));
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
