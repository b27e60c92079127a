//! records — S2 batches of the session's `.out` stream → typed stream items, with cursor and dedup.
//!
//! Pure and I/O-free: the SSE layer hands over each dispatched event as `(event type, data)` and
//! [`Decoder::decode_event`] appends what it yields to a caller-owned `Vec`, so the reader thread can
//! reuse one buffer for the whole connection. The rules are those of PROTOCOL.md sections 3.1–3.3:
//!
//! - `event: batch` carries `{"records":[...]}`; each record is a *command* record (first header has
//!   an empty name: skipped), a *control* record (a `trigger-control` header) or a *data* record
//!   (body = `{"data": <UIMessageChunk>, "id": "<part id>"}`). Legacy agents send controls in-band as
//!   `trigger:*` data chunks; both forms come out as [`StreamItem::Control`].
//! - Every record, whatever its kind and even when it cannot be decoded, moves the cursor (the
//!   `Last-Event-ID` of the next reconnect) to its `seq_num`, so a reconnect never replays it.
//! - Records at or behind the cursor, and data records whose part id was seen among the last
//!   [`DEDUP_WINDOW`] ids, are dropped as duplicates.
//!
//! Nothing here panics on hostile input, and no error message quotes input text: records can carry
//! tokens, and error messages travel to logs and across the C ABI.
//!
//! Speed: a busy stream is almost only `text-delta` records, each a JSON text inside a JSON string
//! inside a batch. A strict hand-written reader (`fast_batch`, `fast_data_body`) takes the
//! shapes such streams consist of and hands everything else — and anything malformed — to
//! serde_json, which stays the reference: both give the same items (tests and the fuzz target check
//! it). Chunks are not built into `serde_json::Value`s: a [`ChunkRecord`] keeps the chunk's JSON text
//! as sent plus the fields the hot path needs, in one allocation.

use std::borrow::Cow;
use std::collections::{HashSet, VecDeque};
use std::fmt;
use std::hash::{BuildHasher, BuildHasherDefault, Hasher, RandomState};

