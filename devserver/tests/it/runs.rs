//! Runs in both modes: status, kill, idle timeout, continuations, upgrades, the trigger route.

use std::time::Duration;

use serde_json::json;

use crate::common::*;

#[test]
fn run_status_and_scopes() {
    let s = server();
    let v = create_session(&s, "rs");
    let run = v["runId"].as_str().unwrap().to_string();
    let r = get(&s, &format!("/api/v3/runs/{run}"), s.secret_key());
    assert_eq!(r.status, 200);
    let j = r.json();
    assert_eq!(j["id"], run.as_str());
    assert_eq!(j["status"], "WAITING", "a preloaded run waits on .in");
    assert_eq!(j["isCompleted"], false);
    assert_eq!(j["isFailed"], false);
    assert_eq!(j["isCancelled"], false);
    assert_eq!(j["payload"]["sessionId"], v["id"]);
    assert_eq!(j["payload"]["trigger"], "preload");
    let pat = v["publicAccessToken"].as_str().unwrap();
    assert_eq!(get(&s, &format!("/api/v3/runs/{run}"), pat).status, 403);
    let runs_token = s.mint_token(&[&format!("read:runs:{run}")], Duration::from_secs(60));
    assert_eq!(get(&s, &format!("/api/v3/runs/{run}"), &runs_token).status, 200);
    let r = get(&s, "/api/v3/runs/run_missing", s.secret_key());
    assert_eq!(r.status, 404);
}

#[test]
fn run_object_has_every_field_the_sdk_requires() {
    // `RetrieveRunResponse` in @trigger.dev/core: these are required (`finishedAt` is optional,
    // so it is absent, not null, while the run lives).
    let s = server();
    let v = create_session(&s, "fields");
    let run = v["runId"].as_str().unwrap().to_string();
    let j = get(&s, &format!("/api/v3/runs/{run}"), s.secret_key()).json();
    for key in [
        "id",
        "status",
        "taskIdentifier",
        "isQueued",
        "isExecuting",
        "isWaiting",
        "isCompleted",
        "isSuccess",
        "isFailed",
        "isCancelled",
        "isTest",
        "createdAt",
        "updatedAt",
        "tags",
        "costInCents",
        "baseCostInCents",
        "durationMs",
        "depth",
        "triggerFunction",
        "relatedRuns",
    ] {
        assert!(j.get(key).is_some_and(|v| !v.is_null()), "{key} missing: {j}");
    }
    assert_eq!(j["triggerFunction"], "trigger");
    assert!(j["relatedRuns"].is_object());
    assert!(j.get("finishedAt").is_none(), "a live run has no finishedAt: {j}");
    assert_eq!(
        (j["isWaiting"].as_bool(), j["isExecuting"].as_bool()),
        (Some(true), Some(false)),
        "WAITING is not executing"
    );
    s.kill_run("fields");
    let j = get(&s, &format!("/api/v3/runs/{run}"), s.secret_key()).json();
    assert_eq!(j["status"], "CANCELED");
    assert!(j["finishedAt"].is_string());
    assert!(j["durationMs"].is_u64());
}

#[test]
fn server_mode_continues_after_a_killed_run() {
    let s = server();
    let v = create_session(&s, "kill");
    let pat = v["publicAccessToken"].as_str().unwrap().to_string();
    let first = v["runId"].as_str().unwrap().to_string();
    let mut sse = subscribe(&s, "kill", &pat, &[]);
    send_text(&s, "kill", &pat, "u1", "before");
    sse.turn();
    s.kill_run("kill");
    let r = get(&s, &format!("/api/v3/runs/{first}"), s.secret_key()).json();
    assert_eq!(r["status"], "CANCELED");
    assert_eq!(r["isCancelled"], true);
    assert_eq!(r["isCompleted"], true);
    send_text(&s, "kill", &pat, "u2", "after");
    assert_eq!(text_of(&sse.turn()), "You said: after");
    let runs = s.run_ids("kill");
    assert_eq!(runs.len(), 2);
    assert_eq!(runs[0], first);
    let p = get(&s, &format!("/api/v3/runs/{}", runs[1]), s.secret_key()).json()["payload"].clone();
    assert_eq!(p["continuation"], true);
    assert_eq!(p["previousRunId"], first.as_str());
    assert_eq!(p["sessionId"], v["id"]);
    assert_eq!(get(&s, "/api/v1/sessions/kill", s.secret_key()).json()["currentRunId"], runs[1].as_str());
    assert_eq!(s.in_records("kill").len(), 2, "each message seen once");
}

#[test]
fn idle_timeout_ends_the_run() {
    let s = server();
    let mut base = preload("idle");
    base["idleTimeoutInSeconds"] = json!(0.2);
    let v = post(&s, "/api/v1/sessions", s.secret_key(), &create_body(Some("idle"), base)).json();
    let run = v["runId"].as_str().unwrap().to_string();
    let pat = v["publicAccessToken"].as_str().unwrap().to_string();
    eventually("idle run completes", || run_status(&s, &run) == "COMPLETED");
    let mut sse = subscribe(&s, "idle", &pat, &[]);
    send_text(&s, "idle", &pat, "u1", "wake up");
    assert_eq!(text_of(&sse.turn()), "You said: wake up");
    assert_eq!(s.run_ids("idle").len(), 2);
}

