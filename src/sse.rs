//! An incremental Server-Sent Events parser (bytes → events), following the WHATWG
//! "event stream interpretation" rules.
//!
//! The `.out` subscription of a chat session is an SSE stream (PROTOCOL.md §3.1). Bytes come off the
//! socket in whatever pieces the network and the HTTP client hand us, so [`SseParser::feed`] accepts
//! slices split anywhere — mid-line, mid-UTF-8 character, between the CR and the LF of a CRLF — and
//! produces exactly the events that feeding the whole stream at once would. The parser does no I/O
//! and never blocks, which is what lets it be unit-tested with vectors and fuzzed.
//!
//! # Rules implemented
//!
//! - **BOM**: one leading UTF-8 byte order mark (`EF BB BF`) is dropped, even when it arrives split
//!   across feeds. Only at the start of the stream (or after [`SseParser::reset`]); a BOM anywhere
//!   else is ordinary content.
//! - **Line ends**: CR, LF and CRLF. A CR that ends one feed followed by an LF starting the next is
//!   one line end, not two (otherwise a split CRLF would look like a blank line and dispatch early).
//! - **Comments**: a line starting with `:` is skipped; [`SseParser::comments`] counts them, because
//!   servers use comments as keep-alives and a caller may want to see that the line is alive.
//! - **Fields**: `name: value`. Exactly one space after the colon is stripped; a line without a colon
//!   is a field name with an empty value (so a bare `data` line appends an empty data line).
//!   - `event` sets the event type of the event being built;
//!   - `data` appends the value plus `\n` to the data buffer; the final `\n` is removed at dispatch,
//!     so multi-line data comes out joined by `\n`;
//!   - `id` sets the last-event-id buffer, unless the value contains NUL (then the line is
//!     ignored); the buffer becomes the last-event-id when its event is dispatched (also an event
//!     without data), and is given up if the stream ends first, so the last-event-id never names
//!     an event that was not received. The last-event-id persists across events and across
//!     [`SseParser::reset`]: it is connection-independent state that a reconnect sends back as
//!     `Last-Event-ID`. An empty `id` clears it;
//!   - `retry` sets [`SseParser::retry_ms`] if the value is a non-empty string of ASCII digits
//!     (values beyond `u64` saturate);
//!   - any other field is ignored.
//! - **Dispatch** happens on a blank line. If no `data` line was seen the event is dropped silently
//!   (its event type is reset too). The event type defaults to `message`.
//! - **End of stream**: an event without its terminating blank line is discarded
//!   ([`SseParser::finish`]), so a connection cut mid-event never yields a truncated event.
//! - **Encoding**: each line is decoded only once it is complete, with `String::from_utf8_lossy`
//!   semantics (invalid sequences become U+FFFD). A character split across feeds therefore never
//!   produces U+FFFD. Decoding line by line is equivalent to decoding the whole stream first, because
//!   CR and LF can never be part of a multi-byte UTF-8 sequence.
//!
//! # Size limit
//!
//! A hostile or broken server could send a single endless line or endless `data:` lines. The parser
//! bounds what one event may buffer: when the bytes of the line being read plus the data already
//! collected for the current event exceed the limit ([`DEFAULT_MAX_EVENT_BYTES`] unless set with
//! [`SseParser::with_max_event_bytes`]), `feed` returns [`SseError::EventTooLarge`]. The check is made
//! on the same quantities whatever the split of the input, so whether (and after which events) the
//! error occurs does not depend on how the bytes were chunked.
//!
//! After that error the parser is **poisoned**: the stream can no longer be followed reliably (we do
//! not know where the oversized event ends without buffering it), so every later `feed` returns the
//! same error without consuming anything until [`SseParser::reset`] is called for a new connection.
//! Events dispatched before the offending line, in the same `feed` call, were delivered.
//!
//! # Allocation
//!
//! Complete lines are parsed straight out of the caller's slice; only a line that straddles two feeds
//! is copied into a reusable line buffer. The data, event type and id buffers keep their capacity from
//! one event to the next, so a steady stream of events allocates nothing. Capacity beyond
//! [`RETAINED_CAPACITY`] is released after a large event so that one big event does not pin megabytes
//! in every idle chat.

use std::fmt;

/// Default bound on one event (pending line + data buffer): large enough for any realistic batch of
/// records, small enough that a runaway stream cannot exhaust memory.
pub const DEFAULT_MAX_EVENT_BYTES: usize = 8 * 1024 * 1024;

/// Buffer capacity kept across events. Anything larger is given back after the event that needed it,
/// because an idle chat should cost kilobytes, not the size of the largest event it ever received.
pub const RETAINED_CAPACITY: usize = 64 * 1024;

