//! `tchat_client` and its builder `tchat_client_options`.

use std::os::raw::{c_char, c_int, c_void};
use std::sync::Arc;

use super::{
    c_string, ffi_boundary, ffi_getter, free_box, millis, set_opt_out, tchat_status, to_box_ptr, try_bytes, try_mut,
    try_out, try_ref, try_str, Boxed, Castable, Fail, UserData, UserDataGuard,
};
use crate::client::Client;
use crate::config::{ClientConfig, RetryPolicy};

/// A connection to one Trigger.dev environment (base URL + token), shared by many chats.
///
/// Create with `tchat_client_new`, free with `tchat_client_free`. Thread safety: a client may be used
/// from any number of threads at once. Chats opened from a client keep what they need of it, so the
/// client may be freed while its chats are still open.
pub struct tchat_client {
    pub(crate) client: Client,
}

/// Settings for `tchat_client_new`: a builder. Create with `tchat_client_options_new`, set what you
/// need (the token is required), pass to `tchat_client_new`, then free with
/// `tchat_client_options_free` (the client keeps its own copy).
///
/// Thread safety: not shareable; use one options object from one thread at a time.
#[derive(Default)]
pub struct tchat_client_options {
    base_url: Option<String>,
    token: Option<crate::secret::Secret>,
    branch: Option<String>,
    connect_timeout_ms: Option<u64>,
    response_timeout_ms: Option<u64>,
    stall_timeout_ms: Option<u64>,
    long_poll_seconds: Option<u32>,
    retry: Option<RetryPolicy>,
    user_agent: Option<String>,
    root_certs_pem: Vec<u8>,
    replace_root_certs: bool,
    allow_insecure_http: bool,
    token_provider: Option<Arc<TokenProvider>>,
    send_observer: Option<Arc<SendObserver>>,
    idle_watch: bool,
    reconnect_limit_ms: Option<u64>,
    keep_warm_ms: Option<u64>,
}

impl Castable for tchat_client {
    type Ownership = Boxed;
}

impl Castable for tchat_client_options {
    type Ownership = Boxed;
}

impl Castable for tchat_send_event {
    type Ownership = super::Borrowed;
}

/// Asked for a fresh token when the server answers 401/403 (e.g. an expired public access token).
///
/// Called with the `user_data` given to `tchat_client_options_set_token_provider`, the chat id, and
/// a buffer of `buf_len` bytes. Write the token into `buf` as a NUL-terminated string, `snprintf`
/// style, and return its length without the NUL. If the token does not fit (return value
/// `>= buf_len`), the callback is called again with a buffer large enough. Return a negative value
/// when you have no new token.
///
/// Called on whichever thread made the failing request: often a chat's reader thread, sometimes the
/// thread of a send. It may be called from several threads at once. It must not free the chat or the
/// client it works for.
pub type tchat_token_provider_callback = Option<
    unsafe extern "C" fn(user_data: *mut c_void, chat_id: *const c_char, buf: *mut c_char, buf_len: usize) -> c_int,
>;

/// Frees the `user_data` of a callback: called exactly once, when the library no longer needs it.
pub type tchat_user_data_free_callback = Option<unsafe extern "C" fn(user_data: *mut c_void)>;

/// What a send observer is told: one step of one send's life (see
/// `tchat_client_options_set_send_observer`). Borrowed: valid only during the call; its strings too.
#[repr(C)]
pub struct tchat_send_event {
    pub kind: tchat_send_event_kind,
    /// The chat's id. Never NULL.
    pub chat_id: *const c_char,
    /// The sent message's id (a text message's generated id); NULL for sends without one (actions,
    /// regenerate).
    pub message_id: *const c_char,
    /// `TCHAT_SEND_EVENT_KIND_MESSAGE_SENT`: the message's `.in` seq; -1 when the server did not say.
    pub seq: i64,
    /// Milliseconds since the send call began.
    pub elapsed_ms: u64,
    /// `TCHAT_SEND_EVENT_KIND_SEND_FAILED`: the failure's status (what the call returns), its HTTP status
    /// (0 without one) and message (never a token). `TCHAT_OK`, 0 and NULL for the other kinds.
    pub status: tchat_status,
    pub http_status: c_int,
    pub error_message: *const c_char,
}

