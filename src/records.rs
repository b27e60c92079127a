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

/// A record body, read as a data envelope while the batch itself is parsed.
///
/// serde_json hands an escaped string to the visitor from its scratch buffer; reading it right
/// there saves allocating and copying the unescaped body of every record, and what comes out is the
/// finished [`ChunkRecord`] (one allocation). On this path command and control bodies are read too
/// and simply ignored: they are rare and short (or empty). The fast reader reads data bodies only.
enum Body {
    Empty,
    Data(DataBody),
    Invalid(BodyError),
}

/// A data envelope, read and checked; what is left to do depends on the record's headers, its
/// seq_num and the dedup window.
enum DataBody {
    /// A chunk for the message (seq_num and timestamp not yet set).
    Chunk(ChunkRecord),
    /// A legacy in-band control chunk (`trigger:*`); `None` for one this client does not know.
    Legacy { part_id: Option<String>, control: Option<Control> },
}

impl DataBody {
    fn part_id(&self) -> Option<&str> {
        match self {
            DataBody::Chunk(record) => record.part_id(),
            DataBody::Legacy { part_id, .. } => part_id.as_deref(),
        }
    }
}

enum BodyError {
    /// The body is not a JSON object holding a `data` field, or `data` is not valid JSON.
    NotEnvelope(serde_json::Error),
    /// `data` is not an object.
    NoDataObject,
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
                Ok(body_from_text(body))
            }
        }
        deserializer.deserialize_str(BodyVisitor)
    }
}

/// Reads the envelope `{"data": <chunk object>, "id": "<part id>"}` of a data record's body.
fn data_body(body: &str) -> Result<DataBody, BodyError> {
    let ObjectOnly(envelope) =
        serde_json::from_str::<ObjectOnly<Envelope<'_>>>(body).map_err(BodyError::NotEnvelope)?;
    let json = envelope.data.get();
    if !json.starts_with('{') {
        return Err(BodyError::NoDataObject);
    }
    let part_id = match &envelope.id {
        Some(MaybeStr::Str(id)) => Some(id.as_ref()),
        _ => None,
    };
    let scan = Scan::new(json).map_err(BodyError::NotEnvelope)?;
    let fields = scan.fields();
    if let Some(legacy) = fields.chunk_type.and_then(|t| t.strip_prefix("trigger:")) {
        let control = match legacy {
            "turn-complete" => Some(Control::TurnComplete(legacy_turn_complete(scan.map()))),
            "upgrade-required" => Some(Control::UpgradeRequired { legacy: true }),
            // A future in-band control this client cannot act on must still not leak into the
            // assistant message as a chunk.
            _ => None,
        };
        return Ok(DataBody::Legacy { part_id: part_id.map(str::to_owned), control });
    }
    Ok(DataBody::Chunk(ChunkRecord::build(0, 0, json, part_id, &fields)))
}

/// The JSON held in a data record's body string. `data` stays text, checked by [`Scan`].
#[derive(Deserialize)]
struct Envelope<'a> {
    #[serde(borrow)]
    data: &'a RawValue,
    /// Any JSON value: a non-string id degrades to "no id" instead of losing the chunk.
    #[serde(default, borrow)]
    id: Option<MaybeStr<'a>>,
}

/// A JSON value that is either a string (borrowed when it had no escapes) or something else.
///
/// Something else is still parsed as fully as a [`Value`] would be (numbers in range, strings valid
/// UTF-8 without lone surrogates), so accepting a `MaybeStr` never accepts what `Value` rejects.
enum MaybeStr<'a> {
    Str(Cow<'a, str>),
    Other,
}

