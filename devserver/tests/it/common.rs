//! Helpers for talking raw HTTP to an in-process devserver.

#![allow(dead_code)]

use std::io::{BufRead, BufReader, ErrorKind, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use base64::Engine;
use serde_json::{json, Value};
use tchat_devserver::{Config, DevServer, RunMode};

/// Upper bound for any single wait in a test.
pub const WAIT: Duration = Duration::from_secs(10);

pub fn fast_config(runs: RunMode) -> Config {
    Config {
        runs,
        ping_interval: Duration::from_millis(5000),
        long_poll: Duration::from_secs(30),
        delta_delay: Duration::from_millis(1),
        idle_timeout: Duration::from_secs(30),
        ..Config::default()
    }
}

pub fn server() -> DevServer {
    DevServer::start(fast_config(RunMode::Server)).expect("start devserver")
}

pub fn client_mode_server() -> DevServer {
    DevServer::start(fast_config(RunMode::Client)).expect("start devserver")
}

pub struct Resp {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub text: String,
}

impl Resp {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.text).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text))
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder().http_status_as_error(false).timeout_global(Some(WAIT)).build().into()
}

fn collect(mut r: ureq::http::Response<ureq::Body>) -> Resp {
    let status = r.status().as_u16();
    let headers =
        r.headers().iter().map(|(k, v)| (k.as_str().to_string(), v.to_str().unwrap_or("").to_string())).collect();
    let text = r.body_mut().read_to_string().unwrap_or_default();
    Resp { status, headers, text }
}

/// A request with an optional bearer token and optional body (always with Content-Length).
pub fn call(method: &str, url: &str, token: Option<&str>, body: Option<&str>, extra: &[(&str, &str)]) -> Resp {
    let a = agent();
    macro_rules! with_headers {
        ($b:expr) => {{
            let mut b = $b;
            if let Some(t) = token {
                b = b.header("Authorization", format!("Bearer {t}"));
            }
            for (k, v) in extra {
                b = b.header(*k, *v);
            }
            b
        }};
    }
    let r = match method {
        "GET" => with_headers!(a.get(url)).call(),
        "POST" => {
            with_headers!(a.post(url)).header("Content-Type", "application/json").send(body.unwrap_or("").as_bytes())
        }
        "PATCH" => {
            with_headers!(a.patch(url)).header("Content-Type", "application/json").send(body.unwrap_or("").as_bytes())
        }
        m => panic!("method {m}"),
    };
    collect(r.expect("request"))
}

pub fn get(s: &DevServer, path: &str, token: &str) -> Resp {
    call("GET", &format!("{}{path}", s.base_url()), Some(token), None, &[])
}

pub fn post(s: &DevServer, path: &str, token: &str, body: &Value) -> Resp {
    call("POST", &format!("{}{path}", s.base_url()), Some(token), Some(&body.to_string()), &[])
}

pub fn create_body(chat_id: Option<&str>, base: Value) -> Value {
    let mut v = json!({ "type": "chat.agent", "taskIdentifier": "demo", "triggerConfig": { "basePayload": base } });
    if let Some(c) = chat_id {
        v["externalId"] = json!(c);
    }
    v
}

pub fn preload(chat_id: &str) -> Value {
    json!({ "chatId": chat_id, "trigger": "preload", "messages": [], "metadata": {} })
}

/// Creates a preloaded session and returns its JSON (id, publicAccessToken, ...).
pub fn create_session(s: &DevServer, chat_id: &str) -> Value {
    let r = post(s, "/api/v1/sessions", s.secret_key(), &create_body(Some(chat_id), preload(chat_id)));
    assert_eq!(r.status, 201, "{}", r.text);
    r.json()
}

pub fn user_message(chat_id: &str, id: &str, text: &str) -> Value {
    json!({ "kind": "message", "payload": {
        "chatId": chat_id, "trigger": "submit-message",
        "message": { "id": id, "role": "user", "parts": [{ "type": "text", "text": text }] },
        "metadata": {} } })
}