/// The steps of a send's life a send observer is told of.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum tchat_send_event_kind {
    /// The message is on the session's input (the append answered).
    MessageSent = 1,
    /// The first chunk of the turn the send started arrived.
    FirstChunk = 2,
    /// That turn's turn-complete arrived.
    TurnCompleted = 3,
    /// The send failed; the call returns the same status.
    SendFailed = 4,
}

/// Told of every send's life, for telemetry: called with the `user_data` given to
/// `tchat_client_options_set_send_observer` and a borrowed event. `TCHAT_SEND_EVENT_KIND_MESSAGE_SENT` and `_SEND_FAILED`
/// are called on the thread that called the send; `_FIRST_CHUNK` and `_TURN_COMPLETED` on the chat's
/// reader thread (so a fast agent's first chunk may be told before the message is). It must return
/// quickly and must not free the chat or the client.
pub type tchat_send_observer_callback =
    Option<unsafe extern "C" fn(user_data: *mut c_void, ev: *const tchat_send_event)>;

pub(crate) struct SendObserver {
    callback: unsafe extern "C" fn(*mut c_void, *const tchat_send_event),
    user_data: UserDataGuard,
}

impl SendObserver {
    fn call(&self, chat_id: &str, ev: &crate::SendEvent) {
        use crate::SendEvent as S;
        let chat_id = c_string(chat_id);
        let (kind, message_id, seq, elapsed, error) = match ev {
            S::MessageSent { message_id, seq, elapsed } => (
                tchat_send_event_kind::MessageSent,
                message_id,
                seq.and_then(|s| i64::try_from(s).ok()).unwrap_or(-1),
                elapsed,
                None,
            ),
            S::FirstChunk { message_id, elapsed } => (tchat_send_event_kind::FirstChunk, message_id, -1, elapsed, None),
            S::TurnCompleted { message_id, elapsed } => {
                (tchat_send_event_kind::TurnCompleted, message_id, -1, elapsed, None)
            }
            S::SendFailed { message_id, error, elapsed } => {
                (tchat_send_event_kind::SendFailed, message_id, -1, elapsed, Some(error))
            }
        };
        let message_id = message_id.as_deref().map(c_string);
        let error_message = error.map(|e| c_string(e.message()));
        let event = tchat_send_event {
            kind,
            chat_id: chat_id.as_ptr(),
            message_id: message_id.as_ref().map_or(std::ptr::null(), |m| m.as_ptr()),
            seq,
            elapsed_ms: u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX),
            status: error.map_or(tchat_status::TCHAT_OK, |e| tchat_status::from_kind(e.kind())),
            http_status: error.and_then(|e| e.status()).map_or(0, c_int::from),
            error_message: error_message.as_ref().map_or(std::ptr::null(), |m| m.as_ptr()),
        };
        // SAFETY: the application's callback with its own user_data and an event (and strings)
        // that live until it returns.
        unsafe { (self.callback)(self.user_data.user_data.0, &event) };
    }
}

pub(crate) struct TokenProvider {
    callback: unsafe extern "C" fn(*mut c_void, *const c_char, *mut c_char, usize) -> c_int,
    user_data: UserDataGuard,
}

impl TokenProvider {
    fn call(&self, chat_id: &str) -> Option<String> {
        let chat_id = c_string(chat_id);
        let mut buf = vec![0u8; 2048];
        for _ in 0..3 {
            buf.iter_mut().for_each(|b| *b = 0);
            // SAFETY: the application's callback, with its own user_data, a NUL-terminated chat id
            // and a writable buffer of `buf.len()` bytes.
            let n = unsafe {
                (self.callback)(self.user_data.user_data.0, chat_id.as_ptr(), buf.as_mut_ptr().cast(), buf.len())
            };
            let n = usize::try_from(n).ok()?;
            if n < buf.len() {
                let token = std::str::from_utf8(&buf[..n]).ok()?;
                return Some(token.to_owned()).filter(|t| !t.is_empty());
            }
            buf = vec![0u8; n.checked_add(1)?];
        }
        None
    }
}

