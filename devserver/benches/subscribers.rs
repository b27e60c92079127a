//! Scale of the devserver: many concurrent `.out` subscribers held open, and what they cost the
//! server in memory and CPU.
//!
//! Starts the release devserver as a child process on a free loopback port, creates one session
//! per subscriber (secret key `tr_dev_tchat_local`; each session's first run is a preloaded demo
//! agent waiting on `.in`, as for a real chat), opens every `.out` SSE connection at once over a
//! raw `TcpStream` (one small-stack thread each, counting pings), holds them, and prints the
//! server's RSS (`VmRSS`/`VmHWM` from `/proc/<pid>/status`) and CPU (`utime + stime` from
//! `/proc/<pid>/stat`) over the window, next to its RSS before the subscribers.
//!
//! `make bench` runs it (`cargo bench -p tchat-devserver --bench subscribers`). Environment:
//! `SUBSCRIBERS` (default 500), `SUBSCRIBERS_SECONDS` (the hold, default 30),
//! `SUBSCRIBERS_PING_MS` (the server's ping interval, default 5000 like Trigger.dev),
//! `TCHAT_DEVSERVER` (another devserver binary). Linux only (it reads `/proc`).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

const SECRET: &str = "tr_dev_tchat_local";
const STACK: usize = 64 * 1024;

fn env_num(name: &str, default: u64) -> u64 {
    match std::env::var(name) {
        Ok(v) => v.trim().parse().unwrap_or_else(|_| panic!("{name} must be a whole number, not {v:?}")),
        Err(_) => default,
    }
}

fn devserver_bin() -> String {
    if let Ok(p) = std::env::var("TCHAT_DEVSERVER") {
        return p;
    }
    // Cargo builds the package's binary for its benches and says where.
    if let Some(p) = option_env!("CARGO_BIN_EXE_tchat-devserver") {
        return p.to_string();
    }
    concat!(env!("CARGO_MANIFEST_DIR"), "/../target/release/tchat-devserver").to_string()
}

/// The devserver child; killed on drop, so a panic never leaves it running.
struct Server {
    child: Child,
    addr: SocketAddr,
}

