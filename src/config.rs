//! Client configuration: where the server is, how to authenticate, and how patient to be.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use crate::error::{Error, Result};
use crate::secret::Secret;

/// The Trigger.dev API the client talks to when no base URL is given.
pub const DEFAULT_BASE_URL: &str = "https://api.trigger.dev";

/// The long-poll window's rule (the server's `Timeout-Seconds` range): one check for the Rust
/// configuration and the C setter alike.
pub(crate) fn check_long_poll(t: Duration) -> Result<()> {
    let secs = t.as_secs();
    if !(1..=600).contains(&secs) || t.subsec_nanos() != 0 {
        return Err(Error::invalid(format!(
            "long-poll window must be a whole number of seconds in 1..=600 (got {t:?})"
        )));
    }
    Ok(())
}

/// The retry policy's rule: at least one attempt, and a maximum delay no shorter than the first.
pub(crate) fn check_retry(retry: &RetryPolicy) -> Result<()> {
    if retry.max_attempts == 0 {
        return Err(Error::invalid("retry policy needs at least one attempt (max_attempts >= 1)"));
    }
    if retry.max_delay < retry.base_delay {
        return Err(Error::invalid("retry policy's max delay must be >= its base delay"));
    }
    Ok(())
}

/// How long a chat's `.out` connection stays open after a turn by default; see
/// [`ClientConfig::with_keep_warm`].
pub const DEFAULT_KEEP_WARM: Duration = Duration::from_secs(120);

/// Asked for a fresh token when the server answers 401/403 (the browser transport's
/// `accessToken({chatId})` callback). Gets the chat id; returns `None` when it has nothing better.
///
/// Called on whichever thread made the failing request (a reader thread for `.out`).
pub type TokenProvider = Arc<dyn Fn(&str) -> Option<String> + Send + Sync>;

/// Told of every send's life (see [`crate::SendEvent`]) with the chat id: `MessageSent` and
/// `SendFailed` on the thread that called the send, `FirstChunk` and `TurnCompleted` on the chat's
/// reader thread (so a fast agent's `FirstChunk` may come before `MessageSent`). It must return
/// quickly and must not free the chat.
pub type SendObserver = Arc<dyn Fn(&str, &crate::SendEvent) + Send + Sync>;

/// When and how often a failed REST call is tried again (PROTOCOL 0). A refused connection or a
/// failed DNS lookup is tried twice in all, 100 ms apart, whatever the policy says.
#[derive(Debug, Clone, PartialEq)]
pub struct RetryPolicy {
    /// Attempts in all, the first included (the official client: 5).
    pub max_attempts: u32,
    /// Delay before the second attempt; later ones grow by `factor` (official: 1 s, × 1.6).
    pub base_delay: Duration,
    /// Growth of the delay per attempt.
    pub factor: f64,
    /// Upper bound of one delay (official: 30 s); also caps a `x-ratelimit-reset` wait.
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 5,
            base_delay: Duration::from_millis(1000),
            factor: 1.6,
            max_delay: Duration::from_secs(30),
        }
    }
}

impl RetryPolicy {
    /// The delay before attempt `attempt + 1`, after `attempt` failures (1-based).
    pub fn delay(&self, attempt: u32) -> Duration {
        let exp = self.factor.powi(attempt.saturating_sub(1).min(64) as i32);
        let ms = (self.base_delay.as_millis() as f64 * exp).min(self.max_delay.as_millis() as f64);
        Duration::from_millis(ms as u64)
    }
}

/// Everything a [`crate::Client`] needs. Build with [`ClientConfig::new`] and the `with_*` methods.
#[derive(Clone)]
pub struct ClientConfig {
    pub(crate) base_url: String,
    pub(crate) token: Secret,
    pub(crate) branch: Option<String>,
    pub(crate) connect_timeout: Duration,
    pub(crate) response_timeout: Duration,
    pub(crate) stall_timeout: Duration,
    pub(crate) long_poll: Duration,
    pub(crate) retry: RetryPolicy,
    pub(crate) user_agent: String,
    pub(crate) extra_root_certs_pem: Vec<u8>,
    pub(crate) replace_root_certs: bool,
    pub(crate) allow_insecure_http: bool,
    pub(crate) token_provider: Option<TokenProvider>,
    pub(crate) send_observer: Option<SendObserver>,
    pub(crate) idle_watch: bool,
    pub(crate) reconnect_limit: Option<Duration>,
    pub(crate) keep_warm: Duration,
}