impl<'de: 'a, 'a> Deserialize<'de> for MaybeStr<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct MaybeStrVisitor;
        impl<'de> Visitor<'de> for MaybeStrVisitor {
            type Value = MaybeStr<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(MaybeStr::Str(Cow::Borrowed(v)))
            }
            fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
                Ok(MaybeStr::Str(Cow::Owned(v.to_owned())))
            }
            fn visit_string<E>(self, v: String) -> Result<Self::Value, E> {
                Ok(MaybeStr::Str(Cow::Owned(v)))
            }
            fn visit_bool<E>(self, _: bool) -> Result<Self::Value, E> {
                Ok(MaybeStr::Other)
            }
            fn visit_i64<E>(self, _: i64) -> Result<Self::Value, E> {
                Ok(MaybeStr::Other)
            }
            fn visit_u64<E>(self, _: u64) -> Result<Self::Value, E> {
                Ok(MaybeStr::Other)
            }
            fn visit_f64<E>(self, _: f64) -> Result<Self::Value, E> {
                Ok(MaybeStr::Other)
            }
            fn visit_unit<E>(self) -> Result<Self::Value, E> {
                Ok(MaybeStr::Other)
            }
            fn visit_none<E>(self) -> Result<Self::Value, E> {
                Ok(MaybeStr::Other)
            }
            fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
                Value::deserialize(d).map(|_| MaybeStr::Other)
            }
            fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
                Value::deserialize(SeqAccessDeserializer::new(seq)).map(|_| MaybeStr::Other)
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
                Value::deserialize(MapAccessDeserializer::new(map)).map(|_| MaybeStr::Other)
            }
        }
        deserializer.deserialize_any(MaybeStrVisitor)
    }
}

/// A chunk object, read only as far as needed.
///
/// The common chunk (`{"type":"text-delta","id":..,"delta":..}` and nothing else) is read into
/// borrowed strings without building a [`Value`]; any other chunk is parsed into a map, which also
/// checks it the way `Value` does. Either way the fields come out with `Value` semantics (for a
/// duplicated key the last one wins).
pub(crate) enum Scan<'a> {
    Delta { kind: DeltaKind, chunk_type: Cow<'a, str>, id: Cow<'a, str>, delta: Option<Cow<'a, str>> },
    Map(Map<String, Value>),
}

/// The pre-read fields of a chunk, borrowed from a [`Scan`].
pub(crate) struct Fields<'s> {
    /// `chunk["type"]` when a string.
    pub(crate) chunk_type: Option<&'s str>,
    /// Set for `text-delta` and `reasoning-delta`.
    pub(crate) kind: Option<DeltaKind>,
    /// `chunk["id"]` of a delta chunk that [`TextDelta`] describes completely.
    pub(crate) delta_id: Option<&'s str>,
    /// `chunk["delta"]` of a delta chunk, when a string.
    pub(crate) delta: Option<&'s str>,
}

impl<'a> Scan<'a> {
    /// Reads the chunk object `json`; errors when it is not one, or when `Value` would reject it.
    pub(crate) fn new(json: &'a str) -> Result<Scan<'a>, serde_json::Error> {
        if let Ok(head) = serde_json::from_str::<Head<'a>>(json) {
            if let Some(scan) = head.into_delta() {
                return Ok(scan);
            }
        }
        serde_json::from_str::<Map<String, Value>>(json).map(Scan::Map)
    }

    pub(crate) fn fields(&self) -> Fields<'_> {
        match self {
            Scan::Delta { kind, chunk_type, id, delta } => {
                Fields { chunk_type: Some(chunk_type), kind: Some(*kind), delta_id: Some(id), delta: delta.as_deref() }
            }
            Scan::Map(map) => {
                let chunk_type = map.get("type").and_then(Value::as_str);
                let kind = chunk_type.and_then(DeltaKind::from_chunk_type);
                let delta = map.get("delta");
                let id = map.get("id").and_then(Value::as_str);
                let plain = map.get("providerMetadata").is_none_or(Value::is_null)
                    && matches!(delta, None | Some(Value::String(_)));
                Fields {
                    chunk_type,
                    kind,
                    delta_id: id.filter(|_| kind.is_some() && plain),
                    delta: delta.and_then(Value::as_str).filter(|_| kind.is_some()),
                }
            }
        }
    }

    /// The chunk as a map, unless it was a plain delta (which holds nothing else).
    fn map(&self) -> Option<&Map<String, Value>> {
        match self {
            Scan::Map(map) => Some(map),
            Scan::Delta { .. } => None,
        }
    }
}

/// The fast read of a chunk object: `type`, `id` and `delta`, and whether anything else was there.
struct Head<'a> {
    chunk_type: Option<MaybeStr<'a>>,
    id: Option<MaybeStr<'a>>,
    delta: Option<MaybeStr<'a>>,
    /// A key other than those three, or one of them twice.
    other: bool,
}

