/*
 * A tiny test harness for tchat's C tests: checks that count instead of aborting, a client against
 * the devserver named by TRIGGER_API_URL / TRIGGER_SECRET_KEY (tests/c/run.sh sets them), and
 * helpers that collect one agent turn either by polling or through a callback.
 *
 * Every test program prints "N passed, N failed" as its last line and exits non-zero on failure.
 */
#ifndef TCHAT_TESTLIB_H
#define TCHAT_TESTLIB_H

#define _POSIX_C_SOURCE 200809L

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "tchat.h"

static int t_passed;
static int t_failed;
static pthread_mutex_t t_lock = PTHREAD_MUTEX_INITIALIZER;

static inline void t_record(int ok, const char *file, int line, const char *what) {
    pthread_mutex_lock(&t_lock);
    if (ok) {
        t_passed++;
    } else {
        t_failed++;
        fprintf(stderr, "FAIL %s:%d: %s\n", file, line, what);
    }
    pthread_mutex_unlock(&t_lock);
}

/* CHECK(cond): a condition. */
#define CHECK(cond) t_record((cond) ? 1 : 0, __FILE__, __LINE__, #cond)

/* CHECK_STATUS(call, expected): a call's tchat_status; on mismatch prints the last error. */
#define CHECK_STATUS(call, expected) t_check_status((call), (expected), __FILE__, __LINE__, #call)

static inline tchat_status t_check_status(tchat_status got, tchat_status expected, const char *file, int line,
                                   const char *what) {
    char buf[1024];
    if (got == expected) {
        t_record(1, file, line, what);
    } else {
        snprintf(buf, sizeof buf, "%.300s: got %s, expected %s (last error: \"%.500s\")", what, tchat_status_str((int)got),
                 tchat_status_str((int)expected), tchat_last_error_message());
        t_record(0, file, line, buf);
    }
    return got;
}

/* CHECK_STR(a, b): two C strings are equal (NULL-safe). */
#define CHECK_STR(a, b) t_check_str((a), (b), __FILE__, __LINE__, #a " == " #b)

static inline void t_check_str(const char *a, const char *b, const char *file, int line, const char *what) {
    char buf[2048];
    int ok = (a == NULL && b == NULL) || (a != NULL && b != NULL && strcmp(a, b) == 0);
    if (ok) {
        t_record(1, file, line, what);
    } else {
        snprintf(buf, sizeof buf, "%.200s: \"%.800s\" vs \"%.800s\"", what, a ? a : "(null)", b ? b : "(null)");
        t_record(0, file, line, buf);
    }
}

