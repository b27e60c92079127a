//! Request-body validation with the real server's rules: each check mirrors one zod rule of the
//! published `@trigger.dev/core@4.8.3` schemas (`v3/schemas/api.js`), so a body the real server
//! refuses is refused here too, with a 400 (see `devserver/README.md`, "Routes").
//!
//! Like zod objects, unknown keys are ignored, and an optional field must be absent rather
//! than `null` unless its schema says `nullable`/`nullish`. Lengths count UTF-16 code units, as
//! JavaScript's `string.length` (and so zod's `min`/`max`) does.

use serde_json::{Map, Value};

use crate::error::ApiError;

/// One schema violation: where it is (a zod path such as `triggerConfig.tags[0]`) and what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Issue {
    pub path: String,
    pub message: String,
}

pub type Checked<T> = Result<T, Issue>;

/// zod 3's message when no member of a union even has the right type (a member that has the
/// right type but fails a refinement reports its own issue instead).
const INVALID_UNION: &str = "Invalid input";

/// A body schema violation is a 400 worded as the real server's `fromZodError(...).toString()`
/// (zod-validation-error 1.x over zod 3): `Validation error: <message> at "<path>"`.
impl From<Issue> for ApiError {
    fn from(issue: Issue) -> Self {
        let text = if issue.path.is_empty() {
            format!("Validation error: {}", issue.message)
        } else {
            format!("Validation error: {} at \"{}\"", issue.message, issue.path)
        };
        ApiError::msg(400, text)
    }
}

fn issue(path: &str, message: impl Into<String>) -> Issue {
    Issue { path: path.to_string(), message: message.into() }
}

/// `a.b` for an object key below `path`.
pub fn at(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

fn expected(path: &str, what: &str, got: &Value) -> Issue {
    issue(path, format!("Expected {what}, received {}", type_name(got)))
}

/// JavaScript's `string.length`.
pub fn js_len(s: &str) -> usize {
    s.encode_utf16().count()
}

/// JavaScript's `String.prototype.trim` (Unicode white space, line terminators and the BOM).
pub fn js_trim(s: &str) -> &str {
    s.trim_matches(|c: char| c.is_whitespace() || c == '\u{feff}')
}

pub fn object<'a>(v: &'a Value, path: &str) -> Checked<&'a Map<String, Value>> {
    v.as_object().ok_or_else(|| expected(path, "object", v))
}

/// An optional field: `None` when absent. Present `null` is a type error for the caller's check.
pub fn optional<'a>(obj: &'a Map<String, Value>, key: &str) -> Option<&'a Value> {
    obj.get(key)
}

/// A required field.
pub fn required<'a>(obj: &'a Map<String, Value>, key: &str, path: &str) -> Checked<&'a Value> {
    obj.get(key).ok_or_else(|| issue(&at(path, key), "Required"))
}

/// `z.string().min(min).max(max)`.
pub fn string<'a>(v: &'a Value, path: &str, min: usize, max: Option<usize>) -> Checked<&'a str> {
    let s = v.as_str().ok_or_else(|| expected(path, "string", v))?;
    check_len(s, path, min, max)?;
    Ok(s)
}

fn check_len(s: &str, path: &str, min: usize, max: Option<usize>) -> Checked<()> {
    let n = js_len(s);
    if n < min {
        return Err(issue(path, format!("String must contain at least {min} character(s)")));
    }
    if let Some(max) = max.filter(|&m| n > m) {
        return Err(issue(path, format!("String must contain at most {max} character(s)")));
    }
    Ok(())
}

/// `z.string().trim().min(min).max(max)`: the trimmed value, checked after trimming.
pub fn trimmed_string<'a>(v: &'a Value, path: &str, min: usize, max: usize) -> Checked<&'a str> {
    let s = js_trim(v.as_str().ok_or_else(|| expected(path, "string", v))?);
    check_len(s, path, min, Some(max))?;
    Ok(s)
}

