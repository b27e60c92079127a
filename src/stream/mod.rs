//! The reader thread of a chat: subscribes to `.out`, decodes it (sse → records → assemble), and
//! turns what arrives into [`Event`]s, surviving drops, long-poll ends, stalls and token expiry.
//!
//! The thread lives as long as the chat. Between turns it sleeps in a channel receive (zero CPU); a
//! send wakes it with [`Ctl::Subscribe`]. While subscribed it blocks on the socket. Cancellation is an
//! atomic flag plus `Agent::shutdown` on the stream's own agent, which interrupts a blocked read from
//! another thread (a shutdown may surface as a clean EOF, hence the flag).

use std::io::Read;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, RecvTimeoutError};
use ureq::http;

use crate::conv::{Ctl, Delivery, Shared, TurnCheck};
use crate::error::{Error, ErrorKind};
use crate::event::Event;
use crate::http::{encode_segment, status_error, transport_error};
use crate::log::{log_at, Level};
use crate::records::{Control, Decoder, StreamItem, TurnComplete};
use crate::secret::Secret;
use crate::sse::SseParser;
use crate::state::RunMode;

mod idle;
mod items;

use idle::idle;

const READ_BUFFER_BYTES: usize = 8 * 1024;

/// Empty long-poll windows in a row, while a turn is awaited, after which the turn is given up
/// even when no run status says it died: the official clients' `MAX_EOF_RESUBSCRIBES`.
const MAX_EMPTY_WINDOWS: u32 = 5;

/// Reconnect delay after `attempt` consecutive failures: `min(100·2^(n-1), 5000) ms × [0.5, 1]`.
pub(crate) fn backoff(attempt: u32) -> Duration {
    let base = 100u64.saturating_mul(1u64 << attempt.saturating_sub(1).min(16)).min(5000);
    let factor = 0.5 + 0.5 * crate::ids::random_unit();
    Duration::from_millis((base as f64 * factor) as u64)
}

pub(crate) fn reader_main(shared: Arc<Shared>, ctl: Receiver<Ctl>) {
    let mut next = ctl.recv().ok();
    loop {
        let peek_settled = match next {
            Some(Ctl::Subscribe { peek_settled }) => peek_settled,
            // Nothing to reconnect while idle and not watching (a watch handles it itself).
            Some(Ctl::ReconnectNow) => {
                shared.reconnect_requested.store(false, std::sync::atomic::Ordering::SeqCst);
                next = idle(&shared, &ctl);
                continue;
            }
            Some(Ctl::Shutdown) | None => return,
        };
        if shared.is_cancelled() {
            return;
        }
        // Several sends while idle ask for one subscription.
        let mut peek = peek_settled;
        while let Ok(more) = ctl.try_recv() {
            match more {
                Ctl::Subscribe { peek_settled } => peek &= peek_settled,
                Ctl::ReconnectNow => {}
                Ctl::Shutdown => return,
            }
        }
        // A request that raced with the end of the last turn finds nothing to wait for (a watching
        // chat always has something: every turn on the chat).
        if shared.watch || shared.conv().turn_in_flight {
            log_at!(Level::Debug, "chat {}: subscribing to .out (peek settled: {peek})", shared.chat_id);
            // A watching chat never peeks: it stays for the next turn, settled or not.
            let peek = peek && !shared.watch;
            let mut sub = Subscription {
                shared: &shared,
                ctl: &ctl,
                peek_settled: peek,
                token_used: Secret::default(),
                reconnects_announced: 0,
                turn_completed_here: false,
                warm_until: None,
            };
            if sub.run() == Flow::Exit {
                return;
            }
        }
        next = idle(&shared, &ctl);
    }
}

#[derive(Debug, PartialEq, Eq)]
enum Flow {
    /// The awaited turns are done (or streaming failed for good): go idle.
    Idle,
    /// The chat is cancelled: leave the thread.
    Exit,
}

