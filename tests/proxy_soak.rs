//! The project's own randomized fault soak: a fault-injecting TCP proxy between tchat and the
//! devserver (independent of the devserver's in-process faults), seeded trials of every kind a
//! network does to a client, and for each trial the checks a user would make: the transcript is
//! exact, every message reached the server exactly once, no error event for a transient fault,
//! and no call and no turn took longer than its bound.
//!
//! `cargo test --release --test proxy_soak` runs `TCHAT_SOAK_TRIALS` trials (default 60, a short
//! run for `make test`); `make soak TRIALS=1000` is the long run. `TCHAT_SOAK_SEED` replays a run.
//! The summary prints the recovery time (turn time minus the fault-free turn time) p50/p99 per
//! fault kind.

mod common;

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use common::*;
use tchat::{Chat, ChatOptions, Client, ClientConfig, Event, RetryPolicy};
use tchat_devserver::RunMode;

/// What the proxy does to one connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Fault {
    /// Forward both ways untouched.
    None,
    /// Forward the request, then end the answer with FIN after `n` bytes.
    CutFin(usize),
    /// Forward the request, then reset the connection after `n` bytes of the answer.
    CutRst(usize),
    /// Forward, holding the answer after `n` bytes for `ms` (silence).
    Stall(usize, u64),
    /// Forward the answer in pieces of 1..=7 bytes.
    Tiny,
    /// Answer this status without forwarding (the server never sees the request).
    Status(u16),
    /// Reset the connection without forwarding.
    ResetRequest,
    /// Wait `ms` before forwarding the request.
    Delay(u64),
    /// Forward the request and read the server's whole answer, then reset the connection
    /// without sending any of it: the work is done, the client must retry without repeating it.
    LoseAnswer,
}

impl Fault {
    fn kind(self) -> &'static str {
        match self {
            Fault::None => "none",
            Fault::CutFin(_) => "cut-fin",
            Fault::CutRst(_) => "cut-rst",
            Fault::Stall(..) => "stall",
            Fault::Tiny => "tiny-pieces",
            Fault::Status(408) => "status-408",
            Fault::Status(429) => "status-429",
            Fault::Status(_) => "status-5xx",
            Fault::ResetRequest => "reset-request",
            Fault::Delay(_) => "delayed-request",
            Fault::LoseAnswer => "lost-answer",
        }
    }
}

/// A small deterministic generator (xorshift64*): trials replay from their seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

/// The trial's fault, drawn from its seed.
fn draw(rng: &mut Rng) -> Fault {
    match rng.below(10) {
        0 => Fault::CutFin(rng.below(600) as usize),
        1 => Fault::CutRst(rng.below(600) as usize),
        2 => Fault::Stall(rng.below(400) as usize, 1500 + rng.below(1500)),
        3 => Fault::Tiny,
        4 => Fault::Status([500, 502, 503, 504][rng.below(4) as usize]),
        5 => Fault::Status(429),
        6 => Fault::Status(408),
        7 => Fault::ResetRequest,
        8 => Fault::Delay(100 + rng.below(400)),
        _ => Fault::LoseAnswer,
    }
}

/// Faults queued for the next connections of each kind of request; anything else passes.
#[derive(Default)]
struct Plan {
    /// For `.out` stream requests.
    stream: Vec<Fault>,
    /// For REST requests (create, append, close, trigger, run, session).
    rest: Vec<Fault>,
}

struct Proxy {
    addr: std::net::SocketAddr,
    plan: Arc<Mutex<Plan>>,
    stop: Arc<AtomicBool>,
    connections: Arc<AtomicU64>,
}

impl Proxy {
    fn start(upstream: std::net::SocketAddr) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let plan = Arc::new(Mutex::new(Plan::default()));
        let stop = Arc::new(AtomicBool::new(false));
        let connections = Arc::new(AtomicU64::new(0));
        let (p, s, c) = (plan.clone(), stop.clone(), connections.clone());
        thread::spawn(move || {
            for client in listener.incoming() {
                if s.load(Ordering::SeqCst) {
                    return;
                }
                let Ok(client) = client else { continue };
                c.fetch_add(1, Ordering::SeqCst);
                let plan = p.clone();
                thread::spawn(move || {
                    let _ = serve(client, upstream, &plan);
                });
            }
        });
        Proxy { addr, plan, stop, connections }
    }

    fn set(&self, plan: Plan) {
        *self.plan.lock().unwrap() = plan;
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(self.addr);
    }
}

