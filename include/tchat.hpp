/*
 * tchat.hpp — a header-only C++17 wrapper over the C API of tchat.h.
 *
 * Written by hand over the generated tchat.h; it adds no symbol of its own to libtchat (link with
 * -ltchat as for C). Everything lives in namespace `tchat`; the C enums (tchat_status,
 * tchat_event_kind, tchat_chunk_kind, tchat_request_op, tchat_log_level, tchat_send_event_kind) are
 * used as they are.
 *
 *     #include "tchat.hpp"
 *     tchat::client_options co;
 *     co.set_base_url("http://127.0.0.1:8030").set_token("tr_dev_tchat_local");
 *     tchat::client client(co);
 *     tchat::chat_options o;
 *     o.set_task_id("demo");
 *     tchat::chat chat = tchat::chat::open(client, o);
 *     chat.send_text("hello");
 *     while (auto r = chat.next_event(std::chrono::seconds(1))) {  // until no event for 1 s
 *         if (auto text = r.ev.text_delta()) std::cout << *text;
 *     }
 *
 * Ownership
 * - Every C object with a _free function has a move-only owning class here: client_options,
 *   client, chat_options, chat, event. The destructor frees the object; a moved-from (or
 *   default-constructed client/chat/event) handle is empty: `explicit operator bool` is false and
 *   get() is nullptr. Calling a status-returning member on an empty handle passes NULL to the C
 *   function, which answers TCHAT_INVALID_ARGUMENT: it throws tchat::error, it never crashes.
 *   Accessors on an empty handle return what the C accessor returns for NULL (nullopt, 0, false).
 * - get() lends the C pointer (the handle keeps owning it); release() gives ownership up to the
 *   caller; chat::adopt / client::adopt / event(tchat_event *) take ownership of a C pointer.
 * - event_view is a non-owning view of a borrowed `const tchat_event *` (the event a callback
 *   receives): valid only until the callback returns; event_view::copy() makes an owned event.
 * - Strings out: accessors return std::string_view, or std::optional<std::string_view> where the C
 *   accessor may return NULL. A view borrows the object's memory and lives exactly as long as the
 *   C pointer would: an event's strings until that C event is freed (for an `event`, until the
 *   handle that owns it — after a move, the one moved to — is destroyed or reset; for an
 *   event_view, until the callback returns); a chat's ids until the chat is freed. Copy a view
 *   into a std::string to keep it longer. Owned C strings (save_state, run_id,
 *   last_assistant_message) are copied into std::string and freed at once.
 * - Strings in: any `const char *` (NULL where the C API allows it), std::string or
 *   std::string_view (see string_arg). tchat copies every string it is given.
 * - The client may be destroyed while chats opened from it are alive (they keep what they need).
 *
 * Errors
 * - A status other than TCHAT_OK throws tchat::error (a std::runtime_error): status(), the HTTP
 *   status behind it (http_status(), 0 without one) and what(), the message of
 *   tchat_last_error_message() read right after the failing call (never a token).
 * - Statuses that are normal results are not exceptions: chat::next_event returns a
 *   next_event_result telling TCHAT_OK (an event), TCHAT_NO_EVENT and TCHAT_WOKEN apart.
 * - What the stream reports is an event, not an exception: error events (TCHAT_EVENT_KIND_ERROR)
 *   and the outcome of _async calls (TCHAT_EVENT_KIND_REQUEST_DONE, error_status()).
 * - A failure of tchat_chat_free in ~chat (TCHAT_INVALID_STATE inside the chat's own callback or
 *   on its reader thread, i.e. when the last handle of a chat dies there; or TCHAT_PANIC) cannot
 *   throw from a destructor: it is passed to the exception handler (set_exception_handler) and
 *   the chat is not freed (C frees nothing then). chat::reset() frees explicitly and throws.
 *
 * Threads (the rules of tchat.h, in C++ terms)
 * - const members of client and chat may be called from any thread, concurrently, while the
 *   object lives (the C functions take const pointers and serialize inside). Destroying, moving,
 *   assigning or reset()ing a handle must not race with any other use of it.
 * - client_options, chat_options and event are used from one thread at a time (an event may be
 *   moved to another thread as a whole).
 * - Each chat has a reader thread of its own, and from its first _async call a sender thread that
 *   makes those calls in order. The event callback runs on the reader thread — for
 *   TCHAT_EVENT_KIND_REQUEST_DONE events on the sender thread — one event at a time (never two
 *   calls at once), in stream order; no further event is read while it runs, so keep it short. It
 *   may call any member of its chat (send_text, the _async calls, stop, approve, set_callback,
 *   save_state...) except freeing it.
 * - The log callback runs on whichever thread logs, possibly several at once; it must not call
 *   set_log_callback. The token provider and the send observer: see their setters.
 *
 * Callbacks as std::function
 * - The std::function is moved to the heap and handed to tchat as user_data; tchat's
 *   user_data_free deletes it exactly once, when the library no longer needs it (possibly on the
 *   reader thread, or inside ~chat / set_callback). If installing fails, the wrapper deletes it
 *   itself and throws. An empty std::function removes the callback.
 * - An exception escaping a user's callback never crosses into the C library: the trampoline
 *   catches it (also one that is not derived from std::exception), passes it to the exception
 *   handler of set_exception_handler (none by default: it is dropped), and returns to tchat as if
 *   the callback had returned. For an event callback, that event is over for it and the chat goes
 *   on with the next one; a token provider that throws counts as "no new token"; a log or send
 *   observer call is just over.
 * - Do not let a callback own the chat it belongs to (capturing the last tchat::chat by value or
 *   in a shared_ptr): the chat would then be destroyed inside its own callback, which tchat
 *   refuses (see Errors).
 *
 * Blocking
 * - chat::open, chat::restore and every send (send_text, steer, send_message_json, regenerate,
 *   send_action, approve, stop, close_agent, close_session) block the calling thread for their
 *   HTTP round trips, bounded by the client's timeouts and retry policy
 *   (tchat_client_options_set_retry gives the worst case); client::cancel_calls() from another
 *   thread ends them early (they throw TCHAT_CANCELLED).
 * - Their _async variants (chat::open_async, send_text_async, ...) never block on the network:
 *   they queue the call on the chat's sender thread and return its request id; how it went
 *   arrives later as a TCHAT_EVENT_KIND_REQUEST_DONE event (request_id(), request_op(),
 *   error_status()), in order with the stream's events. A failed call is such an event, not an
 *   exception; only a call that cannot be queued (a bad argument) throws. A game's main thread
 *   uses these and polls with next_event(0ms).
 * - next_event waits up to its timeout (0: never, forever: until an event or wake()).
 * - set_callback is a barrier: it waits for a running call of the old callback to return (except
 *   from inside that callback). ~chat stops the reader thread and waits for it (promptly, even
 *   mid-read); _async calls not yet made are dropped, one in progress ends on its own (bounded by
 *   the client's timeouts), with no event. Everything else returns at once (no network).
 */