use serde::de::value::{MapAccessDeserializer, SeqAccessDeserializer};
use serde::de::{Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::{Map, Value};

use crate::secret::Secret;

/// How many part ids the decoder remembers for dedup; the official client keeps the same number.
///
/// The window only has to cover what a reconnect or a retried append can re-deliver, so it is a
/// bound on memory for connections that live across many turns, not a correctness knob.
pub const DEDUP_WINDOW: usize = 5000;

/// Header naming the control subtype of a control record.
pub const TRIGGER_CONTROL_HEADER: &str = "trigger-control";
/// Sibling header of `turn-complete`: a refreshed public access token.
pub const PUBLIC_ACCESS_TOKEN_HEADER: &str = "public-access-token";
/// Sibling header of `turn-complete`: highest `.in` seq the agent committed this turn.
pub const SESSION_IN_EVENT_ID_HEADER: &str = "session-in-event-id";
/// Sibling header of `turn-complete`: highest `.in` seq the agent consumed, unclamped.
pub const SESSION_IN_CONSUMED_ID_HEADER: &str = "session-in-consumed-id";
/// Sibling header of `turn-complete`: `"true"` when the session was closed during the turn.
pub const SESSION_CLOSED_HEADER: &str = "session-closed";
/// Sibling header of `turn-complete` and `session-closed`: the close reason.
pub const SESSION_CLOSED_REASON_HEADER: &str = "session-closed-reason";

/// One item decoded from the `.out` stream, in stream order.
#[derive(Debug, Clone, PartialEq)]
pub enum StreamItem {
    /// A data record: one UIMessageChunk.
    Chunk(ChunkRecord),
    /// A control record (header form) or a legacy in-band control chunk.
    Control { seq_num: u64, timestamp: i64, control: Control },
    /// `event: ping` (keep-alive). `timestamp` is `None` when the data held no integer timestamp.
    Ping { timestamp: Option<i64> },
    /// `data: [DONE]`: the long-poll window ended normally.
    Done,
    /// `event: error`: the server reported a failed stream; the client reconnects.
    ServerError { message: String },
    /// A record (or a whole batch) that could not be decoded. The cursor still advanced past it if
    /// its seq_num was known. The message never quotes the input.
    DecodeError { seq_num: Option<u64>, message: String },
}

/// A data record: one UIMessageChunk, kept as the JSON text it arrived as.
///
/// The chunk is not turned into a [`Value`]: [`ChunkRecord::json`] is the object exactly as the
/// writer sent it (the body string unescaped, nothing else touched: key order, whitespace, escapes
/// and unknown fields all pass through), and the few fields the hot path needs are pre-read:
/// [`ChunkRecord::chunk_type`], and for `text-delta` / `reasoning-delta` the delta text and id
/// ([`ChunkRecord::delta`], [`ChunkRecord::text_delta`]). Callers that need the whole object parse it
/// on demand with [`ChunkRecord::chunk_value`]; the decoder has checked that it parses.
///
/// All of it lives in one allocation. Equality compares the chunks as JSON values, so two records
/// whose JSON differs only in key order or whitespace are equal.
#[derive(Clone)]
pub struct ChunkRecord {
    pub seq_num: u64,
    pub timestamp: i64,
    /// The chunk JSON, then whichever [`Seg`]s are not substrings of it (escaped strings, the part
    /// id): [`ChunkRecord::into_json`] is a truncation.
    buf: String,
    json_len: usize,
    /// `start..end` in `buf` of each [`Seg`].
    spans: [(usize, usize); SEGMENTS],
    /// Bit `1 << seg` is set when segment `seg` is present.
    present: u8,
    /// Set when the chunk's type is `text-delta` or `reasoning-delta`.
    kind: Option<DeltaKind>,
}

/// The optional text fields of a [`ChunkRecord`], each a span of its buffer.
#[derive(Clone, Copy)]
#[repr(usize)]
enum Seg {
    /// The envelope's `id`, when it was a string.
    PartId,
    /// `chunk["type"]`, when it was a string.
    Type,
    /// `chunk["id"]` of a delta chunk that [`ChunkRecord::text_delta`] describes completely.
    DeltaId,
    /// `chunk["delta"]` of a delta chunk, when it was a string.
    Delta,
}

const SEGMENTS: usize = 4;

/// Where `inner` starts inside `outer`, when it is a slice of it.
fn offset_in(outer: &str, inner: &str) -> Option<usize> {
    let outer_start = outer.as_ptr() as usize;
    let inner_start = inner.as_ptr() as usize;
    let offset = inner_start.checked_sub(outer_start)?;
    (offset + inner.len() <= outer.len()).then_some(offset)
}

/// Which part a `text-delta` or `reasoning-delta` chunk grows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DeltaKind {
    /// `text-delta`: a `text` part.
    Text,
    /// `reasoning-delta`: a `reasoning` part.
    Reasoning,
}

impl DeltaKind {
    /// The kind of a chunk type: `Some` for `text-delta` and `reasoning-delta` only.
    pub fn from_chunk_type(chunk_type: &str) -> Option<DeltaKind> {
        match chunk_type {
            "text-delta" => Some(DeltaKind::Text),
            "reasoning-delta" => Some(DeltaKind::Reasoning),
            _ => None,
        }
    }

    /// The chunk type this kind comes from.
    pub fn chunk_type(self) -> &'static str {
        match self {
            DeltaKind::Text => "text-delta",
            DeltaKind::Reasoning => "reasoning-delta",
        }
    }
}

/// A `text-delta` or `reasoning-delta` chunk reduced to what assembling it depends on.
///
/// Only handed out (by [`ChunkRecord::text_delta`]) when these three fields say everything: the
/// chunk's `id` is a string, its `delta` a string or absent (`""` here), and it has no non-null
/// `providerMetadata`. Other fields do not matter to assembly and may be present.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TextDelta<'a> {
    pub kind: DeltaKind,
    pub id: &'a str,
    pub delta: &'a str,
}

impl ChunkRecord {
    /// A record for the chunk object `json` (JSON text), read the way the decoder reads one.
    ///
    /// Errors when `json` is not a JSON object. `json` is kept as given.
    pub fn from_json(
        seq_num: u64,
        timestamp: i64,
        part_id: Option<&str>,
        json: &str,
    ) -> Result<ChunkRecord, serde_json::Error> {
        let scan = Scan::new(json)?;
        Ok(ChunkRecord::build(seq_num, timestamp, json, part_id, &scan.fields()))
    }

