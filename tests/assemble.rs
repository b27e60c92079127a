//! Replays chunk sequences through the assembler and compares with the message the AI SDK builds.
//!
//! Every `<name>.expected.json` in `tests/fixtures/assemble/` was produced by the real AI SDK
//! (`ai@7.0.173`): `readUIMessageStream` over the same `<name>.chunks.jsonl`, with the final state
//! captured (a trailing probe data part forces the last snapshot, then is removed). The approval
//! answers were produced by `AbstractChat.addToolApprovalResponse` followed by `@trigger.dev/sdk@4.8.3`'s
//! `slimSubmitMessageForWire`, and `partial_json.jsonl` by the SDK's `parsePartialJson` over every
//! prefix of a few documents.
//!
//! The `weather_*` fixtures come from `generate.mjs` in the same directory (`ai@6.0.325`, the one in
//! `tests/conformance`): the devserver demo agent's tool-approval turn and its continuation, whose
//! expected message is `readUIMessageStream({message: previous})` with `previous` the message useChat
//! holds after `addToolApprovalResponse` (`<name>.previous.json`), cross-checked against a whole
//! useChat round trip.

use std::fs;
use std::path::PathBuf;

use serde_json::{json, Value};
use tchat::assemble::{
    approval_response, parse_partial_json, pending_approvals, repair_json, slim_for_wire, ApprovalError, Assembler,
    PendingApproval,
};
use tchat::records::{ChunkRecord, DeltaKind};
use tchat::wire::UIMessage;

fn fixture_path(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/assemble").join(name)
}

/// The fixture's chunks as the JSON lines they are stored as.
fn chunk_lines(name: &str) -> Vec<String> {
    let text = fs::read_to_string(fixture_path(&format!("{name}.chunks.jsonl"))).unwrap();
    text.lines().filter(|l| !l.trim().is_empty()).map(str::to_owned).collect()
}

fn chunks(name: &str) -> Vec<Value> {
    chunk_lines(name)
        .iter()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{name}: bad chunk line {l}: {e}")))
        .collect()
}

fn expected(file: &str) -> Value {
    let text = fs::read_to_string(fixture_path(file)).unwrap();
    serde_json::from_str(&text).unwrap()
}

fn fold(name: &str) -> Assembler {
    fold_into(Assembler::new(), name)
}

fn fold_into(mut a: Assembler, name: &str) -> Assembler {
    for c in chunks(name) {
        a.apply(&c);
    }
    a
}

fn message_file(file: &str) -> UIMessage {
    serde_json::from_value(expected(file)).unwrap()
}

/// Folds the fixture through `apply`, `apply_typed`, `apply_json` and `apply_record` (the last two
/// take the fast path for plain text and reasoning deltas), checks that `to_json`, `message()` and
/// the AI SDK's result agree, and returns the assembler.
fn check(name: &str) -> Assembler {
    check_from(name, Assembler::new)
}

/// [`check`], each fold starting from `start()` instead of an empty assembler.
fn check_from(name: &str, start: impl Fn() -> Assembler) -> Assembler {
    let a = fold_into(start(), name);
    let want = expected(&format!("{name}.expected.json"));
    let got: Value = serde_json::from_str(&a.to_json()).unwrap();
    assert_eq!(
        got,
        want,
        "{name}: assembled message differs from the AI SDK's\n got: {}\nwant: {}",
        serde_json::to_string_pretty(&got).unwrap(),
        serde_json::to_string_pretty(&want).unwrap()
    );
    assert_eq!(serde_json::to_value(a.message()).unwrap(), want, "{name}: message() vs to_json()");

    let mut typed = start();
    for c in chunks(name) {
        let t = c.get("type").and_then(Value::as_str).unwrap_or("").to_owned();
        typed.apply_typed(&t, &c);
    }
    assert_eq!(typed.message(), a.message(), "{name}: apply_typed differs from apply");

    let mut raw = start();
    let mut records = start();
    for (seq, line) in chunk_lines(name).iter().enumerate() {
        raw.apply_json(line);
        let record = ChunkRecord::from_json(seq as u64, 0, None, line).unwrap();
        assert_eq!(record.json(), line.as_str());
        records.apply_record(&record);
    }
    assert_eq!(raw.message(), a.message(), "{name}: apply_json differs from apply");
    assert_eq!(records.message(), a.message(), "{name}: apply_record differs from apply");
    for (x, y) in [(&raw, &a), (&records, &a)] {
        assert_eq!(
            (x.finish_reason(), x.error_text(), x.is_empty()),
            (y.finish_reason(), y.error_text(), y.is_empty())
        );
    }
    a
}

