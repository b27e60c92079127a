//! The demo agent (task `demo`): a deterministic stand-in for a chat.agent run.
//!
//! It streams like a model (word by word, with a delay) so clients meet realistic timing, yet
//! every byte is predictable so tests can assert exact text. One tokio task per run; it waits
//! on the session's `.in` signal and the run's `ended` signal, never polls.

use std::collections::VecDeque;
use std::sync::{Arc, MutexGuard};
use std::time::Duration;

use serde_json::{json, Value};
use tokio::sync::watch;
use tokio::time::{sleep_until, Instant};

use crate::auth::session_scopes;
use crate::config::{Config, RunMode};
use crate::ids::random_id;
use crate::payload::continuation_payload;
use crate::store::{InRecord, RunStatus, Store, CONTROL};

/// What a run needs from the server that hosts it, and all it may touch: the settings, the
/// shared state, the two faults that reach into a run, token minting, readable ids, and
/// starting the successor run of an upgrade. The server's `App` implements it and spawns
/// [`run`]; the agent knows nothing else of the server, so the dependency goes one way.
pub trait Host: Send + Sync + 'static {
    fn config(&self) -> &Config;
    /// The state lock (sessions, streams, runs).
    fn store(&self) -> MutexGuard<'_, Store>;
    /// A token with these scopes and the current lifetime.
    fn mint(&self, scopes: Vec<String>) -> String;
    /// Readable, ordered ids (`msg_7`).
    fn next_id(&self, prefix: &str) -> String;
    /// The `pending_version` fault: an upgrade hand-off also writes `pending-version`.
    fn pending_version(&self) -> bool;
    /// The `kill_run_after_turn_records` fault, consumed when it fires for this session.
    fn take_kill_mid_turn(&self, records: u64, session_ids: &[&str]) -> bool;
    /// Starts a run on the session (superseding a live one) and spawns its agent.
    fn start_run(self: &Arc<Self>, store: &mut Store, session_id: &str, payload: Value) -> Option<String>;
}

/// The run was ended from outside (killed, superseded, session closed): stop at once.
struct Ended;
type Step<T> = Result<T, Ended>;

/// What the run does after handling one input.
enum After {
    Continue,
    /// `trigger: "close"`: the agent loop ends normally.
    Close,
    /// `upgrade-required` was written and the run is over.
    Upgraded,
}

/// A parsed demo command (the first word of the user's text).
#[derive(Debug, PartialEq)]
enum Command {
    Plain,
    Reason(String),
    Data,
    Tool(String),
    Slow(usize),
    Error,
    Upgrade,
}

pub const ERROR_TEXT: &str = "The demo agent failed on purpose";
pub const TOOL_NAME: &str = "get_weather";
const MAX_SLOW: usize = 100_000;

fn command(text: &str) -> Command {
    let text = text.trim();
    let (head, rest) = match text.split_once(char::is_whitespace) {
        Some((h, r)) => (h, r.trim()),
        None => (text, ""),
    };
    match head {
        "/reason" => Command::Reason(rest.to_string()),
        "/data" => Command::Data,
        "/tool" => Command::Tool(if rest.is_empty() { "Paris".into() } else { rest.to_string() }),
        "/slow" => Command::Slow(rest.parse::<usize>().unwrap_or(10).min(MAX_SLOW)),
        "/error" => Command::Error,
        "/upgrade" => Command::Upgrade,
        _ => Command::Plain,
    }
}

/// The text of a UI message: its text parts joined by spaces (or a legacy `content`).
fn message_text(msg: &Value) -> String {
    if let Some(parts) = msg.get("parts").and_then(Value::as_array) {
        let texts: Vec<&str> = parts
            .iter()
            .filter(|p| p.get("type").and_then(Value::as_str) == Some("text"))
            .filter_map(|p| p.get("text").and_then(Value::as_str))
            .collect();
        return texts.join(" ");
    }
    msg.get("content").and_then(Value::as_str).unwrap_or_default().to_string()
}

fn words(prefix: &[&str], text: &str) -> Vec<String> {
    prefix.iter().map(|s| s.to_string()).chain(text.split_whitespace().map(str::to_string)).collect()
}

/// The one message of a `submit-message` payload (or the last of `messages`).
fn payload_message(payload: &Value) -> Option<&Value> {
    payload
        .get("message")
        .filter(|m| m.is_object())
        .or_else(|| payload.get("messages").and_then(Value::as_array).and_then(|a| a.last()))
}

