//! How each kind of chunk changes the message's parts: text and reasoning deltas, tool calls and
//! their inputs and outputs, data parts, metadata.

use super::*;

impl Assembler {
    /// `text-start` / `reasoning-start`: a new streaming part, open under the chunk's id (a
    /// reasoning part also keeps the id, as the SDK's does).
    pub(super) fn start_part(&mut self, kind: DeltaKind, c: &Map<String, Value>) {
        let mut p = Map::new();
        match kind {
            DeltaKind::Text => p.insert("type".into(), "text".into()),
            DeltaKind::Reasoning => {
                put(&mut p, "id", c.get("id"));
                p.insert("type".into(), "reasoning".into())
            }
        };
        p.insert("text".into(), "".into());
        put(&mut p, "providerMetadata", c.get("providerMetadata"));
        p.insert("state".into(), "streaming".into());
        let idx = self.push(p);
        let open = match kind {
            DeltaKind::Text => &mut self.active_text,
            DeltaKind::Reasoning => &mut self.active_reasoning,
        };
        open.insert(id_key(c.get("id")), idx);
    }

    /// `text-end` / `reasoning-end`: the open part is done (a text part also takes `citations`).
    /// The SDK throws on an unknown id. A restored text part still waiting for its id is the one a
    /// `text-end` ends (see `claim_restored_text`); else there is nothing to close.
    pub(super) fn end_part(&mut self, kind: DeltaKind, c: &Map<String, Value>) {
        let key = id_key(c.get("id"));
        let idx = match kind {
            DeltaKind::Text => self.active_text.remove(&key).or_else(|| self.restored_text.pop()),
            DeltaKind::Reasoning => self.active_reasoning.remove(&key),
        };
        let Some(p) = idx.and_then(|idx| self.part_mut(idx)) else { return };
        p.insert("state".into(), "done".into());
        if kind == DeltaKind::Text {
            if let Some(citations) = non_null(c.get("citations")) {
                p.insert("citations".into(), citations.clone());
            }
        }
        if let Some(pm) = non_null(c.get("providerMetadata")) {
            p.insert("providerMetadata".into(), pm.clone());
        }
    }

    pub(super) fn clear_message(&mut self) {
        let applied = self.applied;
        *self = Assembler::new();
        self.applied = applied;
    }

    pub(super) fn push(&mut self, part: Map<String, Value>) -> usize {
        self.message.parts.push(Value::Object(part));
        self.message.parts.len() - 1
    }

    pub(super) fn part_mut(&mut self, idx: usize) -> Option<&mut Map<String, Value>> {
        self.message.parts.get_mut(idx).and_then(Value::as_object_mut)
    }

    pub(super) fn text_delta(&mut self, c: &Map<String, Value>) {
        let key = id_str(c.get("id"));
        let idx = match self.active_text.get(&key) {
            Some(i) => i,
            None => match self.claim_restored_text(&key) {
                Some(i) => i,
                None => self.open_delta_part(DeltaKind::Text, key.into_owned(), None),
            },
        };
        append_text(self.message.parts.get_mut(idx), c);
    }

    /// A text chunk whose id is not open, after [`Assembler::from_message`] restored text parts
    /// still `streaming`: the id belongs to one of them (the turn is going on where it was saved), so
    /// it takes one and keeps it, instead of opening a second part that would split the reply. The
    /// message does not say which: with one open text part (what a model streams) there is no
    /// choice; with several, the newest is taken, since an older one left open is likelier a part
    /// whose end never came than one still receiving deltas.
    pub(super) fn claim_restored_text(&mut self, key: &str) -> Option<usize> {
        let idx = self.restored_text.pop()?;
        self.active_text.insert(key.to_owned(), idx);
        Some(idx)
    }

    pub(super) fn reasoning_delta(&mut self, c: &Map<String, Value>) {
        let idx = match self.active_reasoning.get(&id_str(c.get("id"))) {
            Some(i) => i,
            None => {
                let id = c.get("id").cloned();
                self.open_delta_part(DeltaKind::Reasoning, id_key(c.get("id")), id)
            }
        };
        append_text(self.message.parts.get_mut(idx), c);
    }

