//! What a chat sends: messages, steering, regenerate, actions, approvals, stops — each one `.in`
//! append, subscribed first so that no record of the turn it starts can be missed.

use super::*;

impl Chat {
    /// Sends a user text message. Sent while a turn streams, it is a pending (steering) message: the
    /// stream is not interrupted.
    pub fn send_text(&self, text: &str) -> Result<()> {
        self.send_payload(json!({"trigger": "submit-message", "message": user_text_message(text)}), Expect::Turn)
    }

    /// [`Chat::send_text`] with metadata for this message only, merged over the chat's client data
    /// (`metadata` must be a JSON object; its keys win).
    pub fn send_text_with_metadata(&self, text: &str, metadata: &Value) -> Result<()> {
        let extra = metadata.as_object().ok_or_else(|| Error::invalid("metadata must be a JSON object"))?;
        self.send_payload_with(
            json!({"trigger": "submit-message", "message": user_text_message(text)}),
            Expect::Turn,
            Some(extra),
        )
    }

    /// Sends a steering message mid-turn: the agent injects it at its next step boundary (or keeps it
    /// for the next turn). Identical on the wire to [`Chat::send_text`]; never cancels the stream.
    /// With no turn in flight it is an ordinary message and starts a turn at once.
    pub fn steer(&self, text: &str) -> Result<()> {
        self.send_text(text)
    }

    /// Sends a whole `UIMessage` (JSON object with `id`, `role`, `parts`; a missing `id` is generated).
    pub fn send_message_json(&self, message_json: &str) -> Result<()> {
        let mut message: Value = serde_json::from_str(message_json)
            .map_err(|e| Error::invalid(format!("message is not valid JSON: {e}")))?;
        let obj = message.as_object_mut().ok_or_else(|| Error::invalid("message must be a JSON object"))?;
        if !obj.get("parts").is_some_and(Value::is_array) {
            return Err(Error::invalid("message needs a \"parts\" array"));
        }
        if !obj.get("id").is_some_and(Value::is_string) {
            obj.insert("id".into(), json!(crate::ids::new_id("msg-")));
        }
        if !obj.get("role").is_some_and(Value::is_string) {
            obj.insert("role".into(), json!("user"));
        }
        self.send_payload(json!({"trigger": "submit-message", "message": message}), Expect::Turn)
    }

    /// Asks the agent to answer the last user message again.
    pub fn regenerate(&self) -> Result<()> {
        let mut payload = json!({"trigger": "regenerate-message"});
        if let Some(id) = self.shared.conv().last_assistant.as_ref().and_then(|m| m.get("id")).and_then(Value::as_str) {
            payload["messageId"] = json!(id);
        }
        self.send_payload(payload, Expect::Turn)
    }

    /// Sends a custom action (JSON, validated by the agent's actionSchema), e.g. `{"type":"undo"}`.
    pub fn send_action(&self, action_json: &str) -> Result<()> {
        let action: Value =
            serde_json::from_str(action_json).map_err(|e| Error::invalid(format!("action is not valid JSON: {e}")))?;
        self.send_payload(json!({"trigger": "action", "action": action}), Expect::Turn)
    }

    /// Answers a tool call waiting for approval (`approval_id` from the `tool-approval-request`
    /// chunk). tchat builds the slimmed assistant message with the right id from the last turn.
    pub fn approve(&self, approval_id: &str, approved: bool, reason: Option<&str>) -> Result<()> {
        let last = self.shared.conv().last_assistant.clone().ok_or_else(|| {
            Error::new(ErrorKind::InvalidState, "no assistant message to answer: no turn has completed")
        })?;
        let message: crate::wire::UIMessage = serde_json::from_value(last).map_err(|e| {
            Error::new(ErrorKind::InvalidState, format!("last assistant message is not a UIMessage: {e}"))
        })?;
        let response = crate::assemble::approval_response(&message, approval_id, approved, reason)
            .map_err(|e| Error::new(ErrorKind::InvalidState, e.to_string()))?;
        let response = serde_json::to_value(&response).map_err(|e| Error::invalid(e.to_string()))?;
        // The agent continues this assistant message (same id): the next turn assembles into the
        // whole answered message, as useChat holds it, not into the slimmed copy sent on the wire.
        let mut answered = Assembler::from_message(message);
        answered
            .respond_to_approval(approval_id, approved, reason)
            .map_err(|e| Error::new(ErrorKind::InvalidState, e.to_string()))?;
        self.shared.conv().assembler.set_previous(Some(answered.into_message()));
        let sent = self.send_payload(json!({"trigger": "submit-message", "message": response}), Expect::Turn);
        if sent.is_err() {
            self.shared.conv().assembler.set_previous(None);
        }
        sent
    }