#ifndef TCHAT_HPP
#define TCHAT_HPP

#include <atomic>
#include <chrono>
#include <climits>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <exception>
#include <functional>
#include <memory>
#include <new>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "tchat.h"

namespace tchat {

// ---- errors -------------------------------------------------------------------------------------

// A failed tchat call: the tchat_status it returned, the HTTP status behind it (0 without one), and
// as what() the library's message (tchat_last_error_message() right after the call; never a token;
// the status's tchat_status_str() text when the library gave no message).
class error : public std::runtime_error {
public:
    error(tchat_status status, const std::string &message, int http_status = 0)
        : std::runtime_error(message.empty() ? std::string(tchat_status_str(static_cast<int>(status))) : message),
          status_(status),
          http_status_(http_status) {}

    tchat_status status() const noexcept { return status_; }
    int http_status() const noexcept { return http_status_; }

private:
    tchat_status status_;
    int http_status_;
};

// Where an exception that the wrapper could not throw to you was caught.
enum class origin {
    event_callback,   // an event callback (chat::set_callback, chat_options::set_callback, restore)
    log_callback,     // the log callback (set_log_callback)
    token_provider,   // a token provider (client_options::set_token_provider)
    send_observer,    // a send observer (client_options::set_send_observer)
    chat_destructor,  // ~chat: tchat_chat_free failed (a tchat::error; the chat was not freed)
};

// Receives those exceptions, on the thread that caught them (for callbacks: the thread the callback
// ran on, often a chat's reader thread). It must not throw (it is noexcept: throwing terminates).
using exception_handler = void (*)(std::exception_ptr exception, origin where) noexcept;

namespace detail {
inline std::atomic<exception_handler> g_exception_handler{nullptr};

inline void report(std::exception_ptr e, origin where) noexcept {
    if (exception_handler h = g_exception_handler.load()) h(std::move(e), where);
}

[[noreturn]] inline void throw_status(tchat_status s) {
    // Read at once: the next status-returning tchat call on this thread replaces the message.
    const char *message = tchat_last_error_message();
    int http = tchat_last_error_http_status();
    throw error(s, message ? std::string(message) : std::string(), http);
}

inline void check(tchat_status s) {
    if (s != TCHAT_OK) throw_status(s);
}

inline std::optional<std::string_view> opt_view(const char *p) noexcept {
    if (!p) return std::nullopt;
    return std::string_view(p);
}

inline std::optional<std::string_view> opt_view(const char *p, std::size_t len) noexcept {
    if (!p) return std::nullopt;
    return std::string_view(p, len);
}

struct string_free {
    void operator()(char *s) const noexcept { tchat_string_free(s); }
};

// An owned C string (free with tchat_string_free) copied into a std::string, or nullopt for NULL.
inline std::optional<std::string> take_string(char *s) {
    std::unique_ptr<char, string_free> owned(s);
    if (!owned) return std::nullopt;
    return std::string(owned.get());
}

inline int timeout_ms(std::chrono::milliseconds t) noexcept {
    if (t.count() < 0) return -1;
    if (t.count() > INT_MAX) return INT_MAX;
    return static_cast<int>(t.count());
}

// A std::function on the heap, handed to tchat as user_data; `release` is the user_data_free.
template <class F>
struct holder {
    F fn;
    static void release(void *user_data) noexcept { delete static_cast<holder *>(user_data); }
};
}  // namespace detail

// Installs the handler of exceptions escaping callbacks (and of ~chat failures); nullptr (the
// default) drops them. Returns the previous handler. Any thread.
inline exception_handler set_exception_handler(exception_handler handler) noexcept {
    return detail::g_exception_handler.exchange(handler);
}

// ---- strings in ---------------------------------------------------------------------------------

// A string argument: a `const char *` (NUL-terminated; nullptr passes NULL, which the C API
// accepts only where it says so, e.g. a stop reason, and otherwise answers
// TCHAT_INVALID_ARGUMENT), a std::string (no copy) or a std::string_view (copied to add the NUL).
// A std::string or std::string_view holding a NUL byte throws tchat::error(TCHAT_INVALID_ARGUMENT):
// the C API could not see past it. Only for parameters: it may point into its argument.
class string_arg {
public:
    string_arg(std::nullptr_t) noexcept {}
    string_arg(const char *s) noexcept : ptr_(s) {}
    string_arg(const std::string &s) : ptr_(s.c_str()) { check_no_nul(s.size()); }
    string_arg(std::string_view s) : copy_(s), ptr_(copy_.c_str()) { check_no_nul(copy_.size()); }
    string_arg(const string_arg &) = delete;
    string_arg &operator=(const string_arg &) = delete;

    const char *c_str() const noexcept { return ptr_; }

private:
    void check_no_nul(std::size_t size) const {
        if (std::strlen(ptr_) != size) throw error(TCHAT_INVALID_ARGUMENT, "a string passed to tchat contains a NUL byte");
    }

    std::string copy_;
    const char *ptr_ = nullptr;
};

// ---- small free functions -----------------------------------------------------------------------

// The library's version, e.g. "0.1.0" (static). TCHAT_VERSION_STRING is the header's.
inline std::string_view version() noexcept { return tchat_version(); }

// A static description of a status, e.g. "TCHAT_TIMEOUT: timed out".
inline std::string_view status_str(tchat_status status) noexcept { return tchat_status_str(static_cast<int>(status)); }

// A static name of an event kind, e.g. "chunk", "turn-complete".
inline std::string_view kind_name(tchat_event_kind kind) noexcept { return tchat_event_kind_name(static_cast<int>(kind)); }

// ---- events -------------------------------------------------------------------------------------

class event;

// The accessors of an event, shared by event (owned) and event_view (borrowed). Each returns what
// its C accessor returns (see tchat_event_kind for what each kind carries); nullopt where the C
// accessor returns NULL. Views live as long as the C event (see the overview). None blocks or
// throws.
template <class Derived>
class event_accessors {
public:
    tchat_event_kind kind() const noexcept { return tchat_event_get_kind(ev()); }
    std::string_view kind_name() const noexcept { return tchat_event_kind_name(static_cast<int>(kind())); }

