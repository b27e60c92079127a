//! Fault injection: each fault fires exactly as configured, then the server is healthy again.

use std::time::{Duration, Instant};

use serde_json::{json, Value};
use tchat_devserver::Faults;

use crate::common::*;

/// A session with one finished turn on `.out`, and its PAT.
fn with_turn(chat: &str) -> (tchat_devserver::DevServer, String, Vec<Rec>) {
    let s = server();
    let pat = create_session(&s, chat)["publicAccessToken"].as_str().unwrap().to_string();
    let mut sse = subscribe(&s, chat, &pat, &[]);
    send_text(&s, chat, &pat, "u1", "a b c d e f");
    let turn = sse.turn();
    (s, pat, turn)
}

#[test]
fn fail_next_requests() {
    let s = server();
    s.set_faults(Faults { fail_next_requests: Some(2), ..Faults::default() });
    let body = create_body(Some("f"), preload("f"));
    for _ in 0..2 {
        let r = post(&s, "/api/v1/sessions", s.secret_key(), &body);
        assert_eq!(r.status, 503);
        assert!(r.json()["error"].is_string());
    }
    assert_eq!(post(&s, "/api/v1/sessions", s.secret_key(), &body).status, 201);

    s.set_faults(Faults { fail_next_requests: Some(1), fail_status: 429, ..Faults::default() });
    let r = get(&s, "/api/v1/sessions/f", s.secret_key());
    assert_eq!(r.status, 429);
    let reset: u64 = r.header("x-ratelimit-reset").unwrap().parse().unwrap();
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as u64;
    assert!(reset > now && reset <= now + 1000, "reset {reset} vs now {now}");
    assert_eq!(get(&s, "/api/v1/sessions/f", s.secret_key()).status, 200);
}

