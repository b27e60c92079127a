// game_loop — tchat in a C++17 game loop (include/tchat.hpp): a fixed 60 Hz frame loop that never
// blocks on the network.
//
//   game_loop [--url URL] [--key KEY] [--task TASK] [MESSAGE...]
//
// Defaults: $TRIGGER_API_URL, $TRIGGER_SECRET_KEY, $TCHAT_TASK or "demo", one MESSAGE "/slow 20".
//
// The chat is opened with tchat::chat::open_async (it returns at once; the session is created on the
// chat's own sender thread) with the first message as its first message. Each frame drains the
// chat's events with next_event(0ms), which never waits, "renders" the reply's text deltas, and
// sleeps until the next frame. When a turn completes, the next message is queued with
// send_text_async (it returns at once too); how each queued call went arrives as a request-done
// event. It exits once the last turn is complete and reports how long the frames' tchat calls took.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <string>
#include <string_view>
#include <thread>

#include "tchat.hpp"

namespace {

using clock_type = std::chrono::steady_clock;
constexpr auto frame = std::chrono::microseconds(1000000 / 60);

std::string env_or(const char *name, const char *fallback) {
    const char *v = std::getenv(name);
    return v && *v ? v : (fallback ? fallback : "");
}

void print(std::string_view text) {
    std::fwrite(text.data(), 1, text.size(), stdout);
}

int usage() {
    std::fprintf(stderr, "usage: game_loop [--url URL] [--key KEY] [--task TASK] [MESSAGE...]\n");
    return 2;
}

}  // namespace

int main(int argc, char **argv) {
    using namespace std::chrono_literals;
    std::string url = env_or("TRIGGER_API_URL", "https://api.trigger.dev");
    std::string key = env_or("TRIGGER_SECRET_KEY", nullptr);
    std::string task = env_or("TCHAT_TASK", "demo");
    std::deque<std::string> messages;
    for (int i = 1; i < argc; i++) {
        std::string_view arg = argv[i];
        if (i + 1 < argc && arg == "--url") url = argv[++i];
        else if (i + 1 < argc && arg == "--key") key = argv[++i];
        else if (i + 1 < argc && arg == "--task") task = argv[++i];
        else if (!arg.empty() && arg[0] != '-') messages.emplace_back(arg);
        else return usage();
    }
    if (messages.empty()) messages.emplace_back("/slow 20");
    if (key.empty()) {
        std::fprintf(stderr, "game_loop: no key: pass --key or set TRIGGER_SECRET_KEY\n");
        return 2;
    }

    try {
        tchat::client_options client_options;
        client_options.set_base_url(url).set_token(key);
        tchat::client client(client_options);  // makes no request

        tchat::chat_options options;
        options.set_task_id(task).set_first_message(messages.front());
        tchat::chat chat = tchat::chat::open_async(client, options);  // returns at once
        std::printf("> %s\n", messages.front().c_str());
        messages.pop_front();

        long frames = 0, events = 0, frames_with_text = 0;
        clock_type::duration total{}, worst{};
        bool done = false;
        int status = 0;
        auto next_frame = clock_type::now();
        while (!done) {
            auto t0 = clock_type::now();
            bool text_this_frame = false;

            // Drain whatever arrived since the last frame; 0ms = never wait.
            while (!done) {
                tchat::next_event_result r = chat.next_event(0ms);
                if (!r) break;  // TCHAT_NO_EVENT (or TCHAT_WOKEN): nothing more this frame
                const tchat::event &ev = r.ev;
                events++;
                switch (ev.kind()) {
                case TCHAT_EVENT_KIND_CHUNK:
                    if (auto text = ev.text_delta()) {  // the reply's text, not reasoning
                        print(*text);                   // "render"
                        text_this_frame = true;
                    }
                    break;
                case TCHAT_EVENT_KIND_TURN_COMPLETE:
                    std::printf("\n");
                    if (messages.empty()) {
                        done = true;
                    } else {  // the next message, queued: no frame waits for the network
                        std::printf("> %s\n", messages.front().c_str());
                        chat.send_text_async(messages.front());
                        messages.pop_front();
                    }
                    break;
                case TCHAT_EVENT_KIND_REQUEST_DONE:  // an _async call finished
                    if (ev.error_status() != TCHAT_OK) {
                        std::fprintf(stderr, "\ngame_loop: %s failed: %s\n",
                                     ev.request_op() == TCHAT_REQUEST_OP_OPEN ? "open" : "send",
                                     std::string(ev.error_message().value_or(tchat::status_str(ev.error_status()))).c_str());
                        done = true;
                        status = 1;
                    }
                    break;
                case TCHAT_EVENT_KIND_ERROR:
                    std::fprintf(stderr, "\ngame_loop: stream error: %s\n",
                                 std::string(ev.error_message().value_or("")).c_str());
                    done = true;
                    status = 1;
                    break;
                case TCHAT_EVENT_KIND_SESSION_CLOSED:
                    done = true;
                    break;
                default:
                    break;
                }
            }
            if (text_this_frame) {
                std::fflush(stdout);
                frames_with_text++;
            }
            auto spent = clock_type::now() - t0;
            total += spent;
            if (spent > worst) worst = spent;
            frames++;

            // Sleep until the next frame (skip frames we are late for).
            next_frame += frame;
            if (next_frame < clock_type::now()) next_frame = clock_type::now();
            std::this_thread::sleep_until(next_frame);
        }

        using us = std::chrono::duration<double, std::micro>;
        std::printf("%ld frames at 60 Hz, %ld events, text in %ld frames; tchat per frame: avg %.1f us, worst %.1f us\n",
                    frames, events, frames_with_text, frames ? us(total).count() / static_cast<double>(frames) : 0.0,
                    us(worst).count());
        chat.reset();  // stops the reader and sender threads; throws if it cannot free the chat
        return status;
    } catch (const tchat::error &e) {
        // Only calls that cannot even be queued (bad options, a bad argument) throw here.
        std::fprintf(stderr, "game_loop: %s (%s)\n", e.what(), std::string(tchat::status_str(e.status())).c_str());
        return 1;
    }
}