/// `z.number().int()` with optional bounds (`positive()` is `min = 1`).
pub fn integer(v: &Value, path: &str, min: Option<i64>, max: Option<i64>) -> Checked<i64> {
    let n = v.as_f64().ok_or_else(|| expected(path, "number", v))?;
    if n.fract() != 0.0 || !n.is_finite() {
        return Err(issue(path, "Expected integer, received float"));
    }
    if let Some(min) = min.filter(|&m| n < m as f64) {
        return Err(issue(
            path,
            if min == 1 {
                "Number must be greater than 0".to_string()
            } else {
                format!("Number must be greater than or equal to {min}")
            },
        ));
    }
    if let Some(max) = max.filter(|&m| n > m as f64) {
        return Err(issue(path, format!("Number must be less than or equal to {max}")));
    }
    Ok(n as i64)
}

/// `z.array(z.string().max(item_max)).max(max_items)`.
pub fn string_array(v: &Value, path: &str, max_items: usize, item_max: usize) -> Checked<Vec<String>> {
    let items = v.as_array().ok_or_else(|| expected(path, "array", v))?;
    if items.len() > max_items {
        return Err(issue(path, format!("Array must contain at most {max_items} element(s)")));
    }
    items
        .iter()
        .enumerate()
        .map(|(i, item)| string(item, &format!("{path}[{i}]"), 0, Some(item_max)).map(str::to_string))
        .collect()
}

/// `z.enum([...])`.
pub fn one_of<'a>(v: &'a Value, path: &str, allowed: &[&str]) -> Checked<&'a str> {
    let s = v.as_str().ok_or_else(|| expected(path, "string", v))?;
    if allowed.contains(&s) {
        Ok(s)
    } else {
        let list = allowed.iter().map(|a| format!("'{a}'")).collect::<Vec<_>>().join(" | ");
        Err(issue(path, format!("Invalid enum value. Expected {list}, received '{s}'")))
    }
}

/// `z.record(z.string(), z.unknown())`: any JSON object.
pub fn record<'a>(v: &'a Value, path: &str) -> Checked<&'a Map<String, Value>> {
    object(v, path)
}

/// `z.coerce.date()`: what `new Date(value)` accepts (an ISO string or a number of ms).
pub fn coerced_date(v: &Value, path: &str) -> Checked<u64> {
    let ms = match v {
        Value::Number(n) => n.as_f64().filter(|f| f.is_finite() && *f >= 0.0).map(|f| f as u64),
        Value::String(s) => crate::clock::parse_iso(s),
        _ => None,
    };
    ms.ok_or_else(|| issue(path, "Invalid date"))
}

/// `MachinePresetName` in `v3/schemas/common.js`.
pub const MACHINE_PRESETS: &[&str] =
    &["micro", "small-1x", "small-2x", "medium-1x", "medium-2x", "large-1x", "large-2x"];

/// Every run-tag rule in one place: `z.array(z.string().max(128)).max(10)`.
pub const MAX_TAGS: usize = 10;
pub const MAX_TAG_LEN: usize = 128;

/// `SessionTriggerConfig`: checks every field the schema names and returns nothing; the
/// session keeps the config as sent (the real server stores the parsed copy, which for the
/// fields a client reads back is the same).
pub fn session_trigger_config(v: &Value, path: &str) -> Checked<()> {
    let obj = object(v, path)?;
    record(required(obj, "basePayload", path)?, &at(path, "basePayload"))?;
    if let Some(m) = optional(obj, "machine") {
        one_of(m, &at(path, "machine"), MACHINE_PRESETS)?;
    }
    if let Some(q) = optional(obj, "queue") {
        string(q, &at(path, "queue"), 0, Some(128))?;
    }
    if let Some(c) = optional(obj, "concurrency") {
        concurrency_limits(c, &at(path, "concurrency"))?;
    }
    if let Some(k) = optional(obj, "concurrencyKey") {
        if !k.is_string() && !k.is_number() {
            return Err(issue(&at(path, "concurrencyKey"), INVALID_UNION));
        }
    }
    if let Some(t) = optional(obj, "tags") {
        string_array(t, &at(path, "tags"), MAX_TAGS, MAX_TAG_LEN)?;
    }
    if let Some(n) = optional(obj, "maxAttempts") {
        integer(n, &at(path, "maxAttempts"), Some(1), Some(10))?;
    }
    if let Some(n) = optional(obj, "maxDuration") {
        integer(n, &at(path, "maxDuration"), Some(1), None)?;
    }
    if let Some(s) = optional(obj, "lockToVersion") {
        string(s, &at(path, "lockToVersion"), 0, None)?;
    }
    if let Some(e) = optional(obj, "externalDeploymentId") {
        external_deployment_id(e, &at(path, "externalDeploymentId"))?;
    }
    if let Some(s) = optional(obj, "region") {
        string(s, &at(path, "region"), 0, None)?;
    }
    if let Some(n) = optional(obj, "idleTimeoutInSeconds") {
        integer(n, &at(path, "idleTimeoutInSeconds"), Some(1), Some(3600))?;
    }
    if let Some(t) = optional(obj, "ttl") {
        match t {
            Value::String(_) => {}
            Value::Number(_) => {
                integer(t, &at(path, "ttl"), Some(0), None)?;
            }
            _ => return Err(issue(&at(path, "ttl"), INVALID_UNION)),
        }
    }
    Ok(())
}

