//! [`Chat`]: one conversation with a `chat.agent` — open or restore it, send into `.in`, receive
//! events from `.out`, save its state, close it.
//!
//! The conversation state lives behind a mutex in [`Shared`], which the chat's reader thread
//! (`stream.rs`) shares. Calls from the application are serialized by a second mutex (`send_lock`)
//! so that a send's network round trip never blocks the reader's state updates.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, OnceLock};
use std::thread::JoinHandle;
use std::time::Duration;

use serde_json::{json, Value};

use crate::api;
use crate::assemble::Assembler;
use crate::client::Client;
pub use crate::conv::Callback;
use crate::conv::{Conv, Ctl, Delivery, EventQueue, Link, ObservedSend, Shared};
use crate::error::{Error, ErrorKind, Result};
use crate::event::Event;
use crate::log::{log_at, Level};
use crate::secret::Secret;
use crate::state::{RunMode, SavedState};
use crate::stream;
use crate::wire::RunStatus;

mod send;
mod worker;

pub use worker::Op;

/// Stack of a chat's reader thread: it only parses and dispatches, so a small stack keeps 1,000 open
/// chats cheap.
const READER_STACK_BYTES: usize = 128 * 1024;

/// The agent's run configuration sent with session creation (`triggerConfig`, PROTOCOL 1).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TriggerConfig {
    pub machine: Option<String>,
    pub queue: Option<String>,
    pub tags: Vec<String>,
    pub max_attempts: Option<u32>,
    pub max_duration_secs: Option<u64>,
    pub idle_timeout_secs: Option<u64>,
    /// Further `triggerConfig` fields (e.g. `lockToVersion`, `region`), merged as they are.
    pub extra: Option<serde_json::Map<String, Value>>,
}

/// How to open a conversation.
#[derive(Debug, Clone, PartialEq)]
pub struct ChatOptions {
    /// The agent's task identifier (e.g. `"my-chat"`).
    pub task_id: String,
    /// Your stable conversation id (the session's externalId); a random one when `None`.
    pub chat_id: Option<String>,
    /// Client data sent as `metadata` with the first run and every message.
    pub metadata: Option<Value>,
    /// Run configuration.
    pub trigger_config: TriggerConfig,
    /// Start the run with this user message (text); `None` preloads the agent instead.
    pub first_message: Option<String>,
    /// Watch mode: stay subscribed across turns and deliver every turn on the chat, whoever
    /// started it (a second device, a dashboard), not only the turns this chat's sends start.
    pub watch: bool,
}

impl ChatOptions {
    /// Options for a chat with the agent `task_id`, preloaded, with a random chat id.
    pub fn new(task_id: impl Into<String>) -> Self {
        ChatOptions {
            task_id: task_id.into(),
            chat_id: None,
            metadata: None,
            trigger_config: TriggerConfig::default(),
            first_message: None,
            watch: false,
        }
    }

    pub fn with_chat_id(mut self, id: impl Into<String>) -> Self {
        self.chat_id = Some(id.into());
        self
    }

    pub fn with_metadata(mut self, metadata: Value) -> Self {
        self.metadata = Some(metadata);
        self
    }

    pub fn with_trigger_config(mut self, config: TriggerConfig) -> Self {
        self.trigger_config = config;
        self
    }

    /// Watch mode (see [`ChatOptions::watch`]): one `.out` long-poll held for the chat's life; each
    /// turn's events arrive whoever drove it, exactly once, across continuations and reconnects.
    pub fn with_watch(mut self, watch: bool) -> Self {
        self.watch = watch;
        self
    }

    /// Adds a run tag (at most 128 characters). Runs are tagged `chat:<chat id>` first when that
    /// fits in a tag, then these tags, at most 10 in all, as the official clients tag them.
    pub fn with_tag(mut self, tag: impl Into<String>) -> Self {
        self.trigger_config.tags.push(tag.into());
        self
    }