    /// A record for the chunk object `chunk` (serialized compactly); `None` when it is not an object.
    pub fn from_value(seq_num: u64, timestamp: i64, part_id: Option<&str>, chunk: &Value) -> Option<ChunkRecord> {
        if !chunk.is_object() {
            return None;
        }
        ChunkRecord::from_json(seq_num, timestamp, part_id, &chunk.to_string()).ok()
    }

    /// Copies `json` and the fields; a field that is a slice of `json` (a string without escapes, as
    /// the fast readers return them) is not copied again, just pointed at.
    fn build(seq_num: u64, timestamp: i64, json: &str, part_id: Option<&str>, fields: &Fields<'_>) -> ChunkRecord {
        let segments = [part_id, fields.chunk_type, fields.delta_id, fields.delta];
        let within = |s: &str| s.is_empty() || offset_in(json, s).is_some();
        let extra: usize = segments.iter().flatten().filter(|s| !within(s)).map(|s| s.len()).sum();
        let mut buf = String::with_capacity(json.len() + extra);
        buf.push_str(json);
        let mut spans = [(0, 0); SEGMENTS];
        let mut present = 0u8;
        for (i, segment) in segments.iter().enumerate() {
            let Some(s) = segment else { continue };
            present |= 1 << i;
            spans[i] = match offset_in(json, s) {
                Some(start) => (start, start + s.len()),
                None if s.is_empty() => (0, 0),
                None => {
                    let start = buf.len();
                    buf.push_str(s);
                    (start, buf.len())
                }
            };
        }
        ChunkRecord { seq_num, timestamp, buf, json_len: json.len(), spans, present, kind: fields.kind }
    }

    #[inline]
    fn seg(&self, seg: Seg) -> Option<&str> {
        let i = seg as usize;
        if self.present & (1 << i) == 0 {
            return None;
        }
        let (start, end) = self.spans[i];
        self.buf.get(start..end)
    }

    /// The UIMessageChunk object as JSON text, exactly as the writer sent it.
    #[inline]
    pub fn json(&self) -> &str {
        &self.buf[..self.json_len]
    }

    /// [`ChunkRecord::json`], taken without copying.
    pub fn into_json(self) -> String {
        let mut buf = self.buf;
        buf.truncate(self.json_len);
        buf
    }

    /// The chunk parsed into a [`Value`] (an object). Parses on every call.
    pub fn chunk_value(&self) -> Value {
        // The decoder and the constructors only build records whose JSON parses as an object.
        serde_json::from_str(self.json()).unwrap_or_else(|_| Value::Object(Map::new()))
    }

    /// The body's `id` (the writer's part id), when it was a string.
    #[inline]
    pub fn part_id(&self) -> Option<&str> {
        self.seg(Seg::PartId)
    }

    /// `chunk["type"]`, or `""` when absent or not a string.
    #[inline]
    pub fn chunk_type(&self) -> &str {
        self.seg(Seg::Type).unwrap_or("")
    }

    /// `chunk["type"]` when it is a string.
    #[inline]
    pub(crate) fn chunk_type_if_string(&self) -> Option<&str> {
        self.seg(Seg::Type)
    }

    /// For `text-delta` and `reasoning-delta` chunks: `chunk["delta"]`, when it is a string.
    #[inline]
    pub fn delta(&self) -> Option<&str> {
        self.kind?;
        self.seg(Seg::Delta)
    }

    /// For `text-delta` and `reasoning-delta` chunks whose assembly depends on nothing but their
    /// kind, id and delta (see [`TextDelta`]): those three.
    #[inline]
    pub fn text_delta(&self) -> Option<TextDelta<'_>> {
        Some(TextDelta { kind: self.kind?, id: self.seg(Seg::DeltaId)?, delta: self.seg(Seg::Delta).unwrap_or("") })
    }
}

impl ChunkRecord {
    /// Field-by-field identity, the JSON text included (`==` compares the JSON as values).
    pub(crate) fn same(&self, other: &ChunkRecord) -> bool {
        self.seq_num == other.seq_num
            && self.timestamp == other.timestamp
            && self.json() == other.json()
            && self.part_id() == other.part_id()
            && self.chunk_type_if_string() == other.chunk_type_if_string()
            && self.kind == other.kind
            && self.delta() == other.delta()
            && self.text_delta() == other.text_delta()
    }
}

