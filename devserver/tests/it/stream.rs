//! `.in` append and `.out` SSE: framing, headers, resume, pings, long-poll, peek-settled.

use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::common::*;

#[test]
fn out_headers_framing_and_a_whole_turn() {
    let s = server();
    let v = create_session(&s, "t1");
    let pat = v["publicAccessToken"].as_str().unwrap();
    let mut sse = subscribe(&s, "t1", pat, &[]);
    assert_eq!(sse.header("content-type"), Some("text/event-stream"));
    assert_eq!(sse.header("cache-control"), Some("no-cache"));
    assert_eq!(sse.header("x-stream-version"), Some("v2"));
    assert_eq!(sse.header("x-session-settled"), None);
    let seq = send_text(&s, "t1", pat, "u1", "hello   big world");
    assert_eq!(seq, 0);
    let recs = sse.turn();
    assert_eq!(deltas_of(&recs, "text-delta"), ["You", " said:", " hello", " big", " world"]);
    assert_eq!(text_of(&recs), "You said: hello big world");
    assert_eq!(
        types_of(&recs),
        [
            "start",
            "start-step",
            "text-start",
            "text-delta",
            "text-delta",
            "text-delta",
            "text-delta",
            "text-delta",
            "text-end",
            "finish-step",
            "finish",
            "control:turn-complete"
        ]
    );
    for (i, r) in recs.iter().enumerate() {
        assert_eq!(r.seq, i as u64, "seq_num starts at 0 and is dense");
        assert!(r.raw["timestamp"].as_u64().unwrap() > 1_600_000_000_000);
    }
    let start = recs[0].chunk().unwrap();
    assert!(start["messageId"].as_str().unwrap().starts_with("msg_"));
    assert_eq!(recs[10].chunk().unwrap()["finishReason"], "stop");
    // Data records: no headers key; the body is {"data", "id"}.
    assert!(recs[0].raw.get("headers").is_none());
    let body: serde_json::Value = serde_json::from_str(recs[0].body.as_ref().unwrap()).unwrap();
    assert!(body["id"].is_string());
    let ids: std::collections::HashSet<_> = recs
        .iter()
        .filter_map(|r| r.body.clone())
        .map(|b| serde_json::from_str::<serde_json::Value>(&b).unwrap()["id"].clone())
        .collect();
    assert_eq!(ids.len(), recs.len() - 1, "part ids are unique");
    // Control record: no body key, token and .in cursor.
    let tc = recs.last().unwrap();
    assert!(tc.raw.get("body").is_none());
    assert_eq!(tc.headers[0], ("trigger-control".into(), "turn-complete".into()));
    assert_eq!(tc.headers[1].0, "public-access-token");
    let token = tc.header("public-access-token").unwrap();
    assert!(scopes(token).contains(&"read:sessions:t1".to_string()));
    assert!(scopes(token).contains(&"write:sessions:t1".to_string()));
    assert_eq!(tc.headers[2], ("session-in-event-id".into(), "0".into()));
    // The refreshed token works.
    assert_eq!(send_text(&s, "t1", token, "u2", "again"), 1);
    let second = sse.turn();
    assert_eq!(text_of(&second), "You said: again");
    // After the second turn a trim command drops everything before the first turn-complete.
    let trim = sse.records_until(|r| r.is_command());
    let trim = trim.last().unwrap();
    assert_eq!(trim.headers, vec![(String::new(), "trim".to_string())]);
    let out = s.out_records("t1");
    assert_eq!(out[0]["seq_num"].as_u64(), Some(tc.seq), "trimmed back to the previous turn-complete");
    assert_eq!(out.last().unwrap()["seq_num"].as_u64(), Some(trim.seq));
}

#[test]
fn batch_event_shape() {
    let s = server();
    let pat = create_session(&s, "shape")["publicAccessToken"].as_str().unwrap().to_string();
    send_text(&s, "shape", &pat, "u1", "x");
    let mut sse = subscribe(&s, "shape", &pat, &[]);
    let ev = sse.next_event().unwrap();
    assert_eq!(ev.event.as_deref(), Some("batch"));
    let id = ev.id.unwrap();
    assert_eq!(id.split(',').count(), 3, "an a,b,c triple: {id}");
    let data: serde_json::Value = serde_json::from_str(&ev.data).unwrap();
    assert!(data["records"].is_array());
    assert!(data["tail"]["seq_num"].is_u64() && data["tail"]["timestamp"].is_u64());
}