#[test]
fn text_reply() {
    let a = check("text_reply");
    assert_eq!(a.message_id(), Some("msg_a1"));
    assert_eq!(a.message().role, "assistant");
    assert_eq!(a.message().text(), "Hello, world! Ünïcødé ✓ 🎉\n\"quoted\"");
    assert_eq!(a.finish_reason(), Some("stop"));
    assert!(a.is_finished());
    assert_eq!(a.error_text(), None);
    assert!(!a.is_empty());
}

#[test]
fn reasoning_reply() {
    let a = check("reasoning_reply");
    assert_eq!(a.message().text(), "The answer is 42.");
}

#[test]
fn interleaved_text_parts_and_steps() {
    check("interleaved_text");
}

#[test]
fn tool_call_while_input_streams() {
    let a = check("tool_streaming");
    let part = &a.message().parts[1];
    assert_eq!(part["state"], "input-streaming");
    // `"days":` has no value yet: the repair drops the dangling key.
    assert_eq!(part["input"], json!({"city": "Paris", "units": ["c", "f"]}));
}

#[test]
fn tool_calls_static_dynamic_text_encoded_and_errors() {
    let a = check("tool_call");
    assert_eq!(a.finish_reason(), Some("tool-calls"));
    assert!(a.pending_approvals().is_empty());
}

#[test]
fn tool_approval_request() {
    let a = check("tool_approval");
    assert_eq!(
        a.pending_approvals(),
        vec![
            PendingApproval {
                approval_id: "appr_1".into(),
                tool_call_id: "call_del".into(),
                tool_name: "deleteFiles".into(),
            },
            PendingApproval { approval_id: "appr_2".into(), tool_call_id: "call_sh".into(), tool_name: "shell".into() },
        ]
    );
}

#[test]
fn approval_response_approved_matches_the_official_client() {
    let a = fold("tool_approval");
    let slim = approval_response(a.message(), "appr_1", true, None).unwrap();
    assert_eq!(serde_json::to_value(&slim).unwrap(), expected("tool_approval.approved.expected.json"));
    // The message handed in is not modified.
    assert_eq!(a.pending_approvals().len(), 2);
}

#[test]
fn approval_response_denied_with_reason_matches_the_official_client() {
    let a = fold("tool_approval");
    let slim = approval_response(a.message(), "appr_2", false, Some("too risky")).unwrap();
    assert_eq!(serde_json::to_value(&slim).unwrap(), expected("tool_approval.denied.expected.json"));
}

#[test]
fn approval_response_errors() {
    let a = fold("tool_approval");
    assert_eq!(
        approval_response(a.message(), "nope", true, None),
        Err(ApprovalError::UnknownApproval { approval_id: "nope".into() })
    );
    // Answered (and then executed) approvals cannot be answered again.
    let done = fold("tool_approval_chunks");
    assert_eq!(
        approval_response(done.message(), "a1", true, None),
        Err(ApprovalError::NotPending { approval_id: "a1".into(), state: "output-available".into() })
    );
    let err = approval_response(done.message(), "a2", true, None).unwrap_err();
    assert!(err.to_string().contains("output-denied"), "{err}");
}

#[test]
fn respond_to_approval_updates_the_local_message_then_continues() {
    let mut a = fold("tool_approval");
    let slim = a.respond_to_approval("appr_1", true, None).unwrap();
    assert_eq!(serde_json::to_value(&slim).unwrap(), expected("tool_approval.approved.expected.json"));
    assert_eq!(a.pending_approvals().len(), 1);
    a.respond_to_approval("appr_2", false, Some("too risky")).unwrap();
    assert!(a.pending_approvals().is_empty());
    assert!(matches!(a.respond_to_approval("appr_2", true, None), Err(ApprovalError::NotPending { .. })));

    // The agent's continuation streams into the same message (same messageId): the AI SDK's
    // readUIMessageStream({message}) result, whether the message is continued from the outset or
    // named as the one the turn may continue.
    let answered = a.into_message();
    let mut cont = Assembler::from_message(answered.clone());
    for c in chunks("approval_continued") {
        cont.apply(&c);
    }
    assert_eq!(serde_json::to_value(cont.message()).unwrap(), expected("approval_continued.expected.json"));
    assert_eq!(cont.finish_reason(), Some("stop"));
    let cont = check_from("approval_continued", || Assembler::continuing(Some(answered.clone())));
    assert_eq!(cont.finish_reason(), Some("stop"));
}

