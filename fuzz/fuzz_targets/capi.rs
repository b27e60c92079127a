//! Fuzz the C API: the input is a program of C calls (decoded with `arbitrary`) on every object that
//! needs no network — client and chat options, clients, chats restored from (fuzzed) saved state —
//! with NULL pointers, invalid UTF-8, strings cut by an embedded NUL and odd numbers mixed in.
//! Everything created is freed at the end of each input, so libFuzzer's leak detection (ASan's
//! LeakSanitizer) sees any leak, and ASan any use after free or double free.
//!
//! No call may connect: `tchat_client_new` makes no request, `tchat_chat_open` is only called when
//! it must fail before the network (NULL client/options/out, or no task id), and a chat is only
//! restored from state whose `turnInFlight` and `watch` are false (a restored chat's reader thread
//! then waits for a send before it subscribes, see `Chat::restore` and `stream::reader_main`). As a
//! second line, chats are only restored with one client, made here, that points at
//! `http://127.0.0.1:1` (refused at once, no DNS) with 1 ms timeouts, one attempt and no idle
//! watch. No send, stop, approve, close or reconnect is ever made on a live chat. (Checked with
//! `strace -f -e trace=connect,socket`: no socket is ever opened.)
//!
//! Checked besides "no crash, no leak": no call returns `TCHAT_PANIC` (libfuzzer-sys turns any
//! panic, even one the API boundary catches, into an abort anyway); `tchat_last_error_message` is
//! UTF-8, empty after a success and not empty after a failure; the client token never shows in a
//! last-error or log message; every `user_data_free` runs exactly once (token provider, send
//! observer, event callback); saving a restored chat's
//! state is a fixed point (restore(save(restore(x))) saves the same JSON).
#![no_main]

use std::cell::RefCell;
use std::ffi::{c_char, c_int, c_void, CStr};
use std::ptr::{null, null_mut};
use std::sync::atomic::{AtomicIsize, Ordering};
use std::sync::Mutex;

use libfuzzer_sys::arbitrary::{self, Arbitrary};
use libfuzzer_sys::fuzz_target;
use serde_json::{json, Value};
use tchat::ffi::chat::*;
use tchat::ffi::chat_options::*;
use tchat::ffi::client::*;
use tchat::ffi::error::*;
use tchat::ffi::event::*;
use tchat::ffi::log::*;
use tchat::ffi::status::*;
use tchat::ffi::{tchat_status, tchat_string_free, tchat_version};

/// The client token the dictionary offers; it must never appear in a message.
const SECRET_TOKEN: &str = "tr_dev_FUZZSECRET_0123456789";
const REFUSED_URL: &str = "http://127.0.0.1:1";

/// Strings worth trying, picked by `Str::Dict`.
const DICT: &[&[u8]] = &[
    b"",
    b" ",
    REFUSED_URL.as_bytes(),
    b"http://localhost:1/",
    b"http://[::1]:1",
    b"https://api.trigger.dev",
    b"http://example.com",
    b"https://user:pass@127.0.0.1:1/path?q#f",
    b"ftp://127.0.0.1",
    b"not a url",
    b"http://",
    b"tr_dev_tchat_local",
    b"eyJhbGciOiJIUzI1NiJ9.e30.sig",
    b"session_abc",
    b"chat-1",
    b"my-chat",
    b"small-1x",
    b"{\"userId\":\"u1\"}",
    b"{\"lockToVersion\":\"20250101.1\",\"region\":\"eu\"}",
    b"[]",
    b"null",
    b"{",
    b"\xff\xfe",
    b"caf\xc3\xa9",
    b"\xed\xa0\x80",
    b"-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n",
    b"a\x00b",
    b"\xf0\x9f\x98\x80",
];

#[derive(Arbitrary, Debug)]
enum Str {
    Null,
    /// The bytes with a NUL appended: C sees them up to their first NUL.
    Bytes(Vec<u8>),
    Dict(u8),
    /// The secret client token.
    Token,
    /// `n` copies of a byte (long ids, tags, URLs).
    Repeat(u8, u16),
}

/// Picks a live object, or NULL.
#[derive(Arbitrary, Debug, Clone, Copy)]
struct Slot(u8);

#[derive(Arbitrary, Debug)]
enum JsonValue {
    Raw(Vec<u8>),
    Message { role: u8, id: Str, parts: Vec<Part> },
    Text(Str),
    Number(i64),
}

#[derive(Arbitrary, Debug)]
enum Part {
    Text { text: Str, streaming: bool },
    Reasoning { id: Str, streaming: bool },
    Tool { name: Str, call: Str, state: u8, approval: Option<Str> },
    Raw(Vec<u8>),
}

#[derive(Arbitrary, Debug)]
enum State {
    /// Arbitrary text as `state_json`.
    Raw(Str),
    /// A well-formed saved state with fuzzed fields.
    Built {
        version: u8,
        session_id: Str,
        chat_id: Str,
        task_id: Str,
        run_id: Option<Str>,
        token: Option<Str>,
        last_event_id: Option<u64>,
        client_mode: bool,
        last_message_seq: Option<u64>,
        last_assistant: Option<JsonValue>,
        partial: Option<JsonValue>,
        continuing: Option<JsonValue>,
        metadata: Option<JsonValue>,
        extra_field: bool,
    },
}