impl PartialEq for ChunkRecord {
    fn eq(&self, other: &Self) -> bool {
        self.seq_num == other.seq_num
            && self.timestamp == other.timestamp
            && self.part_id() == other.part_id()
            && self.chunk_type_if_string() == other.chunk_type_if_string()
            && (self.json() == other.json() || self.chunk_value() == other.chunk_value())
    }
}

impl fmt::Debug for ChunkRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ChunkRecord")
            .field("seq_num", &self.seq_num)
            .field("timestamp", &self.timestamp)
            .field("part_id", &self.part_id())
            .field("chunk_type", &self.chunk_type())
            .field("json", &self.json())
            .finish()
    }
}

/// What a control record (or legacy control chunk) says.
#[derive(Debug, Clone, PartialEq)]
pub enum Control {
    /// The agent's turn is finished.
    TurnComplete(TurnComplete),
    /// The agent cannot handle the message on its version (PROTOCOL.md section 7).
    UpgradeRequired { legacy: bool },
    /// The session is closed; stop.
    SessionClosed { reason: Option<String> },
    /// A new run waits for a deployment; informational.
    PendingVersion,
    /// A subtype this client does not know; the client ignores it.
    Unknown { subtype: String },
}

/// The payload of a `turn-complete` control.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct TurnComplete {
    /// A refreshed public access token that replaces the stored one. An empty value is `None`:
    /// replacing a working token with an empty one would only break the next request.
    pub public_access_token: Option<Secret>,
    pub session_in_event_id: Option<u64>,
    pub session_in_consumed_id: Option<u64>,
    pub session_closed: bool,
    pub session_closed_reason: Option<String>,
    /// Came as a `trigger:turn-complete` data chunk from an older agent.
    pub legacy: bool,
}

/// Counters for tests, benchmarks and diagnostics.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DecoderStats {
    /// Records received in batches, including duplicates, commands and undecodable ones.
    pub records: u64,
    /// [`StreamItem::Chunk`] items emitted.
    pub chunks: u64,
    /// [`StreamItem::Control`] items emitted (both forms, unknown subtypes included).
    pub controls: u64,
    /// S2 command records (trim, fence) skipped.
    pub commands: u64,
    /// Records dropped because their seq_num was at or behind the cursor or their part id was seen.
    pub duplicates: u64,
    /// [`StreamItem::DecodeError`] items emitted (records and whole batches).
    pub decode_errors: u64,
    /// Legacy `trigger:*` data chunks of a type other than turn-complete / upgrade-required.
    pub dropped_chunks: u64,
    /// `event: ping` events.
    pub pings: u64,
    /// Events of an unknown type, and `message` events other than `[DONE]`.
    pub unknown_events: u64,
}

/// Decodes the SSE events of one `.out` subscription (and its reconnects) into [`StreamItem`]s.
///
/// Keep one decoder across reconnects of the same session: its cursor is the `Last-Event-ID` to
/// send, and its dedup window is what makes a replayed record harmless.
#[derive(Default)]
pub struct Decoder {
    cursor: Option<u64>,
    /// Digests of the part ids in the window (see [`PreHashed`]); `seen_order` evicts oldest first.
    seen: HashSet<u64, BuildHasherDefault<PreHashed>>,
    seen_order: VecDeque<u64>,
    /// Keyed per decoder, so which ids could ever collide is not predictable from outside.
    id_hasher: RandomState,
    stats: DecoderStats,
    /// Buffers of the fast batch reader, kept from batch to batch.
    shells: Vec<Shell>,
    bodies: Vec<u8>,
    /// Skip the fast reader (differential tests and fuzzing).
    serde_only: bool,
}

/// The dedup window stores 64-bit keyed SipHash digests of part ids instead of the ids.
///
/// That keeps the per-record cost to one hash and no allocation. Two distinct ids collide with
/// probability 2^-64, so with a full window a chunk is wrongly dropped about once in 3·10^15
/// records — far below any other failure rate of the stream.
#[derive(Default)]
struct PreHashed(u64);

