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

use std::borrow::Cow;
use std::collections::{HashSet, VecDeque};
use std::fmt;
use std::hash::{BuildHasher, BuildHasherDefault, Hasher, RandomState};

use serde::de::value::MapAccessDeserializer;
use serde::de::{Deserializer, MapAccess, Visitor};
use serde::Deserialize;
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
    Control {
        seq_num: u64,
        timestamp: i64,
        control: Control,
    },
    /// `event: ping` (keep-alive). `timestamp` is `None` when the data held no integer timestamp.
    Ping { timestamp: Option<i64> },
    /// `data: [DONE]`: the long-poll window ended normally.
    Done,
    /// `event: error`: the server reported a failed stream; the client reconnects.
    ServerError { message: String },
    /// A record (or a whole batch) that could not be decoded. The cursor still advanced past it if
    /// its seq_num was known. The message never quotes the input.
    DecodeError {
        seq_num: Option<u64>,
        message: String,
    },
}

/// A data record: one UIMessageChunk, kept as the JSON object it arrived as.
#[derive(Debug, Clone, PartialEq)]
pub struct ChunkRecord {
    pub seq_num: u64,
    pub timestamp: i64,
    /// The body's `id` (the writer's part id), when it was a string.
    pub part_id: Option<String>,
    /// `chunk["type"]`, or `""` when absent or not a string.
    pub chunk_type: String,
    /// The UIMessageChunk object, untouched: unknown types and fields pass through to assembly.
    pub chunk: Value,
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

// ---------------------------------------------------------------------------------------------
// Wire shapes. Borrowed where serde_json can borrow (strings without escapes), so the common
// header values and names cost no allocation.

/// Deserializes `T` from a JSON object only.
///
/// Derived struct impls also accept a JSON array of the fields in order, so `[1, 2]` would pass as
/// a record with seq_num 1; on this wire a non-object is always garbage.
struct ObjectOnly<T>(T);

impl<'de, T: Deserialize<'de>> Deserialize<'de> for ObjectOnly<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ObjectVisitor<T>(std::marker::PhantomData<T>);
        impl<'de, T: Deserialize<'de>> Visitor<'de> for ObjectVisitor<T> {
            type Value = ObjectOnly<T>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
                T::deserialize(MapAccessDeserializer::new(map)).map(ObjectOnly)
            }
        }
        deserializer.deserialize_map(ObjectVisitor(std::marker::PhantomData))
    }
}

#[derive(Deserialize)]
struct Batch<'a> {
    #[serde(borrow)]
    records: Vec<ObjectOnly<RawRecord<'a>>>,
}

#[derive(Deserialize)]
struct RawRecord<'a> {
    seq_num: u64,
    /// Defaulted rather than required: timestamps are informational, and losing a chunk over a
    /// missing one would be worse than reporting 0.
    #[serde(default)]
    timestamp: i64,
    #[serde(default, borrow)]
    headers: Option<Vec<(Cow<'a, str>, Cow<'a, str>)>>,
    #[serde(default)]
    body: Option<Body>,
}

/// A record body, parsed as a data envelope while the batch itself is parsed.
///
/// serde_json hands an escaped string to the visitor from its scratch buffer; parsing it right
/// there saves allocating and copying the unescaped body of every record. Command and control
/// bodies are parsed too and simply ignored: they are rare and short (or empty).
enum Body {
    Empty,
    Envelope(Envelope),
    Invalid(String),
}

impl<'de> Deserialize<'de> for Body {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct BodyVisitor;
        impl Visitor<'_> for BodyVisitor {
            type Value = Body;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_str<E: serde::de::Error>(self, body: &str) -> Result<Body, E> {
                if body.is_empty() {
                    return Ok(Body::Empty);
                }
                Ok(match serde_json::from_str::<ObjectOnly<Envelope>>(body) {
                    Ok(ObjectOnly(envelope)) => Body::Envelope(envelope),
                    Err(err) => Body::Invalid(describe(&err)),
                })
            }
        }
        deserializer.deserialize_str(BodyVisitor)
    }
}

