//! The `.out` SSE stream: S2 `batch` events, pings, the long-poll window, and the faults that
//! break it on purpose.
//!
//! Each connection is one tokio task writing into a small channel that becomes the response
//! body; it sleeps on the session's `out` signal, so idle connections cost no CPU.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use futures_core::Stream;
use serde_json::json;
use tokio::sync::{mpsc, watch};
use tokio::time::{sleep, sleep_until, Instant};

use crate::app::App;
use crate::clock;
use crate::faults::{Heartbeat, OutFaults, OUT_ERROR_MESSAGE};

/// Most records one `batch` event carries.
const MAX_BATCH: usize = 256;
/// Pause before an injected abort, so every byte written before it is flushed to the socket.
const ABORT_GRACE: Duration = Duration::from_millis(30);

pub type Chunk = Result<Bytes, io::Error>;

/// The response body: yields what the connection task writes and returns `Pending` once after
/// each piece, which makes hyper flush every piece on its own (needed for split writes and
/// for byte-exact drops).
pub struct BodyStream {
    rx: mpsc::Receiver<Chunk>,
    just_yielded: bool,
}

impl BodyStream {
    pub fn new(rx: mpsc::Receiver<Chunk>) -> Self {
        BodyStream { rx, just_yielded: false }
    }
}

impl Stream for BodyStream {
    type Item = Chunk;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Chunk>> {
        if self.just_yielded {
            self.just_yielded = false;
            cx.waker().wake_by_ref();
            return Poll::Pending;
        }
        let item = self.rx.poll_recv(cx);
        if matches!(item, Poll::Ready(Some(_))) {
            self.just_yielded = true;
        }
        item
    }
}

/// The client went away or a fault cut the connection: stop writing.
struct Gone;

/// Writes body bytes, applying the byte-level faults.
struct Writer {
    tx: mpsc::Sender<Chunk>,
    sent: u64,
    drop_after_bytes: Option<u64>,
    chunk_bytes: Option<usize>,
}

impl Writer {
    async fn write(&mut self, data: String) -> Result<(), Gone> {
        let mut data = Bytes::from(data);
        let mut abort = false;
        if let Some(limit) = self.drop_after_bytes {
            let room = limit.saturating_sub(self.sent);
            if data.len() as u64 >= room {
                data.truncate(room as usize);
                abort = true;
            }
        }
        self.sent += data.len() as u64;
        match self.chunk_bytes {
            Some(n) => {
                while !data.is_empty() {
                    let piece = data.split_to(n.min(data.len()));
                    self.tx.send(Ok(piece)).await.map_err(|_| Gone)?;
                }
            }
            None if !data.is_empty() => self.tx.send(Ok(data)).await.map_err(|_| Gone)?,
            None => {}
        }
        if abort {
            return Err(self.abort().await);
        }
        Ok(())
    }

    /// Ends the body with an error: hyper then drops the connection without the final
    /// chunk, which a client sees as a cut-off stream.
    async fn abort(&mut self) -> Gone {
        sleep(ABORT_GRACE).await;
        let _ = self.tx.send(Err(io::Error::other("injected connection drop"))).await;
        Gone
    }
}

/// How a record-count fault ends a connection.
#[derive(Clone, Copy)]
enum Cut {
    /// `out_drop_after_records`: the body ends without its final chunk.
    Abort,
    /// `out_error_after_records`: an SSE `event: error`, then a clean end of the body.
    ErrorEvent,
}

impl Cut {
    async fn apply(self, w: &mut Writer) -> Result<(), Gone> {
        match self {
            Cut::Abort => Err(w.abort().await),
            Cut::ErrorEvent => {
                w.write(format!("event: error\ndata: {OUT_ERROR_MESSAGE}\n\n")).await?;
                Ok(())
            }
        }
    }
}

/// Withholds records for `length`, writing `heartbeat` meanwhile (bytes that are no record).
async fn stall(
    w: &mut Writer,
    tx: &mpsc::Sender<Chunk>,
    length: Duration,
    heartbeat: Option<Heartbeat>,
) -> Result<(), Gone> {
    let end = Instant::now() + length;
    let (every, pieces): (u64, Vec<&str>) = match heartbeat {
        None => (u64::MAX, Vec::new()),
        Some(Heartbeat::Comment { every_ms }) => (every_ms, vec![": keepalive\n\n"]),
        Some(Heartbeat::UnknownEvent { every_ms }) => (every_ms, vec!["event: heartbeat\ndata: {}\n\n"]),
        // One byte per write; the line is finished before records resume.
        Some(Heartbeat::Byte { every_ms }) => (every_ms, vec![":", " ", "k", "\n"]),
    };
    let mut next = 0usize;
    loop {
        let now = Instant::now();
        if now >= end {
            break;
        }
        let wake = if pieces.is_empty() { end } else { (now + Duration::from_millis(every)).min(end) };
        tokio::select! {
            _ = sleep_until(wake) => {}
            _ = tx.closed() => return Err(Gone),
        }
        if !pieces.is_empty() && Instant::now() < end {
            w.write(pieces[next % pieces.len()].to_string()).await?;
            next += 1;
        }
    }
    // A byte heartbeat stopped mid-line: end the comment so the next event parses.
    if matches!(heartbeat, Some(Heartbeat::Byte { .. })) && next % pieces.len() != 0 {
        w.write("\n".to_string()).await?;
    }
    Ok(())
}

