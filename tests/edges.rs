//! Conversations at their edges, as real apps meet them: reopening a chat that has turns, a run
//! that dies mid-turn, continuations the server starts, a session closed by someone else, and
//! the calls whose outcome the header promises. Both run modes where the point applies.

mod common;

use std::time::{Duration, Instant};

use common::*;
use tchat::{Chat, ChatOptions, Client, ErrorKind, Event};
use tchat_devserver::{DevServer, Faults, RunMode};

/// A client whose long-poll windows last one second, so that empty windows come quickly.
fn quick_client(server: &DevServer) -> Client {
    Client::new(config(server).with_long_poll(Duration::from_secs(1))).expect("client")
}

/// The next event that is not a chunk, or `None` when `within` passes.
fn next_non_chunk(chat: &Chat, within: Duration) -> Option<Event> {
    let deadline = Instant::now() + within;
    loop {
        let left = deadline.checked_duration_since(Instant::now())?;
        match chat.next_event(left)? {
            Event::Chunk(_) => continue,
            other => return Some(other),
        }
    }
}

fn slow_text(n: usize) -> String {
    (1..=n).map(|i| format!("tick {i}")).collect::<Vec<_>>().join(" ")
}

/// Reopening a chat with turns delivers nothing of them; the last answer is state, and the next
/// send gets exactly its own reply.
#[test]
fn reopening_a_chat_replays_nothing() {
    both_modes(|mode| {
        let server = server(mode);
        let client = client(&server);
        let first = client.open(ChatOptions::new("demo").with_chat_id("reopen-me")).unwrap();
        first.send_text("the first question").unwrap();
        assert_eq!(collect_turn(&first).text, "You said: the first question");
        first.send_text("the second question").unwrap();
        collect_turn(&first);
        drop(first);

        let again = client.open(ChatOptions::new("demo").with_chat_id("reopen-me")).unwrap();
        assert!(!again.is_turn_in_flight());
        assert_eq!(again.next_event(Duration::from_millis(300)), None, "no event for past turns");
        let last = again.last_assistant_message().expect("the last answer is offered as state");
        assert!(last.contains("You said: the second question"), "{last}");
        again.send_text("a new question").unwrap();
        let turn = collect_turn(&again);
        assert_eq!(turn.text, "You said: a new question");
        assert_eq!(turn.message_text(), "You said: a new question");
        assert!(turn.others.is_empty(), "{:?}", turn.others);
    });
}

/// Reopening while a turn streams delivers that turn once, from its start.
#[test]
fn reopening_mid_turn_delivers_the_turn_once_from_its_start() {
    both_modes(|mode| {
        let server = server_with(mode, |c| c.delta_delay = Duration::from_millis(15));
        let client = client(&server);
        let first = client.open(ChatOptions::new("demo").with_chat_id("reopen-live")).unwrap();
        first.send_text("warm up").unwrap();
        collect_turn(&first);
        first.send_text("/slow 40").unwrap();
        let mut seen = 0;
        while seen < 5 {
            if let Some(Event::Chunk(c)) = first.next_event(WAIT) {
                seen += usize::from(c.chunk_type == "text-delta");
            }
        }
        let runs_before = server.run_ids(first.session_id()).len();
        let joined = client.open(ChatOptions::new("demo").with_chat_id("reopen-live")).unwrap();
        assert!(joined.is_turn_in_flight());
        let turn = collect_turn(&joined);
        assert_eq!(turn.text, slow_text(40), "the whole turn, once");
        assert_eq!(turn.message_text(), slow_text(40));
        assert_eq!(server.run_ids(joined.session_id()).len(), runs_before, "joining started no run");
        assert_eq!(in_messages(&server, joined.session_id()).len(), 2);
    });
}