impl Hasher for PreHashed {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        // Only `write_u64` is used (keys are u64); fold anything else so the impl stays total.
        for &b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(b);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

impl fmt::Debug for Decoder {
    // The id set can hold thousands of entries; a Debug of the reader state should stay readable.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Decoder")
            .field("cursor", &self.cursor)
            .field("seen_ids", &self.seen.len())
            .field("stats", &self.stats)
            .finish()
    }
}

mod fast;
mod lex;
mod shapes;
#[cfg(test)]
mod tests;

use fast::*;
use shapes::*;
pub(crate) use shapes::{Fields, Scan};
// For the fuzz target: the fast and the serde reader must agree on every body.
pub use fast::check_body_readers;

impl Decoder {
    /// A decoder for a fresh subscription (no `Last-Event-ID`).
    pub fn new() -> Self {
        Self::default()
    }

    /// A decoder resuming after `last_event_id`: records with `seq_num <= last_event_id` are
    /// duplicates. The part-id window starts empty, as it would on a new connection.
    pub fn with_cursor(last_event_id: Option<u64>) -> Self {
        Decoder { cursor: last_event_id, ..Self::default() }
    }

    /// The `Last-Event-ID` to send on reconnect: the seq_num of the last record seen, of any kind.
    pub fn cursor(&self) -> Option<u64> {
        self.cursor
    }

    /// Counters since construction.
    pub fn stats(&self) -> DecoderStats {
        self.stats
    }

    /// Turns the fast batch reader off or on (on by default). Both readers give the same results;
    /// this exists so tests and fuzzing can check that they do.
    #[doc(hidden)]
    pub fn set_fast_reader(&mut self, enabled: bool) {
        self.serde_only = !enabled;
    }

    /// Decode one SSE event; push what it yields to `out` (in stream order).
    ///
    /// `event` is the SSE event type (`"message"` when the event had no `event:` line) and `data`
    /// its data, lines already joined. Never panics; undecodable input becomes
    /// [`StreamItem::DecodeError`] items.
    pub fn decode_event(&mut self, event: &str, data: &str, out: &mut Vec<StreamItem>) {
        match event {
            "batch" => self.decode_batch(data, out),
            "ping" => {
                self.stats.pings += 1;
                out.push(StreamItem::Ping { timestamp: ping_timestamp(data) });
            }
            "error" => out.push(StreamItem::ServerError { message: data.to_owned() }),
            "message" if data == "[DONE]" => out.push(StreamItem::Done),
            _ => self.stats.unknown_events += 1,
        }
    }