    // TCHAT_EVENT_KIND_CHUNK
    tchat_chunk_kind chunk_kind() const noexcept { return tchat_event_chunk_kind(ev()); }
    std::optional<std::string_view> chunk_type() const noexcept { return detail::opt_view(tchat_event_chunk_type(ev())); }
    std::optional<std::string_view> chunk_json() const noexcept {
        // Asked only of a chunk (and message_json only of a turn-complete): in this libtchat both
        // C accessors share one cached field, so asking the other kind first would make the
        // right one answer NULL afterwards.
        if (kind() != TCHAT_EVENT_KIND_CHUNK) return std::nullopt;
        std::size_t len = 0;
        const char *p = tchat_event_chunk_json(ev(), &len);
        return detail::opt_view(p, len);
    }
    // The reply's text of a text-delta chunk (not reasoning); nullopt for every other event.
    std::optional<std::string_view> text_delta() const noexcept {
        std::size_t len = 0;
        const char *p = tchat_event_text_delta(ev(), &len);
        return detail::opt_view(p, len);
    }
    // The model's reasoning of a reasoning-delta chunk; nullopt for every other event.
    std::optional<std::string_view> reasoning_delta() const noexcept {
        std::size_t len = 0;
        const char *p = tchat_event_reasoning_delta(ev(), &len);
        return detail::opt_view(p, len);
    }
    // Either delta.
    std::optional<std::string_view> delta() const noexcept {
        std::size_t len = 0;
        const char *p = tchat_event_delta(ev(), &len);
        return detail::opt_view(p, len);
    }
    std::uint64_t seq_num() const noexcept { return tchat_event_seq_num(ev()); }

    // TCHAT_EVENT_KIND_TURN_COMPLETE
    std::optional<std::string_view> message_json() const noexcept {
        if (kind() != TCHAT_EVENT_KIND_TURN_COMPLETE) return std::nullopt;  // see chunk_json
        std::size_t len = 0;
        const char *p = tchat_event_message_json(ev(), &len);
        return detail::opt_view(p, len);
    }
    std::optional<std::string_view> message_id() const noexcept { return detail::opt_view(tchat_event_message_id(ev())); }
    std::optional<std::string_view> finish_reason() const noexcept {
        return detail::opt_view(tchat_event_finish_reason(ev()));
    }
    std::optional<std::string_view> error_text() const noexcept { return detail::opt_view(tchat_event_error_text(ev())); }
    bool stopped() const noexcept { return tchat_event_stopped(ev()); }
    bool incomplete() const noexcept { return tchat_event_incomplete(ev()); }
    std::size_t pending_approval_count() const noexcept { return tchat_event_pending_approval_count(ev()); }
    std::optional<std::string_view> pending_approval_id(std::size_t index) const noexcept {
        return detail::opt_view(tchat_event_pending_approval_id(ev(), index));
    }
    // All pending approval ids, in order (allocates the vector; the views borrow the event).
    std::vector<std::string_view> pending_approval_ids() const {
        std::vector<std::string_view> ids;
        std::size_t n = pending_approval_count();
        ids.reserve(n);
        for (std::size_t i = 0; i < n; i++) {
            if (auto id = pending_approval_id(i)) ids.push_back(*id);
        }
        return ids;
    }

    // TCHAT_EVENT_KIND_RECONNECTING / TCHAT_EVENT_KIND_CONNECTED
    std::uint32_t reconnect_attempt() const noexcept { return tchat_event_reconnect_attempt(ev()); }
    std::uint64_t reconnect_delay_ms() const noexcept { return tchat_event_reconnect_delay_ms(ev()); }
    std::optional<std::string_view> reconnect_cause() const noexcept {
        return detail::opt_view(tchat_event_reconnect_cause(ev()));
    }
    int reconnect_http_status() const noexcept { return tchat_event_reconnect_http_status(ev()); }

    // TCHAT_EVENT_KIND_SESSION_CLOSED
    std::optional<std::string_view> session_closed_reason() const noexcept {
        return detail::opt_view(tchat_event_session_closed_reason(ev()));
    }

    // TCHAT_EVENT_KIND_REQUEST_DONE: which _async call finished (its request id, as the call
    // returned it, and its op); error_status() is TCHAT_OK when it succeeded, else its failure
    // (with error_http_status() and error_message()). 0 / TCHAT_REQUEST_OP_NONE for other kinds.
    std::uint64_t request_id() const noexcept { return tchat_event_request_id(ev()); }
    tchat_request_op request_op() const noexcept { return tchat_event_request_op(ev()); }

    // TCHAT_EVENT_KIND_ERROR (and a failed TCHAT_EVENT_KIND_REQUEST_DONE): an error event is a
    // normal event here, not an exception.
    tchat_status error_status() const noexcept { return tchat_event_error_status(ev()); }
    int error_http_status() const noexcept { return tchat_event_error_http_status(ev()); }
    std::optional<std::string_view> error_message() const noexcept {
        return detail::opt_view(tchat_event_error_message(ev()));
    }

    // An owned copy (tchat_event_copy), e.g. to keep a callback's event after it returns or to hand
    // it to another thread. Throws tchat::error (TCHAT_INVALID_ARGUMENT for an empty event).
    event copy() const;

protected:
    ~event_accessors() = default;

private:
    const tchat_event *ev() const noexcept { return static_cast<const Derived &>(*this).get(); }
};

// A borrowed event: the `const tchat_event *` a callback receives. Owns nothing and frees nothing;
// valid only while the callback runs (copy() it to keep it). Cheap to copy (a pointer).
class event_view : public event_accessors<event_view> {
public:
    constexpr event_view() noexcept = default;
    constexpr explicit event_view(const tchat_event *ev) noexcept : ev_(ev) {}

