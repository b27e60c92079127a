//! [`Client`]: configuration and HTTP shared by many chats.

use std::sync::Arc;

use crate::config::ClientConfig;
use crate::error::Result;
use crate::http::Http;

/// A connection to one Trigger.dev environment (base URL + token), shared by many chats: open one
/// with [`Client::open`] or resume one with [`Client::restore`] (both in `chat`, which depends on
/// this module, not the other way round).
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

    /// The new connections this client has opened so far (TCP connections, full and resumed TLS
    /// handshakes), over all its chats and calls: what a turn costs beyond its requests.
    pub fn connection_stats(&self) -> crate::ConnectionStats {
        self.http.connection_stats()
    }

    /// Makes every blocking call in progress on this client fail with [`crate::ErrorKind::Cancelled`]
    /// now: an open, and the sends of every chat opened or restored from it (the one of
    /// [`crate::Chat::submit`] running included). Its connection is closed and a retry delay under way is
    /// cut short; calls that start afterwards are not affected. A cancelled send may still have
    /// reached the server (an append cut after it was stored): sending it again is safe only as
    /// a new message. Callable from any thread; does not block.
    pub fn cancel_calls(&self) {
        self.http.cancel_calls();
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
