/*
 * Threads: a poll loop with timeouts, wake-ups from another thread (including an unbounded wait),
 * a worker thread polling a turn while the main thread sends, several threads sending on one chat
 * at once, one client shared by chats on several threads, and owned events handed across threads.
 */
#include "testlib.h"

typedef struct {
    tchat_chat *chat;
    int timeout_ms;
    tchat_status status;
    long long waited_ms;
} waiter;

static void *wait_thread(void *arg) {
    waiter *w = (waiter *)arg;
    tchat_event *ev = NULL;
    long long t0 = t_now_ms();
    w->status = tchat_chat_next_event(w->chat, w->timeout_ms, &ev);
    w->waited_ms = t_now_ms() - t0;
    if (w->status == TCHAT_OK) tchat_event_free(ev);
    return NULL;
}

static void test_timeouts_and_wake(tchat_client *client) {
    tchat_chat *chat = t_open(client, NULL);
    tchat_event *ev = SENTINEL;
    waiter w;
    pthread_t th;
    long long t0;
    int i, timeouts = 0;
    t_section("poll timeouts and wake from another thread");
    if (!chat) {
        CHECK(chat != NULL);
        return;
    }
    /* non-blocking polls on an idle chat, as a game loop does every frame */
    t0 = t_now_ms();
    for (i = 0; i < 100; i++) {
        if (tchat_chat_next_event(chat, 0, &ev) == TCHAT_NO_EVENT) timeouts++;
    }
    CHECK(timeouts == 100);
    CHECK(ev == SENTINEL);
    printf("100 non-blocking polls took %lld ms\n", t_now_ms() - t0);

    /* a bounded wait returns after its timeout */
    t0 = t_now_ms();
    CHECK_STATUS(tchat_chat_next_event(chat, 100, &ev), TCHAT_NO_EVENT);
    CHECK(t_now_ms() - t0 >= 95);

    /* an unbounded wait (-1) returns when another thread wakes it */
    w.chat = chat;
    w.timeout_ms = -1;
    w.status = TCHAT_OK;
    pthread_create(&th, NULL, wait_thread, &w);
    t_sleep_ms(300);
    t0 = t_now_ms();
    CHECK_STATUS(tchat_chat_wake(chat), TCHAT_OK);
    pthread_join(th, NULL);
    printf("woken after %lld ms (wake to return: %lld ms)\n", w.waited_ms, t_now_ms() - t0);
    CHECK(w.status == TCHAT_WOKEN);
    CHECK(w.waited_ms >= 250);

    /* a wake with nobody waiting makes the next wait return at once */
    CHECK_STATUS(tchat_chat_wake(chat), TCHAT_OK);
    t0 = t_now_ms();
    CHECK_STATUS(tchat_chat_next_event(chat, 10000, &ev), TCHAT_WOKEN);
    CHECK(t_now_ms() - t0 < 5000);

    /* a waiting poll returns as soon as an event arrives */
    w.timeout_ms = 60000;
    pthread_create(&th, NULL, wait_thread, &w);
    t_sleep_ms(100);
    CHECK_STATUS(tchat_chat_send_text(chat, "hello there"), TCHAT_OK);
    pthread_join(th, NULL);
    CHECK(w.status == TCHAT_OK);
    CHECK(w.waited_ms < 60000);
    {
        t_turn turn;
        t_turn_reset(&turn);
        CHECK(t_poll_turn(chat, &turn, T_TURN_MS));
    }
    CHECK_STATUS(tchat_chat_free(chat), TCHAT_OK);
}

/* A worker polls the turn; the main thread sends and then waits for the worker. */
typedef struct {
    tchat_chat *chat;
    t_turn turn;
    int ok;
} poller;

static void *poll_thread(void *arg) {
    poller *p = (poller *)arg;
    t_turn_reset(&p->turn);
    p->ok = t_poll_turn(p->chat, &p->turn, T_TURN_MS);
    return NULL;
}