#[test]
fn idle_timeout_from_trigger_config() {
    let s = server();
    let mut body = create_body(Some("idle2"), preload("idle2"));
    // The real schema takes whole seconds (1..=3600).
    body["triggerConfig"]["idleTimeoutInSeconds"] = json!(1);
    let v = post(&s, "/api/v1/sessions", s.secret_key(), &body).json();
    let run = v["runId"].as_str().unwrap().to_string();
    assert_eq!(
        get(&s, &format!("/api/v3/runs/{run}"), s.secret_key()).json()["payload"]["idleTimeoutInSeconds"],
        json!(1)
    );
    eventually("idle run completes", || run_status(&s, &run) == "COMPLETED");
    let pat = v["publicAccessToken"].as_str().unwrap();
    send_text(&s, "idle2", pat, "u1", "again");
    let second = s.run_ids("idle2")[1].clone();
    assert_eq!(
        get(&s, &format!("/api/v3/runs/{second}"), s.secret_key()).json()["payload"]["idleTimeoutInSeconds"],
        json!(1)
    );
}

#[test]
fn server_mode_upgrade_swaps_runs_itself() {
    let s = server();
    let pat = create_session(&s, "up")["publicAccessToken"].as_str().unwrap().to_string();
    let mut sse = subscribe(&s, "up", &pat, &[]);
    send_text(&s, "up", &pat, "u1", "/upgrade");
    let recs = sse.turn();
    assert_eq!(recs[0].headers, vec![("trigger-control".to_string(), "upgrade-required".to_string())]);
    assert!(recs[0].raw.get("body").is_none());
    assert_eq!(text_of(&recs), "You said: /upgrade");
    let runs = s.run_ids("up");
    assert_eq!(runs.len(), 2);
    assert_eq!(run_status(&s, &runs[0]), "COMPLETED");
}

fn trigger(s: &tchat_devserver::DevServer, task: &str, token: &str, payload: serde_json::Value) -> Resp {
    post(
        s,
        &format!("/api/v1/tasks/{task}/trigger"),
        token,
        &json!({ "payload": payload, "options": { "tags": ["t"] } }),
    )
}

#[test]
fn client_mode_seed_flow() {
    let s = client_mode_server();
    let r = post(&s, "/api/v1/sessions", s.secret_key(), &create_body(Some("seed"), preload("seed")));
    assert_eq!(r.status, 201);
    let v = r.json();
    assert!(v.get("runId").is_none(), "client mode starts no run");
    assert_eq!(v["currentRunId"], json!(null));
    let sid = v["id"].as_str().unwrap().to_string();
    let pat = v["publicAccessToken"].as_str().unwrap().to_string();
    // Appended while no run is alive: stored, not answered.
    send_text(&s, "seed", &pat, "u1", "waiting");
    assert!(s.run_ids("seed").is_empty());

    let r = trigger(&s, "other", s.secret_key(), json!({ "chatId": "seed", "sessionId": sid }));
    assert_eq!(r.status, 404);
    assert_eq!(r.json(), json!({ "error": "Task not found" }));
    let r = trigger(&s, "demo", &pat, json!({ "chatId": "seed", "sessionId": sid }));
    assert_eq!(r.status, 403, "a session PAT cannot trigger");

    let r = trigger(
        &s,
        "demo",
        s.secret_key(),
        json!({ "chatId": "seed", "trigger": "preload", "messages": [], "sessionId": sid }),
    );
    assert_eq!(r.status, 200, "{}", r.text);
    let j = r.json();
    let run = j["id"].as_str().unwrap().to_string();
    assert!(run.starts_with("run_"));
    assert_eq!(j["isCached"], false);
    let jwt = r.header("x-trigger-jwt").unwrap().to_string();
    assert_eq!(
        scopes(&jwt),
        vec![format!("read:runs:{run}"), format!("read:sessions:{sid}"), format!("write:sessions:{sid}")]
    );
    let header_claims: serde_json::Value = serde_json::from_str(r.header("x-trigger-jwt-claims").unwrap()).unwrap();
    assert_eq!(header_claims["pub"], true);
    assert_eq!(header_claims["scopes"], claims(&jwt)["scopes"]);
    assert_eq!(get(&s, &format!("/api/v3/runs/{run}"), &jwt).status, 200);

    // The new run consumes what arrived while no run was alive.
    let mut sse = subscribe(&s, &sid, &jwt, &[]);
    assert_eq!(text_of(&sse.turn()), "You said: waiting");
    send_text(&s, &sid, &jwt, "u2", "live");
    assert_eq!(text_of(&sse.turn()), "You said: live");

    // A dead run stays dead until the client triggers a continuation.
    s.kill_run("seed");
    send_text(&s, "seed", &jwt, "u3", "after death");
    assert_eq!(s.run_ids("seed").len(), 1);
    let r = trigger(
        &s,
        "demo",
        s.secret_key(),
        json!({ "chatId": "seed", "trigger": "preload", "sessionId": sid, "continuation": true, "previousRunId": run }),
    );
    assert_eq!(r.status, 200);
    assert_eq!(text_of(&sse.turn()), "You said: after death");
    assert_eq!(s.run_ids("seed").len(), 2);
}

