//! A kept-alive REST connection the server closes just as the next request goes out on it (its
//! idle timeout racing the request) costs nothing: the request is sent again at once on a new
//! connection, not after the retry policy's backoff, and the message arrives once.

mod common;

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::*;
use tchat::{Client, RetryPolicy};
use tchat_devserver::RunMode;

/// After this long without traffic, a connection is "closed by the server" when the client next
/// writes on it: the data is dropped and the connection shut.
const IDLE_CLOSE: Duration = Duration::from_millis(250);

/// A TCP proxy to `backend` that closes connections as a server's idle timeout would, at the worst
/// moment: when the client sends on a connection idle for [`IDLE_CLOSE`].
struct IdleClosingProxy {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    closed_on_request: Arc<AtomicU64>,
}

impl IdleClosingProxy {
    fn start(backend: SocketAddr) -> IdleClosingProxy {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let addr = listener.local_addr().unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let closed_on_request = Arc::new(AtomicU64::new(0));
        let (stop2, closed2) = (stop.clone(), closed_on_request.clone());
        std::thread::spawn(move || {
            while !stop2.load(Ordering::SeqCst) {
                match listener.accept() {
                    Ok((sock, _)) => {
                        let (stop, closed) = (stop2.clone(), closed2.clone());
                        std::thread::spawn(move || relay(sock, backend, &stop, &closed));
                    }
                    // Polled so that the thread sees `stop`.
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                        std::thread::sleep(Duration::from_millis(5))
                    }
                    Err(_) => return,
                }
            }
        });
        IdleClosingProxy { addr, stop, closed_on_request }
    }
}

impl Drop for IdleClosingProxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
    }
}

fn relay(mut client: TcpStream, backend: SocketAddr, stop: &AtomicBool, closed: &AtomicU64) {
    let Ok(mut server) = TcpStream::connect(backend) else { return };
    let tick = Some(Duration::from_millis(2));
    let _ = client.set_read_timeout(tick);
    let _ = server.set_read_timeout(tick);
    let mut last_traffic = Instant::now();
    let mut buf = vec![0u8; 16 * 1024];
    let idle = |e: &std::io::Error| matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut);
    while !stop.load(Ordering::SeqCst) {
        match client.read(&mut buf) {
            Ok(0) => return,
            Ok(n) => {
                if last_traffic.elapsed() >= IDLE_CLOSE {
                    closed.fetch_add(1, Ordering::SeqCst);
                    let _ = client.shutdown(Shutdown::Both);
                    return;
                }
                last_traffic = Instant::now();
                if server.write_all(&buf[..n]).is_err() {
                    return;
                }
            }
            Err(e) if idle(&e) => {}
            Err(_) => return,
        }
        match server.read(&mut buf) {
            Ok(0) => return,
            Ok(n) => {
                last_traffic = Instant::now();
                if client.write_all(&buf[..n]).is_err() {
                    return;
                }
            }
            Err(e) if idle(&e) => {}
            Err(_) => return,
        }
    }
}

#[test]
fn a_request_on_a_connection_the_server_just_closed_is_sent_again_at_once() {
    // Pings keep the chat's warm `.out` connection busy; only the REST connection goes idle.
    let server = server_with(RunMode::Server, |c| c.ping_interval = Duration::from_millis(50));
    let proxy = IdleClosingProxy::start(server.addr());
    let backoff = Duration::from_secs(2);
    let config = config(&server).with_base_url(format!("http://{}", proxy.addr)).with_retry(RetryPolicy {
        base_delay: backoff,
        max_delay: backoff,
        ..RetryPolicy::default()
    });
    let client = Client::new(config).unwrap();
    let chat = open(&client);
    chat.send_text("first").unwrap();
    collect_turn(&chat);
    for i in 0..3 {
        // Let the REST connection go idle (a wait on nothing: no event may come meanwhile).
        assert!(chat.next_event(IDLE_CLOSE * 2).is_none());
        let started = Instant::now();
        chat.send_text(&format!("after idle {i}")).unwrap();
        let took = started.elapsed();
        assert!(took < backoff / 4, "send {i} took {took:?}: it waited for a backoff");
        assert_eq!(collect_turn(&chat).text, format!("You said: after idle {i}"));
    }
    assert!(proxy.closed_on_request.load(Ordering::SeqCst) >= 3, "the proxy closed the idle REST connection each time");
    assert_eq!(in_messages(&server, chat.session_id()).len(), 4, "each message once");
}
