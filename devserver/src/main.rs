//! `tchat-devserver`: run the local Trigger.dev sessions API until SIGINT or SIGTERM.

use std::io::Write;
use std::net::SocketAddr;
use std::time::Duration;

use clap::{Parser, ValueEnum};
use tchat_devserver::{Config, DevServer, RunMode, DEFAULT_SECRET_KEY};

#[derive(Clone, Copy, Debug, ValueEnum)]
enum Runs {
    Server,
    Client,
}

/// A local Trigger.dev sessions API with a deterministic demo agent.
#[derive(Parser, Debug)]
#[command(version, about)]
struct Args {
    /// Address to listen on (port 0 picks a free port).
    #[arg(long, default_value = "127.0.0.1:0")]
    addr: SocketAddr,
    /// The environment's secret API key, also the JWT signing key.
    #[arg(long, default_value = DEFAULT_SECRET_KEY, hide_default_value = true)]
    secret_key: String,
    /// Who starts runs: the server (today's Trigger.dev) or the client (the seed flow).
    #[arg(long, value_enum, default_value = "server")]
    runs: Runs,
    #[arg(long, default_value_t = 5000)]
    ping_interval_ms: u64,
    #[arg(long, default_value_t = 60)]
    long_poll_seconds: u64,
    /// Delay between the demo agent's text deltas.
    #[arg(long, default_value_t = 20)]
    delta_delay_ms: u64,
    /// A run with no input for this long ends.
    #[arg(long, default_value_t = 30)]
    idle_timeout_seconds: u64,
}

fn main() {
    let args = Args::parse();
    let config = Config {
        addr: args.addr,
        secret_key: args.secret_key,
        runs: match args.runs {
            Runs::Server => RunMode::Server,
            Runs::Client => RunMode::Client,
        },
        ping_interval: Duration::from_millis(args.ping_interval_ms),
        long_poll: Duration::from_secs(args.long_poll_seconds),
        delta_delay: Duration::from_millis(args.delta_delay_ms),
        idle_timeout: Duration::from_secs(args.idle_timeout_seconds),
    };
    // Signal handlers go in before the URL is printed: a script may send SIGINT the moment it
    // reads the line, and a background process starts with SIGINT ignored.
    let signals = Signals::install();
    let server = match DevServer::start(config) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("tchat-devserver: cannot start: {e}");
            std::process::exit(1);
        }
    };
    {
        // Scripts wait for this line to learn the port: it must be first and flushed.
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "tchat-devserver listening on {}", server.base_url());
        let _ = out.flush();
    }
    signals.wait();
    server.shutdown();
}

/// SIGINT and SIGTERM, on a small runtime of their own.
struct Signals {
    rt: tokio::runtime::Runtime,
    #[cfg(unix)]
    int: tokio::signal::unix::Signal,
    #[cfg(unix)]
    term: tokio::signal::unix::Signal,
}

impl Signals {
    fn install() -> Signals {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("signal runtime");
        #[cfg(unix)]
        {
            use tokio::signal::unix::{signal, SignalKind};
            let _guard = rt.enter();
            let int = signal(SignalKind::interrupt()).expect("SIGINT handler");
            let term = signal(SignalKind::terminate()).expect("SIGTERM handler");
            drop(_guard);
            Signals { rt, int, term }
        }
        #[cfg(not(unix))]
        Signals { rt }
    }

    fn wait(self) {
        #[cfg(unix)]
        {
            let Signals { rt, mut int, mut term } = self;
            rt.block_on(async {
                tokio::select! {
                    _ = int.recv() => {}
                    _ = term.recv() => {}
                }
            });
        }
        #[cfg(not(unix))]
        {
            let _ = self.rt.block_on(tokio::signal::ctrl_c());
        }
    }
}
