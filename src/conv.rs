//! The conversation's shared state: what a chat's API calls (the application's threads) and its
//! reader thread (`stream`) both read and write — the conversation state ([`Conv`]), the link to the
//! reader, the delivery of events — so that `chat` and `stream` depend on this module and not on
//! each other.

use std::cell::Cell;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, OnceLock};
use std::time::Instant;

use crossbeam_channel::Sender;
use serde_json::{json, Value};

use crate::api;
use crate::assemble::Assembler;
use crate::error::Result;
use crate::event::{ChunkEvent, Event, TurnCompleteEvent};
use crate::http::Http;
use crate::log::{log_at, Level};
use crate::records::ChunkRecord;
use crate::secret::Secret;
use crate::state::{RunMode, SavedState};
use crate::wire::RunStatus;

/// Messages to the reader thread.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Ctl {
    /// Read `.out` until the awaited turns are complete.
    Subscribe { peek_settled: bool },
    /// Reconnect at once: the application says the network changed (see `Chat::reconnect_now`).
    ReconnectNow,
    /// Exit.
    Shutdown,
}

thread_local! {
    /// The chat whose reader thread this is (the address of its `Shared`, alive as long as the
    /// thread holds it), 0 on every other thread. Asked instead of `std::thread::current()`, which
    /// on an application's thread makes std allocate a handle it never frees (valgrind's one
    /// "possibly lost" block of every C program).
    static READER_OF: Cell<usize> = const { Cell::new(0) };
    /// The chat whose event callback this thread is running now (0: none). The reader thread runs
    /// the callback for the stream's events, the sender thread for the `_async` calls' completions.
    static IN_CALLBACK_OF: Cell<usize> = const { Cell::new(0) };
}

/// The deliveries waiting for `next_event`, in stream order.
///
/// Not a crossbeam channel: its blocking receive registers the waiting thread with
/// `std::thread::current()`, and on a thread std did not start (a C application's main thread)
/// that makes std allocate a handle it never frees — valgrind's "possibly lost" block in every C
/// program that waits in `tchat_chat_next_event`. A mutex and a condvar wait on a futex and
/// allocate nothing per thread.
#[derive(Default)]
pub(crate) struct EventQueue {
    items: Mutex<VecDeque<Delivery>>,
    ready: Condvar,
}

impl EventQueue {
    pub fn push(&self, delivery: Delivery) {
        self.items.lock().unwrap_or_else(|e| e.into_inner()).push_back(delivery);
        self.ready.notify_one();
    }

    /// The oldest delivery, waiting for one until `deadline` (`None`: for ever); `None` when the
    /// deadline passed first.
    pub fn pop(&self, deadline: Option<Instant>) -> Option<Delivery> {
        let mut items = self.items.lock().unwrap_or_else(|e| e.into_inner());
        loop {
            if let Some(delivery) = items.pop_front() {
                return Some(delivery);
            }
            items = match deadline {
                None => self.ready.wait(items).unwrap_or_else(|e| e.into_inner()),
                Some(deadline) => {
                    let left = deadline.saturating_duration_since(Instant::now());
                    if left.is_zero() {
                        return None;
                    }
                    self.ready.wait_timeout(items, left).unwrap_or_else(|e| e.into_inner()).0
                }
            };
        }
    }
}

/// An event callback: called one event at a time, in stream order, on the chat's reader thread (the
/// completions of calls queued with `Chat::submit`: on its sender thread).
pub type Callback = dyn Fn(&Event) + Send + Sync;

