//! A soak of conversations at their edges: 50 conversations on five threads, each with its own
//! devserver (three with server-managed runs, two client-managed), each of which reopens its chat, is restored in the middle of a turn, approves
//! or denies a tool call and survives a run killed mid-turn, checking what a user sees and that
//! every message reached the server exactly once.
//!
//! With `TCHAT_SOAK_OUT=path` it also writes every completed turn — its chunks as the application
//! received them, tchat's assembled message and, for a tool-approval continuation, the approval
//! answered — as JSON lines, which `tests/conformance/soak_check.mjs` replays through the AI SDK's
//! `readUIMessageStream` (`make test` does both) to compare the messages.

mod common;

use std::io::Write;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use common::*;
use serde_json::{json, Value};
use tchat::{Chat, ChatOptions, Client, ErrorKind, Event};
use tchat_devserver::{Faults, RunMode};

const CONVERSATIONS: usize = 50;
const THREADS: usize = 5;

/// One completed turn, for the AI SDK comparison.
struct Recorded {
    conversation: String,
    chunks: Vec<Value>,
    tchat: Value,
    continues: Option<Value>,
}

struct Transcript(Mutex<Vec<Recorded>>);

impl Transcript {
    fn add(&self, conversation: &str, chunks: Vec<Value>, tchat: &str, continues: Option<Value>) {
        let tchat = serde_json::from_str(tchat).expect("tchat's message is JSON");
        self.0.lock().unwrap().push(Recorded { conversation: conversation.into(), chunks, tchat, continues });
    }
}

/// Polls one turn, keeping its chunks' JSON. `before` are chunks taken by an earlier chat object
/// of the same turn (a restore mid-turn). Panics on an error event or after `WAIT`.
fn turn_chunks(chat: &Chat, mut chunks: Vec<Value>) -> (Vec<Value>, String, tchat::TurnCompleteEvent) {
    let deadline = Instant::now() + WAIT;
    let mut text = String::new();
    loop {
        let left = deadline.checked_duration_since(Instant::now()).expect("the turn completes in time");
        match chat.next_event(left) {
            Some(Event::Chunk(c)) => {
                if c.chunk_type == "text-delta" {
                    text.push_str(c.delta.as_deref().unwrap_or(""));
                }
                chunks.push(serde_json::from_str(&c.json).unwrap());
            }
            Some(Event::TurnComplete(t)) => return (chunks, text, t),
            Some(Event::Error(e)) => panic!("unexpected error event: {e}"),
            _ => {}
        }
    }
}

fn slow_text(n: usize) -> String {
    (1..=n).map(|i| format!("tick {i}")).collect::<Vec<_>>().join(" ")
}