/// A run that dies mid-turn. Server-managed: no run replaces it until the next append, so the
/// turn ends with a `RunEnded` error after one empty long-poll window; the next send works.
/// Client-managed: tchat starts a continuation, which answers the unfinished message again
/// (as 4.8's agent resumes `.in`), and the turn completes.
#[test]
fn a_run_killed_mid_turn_ends_the_turn_or_is_continued() {
    both_modes(|mode| {
        let server = server_with(mode, |c| c.delta_delay = Duration::from_millis(5));
        let chat = open(&quick_client(&server));
        chat.send_text("before the crash").unwrap();
        collect_turn(&chat);
        server.set_faults(Faults { kill_run_after_turn_records: Some(5), ..Faults::default() });
        let started = Instant::now();
        chat.send_text("/slow 20").unwrap();
        match mode {
            RunMode::Server => {
                let event = next_non_chunk(&chat, WAIT).expect("an event ends the turn");
                let Event::Error(e) = &event else { panic!("expected an error event, got {event:?}") };
                assert_eq!(e.kind(), ErrorKind::RunEnded, "{e}");
                assert!(e.message().contains("the run ended without completing the turn"), "{e}");
                assert!(!chat.is_turn_in_flight());
                // One 1-second window, the session and run checks, one backoff.
                assert!(started.elapsed() < Duration::from_secs(5), "{:?}", started.elapsed());
                chat.send_text("after the crash").unwrap();
                let turn = collect_turn(&chat);
                assert!(turn.message_text().ends_with("Noted: after the crash"), "{}", turn.message_text());
            }
            RunMode::Client => {
                let turn = collect_turn(&chat);
                assert_eq!(turn.message_text(), slow_text(20), "the continuation answered the message");
            }
        }
        let sent: Vec<String> = in_messages(&server, chat.session_id()).into_iter().map(|(_, t)| t).collect();
        let expected: &[&str] = if mode == RunMode::Server {
            &["before the crash", "/slow 20", "after the crash"]
        } else {
            &["before the crash", "/slow 20"]
        };
        assert_eq!(sent, expected, "every message reached the server once");
    });
}

/// Server-managed: the run id follows the continuations the server starts on its own (from the
/// turn-complete token's `read:runs:` scope), in `run_id()` and in the saved state.
#[test]
fn run_id_follows_server_continuations() {
    let server = server(RunMode::Server);
    let chat = open(&client(&server));
    let first_run = chat.run_id().unwrap();
    chat.send_text("one").unwrap();
    collect_turn(&chat);
    server.kill_run(chat.session_id());
    chat.send_text("two").unwrap();
    assert_eq!(collect_turn(&chat).text, "You said: two");
    let runs = server.run_ids(chat.session_id());
    assert_eq!(runs.len(), 2);
    assert_ne!(runs[1], first_run);
    assert_eq!(chat.run_id().as_deref(), Some(runs[1].as_str()));
    let saved: serde_json::Value = serde_json::from_str(&chat.save_state()).unwrap();
    assert_eq!(saved["runId"], runs[1].as_str());
    // close_agent now waits on the live run, so a message right after it gets its answer.
    chat.close_agent().unwrap();
    chat.send_text("three").unwrap();
    assert_eq!(collect_turn(&chat).text, "You said: three");
}

/// A session closed by another client while a turn streams: a `SessionClosed` event, whether
/// the agent writes `session-closed` on `.out` or the server writes nothing (then the next empty
/// window's session check finds `closedAt`). Later sends fail with `SessionClosed`.
#[test]
fn a_session_closed_elsewhere_mid_turn_is_noticed() {
    for writes_nothing in [false, true] {
        both_modes(|mode| {
            let server = server_with(mode, |c| c.delta_delay = Duration::from_millis(20));
            server.set_faults(Faults { close_writes_nothing: writes_nothing, ..Faults::default() });
            let chat = open(&quick_client(&server));
            chat.send_text("/slow 500").unwrap();
            let mut deltas = 0;
            while deltas < 3 {
                if let Some(Event::Chunk(c)) = chat.next_event(WAIT) {
                    deltas += usize::from(c.chunk_type == "text-delta");
                }
            }
            let other = client(&server).open(ChatOptions::new("demo").with_chat_id(chat.chat_id())).unwrap();
            other.close_session(Some("closed from the dashboard")).unwrap();
            let event = next_non_chunk(&chat, WAIT).expect("the chat hears of the close");
            assert_eq!(
                event,
                Event::SessionClosed { reason: Some("closed from the dashboard".into()) },
                "writes nothing: {writes_nothing}"
            );
            assert!(!chat.is_turn_in_flight());
            assert_eq!(chat.send_text("anyone there?").unwrap_err().kind(), ErrorKind::SessionClosed);
        });
    }
}

