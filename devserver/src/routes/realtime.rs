//! `/realtime/v1/sessions/{session}/...`: append to `.in`, subscribe to and read `.out`.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};
use tokio::sync::mpsc;

use super::extract::{Authed, AuthedBytes};
use crate::app::App;
use crate::auth::{Caller, Need};
use crate::clock;
use crate::config::RunMode;
use crate::error::{ApiError, ApiResult};
use crate::ids::random_id;
use crate::payload::continuation_payload;
use crate::sse::{self, BodyStream, OutRequest};
use crate::store::PART_ID_TTL_MS;

/// The append route's `maxContentLength`: a DoS pre-guard; the real limit is the metered size.
const APPEND_BODY_LIMIT: usize = 1024 * 1024;
/// S2's limit on one record's metered size (inclusive).
const RECORD_LIMIT: usize = 1024 * 1024;
/// S2 meters a record as its body plus 8 bytes (the server attaches no record headers).
const RECORD_OVERHEAD: usize = 8;

fn need<'a>(action: &'a str, ids: Vec<&'a str>) -> Need<'a> {
    Need { action, resource: "sessions", ids, unscoped_ok: true }
}

/// What the real server writes to S2 for one append: `JSON.stringify({data: part, id: partId})`,
/// whose UTF-8 length (plus [`RECORD_OVERHEAD`]) is what S2 meters. Quotes, backslashes and
/// control characters of the part count twice or more, as JSON escapes them.
pub fn metered_size(part: &str, part_id: &str) -> usize {
    let envelope = json!({ "data": part, "id": part_id }).to_string();
    envelope.len() + RECORD_OVERHEAD
}

pub async fn append(
    State(app): State<Arc<App>>,
    Path(session): Path<String>,
    headers: HeaderMap,
    AuthedBytes { caller, body: bytes }: AuthedBytes<APPEND_BODY_LIMIT>,
) -> ApiResult<Json<Value>> {
    // `request.text()` decodes with replacement characters; invalid UTF-8 is not refused.
    let text = String::from_utf8_lossy(&bytes).into_owned();
    let client_part_id = headers.get("x-part-id").and_then(|v| v.to_str().ok()).map(str::to_string);

    let mut store = app.store();
    let found = store.resolve(&session);
    // Authorized against the URL form and, once found, both of the session's names; a
    // missing session is a 404 only after authorization passed (no information leak).
    let ids: Vec<String> = match &found {
        Some(id) => store.session(id).expect("resolved").ids().into_iter().map(str::to_string).collect(),
        None => Vec::new(),
    };
    let mut all: Vec<&str> = vec![session.as_str()];
    all.extend(ids.iter().map(String::as_str));
    caller.require(&need("write", all))?;
    let id = found.ok_or_else(ApiError::resource_not_found)?;
    let s = store.session_mut(&id).expect("resolved");
    if s.closed_at.is_some() {
        let mut err = ApiError::new(
            409,
            json!({ "ok": false, "error": "Cannot append to a closed session", "code": "session_closed", "closedReason": s.closed_reason }),
        );
        err.body.as_object_mut().expect("object").retain(|k, v| k != "closedReason" || !v.is_null());
        return Err(err);
    }
    if s.is_expired() {
        return Err(ApiError::not_ok(400, "Cannot append to an expired session"));
    }
    let part_id = client_part_id.clone().unwrap_or_else(|| random_id("part"));
    let metered = metered_size(&text, &part_id);
    if metered > RECORD_LIMIT {
        return Err(ApiError::not_ok(
            413,
            format!(
                "Record metered size {metered} bytes exceeds the S2 per-record limit of {RECORD_LIMIT} bytes. Reduce tool-output size or split into smaller parts."
            ),
        ));
    }
    let now = clock::now_ms();
    s.part_ids.retain(|_, t| now.saturating_sub(*t) < PART_ID_TTL_MS);
    let mut answer = json!({ "ok": true });
    if let Some(p) = &client_part_id {
        if s.part_ids.contains_key(p) {
            // A lost idempotency claim: the real server answers without `seq`.
            drop(store);
            app.add_pending_version(&mut answer);
            return Ok(Json(answer));
        }
        s.part_ids.insert(p.clone(), now);
    }
    let seq = s.push_in(text, client_part_id);
    if app.config.runs == RunMode::Server && store.live_run(&id).is_none() {
        // Today's server re-triggers on append: the new run consumes this record.
        let previous = store.session(&id).and_then(|s| s.current_run_id.clone());
        let payload = continuation_payload(&store, &id, previous.as_deref());
        app.start_run(&mut store, &id, payload);
    }
    drop(store);
    answer["seq"] = json!(seq);
    app.add_pending_version(&mut answer);
    Ok(Json(answer))
}

/// `Timeout-Seconds` as the real route parses it: `Number(value)`, an integer in 1..=600, each
/// failure a plain-text 400 with the route's own words (the `Err`). An empty header counts as absent.
fn timeout_seconds(headers: &HeaderMap) -> Result<Option<u64>, &'static str> {
    let Some(raw) = headers.get("timeout-seconds").and_then(|v| v.to_str().ok()) else { return Ok(None) };
    if raw.is_empty() {
        return Ok(None);
    }
    let refuse = |text: &'static str| text;
    let trimmed = raw.trim();
    let parsed: f64 =
        if trimmed.is_empty() { 0.0 } else { trimmed.parse().map_err(|_| refuse("Invalid timeout seconds"))? };
    if !parsed.is_finite() || parsed.fract() != 0.0 {
        return Err(refuse("Invalid timeout seconds"));
    }
    if parsed < 1.0 {
        return Err(refuse("Timeout seconds must be greater than 0"));
    }
    if parsed > 600.0 {
        return Err(refuse("Timeout seconds must be less than 600"));
    }
    Ok(Some(parsed as u64))
}