impl tchat_client_options {
    fn to_config(&self) -> Result<ClientConfig, Fail> {
        let token =
            self.token.as_ref().ok_or_else(|| Fail::invalid("no token: call tchat_client_options_set_token first"))?;
        let mut config = ClientConfig::new(token.expose());
        if let Some(url) = &self.base_url {
            config = config.with_base_url(url.as_str());
        }
        if let Some(branch) = &self.branch {
            config = config.with_branch(branch.as_str());
        }
        if let Some(ms) = self.connect_timeout_ms {
            config = config.with_connect_timeout(millis(ms));
        }
        if let Some(ms) = self.response_timeout_ms {
            config = config.with_response_timeout(millis(ms));
        }
        if let Some(ms) = self.stall_timeout_ms {
            config = config.with_stall_timeout(millis(ms));
        }
        if let Some(s) = self.long_poll_seconds {
            config = config.with_long_poll(std::time::Duration::from_secs(u64::from(s)));
        }
        if let Some(retry) = &self.retry {
            config = config.with_retry(retry.clone());
        }
        if let Some(ua) = &self.user_agent {
            config = config.with_user_agent(ua.as_str());
        }
        if !self.root_certs_pem.is_empty() {
            config = config.with_extra_root_certs_pem(self.root_certs_pem.clone());
        }
        config = config.with_replace_root_certs(self.replace_root_certs);
        if let Some(ms) = self.keep_warm_ms {
            config = config.with_keep_warm(millis(ms));
        }
        config = config.with_insecure_http(self.allow_insecure_http);
        config = config.with_idle_watch(self.idle_watch);
        config = config.with_reconnect_limit(self.reconnect_limit_ms.map(millis));
        if let Some(observer) = &self.send_observer {
            let observer = observer.clone();
            config = config
                .with_send_observer(Arc::new(move |chat_id: &str, ev: &crate::SendEvent| observer.call(chat_id, ev)));
        }
        if let Some(provider) = &self.token_provider {
            let provider = provider.clone();
            config = config.with_token_provider(Arc::new(move |chat_id: &str| provider.call(chat_id)));
        }
        Ok(config)
    }
}

/// A new, empty options object (defaults: base URL `https://api.trigger.dev`, connect timeout 10 s,
/// response timeout 30 s, stall timeout 60 s, long-poll 120 s, 5 attempts per REST call). Never
/// NULL. Free it with `tchat_client_options_free`.
#[no_mangle]
pub extern "C" fn tchat_client_options_new() -> *mut tchat_client_options {
    ffi_getter!({ to_box_ptr(Default::default()) })
}

/// Frees an options object (NULL is ignored). Clients created from it are not affected.
#[no_mangle]
pub extern "C" fn tchat_client_options_free(options: *mut tchat_client_options) {
    ffi_getter!({ free_box(options) })
}

/// Sets the API's base URL, e.g. `"https://api.trigger.dev"` or `"http://127.0.0.1:8030"` (copied).
/// Plain `http://` is accepted only for loopback hosts unless
/// `tchat_client_options_set_allow_insecure_http` allows it; `tchat_client_new` checks the URL.
#[no_mangle]
pub extern "C" fn tchat_client_options_set_base_url(
    options: *mut tchat_client_options,
    base_url: *const c_char,
) -> tchat_status {
    ffi_boundary!({
        let options = try_mut(options, "options")?;
        options.base_url = Some(try_str(base_url, "base_url")?.to_owned());
        Ok(())
    })
}

/// Sets the token (required): a secret API key (`tr_dev_...`, `tr_prod_...`) or a JWT (copied).
/// The token never appears in error or log messages.
#[no_mangle]
pub extern "C" fn tchat_client_options_set_token(
    options: *mut tchat_client_options,
    token: *const c_char,
) -> tchat_status {
    ffi_boundary!({
        let options = try_mut(options, "options")?;
        let token = try_str(token, "token")?;
        if token.is_empty() {
            return Err(Fail::invalid("token is empty"));
        }
        options.token = Some(crate::secret::Secret::new(token));
        Ok(())
    })
}

/// Sets the preview branch, sent as `x-trigger-branch` (copied). Needed for preview-branch
/// environments only.
#[no_mangle]
pub extern "C" fn tchat_client_options_set_branch(
    options: *mut tchat_client_options,
    branch: *const c_char,
) -> tchat_status {
    ffi_boundary!({
        let options = try_mut(options, "options")?;
        options.branch = Some(try_str(branch, "branch")?.to_owned());
        Ok(())
    })
}

