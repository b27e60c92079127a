// The C++17 wrapper (include/tchat.hpp) against the devserver (TRIGGER_API_URL, TRIGGER_SECRET_KEY:
// run through tests/c/run.sh; make test-c runs it under valgrind): errors as exceptions with the C
// status and message, a turn by polling, a turn through a std::function callback (also set on the
// chat options, and calling the chat from inside), move semantics, exceptions thrown by callbacks,
// save/restore (also mid-turn with a callback), the log callback, the token provider and the send
// observer. Every wait is on an event or a condition, bounded by T_TURN.
//
// Prints "N passed, N failed" as its last line and exits non-zero on failure.
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "tchat.hpp"

using namespace std::chrono_literals;

namespace {

// ---- a tiny harness -----------------------------------------------------------------------------

std::mutex g_lock;
int g_passed = 0;
int g_failed = 0;

void record(bool ok, const char *file, int line, const std::string &what) {
    std::lock_guard<std::mutex> guard(g_lock);
    if (ok) {
        g_passed++;
    } else {
        g_failed++;
        std::fprintf(stderr, "FAIL %s:%d: %s\n", file, line, what.c_str());
    }
}

#define CHECK(cond) record((cond), __FILE__, __LINE__, #cond)
#define CHECK_EQ(a, b) check_eq((a), (b), __FILE__, __LINE__, #a " == " #b)

template <class A, class B>
void check_eq(const A &a, const B &b, const char *file, int line, const char *what) {
    bool ok = a == b;
    std::string msg = what;
    if constexpr (std::is_convertible_v<A, std::string_view> && std::is_convertible_v<B, std::string_view>) {
        if (!ok) msg += ": \"" + std::string(std::string_view(a)) + "\" vs \"" + std::string(std::string_view(b)) + "\"";
    }
    record(ok, file, line, msg);
}

bool contains(std::string_view haystack, std::string_view needle) { return haystack.find(needle) != std::string_view::npos; }
bool contains(const char *haystack, std::string_view needle) { return contains(std::string_view(haystack), needle); }
bool contains(const std::string &haystack, std::string_view needle) { return contains(std::string_view(haystack), needle); }
bool contains(const std::optional<std::string_view> &haystack, std::string_view needle) {
    return haystack && contains(*haystack, needle);
}
bool starts_with(std::string_view s, std::string_view prefix) { return s.substr(0, prefix.size()) == prefix; }

// EXPECT_ERROR(statement, status): the statement throws tchat::error with that status; gives the
// error (for more checks) or nullopt.
template <class F>
std::optional<tchat::error> expect_error(F f, tchat_status expected, const char *file, int line, const char *what) {
    try {
        f();
    } catch (const tchat::error &e) {
        bool ok = e.status() == expected;
        record(ok, file, line,
               std::string(what) + (ok ? "" : std::string(": threw ") + std::string(tchat::status_str(e.status())) + " (" +
                                                  e.what() + "), expected " + std::string(tchat::status_str(expected))));
        return e;
    } catch (const std::exception &e) {
        record(false, file, line, std::string(what) + ": threw a non-tchat exception: " + e.what());
        return std::nullopt;
    }
    record(false, file, line, std::string(what) + ": did not throw, expected " + std::string(tchat::status_str(expected)));
    return std::nullopt;
}
#define EXPECT_ERROR(stmt, status) expect_error([&] { stmt; }, (status), __FILE__, __LINE__, #stmt)

void section(const char *name) {
    std::printf("== %s\n", name);
    std::fflush(stdout);
}

// Generous: the tests also run under valgrind, many times slower.
constexpr auto T_TURN = 60s;

std::string env(const char *name, const char *fallback) {
    const char *v = std::getenv(name);
    return v && *v ? v : fallback;
}

std::string unique_id(const char *prefix) {
    static std::atomic<int> n{0};
    auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch());
    return std::string(prefix) + "-" + std::to_string(ms.count()) + "-" + std::to_string(n++);
}

const std::string g_url = env("TRIGGER_API_URL", "");
const std::string g_key = env("TRIGGER_SECRET_KEY", "tr_dev_tchat_local");

tchat::client_options base_options(const std::string &key = g_key) {
    tchat::client_options o;
    o.set_base_url(g_url).set_token(key).set_retry(2, 50, 200);
    return o;
}

tchat::client make_client(const std::string &key = g_key) { return tchat::client(base_options(key)); }

tchat::chat open_demo(const tchat::client &client, const char *first_message = nullptr) {
    tchat::chat_options o;
    o.set_task_id("demo");
    if (first_message) o.set_first_message(first_message);
    return tchat::chat::open(client, o);
}

// ---- one turn, as a user collects it ------------------------------------------------------------

struct turn {
    std::string text;  // the text deltas, concatenated
    int chunks = 0;
    int deltas = 0;
    int errors = 0;
    bool complete = false;
    bool stopped = false;
    bool seq_decreased = false;
    std::uint64_t last_seq = 0;
    std::size_t approvals = 0;
    std::string approval;
    std::string message_json;
    std::string message_id;
    std::string finish_reason;
    struct request {
        std::uint64_t id;
        tchat_request_op op;
        tchat_status status;
        std::string message;
    };
    std::vector<request> requests;  // TCHAT_EVENT_KIND_REQUEST_DONE events

    void add(tchat::event_view ev) {
        switch (ev.kind()) {
        case TCHAT_EVENT_KIND_REQUEST_DONE:
            requests.push_back({ev.request_id(), ev.request_op(), ev.error_status(),
                                std::string(ev.error_message().value_or(""))});
            break;
        case TCHAT_EVENT_KIND_CHUNK:
            if (chunks > 0 && ev.seq_num() <= last_seq) seq_decreased = true;
            last_seq = ev.seq_num();
            chunks++;
            if (auto t = ev.text_delta()) {
                deltas++;
                text += *t;
            }
            break;
        case TCHAT_EVENT_KIND_TURN_COMPLETE:
            complete = true;
            stopped = ev.stopped();
            approvals = ev.pending_approval_count();
            if (auto id = ev.pending_approval_id(0)) approval = std::string(*id);
            message_json = std::string(ev.message_json().value_or(""));
            message_id = std::string(ev.message_id().value_or(""));
            finish_reason = std::string(ev.finish_reason().value_or(""));
            break;
        case TCHAT_EVENT_KIND_ERROR:
            errors++;
            std::fprintf(stderr, "error event: %s (%s)\n", std::string(ev.error_message().value_or("")).c_str(),
                         std::string(tchat::status_str(ev.error_status())).c_str());
            break;
        default:
            break;
        }
    }
};

