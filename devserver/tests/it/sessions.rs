//! `/api/v1/sessions*`: create, retrieve, update, list, close; auth and validation.

use std::time::Duration;

use serde_json::json;

use crate::common::*;

#[test]
fn create_returns_201_then_200_cached_with_a_fresh_token() {
    let s = server();
    let body = create_body(Some("chat-1"), preload("chat-1"));
    let r = post(&s, "/api/v1/sessions", s.secret_key(), &body);
    assert_eq!(r.status, 201, "{}", r.text);
    let v = r.json();
    let id = v["id"].as_str().unwrap().to_string();
    assert!(id.starts_with("session_"));
    assert_eq!(v["externalId"], "chat-1");
    assert_eq!(v["type"], "chat.agent");
    assert_eq!(v["taskIdentifier"], "demo");
    assert_eq!(v["isCached"], false);
    assert_eq!(v["closedAt"], json!(null));
    assert!(v["runId"].as_str().unwrap().starts_with("run_"));
    assert_eq!(v["currentRunId"], v["runId"]);
    let pat = v["publicAccessToken"].as_str().unwrap().to_string();
    assert_eq!(scopes(&pat), vec!["read:sessions:chat-1", "write:sessions:chat-1"]);
    let c = claims(&pat);
    assert_eq!(c["pub"], true);
    assert_eq!(c["iss"], "https://id.trigger.dev");
    assert_eq!(c["aud"], "https://api.trigger.dev");
    assert!(c["sub"].as_str().is_some());
    let ttl = c["exp"].as_u64().unwrap() - c["iat"].as_u64().unwrap();
    assert_eq!(ttl, 3600);

    let again = post(&s, "/api/v1/sessions", s.secret_key(), &body);
    assert_eq!(again.status, 200);
    let a = again.json();
    assert_eq!(a["id"], id.as_str());
    assert_eq!(a["isCached"], true);
    assert_ne!(a["publicAccessToken"], pat.as_str());
    assert_eq!(s.run_ids("chat-1").len(), 1, "a cached create starts no run");

    // Without externalId every call is a new session, and the PAT is keyed on the friendly id.
    let n1 = post(&s, "/api/v1/sessions", s.secret_key(), &create_body(None, preload("x"))).json();
    let n2 = post(&s, "/api/v1/sessions", s.secret_key(), &create_body(None, preload("x"))).json();
    assert_ne!(n1["id"], n2["id"]);
    let key = n1["id"].as_str().unwrap();
    assert_eq!(
        scopes(n1["publicAccessToken"].as_str().unwrap()),
        vec![format!("read:sessions:{key}"), format!("write:sessions:{key}")]
    );
}

#[test]
fn create_validation_and_limits() {
    let s = server();
    let k = s.secret_key();
    let r = post(&s, "/api/v1/sessions", k, &create_body(Some("session_abc"), preload("c")));
    assert_eq!(r.status, 400);
    assert!(r.json()["error"].as_str().unwrap().contains("session_"));
    let long = "x".repeat(257);
    assert_eq!(post(&s, "/api/v1/sessions", k, &create_body(Some(&long), preload("c"))).status, 400);
    let r = post(&s, "/api/v1/sessions", k, &json!({ "type": "chat.agent", "triggerConfig": { "basePayload": {} } }));
    assert_eq!(r.status, 400);
    assert!(r.json()["error"].as_str().unwrap().contains("taskIdentifier"));
    let r = post(
        &s,
        "/api/v1/sessions",
        k,
        &json!({ "type": "chat.agent", "taskIdentifier": "demo", "triggerConfig": {} }),
    );
    assert_eq!(r.status, 400);
    let r = call("POST", &format!("{}/api/v1/sessions", s.base_url()), Some(k), Some("{not json"), &[]);
    assert_eq!(r.status, 400);
    assert_eq!(r.json(), json!({ "error": "Invalid JSON" }));
    // 32 KiB body limit.
    let mut big = create_body(Some("big"), preload("big"));
    big["metadata"] = json!({ "pad": "y".repeat(33 * 1024) });
    let r = post(&s, "/api/v1/sessions", k, &big);
    assert_eq!(r.status, 413);
    assert_eq!(r.json(), json!({ "error": "Request body too large" }));
}

