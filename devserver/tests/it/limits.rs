//! Every limit the real server enforces (the zod schemas of `@trigger.dev/core@4.8.3` and the
//! route builders of the webapp): one request just inside, one just outside, each checking the
//! status and the body.

use std::time::Duration;

use serde_json::{json, Value};

use crate::common::*;

fn create(s: &tchat_devserver::DevServer, body: &Value) -> Resp {
    post(s, "/api/v1/sessions", s.secret_key(), body)
}

/// A valid create body for a fresh externalId, changed by `edit`.
fn body_with(ext: &str, edit: impl FnOnce(&mut Value)) -> Value {
    let mut b = create_body(Some(ext), preload(ext));
    edit(&mut b);
    b
}

fn assert_invalid(r: &Resp, message: &str) {
    assert_eq!(r.status, 400, "{}", r.text);
    assert_eq!(r.json(), json!({ "error": format!("Validation error: {message}") }));
}

#[test]
fn create_session_schema_limits() {
    let s = server();
    let mut n = 0;
    let mut ext = || {
        n += 1;
        format!("lim-{n}")
    };
    // `type`: 1..64.
    assert_eq!(create(&s, &body_with(&ext(), |b| b["type"] = json!("t".repeat(64)))).status, 201);
    assert_invalid(
        &create(&s, &body_with(&ext(), |b| b["type"] = json!("t".repeat(65)))),
        "String must contain at most 64 character(s) at \"type\"",
    );
    assert_invalid(
        &create(&s, &body_with(&ext(), |b| b["type"] = json!(""))),
        "String must contain at least 1 character(s) at \"type\"",
    );
    // `taskIdentifier`: 1..128.
    assert_eq!(create(&s, &body_with(&ext(), |b| b["taskIdentifier"] = json!("k".repeat(128)))).status, 201);
    assert_invalid(
        &create(&s, &body_with(&ext(), |b| b["taskIdentifier"] = json!("k".repeat(129)))),
        "String must contain at most 128 character(s) at \"taskIdentifier\"",
    );
    assert_invalid(
        &create(&s, &json!({ "type": "chat.agent", "triggerConfig": { "basePayload": {} } })),
        "Required at \"taskIdentifier\"",
    );
    // `externalId`: trimmed, then 1..256 and no `session_` prefix. Lengths are UTF-16 units.
    let e256 = format!("{}{}", "é".repeat(128), "e".repeat(128));
    let r = create(&s, &create_body(Some(&e256), preload("x")));
    assert_eq!(r.status, 201, "{}", r.text);
    assert_invalid(
        &create(&s, &create_body(Some(&"e".repeat(257)), preload("x"))),
        "String must contain at most 256 character(s) at \"externalId\"",
    );
    let r = create(&s, &create_body(Some("  padded-id \n"), preload("x")));
    assert_eq!(r.status, 201);
    assert_eq!(r.json()["externalId"], "padded-id", "externalId is trimmed");
    assert_eq!(get(&s, "/api/v1/sessions/padded-id", s.secret_key()).status, 200);
    assert_invalid(
        &create(&s, &create_body(Some("   "), preload("x"))),
        "String must contain at least 1 character(s) at \"externalId\"",
    );
    assert_invalid(
        &create(&s, &create_body(Some(" session_abc"), preload("x"))),
        "externalId cannot start with 'session_' (reserved prefix for internal friendlyIds) at \"externalId\"",
    );
    assert_invalid(
        &create(&s, &body_with(&ext(), |b| b["externalId"] = Value::Null)),
        "Expected string, received null at \"externalId\"",
    );

    // Top-level `tags`: at most 10, each at most 128.
    let tags = |n: usize, len: usize| json!((0..n).map(|i| format!("{i}{}", "t".repeat(len - 1))).collect::<Vec<_>>());
    assert_eq!(create(&s, &body_with(&ext(), |b| b["tags"] = tags(10, 128))).status, 201);
    assert_invalid(
        &create(&s, &body_with(&ext(), |b| b["tags"] = tags(11, 5))),
        "Array must contain at most 10 element(s) at \"tags\"",
    );
    assert_invalid(
        &create(&s, &body_with(&ext(), |b| b["tags"] = tags(1, 129))),
        "String must contain at most 128 character(s) at \"tags[0]\"",
    );
    assert_invalid(
        &create(&s, &body_with(&ext(), |b| b["tags"] = json!("one"))),
        "Expected array, received string at \"tags\"",
    );
    // `metadata` is an object; `expiresAt` a date.
    assert_invalid(
        &create(&s, &body_with(&ext(), |b| b["metadata"] = json!([1]))),
        "Expected object, received array at \"metadata\"",
    );
    assert_invalid(
        &create(&s, &body_with(&ext(), |b| b["expiresAt"] = json!("soon"))),
        "Invalid date at \"expiresAt\"",
    );
}