// Polls until the turn completes (or an error event, or T_TURN).
bool poll_turn(const tchat::chat &chat, turn &t) {
    auto deadline = std::chrono::steady_clock::now() + T_TURN;
    while (!t.complete && t.errors == 0 && std::chrono::steady_clock::now() < deadline) {
        tchat::next_event_result r = chat.next_event(100ms);
        if (r) t.add(r.ev);
    }
    return t.complete;
}

// A turn collected by a callback, on the reader thread.
struct sink {
    std::mutex lock;
    std::condition_variable cv;
    turn t;
    int calls = 0;
    std::thread::id reader;
    tchat::event kept;  // an owned copy of the first chunk, kept past the callback

    void add(tchat::event_view ev) {
        std::lock_guard<std::mutex> guard(lock);
        calls++;
        reader = std::this_thread::get_id();
        if (!kept && ev.kind() == TCHAT_EVENT_KIND_CHUNK) kept = ev.copy();
        t.add(ev);
        cv.notify_all();
    }
    // Waits until `pred(t)` (under the lock), at most T_TURN.
    template <class P>
    bool wait(P pred) {
        std::unique_lock<std::mutex> guard(lock);
        return cv.wait_for(guard, T_TURN, [&] { return pred(t); });
    }
    bool wait_complete() {
        return wait([](const turn &x) { return x.complete || x.errors > 0; }) && t.complete;
    }
    void reset_turn() {
        std::lock_guard<std::mutex> guard(lock);
        t = turn();
    }
};

// Observes when a callback's std::function is destroyed: capture `alive = life.take()` in it (the
// only strong reference), then destroyed() tells whether the std::function is gone.
struct lifetime {
    std::shared_ptr<int> alive = std::make_shared<int>(0);
    std::weak_ptr<int> watch = alive;
    std::shared_ptr<int> take() { return std::move(alive); }
    bool destroyed() const { return watch.expired(); }
};

// The exception handler's record.
struct caught_record {
    std::mutex lock;
    int count = 0;
    int std_exceptions = 0;
    int others = 0;
    tchat::origin last_origin = tchat::origin::chat_destructor;
    std::string last_what;
    int by_origin[5] = {0, 0, 0, 0, 0};
};
caught_record g_caught;
std::condition_variable g_caught_cv;

void record_exception(std::exception_ptr e, tchat::origin where) noexcept {
    std::lock_guard<std::mutex> guard(g_caught.lock);
    g_caught_cv.notify_all();
    g_caught.count++;
    g_caught.by_origin[static_cast<int>(where)]++;
    g_caught.last_origin = where;
    try {
        std::rethrow_exception(e);
    } catch (const std::exception &x) {
        g_caught.std_exceptions++;
        g_caught.last_what = x.what();
    } catch (...) {
        g_caught.others++;
        g_caught.last_what = "(not a std::exception)";
    }
}

int caught(tchat::origin where) {
    std::lock_guard<std::mutex> guard(g_caught.lock);
    return g_caught.by_origin[static_cast<int>(where)];
}

// ---- the tests ----------------------------------------------------------------------------------

void test_types() {
    section("handles are move-only RAII types");
    static_assert(!std::is_copy_constructible_v<tchat::client_options> && !std::is_copy_assignable_v<tchat::client_options>);
    static_assert(!std::is_copy_constructible_v<tchat::client> && !std::is_copy_assignable_v<tchat::client>);
    static_assert(!std::is_copy_constructible_v<tchat::chat_options> && !std::is_copy_assignable_v<tchat::chat_options>);
    static_assert(!std::is_copy_constructible_v<tchat::chat> && !std::is_copy_assignable_v<tchat::chat>);
    static_assert(!std::is_copy_constructible_v<tchat::event> && !std::is_copy_assignable_v<tchat::event>);
    static_assert(std::is_nothrow_move_constructible_v<tchat::client_options> &&
                  std::is_nothrow_move_assignable_v<tchat::client_options>);
    static_assert(std::is_nothrow_move_constructible_v<tchat::client> && std::is_nothrow_move_assignable_v<tchat::client>);
    static_assert(std::is_nothrow_move_constructible_v<tchat::chat_options> &&
                  std::is_nothrow_move_assignable_v<tchat::chat_options>);
    static_assert(std::is_nothrow_move_constructible_v<tchat::chat> && std::is_nothrow_move_assignable_v<tchat::chat>);
    static_assert(std::is_nothrow_move_constructible_v<tchat::event> && std::is_nothrow_move_assignable_v<tchat::event>);
    static_assert(std::is_trivially_copyable_v<tchat::event_view>);
    static_assert(std::is_base_of_v<std::runtime_error, tchat::error>);
    CHECK_EQ(tchat::version(), std::string_view(TCHAT_VERSION_STRING));
    CHECK_EQ(tchat::status_str(TCHAT_NO_EVENT), std::string_view("TCHAT_NO_EVENT: no event yet"));
    CHECK_EQ(tchat::kind_name(TCHAT_EVENT_KIND_TURN_COMPLETE), std::string_view("turn-complete"));
}