/// How one `.out` connection ended.
enum End {
    /// `[DONE]` or a clean EOF: the long-poll window is over.
    LongPollOver,
    /// The turn(s) we waited for are complete.
    TurnsDone,
    /// The connection failed (why, and the HTTP status if one said so); reconnect with backoff.
    Failed(String, Option<u16>),
    /// The chat is cancelled.
    Cancelled,
    /// A stream-level error no reconnect fixes.
    Fatal(Error),
    /// Client-managed runs: the agent asked for an upgrade; trigger a continuation, then resume.
    Upgrade,
    /// The session is closed.
    Closed,
}

impl End {
    fn describe(&self) -> String {
        match self {
            End::LongPollOver => "long-poll window over".into(),
            End::TurnsDone => "turns done".into(),
            End::Failed(why, _) => format!("failed: {why}"),
            End::Cancelled => "cancelled".into(),
            End::Fatal(e) => format!("fatal: {e}"),
            End::Upgrade => "upgrade".into(),
            End::Closed => "session closed".into(),
        }
    }
}

struct Subscription<'a> {
    shared: &'a Shared,
    ctl: &'a Receiver<Ctl>,
    peek_settled: bool,
    /// The token of the last `.out` request: a 401 refreshes from this one, not from whatever the
    /// shared state holds by then.
    token_used: Secret,
    /// `Reconnecting` events since the stream last spoke: a `Connected` follows when it does.
    reconnects_announced: u32,
    /// A turn-complete of ours was read on the current connection.
    turn_completed_here: bool,
    /// Between turns with `ClientConfig::with_keep_warm`: the connection is held open for the next
    /// turn until then (see [`Subscription::between_turns`]).
    warm_until: Option<Instant>,
}

