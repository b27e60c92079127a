// The header from C++11: tchat's opaque handles in std::unique_ptr with their free functions, a
// callback given as a captureless lambda, and one turn against the devserver (TRIGGER_API_URL).
// Prints "N passed, N failed" as its last line.
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <string>

#include "tchat.h"

namespace {

int passed = 0;
int failed = 0;

void check(bool ok, const char *what) {
    if (ok) {
        passed++;
    } else {
        failed++;
        std::fprintf(stderr, "FAIL %s (last error: %s)\n", what, tchat_last_error_message());
    }
}

struct ClientOptionsFree {
    void operator()(tchat_client_options *o) const { tchat_client_options_free(o); }
};
struct ClientFree {
    void operator()(tchat_client *c) const { tchat_client_free(c); }
};
struct ChatOptionsFree {
    void operator()(tchat_chat_options *o) const { tchat_chat_options_free(o); }
};
struct ChatFree {
    void operator()(tchat_chat *c) const { (void)tchat_chat_free(c); }
};
struct StringFree {
    void operator()(char *s) const { tchat_string_free(s); }
};

struct Reply {
    std::mutex lock;
    std::condition_variable done_cv;
    std::string text;
    bool done = false;
};

std::atomic<int> released{0};

}  // namespace

int main() {
    const char *url = std::getenv("TRIGGER_API_URL");
    const char *key = std::getenv("TRIGGER_SECRET_KEY");
    if (!url || !key) {
        std::fprintf(stderr, "run through tests/c/run.sh\n");
        return 2;
    }
    std::unique_ptr<tchat_client_options, ClientOptionsFree> copts(tchat_client_options_new());
    check(tchat_client_options_set_base_url(copts.get(), url) == TCHAT_OK, "base url");
    check(tchat_client_options_set_token(copts.get(), key) == TCHAT_OK, "token");
    tchat_client *raw_client = nullptr;
    check(tchat_client_new(copts.get(), &raw_client) == TCHAT_OK, "client");
    std::unique_ptr<tchat_client, ClientFree> client(raw_client);

    std::unique_ptr<tchat_chat_options, ChatOptionsFree> o(tchat_chat_options_new());
    check(tchat_chat_options_set_task_id(o.get(), "demo") == TCHAT_OK, "task id");
    tchat_chat *raw_chat = nullptr;
    check(tchat_chat_open(client.get(), o.get(), &raw_chat) == TCHAT_OK, "open");
    std::unique_ptr<tchat_chat, ChatFree> chat(raw_chat);
    if (!chat) {
        std::printf("%d passed, %d failed\n", passed, failed);
        return 1;
    }

    Reply *reply = new Reply;
    tchat_status s = tchat_chat_set_callback(
        chat.get(),
        [](void *user_data, const tchat_event *ev) {
            Reply *r = static_cast<Reply *>(user_data);
            std::lock_guard<std::mutex> guard(r->lock);
            size_t len = 0;
            const char *delta = tchat_event_delta(ev, &len);
            const char *type = tchat_event_chunk_type(ev);
            if (delta && type && std::string(type) == "text-delta") r->text.append(delta, len);
            if (tchat_event_get_kind(ev) == TCHAT_EVENT_KIND_TURN_COMPLETE) {
                r->done = true;
                r->done_cv.notify_all();
            }
        },
        reply,
        [](void *user_data) {
            delete static_cast<Reply *>(user_data);
            released++;
        });
    check(s == TCHAT_OK, "set callback");
    check(tchat_chat_send_text(chat.get(), "hi from C++") == TCHAT_OK, "send");
    {
        std::unique_lock<std::mutex> guard(reply->lock);
        reply->done_cv.wait_for(guard, std::chrono::seconds(60), [&] { return reply->done; });
        check(reply->done, "turn complete");
        check(reply->text == "You said: hi from C++", "reply text");
    }
    char *state = nullptr;
    check(tchat_chat_save_state(chat.get(), &state) == TCHAT_OK, "save state");
    std::unique_ptr<char, StringFree> owned_state(state);
    check(owned_state && std::string(owned_state.get()).find("sessionId") != std::string::npos, "state json");

    chat.reset();  // frees the chat, then the callback's user_data
    check(released.load() == 1, "user_data released once by tchat_chat_free");
    std::printf("%d passed, %d failed\n", passed, failed);
    return failed == 0 ? 0 : 1;
}
