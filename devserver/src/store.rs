//! The server's state: sessions with their `.in` and `.out` streams, and runs.
//!
//! One mutex guards it all (see `app.rs`); nothing here awaits, so the lock is never held across
//! a suspension point and hundreds of streaming connections only take it briefly.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Arc;

use serde_json::{json, Map, Value};
use tokio::sync::watch;

use crate::clock;

/// Header name of a control record's first header.
pub const CONTROL: &str = "trigger-control";
/// How long an `X-Part-Id` is remembered for dedupe.
pub const PART_ID_TTL_MS: u64 = 5 * 60 * 1000;

/// One record of a session's `.out` stream, in the S2 shape.
#[derive(Clone, Debug)]
pub struct OutRecord {
    pub seq_num: u64,
    pub timestamp: u64,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl OutRecord {
    /// The wire form; `headers` and `body` are left out when empty, as S2 does.
    pub fn to_json(&self) -> Value {
        let mut m = Map::new();
        m.insert("seq_num".into(), json!(self.seq_num));
        m.insert("timestamp".into(), json!(self.timestamp));
        if !self.headers.is_empty() {
            let h: Vec<Value> = self.headers.iter().map(|(k, v)| json!([k, v])).collect();
            m.insert("headers".into(), Value::Array(h));
        }
        if !self.body.is_empty() {
            m.insert("body".into(), Value::String(self.body.clone()));
        }
        Value::Object(m)
    }

    /// S2 command records have an empty first header name (`["", "trim"]`).
    pub fn is_command(&self) -> bool {
        self.headers.first().is_some_and(|(k, _)| k.is_empty())
    }

    pub fn control(&self) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k == CONTROL).map(|(_, v)| v.as_str())
    }
}

/// One record of a session's `.in` stream; kept forever so tests can audit what arrived.
#[derive(Clone, Debug)]
pub struct InRecord {
    pub seq: u64,
    pub timestamp: u64,
    pub body: String,
    pub part_id: Option<String>,
}

impl InRecord {
    pub fn parsed(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|_| Value::String(self.body.clone()))
    }

    pub fn to_json(&self) -> Value {
        let mut v = json!({ "seq": self.seq, "timestamp": self.timestamp, "body": self.parsed() });
        if let Some(p) = &self.part_id {
            v["partId"] = json!(p);
        }
        v
    }
}

/// Wake-ups for the tasks that wait on a session's streams. The value is a change counter;
/// waiters re-read the store after each change, so no record is ever carried by the channel.
pub struct Signals {
    pub out: watch::Sender<u64>,
    pub input: watch::Sender<u64>,
}

impl Signals {
    fn new() -> Arc<Self> {
        Arc::new(Signals { out: watch::channel(0).0, input: watch::channel(0).0 })
    }
}

/// What the demo agent remembers about a conversation, across its runs.
#[derive(Debug, Default)]
pub struct AgentMemory {
    /// UI messages, user and assistant, in order.
    pub history: Vec<Value>,
    /// Tool calls awaiting approval: toolCallId → city.
    pub tool_calls: HashMap<String, String>,
    /// `/upgrade` requests already answered with `upgrade-required`, so the next run answers.
    pub upgraded: HashSet<String>,
}

pub struct Session {
    pub id: String,
    pub external_id: Option<String>,
    pub kind: String,
    pub task_identifier: String,
    pub trigger_config: Value,
    pub tags: Value,
    pub metadata: Value,
    pub expires_at: Option<u64>,
    pub created_at: u64,
    pub updated_at: u64,
    pub closed_at: Option<u64>,
    pub closed_reason: Option<String>,
    pub current_run_id: Option<String>,
    pub run_ids: Vec<String>,
    pub in_log: Vec<InRecord>,
    pub part_ids: HashMap<String, u64>,
    /// Highest `.in` seq an agent has consumed.
    pub consumed_in: Option<u64>,
    /// `session-in-event-id` of the last turn-complete: where a new run resumes `.in`, so a
    /// message whose turn never completed (the run died mid-turn) is delivered to it again.
    pub committed_in: Option<u64>,
    /// Highest `.in` seq any run of the session has consumed (`session-in-consumed-id`): control
    /// records at or before it are not applied a second time by a run that resumes behind it.
    pub applied_in: Option<u64>,
    pub out: VecDeque<OutRecord>,
    pub next_out_seq: u64,
    pub last_turn_complete: Option<u64>,
    pub signals: Arc<Signals>,
    pub memory: AgentMemory,
}

