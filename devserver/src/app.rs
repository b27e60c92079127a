//! The shared application object every handler, stream and agent task holds.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::http::HeaderMap;
use rand::distr::Alphanumeric;
use rand::Rng;
use serde_json::Value;
use tokio::runtime::Handle;
use tokio::sync::watch;

use crate::auth::{Caller, Tokens, DEFAULT_TTL};
use crate::clock;
use crate::config::Config;
use crate::error::ApiError;
use crate::faults::FaultState;
use crate::store::{Run, RunStatus, Store};

pub struct App {
    pub config: Config,
    pub tokens: Tokens,
    store: Mutex<Store>,
    faults: Mutex<FaultState>,
    /// Lets code outside the runtime (the test API) start agent tasks.
    pub handle: Handle,
    counter: AtomicU64,
}

impl App {
    pub fn new(config: Config, handle: Handle) -> Arc<Self> {
        Arc::new(App {
            tokens: Tokens::new(&config.secret_key),
            config,
            store: Mutex::new(Store::default()),
            faults: Mutex::new(FaultState::default()),
            handle,
            counter: AtomicU64::new(1),
        })
    }

    /// A panic in one handler must not take the whole server down with a poisoned lock.
    pub fn store(&self) -> MutexGuard<'_, Store> {
        self.store.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn faults(&self) -> MutexGuard<'_, FaultState> {
        self.faults.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn set_faults(&self, faults: crate::faults::Faults) {
        let next = self.tokens.next_serial();
        self.faults().set(faults, next);
    }

    pub fn authenticate(&self, headers: &HeaderMap) -> Result<Caller, ApiError> {
        let cutoff = self.faults().expire_before;
        self.tokens.authenticate(headers, cutoff)
    }

    /// Mints a token with the current lifetime (one hour unless a fault says otherwise).
    pub fn mint(&self, scopes: Vec<String>) -> String {
        let ttl = self.faults().token_ttl_secs().map(Duration::from_secs).unwrap_or(DEFAULT_TTL);
        self.tokens.mint(scopes, ttl)
    }

    /// Whether `POST /close` by another party leaves `.out` untouched (`close_writes_nothing`).
    pub fn close_behaviour(&self) -> bool {
        self.faults().current().close_writes_nothing
    }

    /// `pendingVersion: true` on create and append answers while the `pending_version` fault is on.
    pub fn add_pending_version(&self, answer: &mut Value) {
        if self.faults().current().pending_version {
            answer["pendingVersion"] = Value::Bool(true);
        }
    }

    /// The scopes a session PAT carries.
    pub fn session_scopes(key: &str) -> Vec<String> {
        vec![format!("read:sessions:{key}"), format!("write:sessions:{key}")]
    }

    /// Readable, ordered ids (`msg_7`) for things tests may want to match on.
    pub fn next_id(&self, prefix: &str) -> String {
        format!("{prefix}_{}", self.counter.fetch_add(1, Ordering::Relaxed))
    }

    /// Random ids in the style of the real server's cuids, for things that must never collide.
    pub fn random_id(prefix: &str) -> String {
        let s: String = rand::rng().sample_iter(&Alphanumeric).take(24).map(char::from).collect();
        format!("{prefix}_{}", s.to_lowercase())
    }

    /// Starts a run of the demo agent on a session and returns its id. A live run of the same
    /// session is superseded: two agents reading one `.in` would answer messages twice.
    pub fn start_run(self: &Arc<Self>, store: &mut Store, session_id: &str, payload: Value) -> Option<String> {
        let task = store.session(session_id)?.task_identifier.clone();
        if let Some(old) = store.live_run(session_id).map(|r| r.id.clone()) {
            store.end_run(&old, RunStatus::Canceled);
        }
        let id = Self::random_id("run");
        let now = clock::now_ms();
        store.runs.insert(
            id.clone(),
            Run {
                id: id.clone(),
                session_id: session_id.to_string(),
                task,
                status: RunStatus::Executing,
                payload,
                created_at: now,
                updated_at: now,
                finished_at: None,
                ended: watch::channel(false).0,
            },
        );
        let s = store.session_mut(session_id)?;
        s.resume_in_for_new_run();
        s.current_run_id = Some(id.clone());
        s.run_ids.push(id.clone());
        s.updated_at = now;
        self.handle.spawn(crate::agent::run(self.clone(), id.clone()));
        Some(id)
    }

    /// The payload of a run the server starts on its own to replace one that ended.
    pub fn continuation_payload(store: &Store, session_id: &str, previous_run_id: Option<&str>) -> Value {
        let Some(s) = store.session(session_id) else { return Value::Null };
        let mut p = s.trigger_config.get("basePayload").cloned().unwrap_or_else(|| serde_json::json!({}));
        if !p.is_object() {
            p = serde_json::json!({});
        }
        p["trigger"] = "preload".into();
        p["messages"] = serde_json::json!([]);
        if let Some(o) = p.as_object_mut() {
            o.remove("message");
        }
        p["continuation"] = true.into();
        if let Some(prev) = previous_run_id {
            p["previousRunId"] = prev.into();
        }
        p["sessionId"] = s.id.clone().into();
        Self::carry_idle_timeout(&s.trigger_config, &mut p);
        p
    }

    /// The official clients put `idleTimeoutInSeconds` in triggerConfig, beside basePayload;
    /// the server hands it to the run in its payload, where the agent reads it.
    pub fn carry_idle_timeout(trigger_config: &Value, payload: &mut Value) {
        if payload.get("idleTimeoutInSeconds").is_none() {
            if let Some(t) = trigger_config.get("idleTimeoutInSeconds").filter(|t| t.is_number()) {
                payload["idleTimeoutInSeconds"] = t.clone();
            }
        }
    }
}

/// Inspection and control used by tests, through [`crate::DevServer`] or `/__devserver`.
impl App {
    pub fn in_records(&self, session: &str) -> Vec<Value> {
        let store = self.store();
        let Some(id) = store.resolve(session) else { return Vec::new() };
        store.session(&id).map(|s| s.in_log.iter().map(|r| r.to_json()).collect()).unwrap_or_default()
    }

    pub fn out_records(&self, session: &str) -> Vec<Value> {
        let store = self.store();
        let Some(id) = store.resolve(session) else { return Vec::new() };
        store.session(&id).map(|s| s.out.iter().map(|r| r.to_json()).collect()).unwrap_or_default()
    }

    pub fn run_ids(&self, session: &str) -> Vec<String> {
        let store = self.store();
        let Some(id) = store.resolve(session) else { return Vec::new() };
        store.session(&id).map(|s| s.run_ids.clone()).unwrap_or_default()
    }

    /// Cancels the session's live run, as a crash or a cancel from the dashboard would.
    pub fn kill_run(&self, session: &str) -> bool {
        let mut store = self.store();
        let Some(id) = store.resolve(session) else { return false };
        let Some(run) = store.live_run(&id).map(|r| r.id.clone()) else { return false };
        store.end_run(&run, RunStatus::Canceled)
    }
}