    /// A delta for a text or reasoning part that is not open. The SDK throws ("Ensure a text-start
    /// chunk is sent before..."). Creating the part keeps the text of a stream picked up mid-part
    /// (restored state, trimmed history) instead of losing it. `id` is the chunk's `id`, stored on
    /// reasoning parts (as `reasoning-start` does); `key` is its open-parts key.
    pub(super) fn open_delta_part(&mut self, kind: DeltaKind, key: String, id: Option<Value>) -> usize {
        let mut p = Map::new();
        match kind {
            DeltaKind::Text => {
                p.insert("type".into(), "text".into());
            }
            DeltaKind::Reasoning => {
                p.insert("type".into(), "reasoning".into());
                if let Some(id) = id {
                    p.insert("id".into(), id);
                }
            }
        }
        p.insert("text".into(), "".into());
        p.insert("state".into(), "streaming".into());
        let idx = self.push(p);
        match kind {
            DeltaKind::Text => self.active_text.insert(key, idx),
            DeltaKind::Reasoning => self.active_reasoning.insert(key, idx),
        }
        idx
    }

    pub(super) fn tool_input_start(&mut self, c: &Map<String, Value>) {
        let dynamic = truthy(c.get("dynamic"));
        let tool_name = js_string(c.get("toolName"));
        self.partial_tools.insert(
            id_key(c.get("toolCallId")),
            PartialToolCall {
                text: String::new(),
                input_encoding: c.get("inputEncoding").cloned(),
                tool_name: tool_name.clone(),
                dynamic,
                title: c.get("title").cloned(),
                tool_metadata: c.get("toolMetadata").cloned(),
            },
        );
        let upd = ToolUpdate {
            tool_call_id: c.get("toolCallId").cloned().unwrap_or(Value::Null),
            tool_name,
            state: "input-streaming",
            input_encoding: c.get("inputEncoding").cloned(),
            provider_executed: c.get("providerExecuted").cloned(),
            title: c.get("title").cloned(),
            tool_metadata: c.get("toolMetadata").cloned(),
            provider_metadata: c.get("providerMetadata").cloned(),
            ..Default::default()
        };
        self.update_tool(upd, dynamic, None);
    }

    pub(super) fn tool_input_delta(&mut self, c: &Map<String, Value>) {
        // The SDK throws without a preceding tool-input-start: nothing says which tool this is.
        let Some(partial) = self.partial_tools.get_mut(&*id_str(c.get("toolCallId"))) else {
            return;
        };
        if let Some(d) = c.get("inputTextDelta").and_then(Value::as_str) {
            partial.text.push_str(d);
        }
        let input = if partial.input_encoding.as_ref().and_then(Value::as_str) == Some("text") {
            Some(Value::String(partial.text.clone()))
        } else {
            parse_partial_json(&partial.text)
        };
        let upd = ToolUpdate {
            tool_call_id: c.get("toolCallId").cloned().unwrap_or(Value::Null),
            tool_name: partial.tool_name.clone(),
            state: "input-streaming",
            input_encoding: partial.input_encoding.clone(),
            input,
            raw_input: Some(Value::String(partial.text.clone())),
            title: partial.title.clone(),
            tool_metadata: partial.tool_metadata.clone(),
            ..Default::default()
        };
        let dynamic = partial.dynamic;
        self.update_tool(upd, dynamic, None);
    }

    pub(super) fn tool_output(&mut self, chunk_type: &str, c: &Map<String, Value>) {
        let Some(idx) = self.find_tool_invocation(c.get("toolCallId")) else {
            return;
        };
        let part = &self.message.parts[idx];
        let dynamic = part.get("type").and_then(Value::as_str) == Some("dynamic-tool");
        let mut upd = ToolUpdate {
            tool_call_id: c.get("toolCallId").cloned().unwrap_or(Value::Null),
            tool_name: if dynamic { js_string(part.get("toolName")) } else { static_tool_name(part).to_owned() },
            input: part.get("input").cloned(),
            provider_executed: c.get("providerExecuted").cloned(),
            provider_metadata: c.get("providerMetadata").cloned(),
            title: part.get("title").cloned(),
            tool_metadata: non_null(c.get("toolMetadata")).or_else(|| part.get("toolMetadata")).cloned(),
            ..Default::default()
        };
        if chunk_type == "tool-output-available" {
            upd.state = "output-available";
            upd.output = c.get("output").cloned();
            upd.preliminary = c.get("preliminary").cloned();
        } else {
            upd.state = "output-error";
            upd.error_text = c.get("errorText").cloned();
            if !dynamic {
                upd.raw_input = part.get("rawInput").cloned();
            }
        }
        self.update_tool(upd, dynamic, Some(idx));
    }

    /// Index of the first part after the last `step-start` (0 when there is none).
    pub(super) fn current_step_start(&self) -> usize {
        self.message
            .parts
            .iter()
            .rposition(|p| p.get("type").and_then(Value::as_str) == Some("step-start"))
            .map_or(0, |i| i + 1)
    }