    pub fn with_first_message(mut self, text: impl Into<String>) -> Self {
        self.first_message = Some(text.into());
        self
    }
}

/// A conversation. Every method may be called from any thread (calls are serialized internally),
/// including from inside the event callback. Dropping the chat stops its reader thread promptly and
/// joins it (unless dropped from inside its own callback, where it is detached instead).
pub struct Chat {
    shared: Arc<Shared>,
    /// `None` in the sender thread's own view of the chat (which owns nothing).
    reader: Option<JoinHandle<()>>,
    /// The sender thread of `_async` calls, started by the first one.
    sender: OnceLock<worker::Sender>,
}

/// What one send expects of the agent.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Expect {
    /// A new turn (a message, regenerate, action, tool approval), unless one is already streaming,
    /// in which case the message is a pending/steering one.
    Turn,
    /// Nothing on `.out` (the agent-loop close).
    Nothing,
}

/// What [`Chat::poll_event`] found.
pub(crate) enum Polled {
    Event(Event),
    /// The timeout passed.
    Nothing,
    /// [`Chat::wake`] ended the wait.
    Woken,
}

impl Client {
    /// Opens a conversation: creates the session (idempotent on the chat id) and starts the agent's
    /// run, with a preload or a first message. See [`ChatOptions`].
    pub fn open(&self, options: ChatOptions) -> Result<Chat> {
        Chat::open(self.clone(), options, None)
    }

    /// [`Client::open`] with the event callback installed from the start: every event of the chat,
    /// the first included, goes to `callback` (nothing lands in the poll queue).
    pub fn open_with_callback(&self, options: ChatOptions, callback: Arc<Callback>) -> Result<Chat> {
        Chat::open(self.clone(), options, Some(callback))
    }

    /// [`Client::open`] that does not wait for the network: the options are checked now (their
    /// errors are returned at once), then the chat is returned while its session is created on the
    /// chat's sender thread. An [`Event::Done`] for [`OpKind::Open`] (request 1) tells how the open
    /// went; [`Chat::submit`] calls queued meanwhile run after it, and fail with its error if it
    /// failed. Blocking calls made before it is done fail with [`ErrorKind::InvalidState`];
    /// [`Chat::session_id`] is empty until then.
    pub fn open_async(&self, options: ChatOptions) -> Result<Chat> {
        Chat::open_async(self.clone(), options, None)
    }

    /// [`Client::open_async`] with the event callback installed from the start (the open's own
    /// done event included).
    pub fn open_async_with_callback(&self, options: ChatOptions, callback: Arc<Callback>) -> Result<Chat> {
        Chat::open_async(self.clone(), options, Some(callback))
    }

    /// Resumes a conversation from state saved by [`Chat::save_state`], e.g. after an app restart.
    /// If a turn was streaming when the state was saved, the rest of it streams again (from the saved
    /// cursor, without duplicates).
    pub fn restore(&self, saved_state_json: &str) -> Result<Chat> {
        Chat::restore(self.clone(), SavedState::from_json(saved_state_json)?, None)
    }

    /// [`Client::restore`] with the event callback installed from the start: the rest of a turn
    /// saved mid-stream goes to `callback` too.
    pub fn restore_with_callback(&self, saved_state_json: &str, callback: Arc<Callback>) -> Result<Chat> {
        Chat::restore(self.clone(), SavedState::from_json(saved_state_json)?, Some(callback))
    }
}

/// What opening a chat sends, built and checked before any request.
pub(crate) struct OpenPlan {
    chat_id: String,
    task_id: String,
    watch: bool,
    metadata: Option<Value>,
    first_message: Option<Value>,
    /// The run's payload (`basePayload`), for a run tchat triggers itself.
    base: Value,
    /// The create-session request's body.
    body: Value,
}