#[test]
fn faults_over_http() {
    let s = server();
    let url = format!("{}/__devserver/faults", s.base_url());
    let r = call("POST", &url, None, Some(r#"{"fail_next_requests":1,"fail_status":500}"#), &[]);
    assert_eq!(r.status, 200, "{}", r.text);
    let got = call("GET", &url, None, None, &[]).json();
    assert_eq!(got["fail_next_requests"], 1);
    assert_eq!(got["fail_status"], 500);
    // /__devserver requests are never failed.
    assert_eq!(call("GET", &format!("{}/__devserver/sessions/x/in", s.base_url()), None, None, &[]).json(), json!([]));
    assert_eq!(get(&s, "/api/v1/sessions", s.secret_key()).status, 500);
    assert_eq!(get(&s, "/api/v1/sessions", s.secret_key()).status, 200);
    assert_eq!(call("POST", &url, None, Some("{bad"), &[]).status, 400);
}

#[test]
fn drop_after_records() {
    let (s, pat, turn) = with_turn("dr");
    s.set_faults(Faults { out_drop_after_records: Some(3), ..Faults::default() });
    let mut sse = subscribe(&s, "dr", &pat, &[]);
    let got = sse.records_until(|_| false);
    assert_eq!(got.len(), 3);
    assert_eq!(sse.end, End::Aborted, "no terminating chunk");
    // Resume from the last record: the rest, once; and the fault is used up.
    let last = got.last().unwrap().seq.to_string();
    let rest = subscribe(&s, "dr", &pat, &[("Last-Event-ID", &last)]).turn();
    assert_eq!(rest.len(), turn.len() - 3);
    assert_eq!(rest[0].seq, 3);
}

#[test]
fn drop_after_bytes_is_exact() {
    let (s, pat, _) = with_turn("db");
    let mut full = subscribe(&s, "db", &pat, &[("Timeout-Seconds", "1")]);
    full.read_to_end();
    let whole = full.body.clone();
    let offsets: Vec<u64> = (0..50).map(|i| i * (whole.len() as u64 - 20) / 49).collect();
    for b in offsets {
        s.set_faults(Faults { out_drop_after_bytes: Some(b), ..Faults::default() });
        let mut sse = subscribe(&s, "db", &pat, &[("Timeout-Seconds", "1")]);
        assert_eq!(sse.read_to_end(), End::Aborted, "offset {b}");
        assert_eq!(sse.body.len() as u64, b, "offset {b}");
        assert_eq!(&sse.body[..], &whole[..b as usize], "the same bytes up to the cut");
    }
    s.set_faults(Faults::default());
    let mut healthy = subscribe(&s, "db", &pat, &[("Timeout-Seconds", "1")]);
    assert_eq!(healthy.read_to_end(), End::Clean);
}

#[test]
fn drop_repeats_with_times() {
    let (s, pat, _) = with_turn("dt");
    s.set_faults(Faults {
        out_drop_after_records: Some(1),
        out_drop_after_records_times: Some(2),
        ..Faults::default()
    });
    for _ in 0..2 {
        let mut sse = subscribe(&s, "dt", &pat, &[]);
        assert_eq!(sse.records_until(|_| false).len(), 1);
        assert_eq!(sse.end, End::Aborted);
    }
    assert!(subscribe(&s, "dt", &pat, &[]).turn().len() > 1);
}

#[test]
fn write_chunk_bytes_splits_every_write() {
    let (s, pat, turn) = with_turn("wc");
    s.set_faults(Faults { out_write_chunk_bytes: Some(7), ..Faults::default() });
    let mut sse = subscribe(&s, "wc", &pat, &[]);
    let got = sse.turn();
    assert_eq!(got.len(), turn.len());
    assert!(sse.chunk_sizes.len() > 50);
    assert!(sse.chunk_sizes.iter().all(|&n| n <= 7), "{:?}", sse.chunk_sizes);
}

#[test]
fn stall_next_out() {
    let (s, pat, turn) = with_turn("st");
    s.set_faults(Faults { stall_next_out_ms: Some(1000), ..Faults::default() });
    let started = Instant::now();
    let mut sse = subscribe(&s, "st", &pat, &[]);
    assert!(started.elapsed() < Duration::from_millis(700), "headers come at once");
    sse.set_timeout(Duration::from_millis(300));
    assert!(sse.read_chunk().is_err(), "then nothing");
    sse.set_timeout(WAIT);
    let got = sse.turn();
    assert_eq!(got.len(), turn.len());
    assert!(started.elapsed() >= Duration::from_millis(1000));
    // Used up: the next connection is prompt.
    let started = Instant::now();
    subscribe(&s, "st", &pat, &[]).turn();
    assert!(started.elapsed() < Duration::from_millis(700));
}

#[test]
fn token_ttl_and_expire_all() {
    let s = server();
    s.set_faults(Faults { token_ttl_secs: Some(5), ..Faults::default() });
    let v = create_session(&s, "tt");
    let pat = v["publicAccessToken"].as_str().unwrap().to_string();
    let c = claims(&pat);
    assert_eq!(c["exp"].as_u64().unwrap() - c["iat"].as_u64().unwrap(), 5);
    let mut sse = subscribe(&s, "tt", &pat, &[]);
    send_text(&s, "tt", &pat, "u1", "hi");
    let fresh = sse.turn().last().unwrap().header("public-access-token").unwrap().to_string();
    assert_eq!(claims(&fresh)["exp"].as_u64().unwrap() - claims(&fresh)["iat"].as_u64().unwrap(), 5);

    s.set_faults(Faults { expire_all_tokens: true, ..Faults::default() });
    for t in [&pat, &fresh] {
        let r = get(&s, "/api/v1/sessions/tt", t);
        assert_eq!(r.status, 401);
        assert!(r.json()["error"].as_str().unwrap().contains("Public Access Token has expired"));
        let r = append(&s, "tt", t, &json!({ "kind": "stop" }));
        assert_eq!(r.status, 401);
    }
    assert_eq!(get(&s, "/api/v1/sessions/tt", s.secret_key()).status, 200, "the secret key is no JWT");
    // Tokens minted after the fault are fine.
    let again = create_session_cached(&s, "tt");
    assert_eq!(get(&s, "/api/v1/sessions/tt", &again).status, 200);
    assert_eq!(claims(&again)["exp"].as_u64().unwrap() - claims(&again)["iat"].as_u64().unwrap(), 3600);
}

fn create_session_cached(s: &tchat_devserver::DevServer, chat: &str) -> String {
    let r = post(s, "/api/v1/sessions", s.secret_key(), &create_body(Some(chat), preload(chat)));
    assert_eq!(r.status, 200);
    r.json()["publicAccessToken"].as_str().unwrap().to_string()
}

#[test]
fn error_event_after_records() {
    let (s, pat, turn) = with_turn("ee");
    // The bytes a drop after 3 records sends before it cuts the connection...
    s.set_faults(Faults { out_drop_after_records: Some(3), ..Faults::default() });
    let mut dropped = subscribe(&s, "ee", &pat, &[]);
    assert_eq!(dropped.read_to_end(), End::Aborted);
    // ...are exactly what the error fault sends before its error event; then the body ends cleanly.
    s.set_faults(Faults { out_error_after_records: Some(3), ..Faults::default() });
    let mut sse = subscribe(&s, "ee", &pat, &[]);
    assert_eq!(sse.read_to_end(), End::Clean, "a clean end, with the final chunk");
    let mut want = dropped.body.clone();
    want.extend_from_slice(b"event: error\ndata: Stream error (injected by tchat-devserver)\n\n");
    assert_eq!(String::from_utf8_lossy(&sse.body), String::from_utf8_lossy(&want));
    assert_eq!(sse.body, want);
    assert_eq!(tchat_devserver::OUT_ERROR_MESSAGE, "Stream error (injected by tchat-devserver)");
    let got = sse.records_until(|_| false);
    assert_eq!(got.len(), 3);
    // Resume from the last record: the rest, once; and the fault is used up.
    let last = got.last().unwrap().seq.to_string();
    let rest = subscribe(&s, "ee", &pat, &[("Last-Event-ID", &last)]).turn();
    assert_eq!(rest.len(), turn.len() - 3);
    assert_eq!(rest[0].seq, 3);
}

#[test]
fn error_event_at_once_and_with_times() {
    let (s, pat, turn) = with_turn("ez");
    // After 0 records: the error event is the whole body.
    s.set_faults(Faults { out_error_after_records: Some(0), ..Faults::default() });
    let mut sse = subscribe(&s, "ez", &pat, &[]);
    assert_eq!(sse.read_to_end(), End::Clean);
    assert_eq!(sse.body, b"event: error\ndata: Stream error (injected by tchat-devserver)\n\n");

    s.set_faults(Faults {
        out_error_after_records: Some(1),
        out_error_after_records_times: Some(2),
        ..Faults::default()
    });
    for _ in 0..2 {
        let mut sse = subscribe(&s, "ez", &pat, &[]);
        assert_eq!(sse.records_until(|_| false).len(), 1);
        assert_eq!(sse.end, End::Clean);
        assert!(sse.body.ends_with(b"\n\nevent: error\ndata: Stream error (injected by tchat-devserver)\n\n"));
    }
    assert_eq!(subscribe(&s, "ez", &pat, &[]).turn().len(), turn.len(), "used up after two connections");
}

#[test]
fn error_fault_over_http_defaults_off() {
    let s = server();
    let url = format!("{}/__devserver/faults", s.base_url());
    let got = call("GET", &url, None, None, &[]).json();
    assert_eq!(got["out_error_after_records"], Value::Null);
    assert_eq!(got["out_error_after_records_times"], Value::Null);
    let r = call("POST", &url, None, Some(r#"{"out_error_after_records":2,"out_error_after_records_times":3}"#), &[]);
    assert_eq!(r.status, 200, "{}", r.text);
    let got = call("GET", &url, None, None, &[]).json();
    assert_eq!(got["out_error_after_records"], 2);
    assert_eq!(got["out_error_after_records_times"], 3);
}

/// A crash mid-turn: the run dies after 3 records of its turn, the turn never completes, and no
/// run replaces it until the next append, which starts a continuation that answers.
#[test]
fn kill_run_mid_turn() {
    let s = server();
    let v = create_session(&s, "crash");
    let pat = v["publicAccessToken"].as_str().unwrap().to_string();
    let first_run = v["runId"].as_str().unwrap().to_string();
    s.set_faults(Faults { kill_run_after_turn_records: Some(3), ..Faults::default() });
    let mut sse = subscribe(&s, "crash", &pat, &[("Timeout-Seconds", "1")]);
    send_text(&s, "crash", &pat, "m1", "hello there");
    let recs = sse.records_until(|_| false);
    assert_eq!(recs.len(), 3, "three records, then nothing: {:?}", types_of(&recs));
    assert!(recs.iter().all(|r| r.control().is_none()), "no turn-complete");
    assert_eq!(run_status(&s, &first_run), "CANCELED");
    assert_eq!(s.run_ids("crash").len(), 1, "no replacement before the next append");
    let mut sse = subscribe(&s, "crash", &pat, &[]);
    send_text(&s, "crash", &pat, "m2", "again");
    let runs = s.run_ids("crash");
    assert_eq!(runs.len(), 2, "the append started a continuation");
    // The continuation resumes `.in` after the last committed record, as 4.8's agent does: the
    // message whose turn never completed is answered again, and the new one, arriving while
    // that turn streams, joins it as a steering message.
    let turn =
        sse.records_until(|r| r.control() == Some("turn-complete") && r.header("session-in-event-id") == Some("1"));
    let ends: Vec<_> =
        turn.iter().filter(|r| r.control() == Some("turn-complete")).map(|r| r.header("session-in-event-id")).collect();
    assert_eq!(ends, [Some("1")], "{}", text_of(&turn));
    assert_eq!(text_of(&turn), "You said: hello thereNoted: again");
}

/// `close_writes_nothing`: another party's close only sets `closedAt`; `.out` gets no record.
/// Without it, the agent writes `session-closed` (with the reason), as 4.8's does.
#[test]
fn close_by_another_party_both_ways() {
    let s = server();
    create_session(&s, "quiet");
    s.set_faults(Faults { close_writes_nothing: true, ..Faults::default() });
    let r = post(&s, "/api/v1/sessions/quiet/close", s.secret_key(), &serde_json::json!({ "reason": "bye" }));
    assert_eq!(r.status, 200);
    assert!(r.json()["closedAt"].is_string());
    assert!(s.out_records("quiet").iter().all(|r| r["headers"][0][1] != "session-closed"));
    s.set_faults(Faults::default());
    create_session(&s, "loud");
    post(&s, "/api/v1/sessions/loud/close", s.secret_key(), &serde_json::json!({ "reason": "bye" }));
    let closed: Vec<_> = s.out_records("loud").into_iter().filter(|r| r["headers"][0][1] == "session-closed").collect();
    assert_eq!(closed.len(), 1);
    assert_eq!(closed[0]["headers"][1], serde_json::json!(["session-closed-reason", "bye"]));
}

/// `pending_version`: create and append answer `pendingVersion: true`; an upgrade hand-off
/// writes a `pending-version` control record after `upgrade-required`.
#[test]
fn pending_version() {
    let s = server();
    s.set_faults(Faults { pending_version: true, ..Faults::default() });
    let r = post(&s, "/api/v1/sessions", s.secret_key(), &create_body(Some("pv"), preload("pv")));
    assert_eq!(r.json()["pendingVersion"], true);
    let pat = r.json()["publicAccessToken"].as_str().unwrap().to_string();
    let mut sse = subscribe(&s, "pv", &pat, &[]);
    let a = append(&s, "pv", &pat, &user_message("pv", "m1", "/upgrade"));
    assert_eq!(a.json()["pendingVersion"], true);
    let recs = sse.records_until(|r| r.control() == Some("pending-version"));
    let controls: Vec<_> = recs.iter().filter_map(|r| r.control()).collect();
    assert_eq!(controls, ["upgrade-required", "pending-version"]);
    s.set_faults(Faults::default());
    assert!(post(&s, "/api/v1/sessions", s.secret_key(), &create_body(Some("pv"), preload("pv")))
        .json()
        .get("pendingVersion")
        .is_none());
}

/// Every turn-complete carries `session-in-consumed-id` beside `session-in-event-id`.
#[test]
fn turn_complete_carries_the_consumed_id() {
    let s = server();
    let v = create_session(&s, "cid");
    let pat = v["publicAccessToken"].as_str().unwrap().to_string();
    let mut sse = subscribe(&s, "cid", &pat, &[]);
    send_text(&s, "cid", &pat, "m1", "one");
    let turn = sse.turn();
    let tc = turn.last().unwrap();
    assert_eq!(tc.header("session-in-event-id"), Some("0"));
    assert_eq!(tc.header("session-in-consumed-id"), Some("0"));
}