fn trigger_of(payload: &Value) -> &str {
    payload.get("trigger").and_then(Value::as_str).unwrap_or("")
}

fn role_of(msg: &Value) -> &str {
    msg.get("role").and_then(Value::as_str).unwrap_or("user")
}

fn is_upgrade_request(payload: &Value) -> bool {
    trigger_of(payload) == "submit-message"
        && payload_message(payload)
            .is_some_and(|m| role_of(m) != "assistant" && command(&message_text(m)) == Command::Upgrade)
}

fn upsert(history: &mut Vec<Value>, msg: Value) {
    let id = msg.get("id").and_then(Value::as_str).map(str::to_string);
    if let Some(id) = id {
        if let Some(slot) = history.iter_mut().find(|m| m.get("id").and_then(Value::as_str) == Some(&id)) {
            *slot = msg;
            return;
        }
    }
    history.push(msg);
}

/// Runs one agent run to its end. Spawned by [`Host::start_run`].
pub async fn run<H: Host>(host: Arc<H>, run_id: String) {
    let Some(mut agent) = Agent::new(host.clone(), run_id.clone()) else { return };
    if agent.main().await.is_ok() {
        host.store().end_run(&run_id, RunStatus::Completed);
    }
}

struct Agent<H> {
    host: Arc<H>,
    run_id: String,
    session_id: String,
    payload: Value,
    ended: watch::Receiver<bool>,
    input: watch::Receiver<u64>,
    idle: Duration,
    delay: Duration,
    /// Highest `.in` seq consumed during the current turn.
    turn_max_in: Option<u64>,
    stopped: bool,
    steering: VecDeque<String>,
    /// `.out` records written in the current turn, for the `kill_run_after_turn_records` fault.
    turn_records: std::sync::atomic::AtomicU64,
}

impl<H: Host> Agent<H> {
    fn new(host: Arc<H>, run_id: String) -> Option<Self> {
        let (session_id, payload, ended, input) = {
            let store = host.store();
            let run = store.runs.get(&run_id)?;
            let session = store.session(&run.session_id)?;
            (run.session_id.clone(), run.payload.clone(), run.ended.subscribe(), session.signals.input.subscribe())
        };
        let idle = payload
            .get("idleTimeoutInSeconds")
            .and_then(Value::as_f64)
            .filter(|s| s.is_finite() && *s >= 0.0)
            .map(Duration::from_secs_f64)
            .unwrap_or(host.config().idle_timeout);
        let delay = host.config().delta_delay;
        Some(Self {
            host,
            run_id,
            session_id,
            payload,
            ended,
            input,
            idle,
            delay,
            turn_max_in: None,
            stopped: false,
            steering: VecDeque::new(),
            turn_records: std::sync::atomic::AtomicU64::new(0),
        })
    }

    async fn main(&mut self) -> Step<()> {
        let payload = self.payload.clone();
        match self.handle_payload(&payload).await? {
            After::Continue => {}
            After::Close | After::Upgraded => return Ok(()),
        }
        loop {
            self.set_status(RunStatus::Waiting)?;
            let Some(rec) = self.next_in().await? else { return Ok(()) };
            self.set_status(RunStatus::Executing)?;
            let seq = rec.seq;
            match self.handle_record(rec).await? {
                After::Continue => {}
                After::Close => {
                    // The loop ends having handled the close: a later run must not close again.
                    let mut store = self.host.store();
                    if let Some(s) = store.session_mut(&self.session_id) {
                        s.committed_in = s.committed_in.max(Some(seq));
                    }
                    return Ok(());
                }
                After::Upgraded => return Ok(()),
            }
        }
    }

    fn set_status(&self, status: RunStatus) -> Step<()> {
        let mut store = self.host.store();
        if !store.runs.get(&self.run_id).is_some_and(|r| r.status.is_alive()) {
            return Err(Ended);
        }
        store.set_run_status(&self.run_id, status);
        Ok(())
    }

