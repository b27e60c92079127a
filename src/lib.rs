//! tchat — a native client for Trigger.dev `chat.agent` conversations.
//!
//! The product is a C ABI (`libtchat.so` / `libtchat.a` + `include/tchat.h`); the Rust API underneath
//! is public and documented too. Layers, bottom up (see `DESIGN.md` in the shared docs):
//!
//! - pure, I/O-free decoding: [`sse`] (bytes → SSE events), [`records`] (S2 batches → data, control and
//!   command records, with cursor and dedup), [`assemble`] (UIMessage chunks → the assistant `UIMessage`),
//!   [`wire`] (serde types of every body on the wire);
//! - the C ABI in `ffi`.

pub mod assemble;
pub mod records;
pub mod secret;
pub mod sse;
pub mod wire;

pub mod ffi;

/// The crate version, as reported by `tchat_version()` and in the `User-Agent` header.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