/// `TriggerConcurrencyLimitsSchema`: at most 2 names of `[a-zA-Z0-9_-]{1,122}`.
fn concurrency_limits(v: &Value, path: &str) -> Checked<()> {
    let items = v.as_array().ok_or_else(|| expected(path, "array", v))?;
    if items.len() > 2 {
        return Err(issue(path, "Array must contain at most 2 element(s)"));
    }
    for (i, item) in items.iter().enumerate() {
        let p = format!("{path}[{i}]");
        let s = item.as_str().ok_or_else(|| expected(&p, "string", item))?;
        let ok = (1..=122).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
        if !ok {
            return Err(issue(
                &p,
                "Concurrency limit names are 1-122 characters using only letters, numbers, underscores and hyphens",
            ));
        }
    }
    Ok(())
}

/// `ExternalDeploymentId`: `null` and blank strings read as absent; otherwise at most 128.
fn external_deployment_id(v: &Value, path: &str) -> Checked<()> {
    match v {
        Value::Null => Ok(()),
        Value::String(s) if js_len(js_trim(s)) > 128 => Err(issue(path, "externalId must be at most 128 characters")),
        Value::String(_) => Ok(()),
        other => Err(expected(path, "string", other)),
    }
}

/// The `session_` rule of `externalId` (create and update).
pub fn external_id(v: &Value, path: &str) -> Checked<String> {
    let s = trimmed_string(v, path, 1, 256)?;
    if s.starts_with("session_") {
        return Err(issue(path, "externalId cannot start with 'session_' (reserved prefix for internal friendlyIds)"));
    }
    Ok(s.to_string())
}

/// What `CreateSessionRequestBody` yields once it has parsed.
pub struct CreateSession {
    pub kind: String,
    pub external_id: Option<String>,
    pub task_identifier: String,
    pub tags: Option<Vec<String>>,
    pub metadata: Option<Value>,
    pub expires_at: Option<u64>,
}

/// `CreateSessionRequestBody`.
pub fn create_session(v: &Value) -> Checked<CreateSession> {
    let obj = object(v, "")?;
    let kind = string(required(obj, "type", "")?, "type", 1, Some(64))?.to_string();
    let external_id = optional(obj, "externalId").map(|e| external_id(e, "externalId")).transpose()?;
    let task_identifier = string(required(obj, "taskIdentifier", "")?, "taskIdentifier", 1, Some(128))?.to_string();
    session_trigger_config(required(obj, "triggerConfig", "")?, "triggerConfig")?;
    let tags = optional(obj, "tags").map(|t| string_array(t, "tags", MAX_TAGS, MAX_TAG_LEN)).transpose()?;
    let metadata = optional(obj, "metadata").map(|m| record(m, "metadata").map(|_| m.clone())).transpose()?;
    let expires_at = optional(obj, "expiresAt").map(|d| coerced_date(d, "expiresAt")).transpose()?;
    Ok(CreateSession { kind, external_id, task_identifier, tags, metadata, expires_at })
}

/// What `UpdateSessionRequestBody` yields: `Some(None)` clears a nullable field.
pub struct UpdateSession {
    pub tags: Option<Vec<String>>,
    pub metadata: Option<Value>,
    pub external_id: Option<Option<String>>,
}