#[test]
fn missing_or_bad_credentials_are_401() {
    let s = server();
    let body = create_body(Some("c"), preload("c")).to_string();
    let url = format!("{}/api/v1/sessions", s.base_url());
    for token in [None, Some("tr_dev_wrong"), Some("not.a.jwt")] {
        let r = call("POST", &url, token, Some(&body), &[]);
        assert_eq!(r.status, 401);
        assert_eq!(r.json(), json!({ "error": "Invalid or Missing API key" }));
    }
    // A JWT signed with another key is not ours.
    let other = tchat_devserver::DevServer::start(tchat_devserver::Config {
        secret_key: "tr_dev_other".into(),
        ..fast_config(tchat_devserver::RunMode::Server)
    })
    .unwrap();
    let foreign = other.mint_token(&["write:sessions"], Duration::from_secs(60));
    assert_eq!(call("POST", &url, Some(&foreign), Some(&body), &[]).status, 401);
}

#[test]
fn a_post_without_content_length_is_413() {
    let s = server();
    let req = format!(
        "POST /api/v1/sessions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{{}}\r\n0\r\n\r\n",
        s.secret_key()
    );
    let (status, body) = raw_request(&s, &req);
    assert_eq!(status, 413);
    assert_eq!(body, r#"{"error":"Request body too large"}"#);
    let req = format!(
        "POST /realtime/v1/sessions/c/in/append HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\nConnection: close\r\n\r\n",
        s.secret_key()
    );
    assert_eq!(raw_request(&s, &req).0, 413);
}

#[test]
fn create_scopes() {
    let s = server();
    let body = create_body(Some("c"), preload("c"));
    let write_sessions = s.mint_token(&["write:sessions"], Duration::from_secs(60));
    assert_eq!(post(&s, "/api/v1/sessions", &write_sessions, &body).status, 201);
    let write_task = s.mint_token(&["write:tasks:demo"], Duration::from_secs(60));
    assert_eq!(post(&s, "/api/v1/sessions", &write_task, &create_body(Some("d"), preload("d"))).status, 201);
    let wrong = s.mint_token(&["read:sessions", "write:tasks:other"], Duration::from_secs(60));
    let r = post(&s, "/api/v1/sessions", &wrong, &create_body(Some("e"), preload("e")));
    assert_eq!(r.status, 403);
    assert_eq!(
        r.json(),
        json!({"error":"Unauthorized","code":"unauthorized","param":"access_token","type":"authorization"})
    );
}

#[test]
fn retrieve_and_update_by_both_ids() {
    let s = server();
    let v = create_session(&s, "chat-r");
    let id = v["id"].as_str().unwrap();
    let pat = v["publicAccessToken"].as_str().unwrap();
    for key in [id, "chat-r"] {
        let r = get(&s, &format!("/api/v1/sessions/{key}"), pat);
        assert_eq!(r.status, 200, "{}", r.text);
        let g = r.json();
        assert_eq!(g["id"], id);
        assert!(g.get("publicAccessToken").is_none() && g.get("runId").is_none());
    }
    let r = get(&s, "/api/v1/sessions/session_nope", s.secret_key());
    assert_eq!(r.status, 404);
    assert_eq!(r.json(), json!({ "error": "Not found" }));
    assert_eq!(get(&s, "/api/v1/sessions/no-such-chat", s.secret_key()).status, 404);
    // Another session's PAT cannot read it.
    let other = create_session(&s, "chat-other");
    assert_eq!(get(&s, &format!("/api/v1/sessions/{id}"), other["publicAccessToken"].as_str().unwrap()).status, 403);

    let url = format!("{}/api/v1/sessions/chat-r", s.base_url());
    let patch = json!({ "tags": ["a", "b"], "metadata": { "k": 1 } }).to_string();
    let r = call("PATCH", &url, Some(pat), Some(&patch), &[]);
    assert_eq!(r.status, 403, "the session PAT is not admin");
    let r = call("PATCH", &url, Some(s.secret_key()), Some(&patch), &[]);
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json()["tags"], json!(["a", "b"]));
    assert_eq!(r.json()["metadata"], json!({ "k": 1 }));
    // `admin` on the URL's id; the externalId is the addressing key and never changes.
    let admin = s.mint_token(&["admin:sessions:chat-r"], Duration::from_secs(60));
    let r = call("PATCH", &url, Some(&admin), Some(&json!({ "externalId": "chat-r" }).to_string()), &[]);
    assert_eq!(r.status, 200, "the same externalId is idempotent: {}", r.text);
    let r = call("PATCH", &url, Some(&admin), Some(&json!({ "externalId": "chat-r2" }).to_string()), &[]);
    assert_eq!(r.status, 422, "{}", r.text);
    assert!(r.json()["error"].as_str().unwrap().starts_with("externalId cannot be changed after creation"));
    let r = call("PATCH", &url, Some(s.secret_key()), Some(&json!({ "externalId": "session_x" }).to_string()), &[]);
    assert_eq!(r.status, 400, "{}", r.text);
    let friendly = s.mint_token(&[&format!("admin:sessions:{id}")], Duration::from_secs(60));
    assert_eq!(call("PATCH", &url, Some(&friendly), Some(&patch), &[]).status, 403);
}

