//! Fault injection: the failures a client must survive, made reproducible.
//!
//! Every "next" fault fires on the next matching request only (or `*_times` times), so a test
//! can provoke exactly one failure and then watch the client recover against a healthy server.

use serde::{Deserialize, Serialize};

/// The data of the `event: error` that `out_error_after_records` writes.
pub const OUT_ERROR_MESSAGE: &str = "Stream error (injected by tchat-devserver)";

/// The settings of `POST /__devserver/faults` and [`crate::DevServer::set_faults`].
///
/// Each call replaces the whole set; a field left out is off.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Faults {
    /// Abort the next `.out` connection after it has sent this many records.
    pub out_drop_after_records: Option<u64>,
    /// How many `.out` connections `out_drop_after_records` applies to (default 1).
    pub out_drop_after_records_times: Option<u32>,
    /// Abort the next `.out` connection after exactly this many bytes of response body.
    pub out_drop_after_bytes: Option<u64>,
    /// How many `.out` connections `out_drop_after_bytes` applies to (default 1).
    pub out_drop_after_bytes_times: Option<u32>,
    /// The next `.out` connection, after sending this many records, writes an SSE
    /// `event: error` (data: [`OUT_ERROR_MESSAGE`]) and ends the response cleanly.
    pub out_error_after_records: Option<u64>,
    /// How many `.out` connections `out_error_after_records` applies to (default 1).
    pub out_error_after_records_times: Option<u32>,
    /// While set, every `.out` body is written in pieces of this many bytes, each flushed.
    pub out_write_chunk_bytes: Option<usize>,
    /// The next N requests to any API route answer `fail_status`.
    pub fail_next_requests: Option<u32>,
    /// Status for `fail_next_requests` (default 503); 429 also carries `x-ratelimit-reset`.
    pub fail_status: u16,
    /// The next N answers of API routes (not `.out`) are handled as usual, then sent with their
    /// headers at once and their body one byte every `slow_body_ms`: a body that never seems to
    /// finish, after the server already did the work (an append is stored).
    pub slow_body_next_requests: Option<u32>,
    /// Milliseconds between the bytes of a slow body (default 1000).
    pub slow_body_ms: Option<u64>,
    /// The next `.out` connection sends its headers, then nothing for this many milliseconds.
    pub stall_next_out_ms: Option<u64>,
    /// How many `.out` connections `stall_next_out_ms` applies to (default 1).
    pub stall_next_out_times: Option<u32>,
    /// What a stalled connection sends meanwhile, so that only a client counting records sees
    /// the stall: `"comment"` (`: keepalive` lines), `"event"` (an unknown `event: heartbeat`),
    /// or `"byte"` (a comment line written one byte at a time); nothing when unset.
    pub stall_heartbeat: Option<String>,
    /// Milliseconds between heartbeat writes (default 100).
    pub stall_heartbeat_every_ms: Option<u64>,
    /// While set, every `.out` window ends its body cleanly without writing `data: [DONE]` (a proxy
    /// that closes long-polls its own way).
    pub out_end_without_done: bool,
    /// Mint every new JWT with this lifetime instead of one hour.
    pub token_ttl_secs: Option<u64>,
    /// Every JWT minted before this setting was applied is rejected as expired.
    pub expire_all_tokens: bool,
    /// Kill the live run once it has written this many `.out` records of its current turn:
    /// a crash mid-turn. As on the real service, no run replaces it until the next append.
    pub kill_run_after_turn_records: Option<u64>,
    /// Limits `kill_run_after_turn_records` to the session with this id or externalId (other runs
    /// streaming meanwhile are left alone).
    pub kill_run_session: Option<String>,
    /// `POST /close` by another party sets `closedAt` and writes nothing to `.out` (a server
    /// without a live agent to write `session-closed`); off: the agent writes the record.
    pub close_writes_nothing: bool,
    /// The session's runs are parked waiting for a deployment: create and append answer
    /// `pendingVersion: true`, and an upgrade hand-off writes a `pending-version` record.
    pub pending_version: bool,
}

impl Default for Faults {
    fn default() -> Self {
        Faults {
            out_drop_after_records: None,
            out_drop_after_records_times: None,
            out_drop_after_bytes: None,
            out_drop_after_bytes_times: None,
            out_error_after_records: None,
            out_error_after_records_times: None,
            out_write_chunk_bytes: None,
            fail_next_requests: None,
            fail_status: 503,
            slow_body_next_requests: None,
            slow_body_ms: None,
            stall_next_out_ms: None,
            stall_next_out_times: None,
            stall_heartbeat: None,
            stall_heartbeat_every_ms: None,
            out_end_without_done: false,
            token_ttl_secs: None,
            expire_all_tokens: false,
            kill_run_after_turn_records: None,
            kill_run_session: None,
            close_writes_nothing: false,
            pending_version: false,
        }
    }
}

