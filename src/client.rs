//! [`Client`]: configuration and HTTP shared by many chats.

use std::sync::Arc;

use crate::chat::{Chat, ChatOptions};
use crate::config::ClientConfig;
use crate::error::Result;
use crate::http::Http;
use crate::state::SavedState;

/// A connection to one Trigger.dev environment (base URL + token), shared by many chats.
///
/// Cheap to clone (an `Arc` inside) and safe to use from any thread.
#[derive(Clone)]
pub struct Client {
    pub(crate) http: Arc<Http>,
}

impl Client {
    /// Checks `config` and builds the client. Makes no request.
    pub fn new(config: ClientConfig) -> Result<Client> {
        Ok(Client { http: Arc::new(Http::new(config)?) })
    }

    /// Opens a conversation: creates the session (idempotent on the chat id) and starts the agent's
    /// run, with a preload or a first message. See [`ChatOptions`].
    pub fn open(&self, options: ChatOptions) -> Result<Chat> {
        Chat::open(self.clone(), options)
    }

    /// Resumes a conversation from state saved by [`Chat::save_state`], e.g. after an app restart.
    /// If a turn was streaming when the state was saved, the rest of it streams again (from the saved
    /// cursor, without duplicates).
    pub fn restore(&self, saved_state_json: &str) -> Result<Chat> {
        Chat::restore(self.clone(), SavedState::from_json(saved_state_json)?)
    }

    /// The new connections this client has opened so far (TCP connections, full and resumed TLS
    /// handshakes), over all its chats and calls: what a turn costs beyond its requests.
    pub fn connection_stats(&self) -> crate::ConnectionStats {
        self.http.connection_stats()
    }

    /// The configuration in use.
    pub fn config(&self) -> &ClientConfig {
        self.http.config()
    }
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client").field("config", self.http.config()).finish()
    }
}
