//! The tchat side of the WAN benchmark (`benches/wan/run.sh`, `make bench-wan`): one user's
//! conversation with the demo agent over an emulated 50 ms round trip, TLS 1.3 with certificate
//! checks on (the benchmark's private CA, trusted through `with_extra_root_certs_pem`).
//! `benches/wan/official.mjs` holds the identical conversation with the official `AgentChat`.
//!
//! 1. open chat A (cold client: its first TCP + TLS connection) -> ready;
//! 2. WAN_TURNS_1S turns on chat A, the first right after the open, then each 1 s after the
//!    previous turn completed;
//! 3. after 1 s, open chat B on the same client (warm) -> ready; WAN_TURNS_5S turns on it, 5 s apart;
//! 4. WAN_STOPS times on chat B, 1 s apart: send `/slow 200`, at the first text delta call
//!    `stop(None)`; time until it returns and until the turn's end (`TurnComplete`, stopped).
//!
//! Every turn sends "message number N for the benchmark run" (the demo agent answers with 9 text
//! deltas, --delta-delay-ms apart) and measures from just before `send_text`: its return, the first
//! chunk, the first `text-delta` chunk and `TurnComplete`. Steady state (the report's figures)
//! is turn 2 onwards of each phase.
//!
//! Output: one JSON object per line on stdout (`kind` open | turn | stop | done), durations in ms,
//! `t_*` in Unix epoch ms (the TLS terminator logs its connections on the same clock, so run.sh's
//! report can count connections and handshakes per turn). Progress goes to stderr.
//!
//! Env: WAN_URL (https://10.77.0.2:8443), WAN_CA_PEM (path of the CA certificate, PEM; required),
//! WAN_TURNS_1S (15), WAN_TURNS_5S (8), WAN_STOPS (5), WAN_SECRET (tr_dev_tchat_local).

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::{json, Value};
use tchat::{Chat, ChatOptions, Client, ClientConfig, Event};

const EVENT_TIMEOUT: Duration = Duration::from_secs(30);

fn env_or(name: &str, default: &str) -> String {
    std::env::var(name).ok().filter(|v| !v.is_empty()).unwrap_or_else(|| default.to_owned())
}

fn env_count(name: &str, default: usize) -> usize {
    env_or(name, &default.to_string()).parse().unwrap_or_else(|_| fail(&format!("{name} must be a number")))
}

fn fail(msg: &str) -> ! {
    eprintln!("wan_client (tchat): {msg}");
    std::process::exit(1)
}

fn epoch_ms() -> f64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs_f64() * 1e3).unwrap_or(0.0)
}

fn ms(d: Duration) -> f64 {
    (d.as_secs_f64() * 1e6).round() / 1e3
}

fn emit(mut line: Value) {
    line["client"] = json!("tchat");
    println!("{line}");
}

fn next(chat: &Chat, what: &str) -> Event {
    match chat.next_event(EVENT_TIMEOUT) {
        Some(Event::Error(e)) => fail(&format!("{what}: error event: {e}")),
        Some(ev) => ev,
        None => fail(&format!("{what}: no event within {} s", EVENT_TIMEOUT.as_secs())),
    }
}

fn open(client: &Client, which: &str) -> Chat {
    let (t0, start) = (epoch_ms(), Instant::now());
    let chat = client.open(ChatOptions::new("demo")).unwrap_or_else(|e| fail(&format!("open ({which}): {e}")));
    emit(
        json!({"kind": "open", "which": which, "version": tchat::VERSION, "ms": ms(start.elapsed()), "t0": t0, "t1": epoch_ms()}),
    );
    chat
}