impl Subscription<'_> {
    fn run(&mut self) -> Flow {
        let mut failures = 0u32;
        let mut auth_retried = false;
        // Long-poll windows in a row that brought no record while a turn was awaited.
        let mut empty_windows = 0u32;
        // Since when the stream has not worked.
        let mut outage_since: Option<Instant> = None;
        let reconnect_limit = self.shared.http.config().reconnect_limit;
        loop {
            if self.shared.is_cancelled() {
                return Flow::Exit;
            }
            let mut got_records = false;
            self.turn_completed_here = false;
            let connected = self.connect();
            self.shared.set_link(connected.is_ok());
            let end = match connected {
                Ok(response) => {
                    auth_retried = false;
                    let settled = header(&response, "x-session-settled") == Some("true");
                    log_at!(Level::Debug, "chat {}: .out connected (settled: {settled})", self.shared.chat_id);
                    let end = self.read(response, &mut got_records);
                    self.shared.set_link(false);
                    // Settled speaks of the turn awaited when this connection opened: once that
                    // one completed here, a turn a send started since is simply read anew.
                    let completed_here = std::mem::take(&mut self.turn_completed_here);
                    if settled && matches!(end, End::LongPollOver) && !completed_here {
                        // The server found the session idle, yet the stream ended without the
                        // turn-complete we wait for: nothing more is coming for this turn. The
                        // application gets the turn's end, flagged, with what arrived.
                        log_at!(
                            Level::Info,
                            "chat {}: the session settled without a turn-complete (got records: {got_records}, cursor {:?})",
                            self.shared.chat_id,
                            self.shared.conv().last_event_id
                        );
                        let in_flight = self.shared.conv().turn_in_flight;
                        self.finish_turns();
                        if in_flight {
                            let cursor = self.shared.conv().last_event_id;
                            self.shared.dispatch(Delivery::TurnEnd { seq_num: cursor, incomplete: true });
                        }
                        return Flow::Idle;
                    }
                    end
                }
                Err(Connect::Status { status, body }) => {
                    let err = status_error("GET .out", status, &body);
                    match status {
                        401 | 403 if !auth_retried => {
                            auth_retried = true;
                            if self.shared.refreshed_token(&self.token_used).is_some() {
                                continue;
                            }
                            End::Fatal(err)
                        }
                        400 | 401 | 403 | 404 | 409 | 410 | 422 => End::Fatal(err),
                        _ => End::Failed(err.message().to_owned(), Some(status)),
                    }
                }
                Err(Connect::Network(e)) => End::Failed(e.message().to_owned(), None),
                Err(Connect::Cancelled) => End::Cancelled,
            };
            log_at!(
                Level::Debug,
                "chat {}: .out connection ended: {} (got records: {got_records})",
                self.shared.chat_id,
                end.describe()
            );
            if self.shared.reconnect_requested.swap(false, std::sync::atomic::Ordering::SeqCst)
                && matches!(end, End::Failed(..) | End::LongPollOver)
                && self.shared.conv().turn_in_flight
            {
                // The application cut this connection (`reconnect_now`): resume from the cursor at
                // once, with no backoff and no reconnect counted.
                if got_records {
                    failures = 0;
                    empty_windows = 0;
                    outage_since = None;
                }
                continue;
            }
            if got_records {
                failures = 0;
                empty_windows = 0;
                outage_since = None;
            }
            // Between turns on a warm connection: a window's end opens the next one at once (the
            // pooled socket is reused); any failure just ends the warmth, quietly — nothing is
            // awaited, and the next send subscribes as usual.
            if self.warm_until.is_some()
                && !self.shared.conv().turn_in_flight
                && !matches!(end, End::Cancelled | End::Closed)
            {
                if matches!(end, End::LongPollOver) && !self.warm_over() {
                    // A resume's peek is for its first connection only (see the loop's end).
                    self.peek_settled = false;
                    if self.closed_after_empty_window(got_records) {
                        return Flow::Idle;
                    }
                    continue;
                }
                log_at!(
                    Level::Debug,
                    "chat {}: warm connection ended between turns: {}",
                    self.shared.chat_id,
                    end.describe()
                );
                self.warm_until = None;
                return Flow::Idle;
            }
            match end {
                End::Cancelled => return Flow::Exit,
                End::TurnsDone => {
                    log_at!(Level::Debug, "chat {}: the awaited turns are done", self.shared.chat_id);
                    return Flow::Idle;
                }
                End::Closed => return Flow::Idle,
                End::Fatal(e) => {
                    log_at!(Level::Error, "chat {}: streaming stopped: {}", self.shared.chat_id, e);
                    {
                        let mut c = self.shared.conv();
                        c.end_turns();
                    }
                    self.shared.emit(Event::Error(e));
                    return Flow::Idle;
                }
                End::Upgrade => {
                    if let Err(e) = self.shared.ensure_run(true) {
                        log_at!(Level::Warn, "chat {}: continuation after upgrade failed: {}", self.shared.chat_id, e);
                        failures += 1;
                        if self.wait(backoff(failures)) {
                            return Flow::Exit;
                        }
                    }
                }
                End::LongPollOver => {
                    if !self.shared.conv().turn_in_flight {
                        if !self.shared.watch {
                            return Flow::Idle;
                        }
                        if self.closed_after_empty_window(got_records) {
                            return Flow::Idle;
                        }
                        continue;
                    }
                    if !got_records {
                        // An empty window while a turn is awaited: is anything still working on it?
                        empty_windows += 1;
                        let verdict = match self.shared.check_turn() {
                            TurnCheck::Working if empty_windows >= MAX_EMPTY_WINDOWS => TurnCheck::RunEnded(format!(
                                "the stream stayed empty for {empty_windows} long-poll windows in a row"
                            )),
                            v => v,
                        };
                        match verdict {
                            TurnCheck::Working => {}
                            TurnCheck::Closed(reason) => {
                                {
                                    let mut c = self.shared.conv();
                                    c.closed = true;
                                    c.end_turns();
                                }
                                self.shared.emit_closed(reason);
                                return Flow::Idle;
                            }
                            TurnCheck::RunEnded(why) => {
                                let e = Error::new(
                                    ErrorKind::RunEnded,
                                    format!("the run ended without completing the turn ({why})"),
                                );
                                log_at!(Level::Warn, "chat {}: {}", self.shared.chat_id, e);
                                self.shared.conv().end_turns();
                                self.shared.emit(Event::Error(e));
                                return Flow::Idle;
                            }
                        }
                        failures += 1;
                        if self.wait(backoff(failures)) {
                            return Flow::Exit;
                        }
                    }
                }
                End::Failed(why, status) => {
                    let since = *outage_since.get_or_insert_with(Instant::now);
                    if let Some(limit) = reconnect_limit.filter(|l| since.elapsed() >= *l) {
                        // The application asked not to wait on: the turn is over.
                        let message = format!(
                            "no stream for {:?} ({} reconnects; the last failure: {why}): giving up the turn after the reconnect limit of {limit:?}",
                            since.elapsed(),
                            failures
                        );
                        let e = match status {
                            Some(s) => Error::http(ErrorKind::Http, s, message),
                            None => Error::new(ErrorKind::Network, message),
                        };
                        log_at!(Level::Warn, "chat {}: {}", self.shared.chat_id, e);
                        self.shared.conv().end_turns();
                        self.shared.emit(Event::Error(e));
                        return Flow::Idle;
                    }
                    failures += 1;
                    self.reconnects_announced += 1;
                    let delay = backoff(failures);
                    log_at!(
                        Level::Info,
                        "chat {}: .out dropped ({}); reconnect {} in {:?}",
                        self.shared.chat_id,
                        why,
                        failures,
                        delay
                    );
                    self.shared.emit(Event::Reconnecting { attempt: failures, delay, cause: why, status });
                    if self.wait(delay) {
                        return Flow::Exit;
                    }
                }
            }
            // Only the first connection of a resume may ask the server to peek.
            self.peek_settled = false;
        }
    }

    /// Between turns (watching, or warm), a long-poll window that ends empty may end on a session
    /// closed meanwhile: asks the session, and reports a close (true: the stream is over).
    fn closed_after_empty_window(&self, got_records: bool) -> bool {
        if got_records {
            return false;
        }
        match self.shared.check_closed() {
            TurnCheck::Closed(reason) => {
                self.shared.conv().closed = true;
                self.shared.emit_closed(reason);
                true
            }
            _ => false,
        }
    }

    /// Sleeps `delay` unless cancelled first; true when cancelled.
    fn wait(&self, delay: Duration) -> bool {
        let deadline = Instant::now() + delay;
        loop {
            if self.shared.is_cancelled() {
                return true;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return false;
            }
            match self.ctl.recv_timeout(left) {
                Ok(Ctl::Shutdown) | Err(RecvTimeoutError::Disconnected) => return true,
                Ok(Ctl::ReconnectNow) => {
                    self.shared.reconnect_requested.store(false, std::sync::atomic::Ordering::SeqCst);
                    return false;
                }
                Ok(Ctl::Subscribe { .. }) | Err(RecvTimeoutError::Timeout) => {}
            }
        }
    }

    fn connect(&mut self) -> Result<http::Response<ureq::Body>, Connect> {
        let http = &self.shared.http;
        // The chat's stream agent is kept across connections (its pooled socket and the client's TLS
        // session store make the next window's connection cheap) until a cancel shuts it down.
        let agent = {
            let mut slot = self.shared.stream_agent.lock().unwrap_or_else(|e| e.into_inner());
            slot.get_or_insert_with(|| http.stream_agent()).clone()
        };
        // Checked after publishing the agent: a cancel either sees this agent or we see the flag.
        if self.shared.is_cancelled() {
            return Err(Connect::Cancelled);
        }
        let token: Secret = self.shared.session_token();
        self.token_used = token.clone();
        let cursor = self.shared.conv().last_event_id;
        let path = format!("/realtime/v1/sessions/{}/out", encode_segment(self.shared.session_id()));
        let mut req = crate::http::Request::get(path.clone(), &token)
            .header("accept", "text/event-stream")
            .header("timeout-seconds", http.config().long_poll.as_secs().to_string());
        if let Some(c) = cursor {
            req = req.header("last-event-id", c.to_string());
        }
        if self.peek_settled {
            req = req.header("x-peek-settled", "1");
        }
        let request = http.build(&req).map_err(Connect::Network)?;
        match agent.run(request) {
            Ok(resp) if resp.status().as_u16() == 200 => Ok(resp),
            Ok(resp) => {
                let status = resp.status().as_u16();
                let mut body = Vec::new();
                let _ = resp
                    .into_body()
                    .into_with_config()
                    .limit(64 * 1024)
                    .reader()
                    .take(64 * 1024)
                    .read_to_end(&mut body);
                Err(Connect::Status { status, body })
            }
            Err(_) if self.shared.is_cancelled() => Err(Connect::Cancelled),
            Err(e) => Err(Connect::Network(transport_error(e, &format!("GET {}", http.url(&path))))),
        }
    }

    fn read(&mut self, response: http::Response<ureq::Body>, got_records: &mut bool) -> End {
        let mut reader = response.into_body().into_reader();
        let mut parser = SseParser::new();
        let mut decoder = Decoder::with_cursor(self.shared.conv().last_event_id);
        let mut buf = vec![0u8; READ_BUFFER_BYTES];
        let mut items = Vec::new();
        let stall = self.shared.http.config().stall_timeout;
        let mut last_record = Instant::now();
        loop {
            let n = match reader.read(&mut buf) {
                // A body that ends cleanly, with `[DONE]` or without it (a proxy that closes the
                // window its own way), is the end of a long-poll window, as for the official
                // clients; a cut body surfaces as a read error instead.
                Ok(0) => {
                    return if self.shared.is_cancelled() { End::Cancelled } else { End::LongPollOver };
                }
                Ok(n) => n,
                Err(e) => {
                    return if self.shared.is_cancelled() {
                        End::Cancelled
                    } else {
                        End::Failed(format!("read: {e}"), None)
                    };
                }
            };
            if self.shared.is_cancelled() {
                return End::Cancelled;
            }
            let fed = parser.feed(&buf[..n], |ev| decoder.decode_event(ev.event, ev.data, &mut items));
            // The stream is back once it speaks again (a record, a ping, a window's end).
            if !items.is_empty() && self.reconnects_announced > 0 {
                self.shared.emit(Event::Connected { attempts: std::mem::take(&mut self.reconnects_announced) });
            }
            // The cursor moves item by item, before each is handed on: a save_state from the
            // callback then includes the record it is looking at and nothing after it, and the
            // items left behind when a turn-complete ends the connection are fetched again.
            for item in items.drain(..) {
                if let Some(seq) = item_seq(&item) {
                    self.shared.conv().last_event_id = Some(seq);
                }
                let window_over = matches!(item, StreamItem::Done);
                if let Some(end) = self.handle(item, got_records, &mut last_record, stall) {
                    if window_over {
                        // The body's end follows `[DONE]` at once; reading it lets the connection
                        // go back to the chat's pool for the next window.
                        let _ = std::io::copy(&mut (&mut reader).take(64 * 1024), &mut std::io::sink());
                    }
                    return end;
                }
            }
            // Records that yield no item (S2 commands, duplicates) still move the cursor.
            if let Some(cursor) = decoder.cursor() {
                self.shared.conv().last_event_id = Some(cursor);
            }
            // The stall timeout counts records, not bytes: pings, comments, unknown events and
            // partial lines keep a connection busy without feeding the turn. Checked after every
            // read, so a trickle is caught within the stall timeout plus the gap to its next byte;
            // a silent socket ends with the per-read timeout (the stall timeout) after its last byte.
            if self.stalled(last_record, stall) {
                return End::Failed(format!("no record for {stall:?} (stall)"), None);
            }
            if let Err(e) = fed {
                return End::Fatal(Error::protocol(format!(".out stream: {e}")));
            }
        }
    }
}

/// The `.out` seq an item carries, if any.
fn item_seq(item: &StreamItem) -> Option<u64> {
    match item {
        StreamItem::Chunk(rec) => Some(rec.seq_num),
        StreamItem::Control { seq_num, .. } => Some(*seq_num),
        StreamItem::DecodeError { seq_num, .. } => *seq_num,
        _ => None,
    }
}

enum Connect {
    Status { status: u16, body: Vec<u8> },
    Network(Error),
    Cancelled,
}

fn header<'a>(response: &'a http::Response<ureq::Body>, name: &str) -> Option<&'a str> {
    response.headers().get(name).and_then(|v| v.to_str().ok())
}
