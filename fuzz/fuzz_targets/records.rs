//! Fuzz the `.out` record decoder: any event type, any data, never a panic, and the resume cursor
//! never moves backwards (a backwards cursor would make a reconnect replay records).
#![no_main]

use libfuzzer_sys::fuzz_target;
use tchat::records::{Decoder, StreamItem};

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
    let start = if selector & 0x80 != 0 {
        Some(u64::from(selector & 0x0f))
    } else {
        None
    };
    let data = String::from_utf8_lossy(rest);

    let mut decoder = Decoder::with_cursor(start);
    let mut out = Vec::new();
    // Decode twice: the second pass sees every seq_num again and must drop them all as duplicates.
    for pass in 0..2 {
        let before = decoder.cursor();
        let stats_before = decoder.stats();
        out.clear();
        decoder.decode_event(event, &data, &mut out);
        let after = decoder.cursor();
        assert!(after >= before, "cursor went back: {before:?} -> {after:?}");
        for item in &out {
            let _ = format!("{item:?}");
            match item {
                StreamItem::Chunk(c) => {
                    assert!(Some(c.seq_num) <= after && Some(c.seq_num) > before)
                }
                StreamItem::Control { seq_num, .. } => {
                    assert!(Some(*seq_num) <= after && Some(*seq_num) > before)
                }
                _ => {}
            }
        }
        if pass == 1 {
            let stats = decoder.stats();
            assert_eq!(
                stats.chunks, stats_before.chunks,
                "a replayed chunk was emitted twice"
            );
            assert_eq!(
                stats.controls, stats_before.controls,
                "a replayed control was emitted twice"
            );
            assert_eq!(after, before);
        }
    }
});