/// Resets `s` on close (SO_LINGER 0) instead of ending it with FIN.
fn reset(s: TcpStream) {
    let linger = libc::linger { l_onoff: 1, l_linger: 0 };
    // SAFETY: a valid socket and a properly sized linger struct.
    unsafe {
        libc::setsockopt(
            s.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_LINGER,
            (&linger as *const libc::linger).cast(),
            std::mem::size_of::<libc::linger>() as libc::socklen_t,
        );
    }
    drop(s);
}

/// Reads one HTTP request head and body; `Connection: close` is forced, so each connection
/// carries one request and the answer ends at EOF.
fn read_request(client: &mut TcpStream) -> std::io::Result<(Vec<u8>, bool)> {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        if client.read(&mut byte)? == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        head.push(byte[0]);
    }
    let text = String::from_utf8_lossy(&head).to_string();
    let is_stream = text.starts_with("GET ") && text.split_whitespace().nth(1).is_some_and(|p| p.ends_with("/out"));
    let length = text
        .lines()
        .find_map(|l| {
            l.split_once(':')
                .filter(|(k, _)| k.eq_ignore_ascii_case("content-length"))
                .map(|(_, v)| v.trim().parse::<usize>().unwrap_or(0))
        })
        .unwrap_or(0);
    let mut body = vec![0u8; length];
    client.read_exact(&mut body)?;
    let mut rewritten: Vec<u8> = text
        .lines()
        .filter(|l| !l.is_empty() && !l.to_ascii_lowercase().starts_with("connection:"))
        .flat_map(|l| format!("{l}\r\n").into_bytes())
        .collect();
    rewritten.extend_from_slice(b"Connection: close\r\n\r\n");
    rewritten.extend_from_slice(&body);
    Ok((rewritten, is_stream))
}

fn serve(mut client: TcpStream, upstream: std::net::SocketAddr, plan: &Mutex<Plan>) -> std::io::Result<()> {
    client.set_read_timeout(Some(Duration::from_secs(30)))?;
    let (request, is_stream) = read_request(&mut client)?;
    let fault = {
        let mut p = plan.lock().unwrap();
        let queue = if is_stream { &mut p.stream } else { &mut p.rest };
        if queue.is_empty() {
            Fault::None
        } else {
            queue.remove(0)
        }
    };
    match fault {
        Fault::Status(status) => {
            let extra = match status {
                429 => {
                    let reset_ms =
                        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() + 150;
                    format!("x-ratelimit-reset: {reset_ms}\r\n")
                }
                503 => "retry-after: 0\r\n".to_string(),
                _ => String::new(),
            };
            let body = format!("{{\"error\":\"injected {status} by the soak proxy\"}}");
            write!(client, "HTTP/1.1 {status} Injected\r\ncontent-type: application/json\r\ncontent-length: {}\r\n{extra}connection: close\r\n\r\n{body}", body.len())?;
            return Ok(());
        }
        Fault::ResetRequest => {
            reset(client);
            return Ok(());
        }
        Fault::Delay(ms) => thread::sleep(Duration::from_millis(ms)),
        _ => {}
    }
    let mut server = TcpStream::connect(upstream)?;
    server.write_all(&request)?;
    if fault == Fault::LoseAnswer {
        let mut sink = Vec::new();
        let _ = server.read_to_end(&mut sink);
        reset(client);
        return Ok(());
    }
    // Copy the answer, applying the fault at its byte offset (chunked framing included: a cut
    // there is what a dropped connection looks like to the client).
    let mut sent = 0usize;
    let mut buf = [0u8; 8192];
    let mut stalled = false;
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15 ^ request.len() as u64);
    loop {
        let n = server.read(&mut buf)?;
        if n == 0 {
            let _ = client.shutdown(Shutdown::Write);
            return Ok(());
        }
        let mut piece = &buf[..n];
        while !piece.is_empty() {
            let offset = match fault {
                Fault::CutFin(at) | Fault::CutRst(at) | Fault::Stall(at, _) => Some(at),
                _ => None,
            };
            if offset.is_some_and(|at| sent >= at) {
                match fault {
                    Fault::CutFin(_) => {
                        let _ = client.shutdown(Shutdown::Both);
                        return Ok(());
                    }
                    Fault::CutRst(_) => {
                        reset(client);
                        return Ok(());
                    }
                    Fault::Stall(_, ms) if !stalled => {
                        stalled = true;
                        thread::sleep(Duration::from_millis(ms));
                    }
                    _ => {}
                }
            }
            let take = match (fault, offset) {
                (_, Some(at)) if sent < at => piece.len().min(at - sent),
                (Fault::Tiny, _) => piece.len().min(1 + rng.below(7) as usize),
                _ => piece.len(),
            };
            let (now, rest) = piece.split_at(take);
            client.write_all(now)?;
            client.flush()?;
            sent += now.len();
            piece = rest;
        }
    }
}