    const tchat_event *get() const noexcept { return ev_; }
    explicit operator bool() const noexcept { return ev_ != nullptr; }

private:
    const tchat_event *ev_ = nullptr;
};

// An owned event (from chat::next_event or copy()), freed by the destructor. Move-only; a
// moved-from event is empty (kind() TCHAT_EVENT_KIND_NONE).
class event : public event_accessors<event> {
public:
    event() noexcept = default;
    // Takes ownership of `owned` (from tchat_chat_next_event or tchat_event_copy), or nullptr.
    explicit event(tchat_event *owned) noexcept : p_(owned) {}

    const tchat_event *get() const noexcept { return p_.get(); }
    explicit operator bool() const noexcept { return static_cast<bool>(p_); }
    // Gives ownership up: the caller frees it with tchat_event_free. The event is then empty.
    tchat_event *release() noexcept { return p_.release(); }
    void reset(tchat_event *owned = nullptr) noexcept { p_.reset(owned); }

    // A view of this event (valid while this event owns it).
    event_view view() const noexcept { return event_view(p_.get()); }
    operator event_view() const noexcept { return view(); }

private:
    struct deleter {
        void operator()(tchat_event *ev) const noexcept { tchat_event_free(ev); }
    };
    std::unique_ptr<tchat_event, deleter> p_;
};

template <class Derived>
event event_accessors<Derived>::copy() const {
    tchat_event *out = nullptr;
    detail::check(tchat_event_copy(ev(), &out));
    return event(out);
}

// An event callback: receives each event, borrowed (see event_view), on the chat's reader thread
// (TCHAT_EVENT_KIND_REQUEST_DONE events: on its sender thread), never two calls at once.
using event_callback = std::function<void(event_view ev)>;

namespace detail {
using event_holder = holder<event_callback>;

inline void event_trampoline(void *user_data, const tchat_event *ev) noexcept {
    try {
        static_cast<event_holder *>(user_data)->fn(event_view(ev));
    } catch (...) {
        report(std::current_exception(), origin::event_callback);
    }
}
}  // namespace detail

// ---- the client ---------------------------------------------------------------------------------

// What a token provider is asked: the chat id; it returns a fresh token, or nullopt when it has
// none. See client_options::set_token_provider.
using token_provider = std::function<std::optional<std::string>(std::string_view chat_id)>;

// One step of one send's life, borrowed for the call (its strings too). See tchat_send_event.
struct send_event {
    tchat_send_event_kind kind;
    std::string_view chat_id;
    std::optional<std::string_view> message_id;  // nullopt for sends without one (actions, regenerate)
    std::int64_t seq;                            // MESSAGE_SENT: the message's .in seq; -1 when unknown
    std::uint64_t elapsed_ms;                    // since the send call began
    tchat_status status;                         // SEND_FAILED: what the send returns (else TCHAT_OK)
    int http_status;                             // SEND_FAILED: its HTTP status, or 0
    std::optional<std::string_view> error_message;  // SEND_FAILED: its message
};

using send_observer = std::function<void(const send_event &ev)>;

namespace detail {
inline int token_trampoline(void *user_data, const char *chat_id, char *buf, std::size_t buf_len) noexcept {
    try {
        std::optional<std::string> token =
            static_cast<holder<token_provider> *>(user_data)->fn(chat_id ? std::string_view(chat_id) : std::string_view());
        if (!token || token->size() >= static_cast<std::size_t>(INT_MAX) || token->find('\0') != std::string::npos) {
            return -1;
        }
        if (buf && token->size() < buf_len) {
            std::memcpy(buf, token->data(), token->size());
            buf[token->size()] = '\0';
        }
        // When it does not fit, tchat calls again with a buffer large enough (the provider runs again).
        return static_cast<int>(token->size());
    } catch (...) {
        report(std::current_exception(), origin::token_provider);
        return -1;
    }
}

inline void send_observer_trampoline(void *user_data, const tchat_send_event *ev) noexcept {
    try {
        if (!ev) return;
        send_event e{ev->kind,
                      ev->chat_id ? std::string_view(ev->chat_id) : std::string_view(),
                      opt_view(ev->message_id),
                      ev->seq,
                      ev->elapsed_ms,
                      ev->status,
                      ev->http_status,
                      opt_view(ev->error_message)};
        static_cast<holder<send_observer> *>(user_data)->fn(e);
    } catch (...) {
        report(std::current_exception(), origin::send_observer);
    }
}
}  // namespace detail

// Settings for a client (a builder; one thread at a time). Default-constructed: a new options
// object with the defaults of tchat_client_options_new (base URL https://api.trigger.dev; the
// token is required). Each setter copies its argument, throws tchat::error on a bad value
// (TCHAT_INVALID_ARGUMENT) and returns *this for chaining. The client keeps its own copy: the
// options may be destroyed right after creating it. None blocks.
class client_options {
public:
    client_options() : p_(tchat_client_options_new()) {
        if (!p_) throw std::bad_alloc();
    }

    tchat_client_options *get() const noexcept { return p_.get(); }
    explicit operator bool() const noexcept { return static_cast<bool>(p_); }
    tchat_client_options *release() noexcept { return p_.release(); }

    client_options &set_base_url(const string_arg &base_url) {
        detail::check(tchat_client_options_set_base_url(p_.get(), base_url.c_str()));
        return *this;
    }
    client_options &set_token(const string_arg &token) {
        detail::check(tchat_client_options_set_token(p_.get(), token.c_str()));
        return *this;
    }
    client_options &set_branch(const string_arg &branch) {
        detail::check(tchat_client_options_set_branch(p_.get(), branch.c_str()));
        return *this;
    }
    client_options &set_connect_timeout_ms(std::uint64_t ms) {
        detail::check(tchat_client_options_set_connect_timeout_ms(p_.get(), ms));
        return *this;
    }
    client_options &set_response_timeout_ms(std::uint64_t ms) {
        detail::check(tchat_client_options_set_response_timeout_ms(p_.get(), ms));
        return *this;
    }
    client_options &set_stall_timeout_ms(std::uint64_t ms) {
        detail::check(tchat_client_options_set_stall_timeout_ms(p_.get(), ms));
        return *this;
    }
    client_options &set_reconnect_limit_ms(std::uint64_t ms) {
        detail::check(tchat_client_options_set_reconnect_limit_ms(p_.get(), ms));
        return *this;
    }
    client_options &set_idle_watch(bool watch) {
        detail::check(tchat_client_options_set_idle_watch(p_.get(), watch));
        return *this;
    }
    client_options &set_long_poll_seconds(std::uint32_t seconds) {
        detail::check(tchat_client_options_set_long_poll_seconds(p_.get(), seconds));
        return *this;
    }
    client_options &set_retry(std::uint32_t max_attempts, std::uint64_t base_delay_ms, std::uint64_t max_delay_ms) {
        detail::check(tchat_client_options_set_retry(p_.get(), max_attempts, base_delay_ms, max_delay_ms));
        return *this;
    }
    client_options &set_user_agent(const string_arg &user_agent) {
        detail::check(tchat_client_options_set_user_agent(p_.get(), user_agent.c_str()));
        return *this;
    }
    // PEM text (one or more certificates; no NUL needed); calls accumulate.
    client_options &add_root_certs_pem(std::string_view pem) {
        detail::check(tchat_client_options_add_root_certs_pem(
            p_.get(), reinterpret_cast<const std::uint8_t *>(pem.data()), pem.size()));
        return *this;
    }
    client_options &set_replace_root_certs(bool replace) {
        detail::check(tchat_client_options_set_replace_root_certs(p_.get(), replace));
        return *this;
    }
    client_options &set_keep_warm_ms(std::uint64_t ms) {
        detail::check(tchat_client_options_set_keep_warm_ms(p_.get(), ms));
        return *this;
    }
    client_options &set_allow_insecure_http(bool allow) {
        detail::check(tchat_client_options_set_allow_insecure_http(p_.get(), allow));
        return *this;
    }