impl ClientConfig {
    /// A configuration for `token` (a secret API key `tr_dev_...`/`tr_prod_...`, or a JWT) against
    /// the default base URL.
    pub fn new(token: impl Into<String>) -> Self {
        ClientConfig {
            base_url: DEFAULT_BASE_URL.to_owned(),
            token: Secret::new(token),
            branch: None,
            connect_timeout: Duration::from_secs(10),
            response_timeout: Duration::from_secs(30),
            stall_timeout: Duration::from_secs(60),
            long_poll: Duration::from_secs(120),
            retry: RetryPolicy::default(),
            user_agent: format!("tchat/{}", crate::VERSION),
            extra_root_certs_pem: Vec::new(),
            replace_root_certs: false,
            allow_insecure_http: false,
            token_provider: None,
            send_observer: None,
            idle_watch: false,
            reconnect_limit: None,
            keep_warm: DEFAULT_KEEP_WARM,
        }
    }

    /// The API's base URL, e.g. `https://api.trigger.dev` or `http://127.0.0.1:8030` (a trailing `/`
    /// is ignored).
    pub fn with_base_url(mut self, url: impl Into<String>) -> Self {
        self.base_url = url.into().trim_end_matches('/').to_owned();
        self
    }

    /// The preview branch, sent as `x-trigger-branch` (required for preview-branch environments).
    pub fn with_branch(mut self, branch: impl Into<String>) -> Self {
        self.branch = Some(branch.into());
        self
    }

    /// How long to wait for a TCP + TLS connection (default 10 s).
    pub fn with_connect_timeout(mut self, t: Duration) -> Self {
        self.connect_timeout = t;
        self
    }

    /// How long to wait for response headers after sending a request (default 30 s).
    pub fn with_response_timeout(mut self, t: Duration) -> Self {
        self.response_timeout = t;
        self
    }

    /// How long a `.out` stream may go without a record (pings do not count) or without any byte
    /// before it is considered dead and reconnected (default 60 s, as the official transport).
    pub fn with_stall_timeout(mut self, t: Duration) -> Self {
        self.stall_timeout = t;
        self
    }

    /// The long-poll window asked of the server (`Timeout-Seconds`, 1..=600 s, default 120 s).
    pub fn with_long_poll(mut self, t: Duration) -> Self {
        self.long_poll = t;
        self
    }

    /// Keep listening between turns (default off): after a turn, the chat's reader holds a
    /// long-poll on `.out` (one socket per idle chat, woken by the server's pings; at the end of
    /// each window one `GET` of the session), so that a session closed by someone else is reported
    /// as [`crate::Event::SessionClosed`] while the chat is idle too. Off, nothing is held between
    /// turns, and such a close is noticed at the next send (`ErrorKind::SessionClosed`). A send
    /// ends the watch and subscribes for its turn as usual; turns other clients drive on the same
    /// chat meanwhile are skipped.
    pub fn with_idle_watch(mut self, watch: bool) -> Self {
        self.idle_watch = watch;
        self
    }

    /// How long a turn in flight may go without a working stream (reconnecting all along) before
    /// it ends with an [`crate::Event::Error`] instead of waiting on; `None` (the default) waits for
    /// as long as it takes, telling the application through `Reconnecting`/`Connected` events.
    pub fn with_reconnect_limit(mut self, limit: Option<Duration>) -> Self {
        self.reconnect_limit = limit;
        self
    }

    /// The retry policy of REST calls.
    pub fn with_retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    /// The `User-Agent` header (default `tchat/<version>`).
    pub fn with_user_agent(mut self, ua: impl Into<String>) -> Self {
        self.user_agent = ua.into();
        self
    }

    /// Root certificates (PEM, one or more) for a private CA, e.g. a self-hosted Trigger.dev or a
    /// TLS-inspecting proxy, trusted *besides* the bundled Mozilla (web PKI) roots; see
    /// [`ClientConfig::with_replace_root_certs`] to trust only these.
    pub fn with_extra_root_certs_pem(mut self, pem: impl Into<Vec<u8>>) -> Self {
        self.extra_root_certs_pem = pem.into();
        self
    }

    /// Trust only the certificates of [`ClientConfig::with_extra_root_certs_pem`], not the
    /// bundled web PKI roots (default off). `Client::new` fails when this is on without a
    /// certificate.
    pub fn with_replace_root_certs(mut self, replace: bool) -> Self {
        self.replace_root_certs = replace;
        self
    }