impl<'a> Head<'a> {
    /// A [`Scan::Delta`] when the chunk is a delta whose three fields are all it has (each read as a
    /// string, so fully checked): then the map would hold nothing more.
    fn into_delta(self) -> Option<Scan<'a>> {
        if self.other {
            return None;
        }
        let Some(MaybeStr::Str(chunk_type)) = self.chunk_type else {
            return None;
        };
        let kind = DeltaKind::from_chunk_type(&chunk_type)?;
        let Some(MaybeStr::Str(id)) = self.id else {
            return None;
        };
        let delta = match self.delta {
            None => None,
            Some(MaybeStr::Str(delta)) => Some(delta),
            Some(MaybeStr::Other) => return None,
        };
        Some(Scan::Delta { kind, chunk_type, id, delta })
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Head<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        enum Key {
            Type,
            Id,
            Delta,
            Other,
        }
        impl<'de> Deserialize<'de> for Key {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                struct KeyVisitor;
                impl Visitor<'_> for KeyVisitor {
                    type Value = Key;
                    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                        f.write_str("a key")
                    }
                    fn visit_str<E>(self, key: &str) -> Result<Key, E> {
                        Ok(match key {
                            "type" => Key::Type,
                            "id" => Key::Id,
                            "delta" => Key::Delta,
                            _ => Key::Other,
                        })
                    }
                }
                deserializer.deserialize_identifier(KeyVisitor)
            }
        }

        struct HeadVisitor;
        impl<'de> Visitor<'de> for HeadVisitor {
            type Value = Head<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Head<'de>, A::Error> {
                let mut head = Head { chunk_type: None, id: None, delta: None, other: false };
                while let Some(key) = map.next_key::<Key>()? {
                    let slot = match key {
                        Key::Type => &mut head.chunk_type,
                        Key::Id => &mut head.id,
                        Key::Delta => &mut head.delta,
                        Key::Other => {
                            // Not checked here: a chunk with other keys takes the map path anyway.
                            map.next_value::<IgnoredAny>()?;
                            head.other = true;
                            continue;
                        }
                    };
                    head.other |= slot.is_some();
                    *slot = Some(map.next_value()?);
                }
                Ok(head)
            }
        }
        deserializer.deserialize_map(HeadVisitor)
    }
}

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

// ---------------------------------------------------------------------------------------------
// The fast path: a strict reader for the shapes a `.out` stream actually carries.
//
// serde_json is general, and for this stream generality is expensive: every record body is a JSON
// text inside a JSON string, so each quote in it is an escape, and a typed serde pass costs a call
// per escape, per key and per value. The reader below handles the common shapes directly — the
// batch object, records with integer seq_num/timestamp, string headers and string bodies, and
// bodies whose chunk object has only string values — and gives up (`None`) on anything else:
// nested chunk values, non-string ids, legacy `trigger:*` chunks, odd numbers, duplicated fields,
// lone surrogates, malformed JSON. Giving up is always safe, because the caller then takes the
// serde path, which handles everything; so the rule for this reader is only that what it accepts,
// it reads exactly as serde_json would, and it never accepts JSON that serde_json rejects.

mod lex {
    use std::borrow::Cow;

    /// Bytes that end a run of plain string content: `"`, `\` and the control characters JSON
    /// forbids inside strings.
    static STOP: [bool; 256] = {
        let mut table = [false; 256];
        let mut i = 0;
        while i < 0x20 {
            table[i] = true;
            i += 1;
        }
        table[b'"' as usize] = true;
        table[b'\\' as usize] = true;
        table
    };

    const ONES: u64 = 0x0101_0101_0101_0101;

    /// Marks (high bit of the byte) the [`STOP`] bytes of an 8-byte word. Bits above the lowest mark
    /// may be false positives; the lowest one is exact.
    #[inline]
    fn stop_mask(word: u64) -> u64 {
        let control = word.wrapping_sub(ONES * 0x20) & !word;
        let q = word ^ (ONES * u64::from(b'"'));
        let quote = q.wrapping_sub(ONES) & !q;
        let b = word ^ (ONES * u64::from(b'\\'));
        let backslash = b.wrapping_sub(ONES) & !b;
        (control | quote | backslash) & (ONES << 7)
    }

