//! Behaviours the official transports' own test suites pin down (`chat.test.ts`,
//! `chat-turn-correlation.test.ts`, `chat-transport-events.test.ts`, `runStream.test.ts` of the
//! trigger.dev repository, checked against the 4.8.3 dist code), each rebuilt here against the
//! devserver: a settled close mid-turn, turn correlation, a clean end without `[DONE]`, reconnect
//! now, watch mode.

mod common;

use std::time::{Duration, Instant};

use common::*;
use tchat::{ChatOptions, Client, Event};
use tchat_devserver::{Faults, RunMode};

/// A saved state whose cursor is already at the turn's turn-complete while it still says a turn
/// is in flight: the peek answers `X-Session-Settled: true` and a body without the turn-complete.
/// The turn ends with a turn-complete event flagged incomplete, promptly — with `[DONE]` and
/// behind a proxy that ends the body cleanly without it.
#[test]
fn a_settled_close_mid_turn_ends_the_turn_incomplete() {
    for without_done in [false, true] {
        both_modes(|mode| {
            let server = server(mode);
            let client = client(&server);
            let chat = open(&client);
            chat.send_text("first").unwrap();
            collect_turn(&chat);
            let mut state: serde_json::Value = serde_json::from_str(&chat.save_state()).unwrap();
            drop(chat);
            state["turnInFlight"] = serde_json::json!(true);
            server.set_faults(Faults { out_end_without_done: without_done, ..Faults::default() });
            let started = Instant::now();
            let restored = client.restore(&state.to_string()).unwrap();
            let turn = collect_turn(&restored);
            assert!(turn.complete().incomplete, "without [DONE]: {without_done}");
            assert!(started.elapsed() < Duration::from_secs(2), "{:?}", started.elapsed());
            assert!(!restored.is_turn_in_flight());
            assert!(turn.others.iter().all(|e| !matches!(e, Event::Reconnecting { .. })), "{:?}", turn.others);
            server.set_faults(Faults::default());
            restored.send_text("second").unwrap();
            let next = collect_turn(&restored);
            assert_eq!(next.text, "You said: second");
            assert!(!next.complete().incomplete);
        });
    }
}

/// A long-poll window that ends cleanly without `[DONE]` mid-turn is the end of a window, not a
/// failed connection: tchat resubscribes from its cursor without a reconnect event, and the turn
/// arrives whole.
#[test]
fn a_clean_end_without_done_is_the_end_of_a_window() {
    let server = server_with(RunMode::Server, |c| c.delta_delay = Duration::from_millis(1200));
    server.set_faults(Faults { out_end_without_done: true, ..Faults::default() });
    let client = Client::new(config(&server).with_long_poll(Duration::from_secs(1))).unwrap();
    let chat = open(&client);
    chat.send_text("/slow 3").unwrap();
    let turn = collect_turn(&chat);
    assert_eq!(turn.text, "tick 1 tick 2 tick 3");
    assert!(turn.others.iter().all(|e| !matches!(e, Event::Reconnecting { .. })), "{:?}", turn.others);
}

/// Turn correlation: a turn another client drove before our send is read first (the stream starts
/// at our cursor), and its turn-complete answers none of our messages: no turn-complete event for
/// it; the one event is our turn's, with our message.
#[test]
fn a_turn_complete_of_an_earlier_turn_is_not_ours() {
    both_modes(|mode| {
        let server = server(mode);
        let client = client(&server);
        let ours = client.open(ChatOptions::new("demo").with_chat_id("correlate")).unwrap();
        ours.send_text("warm up").unwrap();
        collect_turn(&ours);
        let theirs = client.open(ChatOptions::new("demo").with_chat_id("correlate")).unwrap();
        theirs.send_text("from the other device").unwrap();
        assert_eq!(collect_turn(&theirs).text, "You said: from the other device");
        ours.send_text("mine").unwrap();
        let turn = collect_turn(&ours);
        assert_eq!(turn.message_text(), "You said: mine", "the first turn-complete event is ours");
        assert_eq!(ours.next_event(Duration::from_millis(300)), None, "and there is no other");
    });
}

/// `reconnect_now` after a network change: a connection that went silent (here a stalled one,
/// with a stall timeout far away) is replaced at once, and the turn arrives whole, with no event
/// of a reconnect the application asked for.
#[test]
fn reconnect_now_replaces_a_silent_connection_at_once() {
    both_modes(|mode| {
        let server = server_with(mode, |c| c.delta_delay = Duration::from_millis(2));
        let client = Client::new(config(&server).with_stall_timeout(Duration::from_secs(15))).unwrap();
        let chat = open(&client);
        server.set_faults(Faults { stall_next_out_ms: Some(10_000), ..Faults::default() });
        let started = Instant::now();
        chat.send_text("/slow 5").unwrap();
        assert_eq!(chat.next_event(Duration::from_millis(300)), None, "the stalled stream says nothing");
        chat.reconnect_now();
        let turn = collect_turn(&chat);
        assert_eq!(turn.text, "tick 1 tick 2 tick 3 tick 4 tick 5");
        assert!(started.elapsed() < Duration::from_secs(3), "{:?}", started.elapsed());
        assert!(turn.others.iter().all(|e| !matches!(e, Event::Reconnecting { .. })), "{:?}", turn.others);
        // Idle, it does nothing, and the chat goes on.
        chat.reconnect_now();
        chat.send_text("after").unwrap();
        assert_eq!(collect_turn(&chat).text, "You said: after");
    });
}