#[derive(Arbitrary, Debug)]
enum Op {
    ClientOptionsNew,
    ClientOptionsFree(Slot),
    SetBaseUrl(Slot, Str),
    SetToken(Slot, Str),
    SetBranch(Slot, Str),
    SetConnectTimeout(Slot, u64),
    SetResponseTimeout(Slot, u64),
    SetStallTimeout(Slot, u64),
    SetReconnectLimit(Slot, u64),
    SetIdleWatch(Slot, bool),
    SetLongPoll(Slot, u32),
    SetRetry(Slot, u32, u64, u64),
    SetUserAgent(Slot, Str),
    AddRootCerts(Slot, Vec<u8>, bool),
    SetAllowInsecure(Slot, bool),
    SetTokenProvider(Slot, bool, bool),
    ClientNew(Slot, bool),
    ClientFree(Slot),

    ChatOptionsNew,
    ChatOptionsFree(Slot),
    SetTaskId(Slot, Str),
    SetChatId(Slot, Str),
    SetMetadata(Slot, Str),
    SetMachine(Slot, Str),
    SetQueue(Slot, Str),
    AddTag(Slot, Str),
    SetMaxAttempts(Slot, u32),
    SetMaxDuration(Slot, u64),
    SetIdleTimeout(Slot, u64),
    SetTriggerConfig(Slot, Str),
    SetFirstMessage(Slot, Str),
    /// Only when it must fail before the network (see the module doc).
    ChatOpen(Slot, Slot, bool),

    Restore(Slot, State, bool),
    ChatFree(Slot),
    ChatGetters(Slot, bool),
    ChatNextEvent(Slot, i8, bool),
    ChatWake(Slot),
    ChatSetCallback(Slot, bool, bool),
    ChatSaveRestore(Slot),
    /// Every chat call on a NULL chat, with fuzzed arguments.
    NullChat(Str, Str, bool),
    SetSendObserver(Slot, bool, bool),
    NullEvent(bool, usize),

    StatusStr(i32),
    EventKindName(i32),
    StringFreeNull,
    SetLogCallback(bool, i32),
}

#[derive(Arbitrary, Debug)]
struct Program {
    ops: Vec<Op>,
}

// -- user_data bookkeeping ---------------------------------------------------------------------

/// user_data objects handed out and not yet freed.
static LIVE_USER_DATA: AtomicIsize = AtomicIsize::new(0);
const MAGIC: u64 = 0x7c4a_7000_dead_beef;

fn new_user_data() -> *mut c_void {
    LIVE_USER_DATA.fetch_add(1, Ordering::SeqCst);
    Box::into_raw(Box::new(MAGIC)).cast()
}

unsafe extern "C" fn free_user_data(user_data: *mut c_void) {
    let b = unsafe { Box::from_raw(user_data.cast::<u64>()) };
    assert_eq!(*b, MAGIC, "user_data_free got something else");
    assert!(LIVE_USER_DATA.fetch_sub(1, Ordering::SeqCst) > 0, "user_data freed twice");
}

unsafe extern "C" fn token_provider(_: *mut c_void, chat_id: *const c_char, buf: *mut c_char, len: usize) -> c_int {
    assert!(!chat_id.is_null() && !buf.is_null() && len > 0);
    unreachable!("the token provider needs a 401, which needs the network");
}

unsafe extern "C" fn send_observer(_: *mut c_void, _: *const tchat_send_event) {
    unreachable!("nothing is ever sent");
}

unsafe extern "C" fn event_callback(_: *mut c_void, _: *const tchat_event) {
    unreachable!("no event can arrive without the network");
}

/// Log messages seen during the current input (checked against the token; at most 64 kept).
static LOG: Mutex<Vec<String>> = Mutex::new(Vec::new());

unsafe extern "C" fn log_callback(_: *mut c_void, level: tchat_log_level, message: *const c_char) {
    assert!((1..=4).contains(&(level as i32)));
    let m = unsafe { CStr::from_ptr(message) }.to_str().expect("log messages are UTF-8");
    let mut log = LOG.lock().unwrap_or_else(|e| e.into_inner());
    if log.len() < 64 {
        log.push(m.to_owned());
    }
}

// -- the interpreter ---------------------------------------------------------------------------

struct Ctx {
    /// The only client chats are restored with (see the module doc).
    restore_client: *mut tchat_client,
    client_options: Vec<*mut tchat_client_options>,
    clients: Vec<*mut tchat_client>,
    chat_options: Vec<(*mut tchat_chat_options, bool)>,
    chats: Vec<*mut tchat_chat>,
    /// Whether the secret token was used anywhere but as a client token (then it may rightly be
    /// quoted, e.g. in a URL error).
    token_elsewhere: bool,
    /// Calls still allowed for this input (a bound on the time one input takes).
    ops_left: usize,
}