impl OpenPlan {
    fn new(options: ChatOptions) -> Result<OpenPlan> {
        check_task_id(&options.task_id)?;
        let chat_id = options.chat_id.clone().unwrap_or_else(|| crate::ids::new_id("chat-"));
        check_chat_id(&chat_id)?;
        if let Some(tag) = options.trigger_config.tags.iter().find(|t| utf16_len(t) > MAX_RUN_TAG_LEN) {
            return Err(Error::invalid(format!(
                "run tag of {} characters: the server accepts at most {MAX_RUN_TAG_LEN}",
                utf16_len(tag)
            )));
        }
        let first_message = options.first_message.as_deref().map(user_text_message);
        let mut base = json!({ "chatId": chat_id, "metadata": options.metadata.clone().unwrap_or(json!({})) });
        match &first_message {
            Some(m) => {
                base["trigger"] = json!("submit-message");
                base["message"] = m.clone();
                base["messages"] = json!([m]);
            }
            None => {
                base["trigger"] = json!("preload");
                base["messages"] = json!([]);
            }
        }
        let tc = &options.trigger_config;
        if let Some(idle) = tc.idle_timeout_secs {
            base["idleTimeoutInSeconds"] = json!(idle);
        }
        let mut trigger_config = serde_json::Map::new();
        trigger_config.insert("basePayload".into(), base.clone());
        let mut put = |k: &str, v: Value| {
            trigger_config.insert(k.into(), v);
        };
        if let Some(m) = &tc.machine {
            put("machine", json!(m));
        }
        if let Some(q) = &tc.queue {
            put("queue", json!(q));
        }
        put("tags", json!(chat_run_tags(&chat_id, &tc.tags)));
        if let Some(n) = tc.max_attempts {
            put("maxAttempts", json!(n));
        }
        if let Some(n) = tc.max_duration_secs {
            put("maxDuration", json!(n));
        }
        if let Some(n) = tc.idle_timeout_secs {
            put("idleTimeoutInSeconds", json!(n));
        }
        if let Some(extra) = &tc.extra {
            for (k, v) in extra {
                trigger_config.insert(k.clone(), v.clone());
            }
        }
        let body = json!({
            "type": "chat.agent",
            "externalId": chat_id,
            "taskIdentifier": options.task_id,
            "triggerConfig": trigger_config,
        });
        Ok(OpenPlan {
            chat_id,
            task_id: options.task_id,
            watch: options.watch,
            metadata: options.metadata,
            first_message,
            base,
            body,
        })
    }
}

impl Chat {
    pub(crate) fn open(client: Client, options: ChatOptions, callback: Option<Arc<Callback>>) -> Result<Chat> {
        let plan = OpenPlan::new(options)?;
        let client_token = client.http.config().token.clone();
        let created = api::create_session(&client.http, &client_token, &plan.body)?;
        let chat = Chat::start_for(client, &plan, Some(created.session_id.clone()), callback)?;
        chat.finish_open(plan, created)?;
        Ok(chat)
    }

    /// [`Chat::open`] that returns at once (see [`Client::open_async`]).
    pub(crate) fn open_async(client: Client, options: ChatOptions, callback: Option<Arc<Callback>>) -> Result<Chat> {
        let plan = OpenPlan::new(options)?;
        let chat = Chat::start_for(client, &plan, None, callback)?;
        chat.queue(worker::Job::Open(Box::new(plan)))?;
        Ok(chat)
    }

    /// [`Chat::start`] for a chat being opened by `plan` (its session, when already created).
    fn start_for(
        client: Client,
        plan: &OpenPlan,
        session_id: Option<String>,
        callback: Option<Arc<Callback>>,
    ) -> Result<Chat> {
        let conv = Conv::opening(plan.metadata.clone());
        Chat::start(client, session_id, plan.chat_id.clone(), plan.task_id.clone(), conv, plan.watch, callback)
    }

