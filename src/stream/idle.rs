//! Between turns with `ClientConfig::with_idle_watch` (after any warm connection ended): a
//! long-poll on `.out` that only listens for a close by someone else.

use super::*;

/// Between turns: the idle watch when configured, else a sleep on the control channel.
pub(super) fn idle(shared: &Shared, ctl: &Receiver<Ctl>) -> Option<Ctl> {
    if shared.http.config().idle_watch && !shared.conv().closed {
        watch_idle(shared, ctl)
    } else {
        ctl.recv().ok()
    }
}

/// How one idle-watch connection ended.
pub(super) enum Watch {
    /// The long-poll window ran out with nothing for us.
    WindowOver,
    /// A send ended it (or wants to), or the chat is cancelled.
    Interrupted,
    /// The session was closed; the event is out.
    Closed,
    /// The connection failed; try again after a backoff.
    Failed,
    /// Nothing can be watched (auth, the session is gone).
    Stop,
}

/// Between turns, with `ClientConfig::with_idle_watch`: long-polls `.out` from the cursor until a
/// send (or the chat's end) needs the reader, reporting a close by someone else on the way — a
/// `session-closed` record, or a window that ends on a closed session. Records of turns other
/// clients drive meanwhile are skipped. Returns the next control message for [`reader_main`].
pub(super) fn watch_idle(shared: &Shared, ctl: &Receiver<Ctl>) -> Option<Ctl> {
    let mut failures = 0u32;
    loop {
        if shared.is_cancelled() {
            return None;
        }
        match ctl.try_recv() {
            // The watch reconnects by itself: this loop opens a new connection right away.
            Ok(Ctl::ReconnectNow) => {
                shared.reconnect_requested.store(false, std::sync::atomic::Ordering::SeqCst);
                failures = 0;
                continue;
            }
            Ok(c) => return Some(c),
            Err(crossbeam_channel::TryRecvError::Disconnected) => return None,
            Err(crossbeam_channel::TryRecvError::Empty) => {}
        }
        if shared.conv().turn_in_flight {
            return Some(Ctl::Subscribe { peek_settled: false });
        }
        let end = watch_once(shared, ctl);
        shared.watching.store(false, std::sync::atomic::Ordering::SeqCst);
        match end {
            Watch::Interrupted => {}
            Watch::Closed | Watch::Stop => return ctl.recv().ok(),
            Watch::WindowOver => {
                failures = 0;
                if let TurnCheck::Closed(reason) = shared.check_closed() {
                    shared.conv().closed = true;
                    shared.emit_closed(reason);
                    return ctl.recv().ok();
                }
            }
            Watch::Failed => {
                failures += 1;
                match ctl.recv_timeout(backoff(failures)) {
                    Ok(Ctl::ReconnectNow) => {}
                    Ok(c) => return Some(c),
                    Err(RecvTimeoutError::Disconnected) => return None,
                    Err(RecvTimeoutError::Timeout) => {}
                }
            }
        }
    }
}

/// One idle-watch connection; see [`watch_idle`].
pub(super) fn watch_once(shared: &Shared, ctl: &Receiver<Ctl>) -> Watch {
    let mut sub = Subscription {
        shared,
        ctl,
        peek_settled: false,
        token_used: Secret::default(),
        reconnects_announced: 0,
        turn_completed_here: false,
        warm_until: None,
    };
    let response = match sub.connect() {
        Ok(r) => r,
        Err(Connect::Status { status: 401 | 403, .. }) if shared.refreshed_token(&sub.token_used).is_some() => {
            return Watch::Failed;
        }
        Err(Connect::Status { status, body }) => {
            let err = status_error("GET .out (idle watch)", status, &body);
            log_at!(Level::Debug, "chat {}: idle watch stopped: {}", shared.chat_id, err);
            return if matches!(status, 400..=499) && status != 408 && status != 429 {
                Watch::Stop
            } else {
                Watch::Failed
            };
        }
        Err(Connect::Network(_)) => return Watch::Failed,
        Err(Connect::Cancelled) => return Watch::Interrupted,
    };
    shared.watching.store(true, std::sync::atomic::Ordering::SeqCst);
    // A send that looked before `watching` was set did not end this connection: look again.
    let wanted = || shared.is_cancelled() || !ctl.is_empty() || shared.conv().turn_in_flight;
    if wanted() {
        return Watch::Interrupted;
    }
    let mut reader = response.into_body().into_reader();
    let mut parser = SseParser::new();
    let mut decoder = Decoder::with_cursor(shared.conv().last_event_id);
    let mut buf = vec![0u8; 4 * 1024];
    let mut items = Vec::new();
    loop {
        let n = match reader.read(&mut buf) {
            Ok(0) | Err(_) => return if wanted() { Watch::Interrupted } else { Watch::Failed },
            Ok(n) => n,
        };
        let fed = parser.feed(&buf[..n], |ev| decoder.decode_event(ev.event, ev.data, &mut items));
        for item in items.drain(..) {
            if wanted() {
                // Left for the turn's subscription, which reads from the cursor again.
                return Watch::Interrupted;
            }
            match item {
                StreamItem::Control { control: Control::SessionClosed { reason }, .. } => {
                    {
                        let mut c = shared.conv();
                        c.closed = true;
                        c.end_turns();
                    }
                    shared.emit_closed(reason);
                    return Watch::Closed;
                }
                StreamItem::Done => return Watch::WindowOver,
                other => {
                    // Another client's turn on this chat: not ours to deliver; move past it.
                    if let Some(seq) = item_seq(&other) {
                        shared.conv().last_event_id = Some(seq);
                    }
                }
            }
        }
        if fed.is_err() {
            return Watch::Failed;
        }
    }
}