fn pick<T: Copy>(v: &[T], s: Slot) -> Option<(usize, T)> {
    if v.is_empty() || s.0 % 8 == 7 {
        None
    } else {
        let i = usize::from(s.0) % v.len();
        Some((i, v[i]))
    }
}

fn ptr<T: Copy>(v: &[T], s: Slot) -> T
where
    T: NullPtr,
{
    pick(v, s).map_or(T::null(), |(_, p)| p)
}

trait NullPtr {
    fn null() -> Self;
}
impl<T> NullPtr for *mut T {
    fn null() -> Self {
        null_mut()
    }
}

/// C string storage for one call.
struct CArg(Option<Vec<u8>>);

impl CArg {
    fn ptr(&self) -> *const c_char {
        self.0.as_ref().map_or(null(), |v| v.as_ptr().cast())
    }
    fn text(&self) -> Option<String> {
        let v = self.0.as_ref()?;
        let end = v.iter().position(|&b| b == 0).unwrap_or(v.len());
        Some(String::from_utf8_lossy(&v[..end]).into_owned())
    }
}

impl Ctx {
    fn carg(&mut self, s: &Str, as_token: bool) -> CArg {
        let mut bytes = match s {
            Str::Null => return CArg(None),
            Str::Bytes(b) => b.clone(),
            Str::Dict(i) => DICT[usize::from(*i) % DICT.len()].to_vec(),
            Str::Token => {
                self.token_elsewhere |= !as_token;
                SECRET_TOKEN.as_bytes().to_vec()
            }
            Str::Repeat(b, n) => vec![*b; usize::from(*n) % 2048],
        };
        if !as_token && bytes.windows(10).any(|w| w == b"FUZZSECRET") {
            self.token_elsewhere = true;
        }
        bytes.push(0);
        CArg(Some(bytes))
    }

    /// `s` as a Rust string (for JSON built around it); NULL is `None`.
    fn text(&mut self, s: &Str) -> Option<String> {
        self.carg(s, false).text()
    }

    fn value(&mut self, v: &JsonValue) -> Value {
        match v {
            JsonValue::Raw(b) => {
                serde_json::from_slice(b).unwrap_or_else(|_| Value::String(String::from_utf8_lossy(b).into()))
            }
            JsonValue::Text(s) => self.text(s).map_or(Value::Null, Value::String),
            JsonValue::Number(n) => json!(n),
            JsonValue::Message { role, id, parts } => {
                let role = ["assistant", "user", "system", ""][usize::from(*role) % 4];
                let parts: Vec<Value> = parts.iter().take(16).map(|p| self.part(p)).collect();
                let mut m = json!({"role": role, "parts": parts});
                if let Some(id) = self.text(id) {
                    m["id"] = Value::String(id);
                }
                m
            }
        }
    }

    fn part(&mut self, p: &Part) -> Value {
        let streaming = |s: bool| if s { "streaming" } else { "done" };
        match p {
            Part::Text { text, streaming: s } => {
                json!({"type": "text", "text": self.text(text), "state": streaming(*s)})
            }
            Part::Reasoning { id, streaming: s } => {
                json!({"type": "reasoning", "id": self.text(id), "text": "", "state": streaming(*s)})
            }
            Part::Tool { name, call, state, approval } => {
                let states = [
                    "input-streaming",
                    "input-available",
                    "approval-requested",
                    "approval-responded",
                    "output-available",
                    "output-error",
                    "output-denied",
                ];
                let name = self.text(name).unwrap_or_default();
                let mut t = json!({
                    "type": format!("tool-{name}"),
                    "toolCallId": self.text(call),
                    "state": states[usize::from(*state) % states.len()],
                    "input": {},
                });
                if let Some(a) = approval {
                    t["approval"] = json!({"id": self.text(a)});
                }
                t
            }
            Part::Raw(b) => serde_json::from_slice(b).unwrap_or(Value::Null),
        }
    }

