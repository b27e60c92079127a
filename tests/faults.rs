//! Fault injection: in each case the transcript the application sees equals the fault-free one — no
//! chunk lost or repeated — and the server saw every user message exactly once.

mod common;

use std::time::Duration;

use common::*;
use tchat::{Client, Event};
use tchat_devserver::{Faults, RunMode};

const MESSAGE: &str = "the quick brown fox jumps over the lazy dog";

/// The fault-free transcript of one turn answering [`MESSAGE`].
fn reference(mode: RunMode) -> Turn {
    let server = server(mode);
    let chat = open(&client(&server));
    chat.send_text(MESSAGE).unwrap();
    collect_turn(&chat)
}

fn assert_same_transcript(got: &Turn, want: &Turn) {
    assert_eq!(got.text, want.text);
    assert_eq!(got.chunk_types, want.chunk_types, "every chunk exactly once, in order");
    assert!(got.seqs.windows(2).all(|w| w[0] < w[1]), "seq_nums strictly increase: {:?}", got.seqs);
    assert_eq!(got.message_text(), want.message_text());
}

#[test]
fn connection_dropped_mid_event_at_50_offsets() {
    for mode in [RunMode::Server, RunMode::Client] {
        let want = reference(mode);
        let server = server(mode);
        // Each turn on a connection of its own, which the fault (set per new response) then cuts:
        // a warm connection would carry the next turn past the fault untouched.
        let chat = open(&Client::new(config(&server).with_keep_warm(Duration::ZERO)).unwrap());
        let mut reconnects = 0;
        for i in 0..50u64 {
            // Spread over the first few events of the response, landing inside lines, between CR
            // and LF, inside JSON strings...
            let offset = 1 + i * 13;
            server.set_faults(Faults { out_drop_after_bytes: Some(offset), ..Faults::default() });
            chat.send_text(MESSAGE).unwrap();
            let turn = collect_turn(&chat);
            reconnects += turn.others.iter().filter(|e| matches!(e, Event::Reconnecting { .. })).count();
            assert_same_transcript(&turn, &want);
        }
        // A send that lands while the reader is still on the previous turn's connection (opened
        // before the fault was set) rides that connection, so a few turns may see no drop; most must.
        assert!(reconnects >= 40, "the drops hit most turns ({reconnects} reconnects in 50 turns)");
        let msgs = in_messages(&server, chat.session_id());
        assert_eq!(msgs.len(), 50, "each message reached the server exactly once");
    }
}

#[test]
fn connection_dropped_after_n_records() {
    let want = reference(RunMode::Server);
    let server = server(RunMode::Server);
    let chat = open(&client(&server));
    for n in 1..8 {
        server.set_faults(Faults { out_drop_after_records: Some(n), ..Faults::default() });
        chat.send_text(MESSAGE).unwrap();
        assert_same_transcript(&collect_turn(&chat), &want);
    }
}

#[test]
fn tiny_writes() {
    let want = reference(RunMode::Server);
    let server = server(RunMode::Server);
    let chat = open(&client(&server));
    server.set_faults(Faults { out_write_chunk_bytes: Some(1), ..Faults::default() });
    chat.send_text(MESSAGE).unwrap();
    assert_same_transcript(&collect_turn(&chat), &want);
}

#[test]
fn server_errors_and_rate_limits_are_retried() {
    for status in [500u16, 502, 503, 429] {
        let want = reference(RunMode::Server);
        let server = server(RunMode::Server);
        let chat = open(&client(&server));
        server.set_faults(Faults { fail_next_requests: Some(3), fail_status: status, ..Faults::default() });
        chat.send_text(MESSAGE).unwrap();
        assert_same_transcript(&collect_turn(&chat), &want);
        assert_eq!(in_messages(&server, chat.session_id()).len(), 1, "status {status}: sent exactly once");
    }
}

#[test]
fn a_stalled_stream_is_reconnected() {
    let want = reference(RunMode::Server);
    let server = server_with(RunMode::Server, |c| c.ping_interval = Duration::from_millis(100));
    let client = tchat::Client::new(config(&server).with_stall_timeout(Duration::from_millis(400))).unwrap();
    let chat = open(&client);
    server.set_faults(Faults { stall_next_out_ms: Some(3000), ..Faults::default() });
    chat.send_text(MESSAGE).unwrap();
    let turn = collect_turn(&chat);
    assert!(turn.others.iter().any(|e| matches!(e, Event::Reconnecting { .. })), "{:?}", turn.others);
    assert_same_transcript(&turn, &want);
}