    /// Stops the agent's current turn (`{"kind":"stop"}`), with an optional reason for the agent's stop
    /// handler. The turn completes early; the chunks still in flight are skipped.
    pub fn stop(&self, reason: Option<&str>) -> Result<()> {
        let _guard = self.shared.send_lock.lock().unwrap_or_else(|e| e.into_inner());
        self.check_open()?;
        let mut chunk = json!({"kind": "stop"});
        if let Some(r) = reason {
            chunk["message"] = json!(r);
        }
        // Flag the skip before appending: the agent may finish the stopped turn before the append's
        // answer arrives. Checked under the lock the reader holds when it ends a turn, so a turn that
        // already ended is never confused with the next one.
        let skipping = {
            let mut c = self.shared.conv();
            c.skip_until_turn_complete = c.turn_in_flight;
            c.skip_until_turn_complete
        };
        if let Err(e) = self.append(&chunk) {
            if skipping {
                self.shared.conv().skip_until_turn_complete = false;
            }
            return Err(e);
        }
        Ok(())
    }

    pub(super) fn check_open(&self) -> Result<()> {
        self.check_opened()?;
        if self.shared.conv().closed {
            return Err(Error::new(ErrorKind::SessionClosed, "the session is closed"));
        }
        Ok(())
    }

    /// The session exists: not before an `open_async` has created it, never after it failed.
    pub(super) fn check_opened(&self) -> Result<()> {
        if let Some(failed) = self.shared.open_error.lock().unwrap_or_else(|e| e.into_inner()).clone() {
            return Err(failed);
        }
        if self.shared.session.get().is_none() {
            return Err(Error::new(
                ErrorKind::InvalidState,
                "the chat is still opening: wait for the open's done event",
            ));
        }
        Ok(())
    }

    /// Appends one ChatInputChunk, with one X-Part-Id for all its retries, refreshing the token once
    /// on 401/403.
    pub(super) fn append(&self, chunk: &Value) -> Result<Option<u64>> {
        let part_id = crate::ids::new_id("tchat-");
        let token = self.shared.session_token();
        match api::append(&self.shared.http, &token, self.shared.session_id(), chunk, &part_id) {
            Err(e) if e.kind() == ErrorKind::Auth => match self.shared.refreshed_token(&token) {
                Some(fresh) => api::append(&self.shared.http, &fresh, self.shared.session_id(), chunk, &part_id),
                None => Err(e),
            },
            Err(e) if e.kind() == ErrorKind::SessionClosed => {
                self.shared.conv().closed = true;
                Err(e)
            }
            other => other,
        }
    }

    /// After [`Chat::close_agent`], waits (bounded) until that run has really ended, so the next
    /// message starts a continuation instead of landing on a run that exits without reading it.
    pub(super) fn wait_for_closing_run(&self) {
        let Some(run_id) = self.shared.conv().closing_run.take() else { return };
        let http = &self.shared.http;
        let token = http.config().token.clone();
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        let mut delay = Duration::from_millis(10);
        while std::time::Instant::now() < deadline && !self.shared.is_cancelled() {
            match api::run_status(http, &token, &run_id) {
                Ok(status) if !RunStatus::is_final(&status) => {}
                // Final, or not readable with this token (then there is nothing better to do).
                _ => break,
            }
            std::thread::sleep(delay);
            delay = (delay * 2).min(Duration::from_millis(200));
        }
        // In client mode the next ensure_run() sees the final status and triggers a continuation.
        if self.shared.conv().run_mode == RunMode::Client {
            let _ = self.shared.ensure_run(false);
        }
    }

    pub(super) fn send_payload(&self, fields: Value, expect: Expect) -> Result<()> {
        self.send_payload_with(fields, expect, None)
    }