    /// The open's second half, once the session exists: the chat learns the session, joins the
    /// turns it already has, and starts the run as the options asked.
    fn finish_open(&self, plan: OpenPlan, created: api::CreatedSession) -> Result<()> {
        let run_mode = if created.run_id.is_some() { RunMode::Server } else { RunMode::Client };
        log_at!(
            Level::Info,
            "chat {}: session {} {} ({:?}-managed runs)",
            plan.chat_id,
            created.session_id,
            if created.is_cached { "resumed" } else { "created" },
            run_mode
        );
        {
            let mut c = self.shared.conv();
            c.run_id = created.run_id.clone();
            c.token = created.token.clone().unwrap_or_default();
            c.run_mode = run_mode;
        }
        let _ = self.shared.session.set(created.session_id.clone());
        let streaming = created.is_cached && self.join_existing();
        if plan.watch && !streaming {
            // Watching starts now, from the cursor: every turn from here on.
            let _ = self.shared.ctl_tx.send(Ctl::Subscribe { peek_settled: false });
        }

        match (run_mode, created.is_cached, plan.first_message) {
            // A fresh session with a run: the run's payload carries the first message.
            (RunMode::Server, false, Some(_)) => self.begin_turn_from_payload(),
            // An existing session ignores the basePayload: send the first message on `.in`.
            (RunMode::Server, true, Some(m)) => {
                self.send_payload(json!({"trigger": "submit-message", "message": m}), Expect::Turn)?;
            }
            (RunMode::Server, _, None) => {}
            // A turn of the existing session is streaming: its run is alive; the reader follows it.
            (RunMode::Client, true, None) if streaming => {}
            (RunMode::Client, _, first) => {
                // The seed flow: trigger the run ourselves, with the basePayload plus the session id.
                let mut payload = plan.base;
                payload["sessionId"] = json!(self.shared.session_id());
                self.shared.trigger_run(payload)?;
                if first.is_some() {
                    self.begin_turn_from_payload();
                }
            }
        }
        Ok(())
    }

    pub(crate) fn restore(client: Client, saved: SavedState, callback: Option<Arc<Callback>>) -> Result<Chat> {
        let conv = Conv {
            run_id: saved.run_id.clone(),
            token: saved.public_access_token.clone().map(Secret::new).unwrap_or_default(),
            last_event_id: saved.last_event_id,
            run_mode: saved.run_mode,
            turn_in_flight: saved.turn_in_flight,
            turn_started: None,
            last_message_seq: saved.last_message_seq,
            awaited: saved.last_message_seq.filter(|_| saved.turn_in_flight).into_iter().collect(),
            turns_expected: u32::from(saved.turn_in_flight),
            // A turn saved mid-stream goes on assembling into the part received before the restart.
            assembler: {
                let mut a = saved
                    .partial_assistant_message
                    .clone()
                    .and_then(|m| serde_json::from_value(m).ok())
                    .map(Assembler::from_message)
                    .unwrap_or_default();
                if a.is_empty() {
                    a.set_previous(
                        saved.continuing_assistant_message.clone().and_then(|m| serde_json::from_value(m).ok()),
                    );
                }
                a
            },
            delivered_cursor: saved.last_event_id,
            last_assistant: saved.last_assistant_message.clone(),
            // Nothing under way: no append, no close, no stop, no observed send.
            ..Conv::opening(saved.metadata.clone())
        };
        log_at!(
            Level::Info,
            "chat {}: restored session {} at cursor {:?}",
            saved.chat_id,
            saved.session_id,
            saved.last_event_id
        );
        let chat =
            Chat::start(client, Some(saved.session_id), saved.chat_id, saved.task_id, conv, saved.watch, callback)?;
        if saved.turn_in_flight || saved.watch {
            // Resuming where nothing may be streaming any more: let the server close at once if the
            // turn already ended (PROTOCOL 3.4).
            let _ = chat.shared.ctl_tx.send(Ctl::Subscribe { peek_settled: true });
        }
        Ok(chat)
    }