    /// Index of the first [`STOP`] byte at or after `i`.
    #[inline]
    fn find_stop(bytes: &[u8], mut i: usize) -> Option<usize> {
        while let Some(chunk) = bytes.get(i..i + 8) {
            let word: [u8; 8] = chunk.try_into().ok()?;
            let mask = stop_mask(u64::from_le_bytes(word));
            if mask != 0 {
                return Some(i + (mask.trailing_zeros() / 8) as usize);
            }
            i += 8;
        }
        while let Some(&b) = bytes.get(i) {
            if STOP[b as usize] {
                return Some(i);
            }
            i += 1;
        }
        None
    }

    /// Deeper values are left to serde_json (whose own limit is 128).
    const MAX_DEPTH: u32 = 32;

    pub(super) struct Cursor<'a> {
        text: &'a str,
        pos: usize,
    }

    impl<'a> Cursor<'a> {
        pub(super) fn new(text: &'a str) -> Self {
            Cursor { text, pos: 0 }
        }

        #[inline]
        pub(super) fn pos(&self) -> usize {
            self.pos
        }

        #[inline]
        fn bytes(&self) -> &'a [u8] {
            self.text.as_bytes()
        }

        /// Skips whitespace and returns the next byte, not consuming it.
        #[inline]
        pub(super) fn peek(&mut self) -> Option<u8> {
            let bytes = self.bytes();
            while let Some(&b) = bytes.get(self.pos) {
                if !matches!(b, b' ' | b'\n' | b'\r' | b'\t') {
                    return Some(b);
                }
                self.pos += 1;
            }
            None
        }

        /// Skips whitespace and consumes `byte` if it comes next.
        #[inline]
        pub(super) fn eat(&mut self, byte: u8) -> bool {
            if self.peek() == Some(byte) {
                self.pos += 1;
                true
            } else {
                false
            }
        }

        /// True when only whitespace is left.
        pub(super) fn at_end(&mut self) -> bool {
            self.peek().is_none()
        }

        /// After a member or element: `Some(true)` for `,`, `Some(false)` for `close`.
        #[inline]
        pub(super) fn next_or_close(&mut self, close: u8) -> Option<bool> {
            match self.peek()? {
                b',' => {
                    self.pos += 1;
                    Some(true)
                }
                b if b == close => {
                    self.pos += 1;
                    Some(false)
                }
                _ => None,
            }
        }

        /// Consumes `null` if it comes next.
        pub(super) fn null(&mut self) -> bool {
            if self.peek() == Some(b'n') && self.bytes()[self.pos..].starts_with(b"null") {
                self.pos += 4;
                true
            } else {
                false
            }
        }

        /// A string literal, checked: returns the span of its content (between the quotes) and
        /// whether it holds escapes. Escapes must be valid, `\u` surrogates paired.
        #[inline]
        fn string_span(&mut self) -> Option<(usize, usize, bool)> {
            if self.peek()? != b'"' {
                return None;
            }
            let bytes = self.bytes();
            let start = self.pos + 1;
            let mut i = start;
            let mut escaped = false;
            loop {
                i = find_stop(bytes, i)?;
                match bytes[i] {
                    b'"' => {
                        self.pos = i + 1;
                        return Some((start, i, escaped));
                    }
                    b'\\' => {
                        escaped = true;
                        i = escape(bytes, i, &mut |_| {})?;
                    }
                    _ => return None,
                }
            }
        }

        /// An object key without escapes, as bytes (a key with escapes is `None`: left to serde_json,
        /// as no writer of this stream escapes its keys).
        #[inline]
        pub(super) fn key(&mut self) -> Option<&'a [u8]> {
            let (start, end, escaped) = self.string_span()?;
            if escaped || !self.eat(b':') {
                return None;
            }
            Some(&self.bytes()[start..end])
        }

        /// A string literal's value, borrowed when it has no escapes.
        #[inline]
        pub(super) fn string(&mut self) -> Option<Cow<'a, str>> {
            let (start, end, escaped) = self.string_span()?;
            let raw = &self.text[start..end];
            if !escaped {
                return Some(Cow::Borrowed(raw));
            }
            let mut out = String::with_capacity(raw.len());
            unescape_into(raw, &mut out)?;
            Some(Cow::Owned(out))
        }

        /// A string literal's value (its UTF-8 bytes), written to `out` at `*len`, checked and
        /// unescaped in one pass; `*len` moves past it. `out` is a work buffer: only `out[..*len]`
        /// means anything, the rest is room to write whole words into (it grows as needed and is
        /// never shrunk, so it is zero-filled only once).
        #[inline]
        pub(super) fn string_into(&mut self, out: &mut Vec<u8>, len: &mut usize) -> Option<()> {
            if self.peek()? != b'"' {
                return None;
            }
            let bytes = self.bytes();
            let mut i = self.pos + 1;
            let mut j = *len;
            loop {
                if out.len() < j + 16 {
                    let grown = (out.len() * 2).max(j + 16).max(4096);
                    out.resize(grown, 0);
                }
                if let Some(chunk) = bytes.get(i..i + 8) {
                    // Copy the whole word, then keep what precedes the first stop byte (if any).
                    let word: [u8; 8] = chunk.try_into().ok()?;
                    out[j..j + 8].copy_from_slice(&word);
                    let mask = stop_mask(u64::from_le_bytes(word));
                    if mask == 0 {
                        i += 8;
                        j += 8;
                        continue;
                    }
                    let n = (mask.trailing_zeros() / 8) as usize;
                    i += n;
                    j += n;
                } else {
                    let b = *bytes.get(i)?;
                    if !STOP[b as usize] {
                        out[j] = b;
                        i += 1;
                        j += 1;
                        continue;
                    }
                }
                match bytes[i] {
                    b'"' => {
                        self.pos = i + 1;
                        *len = j;
                        return Some(());
                    }
                    b'\\' => match bytes.get(i + 1) {
                        // The escapes a JSON text inside a JSON string is full of.
                        Some(&b @ (b'"' | b'\\' | b'/')) => {
                            out[j] = b;
                            i += 2;
                            j += 1;
                        }
                        _ => {
                            let mut utf8 = [0u8; 4];
                            let mut n = 0;
                            i = escape(bytes, i, &mut |c| n = c.encode_utf8(&mut utf8).len())?;
                            out[j..j + n].copy_from_slice(&utf8[..n]);
                            j += n;
                        }
                    },
                    _ => return None,
                }
            }
        }

        /// A non-negative integer without fraction or exponent that surely fits a u64.
        #[inline]
        pub(super) fn u64(&mut self) -> Option<u64> {
            self.peek()?;
            let bytes = self.bytes();
            let start = self.pos;
            let mut i = start;
            let mut n: u64 = 0;
            while let Some(&b) = bytes.get(i) {
                let digit = b.wrapping_sub(b'0');
                if digit > 9 {
                    break;
                }
                // Wrapping: more than 19 digits are rejected below, whatever `n` became.
                n = n.wrapping_mul(10).wrapping_add(u64::from(digit));
                i += 1;
            }
            let digits = i - start;
            // 19 digits always fit; longer numbers are left to serde_json.
            if digits == 0 || digits > 19 || (digits > 1 && bytes[start] == b'0') {
                return None;
            }
            if matches!(bytes.get(i), Some(b'.' | b'e' | b'E')) {
                return None;
            }
            self.pos = i;
            Some(n)
        }

        /// An integer without fraction or exponent that surely fits an i64 (not `-0`).
        #[inline]
        pub(super) fn i64(&mut self) -> Option<i64> {
            let negative = self.eat(b'-');
            if negative && !self.bytes().get(self.pos).is_some_and(u8::is_ascii_digit) {
                return None;
            }
            let start = self.pos;
            let n = self.u64()?;
            if self.pos - start > 18 {
                return None;
            }
            let n = n as i64;
            match (negative, n) {
                (true, 0) => None,
                (true, n) => Some(-n),
                (false, n) => Some(n),
            }
        }

        /// Skips any JSON value, checking it (strictly: what this accepts, serde_json accepts).
        pub(super) fn skip_value(&mut self, depth: u32) -> Option<()> {
            if depth > MAX_DEPTH {
                return None;
            }
            match self.peek()? {
                b'"' => {
                    self.string_span()?;
                }
                b'{' => {
                    self.pos += 1;
                    if self.eat(b'}') {
                        return Some(());
                    }
                    loop {
                        self.string_span()?;
                        if !self.eat(b':') {
                            return None;
                        }
                        self.skip_value(depth + 1)?;
                        if !self.next_or_close(b'}')? {
                            break;
                        }
                    }
                }
                b'[' => {
                    self.pos += 1;
                    if self.eat(b']') {
                        return Some(());
                    }
                    loop {
                        self.skip_value(depth + 1)?;
                        if !self.next_or_close(b']')? {
                            break;
                        }
                    }
                }
                b't' => self.literal(b"true")?,
                b'f' => self.literal(b"false")?,
                b'n' => self.literal(b"null")?,
                b'-' | b'0'..=b'9' => self.number()?,
                _ => return None,
            }
            Some(())
        }

        fn literal(&mut self, word: &[u8]) -> Option<()> {
            if !self.bytes()[self.pos..].starts_with(word) {
                return None;
            }
            self.pos += word.len();
            Some(())
        }

        /// `-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?`
        fn number(&mut self) -> Option<()> {
            let bytes = self.bytes();
            let mut i = self.pos;
            let digits = |i: &mut usize| {
                let start = *i;
                while bytes.get(*i).is_some_and(u8::is_ascii_digit) {
                    *i += 1;
                }
                *i - start
            };
            if bytes.get(i) == Some(&b'-') {
                i += 1;
            }
            match bytes.get(i) {
                Some(b'0') => i += 1,
                Some(b'1'..=b'9') => {
                    digits(&mut i);
                }
                _ => return None,
            }
            if bytes.get(i) == Some(&b'.') {
                i += 1;
                if digits(&mut i) == 0 {
                    return None;
                }
            }
            if matches!(bytes.get(i), Some(b'e' | b'E')) {
                i += 1;
                if matches!(bytes.get(i), Some(b'+' | b'-')) {
                    i += 1;
                }
                if digits(&mut i) == 0 {
                    return None;
                }
            }
            self.pos = i;
            Some(())
        }
    }

    /// Reads the escape at `bytes[i]` (a backslash), hands its character to `emit` and returns the
    /// index after it. `None` for an invalid escape or a `\u` surrogate that is not part of a pair.
    #[inline(never)]
    fn escape(bytes: &[u8], i: usize, emit: &mut dyn FnMut(char)) -> Option<usize> {
        let c = match *bytes.get(i + 1)? {
            b'"' => '"',
            b'\\' => '\\',
            b'/' => '/',
            b'b' => '\u{8}',
            b'f' => '\u{c}',
            b'n' => '\n',
            b'r' => '\r',
            b't' => '\t',
            b'u' => {
                let unit = hex4(bytes, i + 2)?;
                return match unit {
                    0xD800..=0xDBFF => {
                        if bytes.get(i + 6) != Some(&b'\\') || bytes.get(i + 7) != Some(&b'u') {
                            return None;
                        }
                        let low = hex4(bytes, i + 8)?;
                        if !(0xDC00..=0xDFFF).contains(&low) {
                            return None;
                        }
                        let code = 0x10000 + ((u32::from(unit) - 0xD800) << 10) + (u32::from(low) - 0xDC00);
                        emit(char::from_u32(code)?);
                        Some(i + 12)
                    }
                    0xDC00..=0xDFFF => None,
                    unit => {
                        emit(char::from_u32(u32::from(unit))?);
                        Some(i + 6)
                    }
                };
            }
            _ => return None,
        };
        emit(c);
        Some(i + 2)
    }

    fn hex4(bytes: &[u8], at: usize) -> Option<u16> {
        let digits = bytes.get(at..at + 4)?;
        let mut n = 0u16;
        for &d in digits {
            n = n * 16 + (d as char).to_digit(16)? as u16;
        }
        Some(n)
    }

    /// Appends the value of string content `raw` (the text between the quotes, already checked).
    pub(super) fn unescape_into(raw: &str, out: &mut String) -> Option<()> {
        let bytes = raw.as_bytes();
        let mut run = 0;
        let mut i = 0;
        while i < bytes.len() {
            if bytes[i] != b'\\' {
                i += 1;
                continue;
            }
            out.push_str(raw.get(run..i)?);
            i = escape(bytes, i, &mut |c| out.push(c))?;
            run = i;
        }
        out.push_str(raw.get(run..)?);
        Some(())
    }
}

