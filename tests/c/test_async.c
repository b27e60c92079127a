/*
 * Calls that never block a game loop: tchat_chat_open_async and the _async sends, polled from a
 * 60 Hz loop with timeout 0 while the server answers slowly (the frame budget is checked when
 * TCHAT_FRAME_BUDGET_US is set: tests/c/native.sh runs this program outside valgrind with 2000);
 * their REQUEST_DONE events, in order, through polling and through a callback; failures reported
 * by the event; and the fast-failure paths: tchat_client_cancel_calls ends an open blocked on a
 * server that never answers, and a refused port fails within its documented bound.
 */
#include "testlib.h"

#include <sys/time.h>

static long long now_us(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000000LL + ts.tv_nsec / 1000;
}

/* What a 60 Hz loop saw: the done events in arrival order, and the turn. */
typedef struct {
    uint64_t done_ids[16];
    tchat_request_op done_ops[16];
    tchat_status done_status[16];
    char done_message[512];
    int dones;
    t_turn turn;
    long long worst_frame_us;
    int frames;
} frame_log;

static void note_done(frame_log *log, const tchat_event *ev) {
    if (log->dones < 16) {
        const char *msg = tchat_event_error_message(ev);
        log->done_ids[log->dones] = tchat_event_request_id(ev);
        log->done_ops[log->dones] = tchat_event_request_op(ev);
        log->done_status[log->dones] = tchat_event_error_status(ev);
        if (msg) snprintf(log->done_message, sizeof log->done_message, "%s", msg);
    }
    log->dones++;
}

/* Runs frames at 60 Hz (at least one) until `want_dones` done events and (when `want_turn`) a
 * turn-complete came, or timeout_ms. Each frame drains the queue with timeout 0; the time spent inside tchat per frame
 * is measured. */
static void run_frames(tchat_chat *chat, frame_log *log, int want_dones, int want_turn, long timeout_ms) {
    long long deadline = t_now_ms() + timeout_ms;
    do {
        long long start = now_us(), spent;
        for (;;) {
            tchat_event *ev = NULL;
            tchat_status st = tchat_chat_next_event(chat, 0, &ev);
            if (st == TCHAT_NO_EVENT || st == TCHAT_WOKEN) break;
            if (st != TCHAT_OK) {
                fprintf(stderr, "next_event: %s\n", tchat_last_error_message());
                return;
            }
            if (tchat_event_get_kind(ev) == TCHAT_EVENT_KIND_REQUEST_DONE) note_done(log, ev);
            else t_turn_add(&log->turn, ev);
            tchat_event_free(ev);
        }
        spent = now_us() - start;
        if (spent > log->worst_frame_us) log->worst_frame_us = spent;
        log->frames++;
        t_sleep_ms(16); /* the rest of the frame: the game's own work */
    } while (t_now_ms() < deadline && (log->dones < want_dones || (want_turn && !log->turn.complete)));
}

static void check_frame_budget(const frame_log *log, const char *what) {
    const char *budget = getenv("TCHAT_FRAME_BUDGET_US");
    printf("  %s: %d frames, worst tchat time in one frame %lld us\n", what, log->frames, log->worst_frame_us);
    if (budget) CHECK(log->worst_frame_us <= atoll(budget));
}

static tchat_chat_options *demo_options(void) {
    tchat_chat_options *o = tchat_chat_options_new();
    tchat_chat_options_set_task_id(o, t_env("TCHAT_TASK", "demo"));
    return o;
}