impl Server {
    fn start(ping_ms: u64) -> Server {
        let bin = devserver_bin();
        let mut child = Command::new(&bin)
            .args(["--addr", "127.0.0.1:0", "--ping-interval-ms", &ping_ms.to_string()])
            // Runs stay alive through the window: a steady state, not a wave of idle timeouts.
            .args(["--idle-timeout-seconds", "3600"])
            .stdout(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {bin}: {e}"));
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("stdout")).read_line(&mut line).expect("first line");
        let url = line
            .trim()
            .strip_prefix("tchat-devserver listening on http://")
            .unwrap_or_else(|| panic!("unexpected first line {line:?}"));
        let addr = url.parse().expect("address");
        Server { child, addr }
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `(VmRSS, VmHWM)` in KiB.
fn rss_kib(pid: u32) -> (u64, u64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("/proc/<pid>/status");
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|n| n.parse().ok())
            .unwrap_or(0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

/// `utime + stime` of the process, in clock ticks.
fn cpu_ticks(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("/proc/<pid>/stat");
    // The command name is in parentheses and may hold spaces: fields count from after it.
    let rest = &stat[stat.rfind(')').expect("stat format") + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    // After the name, `state` is field 3; utime and stime are fields 14 and 15.
    f[11].parse::<u64>().expect("utime") + f[12].parse::<u64>().expect("stime")
}

fn clock_ticks_per_second() -> u64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(100)
}

/// One HTTP/1.1 request on a fresh connection; returns (status, body).
fn request(addr: SocketAddr, method: &str, path: &str, body: &str) -> (u16, String) {
    let mut s = TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(30))).expect("timeout");
    let req = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {SECRET}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    s.write_all(req.as_bytes()).expect("write");
    let mut resp = String::new();
    s.read_to_string(&mut resp).expect("read");
    let status = resp.get(9..12).and_then(|c| c.parse().ok()).unwrap_or(0);
    let body = resp.split_once("\r\n\r\n").map(|(_, b)| b.to_string()).unwrap_or_default();
    (status, body)
}

#[derive(Default)]
struct Counters {
    connected: AtomicUsize,
    pings: AtomicU64,
    bytes: AtomicU64,
    reconnects: AtomicU64,
    errors: AtomicU64,
}

const PING: &[u8] = b"event: ping\n";

/// Holds one `.out` subscription until `stop`: reads pings, reconnects when a long-poll window
/// ends, and leaves when the server goes away.
fn subscriber(addr: SocketAddr, chat: String, counters: Arc<Counters>, stop: Arc<AtomicUsize>) {
    let mut first = true;
    while stop.load(Ordering::Relaxed) == 0 {
        let Ok(mut s) = TcpStream::connect(addr) else {
            counters.errors.fetch_add(1, Ordering::Relaxed);
            return;
        };
        let req = format!(
            "GET /realtime/v1/sessions/{chat}/out HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {SECRET}\r\n\
             Accept: text/event-stream\r\nTimeout-Seconds: 600\r\n\r\n"
        );
        if s.write_all(req.as_bytes()).is_err() {
            counters.errors.fetch_add(1, Ordering::Relaxed);
            return;
        }
        let mut buf = [0u8; 2048];
        let mut carry: Vec<u8> = Vec::with_capacity(buf.len() + PING.len());
        let mut saw_status = false;
        loop {
            let n = match s.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            counters.bytes.fetch_add(n as u64, Ordering::Relaxed);
            carry.extend_from_slice(&buf[..n]);
            if !saw_status {
                if carry.len() < 12 {
                    continue;
                }
                if &carry[..12] != b"HTTP/1.1 200" {
                    counters.errors.fetch_add(1, Ordering::Relaxed);
                    return;
                }
                saw_status = true;
                if first {
                    counters.connected.fetch_add(1, Ordering::SeqCst);
                    first = false;
                }
            }
            let pings = carry.windows(PING.len()).filter(|w| *w == PING).count();
            counters.pings.fetch_add(pings as u64, Ordering::Relaxed);
            // Keep a tail shorter than a ping line, so a ping split across reads counts once.
            let keep = carry.len().min(PING.len() - 1);
            carry.drain(..carry.len() - keep);
        }
        if stop.load(Ordering::Relaxed) != 0 {
            return;
        }
        if !saw_status {
            counters.errors.fetch_add(1, Ordering::Relaxed);
            return;
        }
        counters.reconnects.fetch_add(1, Ordering::Relaxed);
    }
}

fn mib(kib: u64) -> String {
    format!("{:.1} MiB", kib as f64 / 1024.0)
}

fn main() {
    // `cargo bench` passes `--bench`; nothing else is accepted.
    if std::env::args().skip(1).any(|a| a != "--bench") {
        eprintln!("usage: subscribers (settings come from the environment; see the source)");
        std::process::exit(2);
    }
    let n = env_num("SUBSCRIBERS", 500) as usize;
    let hold = Duration::from_secs(env_num("SUBSCRIBERS_SECONDS", 30));
    let ping_ms = env_num("SUBSCRIBERS_PING_MS", 5000).max(1);
    let tck = clock_ticks_per_second();

    let server = Server::start(ping_ms);
    let pid = server.pid();
    let addr = server.addr;
    thread::sleep(Duration::from_millis(200));
    let (rss_start, _) = rss_kib(pid);

    let t0 = Instant::now();
    let chats: Vec<String> = (0..n).map(|i| format!("bench-subscriber-{i}")).collect();
    for chat in &chats {
        let body = format!(
            r#"{{"type":"chat.agent","externalId":"{chat}","taskIdentifier":"demo","triggerConfig":{{"basePayload":{{"chatId":"{chat}","trigger":"preload","messages":[]}}}}}}"#
        );
        let (status, resp) = request(addr, "POST", "/api/v1/sessions", &body);
        assert!(status == 201 || status == 200, "create session: {status} {resp}");
    }
    let create_time = t0.elapsed();
    thread::sleep(Duration::from_millis(300));
    let (rss_sessions, _) = rss_kib(pid);

    let counters = Arc::new(Counters::default());
    let stop = Arc::new(AtomicUsize::new(0));
    let t1 = Instant::now();
    let mut handles = Vec::with_capacity(n);
    for chat in chats {
        let (c, s) = (counters.clone(), stop.clone());
        let h = thread::Builder::new()
            .name("sub".into())
            .stack_size(STACK)
            .spawn(move || subscriber(addr, chat, c, s))
            .expect("spawn subscriber thread");
        handles.push(h);
    }
    let deadline = Instant::now() + Duration::from_secs(60);
    while counters.connected.load(Ordering::SeqCst) + (counters.errors.load(Ordering::SeqCst) as usize) < n {
        assert!(Instant::now() < deadline, "subscribers did not all connect within 60 s");
        thread::sleep(Duration::from_millis(10));
    }
    let connect_time = t1.elapsed();
    let connected = counters.connected.load(Ordering::SeqCst);

    // The window: 500 idle subscribers, the server only pinging.
    let cpu0 = cpu_ticks(pid);
    let (rss_open, _) = rss_kib(pid);
    let pings0 = counters.pings.load(Ordering::Relaxed);
    let w0 = Instant::now();
    let mut rss_max = rss_open;
    while w0.elapsed() < hold {
        thread::sleep(Duration::from_millis(250).min(hold.saturating_sub(w0.elapsed())));
        rss_max = rss_max.max(rss_kib(pid).0);
    }
    let window = w0.elapsed();
    let cpu1 = cpu_ticks(pid);
    let (rss_end, hwm) = rss_kib(pid);
    let pings = counters.pings.load(Ordering::Relaxed) - pings0;

    stop.store(1, Ordering::SeqCst);
    drop(server); // the subscribers see EOF and leave
    for h in handles {
        let _ = h.join();
    }

    let cpu_s = (cpu1 - cpu0) as f64 / tck as f64;
    let per_sub = rss_end.saturating_sub(rss_sessions) as f64 / connected.max(1) as f64;
    println!(
        "devserver subscribers: {connected}/{n} concurrent .out subscribers held {:.1} s (server pings every {ping_ms} ms)",
        window.as_secs_f64()
    );
    println!(
        "  server RSS before: {} at start, {} with {n} sessions (each with a waiting agent run)",
        mib(rss_start),
        mib(rss_sessions)
    );
    println!(
        "  server RSS with the subscribers: VmRSS {} at open, {} at end, max sampled {}, VmHWM {}  (~{:.1} KiB per subscriber)",
        mib(rss_open),
        mib(rss_end),
        mib(rss_max),
        mib(hwm),
        per_sub
    );
    println!(
        "  server CPU over the window: {:.2} s utime+stime ({:.2}% of one core)",
        cpu_s,
        100.0 * cpu_s / window.as_secs_f64()
    );
    println!(
        "  pings received in the window: {pings} ({:.1} per subscriber, expected ~{:.1}); bytes read {}; reconnects {}; errors {}",
        pings as f64 / connected.max(1) as f64,
        window.as_secs_f64() * 1000.0 / ping_ms as f64,
        counters.bytes.load(Ordering::Relaxed),
        counters.reconnects.load(Ordering::Relaxed),
        counters.errors.load(Ordering::Relaxed)
    );
    println!(
        "  setup: {n} sessions created in {:.2} s, subscribers connected in {:.2} s",
        create_time.as_secs_f64(),
        connect_time.as_secs_f64()
    );
    if connected < n {
        eprintln!("subscribers: only {connected} of {n} subscribers connected");
        std::process::exit(1);
    }
}