void test_errors() {
    section("errors are exceptions with the C status and message");
    // A client without a token: the same status and message as the C call.
    {
        tchat::client_options o;
        o.set_base_url(g_url);
        auto e = EXPECT_ERROR(tchat::client c(o), TCHAT_INVALID_ARGUMENT);
        tchat_client *raw = nullptr;
        CHECK_EQ(tchat_client_new(o.get(), &raw), TCHAT_INVALID_ARGUMENT);
        std::string c_message = tchat_last_error_message();
        CHECK(raw == nullptr);
        CHECK(!c_message.empty());
        if (e) {
            CHECK_EQ(std::string(e->what()), c_message);
            CHECK(contains(e->what(), "token"));
            CHECK_EQ(e->http_status(), 0);
        }
        // Catchable as std::runtime_error, and the message survives later tchat calls.
        try {
            tchat::client c(o);
            CHECK(false);
        } catch (const std::runtime_error &re) {
            o.set_token(g_key);  // a successful call: the C last error is "" now
            CHECK_EQ(std::string(tchat_last_error_message()), std::string());
            CHECK_EQ(std::string(re.what()), c_message);
        }
    }
    // Option setters.
    {
        tchat::client_options o;
        auto e = EXPECT_ERROR(o.set_long_poll_seconds(0), TCHAT_INVALID_ARGUMENT);
        CHECK(e && std::string_view(e->what()).size() > 0);
        e = EXPECT_ERROR(o.set_token("caf\xC3"), TCHAT_INVALID_ARGUMENT);
        CHECK(e && contains(e->what(), "UTF-8"));
        e = EXPECT_ERROR(o.set_token(std::string("tr_dev\0x", 8)), TCHAT_INVALID_ARGUMENT);
        CHECK(e && contains(e->what(), "NUL byte"));
        e = EXPECT_ERROR(o.set_token(std::string_view("tr\0x", 4)), TCHAT_INVALID_ARGUMENT);
        CHECK(e && contains(e->what(), "NUL byte"));
        EXPECT_ERROR(o.set_retry(0, 1, 1), TCHAT_INVALID_ARGUMENT);
        EXPECT_ERROR(o.set_token(nullptr), TCHAT_INVALID_ARGUMENT);
        // A std::string_view without a NUL is fine (copied to add one).
        std::string key_buffer = g_key + "-tail";
        o.set_token(std::string_view(key_buffer).substr(0, g_key.size())).set_base_url("ftp://example.com");
        e = EXPECT_ERROR(tchat::client c(o), TCHAT_INVALID_ARGUMENT);  // the URL is checked here
        CHECK(e && contains(e->what(), "ftp"));

        tchat::chat_options co;
        EXPECT_ERROR(co.set_metadata_json("{oops"), TCHAT_INVALID_ARGUMENT);
        EXPECT_ERROR(co.set_trigger_config_json("[1]"), TCHAT_INVALID_ARGUMENT);
        EXPECT_ERROR(co.set_chat_id("session_nope"), TCHAT_INVALID_ARGUMENT);
        EXPECT_ERROR(co.set_max_attempts(0), TCHAT_INVALID_ARGUMENT);
        // Opening without a task id.
        tchat::client client = make_client();
        e = EXPECT_ERROR(auto c = tchat::chat::open(client, co), TCHAT_INVALID_ARGUMENT);
        CHECK(e && contains(e->what(), "task"));
    }
    // Nothing listens there: TCHAT_NETWORK, fast, the message naming the URL.
    {
        tchat::client_options o;
        o.set_base_url("http://127.0.0.1:1").set_token("tr_dev_whatever").set_retry(1, 10, 10);
        tchat::client client(o);
        tchat::chat_options co;
        co.set_task_id("demo");
        auto e = EXPECT_ERROR(auto c = tchat::chat::open(client, co), TCHAT_NETWORK);
        if (e) {
            CHECK_EQ(std::string(e->what()), std::string("POST http://127.0.0.1:1/api/v1/sessions: connection refused"));
            CHECK(!contains(e->what(), "tr_dev_whatever"));
        }
    }
    // A wrong key: TCHAT_AUTH with the HTTP status, and the key never in the message.
    {
        tchat::client client = make_client("tr_dev_WRONG_KEY_must_not_leak");
        tchat::chat_options co;
        co.set_task_id("demo");
        auto e = EXPECT_ERROR(auto c = tchat::chat::open(client, co), TCHAT_AUTH);
        if (e) {
            CHECK(e->http_status() == 401 || e->http_status() == 403);
            CHECK(!contains(e->what(), "WRONG_KEY"));
            CHECK(std::string_view(e->what()).size() > 0);
        }
    }
    // Empty handles: status-returning members throw TCHAT_INVALID_ARGUMENT, accessors are empty.
    {
        tchat::chat empty;
        CHECK(!empty);
        CHECK(empty.get() == nullptr);
        EXPECT_ERROR(empty.send_text("x"), TCHAT_INVALID_ARGUMENT);
        EXPECT_ERROR(auto r = empty.next_event(0ms), TCHAT_INVALID_ARGUMENT);
        EXPECT_ERROR(empty.wake(), TCHAT_INVALID_ARGUMENT);
        EXPECT_ERROR(auto s = empty.save_state(), TCHAT_INVALID_ARGUMENT);
        CHECK(!empty.session_id());
        CHECK(empty.chat_id().empty());
        CHECK(!empty.last_event_id());
        CHECK(!empty.is_turn_in_flight());
        empty.reset();  // nothing to free
        tchat::event ev;
        CHECK(!ev);
        CHECK_EQ(ev.kind(), TCHAT_EVENT_KIND_NONE);
        CHECK(!ev.text_delta());
        EXPECT_ERROR(auto copy = ev.copy(), TCHAT_INVALID_ARGUMENT);
        tchat::client no_client;
        tchat::chat_options co;
        co.set_task_id("demo");
        EXPECT_ERROR(auto c = tchat::chat::open(no_client, co), TCHAT_INVALID_ARGUMENT);
    }
}

