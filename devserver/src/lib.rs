//! tchat-devserver: a faithful local Trigger.dev sessions API with a deterministic demo agent
//! and fault injection, so tchat's examples, tests and benchmarks run on one machine with no
//! account and no network.
//!
//! The wire behaviour follows `PROTOCOL.md`; the demo agent's exact texts, the fault JSON and
//! the `/__devserver` routes are listed in `devserver/README.md`. Tests start it in-process with
//! [`DevServer::start`], which needs no tokio runtime from the caller: the server owns one.

mod agent;
mod app;
mod auth;
mod clock;
mod config;
mod error;
mod faults;
mod ids;
mod payload;
mod routes;
mod schema;
mod sse;
mod store;

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::serve::ListenerExt;
use tokio::runtime::{Handle, Runtime};
use tokio::sync::oneshot;

pub use config::{Config, RunMode, DEFAULT_SECRET_KEY};
pub use faults::{Faults, OUT_ERROR_MESSAGE};

use app::App;

/// A running server. Dropping it shuts it down.
pub struct DevServer {
    app: Arc<App>,
    addr: SocketAddr,
    runtime: Option<Runtime>,
    stop: Option<oneshot::Sender<()>>,
}

impl DevServer {
    /// Binds, starts serving on a private two-thread runtime, and returns once listening, so
    /// a test can connect right away.
    pub fn start(config: Config) -> io::Result<DevServer> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("tchat-devserver")
            .enable_all()
            .build()?;
        let std_listener = std::net::TcpListener::bind(config.addr)?;
        std_listener.set_nonblocking(true)?;
        let addr = std_listener.local_addr()?;
        let listener = {
            let _guard = runtime.enter();
            tokio::net::TcpListener::from_std(std_listener)?
        };
        // Small SSE writes must leave at once, not wait for Nagle.
        let listener = listener.tap_io(|tcp| {
            let _ = tcp.set_nodelay(true);
        });
        let app = App::new(config, runtime.handle().clone());
        let router = routes::router(app.clone());
        let (stop, stopped) = oneshot::channel::<()>();
        runtime.spawn(async move {
            tokio::select! {
                r = std::future::IntoFuture::into_future(axum::serve(listener, router)) => {
                    if let Err(e) = r {
                        eprintln!("tchat-devserver: server error: {e}");
                    }
                }
                _ = stopped => {}
            }
        });
        Ok(DevServer { app, addr, runtime: Some(runtime), stop: Some(stop) })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:<port>`.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn secret_key(&self) -> &str {
        self.app.tokens.secret()
    }

    /// Replaces the fault settings, like `POST /__devserver/faults`.
    pub fn set_faults(&self, faults: Faults) {
        self.app.set_faults(faults);
    }

    /// Every `.in` record ever appended to the session (friendly id or externalId), oldest
    /// first, as `{"seq", "timestamp", "body" (parsed JSON), "partId"?}`.
    pub fn in_records(&self, session: &str) -> Vec<serde_json::Value> {
        self.app.in_records(session)
    }

    /// The session's current `.out` records (what trimming left), in wire form:
    /// `{"seq_num", "timestamp", "headers"?, "body"?}`.
    pub fn out_records(&self, session: &str) -> Vec<serde_json::Value> {
        self.app.out_records(session)
    }

    /// A JWT signed like the server's own, with these scopes.
    pub fn mint_token(&self, scopes: &[&str], ttl: Duration) -> String {
        self.app.tokens.mint(scopes.iter().map(|s| s.to_string()).collect(), ttl)
    }

    /// The session's runs, oldest first.
    pub fn run_ids(&self, session: &str) -> Vec<String> {
        self.app.run_ids(session)
    }

    /// Ends the session's live run now (status CANCELED), as if it crashed.
    pub fn kill_run(&self, session: &str) {
        self.app.kill_run(session);
    }

    /// Stops serving and drops every connection. Never hangs.
    pub fn shutdown(mut self) {
        self.stop_now();
    }

    fn stop_now(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(rt) = self.runtime.take() {
            // Blocking on shutdown is not allowed from inside another runtime.
            if Handle::try_current().is_ok() {
                rt.shutdown_background();
            } else {
                rt.shutdown_timeout(Duration::from_secs(2));
            }
        }
    }
}

impl Drop for DevServer {
    fn drop(&mut self) {
        self.stop_now();
    }
}

impl std::fmt::Debug for DevServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DevServer").field("addr", &self.addr).finish_non_exhaustive()
    }
}
