//! The decoder's unit tests: vectors of every record kind, and the fast and serde readers agreeing.

use super::*;
use serde_json::json;

fn decode(decoder: &mut Decoder, event: &str, data: &str) -> Vec<StreamItem> {
    let mut out = Vec::new();
    decoder.decode_event(event, data, &mut out);
    out
}

#[test]
fn describe_cuts_quoted_values() {
    let err = serde_json::from_str::<u64>(r#""tr_secret_value""#).unwrap_err();
    let text = describe(&err);
    assert!(!text.contains("tr_secret_value"), "{text}");
    assert!(text.starts_with("invalid type: string"), "{text}");
}

#[test]
fn parse_u64_is_strict() {
    assert_eq!(parse_u64("42"), Some(42));
    assert_eq!(parse_u64("+42"), None);
    assert_eq!(parse_u64(" 42"), None);
    assert_eq!(parse_u64("-1"), None);
    assert_eq!(parse_u64(""), None);
    assert_eq!(parse_u64("18446744073709551616"), None);
    assert_eq!(parse_u64("18446744073709551615"), Some(u64::MAX));
}

#[test]
fn dedup_window_evicts_oldest() {
    let mut d = Decoder::new();
    for i in 0..=DEDUP_WINDOW {
        assert!(d.remember(&format!("p{i}")));
    }
    assert_eq!(d.seen.len(), DEDUP_WINDOW);
    assert_eq!(d.seen_order.len(), DEDUP_WINDOW);
    // p0 was evicted, p1 is still remembered.
    assert!(d.remember("p0"));
    assert!(!d.remember(&format!("p{DEDUP_WINDOW}")));
}

#[test]
fn fast_and_lenient_paths_agree_on_good_records() {
    let good = r#"{"seq_num":1,"timestamp":5,"headers":[["trigger-control","pending-version"]]},
                  {"seq_num":2,"timestamp":6,"body":"{\"data\":{\"type\":\"text-delta\",\"id\":\"t\",\"delta\":\"x\"},\"id\":\"a\"}"}"#;
    let fast = decode(&mut Decoder::new(), "batch", &format!(r#"{{"records":[{good}]}}"#));
    // A malformed third record forces the lenient path for the whole batch.
    let slow = decode(&mut Decoder::new(), "batch", &format!(r#"{{"records":[{good},{{"seq_num":3,"body":7}}]}}"#));
    assert_eq!(fast.len(), 2);
    assert_eq!(&slow[..2], &fast[..]);
    assert!(matches!(slow[2], StreamItem::DecodeError { seq_num: Some(3), .. }));
}

#[test]
fn lenient_path_counts_every_record_once() {
    let mut d = Decoder::new();
    let out = decode(
        &mut d,
        "batch",
        r#"{"records":[{"seq_num":1,"headers":[["","trim"]]},{"seq_num":"x"},{"seq_num":2,"headers":7}]}"#,
    );
    assert_eq!(out.len(), 2);
    let s = d.stats();
    assert_eq!((s.records, s.commands, s.decode_errors), (3, 1, 2));
    assert_eq!(d.cursor(), Some(2));
}

/// A tiny deterministic generator for the differential tests below.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len())]
    }
}

/// String contents (JSON-escaped; some escapes are invalid on purpose).
const STRINGS: &[&str] = &[
    "x",
    "",
    "txt_0",
    " quick",
    r"a\nb",
    r#"q\"q"#,
    r"\u00e9t\u00e9",
    r"\ud83d\ude00",
    r"\ud83d",
    r"\ude00x",
    r"tab\there",
    "caf\u{e9} \u{1F600}",
    r"\/",
    r"\u0000",
    r"\x",
    r"\u12",
    "0123456789abcdefghij",
];

fn string_literal(rng: &mut Rng) -> String {
    format!("\"{}\"", rng.pick(STRINGS))
}

fn chunk_json(rng: &mut Rng) -> String {
    let types = [
        "text-delta",
        "reasoning-delta",
        "text-start",
        "start",
        "trigger:turn-complete",
        "trigger:other",
        "data-x",
        "",
        "tool-input-delta",
    ];
    let mut members: Vec<String> = Vec::new();
    if rng.below(10) != 0 {
        members.push(format!("\"type\":\"{}\"", rng.pick(&types)));
    }
    for _ in 0..rng.below(5) {
        let key = rng.pick(&[
            "id",
            "delta",
            "id",
            "delta",
            "providerMetadata",
            "type",
            "extra",
            "publicAccessToken",
            r"d\u0065lta",
            "messageId",
        ]);
        let value = match rng.below(30) {
            0 => "null".to_owned(),
            1 => "7".to_owned(),
            2 => "1e400".to_owned(),
            3 => r#"{"a":[1,{"b":"\ud800"}]}"#.to_owned(),
            4 => r#"["x",2.5,true]"#.to_owned(),
            5 => "-0".to_owned(),
            _ => string_literal(rng),
        };
        members.push(format!("\"{key}\":{value}"));
    }
    let sep = rng.pick(&[",", " , ", ",\n"]);
    format!("{{{}}}", members.join(sep))
}

fn body_json(rng: &mut Rng) -> String {
    let data = match rng.below(30) {
        0 => "null".to_owned(),
        1 => "[1]".to_owned(),
        2 => "\"s\"".to_owned(),
        _ => chunk_json(rng),
    };
    let mut members = vec![format!("\"data\": {data}")];
    match rng.below(20) {
        0 => {}
        1 => members.push("\"id\":5".to_owned()),
        2 => members.push("\"id\":null".to_owned()),
        3 => members.push(r#""more":{"x":1}"#.to_owned()),
        _ => members.push(format!("\"id\":{}", string_literal(rng))),
    }
    if rng.below(2) == 0 {
        members.reverse();
    }
    let mut body = format!("{{{}}}", members.join(","));
    if rng.below(40) == 0 {
        body.push_str(rng.pick(&[" ", "x", "}", "\n"]));
    }
    body
}

fn record_json(rng: &mut Rng, seq: &mut u64) -> String {
    *seq += rng.below(3) as u64;
    let seq_text = match rng.below(120) {
        0 => "-1".to_owned(),
        1 => "1.5".to_owned(),
        2 => "18446744073709551615".to_owned(),
        3 => "18446744073709551616".to_owned(),
        4 => "\"3\"".to_owned(),
        5 => "01".to_owned(),
        _ => seq.to_string(),
    };
    let mut members = vec![format!("\"seq_num\":{seq_text}")];
    match rng.below(30) {
        0 => {}
        1 => members.push("\"timestamp\":-0".to_owned()),
        2 => members.push("\"timestamp\":-17".to_owned()),
        3 => members.push("\"timestamp\":1.0".to_owned()),
        4 => members.push("\"timestamp\":9223372036854775808".to_owned()),
        5 => members.push("\"timestamp\":null".to_owned()),
        _ => members.push("\"timestamp\":1764000000000".to_owned()),
    }
    match rng.below(20) {
        0 => members.push(r#""headers":[["","trim"]]"#.to_owned()),
        1 => members
            .push(r#""headers":[["trigger-control","turn-complete"],["public-access-token","t\u006bn"]]"#.to_owned()),
        2 => members.push("\"headers\":null".to_owned()),
        3 => members.push("\"headers\":[]".to_owned()),
        4 => members.push(r#""headers":[["a"]]"#.to_owned()),
        _ => {}
    }
    match rng.below(30) {
        0 => members.push("\"body\":null".to_owned()),
        1 => members.push("\"body\":\"\"".to_owned()),
        2 => members.push("\"body\":17".to_owned()),
        3 => members.push(r#""body":"AAAA\u0000""#.to_owned()),
        _ => {
            let body = body_json(rng);
            members.push(format!("\"body\":{}", Value::String(body)));
        }
    }
    if rng.below(8) == 0 {
        members.push(r#""future":{"x":[1,-2.5e3,true,false,null,"s"]}"#.to_owned());
    }
    if rng.below(40) == 0 {
        members.push("\"seq_num\":4".to_owned());
    }
    if rng.below(2) == 0 {
        members.reverse();
    }
    format!("{{{}}}", members.join(rng.pick(&[",", " ,\n "])))
}

fn batch_json(rng: &mut Rng, seq: &mut u64) -> String {
    let records: Vec<String> = (0..rng.below(6)).map(|_| record_json(rng, seq)).collect();
    let mut text = format!(r#"{{"records":[{}],"tail":{{"seq_num":{seq},"timestamp":1}}}}"#, records.join(","));
    // Now and then a random edit, so malformed JSON of every kind comes by.
    if rng.below(6) == 0 && !text.is_empty() {
        let at = rng.below(text.len());
        if text.is_char_boundary(at) {
            match rng.below(3) {
                0 => {
                    text.remove(at);
                }
                1 => {
                    let c = rng.pick(&["\"", "\\", "{", "]", ",", "\u{1}", "é", " "]);
                    text.insert_str(at, c);
                }
                _ => text.truncate(at),
            }
        }
    }
    text
}

fn same_items(a: &[StreamItem], b: &[StreamItem]) -> bool {
    a.len() == b.len()
        && a.iter().zip(b).all(|(x, y)| match (x, y) {
            (StreamItem::Chunk(x), StreamItem::Chunk(y)) => x.same(y),
            _ => x == y,
        })
}

#[test]
fn fast_reader_agrees_with_serde_json() {
    let mut rng = Rng(0x2545_f491_4f6c_dd1d);
    let mut fast_batches = 0;
    let mut chunks = 0;
    for _ in 0..10_000 {
        let mut seq = rng.below(4) as u64;
        let start = seq;
        let batches: Vec<String> = (0..3).map(|_| batch_json(&mut rng, &mut seq)).collect();
        let mut fast = Decoder::with_cursor(Some(start));
        let mut general = Decoder::with_cursor(Some(start));
        general.set_fast_reader(false);
        for data in &batches {
            let (mut a, mut b) = (Vec::new(), Vec::new());
            if fast_batch(data, &mut Vec::new(), &mut Vec::new(), &mut 0).is_some() {
                fast_batches += 1;
            }
            fast.decode_event("batch", data, &mut a);
            general.decode_event("batch", data, &mut b);
            assert!(same_items(&a, &b), "{data}\nfast: {a:#?}\ngeneral: {b:#?}");
            assert_eq!(fast.stats(), general.stats(), "{data}");
            assert_eq!(fast.cursor(), general.cursor(), "{data}");
        }
        chunks += fast.stats().chunks;
    }
    // The generator must exercise the fast reader, not only its bail-outs.
    assert!(fast_batches > 7_000, "{fast_batches}");
    assert!(chunks > 4_500, "{chunks}");
}

#[test]
fn fast_body_reader_agrees_with_serde_json() {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut accepted = 0;
    for _ in 0..20_000 {
        // Bodies arrive unescaped, so the escapes in the generated strings are the chunk's own.
        let body = body_json(&mut rng);
        if fast_data_body(&body).is_some() {
            accepted += 1;
        }
        check_body_readers(&body);
    }
    assert!(accepted > 1_500, "{accepted}");
}

#[test]
fn string_reader_matches_serde_json() {
    for text in [
        r#""""#,
        r#""plain""#,
        r#""a\"b\\c\/d\be\ff\ng\rh\ti""#,
        r#""\u0041\u00e9\u20ac\ud83d\ude00""#,
        r#""\u0000""#,
        "\"caf\u{e9} \u{1F600}\"",
        r#""0123456789abcdefghijklmnop\"qrstuvwxyz0123456789\"""#,
    ] {
        let want: String = serde_json::from_str(text).unwrap();
        let got = lex::Cursor::new(text).string().unwrap();
        assert_eq!(got, want, "{text}");
        let mut buf = vec![0xff; 3];
        let mut len = 1;
        assert_eq!(lex::Cursor::new(text).string_into(&mut buf, &mut len), Some(()));
        assert_eq!(&buf[1..len], want.as_bytes(), "{text}");
    }
    for bad in
        [r#""\ud800""#, r#""\udc00""#, r#""\ud800\u0041""#, r#""\x""#, r#""\u12""#, "\"\u{1}\"", r#""open"#, r#""\"#]
    {
        assert!(lex::Cursor::new(bad).string().is_none(), "{bad}");
        let mut buf = Vec::new();
        assert!(lex::Cursor::new(bad).string_into(&mut buf, &mut 0).is_none(), "{bad}");
    }
}

#[test]
fn number_readers_are_strict() {
    let u = |t: &str| lex::Cursor::new(t).u64();
    assert_eq!(u("0"), Some(0));
    assert_eq!(u(" 42,"), Some(42));
    assert_eq!(u("9999999999999999999"), Some(9_999_999_999_999_999_999));
    for bad in ["", "-1", "01", "1.5", "1e3", "18446744073709551615", "x"] {
        assert_eq!(u(bad), None, "{bad}");
    }
    let i = |t: &str| lex::Cursor::new(t).i64();
    assert_eq!(i("-17"), Some(-17));
    assert_eq!(i("1764000000000}"), Some(1_764_000_000_000));
    for bad in ["-0", "- 1", "-", "1.0", "9223372036854775807"] {
        assert_eq!(i(bad), None, "{bad}");
    }
    let skip = |t: &str| {
        let mut c = lex::Cursor::new(t);
        c.skip_value(0).is_some() && c.at_end()
    };
    for good in ["0", "-0.5e+3", "1E9", "[]", "{}", r#"[1,{"a":[null,true,false]}]"#, r#""s""#] {
        assert!(skip(good), "{good}");
    }
    for bad in ["01", "1.", ".5", "1e", "-", "[1,]", r#"{"a"}"#, r#"{"a":1,}"#, "tru", "nul", "[", r#""\ud800""#] {
        assert!(!skip(bad), "{bad}");
    }
}

#[test]
fn raw_chunk_json_is_kept_byte_for_byte() {
    let chunk = r#"{ "type" : "text-delta", "id":"t\u0031", "delta":"caf\u00e9 \"x\"\n", "zz": {"n": 1.50} }"#;
    let body = format!(r#"{{"data": {chunk}, "id":"p"}}"#);
    let data = json!({"records":[{"seq_num":1,"body":body}]}).to_string();
    for fast in [true, false] {
        let mut d = Decoder::new();
        d.set_fast_reader(fast);
        let out = decode(&mut d, "batch", &data);
        let [StreamItem::Chunk(c)] = &out[..] else { panic!("{out:?}") };
        assert_eq!(c.json(), chunk);
        assert_eq!(c.delta(), Some("caf\u{e9} \"x\"\n"));
        assert_eq!(c.text_delta(), Some(TextDelta { kind: DeltaKind::Text, id: "t1", delta: "caf\u{e9} \"x\"\n" }));
        assert_eq!(c.chunk_value()["zz"]["n"], json!(1.5));
        assert_eq!(c.clone().into_json(), chunk);
    }
}

#[test]
fn text_delta_only_when_the_three_fields_say_everything() {
    let cases: &[(&str, Option<&str>, bool)] = &[
        (r#"{"type":"text-delta","id":"t","delta":"d"}"#, Some("d"), true),
        (r#"{"type":"text-delta","id":"t"}"#, None, true),
        (r#"{"type":"text-delta","id":"t","delta":"d","extra":[1]}"#, Some("d"), true),
        (r#"{"type":"text-delta","id":"t","delta":"d","providerMetadata":null}"#, Some("d"), true),
        (r#"{"type":"text-delta","id":"t","delta":"d","providerMetadata":{"a":1}}"#, Some("d"), false),
        (r#"{"type":"text-delta","id":"t","delta":"d","providerMetadata":"s"}"#, Some("d"), false),
        (r#"{"type":"text-delta","id":5,"delta":"d"}"#, Some("d"), false),
        (r#"{"type":"text-delta","delta":"d"}"#, Some("d"), false),
        (r#"{"type":"text-delta","id":"t","delta":7}"#, None, false),
        (r#"{"type":"text-delta","id":"t","delta":"a","delta":"b"}"#, Some("b"), true),
        (r#"{"type":"reasoning-delta","id":"r","delta":"d"}"#, Some("d"), true),
        (r#"{"type":"text-start","id":"t","delta":"d"}"#, None, false),
    ];
    for &(chunk, delta, fast) in cases {
        let body = format!(r#"{{"data":{chunk},"id":"p"}}"#);
        let Body::Data(DataBody::Chunk(record)) = body_from_text(&body) else { panic!("{chunk}") };
        assert_eq!(record.delta(), delta, "{chunk}");
        assert_eq!(record.text_delta().is_some(), fast, "{chunk}");
        let value = record.chunk_value();
        if let Some(d) = record.text_delta() {
            assert_eq!(Some(d.id), value["id"].as_str(), "{chunk}");
            assert_eq!(d.delta, value["delta"].as_str().unwrap_or(""), "{chunk}");
        }
        let direct = ChunkRecord::from_json(0, 0, Some("p"), chunk).unwrap();
        assert!(direct.same(&record), "{chunk}");
    }
}

#[test]
fn chunks_that_value_rejects_are_decode_errors() {
    for chunk in [
        r#"{"type":"text-delta","id":"t","delta":"\ud800"}"#,
        r#"{"type":"text-delta","id":"t","delta":"d","n":1e400}"#,
        r#"{"type":"start","x":"\udc00"}"#,
    ] {
        let body = format!(r#"{{"data":{chunk},"id":"p"}}"#);
        for fast in [true, false] {
            let mut d = Decoder::new();
            d.set_fast_reader(fast);
            let data = json!({"records":[{"seq_num":3,"body":body}]}).to_string();
            let out = decode(&mut d, "batch", &data);
            assert!(matches!(&out[..], [StreamItem::DecodeError { seq_num: Some(3), .. }]), "{chunk}: {out:?}");
            // Nothing was remembered: the same part id still goes through.
            let ok = r#"{"data":{"type":"start"},"id":"p"}"#;
            let data = json!({"records":[{"seq_num":4,"body":ok}]}).to_string();
            assert_eq!(decode(&mut d, "batch", &data).len(), 1);
        }
    }
}

#[test]
fn bodies_buffer_survives_batches_of_any_size() {
    let mut d = Decoder::new();
    let long = "y".repeat(10_000);
    let mut seq = 0u64;
    for n in [1usize, 3, 200, 1] {
        let records: Vec<Value> = (0..n)
            .map(|_| {
                seq += 1;
                let body = json!({"data":{"type":"text-delta","id":"t","delta":long},"id":format!("p{seq}")});
                json!({"seq_num": seq, "body": body.to_string()})
            })
            .collect();
        let out = decode(&mut d, "batch", &json!({ "records": records }).to_string());
        assert_eq!(out.len(), n, "{:?}", out.first());
        for item in &out {
            let StreamItem::Chunk(c) = item else { panic!() };
            assert_eq!(c.delta(), Some(long.as_str()));
        }
    }
}
