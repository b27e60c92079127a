//! End-to-end figures of the blocking client against a devserver child process on loopback:
//! time to first chunk, per-turn time, cancel (drop/stop) latency while blocked in a read, and the
//! memory of 1,000 open idle chats.
//!
//! Run with `make bench` (which builds the release devserver first). Env `TCHAT_DEVSERVER` overrides
//! the devserver binary; `BENCH_CHATS` the number of idle chats (default 1000).

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use tchat::{ChatOptions, Client, ClientConfig, Event};

const SECRET: &str = "tr_dev_tchat_local";

struct Server {
    child: Child,
    url: String,
}

impl Server {
    fn start(delta_delay_ms: u64) -> Server {
        let bin = std::env::var("TCHAT_DEVSERVER").unwrap_or_else(|_| "target/release/tchat-devserver".into());
        let mut child = Command::new(&bin)
            .args([
                "--addr",
                "127.0.0.1:0",
                "--delta-delay-ms",
                &delta_delay_ms.to_string(),
                "--idle-timeout-seconds",
                "600",
            ])
            .stdout(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("start {bin}: {e} (run `cargo build --release -p tchat-devserver`)"));
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
        let url = line.trim().rsplit(' ').next().unwrap().to_owned();
        assert!(url.starts_with("http://127.0.0.1:"), "unexpected first line {line:?}");
        Server { child, url }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn client(server: &Server) -> Client {
    Client::new(ClientConfig::new(SECRET).with_base_url(&server.url)).unwrap()
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

fn report(name: &str, mut samples: Vec<Duration>) {
    samples.sort();
    println!(
        "  {name:<44} p50 {:>9.3} ms   p99 {:>9.3} ms   max {:>9.3} ms   (n={})",
        percentile(&samples, 0.5).as_secs_f64() * 1e3,
        percentile(&samples, 0.99).as_secs_f64() * 1e3,
        samples.last().unwrap().as_secs_f64() * 1e3,
        samples.len()
    );
}

fn rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// Waits for the turn to complete; returns (first chunk, turn complete) measured from `start`.
fn wait_turn(chat: &tchat::Chat, start: Instant) -> (Duration, Duration) {
    let mut first = None;
    loop {
        match chat.next_event(Duration::from_secs(20)).expect("event within 20 s") {
            Event::Chunk(_) if first.is_none() => first = Some(start.elapsed()),
            Event::TurnComplete(_) => return (first.unwrap_or_default(), start.elapsed()),
            Event::Error(e) => panic!("{e}"),
            _ => {}
        }
    }
}

fn main() {
    println!("client benchmark (tchat {} against tchat-devserver on loopback)", tchat::VERSION);

    // Time to first chunk and per-turn time: the agent streams 9 deltas with no delay.
    {
        let server = Server::start(0);
        let chat = client(&server).open(ChatOptions::new("demo")).unwrap();
        let (mut ttfc, mut turn) = (Vec::new(), Vec::new());
        for i in 0..300 {
            let start = Instant::now();
            chat.send_text(&format!("message number {i} for the benchmark run")).unwrap();
            let (first, complete) = wait_turn(&chat, start);
            ttfc.push(first);
            turn.push(complete);
        }
        report("send -> first chunk (time to first chunk)", ttfc);
        report("send -> turn complete (9 deltas, no delay)", turn);
    }

    // Cancel latency: drop a chat while its reader is blocked in a read between deltas.
    {
        let server = Server::start(500);
        let client = client(&server);
        let mut drops = Vec::new();
        let mut stops = Vec::new();
        for _ in 0..30 {
            let chat = client.open(ChatOptions::new("demo")).unwrap();
            chat.send_text("/slow 100").unwrap();
            while !matches!(chat.next_event(Duration::from_secs(20)), Some(Event::Chunk(_))) {}
            let start = Instant::now();
            chat.stop(None).unwrap();
            stops.push(start.elapsed());
            let start = Instant::now();
            drop(chat);
            drops.push(start.elapsed());
        }
        report("stop() while streaming (returns)", stops);
        report("drop(chat) while blocked in a read", drops);
    }

    // Memory of idle chats: opened (session created, agent preloaded), no turn in flight.
    {
        let n: usize = std::env::var("BENCH_CHATS").ok().and_then(|v| v.parse().ok()).unwrap_or(1000);
        let server = Server::start(0);
        let client = client(&server);
        // Warm up the allocator and TLS/HTTP state with one chat first.
        let warm = client.open(ChatOptions::new("demo")).unwrap();
        let before = rss_kib();
        let start = Instant::now();
        let chats: Vec<_> = (0..n).map(|_| client.open(ChatOptions::new("demo")).unwrap()).collect();
        let open_time = start.elapsed();
        let after = rss_kib();
        println!(
            "  {n} idle chats: RSS +{} KiB ({:.1} KiB per chat), opened in {:.2} s ({:.2} ms per open)",
            after.saturating_sub(before),
            after.saturating_sub(before) as f64 / n as f64,
            open_time.as_secs_f64(),
            open_time.as_secs_f64() * 1e3 / n as f64
        );
        let start = Instant::now();
        drop(chats);
        println!("  dropping {n} idle chats: {:.1} ms", start.elapsed().as_secs_f64() * 1e3);
        drop(warm);
    }

    // What warm chats cost (ClientConfig::with_keep_warm, on by default): each had one turn and holds
    // its `.out` long-poll open for the next one; next to the same chats with keep-warm off, whose
    // readers sleep between turns. The devserver pings every 5 s, as by default.
    let n: usize = std::env::var("BENCH_CHATS").ok().and_then(|v| v.parse().ok()).unwrap_or(1000);
    for keep_warm in [Duration::ZERO, tchat::DEFAULT_KEEP_WARM] {
        let server = Server::start(0);
        let client =
            Client::new(ClientConfig::new(SECRET).with_base_url(&server.url).with_keep_warm(keep_warm)).unwrap();
        let first = client.open(ChatOptions::new("demo")).unwrap();
        first.send_text("warm-up").unwrap();
        wait_turn(&first, Instant::now());
        let (before, sockets_before) = (rss_kib(), sockets());
        let chats: Vec<_> = (0..n)
            .map(|i| {
                let chat = client.open(ChatOptions::new("demo")).unwrap();
                chat.send_text(&format!("turn of chat {i}")).unwrap();
                wait_turn(&chat, Instant::now());
                chat
            })
            .collect();
        let (after, sockets_after) = (rss_kib(), sockets());
        let (cpu0, switches0, t0) = (cpu_time(), context_switches(), Instant::now());
        std::thread::sleep(Duration::from_secs(10));
        let (cpu1, switches1, wall) = (cpu_time(), context_switches(), t0.elapsed());
        let what =
            if keep_warm.is_zero() { "keep-warm off".to_owned() } else { format!("warm, keep-warm {keep_warm:?}") };
        println!(
            "  {n} chats after one turn ({what}): RSS +{} KiB ({:.1} KiB per chat), {} more sockets ({:.2} per chat)",
            after.saturating_sub(before),
            after.saturating_sub(before) as f64 / n as f64,
            sockets_after.saturating_sub(sockets_before),
            sockets_after.saturating_sub(sockets_before) as f64 / n as f64
        );
        println!(
            "  {n} chats after one turn ({what}), {:.0} s idle: CPU {:.2} % of one core, {:.2} wakeups per chat per second",
            wall.as_secs_f64(),
            (cpu1 - cpu0).as_secs_f64() * 100.0 / wall.as_secs_f64(),
            (switches1 - switches0) as f64 / n as f64 / wall.as_secs_f64()
        );
        drop(chats);
        drop(first);
    }
}

/// Open sockets of this process.
fn sockets() -> usize {
    std::fs::read_dir("/proc/self/fd")
        .map(|d| {
            d.filter_map(|e| std::fs::read_link(e.ok()?.path()).ok())
                .filter(|t| t.to_string_lossy().starts_with("socket:"))
                .count()
        })
        .unwrap_or(0)
}

/// User + system CPU time of this process.
fn cpu_time() -> Duration {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the command's closing parenthesis; utime and stime are the 12th and 13th.
    let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks: u64 = fields.get(11).and_then(|v| v.parse().ok()).unwrap_or(0)
        + fields.get(12).and_then(|v| v.parse().ok()).unwrap_or(0);
    // USER_HZ is 100 on Linux.
    Duration::from_millis(ticks * 10)
}

/// Voluntary context switches of all this process's threads: each is a thread waking from a block.
fn context_switches() -> u64 {
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else { return 0 };
    tasks
        .filter_map(|t| std::fs::read_to_string(t.ok()?.path().join("status")).ok())
        .filter_map(|s| {
            s.lines()
                .find(|l| l.starts_with("voluntary_ctxt_switches:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
        })
        .sum()
}
