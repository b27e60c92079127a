//! Shared helpers of the client integration tests: an in-process devserver on a loopback port, a
//! client configured for it, and bounded event collection (no sleeps: every wait ends on an event or
//! a deadline).
#![allow(dead_code)]

use std::time::{Duration, Instant};

use tchat::{Chat, ChatOptions, Client, ClientConfig, Event, RetryPolicy, TurnCompleteEvent};
use tchat_devserver::{Config, DevServer, RunMode};

/// Upper bound of any single wait in these tests; reaching it fails the test.
pub const WAIT: Duration = Duration::from_secs(20);

/// Runs `test` against each run mode: server-managed runs (today's Trigger.dev), then client-managed.
pub fn both_modes(test: impl Fn(RunMode)) {
    test(RunMode::Server);
    test(RunMode::Client);
}

pub fn server(mode: RunMode) -> DevServer {
    server_with(mode, |_| {})
}

pub fn server_with(mode: RunMode, tweak: impl FnOnce(&mut Config)) -> DevServer {
    let mut config = Config {
        runs: mode,
        delta_delay: Duration::from_millis(1),
        ping_interval: Duration::from_millis(200),
        ..Config::default()
    };
    tweak(&mut config);
    DevServer::start(config).expect("devserver starts")
}

pub fn config(server: &DevServer) -> ClientConfig {
    ClientConfig::new(server.secret_key()).with_base_url(server.base_url()).with_retry(RetryPolicy {
        base_delay: Duration::from_millis(10),
        max_delay: Duration::from_millis(300),
        ..RetryPolicy::default()
    })
}

pub fn client(server: &DevServer) -> Client {
    Client::new(config(server)).expect("client")
}

pub fn open(client: &Client) -> Chat {
    client.open(ChatOptions::new("demo")).expect("open chat")
}

/// What one turn looked like from the application's side.
#[derive(Debug, Clone, Default)]
pub struct Turn {
    pub chunk_types: Vec<String>,
    pub seqs: Vec<u64>,
    /// Text and reasoning deltas concatenated, as received.
    pub text: String,
    pub others: Vec<Event>,
    pub complete: Option<TurnCompleteEvent>,
}

impl Turn {
    pub fn complete(&self) -> &TurnCompleteEvent {
        self.complete.as_ref().expect("turn completed")
    }

    /// The assembled message's text parts, joined.
    pub fn message_text(&self) -> String {
        let v: serde_json::Value = serde_json::from_str(&self.complete().message_json).unwrap();
        v["parts"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|p| p["type"] == "text")
            .map(|p| p["text"].as_str().unwrap().to_owned())
            .collect::<Vec<_>>()
            .join("")
    }
}

/// Polls events until a turn completes, calling `on_chunk` after each chunk (to stop, steer or save
/// mid-turn). Fails on an error event or after [`WAIT`].
pub fn collect_turn_with(chat: &Chat, mut on_chunk: impl FnMut(&Turn)) -> Turn {
    let deadline = Instant::now() + WAIT;
    let mut turn = Turn::default();
    loop {
        let left = deadline.checked_duration_since(Instant::now()).expect("turn did not complete in time");
        match chat.next_event(left) {
            Some(Event::Chunk(c)) => {
                turn.chunk_types.push(c.chunk_type.clone());
                turn.seqs.push(c.seq_num);
                if let Some(d) = &c.delta {
                    if c.chunk_type == "text-delta" {
                        turn.text.push_str(d);
                    }
                }
                on_chunk(&turn);
            }
            Some(Event::TurnComplete(t)) => {
                turn.complete = Some(t);
                return turn;
            }
            Some(Event::Error(e)) => panic!("stream error: {e:?}"),
            Some(other) => turn.others.push(other),
            None => {}
        }
    }
}

pub fn collect_turn(chat: &Chat) -> Turn {
    collect_turn_with(chat, |_| {})
}

/// The `.in` message records the server saw for `session`: (trigger, user text) pairs.
pub fn in_messages(server: &DevServer, session: &str) -> Vec<(String, String)> {
    server
        .in_records(session)
        .iter()
        .filter_map(|r| {
            let body = r.get("body").unwrap_or(r);
            let body: serde_json::Value = match body {
                serde_json::Value::String(s) => serde_json::from_str(s).ok()?,
                other => other.clone(),
            };
            if body["kind"] != "message" {
                return None;
            }
            let payload = &body["payload"];
            let text = payload["message"]["parts"]
                .as_array()
                .map(|parts| parts.iter().filter_map(|p| p["text"].as_str()).collect::<Vec<_>>().join(""))
                .unwrap_or_default();
            Some((payload["trigger"].as_str().unwrap_or("").to_owned(), text))
        })
        .collect()
}