/// What the application thread and the reader thread share.
pub(crate) struct Shared {
    pub http: Arc<Http>,
    /// The session's friendly id: set when the chat opens (at once for `Client::open`; on the
    /// sender thread for `Client::open_async`).
    pub session: OnceLock<String>,
    /// Why an `open_async` failed: every later call of the chat fails with it.
    pub open_error: Mutex<Option<crate::error::Error>>,
    pub chat_id: String,
    pub task_id: String,
    pub conv: Mutex<Conv>,
    /// Set once when the chat is closed or dropped: the reader exits at its next check.
    pub cancelled: AtomicBool,
    /// Set once when the chat is dropped: the sender thread makes no more calls and reports none.
    pub dropped: AtomicBool,
    /// The agent of the reader's current `.out` request, shut down to interrupt a blocked read.
    pub stream_agent: Mutex<Option<ureq::Agent>>,
    /// The reader holds an idle watch (see `ClientConfig::with_idle_watch`): a send ends it.
    pub watching: AtomicBool,
    /// `Chat::reconnect_now` cut the connection: the reader resumes without a backoff.
    pub reconnect_requested: AtomicBool,
    pub ctl_tx: Sender<Ctl>,
    pub(crate) events: EventQueue,
    /// Deliveries queued for `next_event` and not taken yet.
    pub(crate) undelivered: AtomicUsize,
    pub(crate) callback: Mutex<Option<Arc<Callback>>>,
    /// Held while an event is handed to the callback (on the reader or the sender thread), so the
    /// callback is never called twice at once and events keep one order.
    pub(crate) dispatch_lock: Mutex<()>,
    /// Calls of a callback in progress (counted under the `callback` lock, when the callback is
    /// taken from the slot), so that replacing a callback can wait for the old one's calls to end.
    pub(crate) callback_calls: Mutex<usize>,
    pub(crate) callback_done: Condvar,
    pub(crate) send_lock: Mutex<()>,
    /// Whether the reader holds an open `.out` response, and how many connection attempts it has
    /// finished: a send waits on it to subscribe before appending.
    pub link: Mutex<Link>,
    pub link_changed: Condvar,
    /// Watch mode: every turn is delivered and the reader stays subscribed.
    pub watch: bool,
    /// Notified (with `conv`) when a message append returns: the reader may wait on it to learn
    /// the seq that tells whether a turn-complete is ours.
    pub append_returned: Condvar,
}

/// The reader's connection, as a send sees it.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Link {
    pub connected: bool,
    pub attempts: u64,
}

/// Conversation state that changes as it goes (PROTOCOL 8).
pub(crate) struct Conv {
    pub run_id: Option<String>,
    /// The session's public access token (or the client's token until one arrives).
    pub token: Secret,
    pub last_event_id: Option<u64>,
    pub run_mode: RunMode,
    pub turn_in_flight: bool,
    /// When this chat's latest turn started (a send that found no turn in flight): the stall
    /// timeout of a turn that starts on a long-quiet warm connection counts from here.
    pub turn_started: Option<std::time::Instant>,
    /// `.in` seq of the last message-kind append.
    pub last_message_seq: Option<u64>,
    /// The `.in` seqs of this chat's messages no turn-complete has answered yet, oldest first: a
    /// turn-complete that answers none of them ends a turn the application did not start.
    pub awaited: std::collections::VecDeque<u64>,
    /// Turns the reader still waits for, for agents that send no `session-in-event-id`.
    pub turns_expected: u32,
    /// Message appends under way: until they return, the reader cannot know their `.in` seq, so it
    /// must not stop at a turn-complete.
    pub appends_pending: u32,
    /// The highest `.in` seq a turn-complete said the agent committed.
    pub last_committed: Option<u64>,
    /// The run asked to end its loop by [`Chat::close_agent`]: until it has ended, a message appended
    /// now would land on a run that is about to exit without reading it.
    pub closing_run: Option<String>,
    pub skip_until_turn_complete: bool,
    /// The assistant message of the turn in flight, as assembled from the chunks delivered so far.
    pub assembler: Assembler,
    /// The seq_num of the last record delivered to the application (`last_event_id` is the
    /// reader's, which may be ahead of a poll loop).
    pub delivered_cursor: Option<u64>,
    pub last_assistant: Option<Value>,
    pub metadata: Option<Value>,
    pub closed: bool,
    /// This chat's own `close_session` is under way: the close it causes on `.out` is not news.
    pub closing_session: bool,
    /// The send whose turn the observer follows: when it started, its message id, and whether its
    /// first chunk has been seen.
    pub observed: Option<ObservedSend>,
}

/// See [`Conv::observed`].
#[derive(Clone)]
pub(crate) struct ObservedSend {
    pub started: std::time::Instant,
    pub message_id: Option<String>,
    pub first_chunk_seen: bool,
}

impl Conv {
    /// No turn is awaited any more.
    pub fn end_turns(&mut self) {
        self.turn_in_flight = false;
        self.turns_expected = 0;
        self.awaited.clear();
        self.observed = None;
    }
}