/// How long to wait for a TCP + TLS connection, in milliseconds (default 10000; must be > 0).
#[no_mangle]
pub extern "C" fn tchat_client_options_set_connect_timeout_ms(
    options: *mut tchat_client_options,
    timeout_ms: u64,
) -> tchat_status {
    ffi_boundary!({
        let options = try_mut(options, "options")?;
        options.connect_timeout_ms = Some(positive(timeout_ms, "timeout_ms")?);
        Ok(())
    })
}

/// How long to wait for response headers after sending a request, in milliseconds (default 30000;
/// must be > 0). Every REST call (create session, append, close, trigger, run status) has one
/// deadline of connect timeout + response timeout for all of it, headers and body: a server that
/// answers its headers and then a silent or trickling body is cut there, and the call retried.
#[no_mangle]
pub extern "C" fn tchat_client_options_set_response_timeout_ms(
    options: *mut tchat_client_options,
    timeout_ms: u64,
) -> tchat_status {
    ffi_boundary!({
        let options = try_mut(options, "options")?;
        options.response_timeout_ms = Some(positive(timeout_ms, "timeout_ms")?);
        Ok(())
    })
}

/// How long a chat's stream may go without a record while a turn is in flight before it is
/// considered dead and reconnected from its cursor, in milliseconds (default 60000; must be > 0).
/// Counted in records: pings, comments, unknown events and partial lines do not reset it, so a
/// stall is caught within this timeout plus the gap to the next byte; a connection that sends no
/// byte at all for this long (also an idle watch between turns) is dead too.
#[no_mangle]
pub extern "C" fn tchat_client_options_set_stall_timeout_ms(
    options: *mut tchat_client_options,
    timeout_ms: u64,
) -> tchat_status {
    ffi_boundary!({
        let options = try_mut(options, "options")?;
        options.stall_timeout_ms = Some(positive(timeout_ms, "timeout_ms")?);
        Ok(())
    })
}

/// How long a turn in flight may go without a working stream, reconnecting all along, before it
/// ends with a `TCHAT_EVENT_KIND_ERROR` event (status `TCHAT_NETWORK`, or `TCHAT_HTTP` with the last
/// status) instead of waiting on, in milliseconds; 0 (the default) waits for as long as it takes,
/// with one `TCHAT_EVENT_KIND_RECONNECTING` event per attempt and `TCHAT_EVENT_KIND_CONNECTED` when
/// the stream is back.
#[no_mangle]
pub extern "C" fn tchat_client_options_set_reconnect_limit_ms(
    options: *mut tchat_client_options,
    limit_ms: u64,
) -> tchat_status {
    ffi_boundary!({
        let options = try_mut(options, "options")?;
        options.reconnect_limit_ms = (limit_ms > 0).then_some(limit_ms);
        Ok(())
    })
}

/// Keep listening between turns (default false): the chat holds a long-poll on `.out` while idle
/// (one socket per chat, woken only by the server's pings; one `GET` of the session per window),
/// so that a session closed by someone else arrives as a `TCHAT_EVENT_KIND_SESSION_CLOSED` event
/// between turns too. Without it such a close is noticed at the next send
/// (`TCHAT_SESSION_CLOSED`). A send ends the watch and subscribes for its turn as usual.
#[no_mangle]
pub extern "C" fn tchat_client_options_set_idle_watch(options: *mut tchat_client_options, watch: bool) -> tchat_status {
    ffi_boundary!({
        let options = try_mut(options, "options")?;
        options.idle_watch = watch;
        Ok(())
    })
}

/// The long-poll window asked of the server for each stream request (`Timeout-Seconds`), 1..600
/// seconds (default 120). Other values are `TCHAT_INVALID_ARGUMENT`.
#[no_mangle]
pub extern "C" fn tchat_client_options_set_long_poll_seconds(
    options: *mut tchat_client_options,
    seconds: u32,
) -> tchat_status {
    ffi_boundary!({
        let options = try_mut(options, "options")?;
        crate::config::check_long_poll(std::time::Duration::from_secs(u64::from(seconds)))?;
        options.long_poll_seconds = Some(seconds);
        Ok(())
    })
}