    // Asked once for a fresh token when the server answers 401/403: called with the chat id on
    // whichever thread made the failing request (often a chat's reader thread, sometimes a send's
    // thread; possibly several at once), so it must be thread-safe. Return the token, or nullopt
    // when there is none (also what a throw, a token over INT_MAX bytes or one holding a NUL
    // byte count as; tchat then tries the client's own token, as it does without a provider). It
    // must not destroy the chat or the client it works for. A token longer
    // than tchat's first buffer makes tchat call it a second time. The std::function is destroyed
    // when neither these options nor any client or chat made from them need it any more (possibly
    // on a reader thread, or inside ~chat / ~client). An empty std::function removes the provider.
    client_options &set_token_provider(token_provider provider) {
        if (!provider) {
            detail::check(tchat_client_options_set_token_provider(p_.get(), nullptr, nullptr, nullptr));
            return *this;
        }
        auto h = std::make_unique<detail::holder<token_provider>>(detail::holder<token_provider>{std::move(provider)});
        detail::check(tchat_client_options_set_token_provider(p_.get(), detail::token_trampoline, h.get(),
                                                              detail::holder<token_provider>::release));
        (void)h.release();  // tchat owns it now and frees it exactly once
        return *this;
    }

    // Told of every send's life on the client's chats, for telemetry: MESSAGE_SENT and SEND_FAILED
    // on the thread that called the send, FIRST_CHUNK and TURN_COMPLETED on the chat's reader
    // thread. Must return quickly and must not destroy the chat or the client. Destroyed as the
    // token provider is. An empty std::function removes the observer.
    client_options &set_send_observer(send_observer observer) {
        if (!observer) {
            detail::check(tchat_client_options_set_send_observer(p_.get(), nullptr, nullptr, nullptr));
            return *this;
        }
        auto h = std::make_unique<detail::holder<send_observer>>(detail::holder<send_observer>{std::move(observer)});
        detail::check(tchat_client_options_set_send_observer(p_.get(), detail::send_observer_trampoline, h.get(),
                                                             detail::holder<send_observer>::release));
        (void)h.release();
        return *this;
    }

private:
    struct deleter {
        void operator()(tchat_client_options *o) const noexcept { tchat_client_options_free(o); }
    };
    std::unique_ptr<tchat_client_options, deleter> p_;
};

// New connections a client opened so far (see tchat_client_connection_stats).
struct connection_stats {
    std::uint64_t connections = 0;
    std::uint64_t full_handshakes = 0;
    std::uint64_t resumed_handshakes = 0;
};

// A connection to one Trigger.dev environment, shared by many chats; its const members may be
// used from any number of threads at once. Move-only; default-constructed or moved-from: empty.
class client {
public:
    client() noexcept = default;
    // Creates a client from `options` (copied). Checks the settings (token present, URL, ranges);
    // makes no network request, so it does not block. Throws tchat::error (e.g.
    // TCHAT_INVALID_ARGUMENT without a token).
    explicit client(const client_options &options) {
        tchat_client *out = nullptr;
        detail::check(tchat_client_new(options.get(), &out));
        p_.reset(out);
    }
    // Takes ownership of a client from tchat_client_new.
    static client adopt(tchat_client *owned) noexcept {
        client c;
        c.p_.reset(owned);
        return c;
    }

    tchat_client *get() const noexcept { return p_.get(); }
    explicit operator bool() const noexcept { return static_cast<bool>(p_); }
    tchat_client *release() noexcept { return p_.release(); }

    // Connections opened so far, over all its chats. Any thread; does not block.
    connection_stats stats() const {
        connection_stats s;
        detail::check(tchat_client_connection_stats(p_.get(), &s.connections, &s.full_handshakes, &s.resumed_handshakes));
        return s;
    }

    // Cancels every blocking call in progress on this client (chat::open / restore blocked on the
    // network, and the sends of its chats, also the running _async one): they end with
    // TCHAT_CANCELLED at once (a blocking call throws it; an _async one reports it in its
    // request-done event). Later calls are not affected, nor the streams. A cancelled send may
    // still have reached the server. Any thread (e.g. a UI thread while a worker is blocked);
    // never blocks.
    void cancel_calls() const { detail::check(tchat_client_cancel_calls(p_.get())); }

private:
    struct deleter {
        // Chats opened from the client stay usable after it is freed.
        void operator()(tchat_client *c) const noexcept { tchat_client_free(c); }
    };
    std::unique_ptr<tchat_client, deleter> p_;
};

// ---- chats --------------------------------------------------------------------------------------

// How to open a chat (a builder; one thread at a time). Default-constructed: a new options object
// (tchat_chat_options_new); set at least the task id. Setters copy, throw tchat::error on a bad
// value and return *this. Chats keep their own copy. None blocks.
class chat_options {
public:
    chat_options() : p_(tchat_chat_options_new()) {
        if (!p_) throw std::bad_alloc();
    }

