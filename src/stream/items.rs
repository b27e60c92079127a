//! What each decoded item does to the conversation: chunks delivered, controls obeyed, a
//! turn-complete correlated with the turn it ends, and the warm connection between turns.

use super::*;

impl Subscription<'_> {
    /// Handles one decoded item; `Some` ends the connection.
    pub(super) fn handle(
        &mut self,
        item: StreamItem,
        got_records: &mut bool,
        last_record: &mut Instant,
        stall: Duration,
    ) -> Option<End> {
        if self.warm_until.is_some() {
            if !self.shared.conv().turn_in_flight {
                return self.between_turns(item);
            }
            // A send started the next turn: it streams on this connection.
            self.warm_until = None;
        }
        match item {
            StreamItem::Chunk(rec) => {
                *got_records = true;
                *last_record = Instant::now();
                if self.shared.watch {
                    // Whoever started it, a turn is streaming: the stall rule applies, and a send
                    // of ours now is a steering message.
                    self.shared.conv().turn_in_flight = true;
                }
                self.shared.observe_turn(false);
                // Assembled when delivered (see Shared::deliver), so that what a poll loop has not
                // taken yet is not in the saved state either.
                self.shared.dispatch(Delivery::Chunk(rec));
                None
            }
            StreamItem::Control { control, seq_num, .. } => {
                *got_records = true;
                *last_record = Instant::now();
                self.control(control, seq_num)
            }
            StreamItem::Ping { .. } => {
                if !self.shared.conv().turn_in_flight {
                    if self.shared.watch {
                        return None;
                    }
                    // A send settled the turn after the reader last looked (see Chat::send_payload).
                    return self.turns_done();
                }
                if self.stalled(*last_record, stall) {
                    return Some(End::Failed(format!("no record for {stall:?} (stall)"), None));
                }
                None
            }
            StreamItem::Done => Some(End::LongPollOver),
            StreamItem::ServerError { message } => Some(End::Failed(format!("server error event: {message}"), None)),
            StreamItem::DecodeError { seq_num, message } => {
                *got_records |= seq_num.is_some();
                log_at!(
                    Level::Warn,
                    "chat {}: undecodable record {:?} skipped: {}",
                    self.shared.chat_id,
                    seq_num,
                    message
                );
                None
            }
        }
    }

    pub(super) fn control(&mut self, control: Control, seq_num: u64) -> Option<End> {
        match control {
            Control::TurnComplete(tc) => self.turn_complete(tc, seq_num),
            Control::UpgradeRequired { .. } => {
                self.shared.emit(Event::UpgradeRequired);
                if self.shared.conv().run_mode == RunMode::Client {
                    return Some(End::Upgrade);
                }
                None
            }
            Control::SessionClosed { reason } => {
                {
                    let mut c = self.shared.conv();
                    c.closed = true;
                    c.end_turns();
                }
                self.shared.emit_closed(reason);
                Some(End::Closed)
            }
            Control::PendingVersion => {
                self.shared.emit(Event::PendingVersion);
                None
            }
            Control::Unknown { subtype } => {
                log_at!(Level::Debug, "chat {}: ignoring control record {subtype:?}", self.shared.chat_id);
                None
            }
        }
    }

    pub(super) fn turn_complete(&mut self, tc: TurnComplete, seq_num: u64) -> Option<End> {
        let (more, closed, ours) = {
            let mut c = self.shared.conv();
            // A turn-complete read while our append has not answered yet cannot be told apart: it
            // may end an earlier turn (the stream was opened before the append, so records already
            // there come first). Wait for the seq — bounded by that call's own deadline and retries.
            if tc.session_in_event_id.is_some() && c.appends_pending > 0 && c.awaited.is_empty() {
                let deadline = Instant::now() + self.append_bound();
                while c.appends_pending > 0 && !self.shared.is_cancelled() {
                    let Some(left) = deadline.checked_duration_since(Instant::now()) else { break };
                    c = self
                        .shared
                        .append_returned
                        .wait_timeout(c, left.min(Duration::from_millis(100)))
                        .unwrap_or_else(|e| e.into_inner())
                        .0;
                }
            }
            if let Some(token) = tc.public_access_token {
                // The token is scoped to the run that wrote it: a continuation the server started
                // on its own (server-managed runs) becomes the chat's run here.
                if let Some(run) = token.run_scope() {
                    c.run_id = Some(run);
                }
                c.token = token;
            }
            c.turns_expected = c.turns_expected.saturating_sub(1);
            // The agent tells which `.in` records it has committed; a later message of ours means
            // another turn is coming. Without that header, count turns.
            if tc.session_in_event_id.is_some() {
                c.last_committed = c.last_committed.max(tc.session_in_event_id);
            }
            // Turn correlation, as the official clients do it: a turn-complete that answers none
            // of our messages (its committed `.in` seq is below all of them) ends an earlier turn,
            // e.g. one that raced our send: no turn-complete event for it. Without a seq (a legacy
            // append answer, or a turn we joined) every turn-complete counts.
            let ours = match tc.session_in_event_id {
                _ if self.shared.watch => {
                    c.awaited.retain(|&s| tc.session_in_event_id.is_none_or(|committed| s > committed));
                    true
                }
                Some(committed) if !c.awaited.is_empty() => {
                    let before = c.awaited.len();
                    while c.awaited.front().is_some_and(|&s| s <= committed) {
                        c.awaited.pop_front();
                    }
                    c.awaited.len() < before
                }
                _ => true,
            };
            let more = c.appends_pending > 0
                || match (tc.session_in_event_id, c.last_message_seq) {
                    (Some(committed), Some(sent)) => committed < sent,
                    _ => c.turns_expected > 0,
                };
            if tc.session_closed {
                c.closed = true;
            }
            log_at!(
                Level::Debug,
                "chat {}: turn-complete at {seq_num} (committed {:?}, our last message {:?}, awaited {:?}, appends pending {}): ours {ours}, more {more}",
                self.shared.chat_id,
                tc.session_in_event_id,
                c.last_message_seq,
                c.awaited,
                c.appends_pending
            );
            c.turn_in_flight = more && !tc.session_closed;
            if !c.turn_in_flight {
                c.turns_expected = 0;
            }
            (c.turn_in_flight, tc.session_closed, ours)
        };
        // Whether a callback took the turn's end, during which it may have sent the next message.
        let mut callback_ran = false;
        if ours {
            self.turn_completed_here = true;
            if !more {
                self.shared.observe_turn(true);
            }
            callback_ran = self.shared.dispatch(Delivery::TurnEnd { seq_num: Some(seq_num), incomplete: false });
        } else {
            log_at!(
                Level::Debug,
                "chat {}: skipped the turn-complete of a turn this chat did not start",
                self.shared.chat_id
            );
            self.shared.dispatch(Delivery::TurnSkipped { seq_num });
        }
        if closed {
            self.shared.emit_closed(tc.session_closed_reason);
            return Some(End::Closed);
        }
        // The callback may have sent the next message: then this connection carries its turn too.
        // A watching chat reads on, whatever comes next. A poll loop's send is not waited for: it
        // races this check, and the connection's fate must not depend on who wins (with keep-warm
        // off the reader leaves now, and the send's subscription opens the next connection).
        if more || self.shared.watch || (callback_ran && self.shared.conv().turn_in_flight) {
            None
        } else {
            self.turns_done()
        }
    }

    /// The awaited turns are done: the connection ends, or, with a keep-warm time, stays open for
    /// the next turn.
    pub(super) fn turns_done(&mut self) -> Option<End> {
        let keep_warm = self.shared.http.config().keep_warm;
        if keep_warm.is_zero() {
            return Some(End::TurnsDone);
        }
        self.warm_until = Some(Instant::now() + keep_warm);
        None
    }

    /// An item read on a warm connection between turns. Nothing is ours to deliver: records are
    /// of turns other clients drive on the chat (the cursor moves past them), except a close.
    pub(super) fn between_turns(&mut self, item: StreamItem) -> Option<End> {
        match item {
            StreamItem::Control { control: Control::SessionClosed { reason }, .. } => {
                {
                    let mut c = self.shared.conv();
                    c.closed = true;
                    c.end_turns();
                }
                self.shared.emit_closed(reason);
                Some(End::Closed)
            }
            StreamItem::Done => Some(End::LongPollOver),
            StreamItem::Ping { .. } if self.warm_over() => Some(End::TurnsDone),
            StreamItem::ServerError { message } => Some(End::Failed(format!("server error event: {message}"), None)),
            _ => None,
        }
    }

    pub(super) fn warm_over(&self) -> bool {
        self.warm_until.is_none_or(|until| Instant::now() >= until)
    }

    /// A turn is in flight and no record came for the stall timeout, counted from the later of the
    /// last record and the turn's start (a turn may start on a connection that was quiet for long).
    pub(super) fn stalled(&self, last_record: Instant, stall: Duration) -> bool {
        let c = self.shared.conv();
        c.turn_in_flight && last_record.max(c.turn_started.unwrap_or(last_record)).elapsed() > stall
    }

    /// The longest a REST call may take: every attempt's deadline plus the waits between them.
    pub(super) fn append_bound(&self) -> Duration {
        let config = self.shared.http.config();
        let per_attempt = config.connect_timeout + config.response_timeout;
        let attempts = config.retry.max_attempts.max(1);
        (per_attempt + config.retry.max_delay) * attempts
    }

    pub(super) fn finish_turns(&self) {
        let mut c = self.shared.conv();
        c.end_turns();
    }
}