    fn start(
        client: Client,
        session_id: Option<String>,
        chat_id: String,
        task_id: String,
        conv: Conv,
        watch: bool,
        callback: Option<Arc<Callback>>,
    ) -> Result<Chat> {
        let (ctl_tx, ctl_rx) = crossbeam_channel::unbounded();
        let shared = Arc::new(Shared {
            http: client.http,
            session: session_id.map(OnceLock::from).unwrap_or_default(),
            open_error: Mutex::new(None),
            chat_id,
            task_id,
            conv: Mutex::new(conv),
            cancelled: AtomicBool::new(false),
            dropped: AtomicBool::new(false),
            stream_agent: Mutex::new(None),
            watching: AtomicBool::new(false),
            reconnect_requested: AtomicBool::new(false),
            ctl_tx,
            events: EventQueue::default(),
            undelivered: AtomicUsize::new(0),
            // Before the reader thread exists: it delivers every event to the callback.
            callback: Mutex::new(callback),
            dispatch_lock: Mutex::new(()),
            callback_calls: Mutex::new(0),
            callback_done: Condvar::new(),
            send_lock: Mutex::new(()),
            link: Mutex::new(Link::default()),
            link_changed: Condvar::new(),
            append_returned: Condvar::new(),
            watch,
        });
        let reader_shared = shared.clone();
        let reader = std::thread::Builder::new()
            .name(format!("tchat-reader-{}", short(&shared.chat_id)))
            .stack_size(READER_STACK_BYTES)
            .spawn(move || {
                reader_shared.become_reader_thread();
                stream::reader_main(reader_shared, ctl_rx)
            })
            .map_err(|e| Error::new(ErrorKind::InvalidState, format!("cannot start the reader thread: {e}")))?;
        Ok(Chat { shared, reader: Some(reader), sender: OnceLock::new() })
    }

    /// Joins a session that already has turns, without replaying them: past turns are history,
    /// not new events. Reads what `.out` keeps (the agent trims it to about the last turn), puts
    /// the cursor after the last completed turn, keeps that turn's message as the last assistant
    /// message, and when a turn is still streaming, subscribes so that it is delivered once, from
    /// its start. Returns whether a turn is streaming. A server that cannot list records leaves
    /// the chat as it was (the next subscription then starts at the oldest record kept).
    fn join_existing(&self) -> bool {
        let token = self.shared.session_token();
        let records = match api::read_out_records(&self.shared.http, &token, self.shared.session_id()) {
            Ok(r) => r,
            Err(e) => {
                log_at!(
                    Level::Warn,
                    "chat {}: cannot read the existing turns ({}); past turns may be replayed",
                    self.shared.chat_id,
                    e
                );
                return false;
            }
        };
        let is_turn_end = |r: &api::KeptRecord| r.control.as_deref() == Some("turn-complete");
        let last_end = records.iter().rposition(is_turn_end);
        let after_last_end = &records[last_end.map_or(0, |i| i + 1)..];
        let streaming = after_last_end.iter().any(|r| r.chunk.is_some());
        let mut c = self.shared.conv();
        if let Some(end) = last_end {
            let start = records[..end].iter().rposition(is_turn_end).map_or(0, |i| i + 1);
            let mut assembler = Assembler::new();
            for chunk in records[start..end].iter().filter_map(|r| r.chunk.as_ref()) {
                assembler.apply(chunk);
            }
            if !assembler.is_empty() {
                c.last_assistant = serde_json::to_value(assembler.message()).ok();
            }
        }
        let cursor = if streaming { last_end.map(|i| records[i].seq) } else { records.last().map(|r| r.seq) };
        c.last_event_id = cursor;
        c.delivered_cursor = cursor;
        log_at!(
            Level::Info,
            "chat {}: joined at cursor {:?} (a turn streaming: {streaming})",
            self.shared.chat_id,
            cursor
        );
        drop(c);
        if streaming {
            self.begin_turn_from_payload();
        }
        streaming
    }

    fn begin_turn_from_payload(&self) {
        {
            let mut c = self.shared.conv();
            c.turn_in_flight = true;
            c.turn_started = Some(std::time::Instant::now());
            c.turns_expected += 1;
        }
        let _ = self.shared.ctl_tx.send(Ctl::Subscribe { peek_settled: false });
    }

