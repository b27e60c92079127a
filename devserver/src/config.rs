//! Server settings shared by the binary's flags and the in-process test API.

use std::net::SocketAddr;
use std::time::Duration;

/// Who starts agent runs.
///
/// The two modes exist because the seed document and today's Trigger.dev server disagree
/// (PROTOCOL section 9); tchat must work against both, so its tests need both.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RunMode {
    /// Today's server: creating a session starts a run, an append with no live run starts a
    /// continuation, and `upgrade-required` is only informational.
    Server,
    /// The seed flow: runs start only through `POST /api/v1/tasks/demo/trigger`.
    Client,
}

/// Everything the server needs to start.
#[derive(Clone, Debug)]
pub struct Config {
    /// Where to listen; port 0 picks a free port so parallel tests never collide.
    pub addr: SocketAddr,
    /// The environment's secret API key, also the HS256 key of every JWT, as on Trigger.dev.
    pub secret_key: String,
    pub runs: RunMode,
    /// How long an idle `.out` connection waits before a keep-alive ping.
    pub ping_interval: Duration,
    /// Default long-poll window of `.out` when the client sends no `Timeout-Seconds`.
    pub long_poll: Duration,
    /// Pause between the demo agent's deltas, so streams look like a model's.
    pub delta_delay: Duration,
    /// A run with no `.in` record for this long ends, which forces continuations.
    pub idle_timeout: Duration,
}

/// The secret key used when none is given: the `tr_dev_` prefix matches a dev environment key.
pub const DEFAULT_SECRET_KEY: &str = "tr_dev_tchat_local";

impl Default for Config {
    fn default() -> Self {
        Config {
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            secret_key: DEFAULT_SECRET_KEY.to_string(),
            runs: RunMode::Server,
            ping_interval: Duration::from_millis(5000),
            long_poll: Duration::from_secs(60),
            delta_delay: Duration::from_millis(20),
            idle_timeout: Duration::from_secs(30),
        }
    }
}