impl Session {
    pub fn new(id: String, external_id: Option<String>, kind: String, task: String, trigger_config: Value) -> Self {
        let now = clock::now_ms();
        Session {
            id,
            external_id,
            kind,
            task_identifier: task,
            trigger_config,
            tags: json!([]),
            metadata: Value::Null,
            expires_at: None,
            created_at: now,
            updated_at: now,
            closed_at: None,
            closed_reason: None,
            current_run_id: None,
            run_ids: Vec::new(),
            in_log: Vec::new(),
            part_ids: HashMap::new(),
            consumed_in: None,
            committed_in: None,
            applied_in: None,
            out: VecDeque::new(),
            next_out_seq: 0,
            last_turn_complete: None,
            signals: Signals::new(),
            memory: AgentMemory::default(),
        }
    }

    /// The id a session PAT is scoped to: the externalId when there is one.
    pub fn key(&self) -> &str {
        self.external_id.as_deref().unwrap_or(&self.id)
    }

    /// Both names a URL may use for this session.
    pub fn ids(&self) -> Vec<&str> {
        let mut v = vec![self.id.as_str()];
        if let Some(e) = &self.external_id {
            v.push(e.as_str());
        }
        v
    }

    pub fn is_expired(&self) -> bool {
        self.closed_at.is_none() && self.expires_at.is_some_and(|e| e <= clock::now_ms())
    }