static void test_open_and_send_from_a_game_loop(tchat_client *client) {
    tchat_chat *chat = NULL;
    tchat_chat_options *o = demo_options();
    uint64_t send_id = 0;
    long long t0, took;
    frame_log log;
    t_section("open_async + send_text_async from a 60 Hz loop");
    memset(&log, 0, sizeof log);

    t0 = now_us();
    CHECK_STATUS(tchat_chat_open_async(client, o, &chat), TCHAT_OK);
    /* Queued behind the open, before it is done. */
    CHECK_STATUS(tchat_chat_send_text_async(chat, "hello async", &send_id), TCHAT_OK);
    took = now_us() - t0;
    tchat_chat_options_free(o);
    printf("  open_async + send_text_async returned after %lld us\n", took);
    if (getenv("TCHAT_FRAME_BUDGET_US")) CHECK(took <= atoll(getenv("TCHAT_FRAME_BUDGET_US")));
    CHECK(send_id == 2);

    run_frames(chat, &log, 2, 1, T_TURN_MS);
    CHECK(log.dones == 2);
    CHECK(log.done_ids[0] == 1 && log.done_ops[0] == TCHAT_REQUEST_OP_OPEN && log.done_status[0] == TCHAT_OK);
    CHECK(log.done_ids[1] == 2 && log.done_ops[1] == TCHAT_REQUEST_OP_SEND_TEXT && log.done_status[1] == TCHAT_OK);
    CHECK(log.turn.complete);
    CHECK_STR(log.turn.text, "You said: hello async");
    CHECK(tchat_chat_session_id(chat) != NULL);
    check_frame_budget(&log, "open + first turn");

    /* The server answers the append slowly (its body one byte every 100 ms, after it stored the
     * message): the reply streams while the sender thread still waits; frames stay short. */
    memset(&log, 0, sizeof log);
    CHECK(t_devserver_post("/__devserver/faults", "{\"slow_body_next_requests\":1,\"slow_body_ms\":100}") == 200);
    CHECK_STATUS(tchat_chat_send_text_async(chat, "slow server", &send_id), TCHAT_OK);
    CHECK(send_id == 3);
    run_frames(chat, &log, 1, 1, T_TURN_MS);
    t_devserver_post("/__devserver/faults", "{}");
    CHECK(log.dones == 1 && log.done_ids[0] == 3 && log.done_status[0] == TCHAT_OK);
    CHECK_STR(log.turn.text, "You said: slow server");
    check_frame_budget(&log, "a turn while the append's answer trickles");

    /* A stop queued mid-turn ends the turn early; a close queued after it is done last. */
    memset(&log, 0, sizeof log);
    CHECK_STATUS(tchat_chat_send_text_async(chat, "/slow", NULL), TCHAT_OK);
    while (log.turn.chunks == 0 && log.frames < 60 * 60) run_frames(chat, &log, 0, 0, 20);
    CHECK(log.turn.chunks > 0);
    CHECK_STATUS(tchat_chat_stop_async(chat, "enough", NULL), TCHAT_OK);
    CHECK_STATUS(tchat_chat_close_session_async(chat, NULL, &send_id), TCHAT_OK);
    run_frames(chat, &log, 3, 0, T_TURN_MS);
    CHECK(log.dones == 3);
    CHECK(log.done_ops[1] == TCHAT_REQUEST_OP_STOP && log.done_status[1] == TCHAT_OK);
    CHECK(log.done_ops[2] == TCHAT_REQUEST_OP_CLOSE_SESSION && log.done_ids[2] == send_id &&
          log.done_status[2] == TCHAT_OK);

    /* After the close, a queued send fails in its event, with the status the blocking call has. */
    memset(&log, 0, sizeof log);
    CHECK_STATUS(tchat_chat_send_text_async(chat, "too late", &send_id), TCHAT_OK);
    run_frames(chat, &log, 1, 0, T_TURN_MS);
    CHECK(log.dones == 1 && log.done_ids[0] == send_id);
    CHECK(log.done_status[0] == TCHAT_SESSION_CLOSED);
    CHECK_STATUS(tchat_chat_send_text(chat, "too late"), TCHAT_SESSION_CLOSED);

    /* JSON that does not parse is refused at once, with no event. */
    CHECK_STATUS(tchat_chat_send_action_async(chat, "{not json", NULL), TCHAT_INVALID_ARGUMENT);
    CHECK_STATUS(tchat_chat_send_text_async(NULL, "x", NULL), TCHAT_INVALID_ARGUMENT);
    CHECK_STATUS(tchat_chat_send_text_async(chat, NULL, NULL), TCHAT_INVALID_ARGUMENT);
    CHECK_STATUS(tchat_chat_free(chat), TCHAT_OK);
}

