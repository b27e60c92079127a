//! Vectors for the SSE parser (`tchat::sse`).
//!
//! Every vector is checked at several split granularities — whole, 1-, 2-, 3- and 7-byte pieces, every
//! two-piece split, and with empty feeds interleaved — because the parser's main promise is that the
//! way bytes are chunked by the network never changes the events.

use tchat::sse::*;

/// Everything observable after parsing a stream: the events, the error if any, and the state that
/// outlives events.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Outcome {
    events: Vec<SseEvent>,
    error: Option<SseError>,
    comments: u64,
    last_event_id: String,
    retry_ms: Option<u64>,
}

fn run_with_limit(limit: usize, chunks: &[&[u8]]) -> Outcome {
    let mut parser = SseParser::with_max_event_bytes(limit);
    let mut events = Vec::new();
    let mut error = None;
    for chunk in chunks {
        if let Err(e) = parser.feed(chunk, |ev| events.push(ev.to_owned())) {
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

fn run(chunks: &[&[u8]]) -> Outcome {
    run_with_limit(DEFAULT_MAX_EVENT_BYTES, chunks)
}

/// Parses a stream given as pieces (then `finish`), panicking on an error.
fn parse_all(chunks: &[&[u8]]) -> Vec<SseEvent> {
    let outcome = run(chunks);
    assert_eq!(outcome.error, None, "unexpected error");
    outcome.events
}

/// The split patterns every vector is checked with, labelled for failure messages.
fn split_patterns(input: &[u8]) -> Vec<(String, Vec<&[u8]>)> {
    let mut patterns = vec![("whole".to_owned(), vec![input])];
    for size in [1, 2, 3, 7] {
        patterns.push((format!("{size}-byte pieces"), input.chunks(size).collect()));
    }
    // Empty feeds between 1-byte pieces: an empty feed must not disturb a pending CR or BOM.
    let mut with_empties: Vec<&[u8]> = Vec::new();
    for piece in input.chunks(1) {
        with_empties.push(&[]);
        with_empties.push(piece);
    }
    with_empties.push(&[]);
    patterns.push(("1-byte pieces with empty feeds".to_owned(), with_empties));
    for at in 0..=input.len() {
        let (a, b) = input.split_at(at);
        patterns.push((format!("split at {at}"), vec![a, b]));
    }
    patterns
}

/// Asserts that every split pattern gives `expected` (events, error and state), returning it.
fn assert_outcome_with_limit(limit: usize, input: &[u8], expected: &Outcome) {
    for (label, chunks) in split_patterns(input) {
        let got = run_with_limit(limit, &chunks);
        assert_eq!(&got, expected, "{label} of {:?}", String::from_utf8_lossy(input));
    }
}

/// Asserts that every split pattern yields exactly `expected` events (and no error), and that the
/// parser state after the stream is the same for all of them. Returns the outcome for more checks.
fn assert_events(input: &[u8], expected: &[SseEvent]) -> Outcome {
    let whole = run(&[input]);
    assert_eq!(whole.error, None, "error on whole input");
    assert_eq!(whole.events, expected, "whole input");
    assert_eq!(parse_all(&[input]), expected);
    assert_outcome_with_limit(DEFAULT_MAX_EVENT_BYTES, input, &whole);
    whole
}

fn ev(event: &str, data: &str, id: &str) -> SseEvent {
    SseEvent::new(event, data, id)
}

fn msg(data: &str) -> SseEvent {
    ev("message", data, "")
}

// ---------------------------------------------------------------------------------------------
// Byte order mark

#[test]
fn bom_is_stripped() {
    assert_events(b"\xEF\xBB\xBFdata: x\n\n", &[msg("x")]);
}

#[test]
fn bom_split_across_feeds_is_stripped() {
    let expected = [msg("x")];
    assert_eq!(parse_all(&[b"\xEF", b"\xBB", b"\xBFdata: x\n\n"]), expected);
    assert_eq!(parse_all(&[b"\xEF\xBB", b"\xBF", b"data: x\n\n"]), expected);
    assert_eq!(parse_all(&[b"\xEF", b"", b"\xBB\xBFdata: x\n", b"\n"]), expected);
}

#[test]
fn bom_only_stripped_once() {
    // The second BOM becomes part of the first field name, which is then unknown.
    assert_events(b"\xEF\xBB\xBF\xEF\xBB\xBFdata: x\n\ndata: y\n\n", &[msg("y")]);
}

#[test]
fn bom_not_at_start_is_kept_as_data() {
    assert_events(b"data: a\n\n\xEF\xBB\xBFdata: b\n\ndata: \xEF\xBB\xBFc\n\n", &[msg("a"), msg("\u{FEFF}c")]);
}

#[test]
fn partial_bom_is_content_not_dropped() {
    // Two bytes of a BOM followed by "data": the bytes belong to the field name, so no event.
    assert_events(b"\xEF\xBBdata: x\n\ndata: y\n\n", &[msg("y")]);
    assert_events(b"\xEFdata: x\n\ndata: y\n\n", &[msg("y")]);
}

#[test]
fn partial_bom_line_is_an_unknown_field() {
    assert_events(b"\xEF\xBB\n\ndata: y\n\n", &[msg("y")]);
}

#[test]
fn bom_only_stream_yields_nothing() {
    let out = assert_events(b"\xEF\xBB\xBF", &[]);
    assert_eq!(out.comments, 0);
}

#[test]
fn bom_stripped_again_after_reset_but_not_after_finish() {
    let mut p = SseParser::new();
    let mut events = Vec::new();
    p.feed(b"\xEF\xBB\xBFdata: a\n\n", |e| events.push(e.to_owned())).unwrap();
    p.reset();
    p.feed(b"\xEF\xBB", |e| events.push(e.to_owned())).unwrap();
    p.feed(b"\xBFdata: b\n\n", |e| events.push(e.to_owned())).unwrap();
    p.finish();
    // After finish the stream continues: a BOM now is content (unknown field name).
    p.feed(b"\xEF\xBB\xBFdata: c\n\ndata: d\n\n", |e| events.push(e.to_owned())).unwrap();
    assert_eq!(events, vec![msg("a"), msg("b"), msg("d")]);
}

#[test]
fn bom_followed_by_crlf_and_comment() {
    let out = assert_events(b"\xEF\xBB\xBF\r\n:hi\r\ndata: x\r\n\r\n", &[msg("x")]);
    assert_eq!(out.comments, 1);
}

// ---------------------------------------------------------------------------------------------
// Line ends

#[test]
fn lf_line_ends() {
    assert_events(b"data: a\n\ndata: b\n\n", &[msg("a"), msg("b")]);
}

#[test]
fn cr_line_ends() {
    assert_events(b"data: a\r\rdata: b\r\r", &[msg("a"), msg("b")]);
}

#[test]
fn crlf_line_ends() {
    assert_events(b"data: a\r\n\r\ndata: b\r\n\r\n", &[msg("a"), msg("b")]);
}

#[test]
fn mixed_line_ends() {
    assert_events(
        b"event: e\rdata: a\r\ndata: b\n\r\ndata: c\r\rdata: d\n\r",
        &[ev("e", "a\nb", ""), msg("c"), msg("d")],
    );
}

#[test]
fn cr_at_end_of_feed_then_lf_is_one_line_end() {
    // If the split CRLF counted twice, "a" would be dispatched alone.
    let chunks: [&[u8]; 3] = [b"data: a\r", b"\ndata: b\r", b"\n\r\n"];
    assert_eq!(parse_all(&chunks), vec![msg("a\nb")]);
    assert_events(b"data: a\r\ndata: b\r\n\r\n", &[msg("a\nb")]);
}

#[test]
fn cr_at_end_of_feed_then_other_byte() {
    let chunks: [&[u8]; 2] = [b"data: a\r", b"data: b\r\r"];
    assert_eq!(parse_all(&chunks), vec![msg("a\nb")]);
}

#[test]
fn cr_then_empty_feeds_then_lf() {
    let chunks: [&[u8]; 5] = [b"data: a\r", b"", b"", b"\n", b"\r\n"];
    assert_eq!(parse_all(&chunks), vec![msg("a")]);
}

#[test]
fn lf_then_cr_is_two_line_ends() {
    assert_events(b"data: a\n\rdata: b\n\n", &[msg("a"), msg("b")]);
}

#[test]
fn cr_cr_lf_is_line_end_then_blank_line() {
    assert_events(b"data: a\r\r\ndata: b\n\n", &[msg("a"), msg("b")]);
}

#[test]
fn trailing_cr_at_end_of_stream_dispatches() {
    assert_events(b"data: a\r\r", &[msg("a")]);
}

// ---------------------------------------------------------------------------------------------
// Comments

#[test]
fn comments_are_skipped_and_counted() {
    let out = assert_events(b": ping\n:another\ndata: x\n\n", &[msg("x")]);
    assert_eq!(out.comments, 2);
}

#[test]
fn comment_inside_event_does_not_dispatch() {
    let out = assert_events(b"data: a\n: keep-alive\ndata: b\n\n", &[msg("a\nb")]);
    assert_eq!(out.comments, 1);
}

#[test]
fn bare_colon_is_a_comment() {
    let out = assert_events(b":\n:\r\n:\rdata: x\n\n", &[msg("x")]);
    assert_eq!(out.comments, 3);
}

#[test]
fn comment_only_stream() {
    let out = assert_events(b": a\n\n: b\n\n", &[]);
    assert_eq!(out.comments, 2);
}

#[test]
fn comment_looking_like_field_is_still_a_comment() {
    let out = assert_events(b":data: x\n\n", &[]);
    assert_eq!(out.comments, 1);
}

#[test]
fn incomplete_comment_at_eof_not_counted() {
    let out = assert_events(b": done\n: half", &[]);
    assert_eq!(out.comments, 1);
}

// ---------------------------------------------------------------------------------------------
// Field parsing

#[test]
fn field_without_colon_is_name_with_empty_value() {
    assert_events(b"data\n\n", &[msg("")]);
}

#[test]
fn two_bare_data_lines_give_one_newline() {
    assert_events(b"data\ndata\n\n", &[msg("\n")]);
}

#[test]
fn bare_event_field_means_default_type() {
    assert_events(b"event\ndata: x\n\n", &[msg("x")]);
}

#[test]
fn only_one_leading_space_is_stripped() {
    assert_events(b"data:  two\n\ndata:   three\n\n", &[msg(" two"), msg("  three")]);
}

#[test]
fn no_space_after_colon() {
    assert_events(b"data:x\n\n", &[msg("x")]);
}

#[test]
fn tab_after_colon_is_kept() {
    assert_events(b"data:\tx\n\n", &[msg("\tx")]);
}

#[test]
fn value_keeps_further_colons() {
    assert_events(b"data: a: b:c\n\n", &[msg("a: b:c")]);
}

#[test]
fn trailing_whitespace_is_kept() {
    assert_events(b"data: x \n\n", &[msg("x ")]);
}

#[test]
fn empty_value_after_colon() {
    assert_events(b"data:\n\ndata: \n\n", &[msg(""), msg("")]);
}

#[test]
fn field_names_are_case_sensitive() {
    assert_events(b"Data: x\n\nDATA: y\n\nEvent: e\ndata: z\n\n", &[msg("z")]);
}

#[test]
fn unknown_fields_are_ignored() {
    assert_events(b"foo: bar\ndata: x\nbaz\n\n", &[msg("x")]);
}

#[test]
fn space_before_colon_makes_another_field() {
    assert_events(b"data : x\n\n data: y\n\n", &[]);
}

#[test]
fn line_of_spaces_is_not_blank() {
    assert_events(b"data: a\n \ndata: b\n\n", &[msg("a\nb")]);
}

// ---------------------------------------------------------------------------------------------
// data

#[test]
fn multi_line_data_joined_by_newline() {
    assert_events(b"data: a\ndata: b\ndata: c\n\n", &[msg("a\nb\nc")]);
}

#[test]
fn empty_data_line_in_the_middle() {
    assert_events(b"data: a\ndata:\ndata: b\n\n", &[msg("a\n\nb")]);
}

#[test]
fn data_with_trailing_empty_line_keeps_one_newline() {
    assert_events(b"data: a\ndata\n\n", &[msg("a\n")]);
}

#[test]
fn data_resets_between_events() {
    assert_events(b"data: a\ndata: b\n\ndata: c\n\n", &[msg("a\nb"), msg("c")]);
}

// ---------------------------------------------------------------------------------------------
// event

#[test]
fn event_type_is_used() {
    assert_events(b"event: batch\ndata: x\n\n", &[ev("batch", "x", "")]);
}

#[test]
fn default_event_type_is_message() {
    assert_events(b"data: x\n\n", &[ev("message", "x", "")]);
}

#[test]
fn last_event_field_wins() {
    assert_events(b"event: a\nevent: b\ndata: x\n\n", &[ev("b", "x", "")]);
}

#[test]
fn event_type_resets_after_dispatch() {
    assert_events(b"event: a\ndata: x\n\ndata: y\n\n", &[ev("a", "x", ""), msg("y")]);
}

#[test]
fn empty_event_value_means_message() {
    assert_events(b"event:\ndata: x\n\nevent: \ndata: y\n\n", &[msg("x"), msg("y")]);
}

#[test]
fn event_after_data_still_applies() {
    assert_events(b"data: x\nevent: late\n\n", &[ev("late", "x", "")]);
}

// ---------------------------------------------------------------------------------------------
// Dispatch

#[test]
fn no_dispatch_without_data_and_event_type_is_reset() {
    assert_events(b"event: a\n\ndata: x\n\n", &[msg("x")]);
}

#[test]
fn blank_lines_alone_dispatch_nothing() {
    assert_events(b"\n\n\r\n\r\r", &[]);
}

#[test]
fn several_blank_lines_between_events() {
    assert_events(b"data: a\n\n\n\n\ndata: b\n\n\n", &[msg("a"), msg("b")]);
}

#[test]
fn incomplete_event_at_eof_is_discarded() {
    assert_events(b"data: a\n\ndata: b\n", &[msg("a")]);
}

#[test]
fn incomplete_line_at_eof_is_discarded() {
    assert_events(b"data: a\n\ndata: b", &[msg("a")]);
    assert_events(b"data: a\n\nevent: x\ndata: b\r", &[msg("a")]);
}

#[test]
fn finish_discards_partial_event_before_more_input() {
    let mut p = SseParser::new();
    let mut events = Vec::new();
    p.feed(b"event: x\ndata: partial\ndata: li", |e| events.push(e.to_owned())).unwrap();
    p.finish();
    p.feed(b"ne\n\ndata: next\n\n", |e| events.push(e.to_owned())).unwrap();
    // "ne" is an unknown field; the partial event and its type are gone.
    assert_eq!(events, vec![msg("next")]);
}

#[test]
fn finish_clears_pending_cr() {
    let mut p = SseParser::new();
    let mut events = Vec::new();
    p.feed(b"data: a\r", |e| events.push(e.to_owned())).unwrap();
    p.finish();
    // Without the pending CR this LF is a blank line (no data → nothing), then "b".
    p.feed(b"\ndata: b\n\n", |e| events.push(e.to_owned())).unwrap();
    assert_eq!(events, vec![msg("b")]);
}

#[test]
fn many_events_in_one_feed() {
    let mut input = Vec::new();
    let mut expected = Vec::new();
    for i in 0..500 {
        input.extend_from_slice(format!("data: {i}\n\n").as_bytes());
        expected.push(msg(&i.to_string()));
    }
    assert_eq!(parse_all(&[&input]), expected);
    let pieces: Vec<&[u8]> = input.chunks(5).collect();
    assert_eq!(parse_all(&pieces), expected);
}

// ---------------------------------------------------------------------------------------------
// id

#[test]
fn id_is_reported() {
    let out = assert_events(b"id: 7\ndata: x\n\n", &[ev("message", "x", "7")]);
    assert_eq!(out.last_event_id, "7");
}

#[test]
fn id_persists_across_events() {
    assert_events(
        b"id: 1\ndata: a\n\ndata: b\n\nid: 2\ndata: c\n\n",
        &[ev("message", "a", "1"), ev("message", "b", "1"), ev("message", "c", "2")],
    );
}

#[test]
fn id_without_dispatch_still_sets_buffer() {
    let out = assert_events(b"id: 5\n\ndata: a\n\n", &[ev("message", "a", "5")]);
    assert_eq!(out.last_event_id, "5");
    let out = assert_events(b"id: 9\n\n", &[]);
    assert_eq!(out.last_event_id, "9");
}

#[test]
fn id_with_nul_is_ignored() {
    let out = assert_events(
        b"id: 1\ndata: a\n\nid: x\0y\ndata: b\n\nid: \0\ndata: c\n\n",
        &[ev("message", "a", "1"), ev("message", "b", "1"), ev("message", "c", "1")],
    );
    assert_eq!(out.last_event_id, "1");
}

#[test]
fn empty_id_resets() {
    let out = assert_events(
        b"id: 5\ndata: a\n\nid\ndata: b\n\nid: 6\n\nid:\ndata: c\n\n",
        &[ev("message", "a", "5"), msg("b"), msg("c")],
    );
    assert_eq!(out.last_event_id, "");
}

#[test]
fn id_after_data_applies_to_that_event() {
    assert_events(b"data: a\nid: 7\n\n", &[ev("message", "a", "7")]);
}

#[test]
fn id_keeps_extra_spaces_and_commas() {
    assert_events(b"id:  0,1,106\ndata: a\n\n", &[ev("message", "a", " 0,1,106")]);
}

#[test]
fn id_survives_finish_and_reset() {
    let mut p = SseParser::new();
    let mut events = Vec::new();
    p.feed(b"id: 42\ndata: a\n\ndata: partial", |e| events.push(e.to_owned())).unwrap();
    p.finish();
    assert_eq!(p.last_event_id(), "42");
    p.reset();
    assert_eq!(p.last_event_id(), "42");
    p.feed(b"data: b\n\n", |e| events.push(e.to_owned())).unwrap();
    assert_eq!(events, vec![ev("message", "a", "42"), ev("message", "b", "42")]);
}

// ---------------------------------------------------------------------------------------------
// retry

#[test]
fn retry_with_digits_is_set() {
    let out = assert_events(b"retry: 1500\n\n", &[]);
    assert_eq!(out.retry_ms, Some(1500));
    let out = assert_events(b"retry:0\ndata: x\n\n", &[msg("x")]);
    assert_eq!(out.retry_ms, Some(0));
}

#[test]
fn retry_with_non_digits_is_ignored() {
    for bad in [
        &b"retry: 10a\n"[..],
        b"retry: -1\n",
        b"retry:  10\n",
        b"retry: \n",
        b"retry\n",
        b"retry: 1.5\n",
        b"retry: +5\n",
        b"retry: 10 \n",
        b"retry: \xd9\xa3\n", // ARABIC-INDIC DIGIT THREE: a digit, but not ASCII
    ] {
        let mut input = b"retry: 250\n".to_vec();
        input.extend_from_slice(bad);
        input.extend_from_slice(b"data: x\n\n");
        let out = assert_events(&input, &[msg("x")]);
        assert_eq!(out.retry_ms, Some(250), "{:?}", String::from_utf8_lossy(bad));
    }
    let out = assert_events(b"retry: abc\n\n", &[]);
    assert_eq!(out.retry_ms, None);
}

#[test]
fn retry_last_valid_value_wins() {
    let out = assert_events(b"retry: 100\nretry: 200\n\nretry: 300\n", &[]);
    assert_eq!(out.retry_ms, Some(300));
}

#[test]
fn retry_overflow_saturates() {
    let out = assert_events(b"retry: 99999999999999999999999999\n\n", &[]);
    assert_eq!(out.retry_ms, Some(u64::MAX));
}

// ---------------------------------------------------------------------------------------------
// UTF-8

#[test]
fn invalid_utf8_becomes_replacement_character() {
    assert_events(b"data: a\xffb\n\n", &[msg("a\u{FFFD}b")]);
}

#[test]
fn truncated_sequence_is_one_replacement() {
    assert_events(b"data: \xe2\x82\n\ndata: x\xe2\x82\n\n", &[msg("\u{FFFD}"), msg("x\u{FFFD}")]);
}

#[test]
fn surrogates_and_overlongs_follow_lossy_semantics() {
    let input = b"data: \xed\xa0\x80|\xc0\xaf|\xf4\x90\x80\x80\n\n";
    let expected = String::from_utf8_lossy(&input[6..input.len() - 2]).into_owned();
    assert_eq!(expected, "\u{FFFD}\u{FFFD}\u{FFFD}|\u{FFFD}\u{FFFD}|\u{FFFD}\u{FFFD}\u{FFFD}\u{FFFD}");
    assert_events(input, &[msg(&expected)]);
}

#[test]
fn multibyte_utf8_split_across_feeds_is_intact() {
    // Every split point falls inside one of these characters at some point.
    assert_events("data: é€😀ü\n\n".as_bytes(), &[msg("é€😀ü")]);
    assert_events("event: ✓\nid: ñ\ndata: ∑\n\n".as_bytes(), &[ev("✓", "∑", "ñ")]);
}

#[test]
fn invalid_utf8_in_event_type_and_id() {
    assert_events(b"event: \xfe\nid: \x80\ndata: x\n\n", &[ev("\u{FFFD}", "x", "\u{FFFD}")]);
}

#[test]
fn invalid_utf8_in_field_name_is_unknown_field() {
    assert_events(b"d\xffta: x\n\ndata: y\n\n", &[msg("y")]);
}

// ---------------------------------------------------------------------------------------------
// Size limit

fn too_large(limit: usize) -> Option<SseError> {
    Some(SseError::EventTooLarge { limit })
}

#[test]
fn default_limit_is_8_mib() {
    assert_eq!(DEFAULT_MAX_EVENT_BYTES, 8 * 1024 * 1024);
    assert_eq!(SseParser::new().max_event_bytes(), DEFAULT_MAX_EVENT_BYTES);
    assert_eq!(SseParser::default().max_event_bytes(), DEFAULT_MAX_EVENT_BYTES);
}

#[test]
fn line_at_the_limit_passes_one_over_fails() {
    // "data: abcd" is 10 bytes.
    let ok =
        Outcome { events: vec![msg("abcd")], error: None, comments: 0, last_event_id: String::new(), retry_ms: None };
    assert_outcome_with_limit(10, b"data: abcd\n\n", &ok);
    let err = Outcome { events: vec![], error: too_large(10), ..ok };
    assert_outcome_with_limit(10, b"data: abcde\n\n", &err);
}

#[test]
fn accumulated_data_exceeds_limit_after_earlier_events() {
    // Limit 20. Each "data: 12345" line is 11 bytes and adds 6 bytes of data:
    // line 1: 11 + 0, line 2: 11 + 6, line 3: 11 + 12 = 23 > 20.
    let input = b"data: ok\n\ndata: 12345\ndata: 12345\ndata: 12345\n\ndata: never\n\n";
    let expected = Outcome {
        events: vec![msg("ok")],
        error: too_large(20),
        comments: 0,
        last_event_id: String::new(),
        retry_ms: None,
    };
    assert_outcome_with_limit(20, input, &expected);
}

#[test]
fn limit_is_per_event_not_per_stream() {
    let mut input = Vec::new();
    for _ in 0..100 {
        input.extend_from_slice(b"data: 0123456789\n\n");
    }
    let expected = Outcome {
        events: vec![msg("0123456789"); 100],
        error: None,
        comments: 0,
        last_event_id: String::new(),
        retry_ms: None,
    };
    assert_outcome_with_limit(32, &input, &expected);
}

#[test]
fn endless_line_without_newline_errors() {
    let mut input = b"data: first\n\ndata: ".to_vec();
    input.extend(std::iter::repeat_n(b'a', 200));
    let expected = Outcome {
        events: vec![msg("first")],
        error: too_large(64),
        comments: 0,
        last_event_id: String::new(),
        retry_ms: None,
    };
    assert_outcome_with_limit(64, &input, &expected);
}

#[test]
fn huge_comment_line_also_bounded() {
    let mut input = b":".to_vec();
    input.extend(std::iter::repeat_n(b'c', 100));
    input.extend_from_slice(b"\ndata: x\n\n");
    let expected =
        Outcome { events: vec![], error: too_large(50), comments: 0, last_event_id: String::new(), retry_ms: None };
    assert_outcome_with_limit(50, &input, &expected);
}

#[test]
fn parser_is_poisoned_until_reset() {
    let mut p = SseParser::with_max_event_bytes(16);
    let mut events = Vec::new();
    p.feed(b"id: 3\ndata: a\n\n", |e| events.push(e.to_owned())).unwrap();
    let err = p.feed(b"data: 0123456789abcdef\n\n", |e| events.push(e.to_owned()));
    assert_eq!(err, Err(SseError::EventTooLarge { limit: 16 }));
    assert!(p.is_poisoned());
    assert_eq!(p.feed(b"data: b\n\n", |e| events.push(e.to_owned())), Err(SseError::EventTooLarge { limit: 16 }));
    p.finish();
    assert!(p.is_poisoned(), "finish does not clear the poison");
    p.reset();
    assert!(!p.is_poisoned());
    p.feed(b"data: c\n\n", |e| events.push(e.to_owned())).unwrap();
    assert_eq!(events, vec![ev("message", "a", "3"), ev("message", "c", "3")]);
}

#[test]
fn big_event_under_default_limit_passes_and_over_fails() {
    let payload = "x".repeat(DEFAULT_MAX_EVENT_BYTES - 100);
    let input = format!("event: big\ndata: {payload}\n\n");
    let pieces: Vec<&[u8]> = input.as_bytes().chunks(64 * 1024).collect();
    let events = parse_all(&pieces);
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].event, "big");
    assert_eq!(events[0].data.len(), payload.len());

    let over = format!("data: {payload}\ndata: {}\n\n", "y".repeat(200));
    let out = run(&[over.as_bytes()]);
    assert_eq!(out.events, vec![]);
    assert_eq!(out.error, too_large(DEFAULT_MAX_EVENT_BYTES));
}

#[test]
fn error_message_is_clear() {
    let err = SseError::EventTooLarge { limit: 8 };
    assert_eq!(err.to_string(), "SSE event larger than the 8-byte limit");
}

// ---------------------------------------------------------------------------------------------
// Reset, API

#[test]
fn reset_discards_partial_event_and_pending_cr() {
    let mut p = SseParser::new();
    let mut events = Vec::new();
    p.feed(b"event: x\ndata: a\r", |e| events.push(e.to_owned())).unwrap();
    p.reset();
    p.feed(b"\ndata: b\n\n", |e| events.push(e.to_owned())).unwrap();
    assert_eq!(events, vec![msg("b")]);
}

#[test]
fn reset_keeps_retry_and_comment_count() {
    let mut p = SseParser::new();
    p.feed(b"retry: 10\n: c\n", |_| {}).unwrap();
    p.reset();
    assert_eq!(p.retry_ms(), Some(10));
    assert_eq!(p.comments(), 1);
}

#[test]
fn event_ref_converts_to_owned() {
    let r = SseEventRef { event: "batch", data: "{}", id: "1" };
    let owned = r.to_owned();
    assert_eq!(owned, ev("batch", "{}", "1"));
    assert_eq!(SseEvent::from(r), owned);
    assert_eq!(owned.as_event_ref(), r);
}

#[test]
fn callback_sees_borrowed_event() {
    let mut p = SseParser::new();
    let mut seen = Vec::new();
    p.feed(b"event: e\nid: 1\ndata: d\n\n", |e: SseEventRef<'_>| {
        seen.push((e.event.len(), e.data.to_owned(), e.id.to_owned()));
    })
    .unwrap();
    assert_eq!(seen, vec![(1, "d".to_owned(), "1".to_owned())]);
}

