//! TLS as a user of a hosted Trigger.dev meets it, through a TLS 1.3 terminator (rustls, in this
//! test) in front of the devserver: certificates checked against the roots the client was given
//! (added to the built-in ones, or replacing them), and TLS sessions resumed across the chat's
//! connections — the next `.out` connection, a new REST connection — instead of a full handshake.

mod common;

use std::io::{ErrorKind as IoKind, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use common::*;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tchat::{ChatOptions, Client, ClientConfig, ErrorKind, RetryPolicy};
use tchat_devserver::{DevServer, RunMode};

const CA: &[u8] = include_bytes!("data/tls/ca.pem");
const OTHER_CA: &[u8] = include_bytes!("data/tls/other-ca.pem");
const SERVER_CERT: &[u8] = include_bytes!("data/tls/server.pem");
const SERVER_KEY: &[u8] = include_bytes!("data/tls/server.key");

/// A TLS terminator on a loopback port, forwarding each connection to `backend` in plain TCP, and
/// counting what the server side saw.
struct Terminator {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    accepted: Arc<AtomicU64>,
    resumed: Arc<AtomicU64>,
    acceptor: Option<JoinHandle<()>>,
}

impl Terminator {
    fn start(backend: SocketAddr) -> Terminator {
        let certs: Vec<CertificateDer<'static>> =
            CertificateDer::pem_slice_iter(SERVER_CERT).map(|c| c.unwrap()).collect();
        let key = PrivateKeyDer::from_pem_slice(SERVER_KEY).unwrap();
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ServerConfig::builder_with_provider(provider)
            .with_protocol_versions(&[&rustls::version::TLS13])
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(certs, key)
            .unwrap();
        let config = Arc::new(config);
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let addr = listener.local_addr().unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let accepted = Arc::new(AtomicU64::new(0));
        let resumed = Arc::new(AtomicU64::new(0));
        let acceptor = {
            let (stop, accepted, resumed) = (stop.clone(), accepted.clone(), resumed.clone());
            std::thread::spawn(move || {
                while !stop.load(Ordering::SeqCst) {
                    match listener.accept() {
                        Ok((sock, _)) => {
                            accepted.fetch_add(1, Ordering::SeqCst);
                            let (config, stop, resumed) = (config.clone(), stop.clone(), resumed.clone());
                            std::thread::spawn(move || forward(sock, backend, config, &stop, &resumed));
                        }
                        // Polled so that the thread sees `stop` (the listener has no other wakeup).
                        Err(e) if e.kind() == IoKind::WouldBlock => std::thread::sleep(Duration::from_millis(5)),
                        Err(_) => break,
                    }
                }
            })
        };
        Terminator { addr, stop, accepted, resumed, acceptor: Some(acceptor) }
    }

    fn url(&self) -> String {
        format!("https://{}", self.addr)
    }
}

impl Drop for Terminator {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(a) = self.acceptor.take() {
            let _ = a.join();
        }
    }
}

/// One connection: TLS from the client, plain TCP to the backend, both ways until either side ends.
fn forward(
    sock: TcpStream,
    backend: SocketAddr,
    config: Arc<rustls::ServerConfig>,
    stop: &AtomicBool,
    resumed: &AtomicU64,
) {
    let Ok(mut plain) = TcpStream::connect(backend) else { return };
    let tick = Some(Duration::from_millis(2));
    let _ = sock.set_read_timeout(tick);
    let _ = plain.set_read_timeout(tick);
    let mut tls = rustls::StreamOwned::new(rustls::ServerConnection::new(config).unwrap(), sock);
    let mut counted = false;
    let mut buf = vec![0u8; 16 * 1024];
    let idle = |e: &std::io::Error| matches!(e.kind(), IoKind::WouldBlock | IoKind::TimedOut);
    while !stop.load(Ordering::SeqCst) {
        match tls.read(&mut buf) {
            Ok(0) => return,
            Ok(n) => {
                if plain.write_all(&buf[..n]).is_err() {
                    return;
                }
            }
            Err(e) if idle(&e) => {}
            Err(_) => return,
        }
        if !counted && !tls.conn.is_handshaking() {
            counted = true;
            if tls.conn.handshake_kind() == Some(rustls::HandshakeKind::Resumed) {
                resumed.fetch_add(1, Ordering::SeqCst);
            }
        }
        match plain.read(&mut buf) {
            Ok(0) => return,
            Ok(n) => {
                if tls.write_all(&buf[..n]).and_then(|_| tls.flush()).is_err() {
                    return;
                }
            }
            Err(e) if idle(&e) => {}
            Err(_) => return,
        }
    }
}

