/*
 * poll_loop — tchat in a game loop: a fixed 60 Hz frame loop that never blocks on the network.
 *
 *   poll_loop [--url URL] [--key KEY] [--task TASK] [MESSAGE]
 *
 * Defaults: $TRIGGER_API_URL, $TRIGGER_SECRET_KEY, $TCHAT_TASK or "demo", MESSAGE "/slow 20".
 *
 * Nothing here blocks on the network: the chat is opened with tchat_chat_open_async and the
 * message sent with tchat_chat_send_text_async (queued behind the open); both return at once, and
 * their ends arrive as TCHAT_EVENT_KIND_REQUEST_DONE events among the stream's. Each frame drains
 * the chat's events with tchat_chat_next_event(chat, 0, ...), which never waits, "renders" the
 * reply's text, and sleeps until the next frame. It exits once the agent's turn is complete and
 * reports how long the frames' tchat calls took.
 */
#define _POSIX_C_SOURCE 200809L

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tchat.h"

#define FRAME_NS (1000000000L / 60)

static long long now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static const char *env_or(const char *name, const char *fallback) {
    const char *v = getenv(name);
    return v && *v ? v : fallback;
}

int main(int argc, char **argv) {
    const char *url = env_or("TRIGGER_API_URL", "https://api.trigger.dev");
    const char *key = env_or("TRIGGER_SECRET_KEY", NULL);
    const char *task = env_or("TCHAT_TASK", "demo");
    const char *message = "/slow 20";
    tchat_client_options *copts;
    tchat_client *client = NULL;
    tchat_chat_options *o;
    tchat_chat *chat = NULL;
    tchat_status s;
    long long next_frame, worst_ns = 0, total_ns = 0;
    long frames = 0, events = 0, frames_with_text = 0;
    int done = 0, failed = 0, i;

    for (i = 1; i < argc; i++) {
        if (i + 1 < argc && strcmp(argv[i], "--url") == 0) url = argv[++i];
        else if (i + 1 < argc && strcmp(argv[i], "--key") == 0) key = argv[++i];
        else if (i + 1 < argc && strcmp(argv[i], "--task") == 0) task = argv[++i];
        else if (argv[i][0] != '-') message = argv[i];
        else {
            fprintf(stderr, "usage: poll_loop [--url URL] [--key KEY] [--task TASK] [MESSAGE]\n");
            return 2;
        }
    }
    if (!key) {
        fprintf(stderr, "poll_loop: no key: pass --key or set TRIGGER_SECRET_KEY\n");
        return 2;
    }

    copts = tchat_client_options_new();
    if ((s = tchat_client_options_set_base_url(copts, url)) != TCHAT_OK ||
        (s = tchat_client_options_set_token(copts, key)) != TCHAT_OK ||
        (s = tchat_client_new(copts, &client)) != TCHAT_OK) {
        fprintf(stderr, "poll_loop: client: %s\n", tchat_last_error_message());
        tchat_client_options_free(copts);
        return 1;
    }
    tchat_client_options_free(copts);

    next_frame = now_ns();
    while (!done) {
        long long t0 = now_ns(), spent;
        if (frames == 0) {
            /* The first frame opens the chat and sends: both return at once. */
            o = tchat_chat_options_new();
            tchat_chat_options_set_task_id(o, task);
            s = tchat_chat_open_async(client, o, &chat);
            tchat_chat_options_free(o);
            if (s == TCHAT_OK) s = tchat_chat_send_text_async(chat, message, NULL);
            if (s != TCHAT_OK) {
                fprintf(stderr, "poll_loop: %s (%s)\n", tchat_last_error_message(), tchat_status_str((int)s));
                tchat_chat_free(chat);
                tchat_client_free(client);
                return 1;
            }
            printf("> %s\n", message);
        }
        struct timespec sleep_for;
        int text_this_frame = 0;
        tchat_event *ev = NULL;

        /* Drain whatever arrived since the last frame; 0 = never wait. */
        while (!done && (s = tchat_chat_next_event(chat, 0, &ev)) == TCHAT_OK) {
            size_t len = 0;
            const char *delta;
            events++;
            switch (tchat_event_get_kind(ev)) {
            case TCHAT_EVENT_KIND_REQUEST_DONE: /* the open, then the send */
                if (tchat_event_error_status(ev) != TCHAT_OK) {
                    fprintf(stderr, "poll_loop: %s failed: %s\n",
                            tchat_event_request_op(ev) == TCHAT_REQUEST_OP_OPEN ? "open" : "send",
                            tchat_event_error_message(ev));
                    done = failed = 1;
                }
                break;
            case TCHAT_EVENT_KIND_CHUNK:
                delta = tchat_event_text_delta(ev, &len); /* NULL unless the reply's text */
                if (delta) {
                    fwrite(delta, 1, len, stdout); /* "render" */
                    text_this_frame = 1;
                }
                break;
            case TCHAT_EVENT_KIND_TURN_COMPLETE:
                printf("\n");
                done = 1;
                break;
            case TCHAT_EVENT_KIND_ERROR:
                fprintf(stderr, "\npoll_loop: stream error: %s\n", tchat_event_error_message(ev));
                done = failed = 1;
                break;
            case TCHAT_EVENT_KIND_SESSION_CLOSED:
                done = 1;
                break;
            default:
                break;
            }
            tchat_event_free(ev);
        }
        if (s != TCHAT_OK && s != TCHAT_NO_EVENT && s != TCHAT_WOKEN) {
            fprintf(stderr, "poll_loop: next_event: %s\n", tchat_last_error_message());
            done = 1;
        }
        if (text_this_frame) {
            fflush(stdout);
            frames_with_text++;
        }
        spent = now_ns() - t0;
        total_ns += spent;
        if (spent > worst_ns) worst_ns = spent;
        frames++;

        /* Sleep until the next frame (skip frames we are late for). */
        next_frame += FRAME_NS;
        if (next_frame < now_ns()) next_frame = now_ns();
        sleep_for.tv_sec = (time_t)((next_frame - now_ns()) / 1000000000LL);
        sleep_for.tv_nsec = (long)((next_frame - now_ns()) % 1000000000LL);
        if (sleep_for.tv_sec > 0 || sleep_for.tv_nsec > 0) nanosleep(&sleep_for, NULL);
    }

    printf("%ld frames at 60 Hz, %ld events, text in %ld frames; tchat per frame: avg %.1f us, worst %.1f us\n",
           frames, events, frames_with_text, frames ? (double)total_ns / (double)frames / 1000.0 : 0.0,
           (double)worst_ns / 1000.0);
    s = tchat_chat_free(chat);
    tchat_client_free(client);
    return s == TCHAT_OK && !failed ? 0 : 1;
}
