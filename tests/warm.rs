//! The warm `.out` path (`ClientConfig::with_keep_warm`): after a turn the chat's connection stays
//! open, the next turn streams on it with no new connection, and what happens on it between turns
//! (windows ending, other clients' turns, a close, the connection dying) neither leaks into the
//! chat's events nor costs the next turn anything.

mod common;

use std::time::{Duration, Instant};

use common::*;
use tchat::{ChatOptions, Client, ConnectionStats, Event};
use tchat_devserver::RunMode;

fn expected(text: &str) -> String {
    format!("You said: {text}")
}

/// Events until `deadline` with nothing else than pings of the stream: the test fails on any.
fn assert_quiet(chat: &tchat::Chat, for_: Duration, what: &str) {
    let deadline = Instant::now() + for_;
    while let Some(left) = deadline.checked_duration_since(Instant::now()) {
        if let Some(e) = chat.next_event(left) {
            panic!("{what}: unexpected event {e:?}");
        }
    }
}

fn delta(before: ConnectionStats, after: ConnectionStats) -> (u64, u64, u64) {
    (
        after.connections - before.connections,
        after.full_handshakes - before.full_handshakes,
        after.resumed_handshakes - before.resumed_handshakes,
    )
}

#[test]
fn the_next_turn_streams_on_the_warm_connection() {
    both_modes(|mode| {
        let server = server(mode);
        let client = client(&server);
        let chat = open(&client);
        chat.send_text("first").unwrap();
        assert_eq!(collect_turn(&chat).text, expected("first"));
        let before = client.connection_stats();
        for i in 0..5 {
            let text = format!("turn {i}");
            chat.send_text(&text).unwrap();
            let turn = collect_turn(&chat);
            assert_eq!(turn.text, expected(&text));
            assert!(turn.others.iter().all(|e| !matches!(e, Event::Reconnecting { .. })), "{:?}", turn.others);
        }
        // The appends reuse the REST agent's kept-alive connection, the turns the chat's `.out`.
        assert_eq!(
            delta(before, client.connection_stats()),
            (0, 0, 0),
            "{mode:?}: no new connection after the first turn"
        );
        assert_eq!(in_messages(&server, chat.session_id()).len(), 6);
    });
}

#[test]
fn keep_warm_zero_opens_a_connection_per_turn() {
    let server = server(RunMode::Server);
    let client = Client::new(config(&server).with_keep_warm(Duration::ZERO)).unwrap();
    let chat = open(&client);
    chat.send_text("first").unwrap();
    collect_turn(&chat);
    let before = client.connection_stats();
    for i in 0..3 {
        chat.send_text(&format!("turn {i}")).unwrap();
        assert_eq!(collect_turn(&chat).text, expected(&format!("turn {i}")));
    }
    // Each turn's `.out` connection is dropped mid-body at its turn-complete: never reusable.
    assert_eq!(delta(before, client.connection_stats()).0, 3);
}

#[test]
fn long_poll_windows_end_between_turns_on_the_same_socket() {
    let server = server_with(RunMode::Server, |c| c.ping_interval = Duration::from_millis(100));
    let client = Client::new(config(&server).with_long_poll(Duration::from_secs(1))).unwrap();
    let chat = open(&client);
    chat.send_text("first").unwrap();
    collect_turn(&chat);
    let before = client.connection_stats();
    // Two and a half windows go by between the turns: each ends with `[DONE]`, the next `GET`
    // goes out at once on the pooled socket, and nothing reaches the application.
    assert_quiet(&chat, Duration::from_millis(2500), "between turns");
    chat.send_text("after the windows").unwrap();
    let turn = collect_turn(&chat);
    assert_eq!(turn.text, expected("after the windows"));
    assert!(turn.others.iter().all(|e| !matches!(e, Event::Reconnecting { .. })), "{:?}", turn.others);
    assert_eq!(delta(before, client.connection_stats()).0, 0, "the windows reused the chat's socket");
}

