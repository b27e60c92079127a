//! tchat — a native client for Trigger.dev `chat.agent` conversations.
//!
//! The product is a C ABI (`libtchat.so` / `libtchat.a` + `include/tchat.h`); the Rust API underneath
//! is public and documented too: [`Client`] (configuration shared by many chats), [`Chat`] (one
//! conversation) and [`Event`] (what a chat reports while it streams).
//!
//! Layers, bottom up (see `DESIGN.md` in the shared docs):
//! - pure, I/O-free decoding: [`sse`] (bytes → SSE events), [`records`] (S2 batches → data, control
//!   and command records, with cursor and dedup), [`assemble`] (UIMessage chunks → the assistant
//!   `UIMessage`), [`wire`] (serde types of the bodies on the wire);
//! - `http` (the one place that calls ureq) and `api` (one function per endpoint);
//! - `stream` (a chat's reader thread) and [`chat`] (the conversation state machine);
//! - the C ABI in `ffi`.

pub mod assemble;
pub mod records;
pub mod secret;
pub mod sse;
pub mod wire;

mod api;
pub mod chat;
mod client;
mod config;
mod error;
mod event;
mod http;
mod ids;
pub mod log;
mod state;
mod stream;
mod transport;

pub mod ffi;

pub use api::MAX_APPEND_BYTES;
pub use chat::{Callback, Chat, ChatOptions, TriggerConfig};
pub use client::Client;
pub use config::{ClientConfig, RetryPolicy, SendObserver, TokenProvider, DEFAULT_BASE_URL, DEFAULT_KEEP_WARM};
pub use error::{Error, ErrorKind, Result};
pub use event::{ChunkEvent, Event, SendEvent, TurnCompleteEvent};
pub use state::{RunMode, SavedState};
pub use transport::ConnectionStats;

/// The crate version, as reported by `tchat_version()` and in the `User-Agent` header.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
