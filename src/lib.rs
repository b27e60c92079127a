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
//!
//! The decoding layers are public for tchat's own tests, fuzz targets and benchmarks only: they are
//! hidden from the documentation and not part of the API's promises.

// Only the C ABI may use `unsafe` (and there only its core, see `ffi`).
#![deny(unsafe_code)]

#[doc(hidden)]
pub mod assemble;
#[doc(hidden)]
pub mod records;
pub mod secret;
#[doc(hidden)]
pub mod sse;
#[doc(hidden)]
pub mod wire;

mod api;
pub mod chat;
mod client;
mod config;
mod conv;
mod error;
mod event;
mod http;
mod ids;
pub mod log;
mod state;
mod stream;
mod transport;

#[allow(unsafe_code)]
pub mod ffi;

pub use api::MAX_APPEND_BYTES;
pub use chat::{Callback, Chat, ChatOptions, Op, TriggerConfig};
pub use client::Client;
pub use config::{ClientConfig, RetryPolicy, SendObserver, TokenProvider, DEFAULT_BASE_URL, DEFAULT_KEEP_WARM};
pub use error::{Error, ErrorKind, Result};
pub use event::{ChunkEvent, DoneEvent, Event, OpKind, SendEvent, TurnCompleteEvent};
pub use state::{RunMode, SavedState};
pub use transport::ConnectionStats;

/// The crate version, as reported by `tchat_version()` and in the `User-Agent` header.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