    tchat_chat_options *get() const noexcept { return p_.get(); }
    explicit operator bool() const noexcept { return static_cast<bool>(p_); }
    tchat_chat_options *release() noexcept { return p_.release(); }

    chat_options &set_task_id(const string_arg &task_id) {
        detail::check(tchat_chat_options_set_task_id(p_.get(), task_id.c_str()));
        return *this;
    }
    chat_options &set_watch(bool watch) {
        detail::check(tchat_chat_options_set_watch(p_.get(), watch));
        return *this;
    }
    chat_options &set_chat_id(const string_arg &chat_id) {
        detail::check(tchat_chat_options_set_chat_id(p_.get(), chat_id.c_str()));
        return *this;
    }
    chat_options &set_metadata_json(const string_arg &metadata_json) {
        detail::check(tchat_chat_options_set_metadata_json(p_.get(), metadata_json.c_str()));
        return *this;
    }
    chat_options &set_machine(const string_arg &machine) {
        detail::check(tchat_chat_options_set_machine(p_.get(), machine.c_str()));
        return *this;
    }
    chat_options &set_queue(const string_arg &queue) {
        detail::check(tchat_chat_options_set_queue(p_.get(), queue.c_str()));
        return *this;
    }
    chat_options &add_tag(const string_arg &tag) {
        detail::check(tchat_chat_options_add_tag(p_.get(), tag.c_str()));
        return *this;
    }
    chat_options &set_max_attempts(std::uint32_t max_attempts) {
        detail::check(tchat_chat_options_set_max_attempts(p_.get(), max_attempts));
        return *this;
    }
    chat_options &set_max_duration_secs(std::uint64_t seconds) {
        detail::check(tchat_chat_options_set_max_duration_secs(p_.get(), seconds));
        return *this;
    }
    chat_options &set_idle_timeout_secs(std::uint64_t seconds) {
        detail::check(tchat_chat_options_set_idle_timeout_secs(p_.get(), seconds));
        return *this;
    }
    chat_options &set_trigger_config_json(const string_arg &trigger_config_json) {
        detail::check(tchat_chat_options_set_trigger_config_json(p_.get(), trigger_config_json.c_str()));
        return *this;
    }
    chat_options &set_first_message(const string_arg &text) {
        detail::check(tchat_chat_options_set_first_message(p_.get(), text.c_str()));
        return *this;
    }

    // The event callback of every chat opened with these options, from its first event (nothing
    // lands in the poll queue). The same std::function serves every such chat: it runs on each
    // chat's reader thread, so possibly on several threads at once when several chats were opened.
    // It is destroyed when neither these options nor any of those chats use it any more (possibly
    // on a reader thread or inside ~chat). An empty std::function removes it.
    chat_options &set_callback(event_callback callback) {
        if (!callback) {
            detail::check(tchat_chat_options_set_callback(p_.get(), nullptr, nullptr, nullptr));
            return *this;
        }
        auto h = std::make_unique<detail::event_holder>(detail::event_holder{std::move(callback)});
        detail::check(
            tchat_chat_options_set_callback(p_.get(), detail::event_trampoline, h.get(), detail::event_holder::release));
        (void)h.release();
        return *this;
    }

private:
    struct deleter {
        void operator()(tchat_chat_options *o) const noexcept { tchat_chat_options_free(o); }
    };
    std::unique_ptr<tchat_chat_options, deleter> p_;
};

// Wait without limit in chat::next_event.
inline constexpr std::chrono::milliseconds forever{-1};

// What chat::next_event got: an event (status TCHAT_OK, `ev` non-empty), or none: TCHAT_NO_EVENT
// (nothing within the timeout: poll again) or TCHAT_WOKEN (chat::wake ended the wait). True when it
// holds an event: `while (auto r = chat.next_event(0ms)) use(r.ev);`.
struct next_event_result {
    tchat_status status = TCHAT_NO_EVENT;
    event ev;

    explicit operator bool() const noexcept { return status == TCHAT_OK; }
    bool woken() const noexcept { return status == TCHAT_WOKEN; }
};

// One conversation. Move-only; default-constructed or moved-from: empty. The destructor frees the
// chat (tchat_chat_free): it stops the stream and waits for the reader thread, so no callback runs
// once it returns, then destroys the event callback's std::function; the session stays open on the
// server. All const members may be called from any thread, concurrently, and from inside the
// chat's own event callback.
class chat {
public:
    chat() noexcept = default;

    // Opens a conversation: creates the session (idempotent on the chat id) and starts the agent's
    // run. Blocks for the HTTP round trips. Events start at once: to the options' callback if it
    // has one, else to the poll queue (next_event) until set_callback.
    [[nodiscard]] static chat open(const client &c, const chat_options &options) {
        tchat_chat *out = nullptr;
        detail::check(tchat_chat_open(c.get(), options.get(), &out));
        return adopt(out);
    }

    // open() without waiting for the network (for a game loop or a UI thread): the options are
    // checked now (throws TCHAT_INVALID_ARGUMENT), then the chat is returned at once and the
    // session is created on its sender thread. A TCHAT_EVENT_KIND_REQUEST_DONE event with
    // request_op() TCHAT_REQUEST_OP_OPEN (request 1) tells how it went, to the options' callback
    // or through next_event. Until then _async calls may be made (they run after the open, and
    // fail with its error if it failed), blocking calls and save_state() throw
    // TCHAT_INVALID_STATE, and session_id() is nullopt. After a failed open every call fails with
    // the open's error. Destroying the chat while it opens abandons the open (no event).
    [[nodiscard]] static chat open_async(const client &c, const chat_options &options) {
        tchat_chat *out = nullptr;
        detail::check(tchat_chat_open_async(c.get(), options.get(), &out));
        return adopt(out);
    }

    // Resumes a conversation from save_state()'s JSON; a turn that was streaming streams on
    // (without duplicates), on the reader thread. tchat.h counts it among the calls that may block
    // on the network (client::cancel_calls ends them): treat it as blocking. Throws
    // TCHAT_INVALID_ARGUMENT for JSON that is not a saved state.
    [[nodiscard]] static chat restore(const client &c, const string_arg &state_json) {
        tchat_chat *out = nullptr;
        detail::check(tchat_chat_restore(c.get(), state_json.c_str(), &out));
        return adopt(out);
    }

