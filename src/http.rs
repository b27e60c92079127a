//! The one place that speaks HTTP: agent construction, headers, auth, Content-Length, the mapping of
//! statuses to errors, and the retry policy. Nothing else in the crate calls ureq.

use std::io::Read;
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use ureq::http::{self, HeaderMap, Method};
use ureq::Agent;

use crate::config::ClientConfig;
use crate::error::{Error, ErrorKind, Result};
use crate::log::{log_at, Level};
use crate::secret::Secret;
use crate::transport::{ConnectionStats, Counters, Tls};

/// A refused connection or a failed DNS lookup is tried this many times in all, whatever the retry
/// policy says, [`REFUSED_RETRY_DELAY`] apart: nothing listens there, so waiting out a backoff only
/// delays the error (a server that is restarting is caught by the next call).
pub(crate) const REFUSED_ATTEMPTS: u32 = 2;
pub(crate) const REFUSED_RETRY_DELAY: Duration = Duration::from_millis(100);

/// Largest REST response body read into memory. Session objects are small; this only stops a broken
/// server from exhausting memory.
const MAX_RESPONSE_BYTES: u64 = 16 * 1024 * 1024;

/// A stream connection's ureq buffers: the input one holds the response head (ureq reads it whole)
/// and the body's pieces; the output one the `GET` with its token.
const STREAM_INPUT_BUFFER_BYTES: usize = 8 * 1024;
const STREAM_OUTPUT_BUFFER_BYTES: usize = 8 * 1024;

/// One REST request. The body, if any, is sent with a Content-Length (the server rejects chunked
/// POSTs with 413).
pub(crate) struct Request<'a> {
    pub method: Method,
    pub path: String,
    pub token: &'a Secret,
    pub body: Option<Vec<u8>>,
    pub headers: Vec<(&'static str, String)>,
}

impl<'a> Request<'a> {
    pub fn get(path: String, token: &'a Secret) -> Self {
        Request { method: Method::GET, path, token, body: None, headers: Vec::new() }
    }

    pub fn post(path: String, token: &'a Secret, body: Vec<u8>) -> Self {
        Request { method: Method::POST, path, token, body: Some(body), headers: Vec::new() }
    }

    pub fn header(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.headers.push((name, value.into()));
        self
    }

    fn describe(&self, base_url: &str) -> String {
        // The full URL names the host; it never holds a token (tokens travel in headers).
        format!("{} {}{}", self.method, base_url, self.path)
    }
}

/// A successful (2xx) answer.
#[derive(Debug)]
pub(crate) struct Answer {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

impl Answer {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    pub fn json<T: serde::de::DeserializeOwned>(&self, what: &str) -> Result<T> {
        serde_json::from_slice(&self.body)
            .map_err(|e| Error::protocol(format!("malformed {what} answer (HTTP {}): {e}", self.status)))
    }
}

/// HTTP for one client: a shared agent for REST calls, and one agent per chat stream, all over one
/// TLS configuration (see [`crate::transport`]).
pub(crate) struct Http {
    config: ClientConfig,
    rest: Mutex<RestAgent>,
    /// Notified by [`Http::cancel_calls`]: a call waiting out a retry delay ends at once.
    cancelled: Condvar,
    tls: Tls,
    counters: Arc<Counters>,
}

/// The REST agent, and how many times [`Http::cancel_calls`] has replaced it: a call that started
/// on an older generation was cancelled.
struct RestAgent {
    generation: u64,
    agent: Agent,
}

impl Http {
    pub fn new(config: ClientConfig) -> Result<Http> {
        config.validate()?;
        let counters = Arc::new(Counters::default());
        let tls = Tls::new(&config.extra_root_certs_pem, config.replace_root_certs, counters.clone())?;
        let agent = build_agent(&config, &tls, false);
        Ok(Http {
            config,
            rest: Mutex::new(RestAgent { generation: 0, agent }),
            cancelled: Condvar::new(),
            tls,
            counters,
        })
    }

    /// Makes every REST call in progress fail with [`ErrorKind::Cancelled`] now (its connection is
    /// closed; a retry delay under way is cut short); calls that start later are not affected.
    pub fn cancel_calls(&self) {
        let old = {
            let mut rest = self.rest.lock().unwrap_or_else(|e| e.into_inner());
            rest.generation += 1;
            std::mem::replace(&mut rest.agent, build_agent(&self.config, &self.tls, false))
        };
        self.cancelled.notify_all();
        // Fails every request on the old agent, and its pooled connections with them.
        old.shutdown();
    }