/// `Last-Event-ID` as the real server reads it: the digits before a `-`, resuming after them.
fn last_event_id(headers: &HeaderMap) -> Option<u64> {
    let raw = headers.get("last-event-id").and_then(|v| v.to_str().ok())?;
    raw.split('-').next()?.trim().parse::<u64>().ok()
}

pub async fn subscribe(
    State(app): State<Arc<App>>,
    Path(session): Path<String>,
    headers: HeaderMap,
    Authed(caller): Authed,
) -> Result<Response, ApiError> {
    let window = match timeout_seconds(&headers) {
        Ok(t) => t.map(Duration::from_secs).unwrap_or(app.config.long_poll),
        Err(refused) => return Ok((StatusCode::BAD_REQUEST, refused).into_response()),
    };
    let cursor = last_event_id(&headers);
    // Only the exact value `1` opts in, as the real route compares it.
    let peek = headers.get("x-peek-settled").is_some_and(|v| v.as_bytes() == b"1");

    let (session_id, settled) = {
        let store = app.store();
        match store.resolve(&session) {
            Some(id) => {
                let s = store.session(&id).expect("resolved");
                caller.require(&need("read", s.ids()))?;
                (Some(id.clone()), peek && s.is_settled())
            }
            // Only a friendly id can be known not to exist; an externalId may simply have no
            // session yet, and gets an empty stream.
            None if session.starts_with("session_") => return Err(ApiError::loader_not_found()),
            None => {
                caller.require(&need("read", vec![session.as_str()]))?;
                (None, false)
            }
        }
    };
    let faults = app.faults().take_out();
    let (tx, rx) = mpsc::channel(8);
    let req = OutRequest { session_id, cursor, window, settled, faults };
    tokio::spawn(sse::serve(app.clone(), req, tx));

    let mut resp = Response::new(Body::from_stream(BodyStream::new(rx)));
    let h = resp.headers_mut();
    h.insert(header::CONTENT_TYPE, "text/event-stream".parse().expect("static"));
    h.insert(header::CACHE_CONTROL, "no-cache".parse().expect("static"));
    h.insert("x-stream-version", "v2".parse().expect("static"));
    if settled {
        h.insert("x-session-settled", "true".parse().expect("static"));
    }
    Ok(resp)
}

/// `GET .../{out,in}/records?afterEventId=N`: a non-SSE, wait=0 drain of one channel, as the
/// agent SDK reads it at run boot. Each record is the channel's `{data, id}` envelope unwrapped
/// next to its `seqNum` (and `headers`, when it has any); S2 command records are left out, and
/// control records come back with `data` and `id` empty. An externalId that names no session
/// yet reads as empty, like the SSE route; a `session_...` id must exist.
pub async fn out_records(
    State(app): State<Arc<App>>,
    Path(session): Path<String>,
    Query(q): Query<HashMap<String, String>>,
    Authed(caller): Authed,
) -> ApiResult<Json<Value>> {
    read_records(app, session, q, caller, Io::Out)
}

pub async fn in_records(
    State(app): State<Arc<App>>,
    Path(session): Path<String>,
    Query(q): Query<HashMap<String, String>>,
    Authed(caller): Authed,
) -> ApiResult<Json<Value>> {
    read_records(app, session, q, caller, Io::In)
}

enum Io {
    Out,
    In,
}

fn read_records(
    app: Arc<App>,
    session: String,
    q: HashMap<String, String>,
    caller: Caller,
    io: Io,
) -> ApiResult<Json<Value>> {
    let after = match q.get("afterEventId") {
        None => None,
        Some(v) if !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()) => {
            Some(v.parse::<u64>().map_err(|_| ApiError::msg(400, "afterEventId must be an integer"))?)
        }
        Some(_) => return Err(ApiError::msg(400, "afterEventId must be an integer")),
    };
    let store = app.store();
    let Some(id) = store.resolve(&session) else {
        if session.starts_with("session_") {
            return Err(ApiError::loader_not_found());
        }
        caller.require(&need("read", vec![session.as_str()]))?;
        return Ok(Json(json!({ "records": [] })));
    };
    let s = store.session(&id).expect("resolved");
    caller.require(&need("read", s.ids()))?;
    let records: Vec<Value> = match io {
        Io::Out => s
            .records_after(after, usize::MAX)
            .iter()
            .filter(|r| !r.is_command())
            .map(|r| {
                let envelope: Value = serde_json::from_str(&r.body).unwrap_or(Value::Null);
                let mut v = json!({
                    "data": envelope.get("data").cloned().unwrap_or_else(|| json!("")),
                    "id": envelope.get("id").and_then(Value::as_str).unwrap_or(""),
                    "seqNum": r.seq_num,
                });
                if !r.headers.is_empty() {
                    v["headers"] = json!(r.headers.iter().map(|(k, v)| json!([k, v])).collect::<Vec<_>>());
                }
                v
            })
            .collect(),
        // `.in` bodies are stored as the client posted them: `data` is that raw JSON text.
        Io::In => s
            .in_log
            .iter()
            .filter(|r| after.is_none_or(|a| r.seq > a))
            .map(|r| {
                let id = r.part_id.clone().unwrap_or_else(|| format!("in_{}", r.seq));
                json!({ "data": r.body, "id": id, "seqNum": r.seq })
            })
            .collect(),
    };
    Ok(Json(json!({ "records": records })))
}