#[test]
fn demo_agent_tool_turn() {
    let a = check("weather_tool");
    assert_eq!(a.finish_reason(), Some("tool-calls"));
    assert_eq!(
        a.pending_approvals(),
        vec![PendingApproval {
            approval_id: "approval_3".into(),
            tool_call_id: "call_2".into(),
            tool_name: "get_weather".into(),
        }]
    );
}

/// The demo agent's answer to an approval continues the message of the approval turn; the
/// assembler is told which message that is, as useChat hands it to the SDK.
fn check_approval_continuation(name: &str, approved: bool, reason: Option<&str>, state: &str) {
    // What useChat holds after addToolApprovalResponse, built the tchat way.
    let mut turn = fold("weather_tool");
    let wire = turn.respond_to_approval("approval_3", approved, reason).unwrap();
    let answered = turn.into_message();
    assert_eq!(answered, message_file(&format!("{name}.previous.json")));
    assert_eq!(wire, approval_response(fold("weather_tool").message(), "approval_3", approved, reason).unwrap());

    let a = check_from(name, || Assembler::continuing(Some(answered.clone())));
    assert_eq!(a.finish_reason(), Some("stop"));
    assert_eq!(a.message().parts[1]["state"], state);
    assert_eq!(a.message().parts[1]["input"], json!({"city": "Oslo"}));

    // A chat's assembler: reset at the end of the approval turn, then told about the answer.
    let mut b = fold("weather_tool");
    b.reset();
    b.set_previous(Some(answered.clone()));
    let b = fold_into(b, name);
    assert_eq!(b.message(), a.message());
    // Named before the reset, the message is forgotten with the rest of the turn.
    let mut c = Assembler::continuing(Some(answered));
    c.reset();
    assert_eq!(fold_into(c, name).message(), fold(name).message());
}

#[test]
fn approved_tool_call_continues_the_same_message() {
    check_approval_continuation("weather_approved", true, None, "output-available");
}

#[test]
fn denied_tool_call_continues_the_same_message() {
    check_approval_continuation("weather_denied", false, Some("not now"), "output-denied");
}

#[test]
fn a_turn_continues_the_previous_message_only_under_its_id() {
    let previous = message_file("weather_approved.previous.json");
    // Without a previous message the continuation has nothing to continue: the tool output finds
    // no tool part, and the message is the two step-starts and the text.
    let alone = fold("weather_approved");
    let types: Vec<_> = alone.message().parts.iter().map(|p| p["type"].clone()).collect();
    assert_eq!(types, vec![json!("step-start"), json!("step-start"), json!("text")]);

    // Another id: a new message, as without `previous`, which is then forgotten.
    let other = fold_into(Assembler::continuing(Some(previous.clone())), "text_reply");
    assert_eq!(serde_json::to_value(other.message()).unwrap(), expected("text_reply.expected.json"));
    let later = fold_into(other, "weather_approved");
    assert_eq!(later.message(), alone.message());

    // A start without an id does not decide; the first one with an id does.
    let mut a = Assembler::continuing(Some(previous.clone()));
    a.apply(&json!({"type":"start"}));
    a.apply(&json!({"type":"text-start","id":"t"}));
    a.apply(&json!({"type":"text-delta","id":"t","delta":"stray"}));
    assert_eq!(a.message().parts.len(), 1);
    assert_eq!(a.message_id(), None);
    let a = fold_into(a, "weather_approved");
    assert_eq!(serde_json::to_value(a.message()).unwrap(), expected("weather_approved.expected.json"));

    // Only an assistant message is continued.
    let mut user = previous;
    user.role = "user".into();
    let u = fold_into(Assembler::continuing(Some(user)), "weather_approved");
    assert_eq!(u.message(), alone.message());
}

#[test]
fn approval_and_denial_chunks_from_the_stream() {
    let a = check("tool_approval_chunks");
    assert!(a.pending_approvals().is_empty());
}