    /// Waits for the next unconsumed `.in` record; `None` when the run sat idle too long.
    async fn next_in(&mut self) -> Step<Option<InRecord>> {
        let deadline = Instant::now() + self.idle;
        loop {
            self.input.borrow_and_update();
            {
                let store = self.host.store();
                if !store.runs.get(&self.run_id).is_some_and(|r| r.status.is_alive()) {
                    return Err(Ended);
                }
                if let Some(rec) = store.session(&self.session_id).and_then(|s| s.pending_in().first()) {
                    return Ok(Some(rec.clone()));
                }
            }
            tokio::select! {
                _ = sleep_until(deadline) => return Ok(None),
                r = self.input.changed() => if r.is_err() { return Err(Ended) },
                _ = self.ended.changed() => return Err(Ended),
            }
        }
    }

    fn consume(&mut self, seq: u64) {
        let mut store = self.host.store();
        if let Some(s) = store.session_mut(&self.session_id) {
            s.consumed_in = Some(s.consumed_in.map_or(seq, |c| c.max(seq)));
        }
        self.turn_max_in = Some(self.turn_max_in.map_or(seq, |c| c.max(seq)));
    }

    async fn handle_payload(&mut self, payload: &Value) -> Step<After> {
        match trigger_of(payload) {
            "submit-message" => {
                let Some(msg) = payload_message(payload) else { return Ok(After::Continue) };
                let id = msg.get("id").and_then(Value::as_str).unwrap_or_default().to_string();
                // A client that appended the message and also put it in the trigger payload
                // must get one answer, not two: the `.in` copy wins.
                let pending_dup = !id.is_empty() && {
                    let store = self.host.store();
                    store.session(&self.session_id).is_some_and(|s| {
                        s.pending_in().iter().any(|r| {
                            let body = r.parsed();
                            body.get("payload")
                                .and_then(payload_message)
                                .and_then(|m| m.get("id"))
                                .and_then(Value::as_str)
                                == Some(id.as_str())
                        })
                    })
                };
                if pending_dup {
                    return Ok(After::Continue);
                }
                self.handle_message(payload, &format!("msg:{id}"), None).await
            }
            "regenerate-message" | "action" | "close" => self.handle_message(payload, "", None).await,
            _ => Ok(After::Continue),
        }
    }

    async fn handle_record(&mut self, rec: InRecord) -> Step<After> {
        let body = rec.parsed();
        let key = format!("in:{}", rec.seq);
        match body.get("kind").and_then(Value::as_str) {
            Some("message") => {
                let payload = body.get("payload").cloned().unwrap_or(Value::Null);
                let upgrading = is_upgrade_request(&payload) && !self.already_upgraded(&key);
                // An upgrade leaves its record unconsumed, so the next run answers it.
                if !upgrading {
                    self.consume(rec.seq);
                }
                self.handle_message(&payload, &key, Some(rec.seq)).await
            }
            // A stop outside a turn, or anything unreadable: nothing to do.
            _ => {
                self.consume(rec.seq);
                Ok(After::Continue)
            }
        }
    }

    fn already_upgraded(&self, key: &str) -> bool {
        let store = self.host.store();
        store.session(&self.session_id).is_some_and(|s| s.memory.upgraded.contains(key))
    }

    async fn handle_message(&mut self, payload: &Value, key: &str, seq: Option<u64>) -> Step<After> {
        self.turn_max_in = seq;
        self.turn_records.store(0, std::sync::atomic::Ordering::Relaxed);
        self.stopped = false;
        self.steering.clear();
        match trigger_of(payload) {
            "submit-message" => {
                let Some(msg) = payload_message(payload).cloned() else {
                    self.error_turn("submit-message without a message").await?;
                    return Ok(After::Continue);
                };
                if role_of(&msg) == "assistant" {
                    self.approval_turn(msg).await?;
                    return Ok(After::Continue);
                }
                if is_upgrade_request(payload) && !self.already_upgraded(key) {
                    return self.upgrade(payload, key);
                }
                let text = message_text(&msg);
                self.with_memory(|m| upsert(&mut m.history, msg));
                self.answer(&text).await?;
                Ok(After::Continue)
            }
            "regenerate-message" => {
                self.regenerate().await?;
                Ok(After::Continue)
            }
            "action" => {
                self.action(payload.get("action").cloned().unwrap_or(Value::Null)).await?;
                Ok(After::Continue)
            }
            "close" => Ok(After::Close),
            "preload" => Ok(After::Continue),
            other => {
                self.error_turn(&format!("Unknown trigger: {other}")).await?;
                Ok(After::Continue)
            }
        }
    }