/// A record as the fast reader leaves it: spans instead of borrows, so the buffer of these can live
/// in the decoder and be reused from batch to batch.
#[derive(Debug, Clone, Copy)]
struct Shell {
    seq_num: u64,
    timestamp: i64,
    /// The `headers` array, as a span of the batch text (re-read when the record is handled).
    headers: Option<(usize, usize)>,
    /// The unescaped `body`, as a span of the decoder's body buffer.
    body: Option<(usize, usize)>,
}

/// Reads a whole batch into `shells`, the bodies unescaped into `bodies[..len]`; `None` when anything
/// is outside what the fast reader handles (the caller then uses serde_json).
fn fast_batch(data: &str, shells: &mut Vec<Shell>, bodies: &mut Vec<u8>, len: &mut usize) -> Option<()> {
    let mut c = lex::Cursor::new(data);
    if !c.eat(b'{') || c.eat(b'}') {
        return None;
    }
    let mut records = false;
    loop {
        let key = c.key()?;
        if key == b"records" {
            if records {
                return None;
            }
            records = true;
            if !c.eat(b'[') {
                return None;
            }
            if !c.eat(b']') {
                loop {
                    shells.push(fast_record(&mut c, bodies, len)?);
                    if !c.next_or_close(b']')? {
                        break;
                    }
                }
            }
        } else {
            c.skip_value(0)?;
        }
        if !c.next_or_close(b'}')? {
            break;
        }
    }
    (records && c.at_end()).then_some(())
}