pub fn append(s: &DevServer, session: &str, token: &str, chunk: &Value) -> Resp {
    post(s, &format!("/realtime/v1/sessions/{session}/in/append"), token, chunk)
}

pub fn send_text(s: &DevServer, session: &str, token: &str, id: &str, text: &str) -> u64 {
    let r = append(s, session, token, &user_message(session, id, text));
    assert_eq!(r.status, 200, "{}", r.text);
    r.json()["seq"].as_u64().expect("seq")
}

/// The claims of a JWT, decoded without checking the signature.
pub fn claims(token: &str) -> Value {
    let payload = token.split('.').nth(1).expect("JWT has three parts");
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(payload).expect("base64url");
    serde_json::from_slice(&bytes).expect("claims JSON")
}

pub fn scopes(token: &str) -> Vec<String> {
    claims(token)["scopes"].as_array().unwrap().iter().map(|s| s.as_str().unwrap().to_string()).collect()
}

// ---------------------------------------------------------------------------------------------
// A raw SSE client: exact bytes, chunk boundaries and aborts are what the fault tests check.

#[derive(Debug, Clone)]
pub struct Event {
    pub event: Option<String>,
    pub id: Option<String>,
    pub data: String,
}

/// One `.out` record, with its body decoded.
#[derive(Debug, Clone)]
pub struct Rec {
    pub seq: u64,
    pub headers: Vec<(String, String)>,
    pub body: Option<String>,
    pub raw: Value,
}

impl Rec {
    pub fn control(&self) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k == "trigger-control").map(|(_, v)| v.as_str())
    }
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }
    pub fn is_command(&self) -> bool {
        self.headers.first().is_some_and(|(k, _)| k.is_empty())
    }
    /// The UIMessageChunk of a data record.
    pub fn chunk(&self) -> Option<Value> {
        if self.control().is_some() || self.is_command() {
            return None;
        }
        let body: Value = serde_json::from_str(self.body.as_ref()?).ok()?;
        body.get("data").cloned()
    }
    pub fn chunk_type(&self) -> Option<String> {
        self.chunk().and_then(|c| c["type"].as_str().map(str::to_string))
    }
}

#[derive(Debug, PartialEq, Eq, Clone, Copy)]
pub enum End {
    /// Still open.
    Open,
    /// The terminating zero-length chunk arrived.
    Clean,
    /// The connection closed in the middle of the body.
    Aborted,
}

pub struct Sse {
    reader: BufReader<TcpStream>,
    pub status: u16,
    pub headers: Vec<(String, String)>,
    /// Decoded body bytes not yet parsed into events.
    buf: Vec<u8>,
    /// Every decoded body byte received so far.
    pub body: Vec<u8>,
    /// Sizes of the HTTP chunks received, in order.
    pub chunk_sizes: Vec<usize>,
    pub end: End,
    chunked: bool,
    /// Records of a batch that came after the one a caller stopped at.
    pending: std::collections::VecDeque<Rec>,
}