    /// The REST agent to make a call on, and its generation.
    fn rest_agent(&self) -> (u64, Agent) {
        let rest = self.rest.lock().unwrap_or_else(|e| e.into_inner());
        (rest.generation, rest.agent.clone())
    }

    fn was_cancelled(&self, generation: u64) -> bool {
        self.rest.lock().unwrap_or_else(|e| e.into_inner()).generation != generation
    }

    /// Waits `delay` unless [`Http::cancel_calls`] comes first (true then).
    fn wait_unless_cancelled(&self, generation: u64, delay: Duration) -> bool {
        let rest = self.rest.lock().unwrap_or_else(|e| e.into_inner());
        let (rest, _) = self
            .cancelled
            .wait_timeout_while(rest, delay, |r| r.generation == generation)
            .unwrap_or_else(|e| e.into_inner());
        rest.generation != generation
    }

    /// New connections so far, over every agent of this client.
    pub fn connection_stats(&self) -> ConnectionStats {
        self.counters.snapshot()
    }

    pub fn config(&self) -> &ClientConfig {
        &self.config
    }

    /// A new agent for one chat's `.out` stream. Each chat has its own, because `Agent::shutdown`
    /// (how a blocked read is interrupted) acts on every clone of an agent; it keeps one idle
    /// connection, so that the next long-poll window of the chat reuses the socket.
    pub fn stream_agent(&self) -> Agent {
        build_agent(&self.config, &self.tls, true)
    }

    /// The full URL of `path` (which starts with `/`).
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.config.base_url, path)
    }

    /// Builds the `http::Request` with every header tchat sends.
    pub fn build(&self, req: &Request<'_>) -> Result<http::Request<Vec<u8>>> {
        let mut b = http::Request::builder()
            .method(req.method.clone())
            .uri(self.url(&req.path))
            .header("authorization", format!("Bearer {}", req.token.expose()))
            .header("x-trigger-source", "sdk")
            .header("user-agent", self.config.user_agent.as_str());
        if let Some(branch) = &self.config.branch {
            b = b.header("x-trigger-branch", branch.as_str());
        }
        if req.body.is_some() {
            b = b.header("content-type", "application/json");
        }
        for (name, value) in &req.headers {
            b = b.header(*name, value.as_str());
        }
        // Never let the http crate's error text echo a header value (the token is one).
        b.body(req.body.clone().unwrap_or_default()).map_err(|_| {
            Error::invalid(format!(
                "cannot build request {}: invalid URL or header",
                req.describe(&self.config.base_url)
            ))
        })
    }

    /// Sends `req`, retrying per the policy (PROTOCOL 0): network errors, 408, 429 (honouring
    /// `x-ratelimit-reset`) and 5xx, unless the server says `x-should-retry: false`. 409 is not
    /// retried: the sessions API uses it for "session closed", which no retry fixes.
    ///
    /// Retrying a POST is safe for tchat's calls: appends carry an X-Part-Id the server dedupes, and
    /// session creation is idempotent on the external id.
    pub fn call(&self, req: &Request<'_>) -> Result<Answer> {
        let policy = &self.config.retry;
        let (generation, agent) = self.rest_agent();
        let cancelled = || {
            Error::new(
                ErrorKind::Cancelled,
                format!("{}: cancelled (tchat_client_cancel_calls)", req.describe(&self.config.base_url)),
            )
        };
        let mut attempt = 0;
        let mut stale_retried = false;
        loop {
            attempt += 1;
            let connections_before = self.counters.connections();
            let outcome = self.call_once(&agent, req);
            let retry_after = match &outcome {
                Ok(_) => return outcome.map_err(|f| f.into_error(&req.describe(&self.config.base_url))),
                Err(_) if self.was_cancelled(generation) => return Err(cancelled()),
                // No new connection was made, so the attempt went out on a pooled keep-alive
                // connection, which the server may have closed just then (its idle timeout): try
                // once more at once, on a new connection. Not counted as an attempt.
                Err(Failure::Network(_, false))
                    if !stale_retried && self.counters.connections() == connections_before =>
                {
                    stale_retried = true;
                    attempt -= 1;
                    log_at!(
                        Level::Debug,
                        "{}: a kept-alive connection failed; retrying at once on a new one",
                        req.describe(&self.config.base_url)
                    );
                    continue;
                }
                Err(Failure::Network(_, true)) if attempt >= REFUSED_ATTEMPTS => None,
                Err(Failure::Network(_, true)) => Some(REFUSED_RETRY_DELAY),
                Err(Failure::Network(_, false)) => Some(policy.delay(attempt)),
                Err(Failure::Status { status, headers, .. }) => retry_delay(*status, headers, policy, attempt),
            };
            match retry_after {
                Some(delay) if attempt < policy.max_attempts => {
                    if self.wait_unless_cancelled(generation, delay) {
                        return Err(cancelled());
                    }
                }
                _ => return outcome.map_err(|f| f.into_error(&req.describe(&self.config.base_url))),
            }
        }
    }

    fn call_once(&self, agent: &Agent, req: &Request<'_>) -> Result<Answer, Failure> {
        let request = self.build(req).map_err(|e| Failure::Network(e, false))?;
        let response = agent.run(request).map_err(|e| {
            let refused = is_refusal(&e);
            Failure::Network(transport_error(e, &req.describe(&self.config.base_url)), refused)
        })?;
        let status = response.status().as_u16();
        let (parts, body) = response.into_parts();
        let mut bytes = Vec::new();
        body.into_with_config().limit(MAX_RESPONSE_BYTES).reader().read_to_end(&mut bytes).map_err(|e| {
            Failure::Network(
                Error::new(
                    ErrorKind::Network,
                    format!("{}: reading the answer failed: {e}", req.describe(&self.config.base_url)),
                ),
                false,
            )
        })?;
        if (200..300).contains(&status) {
            Ok(Answer { status, headers: parts.headers, body: bytes })
        } else {
            Err(Failure::Status { status, headers: parts.headers, body: bytes })
        }
    }
}