/// One trial: a conversation through the proxy with `fault` on some of its connections.
struct Outcome {
    kind: &'static str,
    turn_ms: Vec<u128>,
}

const MESSAGES: [&str; 3] = ["hello through the proxy", "/slow 12", "the last words of this trial"];

fn expected(text: &str) -> String {
    if let Some(n) = text.strip_prefix("/slow ") {
        let n: usize = n.parse().unwrap();
        return (1..=n).map(|i| format!("tick {i}")).collect::<Vec<_>>().join(" ");
    }
    format!("You said: {text}")
}

/// Collects one turn; panics on an error event (no fault here is permanent) or past `bound`.
fn turn_text(chat: &Chat, bound: Duration, what: &str) -> String {
    let deadline = Instant::now() + bound;
    let mut text = String::new();
    loop {
        let left = deadline.checked_duration_since(Instant::now()).unwrap_or_else(|| {
            panic!(
                "{what}: the turn exceeded {bound:?} (text so far {text:?}; turn in flight: {}; state {})",
                chat.is_turn_in_flight(),
                chat.save_state()
            )
        });
        match chat.next_event(left) {
            Some(Event::Chunk(c)) if c.chunk_type == "text-delta" => text.push_str(c.delta.as_deref().unwrap_or("")),
            Some(Event::TurnComplete(_)) => return text,
            Some(Event::Error(e)) => panic!("{what}: an error event for a transient fault: {e}"),
            _ => {}
        }
    }
}

fn trial(server: &tchat_devserver::DevServer, proxy: &Proxy, seed: u64, n: u64) -> Outcome {
    let mut rng = Rng(seed ^ (n + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15));
    let fault = draw(&mut rng);
    let config = ClientConfig::new(server.secret_key())
        .with_base_url(format!("http://{}", proxy.addr))
        .with_connect_timeout(Duration::from_millis(1000))
        .with_response_timeout(Duration::from_millis(1500))
        .with_stall_timeout(Duration::from_millis(1000))
        .with_long_poll(Duration::from_secs(5))
        .with_retry(RetryPolicy {
            base_delay: Duration::from_millis(50),
            max_delay: Duration::from_millis(500),
            max_attempts: 8,
            ..RetryPolicy::default()
        });
    let client = Client::new(config).unwrap();
    let what = format!("trial {n} (seed {seed}, {fault:?})");
    // The documented bounds: a REST call, 8 attempts of (connect + response timeout) plus its
    // waits; a turn, its stall timeout and reconnects on top of the agent's own time.
    let call_bound = Duration::from_secs(25);
    let turn_bound = Duration::from_secs(30);

    proxy.set(Plan::default());
    let mut chat = client.open(ChatOptions::new("demo").with_chat_id(format!("proxy-{seed}-{n}"))).unwrap();
    let mut turn_ms = Vec::new();
    for (i, message) in MESSAGES.iter().enumerate() {
        // The fault hits one or two connections, of the stream or of the REST calls.
        let count = 1 + rng.below(2) as usize;
        let on_stream = rng.below(2) == 0;
        proxy.set(if on_stream {
            Plan { stream: vec![fault; count], rest: Vec::new() }
        } else {
            Plan { stream: Vec::new(), rest: vec![fault; count] }
        });
        let started = Instant::now();
        chat.send_text(message).unwrap_or_else(|e| panic!("{what}: send {i} failed: {e}"));
        assert!(started.elapsed() < call_bound, "{what}: send {i} took {:?}", started.elapsed());
        let text = if i == 1 && rng.below(2) == 0 {
            // Mid-turn: save, free, restore, and finish the turn on the restored chat.
            let mut first = String::new();
            let mut done = false;
            while first.matches("tick").count() < 3 && !done {
                match chat.next_event(turn_bound) {
                    Some(Event::Chunk(c)) if c.chunk_type == "text-delta" => {
                        first.push_str(c.delta.as_deref().unwrap_or(""))
                    }
                    Some(Event::Error(e)) => panic!("{what}: error event: {e}"),
                    Some(Event::TurnComplete(_)) | None => done = true,
                    _ => {}
                }
            }
            let saved = chat.save_state();
            drop(chat);
            chat = client.restore(&saved).unwrap();
            if done {
                first
            } else {
                first + &turn_text(&chat, turn_bound, &what)
            }
        } else {
            turn_text(&chat, turn_bound, &what)
        };
        assert_eq!(text, expected(message), "{what}: message {i}");
        turn_ms.push(started.elapsed().as_millis());
    }
    proxy.set(Plan::default());
    let sent: Vec<String> = in_messages(server, chat.session_id()).into_iter().map(|(_, t)| t).collect();
    assert_eq!(sent, MESSAGES, "{what}: every message reached the server exactly once");
    Outcome { kind: fault.kind(), turn_ms }
}