/// The retry policy of REST calls (session creation, sends): `max_attempts` attempts in all
/// (>= 1; 1 = no retry), waiting `base_delay_ms` before the second, growing by 1.6x per attempt up
/// to `max_delay_ms`. Default: 5 attempts, 1000 ms, 30000 ms (as the official client).
///
/// Whatever the policy, a refused connection or a failed DNS lookup is tried twice in all, 100 ms
/// apart (nothing listens there: `tchat_chat_open` against a closed port fails in about 0.1 s with
/// `TCHAT_NETWORK`, not after the backoff).
///
/// So a blocking call returns within: `max_attempts` × (connect timeout + response timeout), plus
/// the waits between attempts (each `min(base_delay_ms × 1.6^(n-1), max_delay_ms)`, or a 429's
/// `x-ratelimit-reset`, capped at `max_delay_ms`) — with the defaults 5 × 40 s + 1 + 1.6 + 2.56 +
/// 4.1 s ≈ 209 s for one REST call. `tchat_chat_open` makes one or two such calls (create the
/// session; with client-managed runs also trigger the run; a reopened chat reads `.out`'s
/// records); a send makes one append (client-managed runs: also a run check), after waiting up to
/// connect + response timeout for its stream to connect.
#[no_mangle]
pub extern "C" fn tchat_client_options_set_retry(
    options: *mut tchat_client_options,
    max_attempts: u32,
    base_delay_ms: u64,
    max_delay_ms: u64,
) -> tchat_status {
    ffi_boundary!({
        let options = try_mut(options, "options")?;
        let retry = RetryPolicy {
            max_attempts,
            base_delay: millis(base_delay_ms),
            max_delay: millis(max_delay_ms),
            ..RetryPolicy::default()
        };
        crate::config::check_retry(&retry)?;
        options.retry = Some(retry);
        Ok(())
    })
}

/// The `User-Agent` header (copied; default `"tchat/<version>"`).
#[no_mangle]
pub extern "C" fn tchat_client_options_set_user_agent(
    options: *mut tchat_client_options,
    user_agent: *const c_char,
) -> tchat_status {
    ffi_boundary!({
        let options = try_mut(options, "options")?;
        options.user_agent = Some(try_str(user_agent, "user_agent")?.to_owned());
        Ok(())
    })
}

/// Adds root certificates (PEM text, one or more certificates; `len` bytes at `pem`, no NUL needed)
/// trusted besides the built-in web PKI roots, e.g. a company proxy's CA. Copied; calls accumulate.
#[no_mangle]
pub extern "C" fn tchat_client_options_add_root_certs_pem(
    options: *mut tchat_client_options,
    pem: *const u8,
    len: usize,
) -> tchat_status {
    ffi_boundary!({
        let options = try_mut(options, "options")?;
        let pem = try_bytes(pem, len, "pem")?;
        if pem.is_empty() {
            return Err(Fail::invalid("pem is empty"));
        }
        options.root_certs_pem.extend_from_slice(pem);
        if !options.root_certs_pem.ends_with(b"\n") {
            options.root_certs_pem.push(b'\n');
        }
        Ok(())
    })
}

/// Trust only the certificates of `tchat_client_options_add_root_certs_pem`, not the built-in web
/// PKI roots (default false), e.g. for a private deployment whose CA is the only one to trust.
/// `tchat_client_new` then fails with `TCHAT_INVALID_ARGUMENT` when no certificate was added.
#[no_mangle]
pub extern "C" fn tchat_client_options_set_replace_root_certs(
    options: *mut tchat_client_options,
    replace: bool,
) -> tchat_status {
    ffi_boundary!({
        let options = try_mut(options, "options")?;
        options.replace_root_certs = replace;
        Ok(())
    })
}