    // restore() with the event callback installed from the start (the rest of a turn saved
    // mid-stream goes to it too). An empty std::function is restore(). See set_callback for the
    // std::function's life.
    [[nodiscard]] static chat restore(const client &c, const string_arg &state_json, event_callback callback) {
        if (!callback) return restore(c, state_json);
        auto h = std::make_unique<detail::event_holder>(detail::event_holder{std::move(callback)});
        tchat_chat *out = nullptr;
        detail::check(tchat_chat_restore_with_callback(c.get(), state_json.c_str(), detail::event_trampoline, h.get(),
                                                       detail::event_holder::release, &out));
        (void)h.release();
        return adopt(out);
    }

    // Takes ownership of a chat from tchat_chat_open / tchat_chat_restore.
    static chat adopt(tchat_chat *owned) noexcept {
        chat c;
        c.p_.reset(owned);
        return c;
    }

    tchat_chat *get() const noexcept { return p_.get(); }
    explicit operator bool() const noexcept { return static_cast<bool>(p_); }
    tchat_chat *release() noexcept { return p_.release(); }

    // Frees the chat now, as the destructor does, but throws tchat::error if tchat_chat_free fails
    // (TCHAT_INVALID_STATE inside the chat's own callback or on its reader thread); the chat is
    // then kept, not freed.
    void reset() {
        if (!p_) return;
        tchat_status s = tchat_chat_free(p_.get());
        if (s != TCHAT_OK) detail::throw_status(s);
        (void)p_.release();  // freed above
    }

    // The session's id ("session_..."): valid until the chat is freed; nullopt for an empty handle
    // and for a chat of open_async until its open has succeeded.
    std::optional<std::string_view> session_id() const noexcept { return detail::opt_view(tchat_chat_session_id(p_.get())); }
    // The chat id (the session's external id): valid until the chat is freed; empty for an empty
    // handle.
    std::string_view chat_id() const noexcept { return view_or_empty(tchat_chat_chat_id(p_.get())); }

    // The current run id (copied), or nullopt when none is known.
    std::optional<std::string> run_id() const {
        char *out = nullptr;
        detail::check(tchat_chat_run_id(p_.get(), &out));
        return detail::take_string(out);
    }
    // The stream cursor (seq_num of the last record received), or nullopt before the first one.
    std::optional<std::uint64_t> last_event_id() const noexcept {
        std::int64_t id = tchat_chat_last_event_id(p_.get());
        if (id < 0) return std::nullopt;
        return static_cast<std::uint64_t>(id);
    }
    // Whether a turn is streaming or awaited (between a send and its turn-complete).
    bool is_turn_in_flight() const noexcept { return tchat_chat_is_turn_in_flight(p_.get()); }
    // The last complete assistant message (UIMessage JSON, copied), or nullopt before the first.
    std::optional<std::string> last_assistant_message() const {
        char *out = nullptr;
        detail::check(tchat_chat_last_assistant_message(p_.get(), &out));
        return detail::take_string(out);
    }
    // The conversation's state as JSON, for restore(). It holds the session's access token: store
    // it as you would store a password.
    std::string save_state() const {
        char *out = nullptr;
        detail::check(tchat_chat_save_state(p_.get(), &out));
        std::optional<std::string> s = detail::take_string(out);
        if (!s) throw error(TCHAT_PANIC, "tchat_chat_save_state returned TCHAT_OK without a state");
        return std::move(*s);
    }

    // Sends. Each blocks for its HTTP round trip and throws tchat::error on failure (e.g.
    // TCHAT_SESSION_CLOSED after a close, TCHAT_INVALID_ARGUMENT for bad JSON); the reply streams
    // as events. May be called from inside the event callback.
    void send_text(const string_arg &text) const { detail::check(tchat_chat_send_text(p_.get(), text.c_str())); }
    // With metadata (a JSON object) for this message only, merged over the chat's.
    void send_text(const string_arg &text, const string_arg &metadata_json) const {
        detail::check(tchat_chat_send_text_with_metadata(p_.get(), text.c_str(), metadata_json.c_str()));
    }
    void steer(const string_arg &text) const { detail::check(tchat_chat_steer(p_.get(), text.c_str())); }
    void send_message_json(const string_arg &message_json) const {
        detail::check(tchat_chat_send_message_json(p_.get(), message_json.c_str()));
    }
    void regenerate() const { detail::check(tchat_chat_regenerate(p_.get())); }
    void send_action(const string_arg &action_json) const {
        detail::check(tchat_chat_send_action(p_.get(), action_json.c_str()));
    }
    // TCHAT_INVALID_STATE when no such approval is pending.
    void approve(const string_arg &approval_id, bool approved, const string_arg &reason = nullptr) const {
        detail::check(tchat_chat_approve(p_.get(), approval_id.c_str(), approved, reason.c_str()));
    }
    void stop(const string_arg &reason = nullptr) const { detail::check(tchat_chat_stop(p_.get(), reason.c_str())); }
    void close_agent() const { detail::check(tchat_chat_close_agent(p_.get())); }
    // Closes the session for good (needs a secret API key); no event follows.
    void close_session(const string_arg &reason = nullptr) const {
        detail::check(tchat_chat_close_session(p_.get(), reason.c_str()));
    }