#[test]
fn client_mode_upgrade_waits_for_the_client() {
    let s = client_mode_server();
    let v = post(&s, "/api/v1/sessions", s.secret_key(), &create_body(Some("cu"), preload("cu"))).json();
    let sid = v["id"].as_str().unwrap().to_string();
    let jwt = trigger(&s, "demo", s.secret_key(), json!({ "chatId": "cu", "trigger": "preload", "sessionId": sid }))
        .header("x-trigger-jwt")
        .unwrap()
        .to_string();
    let mut sse = subscribe(&s, &sid, &jwt, &[]);
    send_text(&s, &sid, &jwt, "u1", "/upgrade");
    let recs = sse.records_until(|r| r.control().is_some());
    assert_eq!(recs.last().unwrap().control(), Some("upgrade-required"));
    let first = s.run_ids("cu")[0].clone();
    eventually("the upgraded run ends", || run_status(&s, &first) == "COMPLETED");
    assert_eq!(s.run_ids("cu").len(), 1, "no run until the client triggers");
    let r = trigger(
        &s,
        "demo",
        s.secret_key(),
        json!({ "chatId": "cu", "trigger": "preload", "sessionId": sid, "continuation": true, "previousRunId": first }),
    );
    assert_eq!(r.status, 200);
    assert_eq!(text_of(&sse.turn()), "You said: /upgrade");
}

#[test]
fn trigger_accepts_the_sdks_serialized_payloads() {
    // `tasks.trigger` sends the payload as text with `options.payloadType`.
    let s = client_mode_server();
    let sid = post(&s, "/api/v1/sessions", s.secret_key(), &create_body(Some("sj"), preload("sj"))).json()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let payload = json!({ "chatId": "sj", "trigger": "submit-message", "sessionId": sid,
        "message": { "id": "u1", "role": "user", "parts": [{ "type": "text", "text": "superjson" }] } });
    let packet = json!({ "json": payload }).to_string();
    let body = json!({ "payload": packet, "options": { "payloadType": "application/super+json", "payloadSize": packet.len() } });
    let r = post(&s, "/api/v1/tasks/demo/trigger", s.secret_key(), &body);
    assert_eq!(r.status, 200, "{}", r.text);
    let run = r.json()["id"].as_str().unwrap().to_string();
    let jwt = r.header("x-trigger-jwt").unwrap().to_string();
    assert_eq!(get(&s, &format!("/api/v3/runs/{run}"), &jwt).json()["payload"], payload);
    let mut sse = subscribe(&s, "sj", &jwt, &[]);
    assert_eq!(text_of(&sse.turn()), "You said: superjson");

    let plain = json!({ "chatId": "sj", "trigger": "preload", "sessionId": sid }).to_string();
    let r = post(
        &s,
        "/api/v1/tasks/demo/trigger",
        s.secret_key(),
        &json!({ "payload": plain, "options": { "payloadType": "application/json" } }),
    );
    assert_eq!(r.status, 200, "{}", r.text);
    for bad in [
        json!({ "payload": "not json", "options": { "payloadType": "application/json" } }),
        json!({ "payload": "[1]", "options": { "payloadType": "application/json" } }),
        json!({ "payload": plain, "options": { "payloadType": "application/store" } }),
        json!({ "payload": 5 }),
    ] {
        assert_eq!(post(&s, "/api/v1/tasks/demo/trigger", s.secret_key(), &bad).status, 400, "{bad}");
    }
}

#[test]
fn client_mode_trigger_with_the_message_in_the_payload() {
    let s = client_mode_server();
    let sid = post(&s, "/api/v1/sessions", s.secret_key(), &create_body(Some("pm"), preload("pm"))).json()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let payload = json!({ "chatId": "pm", "trigger": "submit-message", "sessionId": sid,
        "message": { "id": "u1", "role": "user", "parts": [{ "type": "text", "text": "in the payload" }] } });
    let mut body = json!({ "payload": payload, "options": { "idempotencyKey": "k1" } });
    let r = post(&s, "/api/v1/tasks/demo/trigger", s.secret_key(), &body);
    let run = r.json()["id"].as_str().unwrap().to_string();
    let jwt = r.header("x-trigger-jwt").unwrap().to_string();
    let mut sse = subscribe(&s, "pm", &jwt, &[]);
    assert_eq!(text_of(&sse.turn()), "You said: in the payload");
    // Same idempotency key: the same run, cached.
    body["payload"]["trigger"] = json!("preload");
    let again = post(&s, "/api/v1/tasks/demo/trigger", s.secret_key(), &body).json();
    assert_eq!(again, json!({ "id": run, "isCached": true }));
}