#[test]
fn slim_passes_through_what_it_does_not_slim() {
    let user = UIMessage::user_text("u1", "hi");
    assert_eq!(slim_for_wire(&user), user);
    let plain = fold("text_reply").into_message();
    assert_eq!(slim_for_wire(&plain), plain);
    // Metadata and unknown message fields do not travel with a slimmed message.
    let mut m = fold("tool_approval_chunks").into_message();
    m.metadata = Some(json!({"m": 1}));
    m.extra.insert("x".into(), json!(1));
    let s = slim_for_wire(&m);
    assert_eq!(s.metadata, None);
    assert!(s.extra.is_empty());
    assert_eq!(s.parts.len(), 2);
    assert_eq!(pending_approvals(&s), vec![]);
}

#[test]
fn data_parts_replace_by_type_and_id_and_skip_transient() {
    check("data_parts");
}

#[test]
fn sources_files_and_custom_parts() {
    check("sources_files");
}

#[test]
fn metadata_merges_and_finish_reason_stays_off_the_message() {
    let a = check("metadata_finish");
    assert_eq!(a.finish_reason(), Some("length"));
    assert!(a.message().metadata.is_some());
    assert!(!a.to_json().contains("finishReason"));
}

#[test]
fn error_turn() {
    let a = check("error_turn");
    assert_eq!(a.error_text(), Some("Model provider returned 529: overloaded"));
    assert_eq!(a.finish_reason(), Some("error"));
    assert_eq!(a.message().text(), "Partial ans");
}

#[test]
fn abort_turn() {
    let a = check("abort_turn");
    assert!(a.is_aborted());
    assert_eq!(a.abort_reason(), Some("user stop"));
    assert!(!a.is_finished());
}

#[test]
fn unknown_chunk_types_and_fields() {
    let a = check("unknown_chunks");
    // The data part is the chunk itself, unknown fields included.
    assert_eq!(a.message().parts.last().unwrap()["brandNew"], json!({"nested": true}));
}

#[test]
fn reset_step_and_steering_message() {
    check("reset_and_steering");
}

#[test]
fn a_new_message_id_starts_a_new_message() {
    let a = check("new_message_id");
    assert_eq!(a.message_id(), Some("msg_new"));
    // finishReason belonged to the old message.
    assert_eq!(a.finish_reason(), None);
}