    /// The `state_json` argument of a restore; `None` means NULL.
    fn state_json(&mut self, s: &State) -> Option<Vec<u8>> {
        match s {
            State::Raw(s) => {
                let arg = self.carg(s, false);
                let mut bytes = arg.0?;
                // Never restore a turn in flight (that subscribes): force it off where it parses.
                let text = arg_text(&bytes);
                if let Ok(mut state) = tchat::SavedState::from_json(&text) {
                    if state.turn_in_flight || state.watch {
                        state.turn_in_flight = false;
                        state.watch = false;
                        bytes = state.to_json().into_bytes();
                        bytes.push(0);
                    }
                }
                Some(bytes)
            }
            State::Built {
                version,
                session_id,
                chat_id,
                task_id,
                run_id,
                token,
                last_event_id,
                client_mode,
                last_message_seq,
                last_assistant,
                partial,
                continuing,
                metadata,
                extra_field,
            } => {
                let mut o = json!({
                    "version": if *version < 250 { 1 } else { u32::from(*version) },
                    "sessionId": self.text(session_id),
                    "chatId": self.text(chat_id),
                    "taskId": self.text(task_id),
                    "runMode": if *client_mode { "client" } else { "server" },
                    "turnInFlight": false,
                });
                let put = |o: &mut Value, k: &str, v: Option<Value>| {
                    if let Some(v) = v {
                        o[k] = v;
                    }
                };
                let v = run_id.as_ref().map(|s| self.text(s).map_or(Value::Null, Value::String));
                put(&mut o, "runId", v);
                let v = token.as_ref().map(|s| self.text(s).map_or(Value::Null, Value::String));
                put(&mut o, "publicAccessToken", v);
                put(&mut o, "lastEventId", last_event_id.map(|n| json!(n)));
                put(&mut o, "lastMessageSeq", last_message_seq.map(|n| json!(n)));
                let v = last_assistant.as_ref().map(|v| self.value(v));
                put(&mut o, "lastAssistantMessage", v);
                let v = partial.as_ref().map(|v| self.value(v));
                put(&mut o, "partialAssistantMessage", v);
                let v = continuing.as_ref().map(|v| self.value(v));
                put(&mut o, "continuingAssistantMessage", v);
                let v = metadata.as_ref().map(|v| self.value(v));
                put(&mut o, "metadata", v);
                if *extra_field {
                    o["futureField"] = json!([1, {"a": null}]);
                }
                let mut bytes = serde_json::to_vec(&o).expect("a Value serializes");
                bytes.push(0);
                Some(bytes)
            }
        }
    }

    /// After a status-returning call: never a panic; the last error agrees with the status.
    fn check(&self, status: tchat_status, what: &str) -> tchat_status {
        assert_ne!(status, tchat_status::TCHAT_PANIC, "{what} panicked: {}", last_error());
        let message = last_error();
        if status == tchat_status::TCHAT_OK {
            assert!(message.is_empty(), "{what} succeeded with a last error: {message}");
            assert_eq!(tchat_last_error_http_status(), 0);
        } else {
            assert!(!message.is_empty(), "{what} failed ({status:?}) without a message");
        }
        if !self.token_elsewhere {
            assert!(!message.contains(SECRET_TOKEN), "the token leaked into an error: {message}");
        }
        status
    }

