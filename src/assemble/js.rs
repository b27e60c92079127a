//! Small JSON helpers mirroring JavaScript semantics (truthiness, `==`, string conversion), so the
//! assembler decides as the AI SDK's code does.

use super::*;

/// Append a delta to the `text` of a text/reasoning part and take a newer `providerMetadata`.
#[inline]
pub(super) fn append_text(part: Option<&mut Value>, c: &Map<String, Value>) {
    let Some(Value::Object(p)) = part else { return };
    let delta = c.get("delta").and_then(Value::as_str).unwrap_or("");
    match p.get_mut("text") {
        Some(Value::String(s)) => s.push_str(delta),
        _ => {
            p.insert("text".into(), Value::String(delta.to_owned()));
        }
    }
    if let Some(pm) = non_null(c.get("providerMetadata")) {
        p.insert("providerMetadata".into(), pm.clone());
    }
}

/// Insert `key` when the JavaScript value is not `undefined` (an explicit `null` is kept, as
/// `JSON.stringify` keeps it).
#[inline]
pub(super) fn put(map: &mut Map<String, Value>, key: &str, v: Option<&Value>) {
    if let Some(v) = v {
        map.insert(key.to_owned(), v.clone());
    }
}

/// JavaScript assignment `obj[key] = v`, where assigning `undefined` makes the key vanish from JSON.
#[inline]
pub(super) fn set(map: &mut Map<String, Value>, key: &str, v: Option<Value>) {
    match v {
        Some(v) => {
            map.insert(key.to_owned(), v);
        }
        None => {
            map.remove(key);
        }
    }
}

/// `v != null` in JavaScript: neither undefined nor null.
#[inline]
pub(super) fn non_null(v: Option<&Value>) -> Option<&Value> {
    v.filter(|v| !v.is_null())
}

/// JavaScript truthiness.
pub(super) fn truthy(v: Option<&Value>) -> bool {
    match v {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(Value::Number(n)) => n.as_f64().is_some_and(|f| f != 0.0 && !f.is_nan()),
        Some(Value::String(s)) => !s.is_empty(),
        Some(Value::Array(_) | Value::Object(_)) => true,
    }
}

/// JavaScript `===` on two possibly-undefined JSON values: objects and arrays are never equal (the
/// SDK compares ids, which are strings; distinct parsed objects are distinct references).
pub(super) fn js_eq(a: Option<&Value>, b: Option<&Value>) -> bool {
    match (a, b) {
        (None, None) => true,
        (Some(Value::Null), Some(Value::Null)) => true,
        (Some(Value::String(x)), Some(Value::String(y))) => x == y,
        (Some(Value::Bool(x)), Some(Value::Bool(y))) => x == y,
        (Some(Value::Number(x)), Some(Value::Number(y))) => x.as_f64() == y.as_f64(),
        _ => false,
    }
}

/// JavaScript `String(v)` for the scalar ids and names the SDK interpolates.
pub(super) fn js_string(v: Option<&Value>) -> String {
    match v {
        None => "undefined".to_owned(),
        Some(Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
    }
}

/// The key under which an id-keyed map (open text parts, tool calls) stores a chunk's id. The SDK
/// indexes a plain object, which stringifies the key the same way.
pub(super) fn id_key(v: Option<&Value>) -> String {
    js_string(v)
}

/// Borrowing form of [`id_key`] for lookups on the hot path: no allocation for the usual string id.
#[inline]
pub(super) fn id_str(v: Option<&Value>) -> Cow<'_, str> {
    match v {
        Some(Value::String(s)) => Cow::Borrowed(s),
        other => Cow::Owned(js_string(other)),
    }
}

pub(super) fn is_tool_value(p: &Value) -> bool {
    p.get("type").and_then(Value::as_str).is_some_and(is_tool_type)
}

/// The SDK's `getStaticToolName`: the type after its first `-`.
pub(super) fn static_tool_name(part: &Value) -> &str {
    let t = part.get("type").and_then(Value::as_str).unwrap_or("");
    t.split_once('-').map_or("", |(_, rest)| rest)
}

pub(super) fn merge_objects(base: &mut Map<String, Value>, over: &Map<String, Value>) {
    for (k, v) in over {
        if matches!(k.as_str(), "__proto__" | "constructor" | "prototype") {
            continue;
        }
        match (base.get_mut(k), v) {
            (Some(Value::Object(b)), Value::Object(o)) => merge_objects(b, o),
            _ => {
                base.insert(k.clone(), v.clone());
            }
        }
    }
}