/// Everything one `.out` connection needs, decided by the handler.
pub struct OutRequest {
    /// `None` for an externalId that names no session yet: an empty, idle stream.
    pub session_id: Option<String>,
    pub cursor: Option<u64>,
    pub window: Duration,
    pub settled: bool,
    pub faults: OutFaults,
}

pub async fn serve(app: Arc<App>, req: OutRequest, tx: mpsc::Sender<Chunk>) {
    let _ = serve_inner(app, req, tx).await;
}

async fn serve_inner(app: Arc<App>, req: OutRequest, tx: mpsc::Sender<Chunk>) -> Result<(), Gone> {
    // `Timeout-Seconds` is S2's `wait`: the longest stretch without a record, not a total
    // deadline, so the window restarts after every record written.
    let mut deadline = Instant::now() + req.window;
    let mut w = Writer {
        tx: tx.clone(),
        sent: 0,
        drop_after_bytes: req.faults.drop_after_bytes,
        chunk_bytes: req.faults.chunk_bytes,
    };
    if let Some(ms) = req.faults.stall_ms {
        stall(&mut w, &tx, Duration::from_millis(ms), req.faults.heartbeat).await?;
    }
    // The record-count faults: whichever limit is lower cuts the connection; at a tie the
    // drop wins (an aborted connection never writes the error event).
    let cut_after = match (req.faults.drop_after_records, req.faults.error_after_records) {
        (Some(d), Some(e)) if e < d => Some((e, Cut::ErrorEvent)),
        (Some(d), _) => Some((d, Cut::Abort)),
        (None, Some(e)) => Some((e, Cut::ErrorEvent)),
        (None, None) => None,
    };
    if req.faults.drop_after_bytes == Some(0) {
        return Err(w.abort().await);
    }
    if let Some((0, cut)) = cut_after {
        return cut.apply(&mut w).await;
    }
    // For an externalId with no session nothing will ever be written; a sender kept alive
    // here makes that receiver wait forever instead of failing at once.
    let (_idle_sender, idle_rx) = watch::channel(0u64);
    let mut out_rx: watch::Receiver<u64> = match &req.session_id {
        Some(id) => match app.store().session(id) {
            Some(s) => s.signals.out.subscribe(),
            None => return Ok(()),
        },
        None => idle_rx,
    };
    let ping = app.config.ping_interval.max(Duration::from_millis(1));
    let mut cursor = req.cursor;
    let mut records_sent: u64 = 0;
    let mut last_write = Instant::now();
    loop {
        out_rx.borrow_and_update();
        // A closed session's stream is not ended early: S2 knows nothing of `closedAt`, so the
        // window runs out as for any other stream.
        let (records, tail) = match &req.session_id {
            Some(id) => {
                let store = app.store();
                let Some(s) = store.session(id) else { return Ok(()) };
                (s.records_after(cursor, MAX_BATCH), s.tail_json())
            }
            None => (Vec::new(), json!({ "seq_num": 0, "timestamp": clock::now_ms() })),
        };
        if !records.is_empty() {
            let mut records = records;
            let mut cut = None;
            if let Some((limit, kind)) = cut_after {
                let room = limit.saturating_sub(records_sent) as usize;
                if records.len() >= room {
                    records.truncate(room);
                    cut = Some(kind);
                }
            }
            if let Some(last) = records.last() {
                cursor = Some(last.seq_num);
                records_sent += records.len() as u64;
                let data = json!({
                    "records": records.iter().map(|r| r.to_json()).collect::<Vec<_>>(),
                    "tail": tail,
                });
                let id = format!("{},{},{}", last.seq_num + 1, records_sent, w.sent);
                w.write(format!("event: batch\nid: {id}\ndata: {data}\n\n")).await?;
                last_write = Instant::now();
                deadline = last_write + req.window;
            }
            if let Some(cut) = cut {
                return cut.apply(&mut w).await;
            }
            continue;
        }
        if req.settled || Instant::now() >= deadline {
            if !req.faults.end_without_done {
                w.write("data: [DONE]\n\n".to_string()).await?;
            }
            return Ok(());
        }
        let next_ping = last_write + ping;
        tokio::select! {
            r = out_rx.changed() => {
                if r.is_err() {
                    return Ok(());
                }
            }
            _ = sleep_until(next_ping.min(deadline)) => {
                if Instant::now() < deadline {
                    w.write(format!("event: ping\ndata: {}\n\n", json!({ "timestamp": clock::now_ms() }))).await?;
                    last_write = Instant::now();
                }
            }
            _ = tx.closed() => return Err(Gone),
        }
    }
}