    /// The SDK's `getToolInvocation`: the tool part with this call id in the current step, else the
    /// last one in the whole message.
    pub(super) fn find_tool_invocation(&self, call_id: Option<&Value>) -> Option<usize> {
        let parts = &self.message.parts;
        let matches = |i: &usize| {
            let p = &parts[*i];
            is_tool_value(p) && js_eq(p.get("toolCallId"), call_id)
        };
        let step = self.current_step_start();
        (step..parts.len()).find(matches).or_else(|| (0..parts.len()).rev().find(matches))
    }

    /// The SDK's `updateToolPart` / `updateDynamicToolPart`: update the given part, else the matching
    /// tool part of the current step, else append a new one.
    pub(super) fn update_tool(&mut self, u: ToolUpdate, dynamic: bool, existing: Option<usize>) {
        let existing = existing.or_else(|| {
            let step = self.current_step_start();
            (step..self.message.parts.len()).find(|&i| {
                let p = &self.message.parts[i];
                let t = p.get("type").and_then(Value::as_str).unwrap_or("");
                let kind_ok = if dynamic { t == "dynamic-tool" } else { t.starts_with("tool-") };
                kind_ok && js_eq(p.get("toolCallId"), Some(&u.tool_call_id))
            })
        });
        let is_result = u.state == "output-available" || u.state == "output-error";
        let pm_key = if is_result { "resultProviderMetadata" } else { "callProviderMetadata" };

        if let Some(p) = existing.and_then(|i| self.part_mut(i)) {
            p.insert("state".into(), u.state.into());
            if dynamic {
                p.insert("toolName".into(), Value::String(u.tool_name));
            } else {
                p.insert("type".into(), Value::String(format!("tool-{}", u.tool_name)));
            }
            set(p, "input", u.input);
            set(p, "output", u.output);
            set(p, "errorText", u.error_text);
            set(p, "rawInput", u.raw_input);
            set(p, "inputEncoding", u.input_encoding.filter(|v| !v.is_null()));
            set(p, "preliminary", u.preliminary);
            if let Some(t) = u.title {
                p.insert("title".into(), t);
            }
            if let Some(m) = u.tool_metadata {
                p.insert("toolMetadata".into(), m);
            }
            if let Some(pe) = u.provider_executed.filter(|v| !v.is_null()) {
                p.insert("providerExecuted".into(), pe);
            }
            if let Some(pm) = u.provider_metadata.filter(|v| !v.is_null()) {
                p.insert(pm_key.into(), pm);
            }
            return;
        }

        let mut p = Map::new();
        if dynamic {
            p.insert("type".into(), "dynamic-tool".into());
            p.insert("toolName".into(), Value::String(u.tool_name));
        } else {
            p.insert("type".into(), Value::String(format!("tool-{}", u.tool_name)));
            put(&mut p, "rawInput", u.raw_input.as_ref());
        }
        p.insert("toolCallId".into(), u.tool_call_id);
        p.insert("state".into(), u.state.into());
        put(&mut p, "title", u.title.as_ref());
        put(&mut p, "toolMetadata", u.tool_metadata.as_ref());
        put(&mut p, "input", u.input.as_ref());
        put(&mut p, "inputEncoding", non_null(u.input_encoding.as_ref()));
        put(&mut p, "output", u.output.as_ref());
        put(&mut p, "errorText", u.error_text.as_ref());
        put(&mut p, "providerExecuted", u.provider_executed.as_ref());
        put(&mut p, "preliminary", u.preliminary.as_ref());
        put(&mut p, pm_key, non_null(u.provider_metadata.as_ref()));
        self.push(p);
    }

    pub(super) fn data_part(&mut self, chunk_type: &str, chunk: &Value, c: &Map<String, Value>) {
        // Transient parts are delivered to the SDK's onData and never stored.
        if truthy(c.get("transient")) {
            return;
        }
        if let Some(id) = non_null(c.get("id")) {
            let found =
                self.message.parts.iter_mut().find(|p| {
                    p.get("type").and_then(Value::as_str) == Some(chunk_type) && js_eq(p.get("id"), Some(id))
                });
            if let Some(Value::Object(p)) = found {
                set(p, "data", c.get("data").cloned());
                return;
            }
        }
        // The SDK stores the chunk object itself, unknown fields and all.
        self.message.parts.push(chunk.clone());
    }

    /// The SDK's deep merge of message metadata (`mergeObjects`). Metadata that is not a JSON object
    /// on either side replaces instead (the SDK would spread a string or array into index keys).
    pub(super) fn merge_metadata(&mut self, incoming: Option<&Value>) {
        let Some(incoming) = non_null(incoming) else {
            return;
        };
        match (&mut self.message.metadata, incoming) {
            (Some(Value::Object(base)), Value::Object(over)) => merge_objects(base, over),
            (slot, _) => *slot = Some(incoming.clone()),
        }
    }
}
