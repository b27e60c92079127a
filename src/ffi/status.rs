//! `tchat_status`: the result of every fallible call.

use std::os::raw::{c_char, c_int};

use crate::error::ErrorKind;

/// The result of every fallible tchat call. `TCHAT_OK` is 0; every other value is one failure class.
///
/// After a call returns something else than `TCHAT_OK`, `tchat_last_error_message()` (same thread)
/// says what went wrong, and `tchat_last_error_http_status()` gives the HTTP status when an HTTP
/// answer caused it. `tchat_status_str()` names a status.
/// cbindgen:prefix-with-name=false
#[allow(non_camel_case_types)]
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum tchat_status {
    /// Success.
    TCHAT_OK = 0,
    /// An argument is unusable: NULL where a value is required, a string that is not UTF-8, JSON
    /// that does not parse, an empty id, a bad URL, a missing required option...
    TCHAT_INVALID_ARGUMENT = 1,
    /// The call is not possible now: no pending tool approval to answer, freeing a chat from inside
    /// its own callback, a chat that is being freed...
    TCHAT_INVALID_STATE = 2,
    /// The server answered with an HTTP error status that has no more specific code (see
    /// `tchat_last_error_http_status()`).
    TCHAT_HTTP = 3,
    /// 401/403: the token is missing, invalid, expired or lacks a scope, and no refresh helped.
    TCHAT_AUTH = 4,
    /// 404: no such session, run or task.
    TCHAT_NOT_FOUND = 5,
    /// The session is closed (or expired): nothing more can be sent.
    TCHAT_SESSION_CLOSED = 6,
    /// A body over the server's limit: a message over 1 MiB as the server meters it (its JSON
    /// text escaped inside the record, so quotes and backslashes count twice), refused before
    /// sending, or a 413.
    TCHAT_TOO_LARGE = 7,
    /// A connect, response or stall timeout.
    TCHAT_TIMEOUT = 8,
    /// The operation was cancelled (`tchat_client_cancel_calls`, or the chat was stopped, closed or
    /// freed).
    TCHAT_CANCELLED = 9,
    /// DNS, TCP, TLS or an I/O error.
    TCHAT_NETWORK = 10,
    /// The server's answer does not follow the protocol.
    TCHAT_PROTOCOL = 11,
    /// A bug inside tchat: a Rust panic was caught at the API boundary. The object involved may be
    /// in an inconsistent state; please report it.
    TCHAT_PANIC = 12,
    /// The agent's run ended (crashed, was cancelled, ran out of memory) before it completed the
    /// turn: carried by the error event that ends such a turn. The next send starts a new run.
    TCHAT_RUN_ENDED = 13,
    /// Not an error: `tchat_chat_next_event` got no event within its timeout (poll again).
    TCHAT_NO_EVENT = 14,
    /// Not an error: `tchat_chat_wake` ended a `tchat_chat_next_event` wait before an event came.
    TCHAT_WOKEN = 15,
}

impl tchat_status {
    /// The status for a Rust error kind.
    pub fn from_kind(kind: ErrorKind) -> tchat_status {
        match kind {
            ErrorKind::InvalidArgument => tchat_status::TCHAT_INVALID_ARGUMENT,
            ErrorKind::InvalidState => tchat_status::TCHAT_INVALID_STATE,
            ErrorKind::Http => tchat_status::TCHAT_HTTP,
            ErrorKind::Auth => tchat_status::TCHAT_AUTH,
            ErrorKind::NotFound => tchat_status::TCHAT_NOT_FOUND,
            ErrorKind::SessionClosed => tchat_status::TCHAT_SESSION_CLOSED,
            ErrorKind::TooLarge => tchat_status::TCHAT_TOO_LARGE,
            ErrorKind::Timeout => tchat_status::TCHAT_TIMEOUT,
            ErrorKind::Cancelled => tchat_status::TCHAT_CANCELLED,
            ErrorKind::Network => tchat_status::TCHAT_NETWORK,
            ErrorKind::Protocol => tchat_status::TCHAT_PROTOCOL,
            ErrorKind::RunEnded => tchat_status::TCHAT_RUN_ENDED,
        }
    }

    /// The static, NUL-terminated name and meaning of the status.
    fn text(code: c_int) -> &'static str {
        match code {
            0 => "TCHAT_OK: success\0",
            1 => "TCHAT_INVALID_ARGUMENT: invalid argument\0",
            2 => "TCHAT_INVALID_STATE: not possible in the current state\0",
            3 => "TCHAT_HTTP: HTTP error status\0",
            4 => "TCHAT_AUTH: authentication or authorization failed\0",
            5 => "TCHAT_NOT_FOUND: not found\0",
            6 => "TCHAT_SESSION_CLOSED: the session is closed\0",
            7 => "TCHAT_TOO_LARGE: too large\0",
            8 => "TCHAT_TIMEOUT: timed out\0",
            9 => "TCHAT_CANCELLED: cancelled\0",
            10 => "TCHAT_NETWORK: network error\0",
            11 => "TCHAT_PROTOCOL: protocol error\0",
            12 => "TCHAT_PANIC: internal error (panic)\0",
            13 => "TCHAT_RUN_ENDED: the agent's run ended before completing the turn\0",
            14 => "TCHAT_NO_EVENT: no event yet\0",
            15 => "TCHAT_WOKEN: woken by tchat_chat_wake\0",
            _ => "unknown tchat_status\0",
        }
    }
}

/// A static, human-readable description of a status, e.g. `"TCHAT_TIMEOUT: timed out"`.
///
/// `status` is a `tchat_status` value (an `int` so that any value is safe to pass: unknown values
/// give `"unknown tchat_status"`). Never NULL; never free it. Any thread.
#[no_mangle]
pub extern "C" fn tchat_status_str(status: c_int) -> *const c_char {
    tchat_status::text(status).as_ptr().cast()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_status_has_its_own_text() {
        for code in 0..=tchat_status::TCHAT_WOKEN as c_int {
            let text = tchat_status::text(code);
            assert!(text.ends_with('\0'));
            assert!(text.starts_with("TCHAT_"), "{text}");
        }
        assert_eq!(tchat_status::text(16), "unknown tchat_status\0");
        assert_eq!(tchat_status::text(-1), "unknown tchat_status\0");
    }
}