fn fast_record(c: &mut lex::Cursor<'_>, bodies: &mut Vec<u8>, len: &mut usize) -> Option<Shell> {
    if !c.eat(b'{') || c.eat(b'}') {
        return None;
    }
    let mut seq_num = None;
    let mut timestamp = None;
    let mut headers = None;
    let mut body = None;
    loop {
        let key = c.key()?;
        match key {
            b"seq_num" if seq_num.is_none() => seq_num = Some(c.u64()?),
            b"timestamp" if timestamp.is_none() => timestamp = Some(c.i64()?),
            b"headers" if headers.is_none() => {
                headers = Some(if c.null() {
                    None
                } else {
                    c.peek()?;
                    let start = c.pos();
                    fast_headers(c, |_, _| {})?;
                    Some((start, c.pos()))
                })
            }
            b"body" if body.is_none() => {
                body = Some(if c.null() {
                    None
                } else {
                    let start = *len;
                    c.string_into(bodies, len)?;
                    Some((start, *len))
                })
            }
            b"seq_num" | b"timestamp" | b"headers" | b"body" => return None,
            _ => c.skip_value(0)?,
        }
        if !c.next_or_close(b'}')? {
            break;
        }
    }
    Some(Shell {
        seq_num: seq_num?,
        timestamp: timestamp.unwrap_or(0),
        headers: headers.flatten(),
        body: body.flatten(),
    })
}