#[test]
fn trigger_config_schema_limits() {
    let s = server();
    let mut n = 0;
    let mut check = |field: &str, inside: Value, outside: Value, message: &str| {
        n += 1;
        let ok = body_with(&format!("tc-{n}-in"), |b| b["triggerConfig"][field] = inside.clone());
        let r = create(&s, &ok);
        assert_eq!(r.status, 201, "{field} = {inside}: {}", r.text);
        let bad = body_with(&format!("tc-{n}-out"), |b| b["triggerConfig"][field] = outside.clone());
        assert_invalid(&create(&s, &bad), &format!("{message} at \"triggerConfig.{field}\""));
    };
    let tags = |n: usize| json!((0..n).map(|i| format!("tag-{i}")).collect::<Vec<_>>());
    check("tags", tags(10), tags(11), "Array must contain at most 10 element(s)");
    check("queue", json!("q".repeat(128)), json!("q".repeat(129)), "String must contain at most 128 character(s)");
    check("maxAttempts", json!(10), json!(11), "Number must be less than or equal to 10");
    check("maxAttempts", json!(1), json!(0), "Number must be greater than 0");
    check("maxAttempts", json!(2), json!(2.5), "Expected integer, received float");
    check("idleTimeoutInSeconds", json!(3600), json!(3601), "Number must be less than or equal to 3600");
    check("idleTimeoutInSeconds", json!(1), json!(0), "Number must be greater than 0");
    check("maxDuration", json!(1), json!(0), "Number must be greater than 0");
    check(
        "machine",
        json!("large-2x"),
        json!("huge"),
        "Invalid enum value. Expected 'micro' | 'small-1x' | 'small-2x' | 'medium-1x' | 'medium-2x' | 'large-1x' | 'large-2x', received 'huge'",
    );
    check("ttl", json!("10m"), json!(-1), "Number must be greater than or equal to 0");
    check("concurrency", json!(["a", "b"]), json!(["a", "b", "c"]), "Array must contain at most 2 element(s)");
    // The tag rule applies per tag too.
    let r = create(&s, &body_with("tc-tag-len", |b| b["triggerConfig"]["tags"] = json!(["t".repeat(129)])));
    assert_invalid(&r, "String must contain at most 128 character(s) at \"triggerConfig.tags[0]\"");
    let r = create(&s, &body_with("tc-base", |b| b["triggerConfig"] = json!({})));
    assert_invalid(&r, "Required at \"triggerConfig.basePayload\"");
}