    pub fn status(&self) -> &'static str {
        if self.closed_at.is_some() {
            "CLOSED"
        } else if self.is_expired() {
            "EXPIRED"
        } else {
            "ACTIVE"
        }
    }

    pub fn to_json(&self) -> Value {
        json!({
            "id": self.id,
            "externalId": self.external_id,
            "type": self.kind,
            "taskIdentifier": self.task_identifier,
            "triggerConfig": self.trigger_config,
            "currentRunId": self.current_run_id,
            "tags": self.tags,
            "metadata": self.metadata,
            "status": self.status(),
            "closedAt": self.closed_at.map(clock::iso),
            "closedReason": self.closed_reason,
            "expiresAt": self.expires_at.map(clock::iso),
            "createdAt": clock::iso(self.created_at),
            "updatedAt": clock::iso(self.updated_at),
        })
    }

    /// Appends to `.out` and wakes every subscriber.
    pub fn push_out(&mut self, headers: Vec<(String, String)>, body: String) -> u64 {
        let seq = self.next_out_seq;
        self.next_out_seq += 1;
        self.out.push_back(OutRecord { seq_num: seq, timestamp: clock::now_ms(), headers, body });
        self.signals.out.send_modify(|v| *v += 1);
        seq
    }

    /// Ends a turn the way chat.agent does: the turn-complete control record, then a trim
    /// command that drops everything before the previous turn-complete. Keeping one turn back
    /// lets a client that reconnects just after a turn still see how it ended.
    pub fn push_turn_complete(&mut self, headers: Vec<(String, String)>) -> u64 {
        let seq = self.push_out(headers, String::new());
        let keep_from = self.last_turn_complete.replace(seq);
        if let Some(keep_from) = keep_from {
            self.push_out(vec![(String::new(), "trim".to_string())], keep_from.to_string());
            while self.out.front().is_some_and(|r| r.seq_num < keep_from) {
                self.out.pop_front();
            }
        }
        seq
    }

    /// Records after the cursor (all when `None`), at most `max`.
    pub fn records_after(&self, cursor: Option<u64>, max: usize) -> Vec<OutRecord> {
        // Seqs in `out` are consecutive (trim only drops from the front), so the cursor maps
        // straight to an index: no scan per wake-up, however long a turn grows.
        let start = match (cursor, self.out.front()) {
            (Some(c), Some(front)) => usize::try_from((c + 1).saturating_sub(front.seq_num)).unwrap_or(usize::MAX),
            _ => 0,
        };
        self.out.range(start.min(self.out.len())..).take(max).cloned().collect()
    }

    /// `X-Peek-Settled` as the real server decides it: it reads only the last two records of
    /// `.out` (at steady state `[turn-complete, trim]`) and is settled when the newest
    /// non-command record among them is a turn-complete.
    pub fn is_settled(&self) -> bool {
        self.out.iter().rev().take(2).find(|r| !r.is_command()).is_some_and(|r| r.control() == Some("turn-complete"))
    }

    /// The S2 tail: the seq the next record will get.
    pub fn tail_json(&self) -> Value {
        let ts = self.out.back().map(|r| r.timestamp).unwrap_or(self.created_at);
        json!({ "seq_num": self.next_out_seq, "timestamp": ts })
    }

    /// Appends to `.in` and wakes the agent.
    pub fn push_in(&mut self, body: String, part_id: Option<String>) -> u64 {
        let seq = self.in_log.len() as u64;
        self.in_log.push(InRecord { seq, timestamp: clock::now_ms(), body, part_id });
        self.signals.input.send_modify(|v| *v += 1);
        seq
    }

    /// A new run resumes `.in` after the last committed record, as the 4.8 agent does on boot.
    pub fn resume_in_for_new_run(&mut self) {
        self.applied_in = self.applied_in.max(self.consumed_in);
        self.consumed_in = self.committed_in;
    }

    /// Whether `rec` is a control record (not a message) an earlier run already applied.
    pub fn is_applied_control(&self, rec: &InRecord) -> bool {
        self.applied_in.is_some_and(|a| rec.seq <= a)
            && rec.parsed().get("kind").and_then(Value::as_str) != Some("message")
    }

    /// `.in` records no agent has consumed yet.
    pub fn pending_in(&self) -> &[InRecord] {
        let start = self.consumed_in.map(|c| c as usize + 1).unwrap_or(0);
        self.in_log.get(start..).unwrap_or(&[])
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RunStatus {
    Executing,
    Waiting,
    Completed,
    Canceled,
}

impl RunStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            RunStatus::Executing => "EXECUTING",
            RunStatus::Waiting => "WAITING",
            RunStatus::Completed => "COMPLETED",
            RunStatus::Canceled => "CANCELED",
        }
    }

    pub fn is_alive(self) -> bool {
        matches!(self, RunStatus::Executing | RunStatus::Waiting)
    }
}

pub struct Run {
    pub id: String,
    pub session_id: String,
    pub task: String,
    pub status: RunStatus,
    pub payload: Value,
    pub created_at: u64,
    pub updated_at: u64,
    pub finished_at: Option<u64>,
    /// Flips to true when the run ends, waking its agent wherever it waits.
    pub ended: watch::Sender<bool>,
}

