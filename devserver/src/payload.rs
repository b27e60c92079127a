//! The payloads of runs the server starts on a session's behalf (continuations, upgrade
//! successors), built from the session's `triggerConfig` as the real server builds them.

use serde_json::Value;

use crate::store::Store;

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
    carry_idle_timeout(&s.trigger_config, &mut p);
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