    fn run(&mut self, op: &Op) {
        use tchat_status::TCHAT_OK;
        match op {
            Op::ClientOptionsNew => {
                if self.client_options.len() < 4 {
                    let o = tchat_client_options_new();
                    assert!(!o.is_null());
                    self.client_options.push(o);
                }
            }
            Op::ClientOptionsFree(s) => {
                let o = match pick(&self.client_options, *s) {
                    Some((i, _)) => self.client_options.swap_remove(i),
                    None => null_mut(),
                };
                tchat_client_options_free(o);
            }
            Op::SetBaseUrl(s, url) => {
                let o = ptr(&self.client_options, *s);
                let a = self.carg(url, false);
                self.check(tchat_client_options_set_base_url(o, a.ptr()), "set_base_url");
            }
            Op::SetToken(s, t) => {
                let o = ptr(&self.client_options, *s);
                let a = self.carg(t, true);
                self.check(tchat_client_options_set_token(o, a.ptr()), "set_token");
            }
            Op::SetBranch(s, b) => {
                let o = ptr(&self.client_options, *s);
                let a = self.carg(b, false);
                self.check(tchat_client_options_set_branch(o, a.ptr()), "set_branch");
            }
            Op::SetConnectTimeout(s, ms) => {
                let o = ptr(&self.client_options, *s);
                self.check(tchat_client_options_set_connect_timeout_ms(o, *ms), "set_connect_timeout");
            }
            Op::SetResponseTimeout(s, ms) => {
                let o = ptr(&self.client_options, *s);
                self.check(tchat_client_options_set_response_timeout_ms(o, *ms), "set_response_timeout");
            }
            Op::SetStallTimeout(s, ms) => {
                let o = ptr(&self.client_options, *s);
                self.check(tchat_client_options_set_stall_timeout_ms(o, *ms), "set_stall_timeout");
            }
            Op::SetReconnectLimit(s, ms) => {
                let o = ptr(&self.client_options, *s);
                self.check(tchat_client_options_set_reconnect_limit_ms(o, *ms), "set_reconnect_limit");
            }
            Op::SetIdleWatch(s, w) => {
                let o = ptr(&self.client_options, *s);
                self.check(tchat_client_options_set_idle_watch(o, *w), "set_idle_watch");
            }
            Op::SetLongPoll(s, secs) => {
                let o = ptr(&self.client_options, *s);
                let st = self.check(tchat_client_options_set_long_poll_seconds(o, *secs), "set_long_poll");
                if !o.is_null() {
                    assert_eq!(st == TCHAT_OK, (1..=600).contains(secs), "long poll {secs}");
                }
            }
            Op::SetRetry(s, n, base, max) => {
                let o = ptr(&self.client_options, *s);
                self.check(tchat_client_options_set_retry(o, *n, *base, *max), "set_retry");
            }
            Op::SetUserAgent(s, ua) => {
                let o = ptr(&self.client_options, *s);
                let a = self.carg(ua, false);
                self.check(tchat_client_options_set_user_agent(o, a.ptr()), "set_user_agent");
            }
            Op::AddRootCerts(s, pem, null_ptr) => {
                let o = ptr(&self.client_options, *s);
                let p = if *null_ptr { null() } else { pem.as_ptr() };
                let len = if *null_ptr { pem.len() % 3 } else { pem.len() };
                self.check(tchat_client_options_add_root_certs_pem(o, p, len), "add_root_certs_pem");
            }
            Op::SetSendObserver(s, with_callback, with_free) => {
                let o = ptr(&self.client_options, *s);
                let cb: tchat_send_observer_callback = with_callback.then_some(send_observer as _);
                let (ud, free): (*mut c_void, tchat_user_data_free_callback) = if *with_callback && *with_free {
                    (new_user_data(), Some(free_user_data))
                } else {
                    (null_mut(), None)
                };
                let st = self.check(tchat_client_options_set_send_observer(o, cb, ud, free), "set_send_observer");
                if st != TCHAT_OK && !ud.is_null() {
                    unsafe { free_user_data(ud) };
                }
            }
            Op::SetAllowInsecure(s, a) => {
                let o = ptr(&self.client_options, *s);
                self.check(tchat_client_options_set_allow_insecure_http(o, *a), "set_allow_insecure_http");
            }
            Op::SetTokenProvider(s, with_callback, with_free) => {
                let o = ptr(&self.client_options, *s);
                let cb: tchat_token_provider_callback = with_callback.then_some(token_provider as _);
                let (ud, free): (*mut c_void, tchat_user_data_free_callback) = if *with_callback && *with_free {
                    (new_user_data(), Some(free_user_data))
                } else {
                    (null_mut(), None)
                };
                let st = self.check(tchat_client_options_set_token_provider(o, cb, ud, free), "set_token_provider");
                if st != TCHAT_OK && !ud.is_null() {
                    // Not taken: still ours.
                    unsafe { free_user_data(ud) };
                }
            }
            Op::ClientNew(s, null_out) => {
                let o = ptr(&self.client_options, *s);
                let mut client: *mut tchat_client = null_mut();
                let out = if *null_out { null_mut() } else { &mut client as *mut _ };
                let st = self.check(tchat_client_new(o, out), "client_new");
                if st == TCHAT_OK {
                    assert!(!client.is_null());
                    self.clients.push(client);
                } else {
                    assert!(client.is_null(), "out_client written on failure");
                }
            }
            Op::ClientFree(s) => {
                let c = match pick(&self.clients, *s) {
                    Some((i, _)) => self.clients.swap_remove(i),
                    None => null_mut(),
                };
                tchat_client_free(c);
            }

            Op::ChatOptionsNew => {
                if self.chat_options.len() < 4 {
                    let o = tchat_chat_options_new();
                    assert!(!o.is_null());
                    self.chat_options.push((o, false));
                }
            }
            Op::ChatOptionsFree(s) => {
                let o = match pick(&self.chat_options, *s) {
                    Some((i, _)) => self.chat_options.swap_remove(i).0,
                    None => null_mut(),
                };
                tchat_chat_options_free(o);
            }
            Op::SetTaskId(s, t) => {
                let picked = pick(&self.chat_options, *s);
                let a = self.carg(t, false);
                let o = picked.map_or(null_mut(), |(_, (o, _))| o);
                if self.check(tchat_chat_options_set_task_id(o, a.ptr()), "set_task_id") == TCHAT_OK {
                    if let Some((i, _)) = picked {
                        self.chat_options[i].1 = true;
                    }
                }
            }
            Op::SetChatId(s, v) => self.chat_opt_str(*s, v, tchat_chat_options_set_chat_id, "set_chat_id"),
            Op::SetMetadata(s, v) => {
                self.chat_opt_str(*s, v, tchat_chat_options_set_metadata_json, "set_metadata_json")
            }
            Op::SetMachine(s, v) => self.chat_opt_str(*s, v, tchat_chat_options_set_machine, "set_machine"),
            Op::SetQueue(s, v) => self.chat_opt_str(*s, v, tchat_chat_options_set_queue, "set_queue"),
            Op::AddTag(s, v) => self.chat_opt_str(*s, v, tchat_chat_options_add_tag, "add_tag"),
            Op::SetTriggerConfig(s, v) => {
                self.chat_opt_str(*s, v, tchat_chat_options_set_trigger_config_json, "set_trigger_config_json")
            }
            Op::SetFirstMessage(s, v) => {
                self.chat_opt_str(*s, v, tchat_chat_options_set_first_message, "set_first_message")
            }
            Op::SetMaxAttempts(s, n) => {
                let o = pick(&self.chat_options, *s).map_or(null_mut(), |(_, (o, _))| o);
                self.check(tchat_chat_options_set_max_attempts(o, *n), "set_max_attempts");
            }
            Op::SetMaxDuration(s, n) => {
                let o = pick(&self.chat_options, *s).map_or(null_mut(), |(_, (o, _))| o);
                self.check(tchat_chat_options_set_max_duration_secs(o, *n), "set_max_duration_secs");
            }
            Op::SetIdleTimeout(s, n) => {
                let o = pick(&self.chat_options, *s).map_or(null_mut(), |(_, (o, _))| o);
                self.check(tchat_chat_options_set_idle_timeout_secs(o, *n), "set_idle_timeout_secs");
            }
            Op::ChatOpen(c, o, null_out) => {
                let client = ptr(&self.clients, *c);
                let (options, has_task) = pick(&self.chat_options, *o).map_or((null_mut(), false), |(_, v)| v);
                let mut chat: *mut tchat_chat = null_mut();
                let out: *mut *mut tchat_chat = if *null_out { null_mut() } else { &mut chat };
                // With a client, options with a task id and an out-param it would go to the network.
                if !client.is_null() && !options.is_null() && has_task && !out.is_null() {
                    return;
                }
                let st = self.check(tchat_chat_open(client, options, out), "chat_open");
                assert_eq!(st, tchat_status::TCHAT_INVALID_ARGUMENT);
                assert!(chat.is_null());
            }

            Op::Restore(c, state, null_out) => {
                if self.chats.len() >= 3 {
                    return;
                }
                let client = if c.0 % 8 == 7 { null_mut() } else { self.restore_client };
                let json = self.state_json(state);
                let json_ptr = json.as_ref().map_or(null(), |v| v.as_ptr().cast());
                let mut chat: *mut tchat_chat = null_mut();
                let out = if *null_out { null_mut() } else { &mut chat as *mut _ };
                let st = self.check(tchat_chat_restore(client, json_ptr, out), "chat_restore");
                if st == TCHAT_OK {
                    assert!(!chat.is_null());
                    assert!(!tchat_chat_is_turn_in_flight(chat));
                    self.chats.push(chat);
                } else {
                    assert!(chat.is_null());
                }
            }
            Op::ChatFree(s) => {
                let c = match pick(&self.chats, *s) {
                    Some((i, _)) => self.chats.swap_remove(i),
                    None => null_mut(),
                };
                self.check(tchat_chat_free(c), "chat_free");
            }
            Op::ChatGetters(s, null_out) => {
                let c = ptr(&self.chats, *s);
                self.getters(c, *null_out);
            }
            Op::ChatNextEvent(s, timeout, null_out) => {
                let c = ptr(&self.chats, *s);
                let mut ev: *mut tchat_event = null_mut();
                let out = if *null_out { null_mut() } else { &mut ev as *mut _ };
                // 0 or a negative timeout after a wake (else it would wait forever); never a
                // positive one, which would only sleep (no event can come).
                let timeout = match *timeout {
                    t if t < 0 => {
                        if c.is_null() {
                            -1
                        } else {
                            self.check(tchat_chat_wake(c), "chat_wake");
                            -1
                        }
                    }
                    _ => 0,
                };
                let st = self.check(tchat_chat_next_event(c, timeout, out), "chat_next_event");
                assert_ne!(st, TCHAT_OK, "an event without the network");
                assert!(ev.is_null());
            }
            Op::ChatWake(s) => {
                let c = ptr(&self.chats, *s);
                self.check(tchat_chat_wake(c), "chat_wake");
            }
            Op::ChatSetCallback(s, with_callback, with_free) => {
                let c = ptr(&self.chats, *s);
                let cb: tchat_event_callback = with_callback.then_some(event_callback as _);
                let (ud, free): (*mut c_void, tchat_user_data_free_callback) = if *with_callback && *with_free {
                    (new_user_data(), Some(free_user_data))
                } else {
                    (null_mut(), None)
                };
                let st = self.check(tchat_chat_set_callback(c, cb, ud, free), "chat_set_callback");
                if st != TCHAT_OK && !ud.is_null() {
                    unsafe { free_user_data(ud) };
                }
            }
            Op::ChatSaveRestore(s) => {
                let Some((_, chat)) = pick(&self.chats, *s) else { return };
                let client = self.restore_client;
                let first = save_state(chat);
                let mut again: *mut tchat_chat = null_mut();
                let c_first = std::ffi::CString::new(first.clone()).expect("saved state has no NUL");
                let st = self.check(tchat_chat_restore(client, c_first.as_ptr(), &mut again), "chat_restore (saved)");
                assert_eq!(st, TCHAT_OK, "a saved state does not restore: {}", last_error());
                let second = save_state(again);
                assert_eq!(first, second, "save_state is not a fixed point of restore");
                self.getters(again, false);
                self.check(tchat_chat_free(again), "chat_free");
            }
            Op::NullChat(a, b, flag) => {
                let a = self.carg(a, false);
                let b = self.carg(b, false);
                let n = null_mut();
                let inv = tchat_status::TCHAT_INVALID_ARGUMENT;
                let calls: [(tchat_status, &str); 14] = {
                    [
                        (tchat_chat_send_text(n, a.ptr()), "send_text"),
                        (tchat_chat_steer(n, a.ptr()), "steer"),
                        (tchat_chat_send_message_json(n, a.ptr()), "send_message_json"),
                        (tchat_chat_regenerate(n), "regenerate"),
                        (tchat_chat_send_action(n, a.ptr()), "send_action"),
                        (tchat_chat_approve(n, a.ptr(), *flag, b.ptr()), "approve"),
                        (tchat_chat_stop(n, a.ptr()), "stop"),
                        (tchat_chat_close_agent(n), "close_agent"),
                        (tchat_chat_close_session(n, a.ptr()), "close_session"),
                        (tchat_chat_wake(n), "wake"),
                        (tchat_chat_set_callback(n, None, null_mut(), None), "set_callback"),
                        (tchat_chat_restore(null(), a.ptr(), null_mut()), "restore"),
                        (tchat_chat_send_text_with_metadata(n, a.ptr(), b.ptr()), "send_text_with_metadata"),
                        (tchat_chat_reconnect_now(n), "reconnect_now"),
                    ]
                };
                for (st, what) in calls {
                    assert_eq!(st, inv, "{what} on NULL");
                }
                self.check(tchat_chat_send_text(n, a.ptr()), "send_text");
                assert!(tchat_chat_session_id(n).is_null());
                assert!(tchat_chat_chat_id(n).is_null());
                assert_eq!(tchat_chat_last_event_id(n), -1);
                assert!(!tchat_chat_is_turn_in_flight(n));
                assert_eq!(tchat_chat_free(n), TCHAT_OK);
            }
            Op::NullEvent(with_len, index) => null_event(*with_len, *index),

            Op::StatusStr(v) => {
                let s = unsafe { CStr::from_ptr(tchat_status_str(*v)) }.to_str().expect("UTF-8");
                assert!(!s.is_empty());
                if (0..=15).contains(v) {
                    assert!(s.starts_with("TCHAT_"), "{v}: {s}");
                } else {
                    assert_eq!(s, "unknown tchat_status");
                }
            }
            Op::EventKindName(v) => {
                let s = unsafe { CStr::from_ptr(tchat_event_kind_name(*v)) }.to_str().expect("UTF-8");
                assert!(!s.is_empty());
            }
            Op::StringFreeNull => tchat_string_free(null_mut()),
            Op::SetLogCallback(on, level) => {
                let cb: tchat_log_callback = on.then_some(log_callback as _);
                let st = self.check(tchat_set_log_callback(cb, null_mut(), None, *level), "set_log_callback");
                if *on {
                    assert_eq!(st == TCHAT_OK, (1..=4).contains(level));
                } else {
                    assert_eq!(st, TCHAT_OK);
                }
            }
        }
    }