/// Reads a headers array (`[["name","value"],...]`), handing each pair to `each`.
fn fast_headers<'a>(c: &mut lex::Cursor<'a>, mut each: impl FnMut(Cow<'a, str>, Cow<'a, str>)) -> Option<()> {
    if !c.eat(b'[') {
        return None;
    }
    if c.eat(b']') {
        return Some(());
    }
    loop {
        if !c.eat(b'[') {
            return None;
        }
        let name = c.string()?;
        if !c.eat(b',') {
            return None;
        }
        let value = c.string()?;
        if !c.eat(b']') {
            return None;
        }
        each(name, value);
        if !c.next_or_close(b']')? {
            return Some(());
        }
    }
}

/// The fast read of a data record's body: `{"data": {<keys with string values>}, "id": "<string>"}`
/// (members in any order, `id` optional). `None` sends the body to [`data_body`].
fn fast_data_body(body: &str) -> Option<DataBody> {
    let mut c = lex::Cursor::new(body);
    if !c.eat(b'{') || c.eat(b'}') {
        return None;
    }
    let mut chunk = None;
    let mut part_id = None;
    loop {
        let key = c.key()?;
        match key {
            b"data" if chunk.is_none() => chunk = Some(fast_chunk(&mut c)?),
            b"id" if part_id.is_none() => part_id = Some(c.string()?),
            _ => return None,
        }
        if !c.next_or_close(b'}')? {
            break;
        }
    }
    if !c.at_end() {
        return None;
    }
    let FastChunk { span: (start, end), chunk_type, id, delta, provider_metadata } = chunk?;
    if chunk_type.as_deref().is_some_and(|t| t.starts_with("trigger:")) {
        return None;
    }
    let kind = chunk_type.as_deref().and_then(DeltaKind::from_chunk_type);
    let fields = Fields {
        chunk_type: chunk_type.as_deref(),
        kind,
        delta_id: id.as_deref().filter(|_| kind.is_some() && !provider_metadata),
        delta: delta.as_deref().filter(|_| kind.is_some()),
    };
    let json = body.get(start..end)?;
    Some(DataBody::Chunk(ChunkRecord::build(0, 0, json, part_id.as_deref(), &fields)))
}