    /// The session's friendly id (`session_...`).
    pub fn session_id(&self) -> &str {
        self.shared.session_id()
    }

    /// The chat id (the session's externalId).
    pub fn chat_id(&self) -> &str {
        &self.shared.chat_id
    }

    /// The current run id, if known.
    pub fn run_id(&self) -> Option<String> {
        self.shared.conv().run_id.clone()
    }

    /// Who starts runs for this chat.
    pub fn run_mode(&self) -> RunMode {
        self.shared.conv().run_mode
    }

    /// The `.out` cursor: the seq_num of the last record received.
    pub fn last_event_id(&self) -> Option<u64> {
        self.shared.conv().last_event_id
    }

    /// Whether an agent turn is streaming (or awaited).
    pub fn is_turn_in_flight(&self) -> bool {
        self.shared.conv().turn_in_flight
    }

    /// The last complete assistant message, as JSON.
    pub fn last_assistant_message(&self) -> Option<String> {
        let last = self.shared.conv().last_assistant.clone()?;
        // Written as the turn-complete event writes it (the AI SDK's key order: id, role, parts).
        Some(match serde_json::from_value::<crate::wire::UIMessage>(last.clone()) {
            Ok(message) => serde_json::to_string(&message).unwrap_or_else(|_| last.to_string()),
            Err(_) => last.to_string(),
        })
    }

    /// Ends the agent's loop (`trigger: "close"`) without closing the session; a later message starts
    /// a new run.
    pub fn close_agent(&self) -> Result<()> {
        self.send_payload(json!({"trigger": "close"}), Expect::Nothing)
    }

    /// Reconnects the stream at once, after a network change (Wi-Fi to cellular, a laptop waking
    /// up): the current `.out` connection, which may be dead without knowing it, is cut and a new
    /// one resumes from the cursor; a reconnect backoff under way is cut short. Nothing is lost or
    /// repeated. Without a stream (idle, no idle watch) it does nothing. Returns at once.
    pub fn reconnect_now(&self) {
        self.shared.reconnect_requested.store(true, Ordering::SeqCst);
        let _ = self.shared.ctl_tx.send(Ctl::ReconnectNow);
        if let Some(agent) = self.shared.stream_agent.lock().unwrap_or_else(|e| e.into_inner()).take() {
            agent.shutdown();
        }
    }

    /// Closes the session for good (`POST .../close`, needs the secret key) and stops streaming. No
    /// event follows (`Event::SessionClosed` reports closes by others); a turn in flight ends
    /// without its turn-complete.
    pub fn close_session(&self, reason: Option<&str>) -> Result<()> {
        let _guard = self.shared.send_lock.lock().unwrap_or_else(|e| e.into_inner());
        self.check_opened()?;
        let token = self.shared.http.config().token.clone();
        // Set before the call: the reader may read the close on `.out` before the call returns.
        self.shared.conv().closing_session = true;
        let closed = api::close_session(&self.shared.http, &token, self.shared.session_id(), reason);
        let mut c = self.shared.conv();
        if let Err(e) = closed {
            c.closing_session = false;
            return Err(e);
        }
        c.closed = true;
        c.end_turns();
        drop(c);
        self.shared.cancel_stream();
        Ok(())
    }

    /// The conversation state as JSON, to resume with [`Client::restore`]. Holds the session token:
    /// store it like a password.
    pub fn save_state(&self) -> String {
        self.shared.saved_state().to_json()
    }