    fn chat_opt_str(
        &mut self,
        s: Slot,
        v: &Str,
        f: unsafe extern "C" fn(*mut tchat_chat_options, *const c_char) -> tchat_status,
        what: &str,
    ) {
        let o = pick(&self.chat_options, s).map_or(null_mut(), |(_, (o, _))| o);
        let a = self.carg(v, false);
        self.check(unsafe { f(o, a.ptr()) }, what);
    }

    /// Every read-only accessor of a chat (NULL or live).
    fn getters(&self, c: *mut tchat_chat, null_out: bool) {
        for p in [tchat_chat_session_id(c), tchat_chat_chat_id(c)] {
            assert_eq!(p.is_null(), c.is_null());
            if !p.is_null() {
                unsafe { CStr::from_ptr(p) }.to_str().expect("ids are UTF-8");
            }
        }
        let _ = tchat_chat_last_event_id(c);
        let _ = tchat_chat_is_turn_in_flight(c);
        type Owned = unsafe extern "C" fn(*const tchat_chat, *mut *mut c_char) -> tchat_status;
        let owned: [(Owned, &str); 3] = [
            (tchat_chat_run_id, "run_id"),
            (tchat_chat_last_assistant_message, "last_assistant_message"),
            (tchat_chat_save_state, "save_state"),
        ];
        for (f, what) in owned {
            let mut s: *mut c_char = null_mut();
            let out = if null_out { null_mut() } else { &mut s as *mut _ };
            let st = self.check(unsafe { f(c, out) }, what);
            if st == tchat_status::TCHAT_OK {
                if !s.is_null() {
                    let text = unsafe { CStr::from_ptr(s) }.to_str().expect("UTF-8").to_owned();
                    if what != "run_id" {
                        serde_json::from_str::<Value>(&text).expect("JSON out-params are JSON");
                    }
                }
                tchat_string_free(s);
            } else {
                assert!(s.is_null());
                assert!(c.is_null() || null_out, "{what} failed on a live chat: {}", last_error());
            }
        }
    }
}