/// Why one attempt failed, before deciding on a retry.
enum Failure {
    /// A network failure, and whether it was a refused connection or a DNS failure.
    Network(Error, bool),
    Status {
        status: u16,
        headers: HeaderMap,
        body: Vec<u8>,
    },
}

impl Failure {
    fn into_error(self, what: &str) -> Error {
        match self {
            Failure::Network(e, _) => e,
            Failure::Status { status, body, .. } => status_error(what, status, &body),
        }
    }
}

/// How long to wait before retrying after `status`, or `None` when it must not be retried.
fn retry_delay(
    status: u16,
    headers: &HeaderMap,
    policy: &crate::config::RetryPolicy,
    attempt: u32,
) -> Option<Duration> {
    match headers.get("x-should-retry").and_then(|v| v.to_str().ok()) {
        Some("false") => return None,
        Some("true") => return Some(policy.delay(attempt)),
        _ => {}
    }
    match status {
        429 => {
            let reset = headers
                .get("x-ratelimit-reset")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<u64>().ok());
            let now = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0);
            Some(match reset {
                Some(reset_ms) if reset_ms > now => Duration::from_millis(reset_ms - now).min(policy.max_delay),
                _ => policy.delay(attempt),
            })
        }
        // 501: a self-hosted server without the stream backend; asking again will not help.
        501 => None,
        408 | 500..=599 => Some(policy.delay(attempt)),
        _ => None,
    }
}

/// The error for a non-2xx answer: its kind from the status (and the body's `code`), its message
/// from the server's `error` text.
pub(crate) fn status_error(what: &str, status: u16, body: &[u8]) -> Error {
    let parsed: Option<serde_json::Value> = serde_json::from_slice(body).ok();
    let field = |name: &str| parsed.as_ref().and_then(|v| v.get(name)).and_then(|v| v.as_str()).map(str::to_owned);
    let server_text = field("error").or_else(|| field("message")).unwrap_or_else(|| {
        // Plain-text answers (e.g. 400 for a bad Timeout-Seconds) are shown as they are, shortened.
        let text = String::from_utf8_lossy(body);
        let text = text.trim();
        text.chars().take(300).collect()
    });
    let code = field("code");
    let lower = server_text.to_ascii_lowercase();
    let kind = match status {
        401 | 403 => ErrorKind::Auth,
        404 => ErrorKind::NotFound,
        413 => ErrorKind::TooLarge,
        408 => ErrorKind::Timeout,
        400 | 409 | 410 | 422
            if code.as_deref() == Some("session_closed") || lower.contains("closed") || lower.contains("expired") =>
        {
            ErrorKind::SessionClosed
        }
        _ => ErrorKind::Http,
    };
    let mut message = format!("{what}: HTTP {status}");
    if !server_text.is_empty() {
        message.push_str(": ");
        message.push_str(&server_text);
    }
    if let Some(reason) = field("closedReason") {
        message.push_str(&format!(" (closed: {reason})"));
    }
    Error::http(kind, status, message)
}

/// Maps a ureq transport error. Its text never contains headers, so no token leaks through it.
pub(crate) fn transport_error(e: ureq::Error, what: &str) -> Error {
    let kind = match &e {
        ureq::Error::Timeout(_) => ErrorKind::Timeout,
        ureq::Error::BadUri(_) | ureq::Error::Http(_) => ErrorKind::InvalidArgument,
        ureq::Error::Protocol(_) => ErrorKind::Protocol,
        _ => ErrorKind::Network,
    };
    Error::new(kind, format!("{what}: {}", transport_words(&e)))
}

