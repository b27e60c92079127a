//! Typed calls of the Trigger.dev REST and realtime APIs (PROTOCOL 1, 2, 4, 5). Each function is one
//! endpoint: it builds the body, calls [`Http::call`], and reads what the caller needs from the answer.

use serde_json::{json, Value};

use crate::error::{Error, ErrorKind, Result};
use crate::http::{encode_segment, Http, Request};
use crate::secret::Secret;

/// Largest `.in` record the server accepts (1 MiB metered); tchat refuses bigger ones before sending.
pub const MAX_APPEND_BYTES: usize = 1024 * 1024;

/// What `POST /api/v1/sessions` told us.
#[derive(Debug)]
pub(crate) struct CreatedSession {
    pub session_id: String,
    pub run_id: Option<String>,
    pub token: Option<Secret>,
    pub is_cached: bool,
}

/// `POST /api/v1/sessions`: create the session, or get the existing one for this external id.
pub(crate) fn create_session(http: &Http, token: &Secret, body: &Value) -> Result<CreatedSession> {
    let answer = http.call(&Request::post("/api/v1/sessions".into(), token, to_bytes(body)?))?;
    let v: Value = answer.json("create session")?;
    let session_id = str_field(&v, "id")
        .ok_or_else(|| Error::protocol("create session answer has no \"id\""))?;
    Ok(CreatedSession {
        session_id,
        run_id: str_field(&v, "runId"),
        token: str_field(&v, "publicAccessToken").map(Secret::new),
        is_cached: v.get("isCached").and_then(Value::as_bool).unwrap_or(false),
    })
}

/// What `POST /api/v1/tasks/{id}/trigger` told us.
#[derive(Debug)]
pub(crate) struct TriggeredRun {
    pub run_id: String,
    pub token: Option<Secret>,
}

/// `POST /api/v1/tasks/{task}/trigger` (the seed flow): start a run of the agent bound to the session.
pub(crate) fn trigger_run(http: &Http, token: &Secret, task: &str, payload: Value) -> Result<TriggeredRun> {
    let options = json!({ "idempotencyKey": crate::ids::new_id("tchat-trigger-") });
    let body = json!({ "payload": payload, "options": options });
    let path = format!("/api/v1/tasks/{}/trigger", encode_segment(task));
    let answer = http.call(&Request::post(path, token, to_bytes(&body)?))?;
    let v: Value = answer.json("trigger task")?;
    let run_id = str_field(&v, "id").ok_or_else(|| Error::protocol("trigger answer has no run \"id\""))?;
    Ok(TriggeredRun { run_id, token: answer.header("x-trigger-jwt").map(Secret::new) })
}

/// `GET /api/v3/runs/{run}`: the run's status string (`EXECUTING`, `COMPLETED`, ...).
pub(crate) fn run_status(http: &Http, token: &Secret, run_id: &str) -> Result<String> {
    let answer = http.call(&Request::get(format!("/api/v3/runs/{}", encode_segment(run_id)), token))?;
    let v: Value = answer.json("retrieve run")?;
    str_field(&v, "status").ok_or_else(|| Error::protocol("run answer has no \"status\""))
}

/// Whether a run status is final (the run will never read `.in` again).
pub(crate) fn run_is_final(status: &str) -> bool {
    matches!(status, "COMPLETED" | "CANCELED" | "FAILED" | "CRASHED" | "SYSTEM_FAILURE" | "EXPIRED" | "TIMED_OUT")
}

/// `POST /realtime/v1/sessions/{session}/in/append` with one ChatInputChunk. The same `part_id` must
/// be given on every retry of one logical send: the server drops duplicates. Returns the `.in` seq,
/// or `None` when the server recognised a duplicate.
pub(crate) fn append(http: &Http, token: &Secret, session: &str, chunk: &Value, part_id: &str) -> Result<Option<u64>> {
    let body = to_bytes(chunk)?;
    if body.len() > MAX_APPEND_BYTES {
        return Err(Error::new(
            ErrorKind::TooLarge,
            format!("message is {} bytes; the server accepts at most {MAX_APPEND_BYTES} bytes per .in record", body.len()),
        ));
    }
    let path = format!("/realtime/v1/sessions/{}/in/append", encode_segment(session));
    let answer = http.call(&Request::post(path, token, body).header("x-part-id", part_id))?;
    let v: Value = answer.json("append")?;
    if v.get("ok").and_then(Value::as_bool) == Some(false) {
        let msg = str_field(&v, "error").unwrap_or_else(|| "append refused".into());
        return Err(Error::http(ErrorKind::Http, answer.status, format!("POST .in/append: {msg}")));
    }
    Ok(v.get("seq").and_then(Value::as_u64))
}

/// `POST /api/v1/sessions/{session}/close` (secret key or an admin JWT; the session PAT cannot).
pub(crate) fn close_session(http: &Http, token: &Secret, session: &str, reason: Option<&str>) -> Result<()> {
    let body = match reason {
        Some(r) => json!({ "reason": r }),
        None => json!({}),
    };
    let path = format!("/api/v1/sessions/{}/close", encode_segment(session));
    http.call(&Request::post(path, token, to_bytes(&body)?))?;
    Ok(())
}

fn to_bytes(v: &Value) -> Result<Vec<u8>> {
    serde_json::to_vec(v).map_err(|e| Error::invalid(format!("cannot serialize request: {e}")))
}

fn str_field(v: &Value, name: &str) -> Option<String> {
    v.get(name).and_then(Value::as_str).map(str::to_owned)
}