impl Shared {
    /// Tells the client's send observer, if any.
    pub fn observe(&self, event: crate::SendEvent) {
        if let Some(observer) = &self.http.config().send_observer {
            if std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| observer(&self.chat_id, &event))).is_err() {
                log_at!(Level::Error, "chat {}: the send observer panicked", self.chat_id);
            }
        }
    }

    /// The reader saw a chunk or a turn's end of the observed send's turn.
    pub fn observe_turn(&self, turn_end: bool) {
        let event = {
            let mut c = self.conv();
            let Some(o) = c.observed.as_mut() else { return };
            let elapsed = o.started.elapsed();
            let message_id = o.message_id.clone();
            if turn_end {
                c.observed = None;
                crate::SendEvent::TurnCompleted { message_id, elapsed }
            } else if !o.first_chunk_seen {
                o.first_chunk_seen = true;
                crate::SendEvent::FirstChunk { message_id, elapsed }
            } else {
                return;
            }
        };
        self.observe(event);
    }

    pub fn conv(&self) -> MutexGuard<'_, Conv> {
        self.conv.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn is_cancelled(&self) -> bool {
        self.cancelled.load(Ordering::SeqCst)
    }

    /// Reports a close by someone else: [`Event::SessionClosed`], unless this chat's own
    /// `close_session` caused it (that call's return value is the answer; no event follows).
    pub fn emit_closed(&self, reason: Option<String>) {
        if !self.conv().closing_session {
            self.emit(Event::SessionClosed { reason });
        }
    }

    /// Delivers an event: to the callback if one is set, else to the poll queue.
    pub fn emit(&self, event: Event) {
        self.dispatch(Delivery::Event(event));
    }

    /// Hands a delivery to the application: applied and passed to the callback now if one is set,
    /// else queued for `next_event`, which applies it when it is taken.
    /// Returns whether a callback took it (and so may have called into the chat meanwhile).
    pub fn dispatch(&self, delivery: Delivery) -> bool {
        let _serialized = self.dispatch_lock.lock().unwrap_or_else(|e| e.into_inner());
        self.dispatch_locked(delivery)
    }

    /// [`Shared::dispatch`] for the sender thread: nothing once the chat is being dropped (its
    /// callback's `user_data` may be gone; the drop waits for a dispatch in progress to end).
    pub fn dispatch_unless_dropped(&self, delivery: Delivery) {
        let _serialized = self.dispatch_lock.lock().unwrap_or_else(|e| e.into_inner());
        if !self.is_dropped() {
            self.dispatch_locked(delivery);
        }
    }

    fn dispatch_locked(&self, delivery: Delivery) -> bool {
        let callback = {
            let slot = self.callback.lock().unwrap_or_else(|e| e.into_inner());
            if slot.is_some() {
                *self.callback_calls.lock().unwrap_or_else(|e| e.into_inner()) += 1;
            }
            slot.clone()
        };
        match callback {
            Some(cb) => {
                if let Some(event) = self.deliver(delivery) {
                    let me = self as *const Shared as usize;
                    let outer = IN_CALLBACK_OF.with(|c| c.replace(me));
                    // A panicking callback must not kill the reader thread (and with it the chat).
                    if std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| cb(&event))).is_err() {
                        log_at!(Level::Error, "chat {}: the event callback panicked; event dropped", self.chat_id);
                    }
                    IN_CALLBACK_OF.with(|c| c.set(outer));
                }
                drop(cb);
                let mut calls = self.callback_calls.lock().unwrap_or_else(|e| e.into_inner());
                *calls -= 1;
                self.callback_done.notify_all();
                true
            }
            None => {
                self.undelivered.fetch_add(1, Ordering::SeqCst);
                self.events.push(delivery);
                false
            }
        }
    }

    /// The application-side half of the stream: assembly, the stop skip and the delivered cursor
    /// advance as the application receives events, so saved state never runs ahead of what it saw.
    pub(crate) fn deliver(&self, delivery: Delivery) -> Option<Event> {
        let mut c = self.conv();
        match delivery {
            Delivery::Chunk(rec) => {
                c.delivered_cursor = Some(rec.seq_num);
                if c.skip_until_turn_complete {
                    return None;
                }
                c.assembler.apply_record(&rec);
                // The chunk's JSON goes out as it came in; `delta` only for text and reasoning deltas.
                let delta = rec.delta().map(str::to_owned);
                let chunk_type = rec.chunk_type().to_owned();
                Some(Event::Chunk(ChunkEvent { seq_num: rec.seq_num, chunk_type, json: rec.into_json(), delta }))
            }
            Delivery::TurnEnd { seq_num, incomplete } => {
                c.delivered_cursor = c.delivered_cursor.max(seq_num);
                let a = &c.assembler;
                let event = TurnCompleteEvent {
                    message_json: a.to_json(),
                    message_id: a.message_id().map(str::to_owned),
                    finish_reason: a.finish_reason().map(str::to_owned),
                    error_text: a.error_text().map(str::to_owned),
                    stopped: false,
                    pending_approvals: a.pending_approvals().into_iter().map(|p| p.approval_id).collect(),
                    incomplete,
                };
                let message = (!a.is_empty()).then(|| serde_json::to_value(a.message()).ok()).flatten();
                c.assembler.reset();
                let stopped = std::mem::take(&mut c.skip_until_turn_complete);
                if !stopped && !incomplete && message.is_some() {
                    c.last_assistant = message;
                }
                Some(Event::TurnComplete(TurnCompleteEvent { stopped, ..event }))
            }
            Delivery::TurnSkipped { seq_num } => {
                // Its chunks went out as they came; its message is not the next turn's start.
                c.delivered_cursor = c.delivered_cursor.max(Some(seq_num));
                c.assembler.reset();
                None
            }
            Delivery::Event(event) => Some(event),
            Delivery::Wake => None,
        }
    }

    /// The token for `.in`/`.out`: the session PAT, else the client's own.
    pub fn session_token(&self) -> Secret {
        let conv = self.conv();
        if conv.token.is_empty() {
            self.http.config().token.clone()
        } else {
            conv.token.clone()
        }
    }

    /// Asks for a better token after a 401/403: the application's token provider first, then the
    /// client's own token (a secret key may do what the session PAT may not). `None` when there is
    /// nothing new to try.
    pub fn refreshed_token(&self, failed: &Secret) -> Option<Secret> {
        {
            // Another thread may have refreshed it meanwhile (a send and the reader both hit 401).
            let c = self.conv();
            if !c.token.is_empty() && c.token != *failed {
                return Some(c.token.clone());
            }
        }
        let config = self.http.config();
        let candidate = config
            .token_provider
            .as_ref()
            .and_then(|p| p(&self.chat_id))
            .map(Secret::new)
            .filter(|t| !t.is_empty() && t != failed)
            .or_else(|| Some(config.token.clone()).filter(|t| t != failed))?;
        self.conv().token = candidate.clone();
        Some(candidate)
    }

    /// Client-managed runs: make sure a run is alive to read `.in`, triggering a continuation when the
    /// current one is final (or there is none). `force` triggers without asking (after upgrade-required).
    pub fn ensure_run(&self, force: bool) -> Result<()> {
        let (run_id, mode, metadata) = {
            let c = self.conv();
            (c.run_id.clone(), c.run_mode, c.metadata.clone())
        };
        if mode != RunMode::Client {
            return Ok(());
        }
        let client_token = self.http.config().token.clone();
        let alive = match (&run_id, force) {
            (Some(id), false) => !RunStatus::is_final(&api::run_status(&self.http, &client_token, id)?),
            _ => false,
        };
        if alive {
            return Ok(());
        }
        let mut payload = json!({
            "chatId": self.chat_id,
            "trigger": "preload",
            "messages": [],
            "continuation": true,
            "sessionId": self.session_id(),
        });
        if let Some(prev) = &run_id {
            payload["previousRunId"] = json!(prev);
        }
        if let Some(m) = metadata {
            payload["metadata"] = m;
        }
        let run_id = self.trigger_run(payload)?;
        log_at!(Level::Info, "chat {}: started continuation run {}", self.chat_id, run_id);
        Ok(())
    }

    /// After a long-poll window that brought nothing while a turn is awaited: the session may have
    /// been closed elsewhere, or the run may have died mid-turn. Client-managed runs get a
    /// continuation when their run is final (the 4.8 agent answers the unfinished message again);
    /// a server-managed run that died gets no replacement until the next append, so the turn
    /// is over. Answers that cannot be had (a token without the scope, a network error) count as
    /// "working": the empty-window budget still bounds the wait.
    /// Whether the session has been closed (a `GET` of it); `Working` when open or unknown.
    pub fn check_closed(&self) -> TurnCheck {
        let token = self.session_token();
        match api::retrieve_session(&self.http, &token, self.session_id()) {
            Ok(s) if s.closed => TurnCheck::Closed(s.closed_reason),
            _ => TurnCheck::Working,
        }
    }

    pub fn check_turn(&self) -> TurnCheck {
        let token = self.session_token();
        match api::retrieve_session(&self.http, &token, self.session_id()) {
            Ok(s) if s.closed => return TurnCheck::Closed(s.closed_reason),
            Ok(s) => {
                let mut c = self.conv();
                if let Some(current) = s.current_run_id.filter(|r| c.run_id.as_ref() != Some(r)) {
                    log_at!(Level::Info, "chat {}: the session's run is now {current}", self.chat_id);
                    c.run_id = Some(current);
                    return TurnCheck::Working;
                }
            }
            Err(e) => log_at!(Level::Debug, "chat {}: session check failed: {}", self.chat_id, e),
        }
        let (run_id, mode) = {
            let c = self.conv();
            (c.run_id.clone(), c.run_mode)
        };
        if mode == RunMode::Client {
            if let Err(e) = self.ensure_run(false) {
                log_at!(Level::Warn, "chat {}: run check failed: {}", self.chat_id, e);
            }
            return TurnCheck::Working;
        }
        let Some(run_id) = run_id else { return TurnCheck::Working };
        let client_token = self.http.config().token.clone();
        match api::run_status(&self.http, &client_token, &run_id) {
            Ok(status) if RunStatus::is_final(&status) => TurnCheck::RunEnded(format!("run {run_id} is {status}")),
            Ok(_) => TurnCheck::Working,
            Err(e) => {
                log_at!(Level::Debug, "chat {}: run check failed: {}", self.chat_id, e);
                TurnCheck::Working
            }
        }
    }

    /// Client-managed runs: triggers a run of the agent with `payload` (with the client's token) and
    /// makes it the chat's current run, taking its token when it brings one. Returns the run id.
    pub(crate) fn trigger_run(&self, payload: Value) -> Result<String> {
        let client_token = self.http.config().token.clone();
        let run = api::trigger_run(&self.http, &client_token, &self.task_id, payload)?;
        let mut c = self.conv();
        c.run_id = Some(run.run_id.clone());
        if let Some(t) = run.token {
            c.token = t;
        }
        Ok(run.run_id)
    }

    pub(crate) fn saved_state(&self) -> SavedState {
        let c = self.conv();
        // A poll loop may not have taken everything the reader received: then save where the
        // application is, and mark the turn in flight so a restore fetches the rest again.
        let behind = self.undelivered.load(Ordering::SeqCst) > 0;
        let (last_event_id, turn_in_flight) =
            if behind { (c.delivered_cursor, true) } else { (c.last_event_id, c.turn_in_flight) };
        SavedState {
            version: SavedState::VERSION,
            session_id: self.session_id().to_owned(),
            chat_id: self.chat_id.clone(),
            task_id: self.task_id.clone(),
            run_id: c.run_id.clone(),
            public_access_token: Some(c.token.expose().to_owned()).filter(|t| !t.is_empty()),
            last_event_id,
            run_mode: c.run_mode,
            turn_in_flight,
            last_message_seq: c.last_message_seq,
            last_assistant_message: c.last_assistant.clone(),
            partial_assistant_message: if turn_in_flight && !c.assembler.is_empty() {
                serde_json::to_value(c.assembler.message()).ok()
            } else {
                None
            },
            continuing_assistant_message: c.assembler.previous().and_then(|m| serde_json::to_value(m).ok()),
            watch: self.watch,
            metadata: c.metadata.clone(),
        }
    }
}