fn arg_text(bytes: &[u8]) -> String {
    let end = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
    String::from_utf8_lossy(&bytes[..end]).into_owned()
}

fn last_error() -> String {
    let p = tchat_last_error_message();
    assert!(!p.is_null());
    unsafe { CStr::from_ptr(p) }.to_str().expect("the last error is UTF-8").to_owned()
}

fn save_state(chat: *mut tchat_chat) -> String {
    let mut s: *mut c_char = null_mut();
    let st = tchat_chat_save_state(chat, &mut s);
    assert_eq!(st, tchat_status::TCHAT_OK);
    let text = unsafe { CStr::from_ptr(s) }.to_str().expect("UTF-8").to_owned();
    tchat_string_free(s);
    text
}

/// Every event accessor on NULL.
fn null_event(with_len: bool, index: usize) {
    let n = null();
    let mut len = 12345usize;
    let lp = if with_len { &mut len as *mut usize } else { null_mut() };
    {
        assert_eq!(tchat_event_get_kind(n), tchat_event_kind::None);
        assert!(tchat_event_chunk_type(n).is_null());
        assert!(tchat_event_chunk_json(n, lp).is_null());
        assert!(tchat_event_delta(n, lp).is_null());
        assert_eq!(tchat_event_seq_num(n), 0);
        assert!(tchat_event_message_json(n, lp).is_null());
        assert!(tchat_event_message_id(n).is_null());
        assert!(tchat_event_finish_reason(n).is_null());
        assert!(tchat_event_error_text(n).is_null());
        assert!(!tchat_event_stopped(n));
        assert!(!tchat_event_incomplete(n));
        assert_eq!(tchat_event_pending_approval_count(n), 0);
        assert!(tchat_event_pending_approval_id(n, index).is_null());
        assert_eq!(tchat_event_reconnect_attempt(n), 0);
        assert_eq!(tchat_event_reconnect_delay_ms(n), 0);
        assert!(tchat_event_reconnect_cause(n).is_null());
        assert_eq!(tchat_event_reconnect_http_status(n), 0);
        assert!(tchat_event_session_closed_reason(n).is_null());
        assert_eq!(tchat_event_error_status(n), tchat_status::TCHAT_OK);
        assert_eq!(tchat_event_error_http_status(n), 0);
        assert!(tchat_event_error_message(n).is_null());
        let mut out: *mut tchat_event = null_mut();
        assert_eq!(tchat_event_copy(n, &mut out), tchat_status::TCHAT_INVALID_ARGUMENT);
        assert!(out.is_null());
        tchat_event_free(null_mut());
    }
    assert_eq!(len, 12345, "out_len written for NULL");
}

