//! Fault injection: in each case the transcript the application sees equals the fault-free one — no
//! chunk lost or repeated — and the server saw every user message exactly once.

mod common;

use std::time::Duration;

use common::*;
use tchat::Event;
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
        let chat = open(&client(&server));
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