    /// Registers the event callback (or removes it with `None`). It runs on the reader thread; it may
    /// call any method of this chat except dropping it. Events queued for polling before the callback
    /// was set stay in the poll queue.
    ///
    /// A barrier: returns only once no call of the old callback is in progress, so whatever it uses
    /// may be released right after. Called from inside the callback (on the reader thread), it
    /// returns at once: that call is still running until the callback returns.
    pub fn set_callback(&self, callback: Option<Arc<Callback>>) {
        *self.shared.callback.lock().unwrap_or_else(|e| e.into_inner()) = callback;
        // A barrier: when this returns, no call of the old callback is in progress, so what it uses
        // may be freed. Not from inside a callback, which is that call.
        if !self.shared.in_callback() {
            let mut calls = self.shared.callback_calls.lock().unwrap_or_else(|e| e.into_inner());
            while *calls > 0 {
                calls = self.shared.callback_done.wait(calls).unwrap_or_else(|e| e.into_inner());
            }
        }
    }

    /// Waits up to `timeout` for the next event (zero: don't wait). `None` on timeout or after
    /// [`Chat::wake`]. For main loops; with a callback registered, events go to the callback instead.
    pub fn next_event(&self, timeout: Duration) -> Option<Event> {
        match self.poll_event(timeout) {
            Polled::Event(event) => Some(event),
            Polled::Nothing | Polled::Woken => None,
        }
    }

    /// [`Chat::next_event`], telling a timeout from a [`Chat::wake`].
    pub(crate) fn poll_event(&self, timeout: Duration) -> Polled {
        // A timeout too large to add to the clock means "wait forever".
        let deadline = std::time::Instant::now().checked_add(timeout);
        loop {
            let got = self.shared.events.pop(deadline);
            let Some(delivery) = got else { return Polled::Nothing };
            if matches!(delivery, Delivery::Wake) {
                return Polled::Woken;
            }
            let event = self.shared.deliver(delivery);
            self.shared.undelivered.fetch_sub(1, Ordering::SeqCst);
            // A chunk skipped after a stop yields nothing: wait on for the next one.
            if let Some(event) = event {
                return Polled::Event(event);
            }
        }
    }

    /// Makes a waiting [`Chat::next_event`] return `None` now. Callable from any thread.
    pub fn wake(&self) {
        self.shared.events.push(Delivery::Wake);
    }

    /// Whether the current thread is this chat's reader thread (i.e. we are inside its callback).
    pub fn is_reader_thread(&self) -> bool {
        self.shared.on_reader_thread()
    }

    /// Whether the current thread is running this chat's event callback now (on the reader thread,
    /// or on the sender thread for an [`Event::Done`]).
    pub fn is_in_callback(&self) -> bool {
        self.shared.in_callback()
    }
}

impl Drop for Chat {
    fn drop(&mut self) {
        // The sender thread's view owns nothing.
        let Some(reader) = self.reader.take() else { return };
        self.shared.dropped.store(true, Ordering::SeqCst);
        self.shared.cancel_stream();
        // Joining our own thread would deadlock: from inside the callback the reader is detached
        // and exits on its own after the callback returns.
        if !self.shared.on_reader_thread() && !self.shared.in_callback() {
            let _ = reader.join();
            // A barrier: a completion the sender thread is handing to the callback ends first, and
            // none follows (it sees the cancel). The sender thread is not joined: a call in
            // progress there may block for its timeouts; it ends on its own, with no event.
            drop(self.shared.dispatch_lock.lock().unwrap_or_else(|e| e.into_inner()));
        }
        // The callback (and what it holds) is released now, not when the sender thread lets go of
        // the shared state.
        drop(self.shared.callback.lock().unwrap_or_else(|e| e.into_inner()).take());
    }
}

impl std::fmt::Debug for Chat {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Chat")
            .field("session_id", &self.shared.session_id())
            .field("chat_id", &self.shared.chat_id)
            .field("state", &self.shared.saved_state())
            .finish()
    }
}

/// What [`is_valid_chat_id`] asks, in the words of the error that refuses a chat id.
pub(crate) const CHAT_ID_RULE: &str =
    "chat id must be 1..256 characters (UTF-16 units), without leading or trailing white space, and must not start with \"session_\"";