impl Sse {
    pub fn open(s: &DevServer, path: &str, token: &str, extra: &[(&str, &str)]) -> Sse {
        let mut tcp = TcpStream::connect(s.addr()).expect("connect");
        tcp.set_read_timeout(Some(WAIT)).unwrap();
        let mut req = format!(
            "GET {path} HTTP/1.1\r\nHost: {}\r\nAuthorization: Bearer {token}\r\nAccept: text/event-stream\r\n",
            s.addr()
        );
        for (k, v) in extra {
            req.push_str(&format!("{k}: {v}\r\n"));
        }
        req.push_str("\r\n");
        tcp.write_all(req.as_bytes()).unwrap();
        let mut reader = BufReader::new(tcp);
        let mut line = String::new();
        reader.read_line(&mut line).expect("status line");
        let status: u16 = line.split_whitespace().nth(1).expect("status").parse().unwrap();
        let mut headers = Vec::new();
        loop {
            line.clear();
            reader.read_line(&mut line).unwrap();
            let l = line.trim_end();
            if l.is_empty() {
                break;
            }
            let (k, v) = l.split_once(':').unwrap();
            headers.push((k.trim().to_ascii_lowercase(), v.trim().to_string()));
        }
        let chunked = headers.iter().any(|(k, v)| k == "transfer-encoding" && v.contains("chunked"));
        let mut sse = Sse {
            reader,
            status,
            headers,
            buf: Vec::new(),
            body: Vec::new(),
            chunk_sizes: Vec::new(),
            end: End::Open,
            chunked,
            pending: Default::default(),
        };
        if !chunked {
            // A plain (error) response with Content-Length: read it whole.
            let len: usize = sse.header("content-length").and_then(|v| v.parse().ok()).unwrap_or(0);
            let mut b = vec![0; len];
            sse.reader.read_exact(&mut b).unwrap();
            sse.body = b.clone();
            sse.buf = b;
            sse.end = End::Clean;
        }
        sse
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    pub fn set_timeout(&self, t: Duration) {
        self.reader.get_ref().set_read_timeout(Some(t)).unwrap();
    }

    /// Reads one HTTP chunk. Ok(false) at the end of the body (clean or aborted).
    pub fn read_chunk(&mut self) -> std::io::Result<bool> {
        if self.end != End::Open {
            return Ok(false);
        }
        let mut line = String::new();
        match self.reader.read_line(&mut line) {
            Ok(0) => {
                self.end = End::Aborted;
                return Ok(false);
            }
            Ok(_) => {}
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => return Err(e),
            Err(_) => {
                self.end = End::Aborted;
                return Ok(false);
            }
        }
        if !line.ends_with("\r\n") {
            self.end = End::Aborted;
            return Ok(false);
        }
        let size = usize::from_str_radix(line.trim(), 16).expect("chunk size");
        if size == 0 {
            let mut crlf = String::new();
            let _ = self.reader.read_line(&mut crlf);
            self.end = End::Clean;
            return Ok(false);
        }
        let mut data = vec![0; size + 2];
        if self.reader.read_exact(&mut data).is_err() {
            self.end = End::Aborted;
            return Ok(false);
        }
        data.truncate(size);
        self.chunk_sizes.push(size);
        self.body.extend_from_slice(&data);
        self.buf.extend_from_slice(&data);
        Ok(true)
    }

    /// Reads until the body ends; returns how it ended.
    pub fn read_to_end(&mut self) -> End {
        let deadline = Instant::now() + WAIT;
        while self.end == End::Open {
            assert!(Instant::now() < deadline, "stream did not end");
            self.read_chunk().expect("read timed out");
        }
        self.end
    }

    /// The next complete SSE event, or None when the body ended.
    pub fn next_event(&mut self) -> Option<Event> {
        loop {
            if let Some(pos) = find_blank_line(&self.buf) {
                let raw: Vec<u8> = self.buf.drain(..pos + 2).collect();
                let text = String::from_utf8(raw).expect("UTF-8 event");
                let mut ev = Event { event: None, id: None, data: String::new() };
                let mut datas = Vec::new();
                for line in text.lines() {
                    if let Some(v) = line.strip_prefix("event: ") {
                        ev.event = Some(v.to_string());
                    } else if let Some(v) = line.strip_prefix("id: ") {
                        ev.id = Some(v.to_string());
                    } else if let Some(v) = line.strip_prefix("data: ") {
                        datas.push(v.to_string());
                    }
                }
                ev.data = datas.join("\n");
                return Some(ev);
            }
            if !self.chunked || !self.read_chunk().expect("read timed out") {
                return None;
            }
        }
    }

    /// Records from batch events until `stop` matches one (inclusive), or the stream ends.
    pub fn records_until(&mut self, mut stop: impl FnMut(&Rec) -> bool) -> Vec<Rec> {
        let deadline = Instant::now() + WAIT;
        let mut out = Vec::new();
        loop {
            while let Some(r) = self.pending.pop_front() {
                let done = stop(&r);
                out.push(r);
                if done {
                    return out;
                }
            }
            let Some(ev) = self.next_event() else { return out };
            assert!(Instant::now() < deadline, "no matching record in time");
            if ev.event.as_deref() == Some("batch") {
                self.pending.extend(parse_batch(&ev.data));
            }
        }
    }

    /// Records up to and including the next turn-complete.
    pub fn turn(&mut self) -> Vec<Rec> {
        let recs = self.records_until(|r| r.control() == Some("turn-complete"));
        assert!(recs.last().is_some_and(|r| r.control() == Some("turn-complete")), "no turn-complete: {recs:?}");
        recs
    }
}

fn find_blank_line(b: &[u8]) -> Option<usize> {
    b.windows(2).position(|w| w == b"\n\n")
}

pub fn parse_batch(data: &str) -> Vec<Rec> {
    let v: Value = serde_json::from_str(data).expect("batch JSON");
    v["records"]
        .as_array()
        .expect("records")
        .iter()
        .map(|r| Rec {
            seq: r["seq_num"].as_u64().expect("seq_num"),
            headers: r
                .get("headers")
                .and_then(Value::as_array)
                .map(|h| {
                    h.iter().map(|p| (p[0].as_str().unwrap().to_string(), p[1].as_str().unwrap().to_string())).collect()
                })
                .unwrap_or_default(),
            body: r.get("body").and_then(Value::as_str).map(str::to_string),
            raw: r.clone(),
        })
        .collect()
}

/// Opens `.out` of a session with the session's own token.
pub fn subscribe(s: &DevServer, session: &str, token: &str, extra: &[(&str, &str)]) -> Sse {
    let sse = Sse::open(s, &format!("/realtime/v1/sessions/{session}/out"), token, extra);
    assert_eq!(sse.status, 200);
    sse
}

/// Concatenated text deltas of a turn.
pub fn text_of(recs: &[Rec]) -> String {
    recs.iter()
        .filter_map(Rec::chunk)
        .filter(|c| c["type"] == "text-delta")
        .map(|c| c["delta"].as_str().unwrap().to_string())
        .collect()
}

pub fn deltas_of(recs: &[Rec], kind: &str) -> Vec<String> {
    recs.iter()
        .filter_map(Rec::chunk)
        .filter(|c| c["type"] == kind)
        .map(|c| c["delta"].as_str().unwrap().to_string())
        .collect()
}

pub fn types_of(recs: &[Rec]) -> Vec<String> {
    recs.iter()
        .map(|r| match r.control() {
            Some(c) => format!("control:{c}"),
            None if r.is_command() => "command".to_string(),
            None => r.chunk_type().unwrap_or_default(),
        })
        .collect()
}

/// Waits (bounded) for a condition that the server reaches on its own, e.g. a run ending.
pub fn eventually(what: &str, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + WAIT;
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(5));
    }
}