    fn with_memory<R>(&self, f: impl FnOnce(&mut crate::store::AgentMemory) -> R) -> Option<R> {
        let mut store = self.host.store();
        store.session_mut(&self.session_id).map(|s| f(&mut s.memory))
    }

    /// `chat.requestUpgrade()`: tell the client, end this run, and (server mode) start the
    /// replacement run at once, which finds the same message unconsumed and answers it.
    fn upgrade(&mut self, payload: &Value, key: &str) -> Step<After> {
        let mut store = self.host.store();
        if !store.runs.get(&self.run_id).is_some_and(|r| r.status.is_alive()) {
            return Err(Ended);
        }
        let Some(s) = store.session_mut(&self.session_id) else { return Err(Ended) };
        s.memory.upgraded.insert(key.to_string());
        s.push_out(vec![(CONTROL.to_string(), "upgrade-required".to_string())], String::new());
        if self.host.pending_version() {
            // The successor is parked waiting for its deployment: the agent says so on `.out`.
            s.push_out(vec![(CONTROL.to_string(), "pending-version".to_string())], String::new());
        }
        store.end_run(&self.run_id, RunStatus::Completed);
        if self.host.config().runs == RunMode::Server {
            let mut next = continuation_payload(&store, &self.session_id, Some(&self.run_id));
            if key.starts_with("msg:") {
                // The message came in the payload, not on `.in`: hand it to the next run.
                next["trigger"] = "submit-message".into();
                if let Some(m) = payload_message(payload) {
                    next["message"] = m.clone();
                }
            }
            self.host.start_run(&mut store, &self.session_id, next);
        }
        Ok(After::Upgraded)
    }

    /// Writes one data record (`{"data": chunk, "id": part id}`) to `.out`.
    fn emit(&self, chunk: Value) -> Step<()> {
        let body = json!({ "data": chunk, "id": random_id("part") }).to_string();
        let mut store = self.host.store();
        if !store.runs.get(&self.run_id).is_some_and(|r| r.status.is_alive()) {
            return Err(Ended);
        }
        let Some(s) = store.session_mut(&self.session_id) else { return Err(Ended) };
        if s.closed_at.is_some() {
            return Err(Ended);
        }
        s.push_out(Vec::new(), body);
        let written = self.turn_records.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
        let ids = s.ids();
        if self.host.take_kill_mid_turn(written, &ids) {
            // A crash mid-turn: the run dies with the turn unfinished, and nothing replaces
            // it until the next append (server-managed) or trigger (client-managed).
            store.end_run(&self.run_id, RunStatus::Canceled);
            return Err(Ended);
        }
        Ok(())
    }

    fn turn_complete(&self, with_token: bool) -> Step<()> {
        let key = {
            let store = self.host.store();
            store.session(&self.session_id).map(|s| s.key().to_string()).ok_or(Ended)?
        };
        let token = with_token.then(|| {
            let mut scopes = session_scopes(&key);
            scopes.push(format!("read:runs:{}", self.run_id));
            self.host.mint(scopes)
        });
        let mut store = self.host.store();
        if !store.runs.get(&self.run_id).is_some_and(|r| r.status.is_alive()) {
            return Err(Ended);
        }
        let Some(s) = store.session_mut(&self.session_id) else { return Err(Ended) };
        let mut headers = vec![(CONTROL.to_string(), "turn-complete".to_string())];
        if let Some(t) = token {
            headers.push(("public-access-token".to_string(), t));
        }
        if let Some(seq) = self.turn_max_in.or(s.consumed_in) {
            headers.push(("session-in-event-id".to_string(), seq.to_string()));
            s.committed_in = s.committed_in.max(Some(seq));
        }
        // The highest `.in` seq this run had consumed at the boundary, unclamped (4.8).
        if let Some(seq) = s.applied_in.max(s.consumed_in) {
            headers.push(("session-in-consumed-id".to_string(), seq.to_string()));
        }
        s.push_turn_complete(headers);
        Ok(())
    }