/// The task id's rule, for `Chat::open` and the C setter alike.
pub(crate) fn check_task_id(task_id: &str) -> Result<()> {
    if task_id.is_empty() {
        return Err(Error::invalid("task id is empty"));
    }
    Ok(())
}

/// The chat id's rule ([`CHAT_ID_RULE`]), for `Chat::open` and the C setter alike.
pub(crate) fn check_chat_id(chat_id: &str) -> Result<()> {
    if !is_valid_chat_id(chat_id) {
        return Err(Error::invalid(CHAT_ID_RULE));
    }
    Ok(())
}

/// Whether `chat_id` may be a session's external id, by the server's `externalId` rule: trimmed,
/// 1..256 UTF-16 units, not starting with `session_` (which would be read as a session's
/// friendly id). White space at either end is refused rather than trimmed: the server stores
/// the trimmed id, so URLs built from the untrimmed one would name another session.
pub(crate) fn is_valid_chat_id(chat_id: &str) -> bool {
    let trimmed = chat_id.trim_matches(|c: char| c.is_whitespace() || c == '\u{feff}');
    trimmed.len() == chat_id.len()
        && !chat_id.is_empty()
        && utf16_len(chat_id) <= 256
        && !chat_id.starts_with("session_")
}

/// The server's run-tag limits (`RunTags` and `SessionTriggerConfig.tags`).
const MAX_RUN_TAGS: usize = 10;
const MAX_RUN_TAG_LEN: usize = 128;

/// JavaScript's `string.length`, in which the server's limits are written.
fn utf16_len(s: &str) -> usize {
    s.encode_utf16().count()
}

/// The runs' tags, as the official clients build them (`chatRunTags`): `chat:<id>` first when it
/// fits in a tag, then the caller's tags, at most 10 in all.
pub(crate) fn chat_run_tags(chat_id: &str, user_tags: &[String]) -> Vec<String> {
    let chat_tag = format!("chat:{chat_id}");
    let first = (utf16_len(&chat_tag) <= MAX_RUN_TAG_LEN).then_some(chat_tag);
    first.into_iter().chain(user_tags.iter().cloned()).take(MAX_RUN_TAGS).collect()
}

/// A user `UIMessage` with one text part and a fresh id.
pub(crate) fn user_text_message(text: &str) -> Value {
    let message = crate::wire::UIMessage::user_text(crate::ids::new_id("msg-"), text);
    serde_json::to_value(message).expect("a UIMessage serializes")
}

fn short(id: &str) -> String {
    id.chars().take(12).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_tags_follow_chat_run_tags() {
        let user = vec!["a".to_string(), "b".to_string()];
        assert_eq!(chat_run_tags("c1", &user), ["chat:c1", "a", "b"]);
        let id_123 = "x".repeat(123);
        assert_eq!(chat_run_tags(&id_123, &[]), [format!("chat:{id_123}")], "chat:<123> is 128 characters");
        let id_124 = "x".repeat(124);
        assert!(chat_run_tags(&id_124, &[]).is_empty(), "a tag over 128 characters is left out");
        assert_eq!(chat_run_tags(&id_124, &user), ["a", "b"]);
        let many: Vec<String> = (0..12).map(|i| format!("t{i}")).collect();
        let tags = chat_run_tags("c", &many);
        assert_eq!(tags.len(), 10);
        assert_eq!(tags[0], "chat:c");
        assert_eq!(tags[9], "t8");
    }

    #[test]
    fn chat_ids_follow_the_external_id_rule() {
        assert!(is_valid_chat_id(&"x".repeat(256)));
        assert!(!is_valid_chat_id(&"x".repeat(257)));
        assert!(is_valid_chat_id(&"é".repeat(256)), "UTF-16 units, not bytes");
        assert!(!is_valid_chat_id(&"😀".repeat(129)), "258 UTF-16 units");
        assert!(!is_valid_chat_id(" padded"));
        assert!(!is_valid_chat_id("padded\n"));
        assert!(!is_valid_chat_id(""));
        assert!(!is_valid_chat_id("session_x"));
    }
}
