//! The shared application object every handler, stream and agent task holds.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::http::HeaderMap;
use serde_json::Value;
use tokio::runtime::Handle;
use tokio::sync::watch;

use crate::agent::{self, Host};
use crate::auth::{Caller, Tokens, DEFAULT_TTL};
use crate::clock;
use crate::config::Config;
use crate::error::ApiError;
use crate::faults::FaultState;
use crate::ids::random_id;
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

    /// Readable, ordered ids (`msg_7`) for things tests may want to match on.
    pub fn next_id(&self, prefix: &str) -> String {
        format!("{prefix}_{}", self.counter.fetch_add(1, Ordering::Relaxed))
    }

    /// Starts a run of the demo agent on a session and returns its id. A live run of the same
    /// session is superseded: two agents reading one `.in` would answer messages twice.
    pub fn start_run(self: &Arc<Self>, store: &mut Store, session_id: &str, payload: Value) -> Option<String> {
        let task = store.session(session_id)?.task_identifier.clone();
        if let Some(old) = store.live_run(session_id).map(|r| r.id.clone()) {
            store.end_run(&old, RunStatus::Canceled);
        }
        let id = random_id("run");
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
        self.handle.spawn(agent::run(self.clone(), id.clone()));
        Some(id)
    }
}

/// What the demo agent may use of the server: the state, the fault switches that reach into a
/// run, token minting, ids, and starting the next run (an upgrade hands off to it).
impl Host for App {
    fn config(&self) -> &Config {
        &self.config
    }

    fn store(&self) -> MutexGuard<'_, Store> {
        App::store(self)
    }

    fn mint(&self, scopes: Vec<String>) -> String {
        App::mint(self, scopes)
    }

    fn next_id(&self, prefix: &str) -> String {
        App::next_id(self, prefix)
    }

    fn pending_version(&self) -> bool {
        self.faults().current().pending_version
    }

    fn take_kill_mid_turn(&self, records: u64, session_ids: &[&str]) -> bool {
        self.faults().take_kill_mid_turn(records, session_ids)
    }

    fn start_run(self: &Arc<Self>, store: &mut Store, session_id: &str, payload: Value) -> Option<String> {
        App::start_run(self, store, session_id, payload)
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