/// The JSON held in a data record's body string.
#[derive(Deserialize)]
struct Envelope {
    data: Value,
    /// `Value` rather than `String` so a non-string id degrades to "no id" instead of losing the chunk.
    #[serde(default)]
    id: Option<Value>,
}

impl Decoder {
    /// A decoder for a fresh subscription (no `Last-Event-ID`).
    pub fn new() -> Self {
        Self::default()
    }

    /// A decoder resuming after `last_event_id`: records with `seq_num <= last_event_id` are
    /// duplicates. The part-id window starts empty, as it would on a new connection.
    pub fn with_cursor(last_event_id: Option<u64>) -> Self {
        Decoder {
            cursor: last_event_id,
            ..Self::default()
        }
    }

    /// The `Last-Event-ID` to send on reconnect: the seq_num of the last record seen, of any kind.
    pub fn cursor(&self) -> Option<u64> {
        self.cursor
    }

    /// Counters since construction.
    pub fn stats(&self) -> DecoderStats {
        self.stats
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
                out.push(StreamItem::Ping {
                    timestamp: ping_timestamp(data),
                });
            }
            "error" => out.push(StreamItem::ServerError {
                message: data.to_owned(),
            }),
            "message" if data == "[DONE]" => out.push(StreamItem::Done),
            _ => self.stats.unknown_events += 1,
        }
    }

    fn decode_batch(&mut self, data: &str, out: &mut Vec<StreamItem>) {
        // Fast path: one typed pass over the whole batch. It fails as a whole if any single record
        // is malformed, and only then do we pay for the lenient per-record pass, which re-parses
        // into a `Value` so the good records (and the bad ones' seq_nums) are not lost. Nothing is
        // emitted or counted until a path has succeeded, so the retry cannot double anything.
        match serde_json::from_str::<ObjectOnly<Batch<'_>>>(data) {
            Ok(ObjectOnly(batch)) => {
                for ObjectOnly(record) in batch.records {
                    self.record(record, out);
                }
            }
            Err(_) => self.decode_batch_lenient(data, out),
        }
    }

    fn decode_batch_lenient(&mut self, data: &str, out: &mut Vec<StreamItem>) {
        let value: Value = match serde_json::from_str(data) {
            Ok(value) => value,
            Err(err) => {
                return self.error(
                    None,
                    format!("batch is not valid JSON: {}", describe(&err)),
                    out,
                )
            }
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
                    self.error(
                        seq_num,
                        format!("malformed record: {}", describe(&err)),
                        out,
                    );
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
        self.stats.records += 1;
        let seq_num = record.seq_num;
        if !self.advance(seq_num) {
            return;
        }
        let headers = record.headers.as_deref().unwrap_or(&[]);
        if headers.first().is_some_and(|(name, _)| name.is_empty()) {
            self.stats.commands += 1;
            return;
        }
        if let Some(subtype) = header(headers, TRIGGER_CONTROL_HEADER) {
            let control = control_from_headers(subtype, headers);
            return self.control(seq_num, record.timestamp, control, out);
        }
        self.data_record(
            seq_num,
            record.timestamp,
            record.body.unwrap_or(Body::Empty),
            out,
        );
    }

    fn data_record(&mut self, seq_num: u64, timestamp: i64, body: Body, out: &mut Vec<StreamItem>) {
        let envelope = match body {
            Body::Envelope(envelope) => envelope,
            Body::Empty => {
                return self.error(Some(seq_num), "data record has no body".to_owned(), out)
            }
            Body::Invalid(why) => {
                let message = format!("data record body is not a JSON envelope: {why}");
                return self.error(Some(seq_num), message, out);
            }
        };
        let Value::Object(chunk) = envelope.data else {
            let message = "data record body has no `data` object".to_owned();
            return self.error(Some(seq_num), message, out);
        };
        let part_id = match envelope.id {
            Some(Value::String(id)) => Some(id),
            _ => None,
        };
        // An empty id is "no id" for dedup, as in the official client (it tests the id for truthiness).
        if let Some(id) = part_id.as_deref().filter(|id| !id.is_empty()) {
            if !self.remember(id) {
                self.stats.duplicates += 1;
                return;
            }
        }
        let chunk_type = match chunk.get("type") {
            Some(Value::String(t)) => t.as_str(),
            _ => "",
        };
        if let Some(legacy) = chunk_type.strip_prefix("trigger:") {
            let control = match legacy {
                "turn-complete" => Control::TurnComplete(legacy_turn_complete(&chunk)),
                "upgrade-required" => Control::UpgradeRequired { legacy: true },
                // A future in-band control this client cannot act on must still not leak into the
                // assistant message as a chunk.
                _ => {
                    self.stats.dropped_chunks += 1;
                    return;
                }
            };
            return self.control(seq_num, timestamp, control, out);
        }
        let chunk_type = chunk_type.to_owned();
        self.stats.chunks += 1;
        out.push(StreamItem::Chunk(ChunkRecord {
            seq_num,
            timestamp,
            part_id,
            chunk_type,
            chunk: Value::Object(chunk),
        }));
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

    fn control(
        &mut self,
        seq_num: u64,
        timestamp: i64,
        control: Control,
        out: &mut Vec<StreamItem>,
    ) {
        self.stats.controls += 1;
        out.push(StreamItem::Control {
            seq_num,
            timestamp,
            control,
        });
    }

    fn error(&mut self, seq_num: Option<u64>, message: String, out: &mut Vec<StreamItem>) {
        self.stats.decode_errors += 1;
        out.push(StreamItem::DecodeError { seq_num, message });
    }
}

/// The value of the first header named exactly `name`.
fn header<'h>(headers: &'h [(Cow<'_, str>, Cow<'_, str>)], name: &str) -> Option<&'h str> {
    headers
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, value)| value.as_ref())
}