    fn decode_batch(&mut self, data: &str, out: &mut Vec<StreamItem>) {
        // Three readers, each tried only when the one before gave up on the batch as a whole: the
        // fast reader (common shapes only), one typed serde pass, and the lenient per-record pass,
        // which re-parses into a `Value` so the good records (and the bad ones' seq_nums) are not
        // lost. Nothing is emitted or counted until a reader has succeeded, so a retry cannot
        // double anything.
        if !self.serde_only && self.decode_batch_fast(data, out) {
            return;
        }
        match serde_json::from_str::<ObjectOnly<Batch<'_>>>(data) {
            Ok(ObjectOnly(batch)) => {
                for ObjectOnly(record) in batch.records {
                    self.record(record, out);
                }
            }
            Err(_) => self.decode_batch_lenient(data, out),
        }
    }

    /// The fast reader ([`fast_batch`]) over the whole batch first, then the records; false, with
    /// nothing emitted or counted, when the batch needs serde_json.
    fn decode_batch_fast(&mut self, data: &str, out: &mut Vec<StreamItem>) -> bool {
        let mut shells = std::mem::take(&mut self.shells);
        let mut bodies = std::mem::take(&mut self.bodies);
        let mut len = 0;
        let read = fast_batch(data, &mut shells, &mut bodies, &mut len).is_some();
        // The bodies were copied from a `str` whole UTF-8 sequence by whole sequence, so this check
        // cannot fail; it is what lets them be handled as text without `unsafe`.
        let text = if read { std::str::from_utf8(&bodies[..len]).ok() } else { None };
        if let Some(text) = text {
            for shell in &shells {
                self.shell(data, text, shell, out);
            }
        }
        let read = text.is_some();
        shells.clear();
        self.shells = shells;
        // Kept for the next batch, unless one huge batch made it huge.
        if bodies.len() <= 1 << 20 {
            self.bodies = bodies;
        }
        read
    }

    fn shell(&mut self, data: &str, bodies: &str, shell: &Shell, out: &mut Vec<StreamItem>) {
        let mut headers = Vec::new();
        if let Some((start, end)) = shell.headers {
            // Read once already, so this cannot fail.
            let mut c = lex::Cursor::new(&data[start..end]);
            let _ = fast_headers(&mut c, |name, value| headers.push((name, value)));
        }
        let body = || match shell.body {
            Some((start, end)) => body_from_text(&bodies[start..end]),
            None => Body::Empty,
        };
        self.record_parts(shell.seq_num, shell.timestamp, &headers, body, out);
    }

    fn decode_batch_lenient(&mut self, data: &str, out: &mut Vec<StreamItem>) {
        let value: Value = match serde_json::from_str(data) {
            Ok(value) => value,
            Err(err) => return self.error(None, format!("batch is not valid JSON: {}", describe(&err)), out),
        };
        let Some(records) = value.get("records").and_then(Value::as_array) else {
            return self.error(None, "batch has no `records` array".to_owned(), out);
        };
        for raw in records {
            // Same struct as the fast path, so a record decodes identically on either path.
            match ObjectOnly::<RawRecord<'_>>::deserialize(raw) {
                Ok(ObjectOnly(record)) => self.record(record, out),
                Err(err) => {
                    self.stats.records += 1;
                    let seq_num = raw.get("seq_num").and_then(Value::as_u64);
                    if let Some(seq_num) = seq_num {
                        if !self.advance(seq_num) {
                            continue;
                        }
                    }
                    self.error(seq_num, format!("malformed record: {}", describe(&err)), out);
                }
            }
        }
    }

    /// Moves the cursor to `seq_num`, or counts a duplicate and returns false if it is not ahead.
    fn advance(&mut self, seq_num: u64) -> bool {
        if self.cursor.is_some_and(|cursor| seq_num <= cursor) {
            self.stats.duplicates += 1;
            return false;
        }
        self.cursor = Some(seq_num);
        true
    }

    fn record(&mut self, record: RawRecord<'_>, out: &mut Vec<StreamItem>) {
        let headers = record.headers.as_deref().unwrap_or(&[]);
        let body = || record.body.unwrap_or(Body::Empty);
        self.record_parts(record.seq_num, record.timestamp, headers, body, out);
    }

    /// One record, whichever reader read it. `body` is only asked for on data records.
    fn record_parts(
        &mut self,
        seq_num: u64,
        timestamp: i64,
        headers: &[(Cow<'_, str>, Cow<'_, str>)],
        body: impl FnOnce() -> Body,
        out: &mut Vec<StreamItem>,
    ) {
        self.stats.records += 1;
        if !self.advance(seq_num) {
            return;
        }
        if headers.first().is_some_and(|(name, _)| name.is_empty()) {
            self.stats.commands += 1;
            return;
        }
        if let Some(subtype) = header(headers, TRIGGER_CONTROL_HEADER) {
            let control = control_from_headers(subtype, headers);
            return self.control(seq_num, timestamp, control, out);
        }
        self.data_record(seq_num, timestamp, body(), out);
    }

    fn data_record(&mut self, seq_num: u64, timestamp: i64, body: Body, out: &mut Vec<StreamItem>) {
        let data = match body {
            Body::Data(data) => data,
            Body::Empty => return self.error(Some(seq_num), "data record has no body".to_owned(), out),
            Body::Invalid(BodyError::NotEnvelope(err)) => {
                let message = format!("data record body is not a JSON envelope: {}", describe(&err));
                return self.error(Some(seq_num), message, out);
            }
            Body::Invalid(BodyError::NoDataObject) => {
                let message = "data record body has no `data` object".to_owned();
                return self.error(Some(seq_num), message, out);
            }
        };
        // An empty id is "no id" for dedup, as in the official client (it tests the id for truthiness).
        if let Some(id) = data.part_id().filter(|id| !id.is_empty()) {
            if !self.remember(id) {
                self.stats.duplicates += 1;
                return;
            }
        }
        match data {
            DataBody::Chunk(mut record) => {
                record.seq_num = seq_num;
                record.timestamp = timestamp;
                self.stats.chunks += 1;
                out.push(StreamItem::Chunk(record));
            }
            DataBody::Legacy { control: Some(control), .. } => self.control(seq_num, timestamp, control, out),
            DataBody::Legacy { control: None, .. } => self.stats.dropped_chunks += 1,
        }
    }

    /// Records `id` in the dedup window; false if it was already there.
    fn remember(&mut self, id: &str) -> bool {
        let digest = self.id_hasher.hash_one(id);
        if !self.seen.insert(digest) {
            return false;
        }
        self.seen_order.push_back(digest);
        if self.seen_order.len() > DEDUP_WINDOW {
            if let Some(oldest) = self.seen_order.pop_front() {
                self.seen.remove(&oldest);
            }
        }
        true
    }

    fn control(&mut self, seq_num: u64, timestamp: i64, control: Control, out: &mut Vec<StreamItem>) {
        self.stats.controls += 1;
        out.push(StreamItem::Control { seq_num, timestamp, control });
    }

    fn error(&mut self, seq_num: Option<u64>, message: String, out: &mut Vec<StreamItem>) {
        self.stats.decode_errors += 1;
        out.push(StreamItem::DecodeError { seq_num, message });
    }
}