/// Nothing listens at the address (connection refused) or the host does not resolve.
fn is_refusal(e: &ureq::Error) -> bool {
    match e {
        ureq::Error::Io(io) => io.kind() == std::io::ErrorKind::ConnectionRefused,
        ureq::Error::HostNotFound => true,
        _ => false,
    }
}

/// A transport failure in a few plain words, as a C programmer reads them in a log: `connection
/// refused`, not `io: Connection refused (os error 111)`.
fn transport_words(e: &ureq::Error) -> String {
    use std::io::ErrorKind as Io;
    match e {
        ureq::Error::Io(io) => match io.kind() {
            Io::ConnectionRefused => "connection refused".into(),
            Io::ConnectionReset => "connection reset by the peer".into(),
            Io::ConnectionAborted => "connection aborted".into(),
            Io::NotConnected | Io::BrokenPipe => "connection closed by the peer".into(),
            Io::TimedOut | Io::WouldBlock => "timed out".into(),
            Io::UnexpectedEof => "connection closed before the answer was complete".into(),
            Io::AddrNotAvailable => "address not available".into(),
            Io::NetworkUnreachable => "network unreachable".into(),
            Io::HostUnreachable => "host unreachable".into(),
            _ => format!("I/O error: {io}"),
        },
        ureq::Error::HostNotFound => "host not found (DNS)".into(),
        ureq::Error::ConnectionFailed => "connection failed".into(),
        ureq::Error::Timeout(what) => format!("timed out ({what})"),
        other => other.to_string(),
    }
}

fn build_agent(config: &ClientConfig, tls: &Tls, for_stream: bool) -> Agent {
    let builder = Agent::config_builder()
        .http_status_as_error(false)
        .user_agent(config.user_agent.as_str())
        .max_redirects(0)
        .timeout_connect(Some(config.connect_timeout))
        .timeout_recv_response(Some(config.response_timeout));
    // A stream's body read must never time out as a whole (both global and recv_body budgets keep
    // running between reads); a per-read timeout catches a dead socket, the stall timeout of the
    // reader catches a live socket that only sends pings.
    let builder = if for_stream {
        builder
            .timeout_per_read(Some(config.stall_timeout))
            .max_idle_connections(1)
            .max_idle_connections_per_host(1)
            // ureq's 128 KiB buffers each way, per connection, would be most of what a warm chat
            // costs; a stream sends one small GET and reads records in pieces of the reader's size.
            .input_buffer_size(STREAM_INPUT_BUFFER_BYTES)
            .output_buffer_size(STREAM_OUTPUT_BUFFER_BYTES)
    } else {
        // A REST call has one deadline for all of it, connect to the body's last byte: a server that
        // sends its headers and then a silent or trickling body cannot hold a send or an open.
        builder.timeout_global(Some(config.connect_timeout + config.response_timeout))
    };
    Agent::with_parts(builder.build(), tls.connector(), crate::transport::Resolver::default())
}

/// Percent-encodes one path segment (RFC 3986 unreserved characters pass).
pub(crate) fn encode_segment(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => out.push(b as char),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn closed_session_answers_map_to_session_closed() {
        let e = status_error("POST /x", 400, br#"{"ok":false,"error":"Cannot append to a closed session"}"#);
        assert_eq!(e.kind(), ErrorKind::SessionClosed);
        assert_eq!(e.status(), Some(400));
        assert!(e.message().contains("Cannot append to a closed session"));
        let e = status_error("POST /x", 409, br#"{"error":"gone","code":"session_closed","closedReason":"done"}"#);
        assert_eq!(e.kind(), ErrorKind::SessionClosed);
        assert!(e.message().contains("closed: done"));
        let e = status_error("GET /x", 403, br#"{"error":"Unauthorized","code":"unauthorized"}"#);
        assert_eq!(e.kind(), ErrorKind::Auth);
        let e = status_error("GET /x", 400, b"Timeout-Seconds must be 1..600");
        assert_eq!(e.kind(), ErrorKind::Http);
        assert!(e.message().ends_with("Timeout-Seconds must be 1..600"));
    }

    #[test]
    fn segments_are_percent_encoded() {
        assert_eq!(encode_segment("chat 1/ä"), "chat%201%2F%C3%A4");
        assert_eq!(encode_segment("session_abc-1.2~x"), "session_abc-1.2~x");
    }
}