void test_poll_turn(const tchat::client &client) {
    section("a turn through next_event");
    std::string chat_id = unique_id("cxx-poll");
    tchat::chat_options o;
    o.set_task_id("demo").set_chat_id(chat_id).set_metadata_json(R"({"userId":"u1"})").set_first_message("hello there");
    tchat::chat chat = tchat::chat::open(client, o);
    CHECK(starts_with(chat.session_id().value_or(""), "session_"));
    CHECK_EQ(chat.chat_id(), std::string_view(chat_id));
    CHECK(chat.is_turn_in_flight());

    turn t;
    bool saw_text_chunk = false, saw_other_chunk = false;
    auto deadline = std::chrono::steady_clock::now() + T_TURN;
    while (!t.complete && t.errors == 0 && std::chrono::steady_clock::now() < deadline) {
        tchat::next_event_result r = chat.next_event(100ms);
        CHECK(r.status == TCHAT_OK || r.status == TCHAT_NO_EVENT);
        if (!r) {
            CHECK(!r.ev);
            continue;
        }
        CHECK(static_cast<bool>(r.ev));
        const tchat::event &ev = r.ev;
        if (ev.kind() == TCHAT_EVENT_KIND_CHUNK) {
            CHECK(!ev.message_json());
            CHECK(ev.chunk_json().has_value());
            if (ev.chunk_kind() == TCHAT_CHUNK_KIND_TEXT_DELTA && !saw_text_chunk) {
                saw_text_chunk = true;
                CHECK_EQ(ev.chunk_type().value_or(""), std::string_view("text-delta"));
                CHECK(contains(ev.chunk_json(), "\"text-delta\""));
                CHECK(ev.text_delta().has_value());
                CHECK_EQ(ev.delta().value_or(""), ev.text_delta().value_or("-"));
                CHECK(!ev.reasoning_delta());
                CHECK_EQ(ev.kind_name(), std::string_view("chunk"));
            } else if (ev.chunk_kind() != TCHAT_CHUNK_KIND_TEXT_DELTA && !saw_other_chunk) {
                saw_other_chunk = true;
                CHECK(!ev.text_delta());
            }
        }
        if (ev.kind() == TCHAT_EVENT_KIND_TURN_COMPLETE) {
            CHECK_EQ(ev.kind_name(), std::string_view("turn-complete"));
            CHECK(!ev.text_delta());
            CHECK(!ev.error_text());
            CHECK(!ev.incomplete());
            CHECK(ev.pending_approval_ids().empty());
        }
        t.add(ev);
    }
    CHECK(t.complete);
    CHECK(saw_text_chunk && saw_other_chunk);
    CHECK_EQ(t.text, std::string("You said: hello there"));
    CHECK_EQ(t.deltas, 4);  // "You", " said:", " hello", " there"
    CHECK(!t.stopped);
    CHECK(!t.seq_decreased);
    CHECK_EQ(t.finish_reason, std::string("stop"));
    CHECK(starts_with(t.message_id, "msg_"));
    CHECK(contains(t.message_json, "\"role\":\"assistant\""));
    CHECK(contains(t.message_json, "You said: hello there"));
    CHECK(chat.last_event_id().value_or(0) >= t.last_seq);
    CHECK(!chat.is_turn_in_flight());

    std::optional<std::string> run = chat.run_id();
    CHECK(run && starts_with(*run, "run_"));
    std::optional<std::string> last = chat.last_assistant_message();
    CHECK(last && contains(*last, "You said: hello there"));

    // Nothing more is coming: a non-blocking poll answers "no event"; a wake is a "woken" result.
    tchat::next_event_result r = chat.next_event(0ms);
    CHECK(!r);
    CHECK_EQ(r.status, TCHAT_NO_EVENT);
    CHECK(!r.woken());
    CHECK(!r.ev);
    auto t0 = std::chrono::steady_clock::now();
    r = chat.next_event(150ms);
    CHECK_EQ(r.status, TCHAT_NO_EVENT);
    CHECK(std::chrono::steady_clock::now() - t0 >= 140ms);
    chat.wake();  // the next wait returns at once
    r = chat.next_event(tchat::forever);
    CHECK(!r);
    CHECK(r.woken());
    CHECK_EQ(r.status, TCHAT_WOKEN);

    // A second turn, with per-message metadata.
    turn t2;
    chat.send_text("second turn", R"({"lang":"en"})");
    CHECK(poll_turn(chat, t2));
    CHECK_EQ(t2.text, std::string("You said: second turn"));
    // Bad JSON for a send is an exception, and the chat goes on.
    auto e = EXPECT_ERROR(chat.send_message_json("{oops"), TCHAT_INVALID_ARGUMENT);
    CHECK(e && std::string_view(e->what()).size() > 0);
    EXPECT_ERROR(chat.approve("approval_nope", true), TCHAT_INVALID_STATE);
    turn t3;
    chat.send_message_json(R"({"parts":[{"type":"text","text":"from json"}]})");
    CHECK(poll_turn(chat, t3));
    CHECK_EQ(t3.text, std::string("You said: from json"));
}

void test_callback_turn(const tchat::client &client) {
    section("a turn through a std::function callback");
    tchat::chat chat = open_demo(client);
    auto s = std::make_shared<sink>();
    lifetime life;
    chat.set_callback([s, alive = life.take()](tchat::event_view ev) { s->add(ev); });
    CHECK(!life.destroyed());
    chat.send_text("hello from C++");
    CHECK(s->wait_complete());
    {
        std::lock_guard<std::mutex> guard(s->lock);
        CHECK_EQ(s->t.text, std::string("You said: hello from C++"));
        CHECK(s->reader != std::this_thread::get_id());  // the reader thread
        // The owned copy outlives the callback's borrowed event.
        CHECK(static_cast<bool>(s->kept));
        CHECK_EQ(s->kept.kind(), TCHAT_EVENT_KIND_CHUNK);
        CHECK(s->kept.chunk_json().has_value());
    }
    // With a callback the poll queue stays empty.
    CHECK_EQ(chat.next_event(0ms).status, TCHAT_NO_EVENT);

    // Clearing is a barrier, and the std::function is destroyed before it returns.
    chat.clear_callback();
    CHECK(life.destroyed());
    int calls_then = 0;
    {
        std::lock_guard<std::mutex> guard(s->lock);
        calls_then = s->calls;
    }
    turn polled;
    chat.send_text("back to polling");
    CHECK(poll_turn(chat, polled));
    CHECK_EQ(polled.text, std::string("You said: back to polling"));
    {
        std::lock_guard<std::mutex> guard(s->lock);
        CHECK_EQ(s->calls, calls_then);
    }

    // Calling the chat from inside its callback: stop a slow reply after 3 deltas.
    section("the callback calls its chat: stop from inside");
    auto slow = std::make_shared<sink>();
    std::atomic<bool> stop_sent{false};
    std::atomic<int> stop_failed{0};
    chat.set_callback([&chat, slow, &stop_sent, &stop_failed](tchat::event_view ev) {
        slow->add(ev);
        bool enough;
        {
            std::lock_guard<std::mutex> guard(slow->lock);
            enough = slow->t.deltas >= 3;
        }
        if (enough && !stop_sent.exchange(true)) {
            try {
                chat.stop("enough");
            } catch (const tchat::error &) {
                stop_failed++;
            }
        }
    });
    chat.send_text("/slow 200");
    CHECK(slow->wait_complete());
    CHECK(stop_sent.load());
    CHECK_EQ(stop_failed.load(), 0);
    {
        std::lock_guard<std::mutex> guard(slow->lock);
        CHECK(slow->t.stopped);
        CHECK(slow->t.deltas >= 3 && slow->t.deltas < 200);
    }
    chat.set_callback(nullptr);  // an empty std::function: back to polling

    // A callback on the chat options: from the first event, nothing in the poll queue.
    section("a callback on the chat options");
    lifetime opt_life;
    auto first = std::make_shared<sink>();
    tchat::chat from_start;
    {
        tchat::chat_options o;
        o.set_task_id("demo").set_first_message("from the options");
        o.set_callback([first, alive = opt_life.take()](tchat::event_view ev) { first->add(ev); });
        from_start = tchat::chat::open(client, o);
    }
    CHECK(!opt_life.destroyed());  // the options are gone, the chat still uses it
    CHECK(first->wait_complete());
    {
        std::lock_guard<std::mutex> guard(first->lock);
        CHECK_EQ(first->t.text, std::string("You said: from the options"));
        CHECK(first->t.chunks > 0);
    }
    CHECK_EQ(from_start.next_event(0ms).status, TCHAT_NO_EVENT);
    from_start = tchat::chat();  // move-assigning an empty chat frees the old one
    CHECK(opt_life.destroyed());
}

