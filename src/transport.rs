//! The client's connections: TCP, then TLS with one rustls configuration for every agent of a
//! client — and so one TLS session store, which lets a chat's next `.out` connection (or a REST
//! call's new connection) resume the session instead of paying for a full handshake — plus counters
//! of what each new connection cost.
//!
//! ureq caches a rustls configuration per agent; tchat has one agent for REST calls and one per
//! chat stream (so that `Agent::shutdown` can interrupt a blocked read of one chat), which would
//! mean one session store per agent and a full handshake for every stream. Hence this connector in
//! place of ureq's own TLS connector, at the end of ureq's chain (CONNECT proxy, TCP).

use std::fmt;
use std::io::{Read, Write};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use rustls::client::ClientConnection;
use rustls::pki_types::{CertificateDer, ServerName};
use rustls::{ClientConfig, HandshakeKind, RootCertStore, StreamOwned};
use ureq::unversioned::transport::{
    Buffers, ConnectionDetails, Connector, Either, LazyBuffers, NextTimeout, Transport, TransportAdapter,
};

use crate::error::{Error, Result};

/// What new connections a client made, counted since it was created. A request that reuses a
/// pooled connection counts nothing.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    connections: AtomicU64,
    full_handshakes: AtomicU64,
    resumed_handshakes: AtomicU64,
}

impl Counters {
    pub fn snapshot(&self) -> ConnectionStats {
        ConnectionStats {
            connections: self.connections.load(Ordering::Relaxed),
            full_handshakes: self.full_handshakes.load(Ordering::Relaxed),
            resumed_handshakes: self.resumed_handshakes.load(Ordering::Relaxed),
        }
    }

    pub fn connections(&self) -> u64 {
        self.connections.load(Ordering::Relaxed)
    }
}

/// New connections a [`Client`](crate::Client) opened, over all its chats and calls: what a turn
/// costs in handshakes (see [`Client::connection_stats`](crate::Client::connection_stats)).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ConnectionStats {
    /// New TCP connections (plain or TLS).
    pub connections: u64,
    /// TLS handshakes that authenticated the server anew (certificate chain, key exchange).
    pub full_handshakes: u64,
    /// TLS handshakes that resumed an earlier session of this client (one round trip, no
    /// certificate).
    pub resumed_handshakes: u64,
}

/// ureq's resolver, except that an IP literal (a devserver on `127.0.0.1`, a self-hosted IP) needs
/// no lookup: ureq resolves every host, literals included, on a thread of its own so that a lookup
/// can time out — a thread per new connection, and a channel receive that makes Rust's std keep a
/// thread handle for the application's own thread (valgrind's one "possibly lost" block).
#[derive(Debug, Default)]
pub(crate) struct Resolver(ureq::unversioned::resolver::DefaultResolver);

impl ureq::unversioned::resolver::Resolver for Resolver {
    fn resolve(
        &self,
        uri: &ureq::http::Uri,
        config: &ureq::config::Config,
        timeout: NextTimeout,
    ) -> std::result::Result<ureq::unversioned::resolver::ResolvedSocketAddrs, ureq::Error> {
        if let (Some(scheme), Some(authority)) = (uri.scheme_str(), uri.authority()) {
            let host = authority.host();
            let host = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')).unwrap_or(host);
            let port = authority.port_u16().or(match scheme {
                "https" => Some(443),
                "http" => Some(80),
                _ => None,
            });
            if let (Ok(ip), Some(port)) = (host.parse::<std::net::IpAddr>(), port) {
                let mut addrs = self.empty();
                addrs.push(std::net::SocketAddr::new(ip, port));
                return Ok(addrs);
            }
        }
        self.0.resolve(uri, config, timeout)
    }
}

/// TLS for one client: the rustls configuration (roots, session store) every agent shares.
#[derive(Clone)]
pub(crate) struct Tls {
    config: Arc<ClientConfig>,
    counters: Arc<Counters>,
}

impl Tls {
    /// Trusts the web PKI roots plus `extra_pem`'s certificates, or only those when
    /// `replace_roots` (a private deployment whose CA is the only one to trust).
    pub fn new(extra_pem: &[u8], replace_roots: bool, counters: Arc<Counters>) -> Result<Tls> {
        let roots = root_store(extra_pem, replace_roots)?;
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| Error::invalid(format!("TLS: {e}")))?
            .with_root_certificates(roots)
            .with_no_client_auth();
        // rustls keeps TLS 1.3 tickets and TLS 1.2 session ids in memory by default (256 servers).
        Ok(Tls { config: Arc::new(config), counters })
    }

    /// The connector chain for one agent: CONNECT proxy (from the environment, as ureq's default
    /// chain), TCP, then this TLS.
    pub fn connector(&self) -> impl Connector {
        ().chain(ureq::unversioned::transport::ConnectProxyConnector::default())
            .chain(ureq::unversioned::transport::TcpConnector::default())
            .chain(self.clone())
    }
}