#[test]
fn resume_with_last_event_id_never_repeats() {
    let s = server();
    let pat = create_session(&s, "resume")["publicAccessToken"].as_str().unwrap().to_string();
    send_text(&s, "resume", &pat, "u1", "one two three four five six");
    let mut all = subscribe(&s, "resume", &pat, &[]).turn();
    let total = all.len();
    for cut in [0usize, 3, 7] {
        let last = all[cut].seq.to_string();
        let rest = subscribe(&s, "resume", &pat, &[("Last-Event-ID", &last)]).turn();
        let seqs: Vec<u64> = rest.iter().map(|r| r.seq).collect();
        assert_eq!(seqs, ((cut as u64 + 1)..total as u64).collect::<Vec<_>>());
    }
    // A cursor behind the trimmed head is clamped forward silently.
    let last = all.last().unwrap().seq.to_string();
    let mut follow = subscribe(&s, "resume", &pat, &[("Last-Event-ID", &last)]);
    // One at a time: a message sent while a turn streams would steer it instead.
    send_text(&s, "resume", &pat, "u2", "b");
    follow.turn();
    send_text(&s, "resume", &pat, "u3", "c");
    follow.turn();
    let mut sse = subscribe(&s, "resume", &pat, &[("Last-Event-ID", "0"), ("Timeout-Seconds", "1")]);
    let recs = sse.records_until(|_| false);
    let first_kept = s.out_records("resume")[0]["seq_num"].as_u64().unwrap();
    assert!(first_kept > 1);
    assert_eq!(recs[0].seq, first_kept);
    all.clear();
}

#[test]
fn pings_and_the_long_poll_window() {
    let mut cfg = fast_config(tchat_devserver::RunMode::Server);
    cfg.ping_interval = Duration::from_millis(50);
    let s = tchat_devserver::DevServer::start(cfg).unwrap();
    let pat = create_session(&s, "ping")["publicAccessToken"].as_str().unwrap().to_string();
    let started = Instant::now();
    let mut sse = subscribe(&s, "ping", &pat, &[("Timeout-Seconds", "1")]);
    let mut pings = 0;
    let mut done = false;
    while let Some(ev) = sse.next_event() {
        match ev.event.as_deref() {
            Some("ping") => {
                let v: serde_json::Value = serde_json::from_str(&ev.data).unwrap();
                assert!(v["timestamp"].is_u64());
                pings += 1;
            }
            None if ev.data == "[DONE]" => done = true,
            other => panic!("unexpected event {other:?}"),
        }
    }
    let took = started.elapsed();
    assert!(done, "[DONE] ends the window");
    assert_eq!(sse.end, End::Clean);
    assert!(pings >= 3, "pings every 50 ms, got {pings}");
    assert!(took >= Duration::from_millis(950) && took < Duration::from_secs(3), "{took:?}");
}

#[test]
fn timeout_seconds_validation() {
    let s = server();
    let pat = create_session(&s, "to")["publicAccessToken"].as_str().unwrap().to_string();
    for bad in ["0", "601", "abc", "1.5"] {
        let sse = Sse::open(&s, "/realtime/v1/sessions/to/out", &pat, &[("Timeout-Seconds", bad)]);
        assert_eq!(sse.status, 400, "{bad}");
        assert!(sse.header("content-type").unwrap().starts_with("text/plain"));
    }
    let mut ok = Sse::open(&s, "/realtime/v1/sessions/to/out", &pat, &[("Timeout-Seconds", "600")]);
    assert_eq!(ok.status, 200);
    ok.set_timeout(Duration::from_millis(50));
    assert!(ok.read_chunk().is_err(), "nothing to say yet");
}

#[test]
fn peek_settled() {
    let s = server();
    let pat = create_session(&s, "peek")["publicAccessToken"].as_str().unwrap().to_string();
    // Nothing written yet: not settled, a normal long poll.
    let mut sse = subscribe(&s, "peek", &pat, &[("X-Peek-Settled", "1"), ("Timeout-Seconds", "30")]);
    assert_eq!(sse.header("x-session-settled"), None);
    send_text(&s, "peek", &pat, "u1", "hi");
    let recs = sse.turn();
    drop(sse);
    let started = Instant::now();
    let mut sse =
        subscribe(&s, "peek", &pat, &[("X-Peek-Settled", "1"), ("Timeout-Seconds", "30"), ("Last-Event-ID", "2")]);
    assert_eq!(sse.header("x-session-settled"), Some("true"));
    let rest = sse.records_until(|_| false);
    assert_eq!(rest.first().unwrap().seq, 3);
    assert_eq!(rest.last().unwrap().seq, recs.last().unwrap().seq);
    assert_eq!(sse.end, End::Clean);
    assert!(started.elapsed() < Duration::from_secs(1));
}