    /// How long a chat's `.out` connection stays open after a turn ends, ready for the next turn
    /// (default 120 s; zero closes it at every turn's end). While warm, the next send only appends
    /// its message — one round trip — and the reply streams on the open connection: no new TCP
    /// connection, TLS handshake or `GET` before the first token. The cost, per warm chat: one
    /// socket, its TLS and read buffers (about 40 KiB), and a wakeup per server ping (every few
    /// seconds) and per long-poll window. Records of turns other clients drive meanwhile are
    /// skipped, and a session closed meanwhile is reported as [`crate::Event::SessionClosed`]. A
    /// warm connection that fails is not reopened: the next send opens one as usual.
    pub fn with_keep_warm(mut self, keep_warm: Duration) -> Self {
        self.keep_warm = keep_warm;
        self
    }

    /// Allow plain `http://` to hosts other than loopback (off by default: tokens would travel in
    /// the clear).
    pub fn with_insecure_http(mut self, allow: bool) -> Self {
        self.allow_insecure_http = allow;
        self
    }

    /// Telemetry of every send of this client's chats (see [`SendObserver`]).
    pub fn with_send_observer(mut self, observer: SendObserver) -> Self {
        self.send_observer = Some(observer);
        self
    }

    /// Asked for a fresh token once when the server answers 401/403.
    pub fn with_token_provider(mut self, provider: TokenProvider) -> Self {
        self.token_provider = Some(provider);
        self
    }

    /// The base URL in use.
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// Checks the configuration before any request is made.
    pub(crate) fn validate(&self) -> Result<()> {
        let url = self.base_url.as_str();
        let rest = if let Some(r) = url.strip_prefix("https://") {
            r
        } else if let Some(r) = url.strip_prefix("http://") {
            if !self.allow_insecure_http && !is_loopback_authority(r) {
                return Err(Error::invalid(format!(
                    "refusing plain http:// to a non-loopback host ({url}); use https:// or allow insecure http"
                )));
            }
            r
        } else {
            return Err(Error::invalid(format!("base URL must start with https:// or http:// (got {url:?})")));
        };
        if rest.is_empty() || rest.starts_with('/') {
            return Err(Error::invalid(format!("base URL has no host: {url:?}")));
        }
        if self.token.is_empty() {
            return Err(Error::invalid("no token: give a secret API key or a public access token"));
        }
        check_long_poll(self.long_poll)?;
        check_retry(&self.retry)
    }
}

/// Whether `authority_and_path` (what follows `http://`) names a loopback host.
fn is_loopback_authority(authority_and_path: &str) -> bool {
    let authority = authority_and_path.split(['/', '?', '#']).next().unwrap_or("");
    let host = if let Some(rest) = authority.strip_prefix('[') {
        rest.split(']').next().unwrap_or("")
    } else {
        authority.rsplit_once(':').map(|(h, _)| h).unwrap_or(authority)
    };
    host.eq_ignore_ascii_case("localhost")
        || host.parse::<std::net::IpAddr>().map(|ip| ip.is_loopback()).unwrap_or(false)
}

impl fmt::Debug for ClientConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientConfig")
            .field("base_url", &self.base_url)
            .field("token", &self.token)
            .field("branch", &self.branch)
            .field("connect_timeout", &self.connect_timeout)
            .field("response_timeout", &self.response_timeout)
            .field("stall_timeout", &self.stall_timeout)
            .field("long_poll", &self.long_poll)
            .field("retry", &self.retry)
            .field("user_agent", &self.user_agent)
            .field("extra_root_certs_pem_bytes", &self.extra_root_certs_pem.len())
            .field("replace_root_certs", &self.replace_root_certs)
            .field("keep_warm", &self.keep_warm)
            .field("allow_insecure_http", &self.allow_insecure_http)
            .field("token_provider", &self.token_provider.is_some())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_http_only_to_loopback() {
        let ok = |u: &str| ClientConfig::new("k").with_base_url(u).validate().is_ok();
        assert!(ok("http://127.0.0.1:8030"));
        assert!(ok("http://localhost:1/"));
        assert!(ok("http://[::1]:80"));
        assert!(ok("https://api.trigger.dev"));
        assert!(!ok("http://api.trigger.dev"));
        assert!(!ok("http://10.0.0.1:80"));
        assert!(!ok("ftp://x"));
        assert!(!ok("https://"));
        assert!(ClientConfig::new("k").with_base_url("http://10.0.0.1").with_insecure_http(true).validate().is_ok());
    }

    #[test]
    fn retry_delays_grow_and_cap() {
        let p = RetryPolicy::default();
        assert_eq!(p.delay(1), Duration::from_millis(1000));
        assert_eq!(p.delay(2), Duration::from_millis(1600));
        assert_eq!(p.delay(20), Duration::from_secs(30));
    }

    #[test]
    fn debug_hides_the_token() {
        let c = ClientConfig::new("tr_dev_secret_abcdef");
        assert!(!format!("{c:?}").contains("secret_abcdef"));
    }
}