const BOM: [u8; 3] = [0xEF, 0xBB, 0xBF];

/// A dispatched event, borrowed from the parser's buffers for the duration of the callback.
///
/// Borrowing rather than handing out owned strings is what keeps the hot path allocation-free; call
/// [`SseEventRef::to_owned`] to keep an event past the callback.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SseEventRef<'a> {
    /// The event type; `"message"` when the event had no (or an empty) `event` field.
    pub event: &'a str,
    /// The `data` lines joined by `\n`.
    pub data: &'a str,
    /// The last-event-id in force when the event was dispatched (possibly set by an earlier event).
    pub id: &'a str,
}

/// An owned copy of a dispatched event.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SseEvent {
    /// The event type; `"message"` by default.
    pub event: String,
    /// The `data` lines joined by `\n`.
    pub data: String,
    /// The last-event-id in force when the event was dispatched.
    pub id: String,
}

impl SseEvent {
    /// Builds an event from its parts; mostly useful to write expected values in tests.
    pub fn new(event: impl Into<String>, data: impl Into<String>, id: impl Into<String>) -> Self {
        SseEvent { event: event.into(), data: data.into(), id: id.into() }
    }

    /// Borrows this event in the form the parser hands to callbacks, so code written against
    /// [`SseEventRef`] can also consume stored events.
    pub fn as_event_ref(&self) -> SseEventRef<'_> {
        SseEventRef { event: &self.event, data: &self.data, id: &self.id }
    }
}

impl SseEventRef<'_> {
    /// Copies the event out of the parser's buffers.
    #[allow(clippy::wrong_self_convention)] // `&self` is part of the published API.
    pub fn to_owned(&self) -> SseEvent {
        SseEvent { event: self.event.to_owned(), data: self.data.to_owned(), id: self.id.to_owned() }
    }
}

impl From<SseEventRef<'_>> for SseEvent {
    fn from(event: SseEventRef<'_>) -> Self {
        event.to_owned()
    }
}

/// Errors from [`SseParser::feed`].
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum SseError {
    /// One event (its pending line plus its data buffer) grew beyond the configured limit. The parser
    /// is poisoned until [`SseParser::reset`].
    #[error("SSE event larger than the {limit}-byte limit")]
    EventTooLarge {
        /// The limit in force, in bytes.
        limit: usize,
    },
}

/// Where we are in recognising the optional byte order mark at the start of a stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum BomState {
    /// At stream start; this many bytes of the BOM have been seen (and held back) so far.
    Pending(u8),
    /// The BOM was stripped, or the stream started with something else.
    Done,
}

/// The state the field rules act on, kept apart from the line buffer so that a line borrowed from
/// the line buffer can be processed without copying it out first.
#[derive(Default)]
struct Fields {
    data: String,
    event_type: String,
    /// The last-event-id string: what the last *dispatched* event set. A reconnect sends it back.
    last_event_id: String,
    /// The spec's last-event-id buffer: set by `id` lines, made the last-event-id string when the
    /// event is dispatched, and given up when the stream ends first (the event never arrived).
    id_buffer: String,
    /// `id_buffer` differs from `last_event_id`.
    id_pending: bool,
    retry_ms: Option<u64>,
    comments: u64,
}

/// An incremental SSE parser. See the [module documentation](self) for the rules.
///
/// Feed it bytes as they arrive with [`feed`](Self::feed); call [`finish`](Self::finish) at end of
/// stream and [`reset`](Self::reset) before reading a new connection.
pub struct SseParser {
    /// Bytes of a line that started in an earlier feed and has not ended yet. Empty otherwise (a
    /// pending line is never empty, so emptiness doubles as "no pending line").
    line: Vec<u8>,
    fields: Fields,
    /// The previous feed ended with a CR: an LF at the start of the next feed belongs to it.
    pending_cr: bool,
    bom: BomState,
    max_event_bytes: usize,
    poisoned: bool,
}

impl Default for SseParser {
    fn default() -> Self {
        Self::new()
    }
}

/// Deliberately prints sizes, not contents: event data carries access tokens (the `turn-complete`
/// control record holds a fresh JWT), and a `{:?}` in a log line must not leak them.
impl fmt::Debug for SseParser {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SseParser")
            .field("pending_line_bytes", &self.line.len())
            .field("data_bytes", &self.fields.data.len())
            .field("last_event_id_bytes", &self.fields.last_event_id.len())
            .field("retry_ms", &self.fields.retry_ms)
            .field("comments", &self.fields.comments)
            .field("max_event_bytes", &self.max_event_bytes)
            .field("poisoned", &self.poisoned)
            .finish_non_exhaustive()
    }
}

