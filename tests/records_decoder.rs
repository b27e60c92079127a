//! Vectors for the `.out` record decoder (PROTOCOL.md sections 3.1–3.3).

use serde_json::{json, Value};
use tchat::records::*;
use tchat::secret::Secret;

const TS: i64 = 1_712_150_400_000;

/// One record as the server writes it: `headers` and `body` omitted when absent.
fn rec(seq: u64, headers: &[(&str, &str)], body: Option<&str>) -> Value {
    let mut r = json!({ "seq_num": seq, "timestamp": TS + seq as i64 });
    if !headers.is_empty() {
        r["headers"] = json!(headers.iter().map(|(n, v)| json!([n, v])).collect::<Vec<_>>());
    }
    if let Some(body) = body {
        r["body"] = json!(body);
    }
    r
}

/// A data record whose body envelope is `{"data": chunk, "id": part_id}`.
fn data_rec(seq: u64, chunk: Value, part_id: &str) -> Value {
    rec(seq, &[], Some(&json!({ "data": chunk, "id": part_id }).to_string()))
}

fn batch(records: Vec<Value>) -> String {
    json!({ "records": records, "tail": { "seq_num": 99, "timestamp": TS } }).to_string()
}

fn decode(d: &mut Decoder, event: &str, data: &str) -> Vec<StreamItem> {
    let mut out = Vec::new();
    d.decode_event(event, data, &mut out);
    out
}

fn decode_batch(d: &mut Decoder, records: Vec<Value>) -> Vec<StreamItem> {
    decode(d, "batch", &batch(records))
}

fn text_delta(delta: &str) -> Value {
    json!({ "type": "text-delta", "id": "msg_1", "delta": delta })
}

fn chunk_item(seq: u64, part_id: &str, chunk: Value) -> StreamItem {
    StreamItem::Chunk(ChunkRecord::from_value(seq, TS + seq as i64, Some(part_id), &chunk).unwrap())
}

fn control_item(seq: u64, control: Control) -> StreamItem {
    StreamItem::Control { seq_num: seq, timestamp: TS + seq as i64, control }
}

fn assert_decode_error(item: &StreamItem, seq: Option<u64>) {
    match item {
        StreamItem::DecodeError { seq_num, message } => {
            assert_eq!(*seq_num, seq, "{message}");
            assert!(!message.is_empty());
        }
        other => panic!("expected DecodeError, got {other:?}"),
    }
}

// ---------------------------------------------------------------------------------------------
// Data records