void test_move(const tchat::client &client) {
    section("move semantics: moved-from handles are empty, nothing freed twice");
    // Options.
    tchat::client_options a = base_options();
    tchat_client_options *raw_options = a.get();
    tchat::client_options b = std::move(a);
    CHECK(!a);
    CHECK(a.get() == nullptr);
    CHECK(b.get() == raw_options);
    EXPECT_ERROR(a.set_token("x"), TCHAT_INVALID_ARGUMENT);
    a = std::move(b);  // move back; b empty
    CHECK(a.get() == raw_options && !b);

    // A client moved; a chat outlives its client.
    tchat::chat survivor;
    {
        tchat::client c1(a);
        tchat::client c2 = std::move(c1);
        CHECK(!c1 && c2);
        EXPECT_ERROR((void)c1.stats(), TCHAT_INVALID_ARGUMENT);
        survivor = open_demo(c2);
        tchat::connection_stats st = c2.stats();
        CHECK(st.connections >= 1);
    }
    turn ts;
    survivor.send_text("client gone");
    CHECK(poll_turn(survivor, ts));
    CHECK_EQ(ts.text, std::string("You said: client gone"));

    // Chats.
    tchat::chat c = open_demo(client, "hello there");
    tchat_chat *raw = c.get();
    tchat::chat d = std::move(c);
    CHECK(!c && c.get() == nullptr);
    CHECK(d.get() == raw);
    EXPECT_ERROR(c.send_text("to nobody"), TCHAT_INVALID_ARGUMENT);
    CHECK(!c.session_id());
    turn t;
    CHECK(poll_turn(d, t));
    CHECK_EQ(t.text, std::string("You said: hello there"));

    // Move-assigning over a live chat frees that chat (and its callback) first.
    lifetime life;
    tchat::chat e = open_demo(client);
    e.set_callback([alive = life.take()](tchat::event_view) {});
    e = std::move(d);
    CHECK(life.destroyed());
    CHECK(e.get() == raw && !d);
    std::swap(d, e);
    CHECK(d.get() == raw && !e);

    // release() and adopt() hand ownership across the C boundary and back.
    tchat_chat *released = d.release();
    CHECK(!d && released == raw);
    tchat::chat adopted = tchat::chat::adopt(released);
    CHECK(adopted.get() == raw);
    adopted.reset();
    CHECK(!adopted);

    // Events.
    tchat::chat p = open_demo(client, "events move");
    tchat::next_event_result r;
    auto deadline = std::chrono::steady_clock::now() + T_TURN;
    while (!r && std::chrono::steady_clock::now() < deadline) r = p.next_event(100ms);
    CHECK(static_cast<bool>(r));
    tchat_event_kind kind = r.ev.kind();
    CHECK(kind != TCHAT_EVENT_KIND_NONE);
    tchat::event moved = std::move(r.ev);
    CHECK(!r.ev);
    CHECK_EQ(r.ev.kind(), TCHAT_EVENT_KIND_NONE);
    CHECK_EQ(moved.kind(), kind);
    tchat::event copy = moved.copy();  // an independent owned copy
    CHECK_EQ(copy.kind(), kind);
    CHECK(copy.get() != moved.get());
    tchat::event_view view = moved;  // a view of an owned event
    CHECK(view.get() == moved.get());
    tchat_event *raw_event = moved.release();
    CHECK(!moved);
    tchat_event_free(raw_event);
    copy.reset();
    CHECK(!copy);
    turn rest;
    CHECK(poll_turn(p, rest));
}

void test_callback_exceptions(const tchat::client &client) {
    section("an exception thrown from a callback: caught, reported, the chat goes on");
    tchat::exception_handler previous = tchat::set_exception_handler(record_exception);
    int before = caught(tchat::origin::event_callback);
    tchat::chat chat = open_demo(client);
    auto s = std::make_shared<sink>();
    std::atomic<int> thrown{0};
    chat.set_callback([s, &thrown](tchat::event_view ev) {
        s->add(ev);
        thrown++;
        if (ev.kind() == TCHAT_EVENT_KIND_TURN_COMPLETE) throw 42;  // not a std::exception either
        throw std::runtime_error("boom from the callback");
    });
    chat.send_text("hello through exceptions");
    CHECK(s->wait_complete());
    {
        std::lock_guard<std::mutex> guard(s->lock);
        CHECK_EQ(s->t.text, std::string("You said: hello through exceptions"));
    }
    // Every throw reached the handler: wait for the last one (the turn-complete's `throw 42`, made
    // just after the sink saw that event).
    {
        std::unique_lock<std::mutex> guard(g_caught.lock);
        CHECK(g_caught_cv.wait_for(guard, T_TURN, [] { return g_caught.others >= 1; }));
        CHECK(g_caught.std_exceptions >= 1);
        CHECK_EQ(g_caught.last_origin, tchat::origin::event_callback);
        CHECK_EQ(g_caught.last_what, std::string("(not a std::exception)"));
        CHECK_EQ(g_caught.by_origin[static_cast<int>(tchat::origin::event_callback)] - before, thrown.load());
    }
    // The same callback goes on with the next turn.
    s->reset_turn();
    chat.send_text("still here");
    CHECK(s->wait_complete());
    {
        std::lock_guard<std::mutex> guard(s->lock);
        CHECK_EQ(s->t.text, std::string("You said: still here"));
    }
    // And a throwing callback can be replaced by polling.
    chat.clear_callback();
    turn t;
    chat.send_text("polled after throws");
    CHECK(poll_turn(chat, t));
    CHECK_EQ(t.text, std::string("You said: polled after throws"));

    // Freeing a chat inside its own callback is refused: reset() throws TCHAT_INVALID_STATE and
    // keeps the chat (the destructor would report it to the handler instead).
    section("reset() inside the chat's own callback throws and keeps the chat");
    auto inside = std::make_shared<sink>();
    std::atomic<int> reset_status{-1};
    chat.set_callback([&chat, inside, &reset_status](tchat::event_view ev) {
        if (reset_status.load() == -1) {
            try {
                chat.reset();
                reset_status = TCHAT_OK;
            } catch (const tchat::error &e) {
                reset_status = e.status();
            }
        }
        inside->add(ev);
    });
    chat.send_text("free me not");
    CHECK(inside->wait_complete());
    CHECK_EQ(reset_status.load(), static_cast<int>(TCHAT_INVALID_STATE));
    CHECK(static_cast<bool>(chat));
    CHECK(starts_with(chat.session_id().value_or(""), "session_"));
    chat.reset();  // from this thread it works
    CHECK(!chat);
    tchat::set_exception_handler(previous);
}