impl SseParser {
    /// A parser with the default event size limit ([`DEFAULT_MAX_EVENT_BYTES`]).
    pub fn new() -> Self {
        Self::with_max_event_bytes(DEFAULT_MAX_EVENT_BYTES)
    }

    /// A parser whose events (pending line + data buffer) may not exceed `limit` bytes.
    pub fn with_max_event_bytes(limit: usize) -> Self {
        SseParser {
            line: Vec::new(),
            fields: Fields::default(),
            pending_cr: false,
            bom: BomState::Pending(0),
            max_event_bytes: limit,
            poisoned: false,
        }
    }

    /// Parses the next piece of the stream, calling `on_event` for every event it completes.
    ///
    /// The event passed to `on_event` borrows the parser's buffers and is only valid during the call.
    /// On [`SseError::EventTooLarge`] the events completed before the offending line have been
    /// delivered, and the parser stays poisoned (every call returns the error) until
    /// [`reset`](Self::reset).
    pub fn feed(&mut self, bytes: &[u8], mut on_event: impl FnMut(SseEventRef<'_>)) -> Result<(), SseError> {
        if self.poisoned {
            return Err(self.too_large());
        }
        let mut rest = bytes;

        if let BomState::Pending(mut matched) = self.bom {
            // Byte by byte, but at most three bytes per stream.
            loop {
                let Some(&byte) = rest.first() else {
                    self.bom = BomState::Pending(matched);
                    return Ok(());
                };
                if byte == BOM[usize::from(matched)] {
                    matched += 1;
                    rest = &rest[1..];
                    if usize::from(matched) == BOM.len() {
                        break;
                    }
                } else {
                    // Not a BOM after all: the bytes held back are the start of the first line.
                    // Nothing else has been buffered yet, so the line buffer is empty here.
                    self.line.extend_from_slice(&BOM[..usize::from(matched)]);
                    break;
                }
            }
            self.bom = BomState::Done;
        }

        if self.pending_cr {
            match rest.first() {
                None => return Ok(()),
                Some(&b'\n') => rest = &rest[1..],
                Some(_) => {}
            }
            self.pending_cr = false;
        }

        while let Some(end) = find_line_end(rest) {
            let content = &rest[..end];
            let terminator = rest[end];
            rest = &rest[end + 1..];

            if self.line.is_empty() {
                // Fast path: the whole line is in this feed; parse it in place.
                self.check_size(content.len())?;
                self.fields.process_line(content, &mut on_event);
            } else {
                self.check_size(self.line.len() + content.len())?;
                self.line.extend_from_slice(content);
                self.fields.process_line(&self.line, &mut on_event);
                clear_bytes(&mut self.line);
            }

            if terminator == b'\r' {
                match rest.first() {
                    Some(&b'\n') => rest = &rest[1..],
                    Some(_) => {}
                    None => self.pending_cr = true,
                }
            }
        }

        if !rest.is_empty() {
            self.check_size(self.line.len() + rest.len())?;
            self.line.extend_from_slice(rest);
        }
        Ok(())
    }

    /// Ends the stream: discards the incomplete event (a trailing event without its blank line must
    /// not be delivered), the pending line and a pending CR.
    ///
    /// The last-event-id, retry and comment count are kept. Feeding after `finish` continues the same
    /// logical stream (no BOM is expected); call [`reset`](Self::reset) for a new connection.
    pub fn finish(&mut self) {
        clear_bytes(&mut self.line);
        clear_string(&mut self.fields.data);
        clear_string(&mut self.fields.event_type);
        // An `id` of an event that was never dispatched names an event the client never received.
        if self.fields.id_pending {
            self.fields.id_buffer.clone_from(&self.fields.last_event_id);
            self.fields.id_pending = false;
        }
        self.pending_cr = false;
        if let BomState::Pending(_) = self.bom {
            // A stream that ended inside its BOM: the held-back bytes were an incomplete line.
            self.bom = BomState::Pending(0);
        }
    }

    /// Prepares for a new connection: discards everything buffered, expects a BOM again and clears
    /// the poisoned state.
    ///
    /// Keeps the last-event-id (a reconnect sends it back as `Last-Event-ID`), the retry time and the
    /// comment count, which describe the session rather than one connection.
    pub fn reset(&mut self) {
        self.finish();
        self.bom = BomState::Pending(0);
        self.poisoned = false;
    }

    /// The last-event-id buffer: the value of the most recent valid `id` field, or `""`.
    pub fn last_event_id(&self) -> &str {
        &self.fields.last_event_id
    }

    /// The reconnection time the server asked for with `retry`, if it ever sent a valid one.
    pub fn retry_ms(&self) -> Option<u64> {
        self.fields.retry_ms
    }

    /// How many comment lines have been seen (since the parser was created; `reset` keeps it).
    pub fn comments(&self) -> u64 {
        self.fields.comments
    }

    /// The event size limit in force, in bytes.
    pub fn max_event_bytes(&self) -> usize {
        self.max_event_bytes
    }

    /// Whether an [`SseError::EventTooLarge`] has made the parser refuse input until `reset`.
    pub fn is_poisoned(&self) -> bool {
        self.poisoned
    }

    fn too_large(&self) -> SseError {
        SseError::EventTooLarge { limit: self.max_event_bytes }
    }

    /// Enforces the event size bound for a line (complete or partial) of `line_bytes` bytes. On
    /// failure, poisons the parser and frees what the oversized event had buffered.
    #[inline]
    fn check_size(&mut self, line_bytes: usize) -> Result<(), SseError> {
        // Saturating: `line_bytes` comes from slice lengths, but the sum must not wrap on a 32-bit
        // target with a huge limit.
        if line_bytes.saturating_add(self.fields.data.len()) <= self.max_event_bytes {
            return Ok(());
        }
        self.poisoned = true;
        self.pending_cr = false;
        self.line = Vec::new();
        self.fields.data = String::new();
        self.fields.event_type.clear();
        Err(self.too_large())
    }
}

impl Fields {
    /// Applies one complete line (without its terminator) to the event being built.
    #[inline]
    fn process_line(&mut self, line: &[u8], on_event: &mut impl FnMut(SseEventRef<'_>)) {
        let Some(&first) = line.first() else {
            self.dispatch(on_event);
            return;
        };
        if first == b':' {
            self.comments += 1;
            return;
        }
        let (name, value) = match line.iter().position(|&b| b == b':') {
            Some(colon) => {
                let value = &line[colon + 1..];
                let value = match value.first() {
                    Some(&b' ') => &value[1..],
                    _ => value,
                };
                (&line[..colon], value)
            }
            None => (line, &[][..]),
        };
        // Comparing raw bytes is the same as comparing decoded names: the field names are ASCII,
        // and an invalid byte decodes to U+FFFD, which matches none of them.
        match name {
            b"data" => {
                push_lossy(&mut self.data, value);
                self.data.push('\n');
            }
            b"event" => {
                self.event_type.clear();
                push_lossy(&mut self.event_type, value);
            }
            b"id" if !value.contains(&0) => {
                self.id_buffer.clear();
                push_lossy(&mut self.id_buffer, value);
                self.id_pending = true;
            }
            b"retry" if !value.is_empty() && value.iter().all(u8::is_ascii_digit) => {
                let ms = value
                    .iter()
                    .fold(0u64, |acc, &digit| acc.saturating_mul(10).saturating_add(u64::from(digit - b'0')));
                self.retry_ms = Some(ms);
            }
            // Unknown fields, an `id` containing NUL and a `retry` that is not all digits.
            _ => {}
        }
    }

    fn dispatch(&mut self, on_event: &mut impl FnMut(SseEventRef<'_>)) {
        // The spec's first dispatch step, also for an event without data.
        if self.id_pending {
            self.last_event_id.clone_from(&self.id_buffer);
            self.id_pending = false;
        }
        if self.data.is_empty() {
            self.event_type.clear();
            return;
        }
        // Non-empty data always ends with the '\n' appended after each data line.
        self.data.pop();
        let event = if self.event_type.is_empty() { "message" } else { &self.event_type };
        on_event(SseEventRef { event, data: &self.data, id: &self.last_event_id });
        clear_string(&mut self.data);
        clear_string(&mut self.event_type);
    }
}

/// Finds the first CR or LF.
///
/// Lines of event data are long (a batch of records is one JSON line), so this is the hot loop. The
/// chunked OR-fold has no early exit, which lets the compiler vectorise it; the exact position is
/// then found inside the one chunk that hit.
#[inline]
fn find_line_end(haystack: &[u8]) -> Option<usize> {
    const CHUNK: usize = 32;
    let is_end = |b: &u8| *b == b'\n' || *b == b'\r';
    let mut chunks = haystack.chunks_exact(CHUNK);
    let mut offset = 0;
    for chunk in &mut chunks {
        let hit = chunk.iter().fold(false, |acc, &b| acc | (b == b'\n') | (b == b'\r'));
        if hit {
            return chunk.iter().position(is_end).map(|i| offset + i);
        }
        offset += CHUNK;
    }
    chunks.remainder().iter().position(is_end).map(|i| offset + i)
}

/// Appends `bytes` decoded as UTF-8 with `String::from_utf8_lossy` semantics, without the
/// intermediate allocation `from_utf8_lossy` makes for invalid input.
#[inline]
fn push_lossy(dst: &mut String, bytes: &[u8]) {
    match std::str::from_utf8(bytes) {
        Ok(text) => dst.push_str(text),
        Err(_) => {
            for chunk in bytes.utf8_chunks() {
                dst.push_str(chunk.valid());
                if !chunk.invalid().is_empty() {
                    dst.push(char::REPLACEMENT_CHARACTER);
                }
            }
        }
    }
}

/// Clears a buffer for reuse, giving back capacity beyond [`RETAINED_CAPACITY`].
#[inline]
fn clear_bytes(buf: &mut Vec<u8>) {
    buf.clear();
    if buf.capacity() > RETAINED_CAPACITY {
        buf.shrink_to(RETAINED_CAPACITY);
    }
}

/// [`clear_bytes`] for strings.
#[inline]
fn clear_string(buf: &mut String) {
    buf.clear();
    if buf.capacity() > RETAINED_CAPACITY {
        buf.shrink_to(RETAINED_CAPACITY);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn collect(parser: &mut SseParser, bytes: &[u8]) -> Vec<SseEvent> {
        let mut out = Vec::new();
        parser.feed(bytes, |e| out.push(e.to_owned())).expect("feed");
        out
    }

    #[test]
    fn find_line_end_matches_naive_search() {
        let mut buf = vec![b'x'; 200];
        assert_eq!(find_line_end(&buf), None);
        for pos in 0..buf.len() {
            for end in [b'\n', b'\r'] {
                buf[pos] = end;
                for start in 0..pos.min(40) {
                    assert_eq!(find_line_end(&buf[start..]), Some(pos - start));
                }
                buf[pos] = b'x';
            }
        }
    }

    #[test]
    fn push_lossy_matches_from_utf8_lossy() {
        let cases: &[&[u8]] =
            &[b"plain", b"", b"\xff", b"a\xe2\x82b", b"\xf0\x9f\x98", b"\xc3\xa9\xff\xfe\xe2\x82\xac", b"\xed\xa0\x80"];
        for case in cases {
            let mut s = String::new();
            push_lossy(&mut s, case);
            assert_eq!(s, String::from_utf8_lossy(case));
        }
    }

    #[test]
    fn buffers_keep_small_capacity_and_release_large() {
        let mut p = SseParser::new();
        collect(&mut p, b"data: hello\n\n");
        let small = p.fields.data.capacity();
        assert!(small > 0, "capacity is reused across events");
        collect(&mut p, b"data: hi\n\n");
        assert_eq!(p.fields.data.capacity(), small);

        let big = vec![b'a'; 2 * RETAINED_CAPACITY];
        let mut stream = b"data: ".to_vec();
        stream.extend_from_slice(&big);
        stream.extend_from_slice(b"\n\n");
        let events = collect(&mut p, &stream);
        assert_eq!(events.len(), 1);
        assert!(p.fields.data.capacity() <= RETAINED_CAPACITY);
    }

    #[test]
    fn spanning_line_uses_line_buffer_only_when_needed() {
        let mut p = SseParser::new();
        assert!(collect(&mut p, b"data: ab").is_empty());
        assert_eq!(p.line, b"data: ab");
        let events = collect(&mut p, b"c\n\ndata: x\n");
        assert!(p.line.is_empty());
        assert_eq!(events, vec![SseEvent::new("message", "abc", "")]);
    }

    #[test]
    fn debug_does_not_print_contents() {
        let mut p = SseParser::new();
        collect(&mut p, b"id: secret-id\ndata: secret-token");
        let shown = format!("{p:?}");
        assert!(!shown.contains("secret"), "{shown}");
    }

    #[test]
    fn poisoned_until_reset() {
        let mut p = SseParser::with_max_event_bytes(8);
        let err = p.feed(b"data: 123456789\n\n", |_| {}).unwrap_err();
        assert_eq!(err, SseError::EventTooLarge { limit: 8 });
        assert!(p.is_poisoned());
        assert_eq!(p.feed(b"data: a\n\n", |_| {}), Err(err));
        p.reset();
        assert!(!p.is_poisoned());
        assert_eq!(collect(&mut p, b"data: a\n\n"), vec![SseEvent::new("message", "a", "")]);
    }
}