/// The web PKI roots plus `extra_pem`'s certificates, or only those when `replace_roots`.
fn root_store(extra_pem: &[u8], replace_roots: bool) -> Result<RootCertStore> {
    let mut roots = RootCertStore::empty();
    if !replace_roots {
        roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    }
    if extra_pem.is_empty() {
        if replace_roots {
            return Err(Error::invalid(
                "root certificates: replacing the built-in roots needs at least one certificate",
            ));
        }
        return Ok(roots);
    }
    let mut added = 0;
    for item in ureq::tls::parse_pem(extra_pem) {
        match item {
            Ok(ureq::tls::PemItem::Certificate(c)) => {
                roots
                    .add(CertificateDer::from(c.der().to_vec()))
                    .map_err(|e| Error::invalid(format!("root certificates: {e}")))?;
                added += 1;
            }
            Ok(_) => {}
            Err(e) => return Err(Error::invalid(format!("root certificates: {e}"))),
        }
    }
    if added == 0 {
        return Err(Error::invalid("root certificates: no certificate found in the PEM data"));
    }
    Ok(roots)
}

impl fmt::Debug for Tls {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Tls").finish_non_exhaustive()
    }
}

impl<In: Transport> Connector<In> for Tls {
    type Out = Either<In, TlsTransport>;

    fn connect(
        &self,
        details: &ConnectionDetails,
        chained: Option<In>,
    ) -> std::result::Result<Option<Self::Out>, ureq::Error> {
        let Some(transport) = chained else {
            return Ok(None);
        };
        // Every call here is a new connection: the pool hands out kept ones without connecting.
        self.counters.connections.fetch_add(1, Ordering::Relaxed);
        if !details.needs_tls() || transport.is_tls() {
            return Ok(Some(Either::A(transport)));
        }
        let host = details.uri.host().unwrap_or_default();
        // An IPv6 literal comes bracketed in the URI.
        let host = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')).unwrap_or(host);
        let name = ServerName::try_from(host.to_owned()).map_err(|_| ureq::Error::Tls("invalid TLS server name"))?;
        let mut conn = ClientConnection::new(self.config.clone(), name)?;
        let mut sock = TransportAdapter::new(transport.boxed(), details.current_time.clone());
        sock.set_timeout(details.timeout);
        conn.complete_io(&mut sock)?;
        match conn.handshake_kind() {
            Some(HandshakeKind::Resumed) => self.counters.resumed_handshakes.fetch_add(1, Ordering::Relaxed),
            _ => self.counters.full_handshakes.fetch_add(1, Ordering::Relaxed),
        };
        let buffers = LazyBuffers::new(details.config.input_buffer_size(), details.config.output_buffer_size());
        Ok(Some(Either::B(TlsTransport { buffers, stream: StreamOwned { conn, sock } })))
    }
}

/// One TLS connection, as ureq's transports are: buffers plus the rustls stream over the chained
/// transport.
pub(crate) struct TlsTransport {
    buffers: LazyBuffers,
    stream: StreamOwned<ClientConnection, TransportAdapter>,
}

impl Transport for TlsTransport {
    fn buffers(&mut self) -> &mut dyn Buffers {
        &mut self.buffers
    }

    fn transmit_output(&mut self, amount: usize, timeout: NextTimeout) -> std::result::Result<(), ureq::Error> {
        self.stream.get_mut().set_timeout(timeout);
        let output = &self.buffers.output()[..amount];
        self.stream.write_all(output)?;
        Ok(())
    }

    fn await_input(&mut self, timeout: NextTimeout) -> std::result::Result<bool, ureq::Error> {
        self.stream.get_mut().set_timeout(timeout);
        let input = self.buffers.input_append_buf();
        let amount = self.stream.read(input)?;
        self.buffers.input_appended(amount);
        Ok(amount > 0)
    }

    fn is_open(&mut self) -> bool {
        self.stream.get_mut().get_mut().is_open()
    }

    fn is_tls(&self) -> bool {
        true
    }
}

impl fmt::Debug for TlsTransport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsTransport").finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CA: &[u8] = include_bytes!("../tests/data/tls/ca.pem");

    #[test]
    fn extra_roots_are_added_to_the_web_pki_unless_replacing() {
        let web = webpki_roots::TLS_SERVER_ROOTS.len();
        assert_eq!(root_store(b"", false).unwrap().len(), web);
        assert_eq!(root_store(CA, false).unwrap().len(), web + 1);
        assert_eq!(root_store(CA, true).unwrap().len(), 1);
        assert!(root_store(b"", true).is_err());
        assert!(root_store(b"not pem", false).is_err());
    }
}
