//! The chat's sender thread. The non-blocking calls ([`Chat::submit`], [`Client::open_async`])
//! queue their work here and return at once; the thread runs the work one call at a time, in the
//! order queued, with the same code as the blocking calls (the same checks, retries and timeouts),
//! and reports each call's end as an [`Event::Done`], in order with the stream's events. It is
//! started by a chat's first such call, so chats that never make one cost no thread.

use super::*;
use crate::event::{DoneEvent, OpKind};

/// Stack of a sender thread: it makes HTTP requests (TLS included), like an application's thread.
const SENDER_STACK_BYTES: usize = 512 * 1024;

/// A call to make without waiting for it: see [`Chat::submit`]. Each is the blocking method of the
/// same name.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Op {
    /// [`Chat::send_text`].
    SendText(String),
    /// [`Chat::send_message_json`].
    SendMessageJson(String),
    /// [`Chat::regenerate`].
    Regenerate,
    /// [`Chat::send_action`].
    Action(String),
    /// [`Chat::stop`], with its reason.
    Stop(Option<String>),
    /// [`Chat::steer`].
    Steer(String),
    /// [`Chat::approve`].
    Approve { approval_id: String, approved: bool, reason: Option<String> },
    /// [`Chat::close_session`], with its reason.
    CloseSession(Option<String>),
    /// [`Chat::close_agent`].
    CloseAgent,
}

impl Op {
    pub fn kind(&self) -> OpKind {
        match self {
            Op::SendText(_) => OpKind::SendText,
            Op::SendMessageJson(_) => OpKind::SendMessageJson,
            Op::Regenerate => OpKind::Regenerate,
            Op::Action(_) => OpKind::Action,
            Op::Stop(_) => OpKind::Stop,
            Op::Steer(_) => OpKind::Steer,
            Op::Approve { .. } => OpKind::Approve,
            Op::CloseSession(_) => OpKind::CloseSession,
            Op::CloseAgent => OpKind::CloseAgent,
        }
    }

    /// What can be refused before anything is queued: JSON that does not parse.
    fn check(&self) -> Result<()> {
        let (json, what) = match self {
            Op::SendMessageJson(m) => (m, "message"),
            Op::Action(a) => (a, "action"),
            _ => return Ok(()),
        };
        serde_json::from_str::<serde::de::IgnoredAny>(json)
            .map(|_| ())
            .map_err(|e| Error::invalid(format!("{what} is not valid JSON: {e}")))
    }
}

/// What the sender thread runs.
pub(crate) enum Job {
    Open(Box<OpenPlan>),
    Call(Op),
}

/// The queue into a chat's sender thread.
pub(crate) struct Sender {
    /// The next request id and the queue, under one lock so that ids follow the queue's order.
    queue: Mutex<(u64, crossbeam_channel::Sender<(u64, Job)>)>,
}

impl Sender {
    fn spawn(shared: Arc<Shared>) -> Result<Sender> {
        let (tx, rx) = crossbeam_channel::unbounded();
        std::thread::Builder::new()
            .name(format!("tchat-sender-{}", short(&shared.chat_id)))
            .stack_size(SENDER_STACK_BYTES)
            .spawn(move || run(shared, rx))
            .map_err(|e| Error::new(ErrorKind::InvalidState, format!("cannot start the sender thread: {e}")))?;
        Ok(Sender { queue: Mutex::new((1, tx)) })
    }

    fn push(&self, job: Job) -> Result<u64> {
        let mut queue = self.queue.lock().unwrap_or_else(|e| e.into_inner());
        let request = queue.0;
        queue
            .1
            .send((request, job))
            .map_err(|_| Error::new(ErrorKind::InvalidState, "the chat's sender thread has ended"))?;
        queue.0 += 1;
        Ok(request)
    }
}

impl Chat {
    /// Queues `op` on the chat's sender thread and returns at once with its request id; the call
    /// then runs as its blocking method would (after the calls queued before it, one at a time),
    /// and an [`Event::Done`] with that id reports its end, in order with the stream's events: to
    /// the callback, or through [`Chat::next_event`]. Refused at once only for JSON that does not
    /// parse; every other failure (a closed session, the network, the server) comes in the event.
    /// Dropping the chat drops the calls not yet made and lets the one in progress end on its own,
    /// with no event.
    pub fn submit(&self, op: Op) -> Result<u64> {
        op.check()?;
        self.queue(Job::Call(op))
    }

    pub(super) fn queue(&self, job: Job) -> Result<u64> {
        let sender = match self.sender.get() {
            Some(sender) => sender,
            None => {
                // Two first calls at once may both start a thread: the one not kept sees its queue
                // closed and ends.
                let _ = self.sender.set(Sender::spawn(self.shared.clone())?);
                self.sender.get().expect("set just now")
            }
        };
        sender.push(job)
    }
}

/// The sender thread: runs each job on a view of the chat that owns nothing (dropping it does not
/// stop the chat), until the chat is dropped.
fn run(shared: Arc<Shared>, jobs: crossbeam_channel::Receiver<(u64, Job)>) {
    let chat = Chat { shared, reader: None, sender: OnceLock::new() };
    while let Ok((request, job)) = jobs.recv() {
        if chat.shared.is_dropped() {
            break;
        }
        let (op, result) = match job {
            Job::Open(plan) => (OpKind::Open, chat.open_now(*plan)),
            Job::Call(op) => (op.kind(), chat.call(op)),
        };
        let done = DoneEvent { request, op, error: result.err() };
        chat.shared.dispatch_unless_dropped(Delivery::Event(Event::Done(done)));
    }
}

impl Chat {
    /// The open of `open_async`: what the blocking open does once its checks passed. A failure is
    /// kept: every later call of the chat fails with it.
    fn open_now(&self, plan: OpenPlan) -> Result<()> {
        let token = self.shared.http.config().token.clone();
        let opened = api::create_session(&self.shared.http, &token, &plan.body)
            .and_then(|created| self.finish_open(plan, created));
        if let Err(e) = &opened {
            *self.shared.open_error.lock().unwrap_or_else(|e| e.into_inner()) = Some(e.clone());
        }
        opened
    }

    fn call(&self, op: Op) -> Result<()> {
        match op {
            Op::SendText(text) => self.send_text(&text),
            Op::SendMessageJson(message) => self.send_message_json(&message),
            Op::Regenerate => self.regenerate(),
            Op::Action(action) => self.send_action(&action),
            Op::Stop(reason) => self.stop(reason.as_deref()),
            Op::Steer(text) => self.steer(&text),
            Op::Approve { approval_id, approved, reason } => self.approve(&approval_id, approved, reason.as_deref()),
            Op::CloseSession(reason) => self.close_session(reason.as_deref()),
            Op::CloseAgent => self.close_agent(),
        }
    }
}
