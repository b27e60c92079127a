//! The serde path: wire shapes of batches and record bodies, borrowed where serde_json can borrow
//! (strings without escapes), so the common header values and names cost no allocation. The
//! reference reader: the fast path hands everything it does not take here.

use super::*;

/// Deserializes `T` from a JSON object only.
///
/// Derived struct impls also accept a JSON array of the fields in order, so `[1, 2]` would pass as
/// a record with seq_num 1; on this wire a non-object is always garbage.
pub(super) struct ObjectOnly<T>(pub(super) T);

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
pub(super) struct Batch<'a> {
    #[serde(borrow)]
    pub(super) records: Vec<ObjectOnly<RawRecord<'a>>>,
}

#[derive(Deserialize)]
pub(super) struct RawRecord<'a> {
    pub(super) seq_num: u64,
    /// Defaulted rather than required: timestamps are informational, and losing a chunk over a
    /// missing one would be worse than reporting 0.
    #[serde(default)]
    pub(super) timestamp: i64,
    #[serde(default, borrow)]
    pub(super) headers: Option<Vec<(Cow<'a, str>, Cow<'a, str>)>>,
    #[serde(default)]
    pub(super) body: Option<Body>,
}

/// A record body, read as a data envelope while the batch itself is parsed.
///
/// serde_json hands an escaped string to the visitor from its scratch buffer; reading it right
/// there saves allocating and copying the unescaped body of every record, and what comes out is the
/// finished [`ChunkRecord`] (one allocation). On this path command and control bodies are read too
/// and simply ignored: they are rare and short (or empty). The fast reader reads data bodies only.
pub(super) enum Body {
    Empty,
    Data(DataBody),
    Invalid(BodyError),
}

/// A data envelope, read and checked; what is left to do depends on the record's headers, its
/// seq_num and the dedup window.
pub(super) enum DataBody {
    /// A chunk for the message (seq_num and timestamp not yet set).
    Chunk(ChunkRecord),
    /// A legacy in-band control chunk (`trigger:*`); `None` for one this client does not know.
    Legacy { part_id: Option<String>, control: Option<Control> },
}

impl DataBody {
    pub(super) fn part_id(&self) -> Option<&str> {
        match self {
            DataBody::Chunk(record) => record.part_id(),
            DataBody::Legacy { part_id, .. } => part_id.as_deref(),
        }
    }
}

pub(super) enum BodyError {
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
pub(super) fn data_body(body: &str) -> Result<DataBody, BodyError> {
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
pub(super) struct Envelope<'a> {
    #[serde(borrow)]
    pub(super) data: &'a RawValue,
    /// Any JSON value: a non-string id degrades to "no id" instead of losing the chunk.
    #[serde(default, borrow)]
    pub(super) id: Option<MaybeStr<'a>>,
}

/// A JSON value that is either a string (borrowed when it had no escapes) or something else.
///
/// Something else is still parsed as fully as a [`Value`] would be (numbers in range, strings valid
/// UTF-8 without lone surrogates), so accepting a `MaybeStr` never accepts what `Value` rejects.
pub(super) enum MaybeStr<'a> {
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
    pub(super) fn map(&self) -> Option<&Map<String, Value>> {
        match self {
            Scan::Map(map) => Some(map),
            Scan::Delta { .. } => None,
        }
    }
}

/// The fast read of a chunk object: `type`, `id` and `delta`, and whether anything else was there.
pub(super) struct Head<'a> {
    pub(super) chunk_type: Option<MaybeStr<'a>>,
    pub(super) id: Option<MaybeStr<'a>>,
    pub(super) delta: Option<MaybeStr<'a>>,
    /// A key other than those three, or one of them twice.
    pub(super) other: bool,
}

impl<'a> Head<'a> {
    /// A [`Scan::Delta`] when the chunk is a delta whose three fields are all it has (each read as a
    /// string, so fully checked): then the map would hold nothing more.
    pub(super) fn into_delta(self) -> Option<Scan<'a>> {
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