#[test]
fn list_pages_and_filters() {
    let s = server();
    for i in 0..5 {
        create_session(&s, &format!("list-{i}"));
    }
    let k = s.secret_key();
    let first = get(&s, "/api/v1/sessions?page%5Bsize%5D=2", k).json();
    let data = first["data"].as_array().unwrap();
    assert_eq!(data.len(), 2);
    assert_eq!(data[0]["externalId"], "list-4", "newest first");
    let next = first["pagination"]["next"].as_str().unwrap().to_string();
    let mut seen: Vec<String> = data.iter().map(|d| d["externalId"].as_str().unwrap().to_string()).collect();
    let mut cursor = Some(next);
    while let Some(c) = cursor {
        let page = get(&s, &format!("/api/v1/sessions?page%5Bsize%5D=2&page%5Bafter%5D={c}"), k).json();
        seen.extend(page["data"].as_array().unwrap().iter().map(|d| d["externalId"].as_str().unwrap().to_string()));
        cursor = page["pagination"]["next"].as_str().map(str::to_string);
    }
    assert_eq!(seen, ["list-4", "list-3", "list-2", "list-1", "list-0"]);

    let one = get(&s, "/api/v1/sessions?filter%5BexternalId%5D=list-2", k).json();
    assert_eq!(one["data"].as_array().unwrap().len(), 1);
    assert_eq!(one["pagination"], json!({}));
    assert_eq!(post(&s, "/api/v1/sessions/list-1/close", k, &json!({})).status, 200);
    let closed = get(&s, "/api/v1/sessions?filter%5Bstatus%5D=CLOSED", k).json();
    let closed: Vec<_> = closed["data"].as_array().unwrap().iter().map(|d| d["externalId"].clone()).collect();
    assert_eq!(closed, vec![json!("list-1")]);
    let active = get(&s, "/api/v1/sessions?filter%5Bstatus%5D=ACTIVE", k).json();
    assert_eq!(active["data"].as_array().unwrap().len(), 4);
    assert_eq!(get(&s, "/api/v1/sessions?page%5Bsize%5D=0", k).status, 400);
    let pat = create_session(&s, "list-pat")["publicAccessToken"].as_str().unwrap().to_string();
    assert_eq!(get(&s, "/api/v1/sessions", &pat).status, 403);
}