#[test]
fn reset_starts_a_new_turn() {
    let mut a = fold("error_turn");
    a.reset();
    assert!(a.is_empty());
    assert_eq!(a.message_id(), None);
    assert_eq!(a.error_text(), None);
    assert_eq!(a.finish_reason(), None);
    assert_eq!(a.to_json(), r#"{"id":"","role":"assistant","parts":[]}"#);
    for c in chunks("text_reply") {
        a.apply(&c);
    }
    assert_eq!(serde_json::to_value(a.message()).unwrap(), expected("text_reply.expected.json"));
}

#[test]
fn fresh_assembler_is_an_empty_assistant_message() {
    let a = Assembler::default();
    assert!(a.is_empty());
    assert_eq!(a.message().role, "assistant");
    assert_eq!(a.message_id(), None);
    assert!(a.pending_approvals().is_empty());
}

#[test]
fn from_message_resumes_input_streaming_tool_calls() {
    let a = fold("tool_streaming");
    let mut b = Assembler::from_message(a.message().clone());
    b.apply(&json!({"type":"tool-input-delta","toolCallId":"call_1","inputTextDelta":"3}"}));
    assert_eq!(b.message().parts[1]["input"], json!({"city":"Paris","units":["c","f"],"days":3}));
    assert_eq!(b.message().parts[1]["rawInput"], r#"{"city":"Paris","units":["c", "f"],"days":3}"#);
    // A user message is not continued.
    let c = Assembler::from_message(UIMessage::user_text("u9", "x"));
    assert!(c.message().parts.is_empty());
    assert_eq!(c.message().role, "assistant");
}

/// Every fixture (and continuation, from its previous message), cut after each chunk: the message
/// assembled so far goes through JSON (as a saved chat keeps it), [`Assembler::from_message`] takes
/// it, the rest of the chunks follow, and the result must be the message of one uninterrupted pass.
#[test]
fn restoring_mid_turn_ends_as_one_pass_would() {
    let fresh = [
        "text_reply",
        "reasoning_reply",
        "interleaved_text",
        "tool_streaming",
        "tool_call",
        "tool_approval",
        "tool_approval_chunks",
        "data_parts",
        "sources_files",
        "metadata_finish",
        "error_turn",
        "abort_turn",
        "unknown_chunks",
        "reset_and_steering",
        "new_message_id",
        "weather_tool",
    ];
    let mut runs: Vec<(&str, Option<UIMessage>)> = fresh.iter().map(|n| (*n, None)).collect();
    for name in ["weather_approved", "weather_denied"] {
        runs.push((name, Some(message_file(&format!("{name}.previous.json")))));
    }
    let (mut checked, mut ambiguous) = (0, 0);
    let (mut open_text, mut open_reasoning, mut open_tool) = (0, 0, 0);
    for (name, previous) in runs {
        let lines = chunk_lines(name);
        let all = chunks(name);
        let start = || Assembler::continuing(previous.clone());
        let whole = fold_into(start(), name);
        // A continuation saved before its `start` arrived has not taken up the previous message
        // yet; the saved message cannot carry it.
        let first = usize::from(previous.is_some());
        for k in first..=all.len() {
            let mut head = start();
            for c in &all[..k] {
                head.apply(c);
            }
            let saved: UIMessage = serde_json::from_value(serde_json::to_value(head.message()).unwrap()).unwrap();
            let state = |t: &str, s: &str| saved.parts.iter().filter(|p| p["type"] == t && p["state"] == s).count();
            // Text parts keep no chunk id: with two open, which id continues which is a guess.
            if state("text", "streaming") > 1 {
                ambiguous += 1;
                continue;
            }
            open_text += state("text", "streaming");
            open_reasoning += state("reasoning", "streaming");
            open_tool += saved.parts.iter().filter(|p| p["state"] == "input-streaming").count();

            let mut by_value = Assembler::from_message(saved.clone());
            let mut by_record = Assembler::from_message(saved);
            for (seq, (c, line)) in all[k..].iter().zip(&lines[k..]).enumerate() {
                by_value.apply(c);
                by_record.apply_record(&ChunkRecord::from_json(seq as u64, 0, None, line).unwrap());
            }
            for got in [&by_value, &by_record] {
                assert_eq!(
                    got.message(),
                    whole.message(),
                    "{name} restored after {k} chunks
 got: {}
want: {}",
                    got.to_json(),
                    whole.to_json()
                );
            }
            checked += 1;
        }
    }
    assert!(checked > 200, "{checked} splits checked");
    assert!(ambiguous * 20 < checked, "{ambiguous} of {checked} splits skipped");
    assert!(open_text > 20 && open_reasoning >= 2 && open_tool > 10);
}

#[test]
fn restored_text_parts_go_to_the_newest_open_one() {
    // Cut after `text-start t2`: the step-1 part "first try" was never ended; the next delta, for
    // t2, belongs to the newer part.
    let all = chunks("reset_and_steering");
    let mut head = Assembler::new();
    for c in &all[..7] {
        head.apply(c);
    }
    let mut restored = Assembler::from_message(head.into_message());
    restored.apply(&all[7]);
    let texts: Vec<_> = restored.message().parts.iter().map(|p| p["text"].clone()).collect();
    assert_eq!(texts, vec![Value::Null, json!("first try"), Value::Null, json!("flaky")]);
    // The older part goes to the next unknown id; once every restored part is taken, an unknown id
    // opens a part of its own, as it does without a restore.
    restored.apply(&json!({"type":"text-end","id":"t2"}));
    restored.apply(&json!({"type":"text-delta","id":"zz","delta":" again"}));
    restored.apply(&json!({"type":"text-delta","id":"yy","delta":"y"}));
    let texts: Vec<_> = restored.message().parts.iter().map(|p| p["text"].clone()).collect();
    assert_eq!(texts, vec![Value::Null, json!("first try again"), Value::Null, json!("flaky"), json!("y")]);
    assert_eq!(restored.message().parts[3]["state"], "done");
}

/// Numbers compare by value: the SDK round-trips `-12.5e3` through a JavaScript number and writes
/// `-12500`, serde keeps it as a float.
fn json_eq(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        (Value::Array(x), Value::Array(y)) => x.len() == y.len() && x.iter().zip(y).all(|(a, b)| json_eq(a, b)),
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| json_eq(v, w)))
        }
        _ => a == b,
    }
}

#[test]
fn partial_json_matches_the_sdk_on_every_prefix() {
    let text = fs::read_to_string(fixture_path("partial_json.jsonl")).unwrap();
    let mut n = 0;
    for line in text.lines().filter(|l| !l.is_empty()) {
        let rec: Value = serde_json::from_str(line).unwrap();
        let input = rec["text"].as_str().unwrap();
        let want = rec.get("value");
        let got = parse_partial_json(input);
        let same = match (&got, want) {
            (Some(g), Some(w)) => json_eq(g, w),
            (None, None) => true,
            _ => false,
        };
        assert!(same, "prefix {input:?}: got {got:?}, SDK {want:?} (repaired {:?})", repair_json(input));
        n += 1;
    }
    assert!(n > 300, "only {n} prefixes checked");
}

