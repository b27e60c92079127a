//! One error type for the whole library, with a kind per failure class (the C status codes mirror it).
//!
//! Messages carry what a developer needs to fix the problem — the HTTP method, path and status, and the
//! server's own error text — and never a token: tokens live in [`crate::secret::Secret`], which cannot
//! be formatted.

use std::fmt;

/// The class of a failure. Each maps to one `tchat_status` code in the C ABI.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The caller passed something unusable (bad JSON, empty id, a URL that is not http(s), ...).
    InvalidArgument,
    /// The call is not possible in the conversation's current state (no pending approval, freeing a
    /// chat from inside its own callback, ...).
    InvalidState,
    /// The server answered with an HTTP status that has no more specific kind.
    Http,
    /// 401/403: the token is missing, invalid, expired or lacks a scope, and a refresh did not help.
    Auth,
    /// 404: no such session, run or task.
    NotFound,
    /// The session is closed (or expired): appends and new runs are refused.
    SessionClosed,
    /// A body over the server's limit (a message over 1 MiB), refused before sending or by a 413.
    TooLarge,
    /// A connect, response or stall timeout.
    Timeout,
    /// The operation was cancelled: by `Client::cancel_calls`, `stop`, `close` or dropping the chat.
    Cancelled,
    /// DNS, TCP, TLS or an I/O error on the connection.
    Network,
    /// The server's answer does not follow the protocol (malformed JSON, SSE, missing fields).
    Protocol,
    /// The agent's run ended (crash, cancel, out of memory) before it completed the turn, and no
    /// run took over: the turn is over without its turn-complete. The next send starts a new run.
    RunEnded,
}

/// A tchat error: a kind, the HTTP status if one was involved, and a message for humans.
#[derive(Clone, PartialEq, Eq)]
pub struct Error {
    kind: ErrorKind,
    status: Option<u16>,
    message: String,
}

impl Error {
    /// A new error of `kind` with `message`.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Error { kind, status: None, message: message.into() }
    }

    /// An error caused by an HTTP answer with `status`.
    pub fn http(kind: ErrorKind, status: u16, message: impl Into<String>) -> Self {
        Error { kind, status: Some(status), message: message.into() }
    }

    pub(crate) fn invalid(message: impl Into<String>) -> Self {
        Error::new(ErrorKind::InvalidArgument, message)
    }

    pub(crate) fn protocol(message: impl Into<String>) -> Self {
        Error::new(ErrorKind::Protocol, message)
    }

    /// The failure class.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// The HTTP status of the answer that caused the error, if any.
    pub fn status(&self) -> Option<u16> {
        self.status
    }

    /// The human-readable message (includes the server's error text when there was one).
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Error")
            .field("kind", &self.kind)
            .field("status", &self.status)
            .field("message", &self.message)
            .finish()
    }
}

impl std::error::Error for Error {}

/// `Result` with [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