#[test]
fn out_records_endpoint() {
    // The SDK's `readSessionStreamRecords` shape: `{records: [{data, id, seqNum, headers?}]}`,
    // the record's `{data, id}` envelope unwrapped, S2 command records left out.
    let s = server();
    let pat = create_session(&s, "recs")["publicAccessToken"].as_str().unwrap().to_string();
    send_text(&s, "recs", &pat, "u1", "hi");
    let turn = subscribe(&s, "recs", &pat, &[]).turn();
    let r = get(&s, "/realtime/v1/sessions/recs/out/records?afterEventId=5", &pat).json();
    let recs = r["records"].as_array().unwrap();
    let seqs: Vec<u64> = recs.iter().map(|r| r["seqNum"].as_u64().unwrap()).collect();
    assert_eq!(seqs, (6..turn.len() as u64).collect::<Vec<_>>());
    for (rec, wire) in recs.iter().zip(&turn[6..]) {
        match wire.chunk() {
            Some(chunk) => {
                let envelope: Value = serde_json::from_str(wire.body.as_deref().unwrap()).unwrap();
                assert_eq!(rec["data"], chunk);
                assert_eq!(rec["id"], envelope["id"]);
                assert!(rec.get("headers").is_none(), "a data record has no headers: {rec}");
            }
            None => {
                assert_eq!(rec["data"], "", "a control record has no data");
                assert_eq!(rec["id"], "");
                assert_eq!(rec["headers"][0], json!(["trigger-control", "turn-complete"]));
            }
        }
    }
    let all = get(&s, "/realtime/v1/sessions/recs/out/records", &pat).json();
    assert_eq!(all["records"].as_array().unwrap().len(), turn.len());
    assert_eq!(all["records"][0]["data"]["type"], "start");

    // A second turn trims: the trim command record is never returned.
    send_text(&s, "recs", &pat, "u2", "again");
    subscribe(&s, "recs", &pat, &[("Last-Event-ID", &(turn.len() - 1).to_string())]).turn();
    assert!(s.out_records("recs").iter().any(|r| r["headers"][0][0] == ""), "the devserver wrote a trim");
    let all = get(&s, "/realtime/v1/sessions/recs/out/records", &pat).json();
    assert!(all["records"].as_array().unwrap().iter().all(|r| r["headers"][0][0] != ""));

    // Addressing and validation as the SSE route: an externalId with no session reads as empty.
    assert_eq!(get(&s, "/realtime/v1/sessions/nobody/out/records", s.secret_key()).json(), json!({ "records": [] }));
    assert_eq!(get(&s, "/realtime/v1/sessions/session_nobody/out/records", s.secret_key()).status, 404);
    assert_eq!(get(&s, "/realtime/v1/sessions/recs/out/records?afterEventId=-1", &pat).status, 400);
    assert_eq!(get(&s, "/realtime/v1/sessions/recs/out/records?afterEventId=x", &pat).status, 400);
    let other = create_session(&s, "other")["publicAccessToken"].as_str().unwrap().to_string();
    assert_eq!(get(&s, "/realtime/v1/sessions/recs/out/records", &other).status, 403);
}

#[test]
fn in_records_endpoint() {
    // `.in` records come back as posted: `data` is the raw JSON text, `id` the part id.
    let s = server();
    let pat = create_session(&s, "inrecs")["publicAccessToken"].as_str().unwrap().to_string();
    let body = user_message("inrecs", "u1", "hi").to_string();
    let url = format!("{}/realtime/v1/sessions/inrecs/in/append", s.base_url());
    assert_eq!(call("POST", &url, Some(&pat), Some(&body), &[("X-Part-Id", "part-a")]).status, 200);
    assert_eq!(append(&s, "inrecs", &pat, &json!({ "kind": "stop" })).status, 200);
    let r = get(&s, "/realtime/v1/sessions/inrecs/in/records", &pat).json();
    let recs = r["records"].as_array().unwrap();
    assert_eq!(recs.len(), 2);
    assert_eq!(recs[0], json!({ "data": body, "id": "part-a", "seqNum": 0 }));
    assert_eq!(recs[1]["seqNum"], 1);
    assert_eq!(recs[1]["data"], json!({ "kind": "stop" }).to_string());
    assert!(!recs[1]["id"].as_str().unwrap().is_empty(), "every record has an id");
    let after = get(&s, "/realtime/v1/sessions/inrecs/in/records?afterEventId=0", &pat).json();
    assert_eq!(after["records"].as_array().unwrap().len(), 1);
    assert_eq!(after["records"][0]["seqNum"], 1);
}

