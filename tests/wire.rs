//! Wire types: the PROTOCOL.md examples parse, unknown fields survive a round trip, omitted optionals
//! stay omitted, and no token shows in `Debug`.

use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::{json, Value};
use tchat::secret::Secret;
use tchat::wire::*;

/// Deserialize `v` as `T`, serialize it back, and require the same JSON.
fn round_trip<T: DeserializeOwned + Serialize>(v: Value) -> T {
    let t: T = serde_json::from_value(v.clone()).unwrap();
    assert_eq!(serde_json::to_value(&t).unwrap(), v);
    t
}

#[test]
fn ui_message_keeps_unknown_parts_and_fields() {
    let v = json!({
        "id": "m1", "role": "assistant",
        "parts": [
            {"type": "text", "text": "hi", "state": "done", "futureField": 1},
            {"type": "tool-x", "toolCallId": "c", "state": "output-available", "input": {}, "output": null},
            {"type": "brand-new-part", "anything": [1, {"a": null}]}
        ],
        "metadata": {"k": "v"},
        "createdAt": "2025-01-01T00:00:00Z"
    });
    let m: UIMessage = round_trip(v);
    assert_eq!(m.extra["createdAt"], "2025-01-01T00:00:00Z");
    assert_eq!(m.parts.len(), 3);
    assert_eq!(tool_name(&m.parts[1]), Some("x"));
    assert!(is_tool_part(&m.parts[1]));
    assert!(!is_tool_part(&m.parts[2]));
    assert_eq!(part_type(&m.parts[2]), Some("brand-new-part"));
}

#[test]
fn ui_message_null_metadata_survives_and_absent_stays_absent() {
    round_trip::<UIMessage>(json!({"id": "m", "role": "user", "parts": [], "metadata": null}));
    round_trip::<UIMessage>(json!({"id": "m", "role": "user", "parts": []}));
}

#[test]
fn user_text_has_the_shape_of_the_official_client() {
    let m = UIMessage::user_text("msg-1", "hi");
    assert_eq!(
        serde_json::to_value(&m).unwrap(),
        json!({"id": "msg-1", "role": "user", "parts": [{"type": "text", "text": "hi"}]})
    );
    assert_eq!(m.text(), "hi");
}

#[test]
fn dynamic_tool_name() {
    let p = json!({"type": "dynamic-tool", "toolName": "mcp.search", "toolCallId": "c"});
    assert_eq!(tool_name(&p), Some("mcp.search"));
    assert!(is_tool_part(&p));
    assert_eq!(tool_name(&json!({"type": "tool-a-b"})), Some("a-b"));
    assert_eq!(tool_name(&json!({"type": "text"})), None);
}

#[test]
fn message_chunk_from_the_protocol() {
    let v = json!({"kind": "message", "payload": {"chatId": "c1", "trigger": "submit-message",
        "message": {"id": "msg-1", "role": "user", "parts": [{"type": "text", "text": "hi"}]},
        "metadata": {"userId": "u"}}});
    let c: ChatInputChunk = round_trip(v);
    let ChatInputChunk::Message { payload } = c else { panic!("not a message") };
    assert_eq!(payload.trigger, Trigger::SubmitMessage);
    assert_eq!(payload.message.unwrap().text(), "hi");
}