fn control_from_headers(subtype: &str, headers: &[(Cow<'_, str>, Cow<'_, str>)]) -> Control {
    let reason = || header(headers, SESSION_CLOSED_REASON_HEADER).map(str::to_owned);
    match subtype {
        "turn-complete" => Control::TurnComplete(TurnComplete {
            public_access_token: header(headers, PUBLIC_ACCESS_TOKEN_HEADER)
                .filter(|token| !token.is_empty())
                .map(Secret::new),
            session_in_event_id: header(headers, SESSION_IN_EVENT_ID_HEADER).and_then(parse_u64),
            session_in_consumed_id: header(headers, SESSION_IN_CONSUMED_ID_HEADER)
                .and_then(parse_u64),
            session_closed: header(headers, SESSION_CLOSED_HEADER) == Some("true"),
            session_closed_reason: reason(),
            legacy: false,
        }),
        "upgrade-required" => Control::UpgradeRequired { legacy: false },
        "session-closed" => Control::SessionClosed { reason: reason() },
        "pending-version" => Control::PendingVersion,
        other => Control::Unknown {
            subtype: other.to_owned(),
        },
    }
}

fn legacy_turn_complete(chunk: &Map<String, Value>) -> TurnComplete {
    TurnComplete {
        public_access_token: match chunk.get("publicAccessToken") {
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
    serde_json::from_str::<ObjectOnly<Ping>>(data)
        .ok()?
        .0
        .timestamp?
        .as_i64()
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

#[cfg(test)]
mod tests {
    use super::*;

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
        let fast = decode(
            &mut Decoder::new(),
            "batch",
            &format!(r#"{{"records":[{good}]}}"#),
        );
        // A malformed third record forces the lenient path for the whole batch.
        let slow = decode(
            &mut Decoder::new(),
            "batch",
            &format!(r#"{{"records":[{good},{{"seq_num":3,"body":7}}]}}"#),
        );
        assert_eq!(fast.len(), 2);
        assert_eq!(&slow[..2], &fast[..]);
        assert!(matches!(
            slow[2],
            StreamItem::DecodeError {
                seq_num: Some(3),
                ..
            }
        ));
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
}