/// `UpdateSessionRequestBody`.
pub fn update_session(v: &Value) -> Checked<UpdateSession> {
    let obj = object(v, "")?;
    let tags = optional(obj, "tags").map(|t| string_array(t, "tags", MAX_TAGS, MAX_TAG_LEN)).transpose()?;
    let metadata = match optional(obj, "metadata") {
        None => None,
        Some(Value::Null) => Some(Value::Null),
        Some(m) => Some(record(m, "metadata").map(|_| m.clone())?),
    };
    let external_id = match optional(obj, "externalId") {
        None => None,
        Some(Value::Null) => Some(None),
        Some(e) => Some(Some(external_id(e, "externalId")?)),
    };
    Ok(UpdateSession { tags, metadata, external_id })
}

/// What `CloseSessionRequestBody` yields.
pub struct CloseSession {
    pub reason: Option<String>,
    pub calling_run_id: Option<String>,
}

/// `CloseSessionRequestBody`.
pub fn close_session(v: &Value) -> Checked<CloseSession> {
    let obj = object(v, "")?;
    let reason = optional(obj, "reason").map(|r| string(r, "reason", 0, Some(256)).map(str::to_string)).transpose()?;
    let calling_run_id =
        optional(obj, "callingRunId").map(|r| string(r, "callingRunId", 0, None).map(str::to_string)).transpose()?;
    Ok(CloseSession { reason, calling_run_id })
}

/// `RunTags` of a trigger's `options.tags`: a string or an array of strings, each at most 128.
pub fn run_tags(v: &Value, path: &str) -> Checked<Vec<String>> {
    match v {
        Value::String(s) => {
            if js_len(s) > MAX_TAG_LEN {
                return Err(issue(path, "Tags must be less than 128 characters"));
            }
            Ok(vec![s.clone()])
        }
        Value::Array(items) => items
            .iter()
            .enumerate()
            .map(|(i, item)| {
                let p = format!("{path}[{i}]");
                let s = item.as_str().ok_or_else(|| expected(&p, "string", item))?;
                if js_len(s) > MAX_TAG_LEN {
                    return Err(issue(&p, "Tags must be less than 128 characters"));
                }
                Ok(s.to_string())
            })
            .collect(),
        _ => Err(issue(path, INVALID_UNION)),
    }
}

/// `TriggerTaskRequestBody`, for the `options` fields a client may get wrong; returns the
/// run tags (the trigger validator then allows at most 10).
pub fn trigger_task(v: &Value) -> Checked<Vec<String>> {
    let obj = object(v, "")?;
    let Some(options) = optional(obj, "options") else { return Ok(Vec::new()) };
    let options = object(options, "options")?;
    if let Some(k) = optional(options, "idempotencyKey") {
        let s = k.as_str().ok_or_else(|| expected("options.idempotencyKey", "string", k))?;
        if js_len(s) > 2048 {
            return Err(issue("options.idempotencyKey", "idempotencyKey must be 2048 characters or less"));
        }
    }
    for key in ["maxAttempts", "payloadSize"] {
        if let Some(n) = optional(options, key) {
            integer(n, &at("options", key), if key == "payloadSize" { Some(0) } else { None }, None)?;
        }
    }
    if let Some(m) = optional(options, "machine") {
        one_of(m, "options.machine", MACHINE_PRESETS)?;
    }
    for key in ["payloadType", "metadataType", "lockToVersion", "idempotencyKeyTTL", "region"] {
        if let Some(s) = optional(options, key) {
            string(s, &at("options", key), 0, None)?;
        }
    }
    match optional(options, "tags") {
        None => Ok(Vec::new()),
        Some(t) => run_tags(t, "options.tags"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn lengths_count_utf16_units() {
        assert_eq!(js_len("héllo"), 5);
        assert_eq!(js_len("😀"), 2);
        assert!(string(&json!("😀"), "x", 0, Some(1)).is_err());
    }

    #[test]
    fn external_id_is_trimmed_before_its_checks() {
        assert_eq!(external_id(&json!("  chat-1 "), "externalId").unwrap(), "chat-1");
        assert!(external_id(&json!("   "), "externalId").is_err());
        assert!(external_id(&json!(" session_x"), "externalId").is_err());
    }

    #[test]
    fn integers_refuse_floats_and_bounds() {
        assert!(integer(&json!(1.5), "n", Some(1), Some(10)).is_err());
        assert!(integer(&json!(0), "n", Some(1), Some(10)).is_err());
        assert_eq!(integer(&json!(10.0), "n", Some(1), Some(10)).unwrap(), 10);
        assert!(integer(&json!(11), "n", Some(1), Some(10)).is_err());
    }
}