void test_async(const tchat::client &client) {
    section("_async calls: queued, told by request-done events");
    tchat::chat_options o;
    o.set_task_id("demo");
    tchat::chat chat = tchat::chat::open_async(client, o);  // returns at once
    CHECK(static_cast<bool>(chat));
    std::uint64_t send = chat.send_text_async("hello async");  // queued after the open
    CHECK_EQ(send, std::uint64_t(2));                          // the open is request 1
    turn t;
    CHECK(poll_turn(chat, t));
    CHECK_EQ(t.text, std::string("You said: hello async"));
    CHECK_EQ(t.requests.size(), std::size_t(2));
    if (t.requests.size() == 2) {
        CHECK_EQ(t.requests[0].id, std::uint64_t(1));
        CHECK_EQ(t.requests[0].op, TCHAT_REQUEST_OP_OPEN);
        CHECK_EQ(t.requests[0].status, TCHAT_OK);
        CHECK_EQ(t.requests[1].id, send);
        CHECK_EQ(t.requests[1].op, TCHAT_REQUEST_OP_SEND_TEXT);
        CHECK_EQ(t.requests[1].status, TCHAT_OK);
    }
    CHECK(starts_with(chat.session_id().value_or(""), "session_"));
    // A call that cannot be queued throws at once.
    EXPECT_ERROR(chat.send_message_json_async("{oops"), TCHAT_INVALID_ARGUMENT);
    EXPECT_ERROR(chat.send_text_async("caf\xC3"), TCHAT_INVALID_ARGUMENT);
    // A stop queued from inside the callback ends a slow turn.
    auto s = std::make_shared<sink>();
    std::atomic<std::uint64_t> stop_request{0};
    chat.set_callback([&chat, s, &stop_request](tchat::event_view ev) {
        s->add(ev);
        std::lock_guard<std::mutex> guard(s->lock);
        if (s->t.deltas >= 3 && stop_request.load() == 0) stop_request = chat.stop_async("enough");
    });
    std::uint64_t slow = chat.send_text_async("/slow 200");
    CHECK(s->wait([](const turn &x) { return (x.complete && x.requests.size() >= 2) || x.errors > 0; }));
    {
        std::lock_guard<std::mutex> guard(s->lock);
        CHECK(s->t.complete && s->t.stopped);
        CHECK(s->t.deltas >= 3 && s->t.deltas < 200);
        bool saw_slow = false, saw_stop = false;
        for (auto &r : s->t.requests) {
            if (r.id == slow && r.op == TCHAT_REQUEST_OP_SEND_TEXT && r.status == TCHAT_OK) saw_slow = true;
            if (r.id == stop_request.load() && r.op == TCHAT_REQUEST_OP_STOP && r.status == TCHAT_OK) saw_stop = true;
        }
        CHECK(saw_slow);
        CHECK(saw_stop);
    }
    chat.clear_callback();

    // A failed open is an event, not an exception; then every call fails with its error.
    tchat::client_options co;
    co.set_base_url("http://127.0.0.1:1").set_token("tr_dev_whatever").set_retry(1, 10, 10);
    tchat::client nowhere(co);
    tchat::chat failed = tchat::chat::open_async(nowhere, o);
    turn f;
    auto deadline = std::chrono::steady_clock::now() + T_TURN;
    while (f.requests.empty() && std::chrono::steady_clock::now() < deadline) {
        if (auto r = failed.next_event(100ms)) f.add(r.ev);
    }
    CHECK_EQ(f.requests.size(), std::size_t(1));
    if (!f.requests.empty()) {
        CHECK_EQ(f.requests[0].op, TCHAT_REQUEST_OP_OPEN);
        CHECK_EQ(f.requests[0].status, TCHAT_NETWORK);
        CHECK(contains(f.requests[0].message, "connection refused"));
    }
    CHECK(!failed.session_id());
    EXPECT_ERROR(failed.send_text("x"), TCHAT_NETWORK);
}

void test_cancel_calls() {
    section("client::cancel_calls ends a blocked open: it throws TCHAT_CANCELLED");
    // A server that accepts and reads the request, then never answers.
    int listen_fd = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    CHECK(bind(listen_fd, reinterpret_cast<sockaddr *>(&addr), sizeof addr) == 0);
    CHECK(listen(listen_fd, 4) == 0);
    getsockname(listen_fd, reinterpret_cast<sockaddr *>(&addr), &len);
    tchat::client_options o;
    o.set_base_url("http://127.0.0.1:" + std::to_string(ntohs(addr.sin_port))).set_token(g_key).set_retry(1, 10, 10);
    tchat::client client(o);
    bool got_request = false;
    int conn_fd = -1;
    std::thread canceller([&] {
        conn_fd = accept(listen_fd, nullptr, nullptr);
        std::string request;
        char buf[4096];
        while (conn_fd >= 0 && request.find("\r\n\r\n") == std::string::npos) {  // the open now waits
            ssize_t n = read(conn_fd, buf, sizeof buf);
            if (n <= 0) break;
            request.append(buf, static_cast<std::size_t>(n));
        }
        got_request = request.find("\r\n\r\n") != std::string::npos;
        client.cancel_calls();  // any thread; never blocks
    });
    tchat::chat_options co;
    co.set_task_id("demo");
    auto t0 = std::chrono::steady_clock::now();
    auto e = EXPECT_ERROR(auto c = tchat::chat::open(client, co), TCHAT_CANCELLED);
    auto took = std::chrono::steady_clock::now() - t0;
    canceller.join();
    CHECK(got_request);
    CHECK(e && contains(e->what(), "cancelled"));
    CHECK(took < 5s);  // the response timeout is 30 s
    if (conn_fd >= 0) close(conn_fd);
    close(listen_fd);
    EXPECT_ERROR(tchat::client().cancel_calls(), TCHAT_INVALID_ARGUMENT);
}