static void test_worker_polls(tchat_client *client) {
    tchat_chat *chat = t_open(client, NULL);
    poller p;
    pthread_t th;
    t_section("a worker thread polls while the main thread sends");
    if (!chat) {
        CHECK(chat != NULL);
        return;
    }
    p.chat = chat;
    pthread_create(&th, NULL, poll_thread, &p);
    CHECK_STATUS(tchat_chat_send_text(chat, "from the main thread"), TCHAT_OK);
    pthread_join(th, NULL);
    CHECK(p.ok);
    CHECK_STR(p.turn.text, "You said: from the main thread");
    CHECK_STATUS(tchat_chat_free(chat), TCHAT_OK);
}

/* Several threads call into one chat at once: sends are serialized, nothing is lost or torn. They
 * steer a long turn that is already streaming, so that every message lands in that turn. (Separate
 * quick turns sent at once would race the server's trim of `.out`; see the report on the chat
 * layer.) */
typedef struct {
    tchat_chat *chat;
    int index;
    tchat_status status;
} sender;

static void *send_thread(void *arg) {
    sender *s = (sender *)arg;
    char text[64];
    char *state = NULL;
    snprintf(text, sizeof text, "sender %d", s->index);
    s->status = s->index % 2 ? tchat_chat_steer(s->chat, text) : tchat_chat_send_text(s->chat, text);
    /* reads from several threads too */
    if (tchat_chat_save_state(s->chat, &state) == TCHAT_OK) tchat_string_free(state);
    (void)tchat_chat_last_event_id(s->chat);
    (void)tchat_chat_is_turn_in_flight(s->chat);
    return NULL;
}

static void test_concurrent_sends(tchat_client *client) {
    tchat_chat *chat = t_open(client, "/slow 1500");
    sender s[4];
    pthread_t th[4];
    t_turn turn;
    int i, ok = 1;
    t_section("concurrent sends on one chat");
    if (!chat) {
        CHECK(chat != NULL);
        return;
    }
    /* wait until the long turn streams */
    t_turn_reset(&turn);
    while (turn.deltas == 0 && !turn.complete && !turn.errors) {
        tchat_event *ev = NULL;
        if (tchat_chat_next_event(chat, T_TURN_MS, &ev) != TCHAT_OK) break;
        t_turn_add(&turn, ev);
        tchat_event_free(ev);
    }
    CHECK(turn.deltas > 0 && !turn.complete);
    for (i = 0; i < 4; i++) {
        s[i].chat = chat;
        s[i].index = i;
        pthread_create(&th[i], NULL, send_thread, &s[i]);
    }
    for (i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        if (s[i].status != TCHAT_OK) ok = 0;
    }
    CHECK(ok);
    CHECK(t_poll_turn(chat, &turn, T_TURN_MS));
    CHECK_CONTAINS(turn.text, "tick 1500");
    for (i = 0; i < 4; i++) {
        char want[64];
        snprintf(want, sizeof want, "Noted: sender %d", i);
        CHECK_CONTAINS(turn.text, want);
    }
    CHECK(!turn.seq_decreased);
    CHECK(!tchat_chat_is_turn_in_flight(chat));
    CHECK_STATUS(tchat_chat_free(chat), TCHAT_OK);
}

/* One client shared by threads that each open their own chat. */
typedef struct {
    tchat_client *client;
    int index;
    int ok;
    tchat_event *last; /* an owned event handed back to the main thread */
} opener;

static void *open_thread(void *arg) {
    opener *o = (opener *)arg;
    tchat_chat *chat;
    char text[64];
    t_turn turn;
    snprintf(text, sizeof text, "thread %d", o->index);
    chat = t_open(o->client, text);
    o->ok = 0;
    o->last = NULL;
    if (!chat) return NULL;
    t_turn_reset(&turn);
    while (!turn.complete) {
        tchat_event *ev = NULL;
        tchat_status s = tchat_chat_next_event(chat, T_TURN_MS, &ev);
        if (s != TCHAT_OK) break;
        t_turn_add(&turn, ev);
        if (turn.complete) {
            o->last = ev; /* keep it: events may move between threads as a whole */
        } else {
            tchat_event_free(ev);
        }
    }
    snprintf(text, sizeof text, "You said: thread %d", o->index);
    o->ok = turn.complete && strcmp(turn.text, text) == 0;
    tchat_chat_free(chat);
    return NULL;
}