fn conversation(server: &tchat_devserver::DevServer, client: &Client, mode: RunMode, n: usize, out: &Transcript) {
    let id = format!("soak-{n}");
    let city = ["Paris", "Oslo", "Lima", "Accra", "Hanoi"][n % 5];
    let approved = n % 2 == 0;

    // 1. A first turn, then the chat is dropped and reopened: nothing of it is replayed.
    let chat = client.open(ChatOptions::new("demo").with_chat_id(&id)).unwrap();
    chat.send_text(&format!("hello number {n}")).unwrap();
    let (chunks, text, done) = turn_chunks(&chat, Vec::new());
    assert_eq!(text, format!("You said: hello number {n}"));
    out.add(&id, chunks, &done.message_json, None);
    drop(chat);
    let chat = client.open(ChatOptions::new("demo").with_chat_id(&id)).unwrap();
    assert_eq!(chat.next_event(Duration::from_millis(50)), None, "{id}: a reopened chat replays nothing");
    assert!(chat.last_assistant_message().unwrap().contains(&format!("hello number {n}")));

    // 2. Restored in the middle of a turn.
    chat.send_text("/slow 25").unwrap();
    let mut before = Vec::new();
    while before.iter().filter(|c: &&Value| c["type"] == "text-delta").count() < 3 + n % 7 {
        if let Some(Event::Chunk(c)) = chat.next_event(WAIT) {
            before.push(serde_json::from_str(&c.json).unwrap());
        }
    }
    let saved = chat.save_state();
    drop(chat);
    let chat = client.restore(&saved).unwrap();
    let (chunks, _, done) = turn_chunks(&chat, before);
    let msg: Value = serde_json::from_str(&done.message_json).unwrap();
    let texts: Vec<&Value> = msg["parts"].as_array().unwrap().iter().filter(|p| p["type"] == "text").collect();
    assert_eq!(texts.len(), 1, "{id}: {msg}");
    assert_eq!(texts[0]["text"], slow_text(25));
    out.add(&id, chunks, &done.message_json, None);

    // 3. A tool call approved (or denied): the agent continues the same message.
    chat.send_text(&format!("/tool {city}")).unwrap();
    let (chunks, _, ask) = turn_chunks(&chat, Vec::new());
    out.add(&id, chunks, &ask.message_json, None);
    let approval = ask.pending_approvals[0].clone();
    chat.approve(&approval, approved, None).unwrap();
    let (chunks, text, done) = turn_chunks(&chat, Vec::new());
    let reply = if approved {
        format!("The weather in {city} is sunny, 21°C.")
    } else {
        format!("Okay, I won't check the weather in {city}.")
    };
    assert_eq!(text, reply);
    assert_eq!(chat.last_assistant_message().unwrap(), done.message_json);
    out.add(&id, chunks, &done.message_json, Some(json!({ "approvalId": approval, "approved": approved })));

    // 4. A run killed mid-turn.
    server.set_faults(Faults { kill_run_after_turn_records: Some(4 + (n % 5) as u64), ..Faults::default() });
    chat.send_text("/slow 15").unwrap();
    match mode {
        RunMode::Server => {
            let deadline = Instant::now() + WAIT;
            let error = loop {
                match chat
                    .next_event(deadline.saturating_duration_since(Instant::now()))
                    .expect("an event ends the turn")
                {
                    Event::Error(e) => break e,
                    Event::Chunk(_) => {}
                    other => panic!("{id}: unexpected {other:?}"),
                }
            };
            assert_eq!(error.kind(), ErrorKind::RunEnded, "{id}: {error}");
            chat.send_text("after the crash").unwrap();
            let (chunks, _, done) = turn_chunks(&chat, Vec::new());
            assert!(done.message_json.contains("Noted: after the crash"), "{id}: {}", done.message_json);
            out.add(&id, chunks, &done.message_json, None);
        }
        RunMode::Client => {
            // The continuation answers the unfinished message again; the chunks of the dead run's
            // start of it came first, so only tchat's view is checked here.
            let (_, _, done) = turn_chunks(&chat, Vec::new());
            assert!(done.message_json.contains(&slow_text(15)), "{id}: {}", done.message_json);
        }
    }
    server.set_faults(Faults::default());

    let sent = in_messages(server, chat.session_id()).len();
    let expected = if mode == RunMode::Server { 6 } else { 5 };
    assert_eq!(sent, expected, "{id}: every message reached the server once");
}

#[test]
fn fifty_conversations_at_the_edges() {
    let transcript = Transcript(Mutex::new(Vec::new()));
    let started = Instant::now();
    std::thread::scope(|scope| {
        for t in 0..THREADS {
            let transcript = &transcript;
            scope.spawn(move || {
                // One devserver per thread: faults are server-wide.
                let mode = if t % 2 == 0 { RunMode::Server } else { RunMode::Client };
                let server = server_with(mode, |c| c.delta_delay = Duration::from_millis(2));
                let client = Client::new(config(&server).with_long_poll(Duration::from_secs(1))).unwrap();
                for n in (t..CONVERSATIONS).step_by(THREADS) {
                    conversation(&server, &client, mode, n, transcript);
                }
            });
        }
    });
    let recorded = transcript.0.into_inner().unwrap();
    eprintln!("soak: {CONVERSATIONS} conversations, {} turns recorded, {:?}", recorded.len(), started.elapsed());
    if let Ok(path) = std::env::var("TCHAT_SOAK_OUT") {
        let mut file = std::fs::File::create(&path).expect("create TCHAT_SOAK_OUT");
        for r in &recorded {
            let line = json!({ "conversation": r.conversation, "chunks": r.chunks, "tchat": r.tchat, "continues": r.continues });
            writeln!(file, "{line}").unwrap();
        }
        eprintln!("soak: transcript written to {path}");
    }
}