void test_save_restore(const tchat::client &client) {
    section("save and restore");
    tchat::chat chat = open_demo(client, "hello there");
    turn t;
    CHECK(poll_turn(chat, t));
    std::string state = chat.save_state();
    CHECK(contains(state, "sessionId"));
    std::string session(chat.session_id().value_or(""));
    chat.reset();

    EXPECT_ERROR(auto c = tchat::chat::restore(client, "{broken"), TCHAT_INVALID_ARGUMENT);
    tchat::chat restored = tchat::chat::restore(client, state);
    CHECK_EQ(restored.session_id().value_or(""), std::string_view(session));
    CHECK(restored.last_event_id().has_value());
    turn t2;
    restored.send_text("after restore");
    CHECK(poll_turn(restored, t2));
    CHECK_EQ(t2.text, std::string("You said: after restore"));
    restored.reset();

    // Saved mid-turn, restored with a callback: the rest of the turn goes to it, not to the queue.
    section("restore mid-turn with a callback");
    auto head = std::make_shared<sink>();
    lifetime head_life;
    tchat::chat_options o;
    o.set_task_id("demo").set_first_message("/slow 500");
    o.set_callback([head, alive = head_life.take()](tchat::event_view ev) { head->add(ev); });
    tchat::chat streaming = tchat::chat::open(client, o);
    CHECK(head->wait([](const turn &x) { return x.deltas >= 5 || x.complete || x.errors > 0; }));
    std::string mid_state = streaming.save_state();
    streaming.reset();
    bool head_complete;
    {
        std::lock_guard<std::mutex> guard(head->lock);
        head_complete = head->t.complete;
        CHECK(starts_with(head->t.text, "tick 1"));
    }
    CHECK(!head_complete);  // saved mid-turn
    // A failed restore destroys the std::function it was given (the wrapper still owned it).
    lifetime rejected;
    EXPECT_ERROR(auto c = tchat::chat::restore(client, "{", [alive = rejected.take()](tchat::event_view) {}),
                 TCHAT_INVALID_ARGUMENT);
    CHECK(rejected.destroyed());
    auto tail = std::make_shared<sink>();
    lifetime tail_life;
    tchat::chat resumed =
        tchat::chat::restore(client, mid_state, [tail, alive = tail_life.take()](tchat::event_view ev) { tail->add(ev); });
    if (!head_complete) {
        CHECK(tail->wait_complete());
        std::lock_guard<std::mutex> guard(tail->lock);
        CHECK(tail->t.chunks > 0);
        CHECK(contains(tail->t.message_json, "tick 500\""));
        CHECK(contains(tail->t.text, " tick 500"));
    }
    CHECK_EQ(resumed.next_event(0ms).status, TCHAT_NO_EVENT);
    CHECK(!tail_life.destroyed());
    resumed.reset();  // frees the chat, then its callback
    CHECK(tail_life.destroyed());
    CHECK(!head_life.destroyed());  // the options still hold their callback
    o = tchat::chat_options();      // the last user of it
    CHECK(head_life.destroyed());
}

void test_log_callback() {
    section("the log callback");
    struct log_sink {
        std::mutex lock;
        std::vector<std::pair<tchat_log_level, std::string>> messages;
    };
    auto logs = std::make_shared<log_sink>();
    lifetime life;
    std::atomic<int> inner_status{-1};
    tchat::set_log_callback(
        [logs, alive = life.take(), &inner_status](tchat_log_level level, std::string_view message) {
            {
                std::lock_guard<std::mutex> guard(logs->lock);
                logs->messages.emplace_back(level, std::string(message));
            }
            if (inner_status.load() == -1) {  // not allowed from inside: an exception, caught here
                try {
                    tchat::clear_log_callback();
                    inner_status = TCHAT_OK;
                } catch (const tchat::error &e) {
                    inner_status = e.status();
                }
            }
        },
        TCHAT_LOG_LEVEL_INFO);
    std::string chat_id = unique_id("cxx-log");
    {
        tchat::client client = make_client();
        tchat::chat_options o;
        o.set_task_id("demo").set_chat_id(chat_id);
        tchat::chat chat = tchat::chat::open(client, o);  // logs "chat <id>: session ... created" here
    }
    {
        std::lock_guard<std::mutex> guard(logs->lock);
        bool found = false, bad = false;
        for (auto &m : logs->messages) {
            if (contains(m.second, chat_id) && contains(m.second, "created") && m.first == TCHAT_LOG_LEVEL_INFO) found = true;
            if (m.first < TCHAT_LOG_LEVEL_ERROR || m.first > TCHAT_LOG_LEVEL_INFO) bad = true;
            if (contains(m.second, g_key)) bad = true;  // never a token
        }
        CHECK(found);
        CHECK(!bad);
    }
    CHECK_EQ(inner_status.load(), static_cast<int>(TCHAT_INVALID_STATE));

    // A bad level: an exception, the new std::function is destroyed, the old one stays installed.
    lifetime rejected;
    EXPECT_ERROR(tchat::set_log_callback([alive = rejected.take()](tchat_log_level, std::string_view) {},
                                         static_cast<tchat_log_level>(9)),
                 TCHAT_INVALID_ARGUMENT);
    CHECK(rejected.destroyed());
    CHECK(!life.destroyed());

    // Replacing destroys the previous std::function before returning; a throwing one is caught.
    tchat::exception_handler previous = tchat::set_exception_handler(record_exception);
    int before = caught(tchat::origin::log_callback);
    lifetime thrower;
    tchat::set_log_callback(
        [alive = thrower.take()](tchat_log_level, std::string_view) { throw std::runtime_error("log boom"); },
        TCHAT_LOG_LEVEL_DEBUG);
    CHECK(life.destroyed());
    {
        tchat::client client = make_client();
        tchat::chat chat = open_demo(client, "logged");
        turn t;
        CHECK(poll_turn(chat, t));
        CHECK_EQ(t.text, std::string("You said: logged"));
    }
    CHECK(caught(tchat::origin::log_callback) > before);
    tchat::clear_log_callback();
    CHECK(thrower.destroyed());
    tchat::set_exception_handler(previous);
}