fn percentile(sorted: &[u128], p: f64) -> u128 {
    if sorted.is_empty() {
        return 0;
    }
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

#[test]
fn proxy_soak() {
    let trials: u64 = std::env::var("TCHAT_SOAK_TRIALS").ok().and_then(|v| v.parse().ok()).unwrap_or(60);
    let seed: u64 = std::env::var("TCHAT_SOAK_SEED").ok().and_then(|v| v.parse().ok()).unwrap_or(0x7C4A7);
    let server = server_with(RunMode::Server, |c| {
        c.delta_delay = Duration::from_millis(5);
        c.ping_interval = Duration::from_millis(300);
    });
    let proxy = Proxy::start(server.addr());
    // The fault-free reference for recovery times.
    let baseline = {
        let clean = trial_baseline(&server, &proxy);
        clean.turn_ms
    };
    let started = Instant::now();
    let mut by_kind: BTreeMap<&str, Vec<u128>> = BTreeMap::new();
    // `TCHAT_SOAK_ONLY=N` replays trial N alone (with the same seed), with tchat's log on stderr
    // (`TCHAT_SOAK_LOG=1`: the log of every trial).
    let only: Option<u64> = std::env::var("TCHAT_SOAK_ONLY").ok().and_then(|v| v.parse().ok());
    if only.is_some() || std::env::var_os("TCHAT_SOAK_LOG").is_some() {
        let started = Instant::now();
        let logger: tchat::log::Logger = Arc::new(move |level, message: &str| {
            eprintln!("{:>6} ms [{level:?}] {message}", started.elapsed().as_millis())
        });
        tchat::log::set_logger(Some((logger, tchat::log::Level::Debug)));
    }
    for n in (0..trials).filter(|n| only.is_none_or(|o| o == *n)) {
        let outcome = trial(&server, &proxy, seed, n);
        let entry = by_kind.entry(outcome.kind).or_default();
        for (i, ms) in outcome.turn_ms.iter().enumerate() {
            entry.push(ms.saturating_sub(baseline[i]));
        }
    }
    eprintln!(
        "proxy soak: {trials} trials (seed {seed}) in {:?}, {} proxied connections: 0 lost, 0 duplicated, 0 hung, 0 sent twice, 0 error events",
        started.elapsed(),
        proxy.connections.load(Ordering::SeqCst)
    );
    eprintln!("recovery time per fault kind (turn time minus the fault-free turn), ms:");
    for (kind, mut v) in by_kind {
        v.sort_unstable();
        eprintln!("  {kind:16} turns {:4}  p50 {:6}  p99 {:6}", v.len(), percentile(&v, 0.5), percentile(&v, 0.99));
    }
}

/// The same conversation with no fault, for the recovery baseline.
fn trial_baseline(server: &tchat_devserver::DevServer, proxy: &Proxy) -> Outcome {
    let client = Client::new(config(server).with_base_url(format!("http://{}", proxy.addr))).unwrap();
    let chat = client.open(ChatOptions::new("demo")).unwrap();
    let mut turn_ms = Vec::new();
    for message in MESSAGES {
        let started = Instant::now();
        chat.send_text(message).unwrap();
        assert_eq!(turn_text(&chat, Duration::from_secs(20), "baseline"), expected(message));
        turn_ms.push(started.elapsed().as_millis());
    }
    Outcome { kind: "none", turn_ms }
}