/// What [`Shared::check_turn`] found.
pub(crate) enum TurnCheck {
    /// Something may still answer: keep waiting.
    Working,
    /// The session was closed (by another client, the dashboard, the agent).
    Closed(Option<String>),
    /// The run died and nothing took over; why.
    RunEnded(String),
}

/// What the reader thread hands on towards the application (see [`Shared::dispatch`]).
pub(crate) enum Delivery {
    /// A data record, assembled when delivered.
    Chunk(ChunkRecord),
    /// A turn-complete record at `seq_num`: the assembled message is final.
    /// The turn's end at `seq_num` (its turn-complete record; for an `incomplete` end, the cursor).
    TurnEnd { seq_num: Option<u64>, incomplete: bool },
    /// The turn-complete at `seq_num` of a turn this chat did not start (an earlier one, or one
    /// another client drove): no event.
    TurnSkipped { seq_num: u64 },
    /// Any other event, as it is.
    Event(Event),
    /// Wakes a waiting `next_event` (not an event).
    Wake,
}

impl Conv {
    /// A new chat's state before its session exists (the open fills in the run and its token).
    pub fn opening(metadata: Option<Value>) -> Conv {
        Conv {
            run_id: None,
            token: Secret::default(),
            last_event_id: None,
            run_mode: RunMode::Client,
            turn_in_flight: false,
            turn_started: None,
            last_message_seq: None,
            awaited: Default::default(),
            turns_expected: 0,
            appends_pending: 0,
            last_committed: None,
            closing_run: None,
            skip_until_turn_complete: false,
            assembler: Assembler::new(),
            delivered_cursor: None,
            last_assistant: None,
            metadata,
            closed: false,
            closing_session: false,
            observed: None,
        }
    }
}