/// A stall masked by bytes that are no record — comment lines, an unknown event type, one byte
/// at a time — is a stall all the same: reconnected within the stall timeout plus a backoff,
/// long before the 5-second stall ends, with the transcript unchanged and the message sent once.
#[test]
fn a_stall_masked_by_heartbeats_is_reconnected() {
    let want = reference(RunMode::Server);
    for heartbeat in ["comment", "event", "byte"] {
        let server = server(RunMode::Server);
        let client = tchat::Client::new(config(&server).with_stall_timeout(Duration::from_millis(400))).unwrap();
        let chat = open(&client);
        server.set_faults(Faults {
            stall_next_out_ms: Some(5000),
            stall_heartbeat: Some(heartbeat.into()),
            stall_heartbeat_every_ms: Some(50),
            ..Faults::default()
        });
        let started = std::time::Instant::now();
        chat.send_text(MESSAGE).unwrap();
        let turn = collect_turn(&chat);
        let took = started.elapsed();
        assert!(turn.others.iter().any(|e| matches!(e, Event::Reconnecting { .. })), "{heartbeat}: {:?}", turn.others);
        assert!(took < Duration::from_millis(2500), "{heartbeat}: the turn took {took:?}");
        assert_same_transcript(&turn, &want);
        assert_eq!(in_messages(&server, chat.session_id()).len(), 1, "{heartbeat}: sent once");
    }
}

#[test]
fn tokens_expiring_mid_conversation() {
    for mode in [RunMode::Server, RunMode::Client] {
        let want = reference(mode);
        let server = server(mode);
        let chat = open(&client(&server));
        chat.send_text(MESSAGE).unwrap();
        assert_same_transcript(&collect_turn(&chat), &want);
        // Every token minted so far (the session's public access token included) now fails with 401.
        server.set_faults(Faults { expire_all_tokens: true, ..Faults::default() });
        chat.send_text(MESSAGE).unwrap();
        assert_same_transcript(&collect_turn(&chat), &want);
        assert_eq!(in_messages(&server, chat.session_id()).len(), 2);
    }
}

#[test]
fn run_dies_between_turns() {
    for mode in [RunMode::Server, RunMode::Client] {
        let want = reference(mode);
        let server = server(mode);
        let chat = open(&client(&server));
        chat.send_text(MESSAGE).unwrap();
        assert_same_transcript(&collect_turn(&chat), &want);
        server.kill_run(chat.session_id());
        chat.send_text(MESSAGE).unwrap();
        assert_same_transcript(&collect_turn(&chat), &want);
        assert!(server.run_ids(chat.session_id()).len() >= 2, "{mode:?}: a continuation run answered");
        assert_eq!(in_messages(&server, chat.session_id()).len(), 2);
    }
}

#[test]
fn an_error_event_is_a_failed_connection() {
    // PROTOCOL 3.1: `event: error` ends the connection as failed; the client reconnects from its
    // cursor. The fault is set before the chat opens, so whichever `.out` connection comes first
    // carries it.
    let want = reference(RunMode::Server);
    for (n, times) in [(0u64, 1u32), (1, 1), (3, 1), (6, 1), (2, 3)] {
        let server = server(RunMode::Server);
        server.set_faults(Faults {
            out_error_after_records: Some(n),
            out_error_after_records_times: Some(times),
            ..Faults::default()
        });
        let chat = open(&client(&server));
        chat.send_text(MESSAGE).unwrap();
        let turn = collect_turn(&chat);
        let reconnects = turn.others.iter().filter(|e| matches!(e, Event::Reconnecting { .. })).count();
        assert!(reconnects >= times as usize, "after {n} records (x{times}): {:?}", turn.others);
        assert_same_transcript(&turn, &want);
        assert_eq!(in_messages(&server, chat.session_id()).len(), 1, "after {n} records (x{times}): sent exactly once");
    }
}