// ---------------------------------------------------------------------------------------------
// Realistic Trigger.dev `.out` streams

const TRIGGER_STREAM: &str = concat!(
    "id: 0,1,106\n",
    "event: batch\n",
    r#"data: {"records":[{"seq_num":0,"timestamp":1712150400000,"body":"{\"data\":{\"type\":\"text-delta\",\"id\":\"msg_1\",\"delta\":\"pong\"},\"id\":\"abc\"}"}],"tail":{"seq_num":1,"timestamp":1712150400500}}"#,
    "\n\n",
    "event: ping\n",
    "data: {\"timestamp\":1712150405000}\n",
    "\n",
    "id: 1,2,212\n",
    "event: batch\n",
    r#"data: {"records":[{"seq_num":1,"timestamp":1712150406000,"headers":[["trigger-control","turn-complete"],["public-access-token","eyJ.x.y"]]},{"seq_num":2,"timestamp":1712150406001,"headers":[["","trim"]],"body":"AAAA"}]}"#,
    "\n\n",
    "data: [DONE]\n",
    "\n",
);

#[test]
fn realistic_trigger_stream() {
    let out = assert_events(
        TRIGGER_STREAM.as_bytes(),
        &[
            ev(
                "batch",
                r#"{"records":[{"seq_num":0,"timestamp":1712150400000,"body":"{\"data\":{\"type\":\"text-delta\",\"id\":\"msg_1\",\"delta\":\"pong\"},\"id\":\"abc\"}"}],"tail":{"seq_num":1,"timestamp":1712150400500}}"#,
                "0,1,106",
            ),
            ev("ping", r#"{"timestamp":1712150405000}"#, "0,1,106"),
            ev(
                "batch",
                r#"{"records":[{"seq_num":1,"timestamp":1712150406000,"headers":[["trigger-control","turn-complete"],["public-access-token","eyJ.x.y"]]},{"seq_num":2,"timestamp":1712150406001,"headers":[["","trim"]],"body":"AAAA"}]}"#,
                "1,2,212",
            ),
            ev("message", "[DONE]", "1,2,212"),
        ],
    );
    // The data of a batch event is one JSON object.
    let batch: serde_json::Value = serde_json::from_str(&out.events[0].data).unwrap();
    assert_eq!(batch["records"][0]["seq_num"], 0);
    assert_eq!(batch["tail"]["seq_num"], 1);
    let body: serde_json::Value = serde_json::from_str(batch["records"][0]["body"].as_str().unwrap()).unwrap();
    assert_eq!(body["data"]["delta"], "pong");
}

#[test]
fn realistic_trigger_stream_with_crlf_and_keepalive_comments() {
    let crlf = TRIGGER_STREAM.replace('\n', "\r\n");
    let with_comments = format!(": connected\r\n\r\n{crlf}: bye\r\n");
    let lf = parse_all(&[TRIGGER_STREAM.as_bytes()]);
    let out = assert_events(with_comments.as_bytes(), &lf);
    assert_eq!(out.comments, 2);
    assert_eq!(out.events.len(), 4);
}

#[test]
fn realistic_stream_cut_mid_event_drops_it() {
    let cut = TRIGGER_STREAM.find("id: 1,2,212").unwrap() + 40;
    let out = assert_events(&TRIGGER_STREAM.as_bytes()[..cut], &parse_all(&[TRIGGER_STREAM.as_bytes()])[..2]);
    // The cut event's `id` was read but the event never dispatched: the last-event-id is still
    // the last delivered event's (a reconnect resumes after what was received).
    assert_eq!(out.last_event_id, "0,1,106");
}

#[test]
fn error_event_type() {
    assert_events(b"event: error\ndata: stream failed\n\n", &[ev("error", "stream failed", "")]);
}

// ---------------------------------------------------------------------------------------------
// Random splits of a long mixed stream

/// xorshift64: tiny, deterministic, good enough to pick split points.
struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// Builds a stream line by line together with the events, comment count, id and retry it must
/// produce, so the random-split test compares against known values rather than only against itself.
struct StreamBuilder {
    rng: XorShift,
    input: Vec<u8>,
    expected: Vec<SseEvent>,
    comments: u64,
    last_id: String,
    retry: Option<u64>,
    previous_was_cr: bool,
}

impl StreamBuilder {
    fn line(&mut self, content: &[u8]) {
        let mut terminator: &[u8] = match self.rng.below(3) {
            0 => b"\n",
            1 => b"\r",
            _ => b"\r\n",
        };
        // A blank line written as LF right after a CR line end would merge into one CRLF.
        if content.is_empty() && self.previous_was_cr && terminator == b"\n" {
            terminator = b"\r\n";
        }
        self.input.extend_from_slice(content);
        self.input.extend_from_slice(terminator);
        self.previous_was_cr = terminator == b"\r";
    }

    fn event(&mut self, n: usize) {
        if self.rng.below(4) == 0 {
            self.line(b": keep-alive");
            self.comments += 1;
        }
        let event_type = match self.rng.below(4) {
            0 => None,
            1 => Some("batch"),
            2 => Some("ping"),
            _ => Some("évènement"),
        };
        if let Some(t) = event_type {
            self.line(format!("event: {t}").as_bytes());
        }
        match self.rng.below(5) {
            0 => {
                let id = format!("{n},1,{}", n * 106);
                self.line(format!("id: {id}").as_bytes());
                self.last_id = id;
            }
            1 => self.line(b"id: bad\0id"),
            2 => {
                self.line(b"id");
                self.last_id.clear();
            }
            _ => {}
        }
        if self.rng.below(6) == 0 {
            let ms = self.rng.below(10_000);
            self.line(format!("retry: {ms}").as_bytes());
            self.retry = Some(ms);
        }
        if self.rng.below(6) == 0 {
            self.line(b"retry: 12x");
        }
        if self.rng.below(5) == 0 {
            self.line(b"x-unknown: field");
        }
        // One in eight events has no data and must not dispatch.
        let lines = if self.rng.below(8) == 0 { 0 } else { 1 + self.rng.below(3) };
        let mut data = String::new();
        for _ in 0..lines {
            let (line, value): (Vec<u8>, String) = match self.rng.below(7) {
                0 => (
                    format!(r#"data: {{"seq_num":{n},"body":"x: y"}}"#).into_bytes(),
                    format!(r#"{{"seq_num":{n},"body":"x: y"}}"#),
                ),
                1 => (b"data:  two spaces".to_vec(), " two spaces".to_owned()),
                2 => (b"data".to_vec(), String::new()),
                3 => (b"data:tight".to_vec(), "tight".to_owned()),
                4 => ("data: héllo €😀".as_bytes().to_vec(), "héllo €😀".to_owned()),
                5 => (b"data: bad\xff\xfe\xe2\x82".to_vec(), "bad\u{FFFD}\u{FFFD}\u{FFFD}".to_owned()),
                _ => (b"data: \xEF\xBB\xBFbom".to_vec(), "\u{FEFF}bom".to_owned()),
            };
            self.line(&line);
            data.push_str(&value);
            data.push('\n');
        }
        self.line(b"");
        if lines > 0 {
            data.pop();
            self.expected.push(SseEvent {
                event: event_type.unwrap_or("message").to_owned(),
                data,
                id: self.last_id.clone(),
            });
        }
    }
}

#[test]
fn random_splits_of_mixed_stream_give_identical_events() {
    let mut b = StreamBuilder {
        rng: XorShift(0x9E37_79B9_7F4A_7C15),
        input: b"\xEF\xBB\xBF".to_vec(),
        expected: Vec::new(),
        comments: 0,
        last_id: String::new(),
        retry: None,
        previous_was_cr: false,
    };
    for n in 0..56 {
        b.event(n);
    }
    // A trailing event without its blank line: must never appear.
    b.input.extend_from_slice(b"event: cut\ndata: never delivered");
    assert!(b.expected.len() >= 40, "stream has {} events", b.expected.len());

    let expected = Outcome {
        events: b.expected.clone(),
        error: None,
        comments: b.comments,
        last_event_id: b.last_id.clone(),
        retry_ms: b.retry,
    };
    assert_eq!(run(&[&b.input]), expected, "whole stream");

    let mut rng = XorShift(0xDEAD_BEEF_CAFE_F00D);
    let max_pieces = [1u64, 2, 3, 5, 8, 16, 64, 512, 4096];
    for pattern in 0..10_000 {
        let max = max_pieces[rng.below(max_pieces.len() as u64) as usize];
        let mut chunks: Vec<&[u8]> = Vec::new();
        let mut rest = &b.input[..];
        while !rest.is_empty() {
            // Zero-length pieces included: empty feeds happen with real sockets too.
            let len = (rng.below(max + 1) as usize).min(rest.len());
            let (piece, tail) = rest.split_at(len);
            chunks.push(piece);
            rest = tail;
        }
        let got = run(&chunks);
        assert_eq!(got, expected, "pattern {pattern} (max piece {max})");
    }
}

// --- the last-event-id comes from dispatched events only ----------------------------------------
// (WPT eventsource `format-data-before-final-empty-line`; LaunchDarkly sse-contract-tests
// "discards partial messages on retry".)

/// A stream that ends after an event's `id` but before its blank line: the event is not delivered,
/// and its id is not the last-event-id either (a reconnect must not claim it was received).
#[test]
fn an_undispatched_events_id_is_not_the_last_event_id() {
    let input = b"id: 1\ndata: first\n\nid: 2\ndata: second";
    for (label, pieces) in split_patterns(input) {
        let out = run(&pieces);
        assert_eq!(out.events, vec![ev("message", "first", "1")], "{label}");
        assert_eq!(out.last_event_id, "1", "{label}");
    }
}

/// The same across a reconnect: `reset` drops the partial event and keeps the dispatched id, and
/// the next connection's events carry on from it.
#[test]
fn reset_discards_a_partial_events_id() {
    let mut p = SseParser::new();
    let mut events = Vec::new();
    p.feed(b"id: 10\ndata: a\n\nid: 11\ndata: partial\n", |e| events.push(e.to_owned())).unwrap();
    assert_eq!(p.last_event_id(), "10");
    p.reset();
    assert_eq!(p.last_event_id(), "10");
    p.feed(b"data: b\n\n", |e| events.push(e.to_owned())).unwrap();
    assert_eq!(events, vec![ev("message", "a", "10"), ev("message", "b", "10")]);
}

/// An event with an `id` and no data dispatches nothing, yet sets the last-event-id (the spec sets
/// it before looking at the data buffer).
#[test]
fn an_id_only_event_sets_the_last_event_id() {
    for (label, pieces) in split_patterns(b"id: 7\n\n") {
        let out = run(&pieces);
        assert!(out.events.is_empty(), "{label}");
        assert_eq!(out.last_event_id, "7", "{label}");
    }
    // ... while a final empty line that never came does not.
    let out = run(&[b"data: x\n\nid: 8\n"]);
    assert_eq!(out.last_event_id, "");
}
