//! The conversation state an application saves to resume a chat after a restart (PROTOCOL 8).

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// Who starts the agent's runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RunMode {
    /// Today's server: session creation starts the first run and every append starts a
    /// continuation when the run is gone.
    Server,
    /// The seed flow: the client triggers runs (`POST /api/v1/tasks/{id}/trigger`) and
    /// continuations itself.
    Client,
}

/// Saved conversation state, as JSON. Contains the session's public access token: store it as you
/// would store a password.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SavedState {
    /// Format version (1).
    pub version: u32,
    pub session_id: String,
    pub chat_id: String,
    pub task_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub public_access_token: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_event_id: Option<u64>,
    pub run_mode: RunMode,
    #[serde(default)]
    pub turn_in_flight: bool,
    /// `.in` seq of the last message sent; a turn-complete that committed it ends the wait.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_message_seq: Option<u64>,
    /// The last complete assistant message (so a tool approval can be answered after a restart).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_assistant_message: Option<serde_json::Value>,
    /// The assistant message of a turn saved mid-stream, as assembled so far: the restored chat
    /// goes on assembling into it, so its turn-complete carries the whole message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub partial_assistant_message: Option<serde_json::Value>,
    /// Client data sent as `metadata` with every message.
    /// Watch mode (`ChatOptions::watch`): the restored chat watches too.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub watch: bool,
    /// After a tool approval, the answered assistant message the agent's next turn continues.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub continuing_assistant_message: Option<serde_json::Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<serde_json::Value>,
}

impl SavedState {
    pub(crate) const VERSION: u32 = 1;

    /// Parses saved state, checking what a resume needs.
    pub fn from_json(json: &str) -> Result<SavedState> {
        let state: SavedState =
            serde_json::from_str(json).map_err(|e| Error::invalid(format!("saved state is not valid: {e}")))?;
        if state.version != Self::VERSION {
            return Err(Error::invalid(format!("saved state version {} is not supported (expected 1)", state.version)));
        }
        if state.session_id.is_empty() || state.chat_id.is_empty() {
            return Err(Error::invalid("saved state lacks sessionId or chatId"));
        }
        Ok(state)
    }

    /// The state as JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("saved state serializes")
    }
}

impl std::fmt::Debug for SavedState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SavedState")
            .field("session_id", &self.session_id)
            .field("chat_id", &self.chat_id)
            .field("task_id", &self.task_id)
            .field("run_id", &self.run_id)
            .field("public_access_token", &self.public_access_token.as_ref().map(|_| "[redacted]"))
            .field("last_event_id", &self.last_event_id)
            .field("run_mode", &self.run_mode)
            .field("turn_in_flight", &self.turn_in_flight)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Found by the `capi` fuzz target: a number in the saved state came back one ulp off
    /// (`5.555555555555556e+41` → `5.5555555555555564e+41`) because serde_json's default float parser
    /// is not correctly rounded; `float_roundtrip` makes save → restore → save a fixed point.
    #[test]
    fn numbers_survive_a_restore_exactly() {
        let json = r#"{"version":1,"sessionId":"session_a","chatId":"c","taskId":"t","lastEventId":6301862641182650431,"runMode":"server","turnInFlight":false,"lastMessageSeq":8245376506801373183,"lastAssistantMessage":5.555555555555556e+41}"#;
        let first = SavedState::from_json(json).unwrap().to_json();
        let second = SavedState::from_json(&first).unwrap().to_json();
        assert_eq!(first, second);
        assert!(first.contains("5.555555555555556e41") || first.contains("5.555555555555556e+41"), "{first}");
    }
}
