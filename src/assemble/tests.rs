//! The assembler's unit tests (the AI SDK fixtures are in tests/assemble.rs).

use super::*;
use serde_json::json;

fn fold(chunks: &[Value]) -> Assembler {
    let mut a = Assembler::new();
    for c in chunks {
        a.apply(c);
    }
    a
}

#[test]
fn repair_closes_what_is_open() {
    let cases = [
        ("", ""),
        ("{", "{}"),
        ("{\"a", "{}"),
        ("{\"a\":", "{}"),
        ("{\"a\":\"b", "{\"a\":\"b\"}"),
        ("{\"a\":1,", "{\"a\":1}"),
        ("{\"a\":1,\"b", "{\"a\":1}"),
        ("{\"a\":tr", "{\"a\":true}"),
        ("{\"a\":[1,2", "{\"a\":[1,2]}"),
        ("{\"a\":[1,2,", "{\"a\":[1,2]}"),
        ("[\"x\\", "[\"x\"]"),
        ("[\"x\\u00", "[\"x\"]"),
        ("[\"x\\u0041", "[\"x\\u0041\"]"),
        ("-", ""),
        ("-1.", "-1"),
        ("1e", "1"),
        ("nul", "null"),
        ("{\"a\":{\"b\":[{\"c\":n", "{\"a\":{\"b\":[{\"c\":null}]}}"),
    ];
    for (input, want) in cases {
        assert_eq!(repair_json(input), want, "input {input:?}");
    }
}

#[test]
fn repair_never_splits_a_surrogate_pair() {
    assert_eq!(repair_json("\"a\\ud83d"), "\"a\"");
    assert_eq!(repair_json("\"a\\ud83d\\ude00"), "\"a\\ud83d\\ude00\"");
    assert_eq!(parse_partial_json("\"a\\ud83d\\ude0"), Some(json!("a")));
}

#[test]
fn repair_handles_non_ascii_without_panicking() {
    for s in ["{\"é\":\"ü", "[\"日本", "{\"a\":tö", "[1 é", "\"\\é"] {
        let _ = repair_json(s);
        let _ = parse_partial_json(s);
    }
}

#[test]
fn parse_partial_prefers_the_text_as_is() {
    assert_eq!(parse_partial_json("{\"a\":1}"), Some(json!({"a":1})));
    assert_eq!(parse_partial_json("{\"city\":\"Par"), Some(json!({"city":"Par"})));
    assert_eq!(parse_partial_json(""), None);
    assert_eq!(parse_partial_json("x"), None);
}

#[test]
fn text_delta_hot_path_appends_in_place() {
    let a = fold(&[
        json!({"type":"text-start","id":"t"}),
        json!({"type":"text-delta","id":"t","delta":"a"}),
        json!({"type":"text-delta","id":"t","delta":"b"}),
    ]);
    assert_eq!(a.message().parts, vec![json!({"type":"text","text":"ab","state":"streaming"})]);
}

#[test]
fn ended_and_restarted_ids_do_not_reuse_the_cached_part() {
    let a = fold(&[
        json!({"type":"text-start","id":"t"}),
        json!({"type":"text-delta","id":"t","delta":"one"}),
        json!({"type":"text-end","id":"t"}),
        json!({"type":"text-delta","id":"t","delta":"two"}),
        json!({"type":"text-start","id":"t"}),
        json!({"type":"text-delta","id":"t","delta":"three"}),
        json!({"type":"reset-step"}),
        json!({"type":"text-delta","id":"t","delta":"four"}),
    ]);
    let texts: Vec<_> = a.message().parts.iter().map(|p| p["text"].clone()).collect();
    assert_eq!(texts, vec![json!("four")]);
    let b = fold(&[
        json!({"type":"text-start","id":"t"}),
        json!({"type":"text-delta","id":"t","delta":"one"}),
        json!({"type":"text-end","id":"t"}),
        json!({"type":"text-delta","id":"t","delta":"two"}),
        json!({"type":"text-start","id":"t"}),
        json!({"type":"text-delta","id":"t","delta":"three"}),
    ]);
    let texts: Vec<_> = b.message().parts.iter().map(|p| p["text"].clone()).collect();
    assert_eq!(texts, vec![json!("one"), json!("two"), json!("three")]);
}

#[test]
fn delta_without_start_creates_the_part() {
    let a = fold(&[json!({"type":"text-delta","id":"t","delta":"late"})]);
    assert_eq!(a.message().text(), "late");
}

#[test]
fn hostile_chunks_are_ignored() {
    let a = fold(&[
        json!(null),
        json!([1, 2]),
        json!({"type": 5}),
        json!({"type":"text-end","id":"nope"}),
        json!({"type":"tool-output-available","toolCallId":"x","output":1}),
        json!({"type":"tool-input-delta","toolCallId":"x","inputTextDelta":"{"}),
        json!({"type":"tool-approval-request","toolCallId":"x","approvalId":"a"}),
        json!({"type":"tool-approval-response","approvalId":"a","approved":true}),
        json!({"type":"text-delta","id":{"o":1},"delta":7}),
    ]);
    assert_eq!(a.message().parts.len(), 1);
}

#[test]
fn start_with_new_id_starts_over() {
    let a = fold(&[
        json!({"type":"start","messageId":"m1"}),
        json!({"type":"text-start","id":"t"}),
        json!({"type":"start","messageId":"m2"}),
    ]);
    assert_eq!(a.message_id(), Some("m2"));
    assert!(a.message().parts.is_empty());
    assert!(!a.is_empty());
}
