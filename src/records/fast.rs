//! The fast path: a strict reader for the shapes a `.out` stream actually carries.
//!
//! serde_json is general, and for this stream generality is expensive: every record body is a JSON
//! text inside a JSON string, so each quote in it is an escape, and a typed serde pass costs a call
//! per escape, per key and per value. The reader below handles the common shapes directly — the
//! batch object, records with integer seq_num/timestamp, string headers and string bodies, and
//! bodies whose chunk object has only string values — and gives up (`None`) on anything else:
//! nested chunk values, non-string ids, legacy `trigger:*` chunks, odd numbers, duplicated fields,
//! lone surrogates, malformed JSON. Giving up is always safe, because the caller then takes the
//! serde path, which handles everything; so the rule for this reader is only that what it accepts,
//! it reads exactly as serde_json would, and it never accepts JSON that serde_json rejects.

use super::lex;
use super::*;

/// A record as the fast reader leaves it: spans instead of borrows, so the buffer of these can live
/// in the decoder and be reused from batch to batch.
#[derive(Debug, Clone, Copy)]
pub(super) struct Shell {
    pub(super) seq_num: u64,
    pub(super) timestamp: i64,
    /// The `headers` array, as a span of the batch text (re-read when the record is handled).
    pub(super) headers: Option<(usize, usize)>,
    /// The unescaped `body`, as a span of the decoder's body buffer.
    pub(super) body: Option<(usize, usize)>,
}

/// Reads a whole batch into `shells`, the bodies unescaped into `bodies[..len]`; `None` when anything
/// is outside what the fast reader handles (the caller then uses serde_json).
pub(super) fn fast_batch(data: &str, shells: &mut Vec<Shell>, bodies: &mut Vec<u8>, len: &mut usize) -> Option<()> {
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

pub(super) fn fast_record(c: &mut lex::Cursor<'_>, bodies: &mut Vec<u8>, len: &mut usize) -> Option<Shell> {
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
pub(super) fn fast_headers<'a>(
    c: &mut lex::Cursor<'a>,
    mut each: impl FnMut(Cow<'a, str>, Cow<'a, str>),
) -> Option<()> {
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
pub(super) fn fast_data_body(body: &str) -> Option<DataBody> {
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
pub(super) struct FastChunk<'a> {
    pub(super) span: (usize, usize),
    pub(super) chunk_type: Option<Cow<'a, str>>,
    pub(super) id: Option<Cow<'a, str>>,
    pub(super) delta: Option<Cow<'a, str>>,
    /// A `providerMetadata` key was there (with a string value, so not null).
    pub(super) provider_metadata: bool,
}

pub(super) fn fast_chunk<'a>(c: &mut lex::Cursor<'a>) -> Option<FastChunk<'a>> {
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
pub(super) fn body_from_text(body: &str) -> Body {
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