/// Watch mode: a second chat object on the same chat id, watching, sees every turn the first one
/// drives — exactly once each, across a server continuation and a reconnect — while the driver
/// sees only its own.
#[test]
fn a_watching_chat_sees_every_turn_exactly_once() {
    both_modes(|mode| {
        let server = server_with(mode, |c| c.delta_delay = Duration::from_millis(3));
        let client = Client::new(config(&server).with_long_poll(Duration::from_secs(1))).unwrap();
        let driver = client.open(ChatOptions::new("demo").with_chat_id("watched")).unwrap();
        let watcher = client.open(ChatOptions::new("demo").with_chat_id("watched").with_watch(true)).unwrap();

        driver.send_text("one").unwrap();
        assert_eq!(collect_turn(&driver).text, "You said: one");
        assert_eq!(collect_turn(&watcher).message_text(), "You said: one");

        // A continuation: the run is killed between turns; the next message starts a new one.
        server.kill_run(driver.session_id());
        driver.send_text("two").unwrap();
        assert_eq!(collect_turn(&driver).text, "You said: two");
        assert_eq!(collect_turn(&watcher).message_text(), "You said: two");

        // A reconnect of the watcher in the middle of a turn.
        driver.send_text("/slow 30").unwrap();
        let mut seen = 0;
        let mut text = String::new();
        let turn = loop {
            match watcher.next_event(WAIT).expect("the watcher sees the turn") {
                Event::Chunk(c) if c.chunk_type == "text-delta" => {
                    text.push_str(c.delta.as_deref().unwrap_or(""));
                    seen += 1;
                    if seen == 5 {
                        watcher.reconnect_now();
                    }
                }
                Event::TurnComplete(t) => break t,
                _ => {}
            }
        };
        let expected = (1..=30).map(|i| format!("tick {i}")).collect::<Vec<_>>().join(" ");
        assert_eq!(text, expected, "the turn across the reconnect, exactly once");
        assert!(turn.message_json.contains(&expected));
        collect_turn(&driver);
        assert_eq!(watcher.next_event(Duration::from_millis(300)), None, "nothing more");
        assert_eq!(in_messages(&server, driver.session_id()).len(), 3);
    });
}

/// The send lifecycle for telemetry: message-sent (with the seq), first-chunk and turn-completed
/// for a send, message-send-failed with the status for a refused one; and per-send metadata merged
/// over the chat's client data.
#[test]
fn the_send_lifecycle_and_per_send_metadata() {
    use std::sync::{Arc, Mutex};
    use tchat::SendEvent;
    let server = server(RunMode::Server);
    let seen: Arc<Mutex<Vec<(String, SendEvent)>>> = Arc::default();
    let sink = seen.clone();
    let config = config(&server).with_send_observer(Arc::new(move |chat: &str, ev: &SendEvent| {
        sink.lock().unwrap().push((chat.to_owned(), ev.clone()));
    }));
    let client = Client::new(config).unwrap();
    let chat = client
        .open(
            ChatOptions::new("demo")
                .with_chat_id("telemetry")
                .with_metadata(serde_json::json!({ "user": "u1", "plan": "free" })),
        )
        .unwrap();
    chat.send_text_with_metadata("observed", &serde_json::json!({ "plan": "pro", "trace": "t-1" })).unwrap();
    assert_eq!(collect_turn(&chat).text, "You said: observed");
    let events: Vec<SendEvent> = seen
        .lock()
        .unwrap()
        .iter()
        .map(|(c, e)| {
            assert_eq!(c, "telemetry");
            e.clone()
        })
        .collect();
    let sent =
        events.iter().position(|e| matches!(e, SendEvent::MessageSent { seq: Some(0), message_id: Some(_), .. }));
    let first = events.iter().position(|e| matches!(e, SendEvent::FirstChunk { .. }));
    let done = events.iter().position(|e| matches!(e, SendEvent::TurnCompleted { .. }));
    assert!(sent.is_some() && first.is_some() && done.is_some(), "{events:?}");
    assert!(first < done && sent < done, "{events:?}");
    assert_eq!(events.len(), 3, "{events:?}");
    let records = server.in_records(chat.session_id());
    assert_eq!(
        records[0]["body"]["payload"]["metadata"],
        serde_json::json!({ "user": "u1", "plan": "pro", "trace": "t-1" })
    );

    // A send the server refuses: message-send-failed with the status, and the call's error.
    chat.close_session(None).unwrap();
    seen.lock().unwrap().clear();
    assert!(chat.send_text("refused").is_err());
    let events = seen.lock().unwrap().clone();
    assert!(
        matches!(&events[..], [(_, SendEvent::SendFailed { error, .. })] if error.kind() == tchat::ErrorKind::SessionClosed),
        "{events:?}"
    );
    assert!(chat.send_text_with_metadata("x", &serde_json::json!([1])).is_err(), "metadata must be an object");
}
