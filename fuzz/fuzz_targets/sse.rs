//! Fuzz target for the SSE parser: no panics, and chunking never changes the outcome.
//!
//! The first input byte is a control byte: it picks the split points (so the fuzzer can steer them)
//! and, when its high bit is set, a tiny event size limit so the `EventTooLarge` path is explored as
//! much as the happy path. The rest is the stream.

#![no_main]

use libfuzzer_sys::fuzz_target;
use tchat::sse::{SseError, SseEvent, SseParser, DEFAULT_MAX_EVENT_BYTES};

/// Everything observable after a stream, compared across chunkings.
#[derive(Debug, PartialEq, Eq)]
struct Outcome {
    events: Vec<SseEvent>,
    error: Option<SseError>,
    comments: u64,
    last_event_id: String,
    retry_ms: Option<u64>,
}

fn run<'a>(limit: usize, chunks: impl IntoIterator<Item = &'a [u8]>) -> Outcome {
    let mut parser = SseParser::with_max_event_bytes(limit);
    let mut events = Vec::new();
    let mut error = None;
    for chunk in chunks {
        if let Err(e) = parser.feed(chunk, |ev| {
            // Line ends can never survive into a field, and an id with NUL is never accepted.
            assert!(!ev.data.contains('\r'), "CR in data");
            assert!(!ev.event.contains(['\r', '\n']), "line end in event type");
            assert!(!ev.id.contains(['\r', '\n', '\0']), "line end or NUL in id");
            assert!(!ev.event.is_empty(), "empty event type");
            events.push(ev.to_owned());
        }) {
            assert!(parser.is_poisoned());
            error = Some(e);
            break;
        }
    }
    parser.finish();
    Outcome {
        events,
        error,
        comments: parser.comments(),
        last_event_id: parser.last_event_id().to_owned(),
        retry_ms: parser.retry_ms(),
    }
}

fuzz_target!(|input: &[u8]| {
    let Some((&control, stream)) = input.split_first() else {
        return;
    };
    let limit = if control & 0x80 != 0 { usize::from(control & 0x7f) * 3 } else { DEFAULT_MAX_EVENT_BYTES };
    let at = stream.len() * usize::from(control) / 255;

    let whole = run(limit, [stream]);

    // Two pieces, split at the derived point and at its mirror from the other end.
    let (a, b) = stream.split_at(at);
    assert_eq!(run(limit, [a, b]), whole, "split at {at}");
    let (a, b) = stream.split_at(stream.len() - at);
    assert_eq!(run(limit, [a, b]), whole, "split at {}", stream.len() - at);

    // Small pieces with empty feeds in between: every CR/LF, BOM and UTF-8 boundary gets cut.
    let size = usize::from(control % 5) + 1;
    let pieces = stream.chunks(size).flat_map(|piece| [piece, &[][..]]);
    assert_eq!(run(limit, pieces), whole, "{size}-byte pieces");
});