    /// Consumes the stop and steering records that arrived during a turn. Anything else
    /// (an action, a close) stays queued for after the turn, as the real agent does.
    fn scan_in(&mut self) -> Step<()> {
        self.input.borrow_and_update();
        if *self.ended.borrow() {
            return Err(Ended);
        }
        loop {
            let mut store = self.host.store();
            let Some(s) = store.session_mut(&self.session_id) else { return Err(Ended) };
            let Some(rec) = s.pending_in().first().cloned() else { return Ok(()) };
            if s.is_applied_control(&rec) {
                // A stop an earlier run already applied: it does not stop this run's turn.
                drop(store);
                self.consume(rec.seq);
                continue;
            }
            let body = rec.parsed();
            match body.get("kind").and_then(Value::as_str) {
                Some("stop") => {
                    drop(store);
                    self.consume(rec.seq);
                    self.stopped = true;
                    return Ok(());
                }
                Some("message") => {
                    let payload = body.get("payload").cloned().unwrap_or(Value::Null);
                    let Some(msg) = payload_message(&payload).filter(|m| role_of(m) != "assistant").cloned() else {
                        return Ok(());
                    };
                    if trigger_of(&payload) != "submit-message" {
                        return Ok(());
                    }
                    let text = message_text(&msg);
                    upsert(&mut s.memory.history, msg);
                    drop(store);
                    self.consume(rec.seq);
                    self.steering.push_back(text);
                }
                _ => return Ok(()),
            }
        }
    }

    /// The delay between deltas, cut short to notice a stop as soon as it lands.
    async fn pause(&mut self) -> Step<()> {
        self.scan_in()?;
        if self.stopped {
            return Ok(());
        }
        if self.delay.is_zero() {
            // Zero delay must still let other tasks run.
            tokio::task::yield_now().await;
            return self.scan_in();
        }
        let deadline = Instant::now() + self.delay;
        loop {
            tokio::select! {
                _ = sleep_until(deadline) => return self.scan_in(),
                r = self.input.changed() => {
                    if r.is_err() { return Err(Ended) }
                    self.scan_in()?;
                    if self.stopped { return Ok(()) }
                }
                _ = self.ended.changed() => return Err(Ended),
            }
        }
    }

    /// Streams a text or reasoning part word by word; true when a stop cut it short.
    async fn stream_part(&mut self, kind: &str, words: &[String]) -> Step<(bool, String)> {
        let id = self.host.next_id(kind);
        self.emit(json!({ "type": format!("{kind}-start"), "id": id }))?;
        let mut text = String::new();
        for (i, w) in words.iter().enumerate() {
            if i > 0 {
                self.pause().await?;
            } else {
                self.scan_in()?;
            }
            if self.stopped {
                self.emit(json!({ "type": format!("{kind}-end"), "id": id }))?;
                return Ok((true, text));
            }
            let delta = if i == 0 { w.clone() } else { format!(" {w}") };
            text.push_str(&delta);
            self.emit(json!({ "type": format!("{kind}-delta"), "id": id, "delta": delta }))?;
        }
        self.emit(json!({ "type": format!("{kind}-end"), "id": id }))?;
        Ok((false, text))
    }

    async fn answer(&mut self, text: &str) -> Step<()> {
        match command(text) {
            Command::Error => self.error_turn(ERROR_TEXT).await,
            Command::Tool(city) => self.tool_turn(&city).await,
            Command::Slow(n) => {
                let w: Vec<String> = (1..=n).flat_map(|i| ["tick".to_string(), i.to_string()]).collect();
                // "tick 1", " tick 2", ...: one delta per tick, not per word.
                let ticks: Vec<String> = w.chunks(2).map(|c| c.join(" ")).collect();
                self.text_turn(None, false, ticks, true, true).await
            }
            Command::Reason(rest) => {
                let thinking = words(&["Thinking", "about:"], &rest);
                self.text_turn(Some(thinking), false, words(&["You", "said:"], &rest), true, true).await
            }
            Command::Data => self.text_turn(None, true, words(&[], "Here is your data."), true, true).await,
            Command::Plain | Command::Upgrade => {
                self.text_turn(None, false, words(&["You", "said:"], text), true, true).await
            }
        }
    }

