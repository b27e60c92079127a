//! Fuzz the `.out` record decoder: any event type, any data, never a panic, and the resume cursor
//! never moves backwards (a backwards cursor would make a reconnect replay records).
//!
//! Differential checks too: the fast batch reader and the serde_json path must give the same items,
//! stats and cursor; the fast body reader must agree with serde_json wherever it accepts a body; and
//! every chunk's pre-read fields (type, delta, text_delta) and its fast assembly must match what the
//! chunk says as a `Value`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tchat::assemble::Assembler;
use tchat::records::{check_body_readers, ChunkRecord, Decoder, DeltaKind, StreamItem};

fuzz_target!(|input: &[u8]| {
    let Some((&selector, rest)) = input.split_first() else {
        return;
    };
    // The low bits pick the event type; bit 7 resumes from a cursor so the duplicate paths run too.
    let event = match selector & 0x07 {
        0 | 1 | 2 => "batch",
        3 => "ping",
        4 => "error",
        5 => "message",
        6 => "",
        _ => "unknown",
    };
    let start = if selector & 0x80 != 0 { Some(u64::from(selector & 0x0f)) } else { None };
    let data = String::from_utf8_lossy(rest);

    // The same bytes as the unescaped text of a record body.
    check_body_readers(&data);

    let mut decoder = Decoder::with_cursor(start);
    let mut general = Decoder::with_cursor(start);
    general.set_fast_reader(false);
    let mut out = Vec::new();
    let mut general_out = Vec::new();
    // Decode twice: the second pass sees every seq_num again and must drop them all as duplicates.
    for pass in 0..2 {
        let before = decoder.cursor();
        let stats_before = decoder.stats();
        out.clear();
        general_out.clear();
        decoder.decode_event(event, &data, &mut out);
        general.decode_event(event, &data, &mut general_out);
        assert_eq!(out.len(), general_out.len(), "fast and serde readers disagree");
        for (a, b) in out.iter().zip(&general_out) {
            match (a, b) {
                (StreamItem::Chunk(a), StreamItem::Chunk(b)) => assert_same(a, b),
                _ => assert_eq!(a, b, "fast and serde readers disagree"),
            }
        }
        assert_eq!(decoder.stats(), general.stats());
        assert_eq!(decoder.cursor(), general.cursor());

        let after = decoder.cursor();
        assert!(after >= before, "cursor went back: {before:?} -> {after:?}");
        for item in &out {
            let _ = format!("{item:?}");
            match item {
                StreamItem::Chunk(c) => {
                    assert!(Some(c.seq_num) <= after && Some(c.seq_num) > before);
                    check_chunk(c);
                }
                StreamItem::Control { seq_num, .. } => {
                    assert!(Some(*seq_num) <= after && Some(*seq_num) > before)
                }
                _ => {}
            }
        }
        if pass == 1 {
            let stats = decoder.stats();
            assert_eq!(stats.chunks, stats_before.chunks, "a replayed chunk was emitted twice");
            assert_eq!(stats.controls, stats_before.controls, "a replayed control was emitted twice");
            assert_eq!(after, before);
        }
    }
});

fn assert_same(a: &ChunkRecord, b: &ChunkRecord) {
    assert_eq!(
        (a.seq_num, a.timestamp, a.json(), a.part_id(), a.chunk_type()),
        (b.seq_num, b.timestamp, b.json(), b.part_id(), b.chunk_type())
    );
    assert_eq!((a.delta(), a.text_delta()), (b.delta(), b.text_delta()));
}

/// The pre-read fields say what the chunk says as a `Value`, and assembling through them is the
/// same as assembling the `Value`. (This crate does not depend on serde_json; the `Value` comes
/// from `chunk_value`.)
fn check_chunk(c: &ChunkRecord) {
    let again = ChunkRecord::from_json(c.seq_num, c.timestamp, c.part_id(), c.json())
        .expect("a decoded chunk's JSON reads again");
    assert_same(c, &again);
    let value = c.chunk_value();
    assert!(value.is_object());
    let chunk_type = value.get("type").and_then(|t| t.as_str());
    assert_eq!(c.chunk_type(), chunk_type.unwrap_or(""));
    let kind = chunk_type.and_then(DeltaKind::from_chunk_type);
    let delta = value.get("delta").and_then(|d| d.as_str());
    assert_eq!(c.delta(), kind.and(delta));
    if let Some(d) = c.text_delta() {
        assert_eq!(Some(d.kind), kind);
        assert_eq!(Some(d.id), value.get("id").and_then(|id| id.as_str()));
        assert_eq!(d.delta, delta.unwrap_or(""));
    }
    let mut fast = Assembler::new();
    let mut reference = Assembler::new();
    // Twice, so the second delta finds the part the first one opened.
    for _ in 0..2 {
        fast.apply_record(c);
        reference.apply(&value);
    }
    assert_eq!(fast.message(), reference.message());
    assert_eq!(fast.is_empty(), reference.is_empty());
}