void test_token_provider_and_send_observer() {
    section("token provider and send observer");
    struct observed {
        std::mutex lock;
        int sent = 0, first_chunk = 0, completed = 0, failed = 0;
        tchat_status failed_status = TCHAT_OK;
        std::string failed_message;
        std::string chat_id;
        std::string message_id;
    };
    auto obs = std::make_shared<observed>();
    std::atomic<int> provider_calls{0};
    std::atomic<bool> provider_throws{false};
    lifetime provider_life, observer_life;
    std::string state;
    std::string chat_id;
    {
        tchat::client_options o = base_options();
        o.set_token_provider([&provider_calls, &provider_throws, alive = provider_life.take()](
                                 std::string_view) -> std::optional<std::string> {
            provider_calls++;
            if (provider_throws.load()) throw std::runtime_error("no token today");
            return g_key;
        });
        o.set_send_observer([obs, alive = observer_life.take()](const tchat::send_event &ev) {
            std::lock_guard<std::mutex> guard(obs->lock);
            switch (ev.kind) {
            case TCHAT_SEND_EVENT_KIND_MESSAGE_SENT:
                obs->sent++;
                obs->chat_id = std::string(ev.chat_id);
                obs->message_id = std::string(ev.message_id.value_or(""));
                break;
            case TCHAT_SEND_EVENT_KIND_FIRST_CHUNK:
                obs->first_chunk++;
                break;
            case TCHAT_SEND_EVENT_KIND_TURN_COMPLETED:
                obs->completed++;
                break;
            case TCHAT_SEND_EVENT_KIND_SEND_FAILED:
                obs->failed++;
                obs->failed_status = ev.status;
                obs->failed_message = std::string(ev.error_message.value_or(""));
                break;
            }
        });
        tchat::client client(o);
        tchat::chat chat = open_demo(client);
        chat_id = std::string(chat.chat_id());
        turn t;
        chat.send_text("observed");
        CHECK(poll_turn(chat, t));
        CHECK_EQ(t.text, std::string("You said: observed"));
        state = chat.save_state();
        // A send on a closed session: an exception, and the observer hears of the failure.
        tchat::chat closed = open_demo(client);
        closed.close_session("test over");
        auto e = EXPECT_ERROR(closed.send_text("refused"), TCHAT_SESSION_CLOSED);
        CHECK(e && std::string_view(e->what()).size() > 0);
        EXPECT_ERROR(closed.regenerate(), TCHAT_SESSION_CLOSED);
        CHECK(!closed.save_state().empty());  // reads still work after a close
    }
    {
        std::lock_guard<std::mutex> guard(obs->lock);
        CHECK_EQ(obs->sent, 1);
        CHECK_EQ(obs->first_chunk, 1);
        CHECK_EQ(obs->completed, 1);
        CHECK_EQ(obs->failed, 2);
        CHECK_EQ(obs->failed_status, TCHAT_SESSION_CLOSED);
        CHECK(!obs->failed_message.empty());
        CHECK_EQ(obs->chat_id, chat_id);
        CHECK(!obs->message_id.empty());
    }
    // Options, client and chat are gone: both std::functions were destroyed.
    CHECK(provider_life.destroyed());
    CHECK(observer_life.destroyed());

    // Corrupt the saved session token: the next send gets a 401 and asks the provider.
    std::string key = "\"publicAccessToken\":\"";
    std::size_t at = state.find(key);
    CHECK(at != std::string::npos);
    if (at == std::string::npos) return;
    for (std::size_t i = at + key.size(); i < state.size() && state[i] != '"'; i++) {
        if (state[i] != '.') state[i] = 'x';
    }
    tchat::exception_handler previous = tchat::set_exception_handler(record_exception);
    lifetime second;
    {
        tchat::client_options o = base_options();
        o.set_token_provider([&provider_calls, &provider_throws, alive = second.take()](
                                 std::string_view for_chat) -> std::optional<std::string> {
            provider_calls++;
            if (provider_throws.load()) throw std::runtime_error("no token today");
            if (for_chat.empty()) return std::nullopt;
            return g_key;
        });
        tchat::client client(o);
        tchat::chat restored = tchat::chat::restore(client, state);
        provider_calls = 0;
        turn t;
        restored.send_text("with a fresh token");
        CHECK(poll_turn(restored, t));
        CHECK_EQ(t.text, std::string("You said: with a fresh token"));
        CHECK(provider_calls.load() >= 1);

        // A provider that throws counts as "no token"; tchat then tries the client's own token,
        // wrong here: the send fails with TCHAT_AUTH.
        tchat::client_options wrong = base_options("tr_dev_WRONG_KEY_must_not_leak");
        wrong.set_token_provider([&provider_calls, &provider_throws](std::string_view) -> std::optional<std::string> {
            provider_calls++;
            if (provider_throws.load()) throw std::runtime_error("no token today");
            return std::nullopt;
        });
        tchat::client wrong_client(wrong);
        tchat::chat again = tchat::chat::restore(wrong_client, state);
        provider_throws = true;
        int before = caught(tchat::origin::token_provider);
        auto e = EXPECT_ERROR(again.send_text("no token"), TCHAT_AUTH);
        CHECK(e && (e->http_status() == 401 || e->http_status() == 403));
        CHECK(e && !contains(e->what(), "WRONG_KEY"));
        CHECK(caught(tchat::origin::token_provider) > before);
        provider_throws = false;
    }
    CHECK(second.destroyed());
    tchat::set_exception_handler(previous);
}

}  // namespace

int main() {
    if (g_url.empty()) {
        std::fprintf(stderr, "TRIGGER_API_URL is not set: run this test through tests/c/run.sh\n");
        return 2;
    }
    void (*const standalone[])() = {test_types, test_errors, test_log_callback, test_token_provider_and_send_observer};
    void (*const with_client[])(const tchat::client &) = {test_poll_turn, test_callback_turn, test_move,
                                                          test_callback_exceptions, test_async, test_save_restore};
    auto guarded = [](auto f) {
        try {
            f();
        } catch (const std::exception &e) {
            record(false, __FILE__, __LINE__, std::string("unexpected exception: ") + e.what());
        }
    };
    guarded(standalone[0]);
    guarded(standalone[1]);
    try {
        tchat::client client = make_client();
        for (auto test : with_client) guarded([&] { test(client); });
    } catch (const std::exception &e) {
        record(false, __FILE__, __LINE__, std::string("cannot create a client: ") + e.what());
    }
    guarded(standalone[2]);
    guarded(standalone[3]);
    guarded(test_cancel_calls);
    std::printf("%d passed, %d failed\n", g_passed, g_failed);
    std::fflush(stdout);
    return g_failed == 0 && g_passed > 0 ? 0 : 1;
}
