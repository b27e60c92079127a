//! The demo agent's commands, with the exact chunks and texts tests elsewhere rely on.

use serde_json::json;

use crate::common::*;

fn setup(chat: &str) -> (tchat_devserver::DevServer, String) {
    let s = server();
    let pat = create_session(&s, chat)["publicAccessToken"].as_str().unwrap().to_string();
    (s, pat)
}

#[test]
fn reason() {
    let (s, pat) = setup("r");
    let mut sse = subscribe(&s, "r", &pat, &[]);
    send_text(&s, "r", &pat, "u1", "/reason the sky");
    let recs = sse.turn();
    assert_eq!(deltas_of(&recs, "reasoning-delta"), ["Thinking", " about:", " the", " sky"]);
    assert_eq!(text_of(&recs), "You said: the sky");
    let t = types_of(&recs);
    assert_eq!(&t[..3], ["start", "start-step", "reasoning-start"]);
    let r_end = t.iter().position(|x| x == "reasoning-end").unwrap();
    let t_start = t.iter().position(|x| x == "text-start").unwrap();
    assert!(r_end < t_start);
}

#[test]
fn data_parts() {
    let (s, pat) = setup("d");
    let mut sse = subscribe(&s, "d", &pat, &[]);
    send_text(&s, "d", &pat, "u1", "/data");
    let recs = sse.turn();
    let data: Vec<_> =
        recs.iter().filter_map(Rec::chunk).filter(|c| c["type"].as_str().unwrap().starts_with("data-")).collect();
    assert_eq!(
        data,
        vec![
            json!({ "type": "data-status", "id": "status-1", "data": { "state": "searching" } }),
            json!({ "type": "data-status", "id": "status-2", "data": { "state": "reading" } }),
            json!({ "type": "data-status", "id": "status-1", "data": { "state": "done" } }),
            json!({ "type": "data-notice", "data": { "message": "This part is transient" }, "transient": true }),
        ]
    );
    assert_eq!(text_of(&recs), "Here is your data.");
}

fn approval_message(msg_id: &str, call: &str, approval: &str, approved: bool) -> serde_json::Value {
    json!({ "kind": "message", "payload": { "chatId": "tool", "trigger": "submit-message", "message": {
        "id": msg_id, "role": "assistant", "parts": [{
            "type": "tool-get_weather", "toolCallId": call, "state": "approval-responded",
            "approval": { "id": approval, "approved": approved } }] } } })
}