/* A callback sink that also records the done events and the threads they ran on. */
typedef struct {
    t_sink sink;
    int dones;
    tchat_status open_status;
    int overlapping; /* a call started while another was running */
    int in_call;
} async_sink;

static void async_callback(void *user_data, const tchat_event *ev) {
    async_sink *s = (async_sink *)user_data;
    pthread_mutex_lock(&s->sink.lock);
    if (s->in_call) s->overlapping = 1;
    s->in_call = 1;
    pthread_mutex_unlock(&s->sink.lock);
    if (tchat_event_get_kind(ev) == TCHAT_EVENT_KIND_REQUEST_DONE) {
        pthread_mutex_lock(&s->sink.lock);
        if (tchat_event_request_op(ev) == TCHAT_REQUEST_OP_OPEN) s->open_status = tchat_event_error_status(ev);
        s->dones++;
        pthread_cond_broadcast(&s->sink.cond);
        pthread_mutex_unlock(&s->sink.lock);
    } else {
        t_sink_callback(&s->sink, ev);
    }
    pthread_mutex_lock(&s->sink.lock);
    s->in_call = 0;
    pthread_mutex_unlock(&s->sink.lock);
}

static void test_async_with_a_callback(tchat_client *client) {
    tchat_chat *chat = NULL;
    tchat_chat_options *o = demo_options();
    async_sink s;
    t_section("open_async with a callback: done events to the callback, never two calls at once");
    memset(&s, 0, sizeof s);
    t_sink_init(&s.sink);
    s.open_status = TCHAT_PANIC;
    CHECK_STATUS(tchat_chat_options_set_callback(o, async_callback, &s, NULL), TCHAT_OK);
    CHECK_STATUS(tchat_chat_open_async(client, o, &chat), TCHAT_OK);
    tchat_chat_options_free(o);
    CHECK_STATUS(tchat_chat_send_text_async(chat, "via callback", NULL), TCHAT_OK);
    CHECK(t_sink_wait(&s.sink, T_TURN_MS));
    pthread_mutex_lock(&s.sink.lock);
    CHECK(s.dones == 2);
    CHECK(s.open_status == TCHAT_OK);
    CHECK(!s.overlapping);
    CHECK_STR(s.sink.turn.text, "You said: via callback");
    pthread_mutex_unlock(&s.sink.lock);
    CHECK_STATUS(tchat_chat_free(chat), TCHAT_OK);
    t_sink_destroy(&s.sink);
}

/* A client for http://127.0.0.1:port with the default retry policy and timeouts. */
static tchat_client *client_for_port(int port) {
    char url[64];
    tchat_client *client = NULL;
    tchat_client_options *o = tchat_client_options_new();
    snprintf(url, sizeof url, "http://127.0.0.1:%d", port);
    CHECK_STATUS(tchat_client_options_set_base_url(o, url), TCHAT_OK);
    CHECK_STATUS(tchat_client_options_set_token(o, "tr_dev_tchat_local"), TCHAT_OK);
    CHECK_STATUS(tchat_client_new(o, &client), TCHAT_OK);
    tchat_client_options_free(o);
    return client;
}