/// How long, in milliseconds, a chat's `.out` connection stays open after a turn ends, ready for
/// the next turn (default 120000; 0 closes it at every turn's end). While warm, the next send only
/// appends its message (one round trip) and the reply streams on the open connection: no new
/// connection, TLS handshake or request before the first token. Cost per warm chat: one socket
/// and its buffers, and a wakeup of the chat's reader thread per server ping. Turns other clients
/// drive on the chat meanwhile are skipped; a close by someone else arrives as
/// `TCHAT_EVENT_KIND_SESSION_CLOSED`. A warm connection that fails is not reopened: the next send
/// opens one as usual.
#[no_mangle]
pub extern "C" fn tchat_client_options_set_keep_warm_ms(
    options: *mut tchat_client_options,
    keep_warm_ms: u64,
) -> tchat_status {
    ffi_boundary!({
        let options = try_mut(options, "options")?;
        options.keep_warm_ms = Some(keep_warm_ms);
        Ok(())
    })
}

/// Allows plain `http://` to hosts other than loopback (default false: tokens would travel in the
/// clear). Loopback (`127.0.0.1`, `::1`, `localhost`) is always allowed.
#[no_mangle]
pub extern "C" fn tchat_client_options_set_allow_insecure_http(
    options: *mut tchat_client_options,
    allow: bool,
) -> tchat_status {
    ffi_boundary!({
        let options = try_mut(options, "options")?;
        options.allow_insecure_http = allow;
        Ok(())
    })
}

/// Installs a token provider, asked once for a fresh token when the server answers 401/403 (see
/// `tchat_token_provider_callback` for the calling convention and threads). `callback` NULL removes
/// it (then `user_data` and `user_data_free` are ignored).
///
/// `user_data` is passed to every call. `user_data_free` (may be NULL) is called exactly once with
/// `user_data` when the library no longer needs it: when the provider is replaced on this options
/// object or the options object is freed, and no client or chat created with it is left (so
/// possibly on a chat's reader thread, or inside `tchat_chat_free`/`tchat_client_free`). If this
/// call fails, `user_data_free` is not called.
#[no_mangle]
pub extern "C" fn tchat_client_options_set_token_provider(
    options: *mut tchat_client_options,
    callback: tchat_token_provider_callback,
    user_data: *mut c_void,
    user_data_free: tchat_user_data_free_callback,
) -> tchat_status {
    ffi_boundary!({
        let options = try_mut(options, "options")?;
        options.token_provider = callback.map(|callback| {
            Arc::new(TokenProvider {
                callback,
                user_data: UserDataGuard { user_data: UserData(user_data), free: user_data_free },
            })
        });
        Ok(())
    })
}

/// Installs a send observer: told of every send's life on the client's chats, for telemetry (see
/// `tchat_send_observer_callback` for what and on which thread). `callback` NULL removes it (then
/// `user_data` and `user_data_free` are ignored). `user_data_free` (may be NULL) is called exactly
/// once, when no options object, client or chat holds the observer any more; not if this call fails.
#[no_mangle]
pub extern "C" fn tchat_client_options_set_send_observer(
    options: *mut tchat_client_options,
    callback: tchat_send_observer_callback,
    user_data: *mut c_void,
    user_data_free: tchat_user_data_free_callback,
) -> tchat_status {
    ffi_boundary!({
        let options = try_mut(options, "options")?;
        options.send_observer = callback.map(|callback| {
            Arc::new(SendObserver {
                callback,
                user_data: UserDataGuard { user_data: UserData(user_data), free: user_data_free },
            })
        });
        Ok(())
    })
}

/// Creates a client from `options` (which are copied: free them whenever you like). Checks the
/// settings (token present, URL scheme and host, long-poll range); makes no network request.
///
/// On success writes a new client to `*out_client`; free it with `tchat_client_free`. On failure
/// `*out_client` is untouched.
#[no_mangle]
pub extern "C" fn tchat_client_new(
    options: *const tchat_client_options,
    out_client: *mut *mut tchat_client,
) -> tchat_status {
    ffi_boundary!({
        let options = try_ref(options, "options")?;
        let out = try_out(out_client, "out_client")?;
        let client = Client::new(options.to_config()?)?;
        out.set(to_box_ptr(tchat_client { client }));
        Ok(())
    })
}