static void test_shared_client(tchat_client *client) {
    opener o[3];
    pthread_t th[3];
    int i;
    t_section("one client, chats on three threads, events handed across threads");
    for (i = 0; i < 3; i++) {
        o[i].client = client;
        o[i].index = i;
        pthread_create(&th[i], NULL, open_thread, &o[i]);
    }
    for (i = 0; i < 3; i++) {
        char want[64];
        pthread_join(th[i], NULL);
        CHECK(o[i].ok);
        CHECK(o[i].last != NULL);
        CHECK(tchat_event_get_kind(o[i].last) == TCHAT_EVENT_KIND_TURN_COMPLETE);
        snprintf(want, sizeof want, "You said: thread %d", i);
        CHECK_CONTAINS(tchat_event_message_json(o[i].last, NULL), want);
        tchat_event_free(o[i].last);
    }
}

/* A slow callback: it says it has started, works for a while, then says it is done. */
typedef struct {
    pthread_mutex_t lock;
    pthread_cond_t changed;
    int entered;  /* calls that started */
    int finished; /* calls that ended */
    int freed;    /* user_data_free ran */
} slow_ctx;

static void slow_callback(void *user_data, const tchat_event *ev) {
    slow_ctx *c = (slow_ctx *)user_data;
    (void)ev;
    pthread_mutex_lock(&c->lock);
    c->entered++;
    pthread_cond_broadcast(&c->changed);
    pthread_mutex_unlock(&c->lock);
    t_sleep_ms(300); /* the application's own slow work, not a synchronisation */
    pthread_mutex_lock(&c->lock);
    c->finished++;
    pthread_mutex_unlock(&c->lock);
}

static void slow_free(void *user_data) {
    slow_ctx *c = (slow_ctx *)user_data;
    pthread_mutex_lock(&c->lock);
    c->freed++;
    pthread_mutex_unlock(&c->lock);
}

static void test_unset_callback_is_a_barrier(tchat_client *client) {
    slow_ctx c;
    int entered, finished, freed;
    long long t0;
    tchat_chat *chat = t_open(client, NULL);
    t_section("unsetting a callback waits for the call in progress (a barrier)");
    if (!chat) {
        CHECK(chat != NULL);
        return;
    }
    memset(&c, 0, sizeof c);
    pthread_mutex_init(&c.lock, NULL);
    pthread_cond_init(&c.changed, NULL);
    CHECK_STATUS(tchat_chat_set_callback(chat, slow_callback, &c, slow_free), TCHAT_OK);
    CHECK_STATUS(tchat_chat_send_text(chat, "hello"), TCHAT_OK);
    /* Wait (on an event, bounded) until the callback is inside its first call. */
    pthread_mutex_lock(&c.lock);
    t0 = t_now_ms();
    while (c.entered == 0 && t_now_ms() - t0 < T_TURN_MS) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_sec += 1;
        pthread_cond_timedwait(&c.changed, &c.lock, &ts);
    }
    pthread_mutex_unlock(&c.lock);
    CHECK_STATUS(tchat_chat_set_callback(chat, NULL, NULL, NULL), TCHAT_OK);
    /* When it returns, every call that started has ended, and user_data_free ran here: the
       context may be destroyed now. */
    pthread_mutex_lock(&c.lock);
    entered = c.entered;
    finished = c.finished;
    freed = c.freed;
    pthread_mutex_unlock(&c.lock);
    CHECK(entered >= 1);
    CHECK(finished == entered);
    CHECK(freed == 1);
    pthread_cond_destroy(&c.changed);
    pthread_mutex_destroy(&c.lock);
    CHECK_STATUS(tchat_chat_free(chat), TCHAT_OK);
}

int main(void) {
    tchat_client *client = t_client();
    test_timeouts_and_wake(client);
    test_worker_polls(client);
    test_concurrent_sends(client);
    test_shared_client(client);
    test_unset_callback_is_a_barrier(client);
    tchat_client_free(client);
    return t_finish();
}