impl Shared {
    /// Whether the current thread is the chat's reader thread (i.e. we are inside its callback).
    pub fn on_reader_thread(&self) -> bool {
        READER_OF.with(|r| r.get() == self as *const Shared as usize)
    }

    pub fn is_dropped(&self) -> bool {
        self.dropped.load(Ordering::SeqCst)
    }

    /// Whether the current thread is running this chat's event callback now (on either thread).
    pub fn in_callback(&self) -> bool {
        IN_CALLBACK_OF.with(|r| r.get() == self as *const Shared as usize)
    }

    /// The session's friendly id ("" while an `open_async` is under way or after it failed).
    pub fn session_id(&self) -> &str {
        self.session.get().map_or("", String::as_str)
    }

    /// Marks the calling thread as this chat's reader (called first thing on the reader thread).
    pub fn become_reader_thread(&self) {
        READER_OF.with(|r| r.set(self as *const Shared as usize));
    }

    /// Asks the reader to subscribe and waits until it holds an open `.out` response, or finished a
    /// connection attempt that failed (it retries on its own), or the chat is cancelled. Bounded by
    /// the connect and response timeouts.
    pub fn subscribe_and_wait(&self) {
        // Always ask: a reader that looks connected may be leaving after its last turn-complete, and
        // it skips the request if it finds no turn in flight. (A watching chat's reader holds the
        // chat's one subscription: the append's records arrive on it.)
        let _ = self.ctl_tx.send(Ctl::Subscribe { peek_settled: false });
        // An idle watch is not a turn's subscription: end it, so the reader subscribes anew (the
        // turn in flight, set before this call, tells the watch not to reconnect).
        if self.watching.load(Ordering::SeqCst) {
            if let Some(agent) = self.stream_agent.lock().unwrap_or_else(|e| e.into_inner()).take() {
                agent.shutdown();
            }
        }
        // From the callback, the reader is this very thread and is connected: it reads on after the
        // callback returns.
        // From a callback on the sender thread, the reader may be waiting to hand it the next
        // event: waiting for it here would wait for ourselves.
        if self.on_reader_thread() || self.in_callback() {
            return;
        }
        let mut link = self.link.lock().unwrap_or_else(|e| e.into_inner());
        let attempts = link.attempts;
        let config = self.http.config();
        let deadline = std::time::Instant::now() + config.connect_timeout + config.response_timeout;
        // A new subscription is waited for until its first attempt ends; a watching chat's, which
        // may be between two long-poll windows, until it is connected again.
        while !link.connected && (self.watch || link.attempts == attempts) && !self.is_cancelled() {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            if left.is_zero() {
                break;
            }
            link = self.link_changed.wait_timeout(link, left).unwrap_or_else(|e| e.into_inner()).0;
        }
    }

    /// The reader reports a connection opened (`true`) or ended (`false`, also a failed attempt).
    pub fn set_link(&self, connected: bool) {
        let mut link = self.link.lock().unwrap_or_else(|e| e.into_inner());
        if !connected {
            link.attempts += 1;
        }
        link.connected = connected;
        self.link_changed.notify_all();
    }

    /// Stops the reader's current stream now: flags the cancel, then interrupts a blocked read.
    pub fn cancel_stream(&self) {
        self.cancelled.store(true, Ordering::SeqCst);
        let _ = self.ctl_tx.send(Ctl::Shutdown);
        if let Some(agent) = self.stream_agent.lock().unwrap_or_else(|e| e.into_inner()).take() {
            agent.shutdown();
        }
    }
}