#[test]
fn data_record_from_the_protocol_example() {
    let mut d = Decoder::new();
    let data = r#"{"records":[{"seq_num":0,"timestamp":1712150400000,"body":"{\"data\":{\"type\":\"text-delta\",\"id\":\"msg_1\",\"delta\":\"pong\"},\"id\":\"abc\"}"}],"tail":{"seq_num":10,"timestamp":1712150400500}}"#;
    let out = decode(&mut d, "batch", data);
    assert_eq!(
        out,
        vec![StreamItem::Chunk(
            ChunkRecord::from_json(
                0,
                1_712_150_400_000,
                Some("abc"),
                r#"{"type":"text-delta","id":"msg_1","delta":"pong"}"#
            )
            .unwrap()
        )]
    );
    let StreamItem::Chunk(c) = &out[0] else { unreachable!() };
    assert_eq!(c.json(), r#"{"type":"text-delta","id":"msg_1","delta":"pong"}"#);
    assert_eq!(c.part_id(), Some("abc"));
    assert_eq!(c.chunk_type(), "text-delta");
    assert_eq!(c.delta(), Some("pong"));
    assert_eq!(c.text_delta(), Some(TextDelta { kind: DeltaKind::Text, id: "msg_1", delta: "pong" }));
    assert_eq!(c.chunk_value(), json!({"type":"text-delta","id":"msg_1","delta":"pong"}));
    assert_eq!(d.cursor(), Some(0));
    let s = d.stats();
    assert_eq!((s.records, s.chunks, s.duplicates, s.decode_errors), (1, 1, 0, 0));
}

#[test]
fn unknown_chunk_types_and_fields_pass_through_untouched() {
    let mut d = Decoder::new();
    let chunk = json!({"type":"custom-thing","nested":{"a":[1,2,{"b":null}]},"extra":true});
    let out = decode_batch(&mut d, vec![data_rec(3, chunk.clone(), "p")]);
    assert_eq!(out, vec![chunk_item(3, "p", chunk)]);
}

#[test]
fn chunk_without_type_or_part_id() {
    let mut d = Decoder::new();
    let out = decode_batch(&mut d, vec![rec(1, &[], Some(r#"{"data":{"delta":"x"}}"#))]);
    assert_eq!(out, vec![StreamItem::Chunk(ChunkRecord::from_value(1, TS + 1, None, &json!({"delta":"x"})).unwrap())]);
    let StreamItem::Chunk(c) = &out[0] else { unreachable!() };
    assert_eq!((c.part_id(), c.chunk_type(), c.delta()), (None, "", None));
    assert_eq!(c.text_delta(), None);
}

#[test]
fn unknown_record_and_batch_fields_are_ignored() {
    let mut d = Decoder::new();
    let data = r#"{"extra":1,"records":[{"seq_num":4,"timestamp":7,"future":{"x":[]},"body":"{\"data\":{\"type\":\"start\"},\"id\":\"s\",\"more\":2}"}]}"#;
    let out = decode(&mut d, "batch", data);
    assert_eq!(
        out,
        vec![StreamItem::Chunk(ChunkRecord::from_value(4, 7, Some("s"), &json!({"type":"start"})).unwrap())]
    );
}

#[test]
fn empty_headers_array_is_a_data_record() {
    let mut d = Decoder::new();
    let body = json!({"data": text_delta("a"), "id": "p1"}).to_string();
    let data = json!({"records":[{"seq_num":2,"timestamp":TS + 2,"headers":[],"body":body}]}).to_string();
    assert_eq!(decode(&mut d, "batch", &data), vec![chunk_item(2, "p1", text_delta("a"))]);
}

#[test]
fn data_record_with_unrelated_headers() {
    let mut d = Decoder::new();
    let body = json!({"data": text_delta("a"), "id": "p1"}).to_string();
    let out =
        decode_batch(&mut d, vec![rec(2, &[("x-other", "1"), ("Trigger-Control", "turn-complete")], Some(&body))]);
    // Header names compare exactly: `Trigger-Control` is not a control header.
    assert_eq!(out, vec![chunk_item(2, "p1", text_delta("a"))]);
}

#[test]
fn record_with_neither_body_nor_headers_is_a_decode_error() {
    let mut d = Decoder::new();
    let out = decode(&mut d, "batch", r#"{"records":[{"seq_num":5,"timestamp":1}]}"#);
    assert_eq!(out.len(), 1);
    assert_decode_error(&out[0], Some(5));
    assert_eq!(d.cursor(), Some(5));
}

#[test]
fn null_headers_and_body_count_as_omitted() {
    let mut d = Decoder::new();
    let out = decode(
        &mut d,
        "batch",
        r#"{"records":[{"seq_num":5,"timestamp":1,"headers":null,"body":null},{"seq_num":6,"timestamp":1,"headers":[["trigger-control","pending-version"]],"body":null}]}"#,
    );
    assert_eq!(out.len(), 2);
    assert_decode_error(&out[0], Some(5));
    assert_eq!(out[1], StreamItem::Control { seq_num: 6, timestamp: 1, control: Control::PendingVersion });
}

#[test]
fn missing_timestamp_defaults_to_zero() {
    let mut d = Decoder::new();
    let out =
        decode(&mut d, "batch", r#"{"records":[{"seq_num":1,"headers":[["trigger-control","pending-version"]]}]}"#);
    assert_eq!(out, vec![StreamItem::Control { seq_num: 1, timestamp: 0, control: Control::PendingVersion }]);
}

#[test]
fn multiple_records_in_one_batch_come_out_in_order() {
    let mut d = Decoder::new();
    let out = decode_batch(
        &mut d,
        vec![
            data_rec(10, json!({"type":"start","messageId":"m"}), "a"),
            data_rec(11, json!({"type":"text-start","id":"t"}), "b"),
            rec(12, &[("", "trim")], Some("opaque")),
            data_rec(13, text_delta("hel"), "c"),
            data_rec(14, text_delta("lo"), "d"),
            data_rec(15, json!({"type":"finish"}), "e"),
            rec(16, &[("trigger-control", "turn-complete")], None),
        ],
    );
    assert_eq!(
        out,
        vec![
            chunk_item(10, "a", json!({"type":"start","messageId":"m"})),
            chunk_item(11, "b", json!({"type":"text-start","id":"t"})),
            chunk_item(13, "c", text_delta("hel")),
            chunk_item(14, "d", text_delta("lo")),
            chunk_item(15, "e", json!({"type":"finish"})),
            control_item(16, Control::TurnComplete(TurnComplete::default())),
        ]
    );
    assert_eq!(d.cursor(), Some(16));
    let s = d.stats();
    assert_eq!((s.records, s.chunks, s.controls, s.commands), (7, 5, 1, 1));
}

#[test]
fn empty_records_array_yields_nothing() {
    let mut d = Decoder::with_cursor(Some(3));
    assert_eq!(decode(&mut d, "batch", r#"{"records":[]}"#), vec![]);
    assert_eq!(d.cursor(), Some(3));
}

// ---------------------------------------------------------------------------------------------
// Command records

#[test]
fn command_records_advance_the_cursor_silently() {
    let mut d = Decoder::new();
    let out = decode_batch(
        &mut d,
        vec![
            rec(7, &[("", "trim")], Some("\u{0}\u{0}\u{0}\u{0}\u{0}\u{0}\u{0}\u{5}")),
            rec(8, &[("", "fence")], Some("token-ish")),
            // Command records may also come with no body at all.
            rec(9, &[("", "trim")], None),
        ],
    );
    assert_eq!(out, vec![]);
    assert_eq!(d.cursor(), Some(9));
    assert_eq!(d.stats().commands, 3);
    assert_eq!(d.stats().decode_errors, 0);
}

#[test]
fn empty_name_wins_over_trigger_control_only_when_first() {
    let mut d = Decoder::new();
    let out = decode_batch(
        &mut d,
        vec![
            rec(1, &[("", "fence"), ("trigger-control", "turn-complete")], None),
            rec(2, &[("trigger-control", "pending-version"), ("", "fence")], None),
        ],
    );
    assert_eq!(out, vec![control_item(2, Control::PendingVersion)]);
    assert_eq!(d.stats().commands, 1);
}

// ---------------------------------------------------------------------------------------------
// Control records

#[test]
fn turn_complete_with_every_sibling() {
    let mut d = Decoder::new();
    let out = decode_batch(
        &mut d,
        vec![rec(
            20,
            &[
                ("trigger-control", "turn-complete"),
                ("public-access-token", "eyJhbGciOiJIUzI1NiJ9.fresh.sig"),
                ("session-in-event-id", "41"),
                ("session-in-consumed-id", "42"),
                ("session-closed", "true"),
                ("session-closed-reason", "user ended chat"),
            ],
            None,
        )],
    );
    assert_eq!(
        out,
        vec![control_item(
            20,
            Control::TurnComplete(TurnComplete {
                public_access_token: Some(Secret::new("eyJhbGciOiJIUzI1NiJ9.fresh.sig")),
                session_in_event_id: Some(41),
                session_in_consumed_id: Some(42),
                session_closed: true,
                session_closed_reason: Some("user ended chat".into()),
                legacy: false,
            })
        )]
    );
    assert_eq!(d.cursor(), Some(20));
    assert_eq!(d.stats().controls, 1);
}

#[test]
fn turn_complete_siblings_one_at_a_time() {
    let cases: Vec<(&[(&str, &str)], TurnComplete)> = vec![
        (&[], TurnComplete::default()),
        (
            &[("public-access-token", "jwt")],
            TurnComplete { public_access_token: Some(Secret::new("jwt")), ..Default::default() },
        ),
        (&[("public-access-token", "")], TurnComplete::default()),
        (&[("session-in-event-id", "7")], TurnComplete { session_in_event_id: Some(7), ..Default::default() }),
        (
            &[("session-in-event-id", "18446744073709551615")],
            TurnComplete { session_in_event_id: Some(u64::MAX), ..Default::default() },
        ),
        (&[("session-in-event-id", "18446744073709551616")], TurnComplete::default()),
        (&[("session-in-event-id", "-1")], TurnComplete::default()),
        (&[("session-in-event-id", "seven")], TurnComplete::default()),
        (&[("session-in-consumed-id", "9")], TurnComplete { session_in_consumed_id: Some(9), ..Default::default() }),
        (&[("session-in-consumed-id", "9.5")], TurnComplete::default()),
        (&[("session-closed", "true")], TurnComplete { session_closed: true, ..Default::default() }),
        (&[("session-closed", "false")], TurnComplete::default()),
        (&[("session-closed", "TRUE")], TurnComplete::default()),
        (
            &[("session-closed-reason", "idle")],
            TurnComplete { session_closed_reason: Some("idle".into()), ..Default::default() },
        ),
        // Siblings take the first match too.
        (
            &[("session-in-event-id", "1"), ("session-in-event-id", "2")],
            TurnComplete { session_in_event_id: Some(1), ..Default::default() },
        ),
    ];
    for (i, (siblings, expected)) in cases.into_iter().enumerate() {
        let mut headers = vec![("trigger-control", "turn-complete")];
        headers.extend_from_slice(siblings);
        let mut d = Decoder::new();
        let out = decode_batch(&mut d, vec![rec(1, &headers, None)]);
        assert_eq!(out, vec![control_item(1, Control::TurnComplete(expected))], "case {i}: {siblings:?}");
    }
}

#[test]
fn upgrade_required_pending_version_and_session_closed() {
    let mut d = Decoder::new();
    let out = decode_batch(
        &mut d,
        vec![
            rec(1, &[("trigger-control", "upgrade-required")], None),
            rec(2, &[("trigger-control", "pending-version")], None),
            rec(3, &[("trigger-control", "session-closed")], None),
            rec(4, &[("trigger-control", "session-closed"), ("session-closed-reason", "expired")], None),
        ],
    );
    assert_eq!(
        out,
        vec![
            control_item(1, Control::UpgradeRequired { legacy: false }),
            control_item(2, Control::PendingVersion),
            control_item(3, Control::SessionClosed { reason: None }),
            control_item(4, Control::SessionClosed { reason: Some("expired".into()) }),
        ]
    );
    assert_eq!(d.cursor(), Some(4));
}

#[test]
fn unknown_control_subtype() {
    let mut d = Decoder::new();
    let out = decode_batch(&mut d, vec![rec(5, &[("trigger-control", "handover"), ("last-event-id", "9")], None)]);
    assert_eq!(out, vec![control_item(5, Control::Unknown { subtype: "handover".into() })]);
}

#[test]
fn first_trigger_control_header_wins() {
    let mut d = Decoder::new();
    let out = decode_batch(
        &mut d,
        vec![rec(5, &[("x", "y"), ("trigger-control", "session-closed"), ("trigger-control", "turn-complete")], None)],
    );
    assert_eq!(out, vec![control_item(5, Control::SessionClosed { reason: None })]);
}

#[test]
fn control_record_body_is_ignored() {
    let mut d = Decoder::new();
    let body = json!({"data": text_delta("x"), "id": "p"}).to_string();
    let out = decode_batch(&mut d, vec![rec(5, &[("trigger-control", "pending-version")], Some(&body))]);
    assert_eq!(out, vec![control_item(5, Control::PendingVersion)]);
    // The body's part id was not remembered: a data record with it still goes through.
    let out = decode_batch(&mut d, vec![data_rec(6, text_delta("x"), "p")]);
    assert_eq!(out, vec![chunk_item(6, "p", text_delta("x"))]);
}

// ---------------------------------------------------------------------------------------------
// Legacy in-band controls

#[test]
fn legacy_turn_complete_with_token() {
    let mut d = Decoder::new();
    let out = decode_batch(
        &mut d,
        vec![data_rec(3, json!({"type":"trigger:turn-complete","publicAccessToken":"legacy.jwt.token"}), "tc")],
    );
    assert_eq!(
        out,
        vec![control_item(
            3,
            Control::TurnComplete(TurnComplete {
                public_access_token: Some(Secret::new("legacy.jwt.token")),
                legacy: true,
                ..Default::default()
            })
        )]
    );
    assert_eq!(d.stats().controls, 1);
    assert_eq!(d.stats().chunks, 0);
}

#[test]
fn legacy_turn_complete_without_token() {
    let mut d = Decoder::new();
    let out = decode_batch(
        &mut d,
        vec![
            data_rec(3, json!({"type":"trigger:turn-complete"}), "a"),
            data_rec(4, json!({"type":"trigger:turn-complete","publicAccessToken":42}), "b"),
        ],
    );
    let legacy = Control::TurnComplete(TurnComplete { legacy: true, ..Default::default() });
    assert_eq!(out, vec![control_item(3, legacy.clone()), control_item(4, legacy)]);
}

#[test]
fn legacy_upgrade_required() {
    let mut d = Decoder::new();
    let out = decode_batch(&mut d, vec![data_rec(8, json!({"type":"trigger:upgrade-required"}), "u")]);
    assert_eq!(out, vec![control_item(8, Control::UpgradeRequired { legacy: true })]);
}

#[test]
fn other_trigger_chunks_are_dropped() {
    let mut d = Decoder::new();
    let out = decode_batch(
        &mut d,
        vec![
            data_rec(1, json!({"type":"trigger:something-new","x":1}), "a"),
            data_rec(2, json!({"type":"trigger:"}), "b"),
            data_rec(3, text_delta("kept"), "c"),
        ],
    );
    assert_eq!(out, vec![chunk_item(3, "c", text_delta("kept"))]);
    assert_eq!(d.cursor(), Some(3));
    assert_eq!(d.stats().dropped_chunks, 2);
}

#[test]
fn header_control_wins_over_legacy_chunk() {
    let mut d = Decoder::new();
    let body = json!({"data":{"type":"trigger:turn-complete"},"id":"x"}).to_string();
    let out = decode_batch(&mut d, vec![rec(1, &[("trigger-control", "pending-version")], Some(&body))]);
    assert_eq!(out, vec![control_item(1, Control::PendingVersion)]);
}

// ---------------------------------------------------------------------------------------------
// Malformed records and batches

#[test]
fn body_not_json_is_a_decode_error_and_advances_the_cursor() {
    let mut d = Decoder::new();
    let out = decode_batch(&mut d, vec![rec(4, &[], Some("not json {")), data_rec(5, text_delta("after"), "p")]);
    assert_eq!(out.len(), 2);
    assert_decode_error(&out[0], Some(4));
    assert_eq!(out[1], chunk_item(5, "p", text_delta("after")));
    assert_eq!(d.cursor(), Some(5));
    assert_eq!(d.stats().decode_errors, 1);
}

#[test]
fn body_json_without_data_object_is_a_decode_error() {
    for body in [
        r#"{"id":"p"}"#,
        r#"{"data":null,"id":"p"}"#,
        r#"{"data":"text","id":"p"}"#,
        r#"{"data":[1,2],"id":"p"}"#,
        r#"[{"data":{}}]"#,
        r#""just a string""#,
        "42",
    ] {
        let mut d = Decoder::new();
        let out = decode_batch(&mut d, vec![rec(6, &[], Some(body))]);
        assert_eq!(out.len(), 1, "{body}");
        assert_decode_error(&out[0], Some(6));
        assert_eq!(d.cursor(), Some(6), "{body}");
        // Nothing was remembered for dedup from a record that failed.
        assert_eq!(decode_batch(&mut d, vec![data_rec(7, text_delta("x"), "p")]).len(), 1);
    }
}

#[test]
fn body_not_a_string_is_a_decode_error_and_the_batch_survives() {
    let mut d = Decoder::new();
    let good = |seq: u64, id: &str| data_rec(seq, text_delta(id), id);
    let bad_body = json!({"seq_num": 2, "timestamp": TS, "body": {"data": {"type": "text-delta"}}});
    let bad_number = json!({"seq_num": 3, "timestamp": TS, "body": 17});
    let out = decode_batch(&mut d, vec![good(1, "a"), bad_body, bad_number, good(4, "b")]);
    assert_eq!(out.len(), 4);
    assert_eq!(out[0], chunk_item(1, "a", text_delta("a")));
    assert_decode_error(&out[1], Some(2));
    assert_decode_error(&out[2], Some(3));
    assert_eq!(out[3], chunk_item(4, "b", text_delta("b")));
    assert_eq!(d.cursor(), Some(4));
    let s = d.stats();
    assert_eq!((s.records, s.chunks, s.decode_errors), (4, 2, 2));
}

#[test]
fn malformed_record_shapes_inside_a_good_batch() {
    let mut d = Decoder::new();
    let data = r#"{"records":[
        {"seq_num":1,"timestamp":"yesterday"},
        {"seq_num":2,"headers":[["only-one"]]},
        {"seq_num":3,"headers":[["a","b","c"]]},
        {"seq_num":4,"headers":[[1,2]]},
        {"timestamp":5},
        {"seq_num":-6},
        {"seq_num":1e40},
        {"seq_num":7.5},
        "not an object",
        null,
        [9, 10, "ignored"],
        {"seq_num":8,"headers":[["trigger-control","pending-version"]]}
    ]}"#;
    let out = decode(&mut d, "batch", data);
    let seqs: Vec<Option<u64>> = out
        .iter()
        .map(|item| match item {
            StreamItem::DecodeError { seq_num, .. } => *seq_num,
            StreamItem::Control { seq_num, .. } => Some(*seq_num + 1000),
            other => panic!("unexpected {other:?}"),
        })
        .collect();
    assert_eq!(seqs, vec![Some(1), Some(2), Some(3), Some(4), None, None, None, None, None, None, None, Some(1008)]);
    assert_eq!(d.cursor(), Some(8));
}

#[test]
fn malformed_batch_json_is_one_decode_error_and_keeps_the_cursor() {
    for data in [
        "",
        "{",
        "not json",
        r#"{"records":[{"seq_num":1,"timestamp":1}"#,
        "[]",
        "null",
        r#"{"records":{}}"#,
        r#"{"records":null}"#,
        r#"{"tail":{"seq_num":3}}"#,
        r#"{"records":[]} trailing"#,
        // Arrays never stand in for objects, not even in field order.
        r#"[[{"seq_num":1,"headers":[["trigger-control","pending-version"]]}]]"#,
    ] {
        let mut d = Decoder::with_cursor(Some(2));
        let out = decode(&mut d, "batch", data);
        assert_eq!(out.len(), 1, "{data:?}");
        assert_decode_error(&out[0], None);
        assert_eq!(d.cursor(), Some(2), "{data:?}");
        assert_eq!(d.stats().decode_errors, 1);
    }
}

#[test]
fn decode_errors_never_quote_input() {
    let secret = "eyJhbGciOiJIUzI1NiJ9.SECRET.sig";
    let mut d = Decoder::new();
    let data = json!({"records": [
        {"seq_num": 1, "timestamp": secret},
        {"seq_num": 2, "body": json!({"data": {"type": "x"}, "id": [secret]}).to_string().replace("]", "")},
        {"seq_num": 3, "headers": [["public-access-token", secret, secret]]},
        {"seq_num": secret},
    ]})
    .to_string();
    let out = decode(&mut d, "batch", &data);
    assert_eq!(out.len(), 4);
    for item in &out {
        assert!(matches!(item, StreamItem::DecodeError { .. }));
        assert!(!format!("{item:?}").contains("SECRET"), "{item:?}");
    }
    let out = decode(&mut d, "batch", &format!(r#"{{"records":"{secret}"}}"#));
    assert!(!format!("{out:?}").contains("SECRET"), "{out:?}");
}

// ---------------------------------------------------------------------------------------------
// Cursor and dedup

#[test]
fn duplicate_seq_num_same_and_lower_are_dropped() {
    let mut d = Decoder::new();
    assert_eq!(decode_batch(&mut d, vec![data_rec(5, text_delta("a"), "a")]).len(), 1);
    let out = decode_batch(
        &mut d,
        vec![
            data_rec(5, text_delta("same"), "x"),
            data_rec(3, text_delta("lower"), "y"),
            rec(4, &[("trigger-control", "turn-complete")], None),
            rec(2, &[("", "trim")], None),
            data_rec(6, text_delta("b"), "b"),
        ],
    );
    assert_eq!(out, vec![chunk_item(6, "b", text_delta("b"))]);
    assert_eq!(d.cursor(), Some(6));
    assert_eq!(d.stats().duplicates, 4);
    assert_eq!(d.stats().commands, 0);
}

#[test]
fn seq_num_zero_is_not_a_duplicate_on_a_fresh_decoder() {
    let mut d = Decoder::new();
    assert_eq!(d.cursor(), None);
    let out = decode_batch(&mut d, vec![rec(0, &[("", "fence")], None)]);
    assert_eq!(out, vec![]);
    assert_eq!(d.cursor(), Some(0));
    assert_eq!(d.stats().duplicates, 0);
    // ...but a second seq 0 is.
    decode_batch(&mut d, vec![rec(0, &[("trigger-control", "pending-version")], None)]);
    assert_eq!(d.stats().duplicates, 1);
}

#[test]
fn with_cursor_resumes_past_the_last_event_id() {
    let mut d = Decoder::with_cursor(Some(10));
    assert_eq!(d.cursor(), Some(10));
    let out = decode_batch(
        &mut d,
        vec![
            data_rec(9, text_delta("old"), "o1"),
            data_rec(10, text_delta("old"), "o2"),
            data_rec(11, text_delta("new"), "n"),
        ],
    );
    assert_eq!(out, vec![chunk_item(11, "n", text_delta("new"))]);
    assert_eq!(d.stats().duplicates, 2);

    let d = Decoder::with_cursor(None);
    assert_eq!(d.cursor(), None);
}

#[test]
fn duplicate_bad_record_is_a_duplicate_not_an_error() {
    let mut d = Decoder::with_cursor(Some(10));
    let out = decode(&mut d, "batch", r#"{"records":[{"seq_num":10,"body":5},{"seq_num":11,"body":5}]}"#);
    assert_eq!(out.len(), 1);
    assert_decode_error(&out[0], Some(11));
    assert_eq!(d.stats().duplicates, 1);
}

#[test]
fn duplicate_part_id_is_dropped_but_advances_the_cursor() {
    let mut d = Decoder::new();
    let out = decode_batch(
        &mut d,
        vec![
            data_rec(1, text_delta("a"), "part-1"),
            data_rec(2, text_delta("a"), "part-1"),
            data_rec(3, json!({"type":"trigger:turn-complete"}), "part-1"),
        ],
    );
    assert_eq!(out, vec![chunk_item(1, "part-1", text_delta("a"))]);
    assert_eq!(d.cursor(), Some(3));
    assert_eq!(d.stats().duplicates, 2);
    // Across batches too.
    assert_eq!(decode_batch(&mut d, vec![data_rec(4, text_delta("a"), "part-1")]), vec![]);
    assert_eq!(d.cursor(), Some(4));
}

#[test]
fn empty_part_id_is_never_deduplicated() {
    let mut d = Decoder::new();
    let out = decode_batch(&mut d, vec![data_rec(1, text_delta("a"), ""), data_rec(2, text_delta("b"), "")]);
    assert_eq!(out, vec![chunk_item(1, "", text_delta("a")), chunk_item(2, "", text_delta("b"))]);
}

#[test]
fn dedup_window_forgets_ids_older_than_5000() {
    let mut d = Decoder::new();
    let records: Vec<Value> =
        (0..=DEDUP_WINDOW as u64).map(|i| data_rec(i, text_delta("x"), &format!("p{i}"))).collect();
    assert_eq!(decode_batch(&mut d, records).len(), DEDUP_WINDOW + 1);
    let next = DEDUP_WINDOW as u64 + 1;
    // p0 fell out of the window; p1 is still in it (until p0 comes back and pushes it out).
    let out =
        decode_batch(&mut d, vec![data_rec(next, text_delta("x"), "p1"), data_rec(next + 1, text_delta("x"), "p0")]);
    assert_eq!(out, vec![chunk_item(next + 1, "p0", text_delta("x"))]);
    assert_eq!(d.cursor(), Some(next + 1));
}

#[test]
fn cursor_near_u64_max() {
    let mut d = Decoder::with_cursor(Some(u64::MAX - 1));
    let out = decode(
        &mut d,
        "batch",
        r#"{"records":[{"seq_num":18446744073709551615,"headers":[["","trim"]]},{"seq_num":18446744073709551615,"headers":[["","trim"]]}]}"#,
    );
    assert_eq!(out, vec![]);
    assert_eq!(d.cursor(), Some(u64::MAX));
    assert_eq!(d.stats().duplicates, 1);
    // One past u64::MAX cannot be read as a seq_num at all.
    let out = decode(&mut d, "batch", r#"{"records":[{"seq_num":18446744073709551616}]}"#);
    assert_eq!(out.len(), 1);
    assert_decode_error(&out[0], None);
    assert_eq!(d.cursor(), Some(u64::MAX));
}

// ---------------------------------------------------------------------------------------------
// Other events

#[test]
fn ping_with_and_without_timestamp() {
    let mut d = Decoder::new();
    assert_eq!(
        decode(&mut d, "ping", r#"{"timestamp":1712150400123}"#),
        vec![StreamItem::Ping { timestamp: Some(1_712_150_400_123) }]
    );
    assert_eq!(
        decode(&mut d, "ping", r#"{"timestamp":5,"tail":{"seq_num":3,"timestamp":4}}"#),
        vec![StreamItem::Ping { timestamp: Some(5) }]
    );
    for data in
        ["", "{}", "not json", r#"{"timestamp":"soon"}"#, r#"{"timestamp":1.5}"#, r#"{"timestamp":1e40}"#, "[1]"]
    {
        assert_eq!(decode(&mut d, "ping", data), vec![StreamItem::Ping { timestamp: None }], "{data:?}");
    }
    assert_eq!(d.stats().pings, 9);
    assert_eq!(d.cursor(), None);
}

#[test]
fn error_event() {
    let mut d = Decoder::with_cursor(Some(4));
    assert_eq!(
        decode(&mut d, "error", "Stream read failed: upstream timeout"),
        vec![StreamItem::ServerError { message: "Stream read failed: upstream timeout".into() }]
    );
    assert_eq!(decode(&mut d, "error", ""), vec![StreamItem::ServerError { message: String::new() }]);
    assert_eq!(d.cursor(), Some(4));
}

#[test]
fn done_and_other_messages() {
    let mut d = Decoder::new();
    assert_eq!(decode(&mut d, "message", "[DONE]"), vec![StreamItem::Done]);
    // Only the exact data of an event without an `event:` line means done.
    assert_eq!(decode(&mut d, "message", "[DONE] "), vec![]);
    assert_eq!(decode(&mut d, "message", "hello"), vec![]);
    assert_eq!(decode(&mut d, "done", "[DONE]"), vec![]);
    assert_eq!(decode(&mut d, "Batch", r#"{"records":[]}"#), vec![]);
    assert_eq!(decode(&mut d, "", "[DONE]"), vec![]);
    assert_eq!(d.stats().unknown_events, 5);
}

#[test]
fn debug_of_a_turn_complete_never_shows_the_token() {
    let token = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ0b3Atc2VjcmV0In0.c2lnbmF0dXJl";
    let mut d = Decoder::new();
    let out = decode_batch(
        &mut d,
        vec![
            rec(1, &[("trigger-control", "turn-complete"), ("public-access-token", token)], None),
            data_rec(2, json!({"type":"trigger:turn-complete","publicAccessToken":token}), "x"),
        ],
    );
    assert_eq!(out.len(), 2);
    for item in &out {
        let StreamItem::Control { control: Control::TurnComplete(tc), .. } = item else {
            panic!("expected turn-complete, got {item:?}");
        };
        assert_eq!(tc.public_access_token.as_ref().map(Secret::expose), Some(token));
        for text in [format!("{item:?}"), format!("{item:#?}"), format!("{tc:?}"), format!("{d:?}")] {
            assert!(!text.contains(token), "{text}");
            assert!(!text.contains("eyJ"), "{text}");
        }
        assert!(format!("{item:?}").contains("[redacted]"));
    }
}

#[test]
fn stats_add_up() {
    let mut d = Decoder::new();
    decode_batch(
        &mut d,
        vec![
            data_rec(1, text_delta("a"), "a"),
            data_rec(2, text_delta("a"), "a"),
            rec(3, &[("", "trim")], None),
            rec(4, &[("trigger-control", "pending-version")], None),
            rec(5, &[], Some("garbage")),
            data_rec(6, json!({"type":"trigger:other"}), "z"),
            data_rec(1, text_delta("old"), "q"),
        ],
    );
    decode(&mut d, "ping", "{}");
    decode(&mut d, "weird", "");
    decode(&mut d, "batch", "{");
    assert_eq!(
        d.stats(),
        DecoderStats {
            records: 7,
            chunks: 1,
            controls: 1,
            commands: 1,
            duplicates: 2,
            decode_errors: 2,
            dropped_chunks: 1,
            pings: 1,
            unknown_events: 1,
        }
    );
}

#[test]
fn decoder_is_send_and_default() {
    fn assert_send<T: Send + 'static>() {}
    assert_send::<Decoder>();
    assert_send::<StreamItem>();
    assert_eq!(Decoder::default().cursor(), None);
    assert_eq!(Decoder::default().stats(), DecoderStats::default());
}

/// Throughput of `decode_event` on realistic text-delta batches. Not a timed test: run it with
/// `cargo test --release --test records_decoder -- --ignored --nocapture` and read the figures.
#[test]
#[ignore]
fn throughput_of_text_delta_batches() {
    let total = 500_000u64;
    for per_batch in [1u64, 10, 100] {
        let batches: Vec<String> = (0..total / per_batch)
            .map(|b| {
                let records = (b * per_batch..(b + 1) * per_batch)
                    .map(|seq| data_rec(seq, text_delta("word "), &format!("V1StGXR8_Z5jdHi6B-{seq}")))
                    .collect();
                batch(records)
            })
            .collect();
        let bytes: usize = batches.iter().map(String::len).sum();
        let mut best = f64::MAX;
        for _ in 0..3 {
            let mut d = Decoder::new();
            let mut out = Vec::with_capacity(per_batch as usize);
            let start = std::time::Instant::now();
            for b in &batches {
                out.clear();
                d.decode_event("batch", b, &mut out);
            }
            best = best.min(start.elapsed().as_secs_f64());
            assert_eq!(d.stats().chunks, total);
        }
        println!(
            "{per_batch:>3} records/batch: {:>9.0} records/s, {:>6.1} MB/s, {:>5.0} ns/record",
            total as f64 / best,
            bytes as f64 / best / 1e6,
            best * 1e9 / total as f64
        );
    }
}