fn tls_config(terminator: &Terminator, server: &DevServer) -> ClientConfig {
    ClientConfig::new(server.secret_key()).with_base_url(terminator.url()).with_retry(RetryPolicy {
        base_delay: Duration::from_millis(10),
        max_delay: Duration::from_millis(100),
        max_attempts: 2,
        ..RetryPolicy::default()
    })
}

#[test]
fn a_private_ca_is_trusted_besides_the_built_in_roots() {
    let server = server(RunMode::Server);
    let terminator = Terminator::start(server.addr());
    let client = Client::new(tls_config(&terminator, &server).with_extra_root_certs_pem(CA)).unwrap();
    let chat = open(&client);
    chat.send_text("over TLS").unwrap();
    assert_eq!(collect_turn(&chat).text, "You said: over TLS");
}

#[test]
fn without_the_ca_the_certificate_is_refused() {
    let server = server(RunMode::Server);
    let terminator = Terminator::start(server.addr());
    for config in [
        tls_config(&terminator, &server),
        tls_config(&terminator, &server).with_extra_root_certs_pem(OTHER_CA),
        tls_config(&terminator, &server).with_extra_root_certs_pem(OTHER_CA).with_replace_root_certs(true),
    ] {
        let client = Client::new(config).unwrap();
        let e = client.open(ChatOptions::new("demo")).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Network, "{e}");
        assert!(e.message().to_lowercase().contains("certificate"), "the error says why: {e}");
    }
}

#[test]
fn replacing_the_roots_trusts_only_the_given_ca() {
    let server = server(RunMode::Server);
    let terminator = Terminator::start(server.addr());
    let client =
        Client::new(tls_config(&terminator, &server).with_extra_root_certs_pem(CA).with_replace_root_certs(true))
            .unwrap();
    let chat = open(&client);
    chat.send_text("only our CA").unwrap();
    assert_eq!(collect_turn(&chat).text, "You said: only our CA");
    // Replacing the roots with nothing is refused up front.
    let e = Client::new(tls_config(&terminator, &server).with_replace_root_certs(true)).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidArgument, "{e}");
}

#[test]
fn new_connections_resume_the_tls_session() {
    let server = server(RunMode::Server);
    let terminator = Terminator::start(server.addr());
    // Cold `.out` connections: one per turn, each a new TCP connection that resumes the session
    // the client's first connection (a REST call) made.
    let client =
        Client::new(tls_config(&terminator, &server).with_extra_root_certs_pem(CA).with_keep_warm(Duration::ZERO))
            .unwrap();
    let chat = open(&client);
    for i in 0..3 {
        chat.send_text(&format!("turn {i}")).unwrap();
        assert_eq!(collect_turn(&chat).text, format!("You said: turn {i}"));
    }
    let stats = client.connection_stats();
    assert!(stats.connections >= 4, "a REST connection and a `.out` one per turn: {stats:?}");
    assert_eq!(stats.full_handshakes, 1, "only the first connection authenticates the server in full: {stats:?}");
    assert_eq!(stats.resumed_handshakes, stats.connections - 1, "{stats:?}");
    // The server side agrees.
    assert_eq!(terminator.accepted.load(Ordering::SeqCst), stats.connections);
    assert_eq!(terminator.resumed.load(Ordering::SeqCst), stats.resumed_handshakes);
}

#[test]
fn a_warm_chat_makes_no_connection_per_turn_over_tls() {
    let server = server(RunMode::Server);
    let terminator = Terminator::start(server.addr());
    let client = Client::new(tls_config(&terminator, &server).with_extra_root_certs_pem(CA)).unwrap();
    let chat = open(&client);
    chat.send_text("first").unwrap();
    collect_turn(&chat);
    let before = client.connection_stats();
    let accepted = terminator.accepted.load(Ordering::SeqCst);
    for i in 0..3 {
        chat.send_text(&format!("turn {i}")).unwrap();
        assert_eq!(collect_turn(&chat).text, format!("You said: turn {i}"));
    }
    assert_eq!(client.connection_stats(), before);
    assert_eq!(terminator.accepted.load(Ordering::SeqCst), accepted);
}