/// The chat's own `close_session` is answered by its return value: no event follows.
#[test]
fn own_close_session_emits_no_event() {
    let server = server(RunMode::Server);
    let chat = open(&client(&server));
    chat.send_text("hi").unwrap();
    collect_turn(&chat);
    chat.close_session(Some("done")).unwrap();
    assert_eq!(chat.next_event(Duration::from_millis(300)), None);
    assert_eq!(chat.send_text("more").unwrap_err().kind(), ErrorKind::SessionClosed);
}

/// `steer` with no turn in flight is an ordinary message: it starts a turn at once.
#[test]
fn steer_without_a_turn_starts_one() {
    both_modes(|mode| {
        let server = server(mode);
        let chat = open(&client(&server));
        chat.steer("nothing is streaming").unwrap();
        assert_eq!(collect_turn(&chat).text, "You said: nothing is streaming");
    });
}

/// 501 (a self-hosted server without a stream backend) is not retried: the error names it.
#[test]
fn not_implemented_is_not_retried() {
    let server = server(RunMode::Server);
    let client = client(&server);
    server.set_faults(Faults { fail_next_requests: Some(2), fail_status: 501, ..Faults::default() });
    let started = Instant::now();
    let e = client.open(ChatOptions::new("demo")).unwrap_err();
    assert_eq!((e.kind(), e.status()), (ErrorKind::Http, Some(501)), "{e}");
    assert!(e.message().contains("501"), "{e}");
    // Had the first open retried, it would have used up both failures.
    assert_eq!(client.open(ChatOptions::new("demo")).unwrap_err().status(), Some(501));
    assert!(client.open(ChatOptions::new("demo")).is_ok());
    assert!(started.elapsed() < Duration::from_secs(2));
}

/// After `approve`/`deny`, the agent continues the same assistant message: one message with the
/// tool part answered and the text after it, equal in the turn-complete event and in
/// `last_assistant_message`.
#[test]
fn tool_approval_continues_the_same_message() {
    both_modes(|mode| {
        for approved in [true, false] {
            let server = server(mode);
            let chat = open(&client(&server));
            chat.send_text("/tool Lisbon").unwrap();
            let ask = collect_turn(&chat);
            let approval = ask.complete().pending_approvals[0].clone();
            let asked: serde_json::Value = serde_json::from_str(&ask.complete().message_json).unwrap();
            chat.approve(&approval, approved, None).unwrap();
            let turn = collect_turn(&chat);
            let msg: serde_json::Value = serde_json::from_str(&turn.complete().message_json).unwrap();
            assert_eq!(msg["id"], asked["id"], "the same message");
            let parts = msg["parts"].as_array().unwrap();
            let tools: Vec<_> = parts.iter().filter(|p| p["type"] == "tool-get_weather").collect();
            assert_eq!(tools.len(), 1, "{msg}");
            assert_eq!(tools[0]["state"], if approved { "output-available" } else { "output-denied" });
            assert_eq!(tools[0]["input"], serde_json::json!({ "city": "Lisbon" }));
            let text = if approved {
                "The weather in Lisbon is sunny, 21°C."
            } else {
                "Okay, I won't check the weather in Lisbon."
            };
            assert_eq!(turn.message_text(), text);
            let last: serde_json::Value = serde_json::from_str(&chat.last_assistant_message().unwrap()).unwrap();
            assert_eq!(last, msg, "the turn's message and the last assistant message agree");
        }
    });
}