pub fn run_status(s: &DevServer, run: &str) -> String {
    let r = get(s, &format!("/api/v3/runs/{run}"), s.secret_key());
    assert_eq!(r.status, 200, "{}", r.text);
    r.json()["status"].as_str().unwrap().to_string()
}

/// A raw request, for what HTTP clients will not send (a POST without Content-Length).
pub fn raw_request(s: &DevServer, request: &str) -> (u16, String) {
    let mut tcp = TcpStream::connect(s.addr()).unwrap();
    tcp.set_read_timeout(Some(WAIT)).unwrap();
    tcp.write_all(request.as_bytes()).unwrap();
    let mut reader = BufReader::new(tcp);
    let mut line = String::new();
    reader.read_line(&mut line).unwrap();
    let status = line.split_whitespace().nth(1).unwrap().parse().unwrap();
    let mut len = 0usize;
    loop {
        line.clear();
        reader.read_line(&mut line).unwrap();
        let l = line.trim_end();
        if l.is_empty() {
            break;
        }
        if let Some((k, v)) = l.split_once(':') {
            if k.eq_ignore_ascii_case("content-length") {
                len = v.trim().parse().unwrap();
            }
        }
    }
    let mut body = vec![0; len];
    reader.read_exact(&mut body).unwrap();
    (status, String::from_utf8(body).unwrap())
}