/* CHECK_CONTAINS(haystack, needle) */
#define CHECK_CONTAINS(h, n) \
    t_record((h) != NULL && strstr((h), (n)) != NULL, __FILE__, __LINE__, #h " contains " #n)

static inline int t_finish(void) {
    printf("%d passed, %d failed\n", t_passed, t_failed);
    fflush(stdout);
    return t_failed == 0 && t_passed > 0 ? 0 : 1;
}

static inline void t_section(const char *name) {
    printf("== %s\n", name);
    fflush(stdout);
}

static inline long long t_now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static inline void t_sleep_ms(long ms) {
    struct timespec ts;
    ts.tv_sec = ms / 1000;
    ts.tv_nsec = (ms % 1000) * 1000000L;
    nanosleep(&ts, NULL);
}

static inline const char *t_env(const char *name, const char *fallback) {
    const char *v = getenv(name);
    return v && *v ? v : fallback;
}

/* A client for the devserver; aborts the program when it cannot be created. */
static inline tchat_client *t_client_with_key(const char *key) {
    tchat_client *client = NULL;
    tchat_client_options *o = tchat_client_options_new();
    const char *url = getenv("TRIGGER_API_URL");
    if (!url) {
        fprintf(stderr, "TRIGGER_API_URL is not set: run this test through tests/c/run.sh\n");
        exit(2);
    }
    if (tchat_client_options_set_base_url(o, url) != TCHAT_OK || tchat_client_options_set_token(o, key) != TCHAT_OK ||
        tchat_client_options_set_retry(o, 2, 50, 200) != TCHAT_OK ||
        tchat_client_new(o, &client) != TCHAT_OK) {
        fprintf(stderr, "cannot create a client: %s\n", tchat_last_error_message());
        exit(2);
    }
    tchat_client_options_free(o);
    return client;
}

static inline tchat_client *t_client(void) {
    return t_client_with_key(t_env("TRIGGER_SECRET_KEY", "tr_dev_tchat_local"));
}

/* Opens a chat with the demo agent (preloaded unless first_message is given). */
static inline tchat_chat *t_open(tchat_client *client, const char *first_message) {
    tchat_chat *chat = NULL;
    tchat_chat_options *o = tchat_chat_options_new();
    tchat_chat_options_set_task_id(o, t_env("TCHAT_TASK", "demo"));
    if (first_message) tchat_chat_options_set_first_message(o, first_message);
    if (tchat_chat_open(client, o, &chat) != TCHAT_OK) {
        fprintf(stderr, "cannot open a chat: %s\n", tchat_last_error_message());
        chat = NULL;
    }
    tchat_chat_options_free(o);
    return chat;
}

/* What one agent turn produced. */
typedef struct {
    char text[65536];      /* the text deltas, concatenated */
    size_t text_len;
    int chunks;            /* chunk events */
    int deltas;            /* text-delta chunks */
    int complete;          /* a turn-complete arrived */
    int stopped;           /* its tchat_event_stopped */
    int errors;            /* error events */
    char error_text[512];  /* the turn's error text, if an error turn */
    char approval[256];    /* the first pending approval id */
    size_t approvals;
    char message_json[16384];
    char finish_reason[64];
    unsigned long long last_seq;
    int seq_decreased;     /* a chunk's seq_num was not above the previous one */
} t_turn;

static inline void t_turn_reset(t_turn *t) { memset(t, 0, sizeof *t); }

/* Adds one event to a turn (used by both the poll and the callback helpers). */
static inline void t_turn_add(t_turn *t, const tchat_event *ev) {
    switch (tchat_event_get_kind(ev)) {
    case TCHAT_EVENT_KIND_CHUNK: {
        size_t len = 0;
        const char *delta = tchat_event_delta(ev, &len);
        const char *type = tchat_event_chunk_type(ev);
        unsigned long long seq = tchat_event_seq_num(ev);
        if (t->chunks > 0 && seq <= t->last_seq) t->seq_decreased = 1;
        t->last_seq = seq;
        t->chunks++;
        if (type && strcmp(type, "text-delta") == 0 && delta) {
            t->deltas++;
            if (t->text_len + len < sizeof t->text) {
                memcpy(t->text + t->text_len, delta, len);
                t->text_len += len;
                t->text[t->text_len] = '\0';
            }
        }
        break;
    }
    case TCHAT_EVENT_KIND_TURN_COMPLETE: {
        const char *json = tchat_event_message_json(ev, NULL);
        const char *err = tchat_event_error_text(ev);
        const char *reason = tchat_event_finish_reason(ev);
        t->complete = 1;
        t->stopped = tchat_event_stopped(ev);
        t->approvals = tchat_event_pending_approval_count(ev);
        if (t->approvals > 0) snprintf(t->approval, sizeof t->approval, "%s", tchat_event_pending_approval_id(ev, 0));
        if (json) snprintf(t->message_json, sizeof t->message_json, "%s", json);
        if (err) snprintf(t->error_text, sizeof t->error_text, "%s", err);
        if (reason) snprintf(t->finish_reason, sizeof t->finish_reason, "%s", reason);
        break;
    }
    case TCHAT_EVENT_KIND_ERROR:
        t->errors++;
        fprintf(stderr, "error event: %s (%s)\n", tchat_event_error_message(ev),
                tchat_status_str((int)tchat_event_error_status(ev)));
        break;
    default:
        break;
    }
}

/* Polls until the turn completes (or an error event, or timeout_ms). Returns t->complete. */
static inline int t_poll_turn(tchat_chat *chat, t_turn *t, long timeout_ms) {
    long long deadline = t_now_ms() + timeout_ms;
    while (!t->complete && t_now_ms() < deadline) {
        tchat_event *ev = NULL;
        tchat_status s = tchat_chat_next_event(chat, 100, &ev);
        if (s == TCHAT_NO_EVENT || s == TCHAT_WOKEN) continue;
        if (s != TCHAT_OK) {
            fprintf(stderr, "next_event: %s\n", tchat_last_error_message());
            return 0;
        }
        t_turn_add(t, ev);
        tchat_event_free(ev);
        if (t->errors) return 0;
    }
    return t->complete;
}

/* A turn collected through a callback: the callback fills `turn` under `lock` and signals `cond`. */
typedef struct {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    t_turn turn;
    pthread_t reader;      /* the thread the callback ran on */
    int calls;
} t_sink;

static inline void t_sink_init(t_sink *s) {
    pthread_mutex_init(&s->lock, NULL);
    pthread_cond_init(&s->cond, NULL);
    t_turn_reset(&s->turn);
    s->calls = 0;
}

static inline void t_sink_destroy(t_sink *s) {
    pthread_mutex_destroy(&s->lock);
    pthread_cond_destroy(&s->cond);
}

static inline void t_sink_callback(void *user_data, const tchat_event *ev) {
    t_sink *s = (t_sink *)user_data;
    pthread_mutex_lock(&s->lock);
    s->reader = pthread_self();
    s->calls++;
    t_turn_add(&s->turn, ev);
    pthread_cond_broadcast(&s->cond);
    pthread_mutex_unlock(&s->lock);
}

/* Waits until the sink's turn completes (or errors, or timeout_ms). Returns 1 on completion. */
static inline int t_sink_wait(t_sink *s, long timeout_ms) {
    struct timespec deadline;
    int done;
    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_sec += timeout_ms / 1000;
    deadline.tv_nsec += (timeout_ms % 1000) * 1000000L;
    if (deadline.tv_nsec >= 1000000000L) {
        deadline.tv_sec++;
        deadline.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&s->lock);
    while (!s->turn.complete && !s->turn.errors) {
        if (pthread_cond_timedwait(&s->cond, &s->lock, &deadline) != 0) break;
    }
    done = s->turn.complete;
    pthread_mutex_unlock(&s->lock);
    return done;
}

/* An out-param value no successful call writes: checks that failures leave out-params untouched. */
#define SENTINEL ((void *)0x1)

/* Long waits: the tests also run under valgrind, which is many times slower. */
#define T_TURN_MS 60000

/* POSTs (for the devserver's test routes, e.g. /__devserver/faults) `json` to `path` on the devserver; returns the HTTP status, or -1. */
static inline int t_devserver_post(const char *path, const char *json) {
    const char *url = getenv("TRIGGER_API_URL");
    char req[2048], resp[512];
    int port = 0, fd, status = -1;
    ssize_t n;
    struct sockaddr_in addr;
    if (!url || sscanf(url, "http://127.0.0.1:%d", &port) != 1) return -1;
    fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) return -1;
    memset(&addr, 0, sizeof addr);
    addr.sin_family = AF_INET;
    addr.sin_port = htons((unsigned short)port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&addr, sizeof addr) == 0) {
        int len = snprintf(req, sizeof req,
                           "POST %s HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                           "Content-Length: %zu\r\nConnection: close\r\n\r\n%s",
                           path, strlen(json), json);
        if (write(fd, req, (size_t)len) == len && (n = read(fd, resp, sizeof resp - 1)) > 0) {
            resp[n] = '\0';
            sscanf(resp, "HTTP/1.1 %d", &status);
        }
    }
    close(fd);
    return status;
}

#endif /* TCHAT_TESTLIB_H */