thread_local! {
    static STARTED: RefCell<bool> = const { RefCell::new(false) };
}

fuzz_target!(|program: Program| {
    STARTED.with(|s| {
        if !*s.borrow() {
            *s.borrow_mut() = true;
            assert!(!tchat_version().is_null());
        }
    });
    LOG.lock().unwrap_or_else(|e| e.into_inner()).clear();
    let mut ctx = Ctx {
        restore_client: null_mut(),
        client_options: Vec::new(),
        clients: Vec::new(),
        chat_options: Vec::new(),
        chats: Vec::new(),
        token_elsewhere: false,
        ops_left: 64,
    };
    // A ready client (refused URL, tiny timeouts, one attempt) so restores are reachable at once.
    let o = tchat_client_options_new();
    {
        let url = std::ffi::CString::new(REFUSED_URL).unwrap();
        let token = std::ffi::CString::new(SECRET_TOKEN).unwrap();
        assert_eq!(tchat_client_options_set_base_url(o, url.as_ptr()), tchat_status::TCHAT_OK);
        assert_eq!(tchat_client_options_set_token(o, token.as_ptr()), tchat_status::TCHAT_OK);
        assert_eq!(tchat_client_options_set_connect_timeout_ms(o, 1), tchat_status::TCHAT_OK);
        assert_eq!(tchat_client_options_set_response_timeout_ms(o, 1), tchat_status::TCHAT_OK);
        assert_eq!(tchat_client_options_set_retry(o, 1, 1, 1), tchat_status::TCHAT_OK);
        let mut client = null_mut();
        assert_eq!(tchat_client_new(o, &mut client), tchat_status::TCHAT_OK);
        ctx.restore_client = client;
        // The same client, for the program's own calls (and to be freed by them).
        let mut another = null_mut();
        assert_eq!(tchat_client_new(o, &mut another), tchat_status::TCHAT_OK);
        ctx.clients.push(another);
    }
    ctx.client_options.push(o);

    for op in &program.ops {
        if ctx.ops_left == 0 {
            break;
        }
        ctx.ops_left -= 1;
        ctx.run(op);
    }

    // Free everything, in an order that leaves chats outliving their client.
    tchat_client_free(ctx.restore_client);
    for c in ctx.clients.drain(..) {
        tchat_client_free(c);
    }
    for c in ctx.chats.drain(..) {
        assert_eq!(tchat_chat_free(c), tchat_status::TCHAT_OK);
    }
    for o in ctx.client_options.drain(..) {
        tchat_client_options_free(o);
    }
    for (o, _) in ctx.chat_options.drain(..) {
        tchat_chat_options_free(o);
    }
    assert_eq!(LIVE_USER_DATA.load(Ordering::SeqCst), 0, "a user_data_free did not run");
    if !ctx.token_elsewhere {
        for m in LOG.lock().unwrap_or_else(|e| e.into_inner()).iter() {
            assert!(!m.contains(SECRET_TOKEN), "the token leaked into a log message: {m}");
        }
    }
});