/// The value of the first header named exactly `name`.
fn header<'h>(headers: &'h [(Cow<'_, str>, Cow<'_, str>)], name: &str) -> Option<&'h str> {
    headers.iter().find(|(n, _)| n == name).map(|(_, value)| value.as_ref())
}

fn control_from_headers(subtype: &str, headers: &[(Cow<'_, str>, Cow<'_, str>)]) -> Control {
    let reason = || header(headers, SESSION_CLOSED_REASON_HEADER).map(str::to_owned);
    match subtype {
        "turn-complete" => Control::TurnComplete(TurnComplete {
            public_access_token: header(headers, PUBLIC_ACCESS_TOKEN_HEADER)
                .filter(|token| !token.is_empty())
                .map(Secret::new),
            session_in_event_id: header(headers, SESSION_IN_EVENT_ID_HEADER).and_then(parse_u64),
            session_in_consumed_id: header(headers, SESSION_IN_CONSUMED_ID_HEADER).and_then(parse_u64),
            session_closed: header(headers, SESSION_CLOSED_HEADER) == Some("true"),
            session_closed_reason: reason(),
            legacy: false,
        }),
        "upgrade-required" => Control::UpgradeRequired { legacy: false },
        "session-closed" => Control::SessionClosed { reason: reason() },
        "pending-version" => Control::PendingVersion,
        other => Control::Unknown { subtype: other.to_owned() },
    }
}

fn legacy_turn_complete(chunk: Option<&Map<String, Value>>) -> TurnComplete {
    TurnComplete {
        public_access_token: match chunk.and_then(|chunk| chunk.get("publicAccessToken")) {
            Some(Value::String(token)) if !token.is_empty() => Some(Secret::new(token.as_str())),
            _ => None,
        },
        legacy: true,
        ..TurnComplete::default()
    }
}

/// Header values are decimal strings; anything else (sign, spaces, overflow) is "absent".
fn parse_u64(value: &str) -> Option<u64> {
    if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    value.parse().ok()
}

fn ping_timestamp(data: &str) -> Option<i64> {
    #[derive(Deserialize)]
    struct Ping {
        #[serde(default)]
        timestamp: Option<Value>,
    }
    serde_json::from_str::<ObjectOnly<Ping>>(data).ok()?.0.timestamp?.as_i64()
}

/// A serde_json error as text that is safe to log.
///
/// serde_json quotes offending string values ("invalid type: string \"...\", expected u64"), and a
/// string in a record can be a token, so everything between the first and last double quote is
/// cut. Syntax errors never quote input; they keep their line and column.
fn describe(err: &serde_json::Error) -> String {
    let message = err.to_string();
    match (message.find('"'), message.rfind('"')) {
        (Some(first), Some(last)) if first < last => {
            format!("{}…{}", &message[..first], &message[last + 1..])
        }
        (Some(first), _) => format!("{}…", &message[..first]),
        _ => message,
    }
}
