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
    wait_for_signal();
    server.shutdown();
}

fn wait_for_signal() {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("signal runtime");
    rt.block_on(async {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{signal, SignalKind};
            let mut term = signal(SignalKind::terminate()).expect("SIGTERM handler");
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
        }
        #[cfg(not(unix))]
        {
            let _ = tokio::signal::ctrl_c().await;
        }
    });
}