fn turn(chat: &Chat, phase: &str, n: usize) {
    let text = format!("message number {n} for the benchmark run");
    let t_send = epoch_ms();
    let start = Instant::now();
    chat.send_text(&text).unwrap_or_else(|e| fail(&format!("{phase} turn {n}: send_text: {e}")));
    let send = start.elapsed();
    let (mut first_chunk, mut first_delta, mut deltas) = (None, None, 0);
    for _ in 0..1000 {
        match next(chat, &format!("{phase} turn {n}")) {
            Event::Chunk(c) => {
                first_chunk.get_or_insert_with(|| start.elapsed());
                if c.chunk_type == "text-delta" {
                    first_delta.get_or_insert_with(|| start.elapsed());
                    deltas += 1;
                }
            }
            Event::TurnComplete(t) => {
                let complete = start.elapsed();
                if t.error_text.is_some() || t.stopped || t.incomplete {
                    fail(&format!("{phase} turn {n}: turn ended abnormally: {t:?}"));
                }
                if deltas != 9 {
                    fail(&format!("{phase} turn {n}: {deltas} text deltas, expected 9"));
                }
                emit(json!({
                    "kind": "turn", "phase": phase, "turn": n, "t_send": t_send, "t_end": epoch_ms(),
                    "send_ms": ms(send), "first_chunk_ms": ms(first_chunk.unwrap_or_default()),
                    "first_delta_ms": ms(first_delta.unwrap_or_default()), "complete_ms": ms(complete),
                    "deltas": deltas,
                }));
                return;
            }
            other => eprintln!("wan_client (tchat): {phase} turn {n}: {other:?}"),
        }
    }
    fail(&format!("{phase} turn {n}: over 1000 events"))
}

fn stop_once(chat: &Chat, n: usize) {
    chat.send_text("/slow 200").unwrap_or_else(|e| fail(&format!("stop {n}: send_text: {e}")));
    loop {
        match next(chat, &format!("stop {n}: first delta of /slow 200")) {
            Event::Chunk(c) if c.chunk_type == "text-delta" => break,
            Event::TurnComplete(_) => fail(&format!("stop {n}: the /slow turn ended before its first delta")),
            _ => {}
        }
    }
    let t_stop = epoch_ms();
    let start = Instant::now();
    chat.stop(None).unwrap_or_else(|e| fail(&format!("stop {n}: stop: {e}")));
    let returned = start.elapsed();
    for _ in 0..1000 {
        if let Event::TurnComplete(t) = next(chat, &format!("stop {n}: the stopped turn's end")) {
            emit(json!({
                "kind": "stop", "turn": n, "t_stop": t_stop, "t_end": epoch_ms(),
                "stop_return_ms": ms(returned), "stop_end_ms": ms(start.elapsed()), "stopped": t.stopped,
            }));
            return;
        }
    }
    fail(&format!("stop {n}: over 1000 events before the turn's end"))
}

fn main() {
    let url = env_or("WAN_URL", "https://10.77.0.2:8443");
    let ca_path =
        std::env::var("WAN_CA_PEM").unwrap_or_else(|_| fail("WAN_CA_PEM (the CA certificate's path) is not set"));
    let pem = std::fs::read(&ca_path).unwrap_or_else(|e| fail(&format!("read {ca_path}: {e}")));
    let (turns_1s, turns_5s, stops) =
        (env_count("WAN_TURNS_1S", 15), env_count("WAN_TURNS_5S", 8), env_count("WAN_STOPS", 5));
    if turns_1s < 2 || turns_5s < 2 {
        fail("WAN_TURNS_1S and WAN_TURNS_5S must be at least 2 (turn 1 is not steady state)");
    }
    eprintln!(
        "wan_client (tchat {}): {url}, {turns_1s} turns 1 s apart, {turns_5s} turns 5 s apart, {stops} stops",
        tchat::VERSION
    );

    let client = Client::new(
        ClientConfig::new(env_or("WAN_SECRET", "tr_dev_tchat_local"))
            .with_base_url(&url)
            .with_extra_root_certs_pem(pem),
    )
    .unwrap_or_else(|e| fail(&format!("client: {e}")));

    let chat = open(&client, "cold");
    for n in 1..=turns_1s {
        if n > 1 {
            std::thread::sleep(Duration::from_secs(1));
        }
        turn(&chat, "1s", n);
    }
    std::thread::sleep(Duration::from_secs(1));
    let chat = open(&client, "warm");
    for n in 1..=turns_5s {
        if n > 1 {
            std::thread::sleep(Duration::from_secs(5));
        }
        turn(&chat, "5s", n);
    }
    for n in 1..=stops {
        std::thread::sleep(Duration::from_secs(1));
        stop_once(&chat, n);
    }
    emit(json!({"kind": "done", "t": epoch_ms()}));
}