fn tool_round(approved: bool) -> (Vec<Rec>, Vec<Rec>) {
    let (s, pat) = setup("tool");
    let mut sse = subscribe(&s, "tool", &pat, &[]);
    send_text(&s, "tool", &pat, "u1", "/tool Oslo");
    let first = sse.turn();
    assert_eq!(
        types_of(&first),
        [
            "start",
            "start-step",
            "tool-input-start",
            "tool-input-delta",
            "tool-input-delta",
            "tool-input-delta",
            "tool-input-available",
            "tool-approval-request",
            "finish-step",
            "finish",
            "control:turn-complete"
        ]
    );
    let chunks: Vec<_> = first.iter().filter_map(Rec::chunk).collect();
    let msg_id = chunks[0]["messageId"].as_str().unwrap().to_string();
    let call = chunks[2]["toolCallId"].as_str().unwrap().to_string();
    assert_eq!(chunks[2]["toolName"], "get_weather");
    let input: String = chunks[3..6].iter().map(|c| c["inputTextDelta"].as_str().unwrap()).collect();
    assert_eq!(input, r#"{"city":"Oslo"}"#);
    assert_eq!(chunks[6]["input"], json!({ "city": "Oslo" }));
    let approval = chunks[7]["approvalId"].as_str().unwrap().to_string();
    assert_eq!(chunks[7]["toolCallId"], call.as_str());
    assert!(first.last().unwrap().header("public-access-token").is_some());

    let r = append(&s, "tool", &pat, &approval_message(&msg_id, &call, &approval, approved));
    assert_eq!(r.status, 200);
    let second = sse.turn();
    let c2: Vec<_> = second.iter().filter_map(Rec::chunk).collect();
    assert_eq!(c2[0], json!({ "type": "start", "messageId": msg_id }), "continues the same message");
    assert_eq!(c2[1]["type"], "start-step");
    assert_eq!(c2[2]["toolCallId"], call.as_str());
    (first, second)
}

#[test]
fn tool_approved() {
    let (_, second) = tool_round(true);
    let out = second.iter().filter_map(Rec::chunk).find(|c| c["type"] == "tool-output-available").unwrap();
    assert_eq!(out["output"], json!({ "city": "Oslo", "forecast": "sunny", "temperatureC": 21 }));
    assert_eq!(text_of(&second), "The weather in Oslo is sunny, 21°C.");
    assert_eq!(types_of(&second).iter().rev().nth(1).unwrap(), "finish");
}

#[test]
fn tool_denied() {
    let (_, second) = tool_round(false);
    assert!(second.iter().filter_map(Rec::chunk).any(|c| c["type"] == "tool-output-denied"));
    assert_eq!(text_of(&second), "Okay, I won't check the weather in Oslo.");
}

#[test]
fn slow_and_stop() {
    let mut cfg = fast_config(tchat_devserver::RunMode::Server);
    cfg.delta_delay = std::time::Duration::from_millis(20);
    let s = tchat_devserver::DevServer::start(cfg).unwrap();
    let pat = create_session(&s, "slow")["publicAccessToken"].as_str().unwrap().to_string();
    let mut sse = subscribe(&s, "slow", &pat, &[]);
    send_text(&s, "slow", &pat, "u1", "/slow 3");
    assert_eq!(deltas_of(&sse.turn(), "text-delta"), ["tick 1", " tick 2", " tick 3"]);

    send_text(&s, "slow", &pat, "u2", "/slow 1000");
    let head = sse.records_until(|r| r.chunk().is_some_and(|c| c["delta"] == " tick 3"));
    assert!(!head.is_empty());
    let stop_seq = append(&s, "slow", &pat, &json!({ "kind": "stop" })).json()["seq"].as_u64().unwrap();
    let rest = sse.turn();
    let types = types_of(&rest);
    let n = types.len();
    assert_eq!(&types[n - 3..], ["text-end", "abort", "control:turn-complete"]);
    let ticks = deltas_of(&head, "text-delta").len() + deltas_of(&rest, "text-delta").len();
    assert!(ticks < 100, "stopped early, after {ticks} ticks");
    let tc = rest.last().unwrap();
    assert_eq!(tc.header("session-in-event-id"), Some(stop_seq.to_string().as_str()));
    assert!(tc.header("public-access-token").is_some());
    // The agent is idle again and answers the next message.
    send_text(&s, "slow", &pat, "u3", "still there?");
    assert_eq!(text_of(&sse.turn()), "You said: still there?");
}

#[test]
fn steering_message_is_noted_in_the_same_turn() {
    let mut cfg = fast_config(tchat_devserver::RunMode::Server);
    cfg.delta_delay = std::time::Duration::from_millis(10);
    let s = tchat_devserver::DevServer::start(cfg).unwrap();
    let pat = create_session(&s, "steer")["publicAccessToken"].as_str().unwrap().to_string();
    let mut sse = subscribe(&s, "steer", &pat, &[]);
    send_text(&s, "steer", &pat, "u1", "/slow 30");
    sse.records_until(|r| r.chunk().is_some_and(|c| c["delta"] == " tick 2"));
    let steer_seq = send_text(&s, "steer", &pat, "u2", "use metric units");
    let rest = sse.turn();
    let text = text_of(&rest);
    assert!(text.ends_with(" tick 30Noted: use metric units"), "{text}");
    let types = types_of(&rest);
    let n = types.len();
    assert_eq!(
        &types[n - 12..],
        [
            "text-end",
            "finish-step",
            "start-step",
            "text-start",
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
    assert_eq!(rest.last().unwrap().header("session-in-event-id"), Some(steer_seq.to_string().as_str()));
    // Consumed as steering: it starts no turn of its own.
    send_text(&s, "steer", &pat, "u3", "next");
    assert_eq!(text_of(&sse.turn()), "You said: next");
}

#[test]
fn error_turn_has_no_token() {
    let (s, pat) = setup("err");
    let mut sse = subscribe(&s, "err", &pat, &[]);
    send_text(&s, "err", &pat, "u1", "/error");
    let recs = sse.turn();
    assert_eq!(types_of(&recs), ["start", "error", "control:turn-complete"]);
    assert_eq!(recs[1].chunk().unwrap()["errorText"], "The demo agent failed on purpose");
    let tc = recs.last().unwrap();
    assert!(tc.header("public-access-token").is_none());
    assert_eq!(tc.header("session-in-event-id"), Some("0"));
}

fn action(chat: &str, kind: &str) -> serde_json::Value {
    json!({ "kind": "message", "payload": { "chatId": chat, "trigger": "action", "action": { "type": kind } } })
}

#[test]
fn undo_regenerate_and_unknown_action() {
    let (s, pat) = setup("hist");
    let mut sse = subscribe(&s, "hist", &pat, &[]);
    send_text(&s, "hist", &pat, "u1", "first");
    sse.turn();
    send_text(&s, "hist", &pat, "u2", "second");
    sse.turn();
    append(
        &s,
        "hist",
        &pat,
        &json!({ "kind": "message", "payload": { "chatId": "hist", "trigger": "regenerate-message" } }),
    );
    let regen = sse.records_until(|r| r.control() == Some("turn-complete"));
    assert_eq!(text_of(&regen), "You said: second");
    assert!(regen.last().unwrap().header("public-access-token").is_some());
    append(&s, "hist", &pat, &action("hist", "undo"));
    let undo = sse.records_until(|r| r.control() == Some("turn-complete"));
    assert_eq!(text_of(&undo), "Undid the last exchange.");
    assert!(undo.last().unwrap().header("public-access-token").is_none(), "action turns carry no token");
    // After undoing "second", regenerate answers "first" again.
    append(
        &s,
        "hist",
        &pat,
        &json!({ "kind": "message", "payload": { "chatId": "hist", "trigger": "regenerate-message" } }),
    );
    assert_eq!(text_of(&sse.records_until(|r| r.control() == Some("turn-complete"))), "You said: first");
    append(&s, "hist", &pat, &action("hist", "fly"));
    let bad: Vec<Rec> =
        sse.records_until(|r| r.control() == Some("turn-complete")).into_iter().filter(|r| !r.is_command()).collect();
    assert_eq!(types_of(&bad), ["start", "error", "control:turn-complete"]);
    assert_eq!(bad[1].chunk().unwrap()["errorText"], "Unknown action: fly");
}

#[test]
fn close_trigger_ends_the_run_quietly() {
    let (s, pat) = setup("bye");
    let run = s.run_ids("bye")[0].clone();
    append(&s, "bye", &pat, &json!({ "kind": "message", "payload": { "chatId": "bye", "trigger": "close" } }));
    eventually("run completes", || run_status(&s, &run) == "COMPLETED");
    assert!(s.out_records("bye").is_empty());
}

#[test]
fn first_message_in_the_create_payload() {
    let s = server();
    let base = json!({ "chatId": "fm", "trigger": "submit-message",
        "message": { "id": "u1", "role": "user", "parts": [{ "type": "text", "text": "from the payload" }] } });
    let v = post(&s, "/api/v1/sessions", s.secret_key(), &create_body(Some("fm"), base)).json();
    let mut sse = subscribe(&s, "fm", v["publicAccessToken"].as_str().unwrap(), &[]);
    let recs = sse.turn();
    assert_eq!(text_of(&recs), "You said: from the payload");
    assert!(recs.last().unwrap().header("session-in-event-id").is_none(), "nothing consumed from .in yet");
}