#[test]
fn a_turn_after_a_quiet_stretch_longer_than_the_stall_timeout_is_not_a_stall() {
    // Pings only, for longer than the stall timeout, on the warm connection: the stall timeout of
    // the next turn counts from its send, so no reconnect.
    let server = server_with(RunMode::Server, |c| c.ping_interval = Duration::from_millis(100));
    let client = Client::new(config(&server).with_stall_timeout(Duration::from_millis(700))).unwrap();
    let chat = open(&client);
    chat.send_text("first").unwrap();
    collect_turn(&chat);
    assert_quiet(&chat, Duration::from_millis(1200), "between turns");
    let before = client.connection_stats();
    chat.send_text("second").unwrap();
    let turn = collect_turn(&chat);
    assert_eq!(turn.text, expected("second"));
    assert!(turn.others.iter().all(|e| !matches!(e, Event::Reconnecting { .. })), "{:?}", turn.others);
    assert_eq!(delta(before, client.connection_stats()).0, 0);
}

#[test]
fn another_clients_turn_between_ours_is_not_delivered() {
    both_modes(|mode| {
        let server = server(mode);
        let client_a = client(&server);
        let a = client_a.open(ChatOptions::new("demo").with_chat_id("shared-chat")).unwrap();
        a.send_text("from a").unwrap();
        assert_eq!(collect_turn(&a).text, expected("from a"));
        // The same conversation on another device, while `a` is warm.
        let client_b = client(&server);
        let b = client_b.open(ChatOptions::new("demo").with_chat_id("shared-chat")).unwrap();
        b.send_text("from b").unwrap();
        assert_eq!(collect_turn(&b).text, expected("from b"));
        // `a` read b's turn on its warm connection (it is on the same `.out`) and skipped it.
        assert_quiet(&a, Duration::from_millis(300), "a while b's turn streamed");
        a.send_text("a again").unwrap();
        let turn = collect_turn(&a);
        assert_eq!(turn.text, expected("a again"), "{mode:?}: only a's own turn");
    });
}

#[test]
fn a_close_by_someone_else_is_reported_while_warm() {
    let server = server(RunMode::Server);
    let client_a = client(&server);
    let a = client_a.open(ChatOptions::new("demo").with_chat_id("closed-while-warm")).unwrap();
    a.send_text("hello").unwrap();
    collect_turn(&a);
    let client_b = client(&server);
    let b = client_b.open(ChatOptions::new("demo").with_chat_id("closed-while-warm")).unwrap();
    b.close_session(Some("done elsewhere")).unwrap();
    let deadline = Instant::now() + WAIT;
    loop {
        let left = deadline.checked_duration_since(Instant::now()).expect("SessionClosed in time");
        match a.next_event(left) {
            Some(Event::SessionClosed { .. }) => break,
            Some(Event::Error(e)) => panic!("error event: {e}"),
            _ => {}
        }
    }
    let e = a.send_text("too late").unwrap_err();
    assert_eq!(e.kind(), tchat::ErrorKind::SessionClosed);
}

#[test]
fn a_warm_connection_cut_between_turns_costs_the_next_turn_nothing_but_a_connection() {
    let server = server(RunMode::Server);
    let client = client(&server);
    let chat = open(&client);
    chat.send_text("first").unwrap();
    collect_turn(&chat);
    // `reconnect_now` cuts the warm connection (the app says the network changed): it is not
    // reopened by itself, and no event says anything about it — no turn is in flight.
    chat.reconnect_now();
    assert_quiet(&chat, Duration::from_millis(300), "after the cut");
    let before = client.connection_stats();
    chat.send_text("second").unwrap();
    let turn = collect_turn(&chat);
    assert_eq!(turn.text, expected("second"));
    assert_eq!(delta(before, client.connection_stats()).0, 1, "one new `.out` connection");
    assert_eq!(in_messages(&server, chat.session_id()).len(), 2);
}

#[test]
fn a_warm_chat_is_freed_promptly() {
    let server = server(RunMode::Server);
    let client = client(&server);
    let chat = open(&client);
    chat.send_text("first").unwrap();
    collect_turn(&chat);
    // The reader is blocked on the warm connection's socket: dropping the chat interrupts it.
    let started = Instant::now();
    drop(chat);
    assert!(started.elapsed() < Duration::from_millis(50), "free took {:?}", started.elapsed());
}