#[test]
fn partial_json_repair_examples() {
    assert_eq!(repair_json(r#"{"a":"b"#), r#"{"a":"b"}"#);
    assert_eq!(repair_json(r#"{"a":[1,{"b":nu"#), r#"{"a":[1,{"b":null}]}"#);
    assert_eq!(repair_json(r#"{"a":1,"#), r#"{"a":1}"#);
    assert_eq!(parse_partial_json(r#"{"list":["x","y"#), Some(json!({"list":["x","y"]})));
    assert_eq!(parse_partial_json("not json"), None);
}

#[test]
fn never_panics_on_arbitrary_chunk_orders() {
    // Every fixture chunk, applied in reverse and interleaved across fixtures: nothing may panic,
    // and the result must still serialize.
    let names = [
        "text_reply",
        "reasoning_reply",
        "tool_call",
        "tool_approval",
        "tool_approval_chunks",
        "data_parts",
        "sources_files",
        "reset_and_steering",
        "unknown_chunks",
    ];
    let all: Vec<Value> = names.iter().flat_map(|n| chunks(n)).collect();
    let mut a = Assembler::new();
    for c in all.iter().rev() {
        a.apply(c);
    }
    let _: Value = serde_json::from_str(&a.to_json()).unwrap();
    let mut b = Assembler::new();
    for (i, c) in all.iter().enumerate() {
        b.apply(c);
        b.apply(&all[(i * 7919) % all.len()]);
    }
    let _: Value = serde_json::from_str(&b.to_json()).unwrap();
}

#[test]
fn delta_fast_path_matches_apply_on_every_shape() {
    // Deltas with and without an open part, non-string ids, providerMetadata, missing deltas, and a
    // reasoning part created by its first delta (which stores the chunk id).
    let stream = [
        json!({"type":"text-start","id":"t"}),
        json!({"type":"text-delta","id":"t","delta":"a"}),
        json!({"type":"text-delta","id":"t"}),
        json!({"type":"text-delta","id":"t","delta":"b","providerMetadata":{"p":1}}),
        json!({"type":"text-delta","id":"t","delta":"c","providerMetadata":null}),
        json!({"type":"text-delta","id":"late","delta":"x"}),
        json!({"type":"text-delta","id":7,"delta":"n"}),
        json!({"type":"text-delta","id":"7","delta":"m"}),
        json!({"type":"reasoning-delta","id":"r","delta":"think"}),
        json!({"type":"reasoning-start","id":"r2"}),
        json!({"type":"reasoning-delta","id":"r2","delta":"more","extra":[1]}),
        json!({"type":"text-end","id":"t"}),
        json!({"type":"text-delta","id":"t","delta":"after end"}),
        json!({"type":"reset-step"}),
        json!({"type":"text-delta","id":"t","delta":"again"}),
    ];
    let mut by_value = Assembler::new();
    let mut by_record = Assembler::new();
    let mut fast = 0;
    for (seq, chunk) in stream.iter().enumerate() {
        by_value.apply(chunk);
        let record = ChunkRecord::from_value(seq as u64, 0, None, chunk).unwrap();
        fast += usize::from(record.text_delta().is_some());
        by_record.apply_record(&record);
        assert_eq!(by_record.message(), by_value.message(), "after {chunk}");
    }
    assert!(fast >= 8, "{fast}");

    let mut direct = Assembler::new();
    direct.apply_delta(DeltaKind::Reasoning, "r", "x");
    let mut reference = Assembler::new();
    reference.apply(&json!({"type":"reasoning-delta","id":"r","delta":"x"}));
    assert_eq!(direct.message(), reference.message());
    assert!(!direct.is_empty());
}

#[test]
fn apply_json_ignores_what_apply_ignores() {
    let mut a = Assembler::new();
    for text in ["", "not json", "[1,2]", "null", r#"{"type":5}"#, r#"{"delta":"x"}"#] {
        a.apply_json(text);
    }
    assert!(a.is_empty());
    a.apply_json(r#"{"type":"trigger:turn-complete"}"#);
    assert!(a.is_empty());
}