#[test]
fn route_builder_body_rules() {
    let s = server();
    let url = format!("{}/api/v1/sessions", s.base_url());
    // 32 KiB maxContentLength on create: exactly at the limit passes the length check.
    let mut at_limit = body_with("size-in", |b| b["metadata"] = json!({ "pad": "" }));
    let pad = 32 * 1024 - at_limit.to_string().len();
    at_limit["metadata"]["pad"] = json!("y".repeat(pad));
    assert_eq!(at_limit.to_string().len(), 32 * 1024);
    assert_eq!(create(&s, &at_limit).status, 201);
    let mut over = at_limit.clone();
    over["externalId"] = json!("size-ou1");
    over["metadata"]["pad"] = json!("y".repeat(pad + 1));
    let r = create(&s, &over);
    assert_eq!(r.status, 413);
    assert_eq!(r.json(), json!({ "error": "Request body too large" }));
    // No Content-Length (chunked): 413, as `maxContentLength` requires one.
    let (status, text) = raw_request(
        &s,
        &format!(
            "POST /api/v1/sessions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{{}}\r\n0\r\n\r\n",
            s.secret_key()
        ),
    );
    assert_eq!((status, text.as_str()), (413, r#"{"error":"Request body too large"}"#));
    // Empty body, invalid JSON, and JSON that JavaScript reads as false.
    let r = call("POST", &url, Some(s.secret_key()), Some(""), &[]);
    assert_eq!((r.status, r.json()), (400, json!({ "error": "Request body is empty" })));
    for bad in ["{nope", "null", "0", "false"] {
        let r = call("POST", &url, Some(s.secret_key()), Some(bad), &[]);
        assert_eq!((r.status, r.json()), (400, json!({ "error": "Invalid JSON" })), "{bad}");
    }
    assert_invalid(&call("POST", &url, Some(s.secret_key()), Some("[]"), &[]), "Expected object, received array");
}

#[test]
fn append_metered_size_and_content_length() {
    let s = server();
    let v = create_session(&s, "meter");
    let pat = v["publicAccessToken"].as_str().unwrap().to_string();
    let url = format!("{}/realtime/v1/sessions/meter/in/append", s.base_url());
    // S2 meters JSON.stringify({data: body, id: partId}) + 8; with part id "p" the wrapping adds
    // 20 bytes, and every `"` of the body is escaped to two. 524,274 quotes meter exactly 1 MiB.
    let quotes = "\"".repeat(524_274);
    let r = call("POST", &url, Some(&pat), Some(&quotes), &[("X-Part-Id", "p")]);
    assert_eq!(r.status, 200, "a record of exactly 1 MiB metered is accepted: {}", r.text);
    let one_over = format!("{quotes}a");
    let r = call("POST", &url, Some(&pat), Some(&one_over), &[("X-Part-Id", "q")]);
    assert_eq!(r.status, 413);
    assert_eq!(
        r.json(),
        json!({ "ok": false, "error": "Record metered size 1048577 bytes exceeds the S2 per-record limit of 1048576 bytes. Reduce tool-output size or split into smaller parts." })
    );
    // The body itself: a Content-Length of at most 1 MiB is required.
    let mib = "a".repeat(1024 * 1024);
    let r = call("POST", &url, Some(&pat), Some(&mib), &[("X-Part-Id", "r")]);
    assert_eq!(r.status, 413);
    assert!(r.json()["error"].as_str().unwrap().starts_with("Record metered size 1048604 bytes"), "{}", r.text);
    let r = call("POST", &url, Some(&pat), Some(&format!("{mib}a")), &[("X-Part-Id", "s")]);
    assert_eq!((r.status, r.json()), (413, json!({ "error": "Request body too large" })));
    let (status, text) = raw_request(
        &s,
        &format!(
            "POST /realtime/v1/sessions/meter/in/append HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {pat}\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{{}}\r\n0\r\n\r\n"
        ),
    );
    assert_eq!((status, text.as_str()), (413, r#"{"error":"Request body too large"}"#));
    assert_eq!(s.in_records("meter").len(), 1, "only the in-limit record was appended");
}

#[test]
fn close_body_limits() {
    let s = server();
    create_session(&s, "close-lim");
    let path = "/api/v1/sessions/close-lim/close";
    let url = format!("{}{path}", s.base_url());
    let r = call("POST", &url, Some(s.secret_key()), Some(""), &[]);
    assert_eq!((r.status, r.json()), (400, json!({ "error": "Request body is empty" })));
    // 1024-byte maxContentLength (the reason's own cap is 256).
    let filler = |len: usize| {
        let base = json!({ "reason": "r", "x": "" }).to_string().len();
        json!({ "reason": "r", "x": "p".repeat(len - base) }).to_string()
    };
    let r = call("POST", &url, Some(s.secret_key()), Some(&filler(1025)), &[]);
    assert_eq!((r.status, r.json()), (413, json!({ "error": "Request body too large" })));
    assert_invalid(
        &post(&s, path, s.secret_key(), &json!({ "reason": "r".repeat(257) })),
        "String must contain at most 256 character(s) at \"reason\"",
    );
    assert_invalid(
        &post(&s, path, s.secret_key(), &json!({ "reason": 5 })),
        "Expected string, received number at \"reason\"",
    );
    let r = call("POST", &url, Some(s.secret_key()), Some(&filler(1024)), &[]);
    assert_eq!(r.status, 200, "{}", r.text);
    let r = post(&s, "/api/v1/sessions/close-lim-2/close", s.secret_key(), &json!({ "reason": "r".repeat(256) }));
    assert_eq!((r.status, r.json()), (404, json!({ "error": "Session not found" })));
}

#[test]
fn subscribe_header_rules() {
    let s = server();
    let v = create_session(&s, "hdr");
    let pat = v["publicAccessToken"].as_str().unwrap().to_string();
    let path = "/realtime/v1/sessions/hdr/out";
    for (value, text) in [
        ("0", "Timeout seconds must be greater than 0"),
        ("601", "Timeout seconds must be less than 600"),
        ("1.5", "Invalid timeout seconds"),
        ("10abc", "Invalid timeout seconds"),
    ] {
        let r = call("GET", &format!("{}{path}", s.base_url()), Some(&pat), None, &[("Timeout-Seconds", value)]);
        assert_eq!((r.status, r.text.as_str()), (400, text), "Timeout-Seconds: {value}");
    }
    let sse = Sse::open(&s, path, &pat, &[("Timeout-Seconds", "600")]);
    assert_eq!(sse.status, 200);

    // A settled chat: `X-Peek-Settled: 1` answers at once and says so; any other value is a
    // plain long-poll (the real route compares with "1").
    send_text(&s, "hdr", &pat, "m1", "hello");
    let mut live = subscribe(&s, "hdr", &pat, &[]);
    live.turn();
    let mut peek = subscribe(&s, "hdr", &pat, &[("X-Peek-Settled", "1")]);
    assert_eq!(peek.header("x-session-settled"), Some("true"));
    peek.records_until(|_| false);
    assert_eq!(peek.end, End::Clean);
    let other = subscribe(&s, "hdr", &pat, &[("X-Peek-Settled", "true"), ("Timeout-Seconds", "1")]);
    assert_eq!(other.header("x-session-settled"), None);
}

#[test]
fn timeout_seconds_is_the_longest_gap_between_records() {
    // Records every 300 ms for ~1.8 s on a 1-second window: the connection stays open
    // across the whole turn, because the window restarts after each record.
    let mut config = fast_config(tchat_devserver::RunMode::Server);
    config.delta_delay = Duration::from_millis(300);
    let s = tchat_devserver::DevServer::start(config).unwrap();
    let v = create_session(&s, "gap");
    let pat = v["publicAccessToken"].as_str().unwrap().to_string();
    let mut sse = subscribe(&s, "gap", &pat, &[("Timeout-Seconds", "1")]);
    send_text(&s, "gap", &pat, "m1", "/slow 6");
    let recs = sse.turn();
    assert_eq!(text_of(&recs), "tick 1 tick 2 tick 3 tick 4 tick 5 tick 6");
    assert_eq!(recs.last().unwrap().control(), Some("turn-complete"));
}

/// An HS256 token as the SDK's `generateJWT` signs it: issuer and audience of Trigger.dev,
/// `iat`, `exp`, no `jti`.
fn sdk_jwt(secret: &str, claims: Value) -> String {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    let mut c = claims;
    c["iss"] = json!("https://id.trigger.dev");
    c["aud"] = json!("https://api.trigger.dev");
    c["iat"] = json!(now);
    c["exp"] = json!(now + 900);
    jsonwebtoken::encode(
        &jsonwebtoken::Header::default(),
        &c,
        &jsonwebtoken::EncodingKey::from_secret(secret.as_bytes()),
    )
    .unwrap()
}

#[test]
fn jwt_claims_and_sdk_signed_tokens() {
    let s = server();
    let v = create_session(&s, "jwt");
    let r = post(&s, "/api/v1/auth/jwt/claims", s.secret_key(), &json!({}));
    assert_eq!(r.status, 200, "{}", r.text);
    let claims = r.json();
    assert_eq!(claims["pub"], true);
    let sub = claims["sub"].as_str().unwrap().to_string();
    let r = post(&s, "/api/v1/auth/jwt/claims", v["publicAccessToken"].as_str().unwrap(), &json!({}));
    assert_eq!((r.status, r.json()), (401, json!({ "error": "Invalid or Missing API key" })));

    let token = sdk_jwt(
        s.secret_key(),
        json!({ "sub": sub, "pub": true, "scopes": ["read:sessions:jwt", "write:sessions:jwt"] }),
    );
    let r = get(&s, "/api/v1/sessions/jwt", &token);
    assert_eq!(r.status, 200, "an SDK-signed token without jti is accepted: {}", r.text);
    send_text(&s, "jwt", &token, "m1", "hi");
    // No scopes grants nothing; another environment's `sub` is not ours.
    let none = sdk_jwt(s.secret_key(), json!({ "sub": sub, "pub": true }));
    assert_eq!(get(&s, "/api/v1/sessions/jwt", &none).status, 403);
    let foreign = sdk_jwt(s.secret_key(), json!({ "sub": "env_other", "pub": true, "scopes": ["read:sessions:jwt"] }));
    assert_eq!(get(&s, "/api/v1/sessions/jwt", &foreign).status, 401);
}

#[test]
fn trigger_tag_limits() {
    let s = client_mode_server();
    let v = create_session(&s, "trig");
    let id = v["id"].as_str().unwrap().to_string();
    let trigger = |tags: Value| {
        let body = json!({ "payload": { "chatId": "trig", "sessionId": id, "trigger": "preload", "messages": [] }, "options": { "tags": tags } });
        post(&s, "/api/v1/tasks/demo/trigger", s.secret_key(), &body)
    };
    let tags = |n: usize| json!((0..n).map(|i| format!("t{i}")).collect::<Vec<_>>());
    assert_eq!(trigger(tags(10)).status, 200);
    let r = trigger(tags(11));
    assert_eq!((r.status, r.json()), (422, json!({ "error": "Runs can only have 10 tags, you're trying to set 11." })));
    assert_eq!(trigger(json!("x".repeat(128))).status, 200);
    assert_invalid(&trigger(json!("x".repeat(129))), "Tags must be less than 128 characters at \"options.tags\"");
    assert_invalid(
        &trigger(json!(["ok", "x".repeat(129)])),
        "Tags must be less than 128 characters at \"options.tags[1]\"",
    );
}

/// Reopening a chat with turns, as the real agent trims `.out`: each turn-complete is followed
/// by a trim back to the previous turn-complete, so the stream keeps the last turn whole, and a
/// read with no `Last-Event-ID` starts at the oldest record kept (S2 `seq_num=0, clamp=true`).
#[test]
fn out_keeps_the_last_turn_and_a_fresh_read_starts_at_the_oldest_kept() {
    let s = server();
    let v = create_session(&s, "reopen");
    let pat = v["publicAccessToken"].as_str().unwrap().to_string();
    let mut live = subscribe(&s, "reopen", &pat, &[]);
    send_text(&s, "reopen", &pat, "m1", "first turn");
    let first = live.turn();
    send_text(&s, "reopen", &pat, "m2", "second turn");
    let second = live.turn();
    let mut fresh = subscribe(&s, "reopen", &pat, &[("X-Peek-Settled", "1")]);
    let kept = fresh.records_until(|_| false);
    let first_tc = first.last().unwrap().seq;
    assert_eq!(kept.first().unwrap().seq, first_tc, "the oldest record kept is the previous turn-complete");
    let data: Vec<_> = kept.iter().filter(|r| r.control().is_none() && !r.is_command()).collect();
    assert_eq!(data.len(), second.iter().filter(|r| r.control().is_none() && !r.is_command()).count());
    assert_eq!(text_of(&kept), "You said: second turn", "the last turn, whole, and nothing of the first");
}