static void test_refused_port(void) {
    int port = 1; /* nothing listens there (as in test_api.c) */
    char want[64];
    tchat_client *client = client_for_port(port);
    tchat_chat *chat = SENTINEL;
    tchat_chat_options *o = demo_options();
    frame_log log;
    long long t0 = t_now_ms(), took;
    t_section("a refused port fails fast (2 attempts, 100 ms apart), blocking and async");
    CHECK_STATUS(tchat_chat_open(client, o, &chat), TCHAT_NETWORK);
    took = t_now_ms() - t0;
    printf("  tchat_chat_open against a closed port failed after %lld ms: %s\n", took, tchat_last_error_message());
    CHECK(took < 2000);
    CHECK(chat == SENTINEL);
    snprintf(want, sizeof want, "http://127.0.0.1:%d/api/v1/sessions", port);
    CHECK_CONTAINS(tchat_last_error_message(), want);
    CHECK_CONTAINS(tchat_last_error_message(), "refused");

    chat = NULL;
    memset(&log, 0, sizeof log);
    CHECK_STATUS(tchat_chat_open_async(client, o, &chat), TCHAT_OK);
    CHECK(tchat_chat_session_id(chat) == NULL);
    CHECK_STATUS(tchat_chat_send_text_async(chat, "queued behind a failing open", NULL), TCHAT_OK);
    run_frames(chat, &log, 2, 0, 10000);
    CHECK(log.dones == 2);
    CHECK(log.done_ops[0] == TCHAT_REQUEST_OP_OPEN && log.done_status[0] == TCHAT_NETWORK);
    CHECK(log.done_ops[1] == TCHAT_REQUEST_OP_SEND_TEXT && log.done_status[1] == TCHAT_NETWORK);
    CHECK_CONTAINS(log.done_message, want);
    /* After a failed open every call fails with its error. */
    CHECK_STATUS(tchat_chat_send_text(chat, "x"), TCHAT_NETWORK);
    CHECK(tchat_chat_session_id(chat) == NULL);
    CHECK_STATUS(tchat_chat_free(chat), TCHAT_OK);
    tchat_chat_options_free(o);
    tchat_client_free(client);
}

/* A server that accepts a connection and reads the request, then never answers. */
typedef struct {
    int listen_fd;
    int conn_fd;
    tchat_client *client;
    int got_request;
} silent_server;

static void *accept_then_cancel(void *arg) {
    silent_server *srv = (silent_server *)arg;
    char buf[4096];
    size_t have = 0;
    srv->conn_fd = accept(srv->listen_fd, NULL, NULL);
    /* Read until the request's headers are in: the open is now waiting for the answer. */
    while (srv->conn_fd >= 0 && have < sizeof buf - 1) {
        ssize_t n = read(srv->conn_fd, buf + have, sizeof buf - 1 - have);
        if (n <= 0) break;
        have += (size_t)n;
        buf[have] = '\0';
        if (strstr(buf, "\r\n\r\n")) {
            srv->got_request = 1;
            break;
        }
    }
    tchat_client_cancel_calls(srv->client);
    return NULL;
}

static void test_cancel_a_blocked_open(void) {
    silent_server srv;
    struct sockaddr_in addr;
    socklen_t len = sizeof addr;
    pthread_t thread;
    tchat_chat *chat = SENTINEL;
    tchat_chat_options *o = demo_options();
    long long t0, took;
    t_section("tchat_client_cancel_calls from another thread ends an open the server never answers");
    memset(&srv, 0, sizeof srv);
    memset(&addr, 0, sizeof addr);
    srv.listen_fd = socket(AF_INET, SOCK_STREAM, 0);
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    CHECK(bind(srv.listen_fd, (struct sockaddr *)&addr, sizeof addr) == 0);
    CHECK(listen(srv.listen_fd, 4) == 0);
    getsockname(srv.listen_fd, (struct sockaddr *)&addr, &len);
    srv.conn_fd = -1;
    srv.client = client_for_port(ntohs(addr.sin_port));
    pthread_create(&thread, NULL, accept_then_cancel, &srv);
    t0 = t_now_ms();
    CHECK_STATUS(tchat_chat_open(srv.client, o, &chat), TCHAT_CANCELLED);
    took = t_now_ms() - t0;
    CHECK_CONTAINS(tchat_last_error_message(), "cancelled");
    pthread_join(thread, NULL);
    CHECK(srv.got_request);
    printf("  the blocked open returned TCHAT_CANCELLED %lld ms after it started\n", took);
    CHECK(took < 5000); /* the response timeout is 30 s by default */
    CHECK(chat == SENTINEL);
    CHECK_STATUS(tchat_client_cancel_calls(NULL), TCHAT_INVALID_ARGUMENT);
    if (srv.conn_fd >= 0) close(srv.conn_fd);
    close(srv.listen_fd);
    tchat_chat_options_free(o);
    tchat_client_free(srv.client);
}

int main(void) {
    tchat_client *client = t_client();
    test_open_and_send_from_a_game_loop(client);
    test_async_with_a_callback(client);
    tchat_client_free(client);
    test_refused_port();
    test_cancel_a_blocked_open();
    return t_finish();
}