    /// A turn that ends in text. A stop ends the open part, then `abort` and turn-complete;
    /// steering messages get a step of their own (`Noted: ...`) before the turn finishes.
    async fn text_turn(
        &mut self,
        reasoning: Option<Vec<String>>,
        data: bool,
        text: Vec<String>,
        with_token: bool,
        save: bool,
    ) -> Step<()> {
        let message_id = self.host.next_id("msg");
        self.emit(json!({ "type": "start", "messageId": message_id }))?;
        self.emit(json!({ "type": "start-step" }))?;
        let mut parts = Vec::new();
        let mut aborted = false;
        if let Some(r) = reasoning {
            let (a, t) = self.stream_part("reasoning", &r).await?;
            parts.push(json!({ "type": "reasoning", "text": t }));
            aborted = a;
        }
        if data && !aborted {
            self.data_parts().await?;
            aborted = self.stopped;
        }
        if !aborted {
            let (a, t) = self.stream_part("text", &text).await?;
            parts.push(json!({ "type": "text", "text": t }));
            aborted = a;
        }
        while !aborted {
            self.scan_in()?;
            if self.stopped {
                aborted = true;
                break;
            }
            let Some(s) = self.steering.pop_front() else { break };
            self.emit(json!({ "type": "finish-step" }))?;
            self.emit(json!({ "type": "start-step" }))?;
            let (a, t) = self.stream_part("text", &words(&["Noted:"], &s)).await?;
            parts.push(json!({ "type": "text", "text": t }));
            aborted = a;
        }
        if aborted {
            self.emit(json!({ "type": "abort" }))?;
        } else {
            self.emit(json!({ "type": "finish-step" }))?;
            self.emit(json!({ "type": "finish", "finishReason": "stop" }))?;
        }
        if save {
            let msg = json!({ "id": message_id, "role": "assistant", "parts": parts });
            self.with_memory(|m| m.history.push(msg));
        }
        self.turn_complete(with_token)
    }

    async fn data_parts(&mut self) -> Step<()> {
        let chunks = [
            json!({ "type": "data-status", "id": "status-1", "data": { "state": "searching" } }),
            json!({ "type": "data-status", "id": "status-2", "data": { "state": "reading" } }),
            json!({ "type": "data-status", "id": "status-1", "data": { "state": "done" } }),
            json!({ "type": "data-notice", "data": { "message": "This part is transient" }, "transient": true }),
        ];
        for c in chunks {
            self.emit(c)?;
            self.pause().await?;
            if self.stopped {
                return Ok(());
            }
        }
        Ok(())
    }

    async fn error_turn(&mut self, text: &str) -> Step<()> {
        let message_id = self.host.next_id("msg");
        self.emit(json!({ "type": "start", "messageId": message_id }))?;
        self.emit(json!({ "type": "error", "errorText": text }))?;
        self.turn_complete(false)
    }

    /// A tool call that needs approval: the turn ends with the approval request.
    async fn tool_turn(&mut self, city: &str) -> Step<()> {
        let message_id = self.host.next_id("msg");
        let call_id = self.host.next_id("call");
        let approval_id = self.host.next_id("approval");
        let input = json!({ "city": city });
        let input_text = input.to_string();
        // `{"city":"` + escaped city + `"}`, streamed in three pieces.
        let head = "{\"city\":\"";
        let mid = &input_text[head.len()..input_text.len() - 2];
        let pieces: Vec<&str> = [head, mid, "\"}"].into_iter().filter(|p| !p.is_empty()).collect();
        self.emit(json!({ "type": "start", "messageId": message_id }))?;
        self.emit(json!({ "type": "start-step" }))?;
        self.emit(json!({ "type": "tool-input-start", "toolCallId": call_id, "toolName": TOOL_NAME }))?;
        for p in pieces {
            self.pause().await?;
            if self.stopped {
                self.emit(json!({ "type": "abort" }))?;
                return self.turn_complete(true);
            }
            self.emit(json!({ "type": "tool-input-delta", "toolCallId": call_id, "inputTextDelta": p }))?;
        }
        self.emit(
            json!({ "type": "tool-input-available", "toolCallId": call_id, "toolName": TOOL_NAME, "input": input }),
        )?;
        self.emit(json!({ "type": "tool-approval-request", "approvalId": approval_id, "toolCallId": call_id }))?;
        self.emit(json!({ "type": "finish-step" }))?;
        self.emit(json!({ "type": "finish", "finishReason": "tool-calls" }))?;
        let part = json!({
            "type": format!("tool-{TOOL_NAME}"), "toolCallId": call_id, "state": "approval-requested",
            "input": input, "approval": { "id": approval_id },
        });
        let msg = json!({ "id": message_id, "role": "assistant", "parts": [part] });
        let city = city.to_string();
        self.with_memory(|m| {
            m.tool_calls.insert(call_id.clone(), city);
            m.history.push(msg);
        });
        self.turn_complete(true)
    }