/// New connections a client has opened so far, over all its chats and calls: TCP connections, and
/// of those the TLS handshakes that authenticated the server in full and those that resumed an
/// earlier session. What a turn costs beyond its requests: with a warm chat (see
/// `tchat_client_options_set_keep_warm_ms`), nothing. Each out pointer may be NULL. Any thread.
#[no_mangle]
pub extern "C" fn tchat_client_connection_stats(
    client: *const tchat_client,
    out_connections: *mut u64,
    out_full_handshakes: *mut u64,
    out_resumed_handshakes: *mut u64,
) -> tchat_status {
    ffi_boundary!({
        let client = try_ref(client, "client")?;
        let stats = client.client.connection_stats();
        for (out, value) in [
            (out_connections, stats.connections),
            (out_full_handshakes, stats.full_handshakes),
            (out_resumed_handshakes, stats.resumed_handshakes),
        ] {
            set_opt_out(out, value);
        }
        Ok(())
    })
}

/// Cancels every blocking call in progress on this client: a `tchat_chat_open` blocked on the
/// network, and the sends of every chat opened or restored from it (also the `_async` one running on
/// a chat's sender thread, whose done event then says `TCHAT_CANCELLED`), return `TCHAT_CANCELLED` at
/// once — their connection is
/// closed, a retry delay under way is cut short. Calls that start afterwards are not affected.
/// Streams are not touched. A cancelled send may still have reached the server (an append cut after
/// the server stored it). Any thread, e.g. a UI thread while a worker thread is blocked; never
/// blocks.
#[no_mangle]
pub extern "C" fn tchat_client_cancel_calls(client: *const tchat_client) -> tchat_status {
    ffi_boundary!({
        try_ref(client, "client")?.client.cancel_calls();
        Ok(())
    })
}

/// Frees a client (NULL is ignored). Chats opened from it stay usable; the connection settings are
/// released when the last of them is freed too. Any thread, but not while another thread is using the
/// same client pointer.
#[no_mangle]
pub extern "C" fn tchat_client_free(client: *mut tchat_client) {
    ffi_getter!({ free_box(client) })
}

fn positive(ms: u64, name: &str) -> Result<u64, Fail> {
    if ms == 0 {
        Err(Fail::invalid(format!("{name} must be > 0")))
    } else {
        Ok(ms)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    static CALLS: AtomicUsize = AtomicUsize::new(0);
    static FREES: AtomicUsize = AtomicUsize::new(0);

    /// Answers with a 3000-byte token, snprintf style (so the first 2048-byte buffer is too small).
    unsafe extern "C" fn long_token(_: *mut c_void, chat_id: *const c_char, buf: *mut c_char, len: usize) -> c_int {
        CALLS.fetch_add(1, Ordering::SeqCst);
        // SAFETY: the library passes a NUL-terminated chat id.
        assert_eq!(unsafe { std::ffi::CStr::from_ptr(chat_id) }.to_str().unwrap(), "chat-1");
        let token = vec![b'j'; 3000];
        let n = token.len().min(len.saturating_sub(1));
        // SAFETY: `buf` holds `len` bytes and `n < len`.
        unsafe {
            std::ptr::copy_nonoverlapping(token.as_ptr(), buf.cast::<u8>(), n);
            *buf.add(n) = 0;
        }
        3000
    }

    unsafe extern "C" fn no_token(_: *mut c_void, _: *const c_char, _: *mut c_char, _: usize) -> c_int {
        -1
    }

    unsafe extern "C" fn count_free(_: *mut c_void) {
        FREES.fetch_add(1, Ordering::SeqCst);
    }

    #[test]
    fn token_provider_grows_the_buffer_and_frees_user_data_once() {
        let provider = TokenProvider {
            callback: long_token,
            user_data: UserDataGuard { user_data: UserData(std::ptr::null_mut()), free: Some(count_free) },
        };
        assert_eq!(provider.call("chat-1").map(|t| t.len()), Some(3000));
        assert_eq!(CALLS.load(Ordering::SeqCst), 2);
        drop(provider);
        assert_eq!(FREES.load(Ordering::SeqCst), 1);

        let none = TokenProvider {
            callback: no_token,
            user_data: UserDataGuard { user_data: UserData(std::ptr::null_mut()), free: None },
        };
        assert_eq!(none.call("chat-1"), None);
    }

    #[test]
    fn options_need_a_token() {
        let options = tchat_client_options::default();
        let err = options.to_config().expect_err("no token");
        assert_eq!(err.status, tchat_status::TCHAT_INVALID_ARGUMENT);
    }
}