/// What one `.out` connection must do wrong, decided when it opens.
#[derive(Clone, Copy, Debug, Default)]
pub struct OutFaults {
    pub drop_after_records: Option<u64>,
    pub drop_after_bytes: Option<u64>,
    pub error_after_records: Option<u64>,
    pub chunk_bytes: Option<usize>,
    pub stall_ms: Option<u64>,
    pub heartbeat: Option<Heartbeat>,
    pub end_without_done: bool,
}

/// What a stalled `.out` connection writes while it withholds records.
#[derive(Clone, Copy, Debug)]
pub enum Heartbeat {
    Comment { every_ms: u64 },
    UnknownEvent { every_ms: u64 },
    Byte { every_ms: u64 },
}

/// The live fault settings with their remaining counts.
#[derive(Debug, Default)]
pub struct FaultState {
    faults: Faults,
    drop_records_left: u32,
    drop_bytes_left: u32,
    error_records_left: u32,
    stall_left: u32,
    fail_left: u32,
    slow_body_left: u32,
    /// Tokens minted before this are treated as expired.
    pub expire_before: Option<crate::auth::Cutoff>,
}

impl FaultState {
    /// Replaces the settings; `next_serial` is the serial the next minted token will get.
    pub fn set(&mut self, faults: Faults, next_serial: u64) {
        let times = |v: Option<u64>, t: Option<u32>| if v.is_some() { t.unwrap_or(1) } else { 0 };
        self.drop_records_left = times(faults.out_drop_after_records, faults.out_drop_after_records_times);
        self.drop_bytes_left = times(faults.out_drop_after_bytes, faults.out_drop_after_bytes_times);
        self.error_records_left = times(faults.out_error_after_records, faults.out_error_after_records_times);
        self.stall_left = times(faults.stall_next_out_ms, faults.stall_next_out_times);
        self.fail_left = faults.fail_next_requests.unwrap_or(0);
        self.slow_body_left = faults.slow_body_next_requests.unwrap_or(0);
        self.expire_before = faults
            .expire_all_tokens
            .then_some(crate::auth::Cutoff { serial: next_serial, secs: crate::clock::now_secs() });
        self.faults = faults;
    }

    pub fn current(&self) -> Faults {
        self.faults.clone()
    }

    /// Takes the faults for a new `.out` connection, using up one of each "next" fault.
    pub fn take_out(&mut self) -> OutFaults {
        let mut out = OutFaults {
            chunk_bytes: self.faults.out_write_chunk_bytes.filter(|&n| n > 0),
            end_without_done: self.faults.out_end_without_done,
            ..Default::default()
        };
        if self.drop_records_left > 0 {
            self.drop_records_left -= 1;
            out.drop_after_records = self.faults.out_drop_after_records;
        }
        if self.drop_bytes_left > 0 {
            self.drop_bytes_left -= 1;
            out.drop_after_bytes = self.faults.out_drop_after_bytes;
        }
        if self.error_records_left > 0 {
            self.error_records_left -= 1;
            out.error_after_records = self.faults.out_error_after_records;
        }
        if self.stall_left > 0 {
            self.stall_left -= 1;
            out.stall_ms = self.faults.stall_next_out_ms;
            let every_ms = self.faults.stall_heartbeat_every_ms.unwrap_or(100).max(1);
            out.heartbeat = match self.faults.stall_heartbeat.as_deref() {
                Some("comment") => Some(Heartbeat::Comment { every_ms }),
                Some("event") => Some(Heartbeat::UnknownEvent { every_ms }),
                Some("byte") => Some(Heartbeat::Byte { every_ms }),
                _ => None,
            };
        }
        out
    }

    /// Whether this API request must fail, and with which status.
    pub fn take_failure(&mut self) -> Option<u16> {
        if self.fail_left == 0 {
            return None;
        }
        self.fail_left -= 1;
        Some(self.faults.fail_status)
    }

    /// Whether this API answer must trickle, and the gap between its bytes.
    pub fn take_slow_body(&mut self) -> Option<std::time::Duration> {
        if self.slow_body_left == 0 {
            return None;
        }
        self.slow_body_left -= 1;
        Some(std::time::Duration::from_millis(self.faults.slow_body_ms.unwrap_or(1000).max(1)))
    }

    pub fn token_ttl_secs(&self) -> Option<u64> {
        self.faults.token_ttl_secs
    }

    /// Whether a run that has written `records` records of its turn must die now (once).
    pub fn take_kill_mid_turn(&mut self, records: u64, session_ids: &[&str]) -> bool {
        let this_session = self.faults.kill_run_session.as_deref().is_none_or(|s| session_ids.contains(&s));
        if this_session && self.faults.kill_run_after_turn_records.is_some_and(|n| records >= n) {
            self.faults.kill_run_after_turn_records = None;
            return true;
        }
        false
    }
}