#[test]
fn close_rules() {
    let s = server();
    let v = create_session(&s, "chat-c");
    let id = v["id"].as_str().unwrap().to_string();
    let pat = v["publicAccessToken"].as_str().unwrap().to_string();
    let path = "/api/v1/sessions/chat-c/close";
    let url = format!("{}{path}", s.base_url());
    let r = call("POST", &url, Some(s.secret_key()), Some(""), &[]);
    assert_eq!(r.status, 400, "an empty body is rejected");
    let r = post(&s, path, &pat, &json!({}));
    assert_eq!(r.status, 403, "the session PAT cannot close");
    let r = post(&s, "/api/v1/sessions/session_missing/close", s.secret_key(), &json!({}));
    assert_eq!(r.status, 404);
    assert_eq!(r.json(), json!({ "error": "Session not found" }));

    // `admin` is checked against the id written in the URL only.
    let by_friendly_id = s.mint_token(&[&format!("admin:sessions:{id}")], Duration::from_secs(60));
    let r = post(&s, path, &by_friendly_id, &json!({ "reason": "done" }));
    assert_eq!(r.status, 403, "an admin scope on the friendly id does not cover the externalId URL");
    let admin = s.mint_token(&["admin:sessions:chat-c"], Duration::from_secs(60));
    let r = post(&s, path, &admin, &json!({ "reason": "done" }));
    assert_eq!(r.status, 200, "{}", r.text);
    let c = r.json();
    assert!(c["closedAt"].is_string());
    assert_eq!(c["closedReason"], "done");
    let again = post(&s, path, s.secret_key(), &json!({}));
    assert_eq!(again.status, 200);
    assert_eq!(again.json()["closedAt"], c["closedAt"], "idempotent");
    let closed_records: Vec<_> =
        s.out_records("chat-c").into_iter().filter(|r| r["headers"][0][1] == "session-closed").collect();
    assert_eq!(closed_records.len(), 1);
    assert_eq!(
        closed_records[0]["headers"],
        json!([["trigger-control", "session-closed"], ["session-closed-reason", "done"]])
    );

    let r = append(&s, "chat-c", &pat, &user_message("chat-c", "m1", "hi"));
    assert_eq!(r.status, 409);
    assert_eq!(
        r.json(),
        json!({ "ok": false, "error": "Cannot append to a closed session", "code": "session_closed", "closedReason": "done" })
    );
    let r = post(&s, "/api/v1/sessions", s.secret_key(), &create_body(Some("chat-c"), preload("chat-c")));
    assert_eq!(r.status, 409);
    assert_eq!(r.json(), json!({ "error": "Session is closed; use a different externalId to create a new session" }));
    let run = s.run_ids("chat-c")[0].clone();
    assert_eq!(run_status(&s, &run), "COMPLETED", "closing ends the live run");

    // The stream of a closed session delivers what is left; S2 knows nothing of `closedAt`, so
    // it then ends with its long-poll window (1 s here), not at once.
    let mut sse = subscribe(&s, "chat-c", &pat, &[("Timeout-Seconds", "1")]);
    let recs = sse.records_until(|_| false);
    assert_eq!(recs.last().unwrap().control(), Some("session-closed"));
    assert_eq!(sse.end, End::Clean);
}

#[test]
fn expired_sessions() {
    let s = server();
    let mut body = create_body(Some("exp"), preload("exp"));
    body["expiresAt"] = json!("2001-01-01T00:00:00.000Z");
    let v = post(&s, "/api/v1/sessions", s.secret_key(), &body).json();
    assert_eq!(v["status"], "EXPIRED");
    let r = append(&s, "exp", s.secret_key(), &user_message("exp", "m", "hi"));
    assert_eq!(r.status, 400);
    assert_eq!(r.json()["ok"], false);
    let r = post(&s, "/api/v1/sessions", s.secret_key(), &body);
    assert_eq!(r.status, 409);
    assert!(r.json()["error"].as_str().unwrap().contains("expired"));
}

/// PROTOCOL 0: a loader (GET) 404 may carry `x-should-retry`; for a session or run that does not
/// exist the real server says `false`, a definitive miss.
#[test]
fn loader_404s_say_do_not_retry() {
    let s = server();
    let key = s.secret_key();
    for path in [
        "/api/v1/sessions/session_nope",
        "/api/v1/sessions/no-such-chat",
        "/realtime/v1/sessions/session_nope/out/records",
        "/realtime/v1/sessions/session_nope/in/records",
    ] {
        let r = get(&s, path, key);
        assert_eq!(r.status, 404, "{path}: {}", r.text);
        assert_eq!(r.header("x-should-retry"), Some("false"), "{path}");
        assert_eq!(r.json(), json!({ "error": "Not found" }), "{path}");
    }
    // A run miss is retryable (`shouldRetryNotFound`: the run may not have reached the replica).
    let r = get(&s, "/api/v3/runs/run_missing", key);
    assert_eq!(r.status, 404);
    assert_eq!(r.header("x-should-retry"), Some("true"));
    assert_eq!(r.json(), json!({ "error": "Not found" }));
    let sse = Sse::open(&s, "/realtime/v1/sessions/session_nope/out", key, &[]);
    assert_eq!(sse.status, 404);
    assert_eq!(sse.header("x-should-retry"), Some("false"));
}