/// Restored in the middle of a turn, the chat finishes assembling into the same text part: one
/// part, `done`, holding the whole reply once.
#[test]
fn restore_mid_turn_keeps_one_text_part() {
    both_modes(|mode| {
        let server = server_with(mode, |c| c.delta_delay = Duration::from_millis(10));
        let client = client(&server);
        let chat = open(&client);
        chat.send_text("/slow 40").unwrap();
        let mut deltas = 0;
        while deltas < 8 {
            if let Some(Event::Chunk(c)) = chat.next_event(WAIT) {
                deltas += usize::from(c.chunk_type == "text-delta");
            }
        }
        let saved = chat.save_state();
        drop(chat);
        let restored = client.restore(&saved).unwrap();
        let turn = collect_turn(&restored);
        let msg: serde_json::Value = serde_json::from_str(&turn.complete().message_json).unwrap();
        let texts: Vec<_> = msg["parts"].as_array().unwrap().iter().filter(|p| p["type"] == "text").collect();
        assert_eq!(texts.len(), 1, "{msg}");
        assert_eq!(texts[0]["state"], "done");
        assert_eq!(texts[0]["text"], slow_text(40));
    });
}

fn watching_client(server: &DevServer) -> Client {
    Client::new(config(server).with_long_poll(Duration::from_secs(1)).with_idle_watch(true)).expect("client")
}

/// With the idle watch, a session closed by someone else between turns is reported while the
/// chat is idle — from the agent's `session-closed` record, or, when the server writes nothing,
/// from the session check at the end of a window.
#[test]
fn idle_watch_hears_a_close_between_turns() {
    for writes_nothing in [false, true] {
        both_modes(|mode| {
            let server = server(mode);
            server.set_faults(Faults { close_writes_nothing: writes_nothing, ..Faults::default() });
            let chat = open(&watching_client(&server));
            chat.send_text("one turn first").unwrap();
            collect_turn(&chat);
            let other = client(&server).open(ChatOptions::new("demo").with_chat_id(chat.chat_id())).unwrap();
            other.close_session(Some("closed while idle")).unwrap();
            let event = chat.next_event(WAIT).expect("the idle chat hears of the close");
            assert_eq!(
                event,
                Event::SessionClosed { reason: Some("closed while idle".into()) },
                "writes nothing: {writes_nothing}"
            );
            assert_eq!(chat.send_text("hello?").unwrap_err().kind(), ErrorKind::SessionClosed);
        });
    }
}

/// With the idle watch, turns go on as before: each send ends the watch and gets exactly its
/// own reply, and a turn another client drives on the same chat meanwhile is not delivered.
#[test]
fn idle_watch_keeps_conversations_exact() {
    both_modes(|mode| {
        let server = server(mode);
        let chat = open(&watching_client(&server));
        for i in 0..5 {
            chat.send_text(&format!("message {i}")).unwrap();
            let turn = collect_turn(&chat);
            assert_eq!(turn.text, format!("You said: message {i}"));
            assert!(turn.others.is_empty(), "{:?}", turn.others);
        }
        // Another client drives a turn while this chat idles: nothing of it reaches this chat.
        let other = client(&server).open(ChatOptions::new("demo").with_chat_id(chat.chat_id())).unwrap();
        other.send_text("from elsewhere").unwrap();
        assert_eq!(collect_turn(&other).text, "You said: from elsewhere");
        assert_eq!(chat.next_event(Duration::from_millis(300)), None);
        chat.send_text("back here").unwrap();
        assert_eq!(collect_turn(&chat).text, "You said: back here");
        assert_eq!(in_messages(&server, chat.session_id()).len(), 7);
    });
}