    /// [`Chat::send_payload`] with per-send metadata merged over the chat's client data (its
    /// keys win), and the send observer told of the send's life.
    pub(super) fn send_payload_with(
        &self,
        fields: Value,
        expect: Expect,
        metadata: Option<&serde_json::Map<String, Value>>,
    ) -> Result<()> {
        let started = std::time::Instant::now();
        let message_id = fields.pointer("/message/id").and_then(Value::as_str).map(str::to_owned);
        let result = self.send_payload_inner(fields, expect, metadata, started, message_id.clone());
        match &result {
            Ok(Some(seq)) => {
                self.shared.observe(crate::SendEvent::MessageSent {
                    message_id,
                    seq: *seq,
                    elapsed: started.elapsed(),
                });
            }
            Ok(None) => {}
            Err(e) => self.shared.observe(crate::SendEvent::SendFailed {
                message_id,
                error: e.clone(),
                elapsed: started.elapsed(),
            }),
        }
        result.map(|_| ())
    }

    pub(super) fn send_payload_inner(
        &self,
        mut fields: Value,
        expect: Expect,
        metadata: Option<&serde_json::Map<String, Value>>,
        started: std::time::Instant,
        message_id: Option<String>,
    ) -> Result<Option<Option<u64>>> {
        let _guard = self.shared.send_lock.lock().unwrap_or_else(|e| e.into_inner());
        self.check_open()?;
        self.shared.ensure_run(false)?;
        fields["chatId"] = json!(self.shared.chat_id);
        let chat_metadata = self.shared.conv().metadata.clone();
        match (chat_metadata, metadata) {
            (Some(Value::Object(mut base)), Some(extra)) => {
                base.extend(extra.clone());
                fields["metadata"] = Value::Object(base);
            }
            (_, Some(extra)) => fields["metadata"] = Value::Object(extra.clone()),
            (Some(m), None) => fields["metadata"] = m,
            (None, None) => {}
        }
        let chunk = json!({"kind": "message", "payload": fields});
        if expect == Expect::Nothing {
            self.append(&chunk)?;
            let mut c = self.shared.conv();
            c.closing_run = c.run_id.clone();
            return Ok(None);
        }
        self.wait_for_closing_run();
        // Subscribe first, append second. The agent trims `.out` back to the previous turn-complete
        // after every turn, so a reader that connected only after two more turns ended would find the
        // earlier one gone. Holding the stream open before the message lands rules that out, at the
        // price of one round trip when the chat was idle.
        let new_turn = {
            let mut c = self.shared.conv();
            c.appends_pending += 1;
            let new_turn = !c.turn_in_flight;
            if new_turn {
                c.turn_in_flight = true;
                c.turn_started = Some(started);
                c.turns_expected += 1;
                // The observer follows the turn this send starts (set before the append: a fast
                // agent's first chunk may come before the append's answer).
                if self.shared.http.config().send_observer.is_some() {
                    c.observed = Some(ObservedSend { started, message_id, first_chunk_seen: false });
                }
            }
            new_turn
        };
        self.shared.subscribe_and_wait();
        let result = self.append(&chunk);
        let mut c = self.shared.conv();
        c.appends_pending -= 1;
        self.shared.append_returned.notify_all();
        match result {
            Ok(seq) => {
                if let Some(seq) = seq {
                    c.last_message_seq = c.last_message_seq.max(Some(seq));
                    // Unless a fast agent already answered it (see below).
                    if c.last_committed.is_none_or(|committed| committed < seq) {
                        c.awaited.push_back(seq);
                    }
                }
                // A fast agent may have finished the turn before our append returned: the reader then
                // saw the turn-complete but kept waiting for our seq. Settle it here; the reader
                // notices at its next record, ping or window end.
                if c.appends_pending == 0 {
                    if let (Some(committed), Some(sent)) = (c.last_committed, c.last_message_seq) {
                        if committed >= sent {
                            c.end_turns();
                        }
                    }
                }
                Ok(Some(seq))
            }
            Err(e) => {
                if new_turn && c.appends_pending == 0 {
                    c.turns_expected = c.turns_expected.saturating_sub(1);
                    c.turn_in_flight = c.turns_expected > 0;
                }
                if new_turn {
                    c.observed = None;
                }
                Err(e)
            }
        }
    }
}