    /// The client answered a tool approval: continue the same assistant message.
    async fn approval_turn(&mut self, msg: Value) -> Step<()> {
        let responses: Vec<(String, bool, Option<String>)> = msg
            .get("parts")
            .and_then(Value::as_array)
            .map(|parts| {
                parts
                    .iter()
                    .filter(|p| {
                        p.get("state").and_then(Value::as_str) == Some("approval-responded")
                            || p.pointer("/approval/approved").is_some_and(Value::is_boolean)
                    })
                    .filter_map(|p| {
                        let call = p.get("toolCallId")?.as_str()?.to_string();
                        let approved = p.pointer("/approval/approved").and_then(Value::as_bool).unwrap_or(false);
                        let city = p.pointer("/input/city").and_then(Value::as_str).map(str::to_string);
                        Some((call, approved, city))
                    })
                    .collect()
            })
            .unwrap_or_default();
        if responses.is_empty() {
            return self.error_turn("The demo agent found no tool approval response in the message").await;
        }
        let message_id = msg.get("id").and_then(Value::as_str).unwrap_or_default().to_string();
        self.with_memory(|m| upsert(&mut m.history, msg.clone()));
        self.emit(json!({ "type": "start", "messageId": message_id }))?;
        self.emit(json!({ "type": "start-step" }))?;
        let mut texts = Vec::new();
        for (call, approved, input_city) in responses {
            let remembered = self.with_memory(|m| m.tool_calls.remove(&call)).flatten();
            let city = remembered.or(input_city).unwrap_or_else(|| "unknown".to_string());
            if approved {
                let output = json!({ "city": city, "forecast": "sunny", "temperatureC": 21 });
                self.emit(json!({ "type": "tool-output-available", "toolCallId": call, "output": output }))?;
                texts.push(format!("The weather in {city} is sunny, 21°C."));
            } else {
                self.emit(json!({ "type": "tool-output-denied", "toolCallId": call }))?;
                texts.push(format!("Okay, I won't check the weather in {city}."));
            }
        }
        self.emit(json!({ "type": "finish-step" }))?;
        // The model's answer after a tool result is a new step, as in the AI SDK.
        let text = words(&[], &texts.join(" "));
        let (aborted, _) = {
            self.emit(json!({ "type": "start-step" }))?;
            self.stream_part("text", &text).await?
        };
        if aborted {
            self.emit(json!({ "type": "abort" }))?;
        } else {
            self.emit(json!({ "type": "finish-step" }))?;
            self.emit(json!({ "type": "finish", "finishReason": "stop" }))?;
        }
        self.turn_complete(true)
    }

    async fn regenerate(&mut self) -> Step<()> {
        let last_user = self
            .with_memory(|m| {
                let idx = m.history.iter().rposition(|msg| role_of(msg) == "user")?;
                m.history.truncate(idx + 1);
                Some(message_text(&m.history[idx]))
            })
            .flatten();
        match last_user {
            Some(text) => self.answer(&text).await,
            None => self.error_turn("There is no user message to regenerate").await,
        }
    }

    async fn action(&mut self, action: Value) -> Step<()> {
        let kind = action.get("type").and_then(Value::as_str).unwrap_or("").to_string();
        if kind != "undo" {
            let message_id = self.host.next_id("msg");
            self.emit(json!({ "type": "start", "messageId": message_id }))?;
            self.emit(json!({ "type": "error", "errorText": format!("Unknown action: {kind}") }))?;
            return self.turn_complete(false);
        }
        let undone = self
            .with_memory(|m| match m.history.iter().rposition(|msg| role_of(msg) == "user") {
                Some(idx) => {
                    m.history.truncate(idx);
                    true
                }
                None => false,
            })
            .unwrap_or(false);
        let text = if undone { "Undid the last exchange." } else { "Nothing to undo." };
        self.text_turn(None, false, words(&[], text), false, false).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_parse() {
        assert_eq!(command("/reason why not"), Command::Reason("why not".into()));
        assert_eq!(command("/slow 3"), Command::Slow(3));
        assert_eq!(command("/slow"), Command::Slow(10));
        assert_eq!(command("/tool Oslo"), Command::Tool("Oslo".into()));
        assert_eq!(command("/tools"), Command::Plain);
        assert_eq!(command(" /upgrade "), Command::Upgrade);
        assert_eq!(command("hello"), Command::Plain);
    }
}