#[test]
fn built_chunks_have_exactly_the_protocol_shape() {
    let submit = ChatInputChunk::message(ChatTaskWirePayload::submit("c1", UIMessage::user_text("m", "hi")));
    assert_eq!(
        serde_json::to_value(&submit).unwrap(),
        json!({"kind": "message", "payload": {"chatId": "c1", "trigger": "submit-message",
            "message": {"id": "m", "role": "user", "parts": [{"type": "text", "text": "hi"}]}}})
    );
    let regen = ChatInputChunk::message(ChatTaskWirePayload::new("c1", Trigger::RegenerateMessage));
    assert_eq!(
        serde_json::to_value(&regen).unwrap(),
        json!({"kind": "message", "payload": {"chatId": "c1", "trigger": "regenerate-message"}})
    );
    let close = ChatInputChunk::message(ChatTaskWirePayload::new("c1", Trigger::Close));
    assert_eq!(
        serde_json::to_string(&close).unwrap(),
        r#"{"kind":"message","payload":{"chatId":"c1","trigger":"close"}}"#
    );
    let mut action = ChatTaskWirePayload::action("c1", json!({"type": "undo"}));
    action.metadata = Some(json!({"a": 1}));
    assert_eq!(
        serde_json::to_value(ChatInputChunk::message(action)).unwrap(),
        json!({"kind": "message", "payload": {"chatId": "c1", "trigger": "action",
            "action": {"type": "undo"}, "metadata": {"a": 1}}})
    );
    assert_eq!(serde_json::to_string(&ChatInputChunk::stop(None)).unwrap(), r#"{"kind":"stop"}"#);
    assert_eq!(
        serde_json::to_value(ChatInputChunk::stop(Some("user".into()))).unwrap(),
        json!({"kind": "stop", "message": "user"})
    );
}

#[test]
fn continuation_payload_fields() {
    let v = json!({"chatId": "c1", "trigger": "submit-message", "continuation": true,
        "previousRunId": "run_1", "sessionId": "session_1", "idleTimeoutInSeconds": 30,
        "headStartMessages": [], "actionSource": "client"});
    let p: ChatTaskWirePayload = round_trip(v);
    assert_eq!(p.continuation, Some(true));
    assert_eq!(p.previous_run_id.as_deref(), Some("run_1"));
    assert_eq!(p.idle_timeout_in_seconds, Some(30));
    assert_eq!(p.extra["actionSource"], "client");
}

#[test]
fn unknown_triggers_and_kinds_are_readable() {
    let p: ChatTaskWirePayload = round_trip(json!({"chatId": "c", "trigger": "future-trigger"}));
    assert_eq!(p.trigger, Trigger::Other("future-trigger".into()));
    let p: ChatTaskWirePayload = round_trip(json!({"chatId": "c", "trigger": "handover-prepare"}));
    assert_eq!(p.trigger, Trigger::HandoverPrepare);
    for t in ["submit-message", "regenerate-message", "preload", "close", "action"] {
        assert_eq!(Trigger::parse(t).as_str(), t);
        assert!(!matches!(Trigger::parse(t), Trigger::Other(_)));
    }

    let c: ChatInputChunk = serde_json::from_value(json!({"kind": "teleport", "x": 1})).unwrap();
    assert_eq!(c, ChatInputChunk::Unknown);
    assert!(serde_json::to_string(&c).is_err());
    let h: ChatInputChunk = round_trip(json!({"kind": "handover", "partialAssistantMessage": [], "isFinal": true}));
    assert!(matches!(h, ChatInputChunk::Handover { .. }));
    let s: ChatInputChunk = round_trip(json!({"kind": "handover-skip"}));
    assert!(matches!(s, ChatInputChunk::HandoverSkip { .. }));
    round_trip::<ChatInputChunk>(json!({"kind": "stop", "message": "m", "future": 1}));
}

#[test]
fn create_session_request_from_the_protocol() {
    let v = json!({ "type": "chat.agent",
      "externalId": "chat-1",
      "taskIdentifier": "my-agent",
      "triggerConfig": {
        "basePayload": { "chatId": "chat-1", "trigger": "preload", "messages": [], "metadata": {} },
        "machine": "small-1x", "queue": "q", "tags": ["chat:chat-1"], "maxAttempts": 3,
        "maxDuration": 3600, "idleTimeoutInSeconds": 30, "lockToVersion": "20250101.1", "region": "eu",
        "concurrencyKey": "k" },
      "tags": ["a"], "metadata": {}, "expiresAt": "2030-01-01T00:00:00.000Z" });
    let r: CreateSessionRequest = round_trip(v);
    assert_eq!(r.trigger_config.base_payload.trigger, Trigger::Preload);
    assert_eq!(r.trigger_config.max_duration, Some(3600));
    assert_eq!(r.trigger_config.extra["concurrencyKey"], "k");
}

#[test]
fn minimal_create_session_request_omits_every_optional() {
    let r = CreateSessionRequest::chat_agent("my-agent", ChatTaskWirePayload::preload("c1"));
    assert_eq!(
        serde_json::to_value(&r).unwrap(),
        json!({"type": "chat.agent", "taskIdentifier": "my-agent",
            "triggerConfig": {"basePayload": {"chatId": "c1", "trigger": "preload", "messages": []}}})
    );
}

fn created_session() -> Value {
    json!({ "id": "session_abc", "externalId": "chat-1", "type": "chat.agent", "taskIdentifier": "my-agent",
      "triggerConfig": {"basePayload": {"chatId": "chat-1", "trigger": "preload"}}, "currentRunId": "run_1",
      "tags": [], "metadata": null, "closedAt": null, "closedReason": null, "expiresAt": null,
      "createdAt": "2025-01-01T00:00:00.000Z", "updatedAt": "2025-01-01T00:00:00.000Z",
      "runId": "run_1", "publicAccessToken": "eyJhbGciOiJIUzI1NiJ9.secret-payload.sig",
      "isCached": false, "pendingVersion": true })
}

#[test]
fn session_response_from_the_protocol() {
    let s: SessionResponse = round_trip(created_session());
    assert_eq!(s.id, "session_abc");
    assert_eq!(s.run_id.as_deref(), Some("run_1"));
    assert_eq!(s.public_access_token.as_ref().map(Secret::expose), Some("eyJhbGciOiJIUzI1NiJ9.secret-payload.sig"));
    assert_eq!(s.is_cached, Some(false));
    assert!(!s.is_closed());
}

#[test]
fn session_debug_never_shows_the_token() {
    let mut v = created_session();
    v["somethingNew"] = json!("eyJhbGciOiJIUzI1NiJ9.other-token.sig");
    let s: SessionResponse = serde_json::from_value(v).unwrap();
    let dbg = format!("{s:?} {s:#?}");
    assert!(!dbg.contains("secret-payload"), "{dbg}");
    assert!(!dbg.contains("other-token"), "{dbg}");
    assert!(dbg.contains("[redacted]"));
    assert!(dbg.contains("session_abc"));
}

#[test]
fn retrieved_and_closed_sessions() {
    // A retrieve has no runId/token/isCached; the nullable keys are still written.
    let v = json!({ "id": "session_abc", "externalId": null, "type": "chat.agent", "taskIdentifier": "t",
      "currentRunId": null, "tags": ["x"], "metadata": {"a": 1}, "closedAt": "2025-01-02T00:00:00.000Z",
      "closedReason": "done", "expiresAt": null, "createdAt": "2025-01-01T00:00:00.000Z",
      "updatedAt": "2025-01-02T00:00:00.000Z" });
    let s: SessionResponse = round_trip(v);
    assert!(s.is_closed());
    assert!(s.public_access_token.is_none());
    // Lenient: an almost empty object still reads.
    let s: SessionResponse = serde_json::from_value(json!({"id": "session_x"})).unwrap();
    assert_eq!(s.id, "session_x");
}

#[test]
fn close_request_is_never_empty() {
    assert_eq!(serde_json::to_string(&CloseSessionRequest::default()).unwrap(), "{}");
    let r = CloseSessionRequest { reason: Some("bye".into()), ..Default::default() };
    assert_eq!(serde_json::to_string(&r).unwrap(), r#"{"reason":"bye"}"#);
}

#[test]
fn append_responses() {
    let a: AppendResponse = round_trip(json!({"ok": true, "seq": 42}));
    assert_eq!((a.ok, a.seq), (true, Some(42)));
    let a: AppendResponse = round_trip(json!({"ok": true}));
    assert_eq!(a.seq, None);
    let a: AppendResponse = round_trip(json!({"ok": true, "seq": 0, "pendingVersion": true}));
    assert_eq!(a.pending_version, Some(true));
    let a: AppendResponse = round_trip(json!({"ok": false, "error": "Cannot append to a closed session"}));
    assert!(!a.ok);
}

#[test]
fn error_bodies() {
    let e: ErrorBody = round_trip(json!({"error": "Unauthorized", "code": "unauthorized",
        "param": "access_token", "type": "authorization"}));
    assert_eq!(e.code.as_deref(), Some("unauthorized"));
    assert_eq!(e.extra["param"], "access_token");
    assert!(!e.is_session_closed());

    let e: ErrorBody = round_trip(json!({"ok": false, "error": "Cannot append to a closed session"}));
    assert!(e.is_session_closed());
    let e: ErrorBody = round_trip(json!({"error": "closed", "code": "session_closed", "closedReason": "user"}));
    assert!(e.is_session_closed());
    assert_eq!(e.closed_reason.as_deref(), Some("user"));
    let e: ErrorBody = serde_json::from_value(
        json!({"error": "Session is closed; use a different externalId to create a new session"}),
    )
    .unwrap();
    assert!(e.is_session_closed());
    // Odd bodies still give a message.
    let e: ErrorBody = serde_json::from_value(json!({"error": {"message": "x"}})).unwrap();
    assert_eq!(e.error.as_deref(), Some(r#"{"message":"x"}"#));
    assert_eq!(serde_json::to_string(&ErrorBody::new("Task not found")).unwrap(), r#"{"error":"Task not found"}"#);
}

#[test]
fn trigger_task_request_and_response() {
    let v = json!({"payload": {"chatId": "c1", "trigger": "preload", "messages": [], "sessionId": "session_1"},
        "options": {"tags": ["chat:c1"], "machine": "small-1x", "queue": {"name": "chat"}, "maxAttempts": 1,
            "maxDuration": 600, "idempotencyKey": "k", "ttl": "10m", "metadata": {"a": 1}, "priority": 5}});
    let r: TriggerTaskRequest = round_trip(v);
    let o = r.options.unwrap();
    assert_eq!(o.queue.unwrap().name, "chat");
    assert_eq!(o.extra["priority"], 5);

    let minimal =
        TriggerTaskRequest { payload: ChatTaskWirePayload::preload("c1"), options: None, extra: Default::default() };
    assert_eq!(
        serde_json::to_value(&minimal).unwrap(),
        json!({"payload": {"chatId": "c1", "trigger": "preload", "messages": []}})
    );
    let o: TriggerOptions = serde_json::from_value(json!({"tags": "one"})).unwrap();
    assert_eq!(o.tags, Some(vec!["one".to_owned()]));

    let t: TriggerTaskResponse = round_trip(json!({"id": "run_1", "isCached": false}));
    assert_eq!(t.id, "run_1");
}

#[test]
fn run_status() {
    let r: RunResponse = round_trip(json!({"id": "run_1", "status": "EXECUTING", "isCompleted": false,
        "isFailed": false, "isCancelled": false, "taskIdentifier": "t"}));
    assert!(!r.is_final());
    for s in ["COMPLETED", "CANCELED", "FAILED", "CRASHED", "SYSTEM_FAILURE", "EXPIRED", "TIMED_OUT"] {
        assert!(RunStatus::is_final(s), "{s}");
        assert_eq!(RunStatus::parse(s).unwrap().as_str(), s);
    }
    for s in ["PENDING_VERSION", "QUEUED", "DEQUEUED", "EXECUTING", "WAITING", "DELAYED", "SOMETHING_NEW", ""] {
        assert!(!RunStatus::is_final(s), "{s}");
    }
    assert_eq!(RunStatus::parse("SOMETHING_NEW"), None);
}