    // The sends, queued (see "Blocking" above): each returns at once with the call's request id
    // (1, 2, 3... per chat, in call order; open_async's open is 1); the call runs on the chat's
    // sender thread after the _async calls made before it, and its TCHAT_EVENT_KIND_REQUEST_DONE
    // event says how it went (a failure there is not an exception). Throws tchat::error only when
    // the call cannot be queued (TCHAT_INVALID_ARGUMENT: NULL, bad UTF-8, JSON that does not
    // parse; an empty handle). Safe on a game's main thread and inside the event callback.
    // Destroying the chat drops the queued calls not yet made, with no event.
    std::uint64_t send_text_async(const string_arg &text) const {
        std::uint64_t id = 0;
        detail::check(tchat_chat_send_text_async(p_.get(), text.c_str(), &id));
        return id;
    }
    std::uint64_t steer_async(const string_arg &text) const {
        std::uint64_t id = 0;
        detail::check(tchat_chat_steer_async(p_.get(), text.c_str(), &id));
        return id;
    }
    std::uint64_t send_message_json_async(const string_arg &message_json) const {
        std::uint64_t id = 0;
        detail::check(tchat_chat_send_message_json_async(p_.get(), message_json.c_str(), &id));
        return id;
    }
    std::uint64_t regenerate_async() const {
        std::uint64_t id = 0;
        detail::check(tchat_chat_regenerate_async(p_.get(), &id));
        return id;
    }
    std::uint64_t send_action_async(const string_arg &action_json) const {
        std::uint64_t id = 0;
        detail::check(tchat_chat_send_action_async(p_.get(), action_json.c_str(), &id));
        return id;
    }
    std::uint64_t approve_async(const string_arg &approval_id, bool approved, const string_arg &reason = nullptr) const {
        std::uint64_t id = 0;
        detail::check(tchat_chat_approve_async(p_.get(), approval_id.c_str(), approved, reason.c_str(), &id));
        return id;
    }
    // The turn's remaining chunks are skipped from when the stop is made on the sender thread.
    std::uint64_t stop_async(const string_arg &reason = nullptr) const {
        std::uint64_t id = 0;
        detail::check(tchat_chat_stop_async(p_.get(), reason.c_str(), &id));
        return id;
    }
    std::uint64_t close_agent_async() const {
        std::uint64_t id = 0;
        detail::check(tchat_chat_close_agent_async(p_.get(), &id));
        return id;
    }
    // Its done event is the last event of the chat it closed.
    std::uint64_t close_session_async(const string_arg &reason = nullptr) const {
        std::uint64_t id = 0;
        detail::check(tchat_chat_close_session_async(p_.get(), reason.c_str(), &id));
        return id;
    }

    // Delivers the events to `callback` instead of the poll queue (events already queued stay
    // there), on the reader thread (request-done events: on the sender thread), never two calls at
    // once; an empty std::function goes back to polling. A barrier: returns
    // once no call of the old callback runs any more (except when called from inside it: then at
    // once), and the old std::function is destroyed then — on this thread, or, when replaced from
    // inside the callback, on the reader thread right after it returns. The new one is destroyed
    // when replaced again or when the chat is freed.
    void set_callback(event_callback callback) const {
        if (!callback) {
            clear_callback();
            return;
        }
        auto h = std::make_unique<detail::event_holder>(detail::event_holder{std::move(callback)});
        detail::check(
            tchat_chat_set_callback(p_.get(), detail::event_trampoline, h.get(), detail::event_holder::release));
        (void)h.release();
    }
    void clear_callback() const { detail::check(tchat_chat_set_callback(p_.get(), nullptr, nullptr, nullptr)); }

    // Waits up to `timeout` for the next event (0: do not wait, for a game loop's frame; forever:
    // no limit). TCHAT_NO_EVENT and TCHAT_WOKEN are results, not exceptions; any other failure
    // throws tchat::error (stop polling then). With a callback installed it only answers
    // TCHAT_NO_EVENT or TCHAT_WOKEN.
    [[nodiscard]] next_event_result next_event(std::chrono::milliseconds timeout = forever) const {
        tchat_event *out = nullptr;
        tchat_status s = tchat_chat_next_event(p_.get(), detail::timeout_ms(timeout), &out);
        switch (s) {
        case TCHAT_OK:
            return next_event_result{s, event(out)};
        case TCHAT_NO_EVENT:
        case TCHAT_WOKEN:
            return next_event_result{s, event()};
        default:
            detail::throw_status(s);
        }
    }

    // Makes a waiting next_event (or the next one to wait) return TCHAT_WOKEN at once. Any thread.
    void wake() const { detail::check(tchat_chat_wake(p_.get())); }
    // Reconnects the stream at once (e.g. after a network change). Returns at once.
    void reconnect_now() const { detail::check(tchat_chat_reconnect_now(p_.get())); }

private:
    static std::string_view view_or_empty(const char *p) noexcept { return p ? std::string_view(p) : std::string_view(); }

    struct deleter {
        void operator()(tchat_chat *c) const noexcept {
            tchat_status s = tchat_chat_free(c);
            if (s == TCHAT_OK) return;
            // Not freed (C frees nothing on failure): tell the exception handler; never throw here.
            try {
                const char *message = tchat_last_error_message();
                detail::report(std::make_exception_ptr(error(s, message ? message : "", tchat_last_error_http_status())),
                               origin::chat_destructor);
            } catch (...) {
                detail::report(std::current_exception(), origin::chat_destructor);
            }
        }
    };
    std::unique_ptr<tchat_chat, deleter> p_;
};

// ---- logging ------------------------------------------------------------------------------------

// Receives the library's log messages (borrowed for the call; never a token).
using log_callback = std::function<void(tchat_log_level level, std::string_view message)>;

namespace detail {
using log_holder = holder<log_callback>;

inline void log_trampoline(void *user_data, tchat_log_level level, const char *message) noexcept {
    try {
        static_cast<log_holder *>(user_data)->fn(level, message ? std::string_view(message) : std::string_view());
    } catch (...) {
        report(std::current_exception(), origin::log_callback);
    }
}
}  // namespace detail

// Installs the process-wide log callback, for messages at `max_level` and more important (tchat
// never writes to stdout/stderr itself). It runs on whichever thread logs (often a chat's reader
// thread, possibly several threads at once), so it must be thread-safe; it must not call
// set_log_callback / clear_log_callback. When this returns, the previous callback is not running
// and its std::function has been destroyed (on this thread). The new one is destroyed when
// replaced or cleared: call clear_log_callback() before exit to release it. An empty std::function
// is clear_log_callback(). Throws tchat::error: TCHAT_INVALID_ARGUMENT for a bad level,
// TCHAT_INVALID_STATE from inside the log callback. Any thread; does not block otherwise.
inline void set_log_callback(log_callback callback, tchat_log_level max_level = TCHAT_LOG_LEVEL_INFO) {
    if (!callback) {
        detail::check(tchat_set_log_callback(nullptr, nullptr, nullptr, static_cast<int>(max_level)));
        return;
    }
    auto h = std::make_unique<detail::log_holder>(detail::log_holder{std::move(callback)});
    detail::check(
        tchat_set_log_callback(detail::log_trampoline, h.get(), detail::log_holder::release, static_cast<int>(max_level)));
    (void)h.release();
}

// Turns logging off (the default) and destroys the installed log callback, as set_log_callback
// describes.
inline void clear_log_callback() {
    detail::check(tchat_set_log_callback(nullptr, nullptr, nullptr, static_cast<int>(TCHAT_LOG_LEVEL_ERROR)));
}

}  // namespace tchat

#endif  // TCHAT_HPP