impl Run {
    /// The shape of `GET /api/v3/runs/{id}` (the SDK's `RetrieveRunResponse`): every field it
    /// requires is present; optional ones with no value are left out rather than `null`.
    pub fn to_json(&self) -> Value {
        let s = self.status;
        let end = self.finished_at.unwrap_or_else(clock::now_ms);
        let mut v = json!({
            "id": self.id,
            "status": s.as_str(),
            "taskIdentifier": self.task,
            "isQueued": false,
            "isExecuting": s == RunStatus::Executing,
            "isWaiting": s == RunStatus::Waiting,
            "isCompleted": !s.is_alive(),
            "isSuccess": s == RunStatus::Completed,
            "isFailed": false,
            "isCancelled": s == RunStatus::Canceled,
            "isTest": false,
            "payload": self.payload,
            "createdAt": clock::iso(self.created_at),
            "updatedAt": clock::iso(self.updated_at),
            "startedAt": clock::iso(self.created_at),
            "attemptCount": 1,
            "tags": [],
            "costInCents": 0,
            "baseCostInCents": 0,
            "durationMs": end.saturating_sub(self.created_at),
            "depth": 0,
            "triggerFunction": "trigger",
            "relatedRuns": {},
        });
        if let Some(f) = self.finished_at {
            v["finishedAt"] = json!(clock::iso(f));
        }
        v
    }
}

#[derive(Default)]
pub struct Store {
    pub sessions: HashMap<String, Session>,
    pub by_external: HashMap<String, String>,
    /// Friendly ids in creation order, for listing.
    pub order: Vec<String>,
    pub runs: HashMap<String, Run>,
    /// Trigger idempotency keys → run id.
    pub idempotency: HashMap<String, String>,
}

impl Store {
    /// Resolves a URL's `{session}`: a `session_` prefix names the friendly id, anything else
    /// the externalId.
    pub fn resolve(&self, key: &str) -> Option<String> {
        if key.starts_with("session_") {
            self.sessions.contains_key(key).then(|| key.to_string())
        } else {
            self.by_external.get(key).cloned()
        }
    }

    pub fn session(&self, id: &str) -> Option<&Session> {
        self.sessions.get(id)
    }

    pub fn session_mut(&mut self, id: &str) -> Option<&mut Session> {
        self.sessions.get_mut(id)
    }

    /// The session's current run, when it is still alive.
    pub fn live_run(&self, session_id: &str) -> Option<&Run> {
        let s = self.sessions.get(session_id)?;
        let r = self.runs.get(s.current_run_id.as_deref()?)?;
        r.status.is_alive().then_some(r)
    }

    /// Ends a run once; later calls keep the first final status.
    pub fn end_run(&mut self, run_id: &str, status: RunStatus) -> bool {
        let Some(run) = self.runs.get_mut(run_id) else { return false };
        if !run.status.is_alive() {
            return false;
        }
        let now = clock::now_ms();
        run.status = status;
        run.updated_at = now;
        run.finished_at = Some(now);
        run.ended.send_replace(true);
        true
    }

    /// `POST /close`: sets `closedAt` once (later closes keep the first reason). Unless the
    /// close comes from the session's own run (`callingRunId`, already exiting) or the server
    /// is told to write nothing, the live agent answers it as 4.8's does: a `session-closed`
    /// record (with `session-closed-reason`) on `.out`, and its run ends.
    pub fn close_session(
        &mut self,
        id: &str,
        reason: Option<String>,
        calling_run_id: Option<&str>,
        writes_nothing: bool,
    ) {
        let live = self.live_run(id).map(|r| r.id.clone());
        let Some(s) = self.sessions.get_mut(id) else { return };
        if s.closed_at.is_some() {
            return;
        }
        let now = clock::now_ms();
        s.closed_at = Some(now);
        s.updated_at = now;
        s.closed_reason = reason.clone();
        let from_own_run = calling_run_id.is_some() && calling_run_id == live.as_deref();
        if writes_nothing || from_own_run {
            return;
        }
        let mut headers = vec![(CONTROL.to_string(), "session-closed".to_string())];
        if let Some(r) = reason {
            headers.push(("session-closed-reason".to_string(), r));
        }
        s.push_out(headers, String::new());
        if let Some(run) = live {
            self.end_run(&run, RunStatus::Completed);
        }
    }

    pub fn set_run_status(&mut self, run_id: &str, status: RunStatus) {
        if let Some(run) = self.runs.get_mut(run_id) {
            if run.status.is_alive() && run.status != status {
                run.status = status;
                run.updated_at = clock::now_ms();
            }
        }
    }
}