#[test]
fn append_dedupes_part_ids_and_limits_size() {
    let s = server();
    let v = create_session(&s, "app");
    let id = v["id"].as_str().unwrap().to_string();
    let pat = v["publicAccessToken"].as_str().unwrap().to_string();
    let url = format!("{}/realtime/v1/sessions/app/in/append", s.base_url());
    let body = user_message("app", "m1", "once").to_string();
    let r = call("POST", &url, Some(&pat), Some(&body), &[("X-Part-Id", "p-1")]);
    assert_eq!(r.json(), json!({ "ok": true, "seq": 0 }));
    let r = call("POST", &url, Some(&pat), Some(&body), &[("X-Part-Id", "p-1")]);
    assert_eq!(r.status, 200);
    assert_eq!(r.json(), json!({ "ok": true }), "a retried part is dropped");
    let ins = s.in_records(&id);
    assert_eq!(ins.len(), 1);
    assert_eq!(ins[0]["seq"], 0);
    assert_eq!(ins[0]["partId"], "p-1");
    assert_eq!(ins[0]["body"]["payload"]["message"]["id"], "m1");
    // The friendly id form and the test route see the same records.
    let r = call("GET", &format!("{}/__devserver/sessions/{id}/in", s.base_url()), None, None, &[]);
    assert_eq!(r.json().as_array().unwrap().len(), 1);

    let r = append(&s, "session_unknown", s.secret_key(), &user_message("x", "m", "x"));
    assert_eq!(r.status, 404);
    assert_eq!(r.json(), json!({ "error": "Resource not found" }));
}

#[test]
fn one_pat_authorizes_both_url_forms_and_nothing_else() {
    let s = server();
    let a = create_session(&s, "chat-a");
    let b = create_session(&s, "chat-b");
    let a_id = a["id"].as_str().unwrap().to_string();
    let a_pat = a["publicAccessToken"].as_str().unwrap().to_string();
    for key in ["chat-a", a_id.as_str()] {
        assert_eq!(append(&s, key, &a_pat, &json!({ "kind": "stop" })).status, 200);
        assert_eq!(
            Sse::open(&s, &format!("/realtime/v1/sessions/{key}/out"), &a_pat, &[("Timeout-Seconds", "1")]).status,
            200
        );
    }
    // A PAT minted for the friendly id works on the externalId form too.
    let by_id =
        s.mint_token(&[&format!("write:sessions:{a_id}"), &format!("read:sessions:{a_id}")], Duration::from_secs(60));
    assert_eq!(append(&s, "chat-a", &by_id, &json!({ "kind": "stop" })).status, 200);
    let r = append(&s, "chat-b", &a_pat, &json!({ "kind": "stop" }));
    assert_eq!(r.status, 403);
    assert_eq!(
        r.json(),
        json!({"error":"Unauthorized","code":"unauthorized","param":"access_token","type":"authorization"})
    );
    let sse = Sse::open(&s, "/realtime/v1/sessions/chat-b/out", &a_pat, &[]);
    assert_eq!(sse.status, 403);
    let read_only = s.mint_token(&["read:sessions:chat-a"], Duration::from_secs(60));
    assert_eq!(append(&s, "chat-a", &read_only, &json!({ "kind": "stop" })).status, 403);
    let _ = b;
    // 404 only for a friendly id that names nothing; an unknown externalId is an empty stream.
    let any = s.mint_token(&["read:sessions"], Duration::from_secs(60));
    assert_eq!(Sse::open(&s, "/realtime/v1/sessions/session_nothing/out", &any, &[]).status, 404);
    let mut empty = Sse::open(&s, "/realtime/v1/sessions/not-yet/out", &any, &[("Timeout-Seconds", "1")]);
    assert_eq!(empty.status, 200);
    assert!(empty.records_until(|_| false).is_empty());
    assert_eq!(empty.end, End::Clean);
}

#[test]
fn expired_tokens_are_401() {
    let s = server();
    create_session(&s, "exp-tok");
    let short = s.mint_token(&["read:sessions:exp-tok"], Duration::from_secs(0));
    // exp has one-second resolution: wait for the clock to pass it.
    std::thread::sleep(Duration::from_millis(1100));
    let r = get(&s, "/api/v1/sessions/exp-tok", &short);
    assert_eq!(r.status, 401);
    assert!(r.json()["error"].as_str().unwrap().contains("Public Access Token has expired"));
}

#[test]
fn hundreds_of_subscribers_all_get_the_turn() {
    let s = server();
    let pat = create_session(&s, "many")["publicAccessToken"].as_str().unwrap().to_string();
    let mut subs: Vec<Sse> = (0..200).map(|_| subscribe(&s, "many", &pat, &[])).collect();
    send_text(&s, "many", &pat, "u1", "to everyone");
    for sse in subs.iter_mut() {
        assert_eq!(text_of(&sse.turn()), "You said: to everyone");
    }
}