/// A chunk object whose values are all strings, as [`fast_data_body`] reads it.
struct FastChunk<'a> {
    span: (usize, usize),
    chunk_type: Option<Cow<'a, str>>,
    id: Option<Cow<'a, str>>,
    delta: Option<Cow<'a, str>>,
    /// A `providerMetadata` key was there (with a string value, so not null).
    provider_metadata: bool,
}

fn fast_chunk<'a>(c: &mut lex::Cursor<'a>) -> Option<FastChunk<'a>> {
    if c.peek()? != b'{' {
        return None;
    }
    let start = c.pos();
    c.eat(b'{');
    let mut chunk =
        FastChunk { span: (start, start), chunk_type: None, id: None, delta: None, provider_metadata: false };
    if !c.eat(b'}') {
        loop {
            let key = c.key()?;
            let value = c.string()?;
            let slot = match key {
                b"type" => &mut chunk.chunk_type,
                b"id" => &mut chunk.id,
                b"delta" => &mut chunk.delta,
                other => {
                    chunk.provider_metadata |= other == b"providerMetadata";
                    if !c.next_or_close(b'}')? {
                        break;
                    }
                    continue;
                }
            };
            if slot.is_some() {
                return None;
            }
            *slot = Some(value);
            if !c.next_or_close(b'}')? {
                break;
            }
        }
    }
    chunk.span.1 = c.pos();
    Some(chunk)
}

/// A body's unescaped text as a [`Body`]: the fast read when it applies, else serde_json.
fn body_from_text(body: &str) -> Body {
    if body.is_empty() {
        return Body::Empty;
    }
    if let Some(data) = fast_data_body(body) {
        return Body::Data(data);
    }
    match data_body(body) {
        Ok(data) => Body::Data(data),
        Err(err) => Body::Invalid(err),
    }
}

/// Checks that the fast body reader agrees with serde_json on `body` (the unescaped text of a
/// record body): wherever it accepts a body, it reads it exactly as the general path does. Panics
/// otherwise. For fuzzing.
#[doc(hidden)]
pub fn check_body_readers(body: &str) {
    let Some(fast) = fast_data_body(body) else {
        return;
    };
    let general = data_body(body);
    match (&fast, &general) {
        (DataBody::Chunk(a), Ok(DataBody::Chunk(b))) => {
            assert!(a.same(b), "fast and general readers disagree on {body:?}: {a:?} vs {b:?}")
        }
        _ => panic!("the fast reader accepted {body:?}, the general one did not agree"),
    }
}

#[cfg(test)]
mod tests {
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
            1 => members.push(
                r#""headers":[["trigger-control","turn-complete"],["public-access-token","t\u006bn"]]"#.to_owned(),
            ),
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
        for bad in [
            r#""\ud800""#,
            r#""\udc00""#,
            r#""\ud800\u0041""#,
            r#""\x""#,
            r#""\u12""#,
            "\"\u{1}\"",
            r#""open"#,
            r#""\"#,
        ] {
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
}
