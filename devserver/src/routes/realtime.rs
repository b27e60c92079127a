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

use super::read_all;
use crate::app::App;
use crate::auth::Need;
use crate::clock;
use crate::config::RunMode;
use crate::error::{ApiError, ApiResult};
use crate::sse::{self, BodyStream, OutRequest};
use crate::store::PART_ID_TTL_MS;

/// S2's limit on one record's metered size.
const RECORD_LIMIT: u64 = 1024 * 1024;
/// S2 meters a record as its body plus 8 bytes of overhead (there are no headers here).
const RECORD_OVERHEAD: u64 = 8;

fn need<'a>(action: &'a str, ids: Vec<&'a str>) -> Need<'a> {
    Need { action, resource: "sessions", ids, unscoped_ok: true }
}

fn too_big(size: u64) -> ApiError {
    ApiError::not_ok(413, format!("Record metered size {size} bytes exceeds the maximum of {RECORD_LIMIT} bytes"))
}

pub async fn append(
    State(app): State<Arc<App>>,
    Path(session): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> ApiResult<Json<Value>> {
    let caller = app.authenticate(&headers)?;
    let bytes = read_all(body).await.ok_or_else(ApiError::too_large)?;
    let metered = bytes.len() as u64 + RECORD_OVERHEAD;
    if metered > RECORD_LIMIT {
        return Err(too_big(metered));
    }
    let text = String::from_utf8(bytes.to_vec()).map_err(|_| ApiError::not_ok(400, "Body must be UTF-8 text"))?;
    let part_id = headers.get("x-part-id").and_then(|v| v.to_str().ok()).map(str::to_string);

    let mut store = app.store();
    let id = store.resolve(&session).ok_or_else(|| ApiError::not_ok(404, "Session not found"))?;
    let s = store.session_mut(&id).expect("resolved");
    caller.require(&need("write", s.ids()))?;
    if s.closed_at.is_some() {
        return Err(ApiError::not_ok(400, "Cannot append to a closed session"));
    }
    if s.is_expired() {
        return Err(ApiError::not_ok(400, "Cannot append to an expired session"));
    }
    let now = clock::now_ms();
    s.part_ids.retain(|_, t| now.saturating_sub(*t) < PART_ID_TTL_MS);
    if let Some(p) = &part_id {
        if s.part_ids.contains_key(p) {
            return Ok(Json(json!({ "ok": true })));
        }
        s.part_ids.insert(p.clone(), now);
    }
    let seq = s.push_in(text, part_id);
    if app.config.runs == RunMode::Server && store.live_run(&id).is_none() {
        // Today's server re-triggers on append: the new run consumes this record.
        let previous = store.session(&id).and_then(|s| s.current_run_id.clone());
        let payload = App::continuation_payload(&store, &id, previous.as_deref());
        app.start_run(&mut store, &id, payload);
    }
    Ok(Json(json!({ "ok": true, "seq": seq })))
}

fn bad_timeout() -> Response {
    (StatusCode::BAD_REQUEST, "Invalid Timeout-Seconds header: expected an integer between 1 and 600")
        .into_response()
}

pub async fn subscribe(
    State(app): State<Arc<App>>,
    Path(session): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let caller = app.authenticate(&headers)?;
    let window = match headers.get("timeout-seconds") {
        None => app.config.long_poll,
        Some(v) => match v.to_str().ok().and_then(|s| s.trim().parse::<u64>().ok()) {
            Some(n) if (1..=600).contains(&n) => Duration::from_secs(n),
            _ => return Ok(bad_timeout()),
        },
    };
    let cursor = headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .and_then(|s| s.trim().parse::<u64>().ok());
    let peek = headers
        .get("x-peek-settled")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim() == "1" || v.trim().eq_ignore_ascii_case("true"));

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
            None if session.starts_with("session_") => return Err(ApiError::session_not_found_get()),
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
    headers: HeaderMap,
) -> ApiResult<Json<Value>> {
    read_records(app, session, q, headers, Io::Out)
}

pub async fn in_records(
    State(app): State<Arc<App>>,
    Path(session): Path<String>,
    Query(q): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> ApiResult<Json<Value>> {
    read_records(app, session, q, headers, Io::In)
}

enum Io {
    Out,
    In,
}

fn read_records(
    app: Arc<App>,
    session: String,
    q: HashMap<String, String>,
    headers: HeaderMap,
    io: Io,
) -> ApiResult<Json<Value>> {
    let caller = app.authenticate(&headers)?;
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
            return Err(ApiError::session_not_found_get());
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
