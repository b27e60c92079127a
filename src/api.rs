//! Typed calls of the Trigger.dev REST and realtime APIs (PROTOCOL 1, 2, 4, 5). Each function is one
//! endpoint: it builds the body, calls [`Http::call`], and reads what the caller needs from the answer.

use serde_json::{json, Value};

use crate::error::{Error, ErrorKind, Result};
use crate::http::{encode_segment, Http, Request};
use crate::secret::Secret;
use crate::wire::{AppendResponse, RunResponse, SessionResponse, TriggerTaskResponse};

/// Largest `.in` record the server accepts, metered as S2 meters it (see [`metered_append_size`]);
/// tchat refuses bigger ones before sending.
pub const MAX_APPEND_BYTES: usize = 1024 * 1024;

/// The size the server meters for one append: it stores the body as the `data` string of
/// `{"data": <body>, "id": <part id>}`, and S2 counts that JSON text plus 8 bytes. Quotes and
/// backslashes in the body count twice (escaped), control characters up to six times.
pub(crate) fn metered_append_size(body: &[u8], part_id: &str) -> usize {
    let text = String::from_utf8_lossy(body);
    let envelope = json!({ "data": text, "id": part_id }).to_string();
    envelope.len() + 8
}

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
    let session: SessionResponse = answer.json("create session")?;
    Ok(CreatedSession {
        session_id: session.id,
        run_id: session.run_id,
        token: session.public_access_token.filter(|t| !t.is_empty()),
        is_cached: session.is_cached.unwrap_or(false),
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
    let run: TriggerTaskResponse = answer.json("trigger task")?;
    Ok(TriggeredRun { run_id: run.id, token: answer.header("x-trigger-jwt").map(Secret::new) })
}

/// `GET /api/v3/runs/{run}`: the run's status string (`EXECUTING`, `COMPLETED`, ...).
pub(crate) fn run_status(http: &Http, token: &Secret, run_id: &str) -> Result<String> {
    let answer = http.call(&Request::get(format!("/api/v3/runs/{}", encode_segment(run_id)), token))?;
    let run: RunResponse = answer.json("retrieve run")?;
    Ok(run.status)
}

/// `POST /realtime/v1/sessions/{session}/in/append` with one ChatInputChunk. The same `part_id` must
/// be given on every retry of one logical send: the server drops duplicates. Returns the `.in` seq,
/// or `None` when the server recognised a duplicate.
pub(crate) fn append(http: &Http, token: &Secret, session: &str, chunk: &Value, part_id: &str) -> Result<Option<u64>> {
    let body = to_bytes(chunk)?;
    let metered = metered_append_size(&body, part_id);
    if metered > MAX_APPEND_BYTES {
        return Err(Error::new(
            ErrorKind::TooLarge,
            format!(
                "message is {} bytes, {metered} bytes as the server meters it (JSON-escaped in its record); the server accepts at most {MAX_APPEND_BYTES}",
                body.len()
            ),
        ));
    }
    let path = format!("/realtime/v1/sessions/{}/in/append", encode_segment(session));
    let answer = http.call(&Request::post(path, token, body).header("x-part-id", part_id))?;
    let appended: AppendResponse = answer.json("append")?;
    if !appended.ok {
        let msg = appended.error.unwrap_or_else(|| "append refused".into());
        return Err(Error::http(ErrorKind::Http, answer.status, format!("POST .in/append: {msg}")));
    }
    Ok(appended.seq)
}

/// What `GET /api/v1/sessions/{session}` says about the conversation's liveness.
#[derive(Debug)]
pub(crate) struct SessionStatus {
    pub current_run_id: Option<String>,
    pub closed: bool,
    pub closed_reason: Option<String>,
}

/// `GET /api/v1/sessions/{session}` (the session PAT may read it).
pub(crate) fn retrieve_session(http: &Http, token: &Secret, session: &str) -> Result<SessionStatus> {
    let path = format!("/api/v1/sessions/{}", encode_segment(session));
    let answer = http.call(&Request::get(path, token))?;
    let s: SessionResponse = answer.json("retrieve session")?;
    Ok(SessionStatus {
        current_run_id: s.current_run_id,
        closed: s.closed_at.is_some(),
        closed_reason: s.closed_reason,
    })
}

/// One record of `GET .../out/records`: its seq, its control subtype (none for data records) and,
/// for data records, the chunk.
#[derive(Debug)]
pub(crate) struct KeptRecord {
    pub seq: u64,
    pub control: Option<String>,
    pub chunk: Option<Value>,
}

/// `GET /realtime/v1/sessions/{session}/out/records`: every record `.out` still keeps (the agent
/// trims it to about the last turn), without waiting; S2 command records are left out by the server.
pub(crate) fn read_out_records(http: &Http, token: &Secret, session: &str) -> Result<Vec<KeptRecord>> {
    #[derive(serde::Deserialize)]
    struct Records {
        #[serde(default)]
        records: Vec<Record>,
    }
    #[derive(serde::Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Record {
        seq_num: u64,
        #[serde(default)]
        data: Value,
        #[serde(default)]
        headers: Vec<(String, String)>,
    }
    let path = format!("/realtime/v1/sessions/{}/out/records", encode_segment(session));
    let answer = http.call(&Request::get(path, token))?;
    let records: Records = answer.json("read .out records")?;
    Ok(records
        .records
        .into_iter()
        .map(|r| {
            let control = r.headers.iter().find(|(k, _)| k == "trigger-control").map(|(_, v)| v.clone());
            // A data record's `data` is the chunk, as an object or as its JSON text.
            let chunk = match (&control, r.data) {
                (Some(_), _) => None,
                (None, Value::String(text)) => serde_json::from_str(&text).ok(),
                (None, v @ Value::Object(_)) => Some(v),
                (None, _) => None,
            };
            KeptRecord { seq: r.seq_num, control, chunk }
        })
        .collect())
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