/// A REST answer whose headers arrive and whose body never seems to finish (one byte a second,
/// after the server did the work) is cut at the call's deadline (connect + response timeout) and
/// retried: open and send return within the deadline plus the retries, the session exists once
/// and the message arrives once.
#[test]
fn a_rest_body_that_never_finishes_is_cut_and_retried() {
    let want = reference(RunMode::Server);
    let server = server(RunMode::Server);
    let config = config(&server)
        .with_connect_timeout(Duration::from_millis(200))
        .with_response_timeout(Duration::from_millis(300));
    let client = tchat::Client::new(config).unwrap();
    let deadline = Duration::from_millis(500);

    server.set_faults(Faults { slow_body_next_requests: Some(1), slow_body_ms: Some(1000), ..Faults::default() });
    let started = std::time::Instant::now();
    let chat = client.open(tchat::ChatOptions::new("demo").with_chat_id("slow-bodies")).unwrap();
    let took = started.elapsed();
    assert!(took < deadline * 3, "open took {took:?}");
    assert!(took >= deadline, "the first answer was cut at its deadline, not read whole: {took:?}");
    assert_eq!(server.run_ids(chat.session_id()).len(), 1, "one session, one run");

    server.set_faults(Faults { slow_body_next_requests: Some(1), slow_body_ms: Some(1000), ..Faults::default() });
    let started = std::time::Instant::now();
    chat.send_text(MESSAGE).unwrap();
    let took = started.elapsed();
    assert!(took < deadline * 3, "send took {took:?}");
    assert_same_transcript(&collect_turn(&chat), &want);
    assert_eq!(in_messages(&server, chat.session_id()).len(), 1, "the retried append was deduped");
}

/// While the service is down, the application hears of every reconnect — the attempt, its
/// delay and what failed — and of the stream coming back; then the turn completes unchanged.
#[test]
fn an_outage_is_told_then_the_turn_completes() {
    let want = reference(RunMode::Server);
    let server = server(RunMode::Server);
    let chat = open(&client(&server));
    server.set_faults(Faults { fail_next_requests: Some(4), fail_status: 503, ..Faults::default() });
    chat.send_text(MESSAGE).unwrap();
    let turn = collect_turn(&chat);
    assert_same_transcript(&turn, &want);
    let reconnects: Vec<_> = turn
        .others
        .iter()
        .filter_map(|e| match e {
            Event::Reconnecting { attempt, cause, status, .. } => Some((*attempt, cause.clone(), *status)),
            _ => None,
        })
        .collect();
    assert!(!reconnects.is_empty(), "{:?}", turn.others);
    for (i, (attempt, cause, status)) in reconnects.iter().enumerate() {
        assert_eq!(*attempt as usize, i + 1);
        assert_eq!(*status, Some(503));
        assert!(cause.contains("503"), "{cause}");
    }
    let last_reconnect = turn.others.iter().rposition(|e| matches!(e, Event::Reconnecting { .. })).unwrap();
    assert!(
        turn.others[last_reconnect..].contains(&Event::Connected { attempts: reconnects.len() as u32 }),
        "{:?}",
        turn.others
    );
    assert_eq!(in_messages(&server, chat.session_id()).len(), 1);
}

/// With a reconnect limit, a turn whose stream cannot come back ends with an error event instead
/// of waiting on; the next send works once the service is back.
#[test]
fn a_reconnect_limit_ends_the_turn() {
    let server = server(RunMode::Server);
    let client = tchat::Client::new(config(&server).with_reconnect_limit(Some(Duration::from_millis(400)))).unwrap();
    let chat = open(&client);
    // Every `.out` connection is cut before its first byte; REST calls still work.
    server.set_faults(Faults {
        out_drop_after_bytes: Some(0),
        out_drop_after_bytes_times: Some(1000),
        ..Faults::default()
    });
    let started = std::time::Instant::now();
    chat.send_text(MESSAGE).unwrap();
    let error = loop {
        match chat.next_event(WAIT).expect("an event") {
            Event::Error(e) => break e,
            Event::Reconnecting { .. } => {}
            other => panic!("unexpected {other:?}"),
        }
    };
    assert_eq!(error.kind(), tchat::ErrorKind::Network, "{error}");
    assert!(error.message().contains("reconnect limit"), "{error}");
    assert!(started.elapsed() < Duration::from_secs(5), "{:?}", started.elapsed());
    assert!(!chat.is_turn_in_flight());
    server.set_faults(Faults::default());
    chat.send_text("back again").unwrap();
    // The first message's turn ran on the server meanwhile and was never read: its chunks come
    // first (its turn-complete too, when it is read before this append has answered its seq),
    // then this message's turn.
    let mut turn = collect_turn(&chat);
    if turn.message_text() != "You said: back again" {
        assert_eq!(turn.message_text(), format!("You said: {MESSAGE}"));
        turn = collect_turn(&chat);
    }
    assert_eq!(turn.message_text(), "You said: back again");
}
