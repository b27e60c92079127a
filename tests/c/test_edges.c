/*
 * Conversations at their edges, through the C API: reopening a chat that has turns (no replay,
 * the last answer offered as state), a run killed mid-turn (a TCHAT_RUN_ENDED error event ends the
 * turn, the next send works), and a session closed elsewhere by a server that writes nothing on
 * `.out` (a session-closed event all the same). Faults go to POST /__devserver/faults.
 */
#include "testlib.h"

/* A client whose long-poll windows last one second, so an empty window comes quickly. */
static tchat_client *quick_client(void) {
    tchat_client *client = NULL;
    tchat_client_options *o = tchat_client_options_new();
    CHECK_STATUS(tchat_client_options_set_base_url(o, getenv("TRIGGER_API_URL")), TCHAT_OK);
    CHECK_STATUS(tchat_client_options_set_token(o, t_env("TRIGGER_SECRET_KEY", "tr_dev_tchat_local")), TCHAT_OK);
    CHECK_STATUS(tchat_client_options_set_retry(o, 2, 50, 200), TCHAT_OK);
    CHECK_STATUS(tchat_client_options_set_long_poll_seconds(o, 1), TCHAT_OK);
    CHECK_STATUS(tchat_client_new(o, &client), TCHAT_OK);
    tchat_client_options_free(o);
    return client;
}

static tchat_chat *open_id(tchat_client *client, const char *chat_id) {
    tchat_chat *chat = NULL;
    tchat_chat_options *o = tchat_chat_options_new();
    tchat_chat_options_set_task_id(o, "demo");
    tchat_chat_options_set_chat_id(o, chat_id);
    if (tchat_chat_open(client, o, &chat) != TCHAT_OK) fprintf(stderr, "open: %s\n", tchat_last_error_message());
    tchat_chat_options_free(o);
    return chat;
}

/* The next event that is not a chunk (owned by the caller), or NULL after timeout_ms. */
static tchat_event *next_non_chunk(tchat_chat *chat, long timeout_ms) {
    long long deadline = t_now_ms() + timeout_ms;
    while (t_now_ms() < deadline) {
        tchat_event *ev = NULL;
        if (tchat_chat_next_event(chat, 100, &ev) != TCHAT_OK) continue;
        if (tchat_event_get_kind(ev) != TCHAT_EVENT_KIND_CHUNK) return ev;
        tchat_event_free(ev);
    }
    return NULL;
}

static void test_reopen(tchat_client *client) {
    tchat_chat *first, *again;
    tchat_event *ev = NULL;
    t_turn turn;
    char *last = NULL;
    t_section("reopening a chat with turns: no replay; the last answer is state");
    first = open_id(client, "c-reopen");
    if (!first) {
        CHECK(first != NULL);
        return;
    }
    t_turn_reset(&turn);
    CHECK_STATUS(tchat_chat_send_text(first, "the old question"), TCHAT_OK);
    CHECK(t_poll_turn(first, &turn, T_TURN_MS));
    CHECK_STATUS(tchat_chat_free(first), TCHAT_OK);

    again = open_id(client, "c-reopen");
    if (!again) {
        CHECK(again != NULL);
        return;
    }
    CHECK_STATUS(tchat_chat_next_event(again, 300, &ev), TCHAT_NO_EVENT);
    CHECK(ev == NULL);
    CHECK_STATUS(tchat_chat_last_assistant_message(again, &last), TCHAT_OK);
    CHECK(last != NULL && strstr(last, "You said: the old question") != NULL);
    tchat_string_free(last);
    t_turn_reset(&turn);
    CHECK_STATUS(tchat_chat_send_text(again, "the new question"), TCHAT_OK);
    CHECK(t_poll_turn(again, &turn, T_TURN_MS));
    CHECK_STR(turn.text, "You said: the new question");
    CHECK_STATUS(tchat_chat_free(again), TCHAT_OK);
}

static void test_run_killed_mid_turn(tchat_client *client) {
    tchat_chat *chat = open_id(client, "c-killed");
    tchat_event *ev;
    t_turn turn;
    long long started;
    t_section("a run killed mid-turn: TCHAT_RUN_ENDED ends the turn; the next send works");
    if (!chat) {
        CHECK(chat != NULL);
        return;
    }
    /* Only this chat's run: another test's turn may still stream on the shared devserver. */
    CHECK(t_devserver_post("/__devserver/faults", "{\"kill_run_after_turn_records\":4,\"kill_run_session\":\"c-killed\"}") == 200);
    started = t_now_ms();
    CHECK_STATUS(tchat_chat_send_text(chat, "/slow 30"), TCHAT_OK);
    ev = next_non_chunk(chat, T_TURN_MS);
    CHECK(ev != NULL);
    if (ev) {
        CHECK(tchat_event_get_kind(ev) == TCHAT_EVENT_KIND_ERROR);
        CHECK(tchat_event_error_status(ev) == TCHAT_RUN_ENDED);
        CHECK_CONTAINS(tchat_event_error_message(ev), "the run ended without completing the turn");
        tchat_event_free(ev);
    }
    printf("turn ended %lld ms after the send\n", t_now_ms() - started);
    CHECK(!tchat_chat_is_turn_in_flight(chat));
    t_turn_reset(&turn);
    CHECK_STATUS(tchat_chat_send_text(chat, "still there?"), TCHAT_OK);
    CHECK(t_poll_turn(chat, &turn, T_TURN_MS));
    CHECK_CONTAINS(turn.text, "still there?");
    CHECK_STATUS(tchat_chat_free(chat), TCHAT_OK);
}

static void test_closed_silently_elsewhere(tchat_client *client) {
    tchat_chat *chat = t_open(client, NULL);
    tchat_chat *other = NULL;
    tchat_event *ev;
    char *state = NULL;
    t_turn turn;
    t_section("a session closed elsewhere by a server that writes nothing: session-closed event");
    if (!chat) {
        CHECK(chat != NULL);
        return;
    }
    CHECK(t_devserver_post("/__devserver/faults", "{\"close_writes_nothing\":true}") == 200);
    t_turn_reset(&turn);
    CHECK_STATUS(tchat_chat_send_text(chat, "/slow 100000"), TCHAT_OK);
    CHECK_STATUS(tchat_chat_save_state(chat, &state), TCHAT_OK);
    CHECK_STATUS(tchat_chat_restore(client, state, &other), TCHAT_OK);
    tchat_string_free(state);
    if (other) {
        CHECK_STATUS(tchat_chat_close_session(other, "closed quietly"), TCHAT_OK);
        CHECK_STATUS(tchat_chat_free(other), TCHAT_OK);
    }
    ev = next_non_chunk(chat, T_TURN_MS);
    CHECK(ev != NULL);
    if (ev) {
        CHECK(tchat_event_get_kind(ev) == TCHAT_EVENT_KIND_SESSION_CLOSED);
        CHECK_STR(tchat_event_session_closed_reason(ev), "closed quietly");
        tchat_event_free(ev);
    }
    CHECK_STATUS(tchat_chat_send_text(chat, "hello?"), TCHAT_SESSION_CLOSED);
    t_devserver_post("/__devserver/faults", "{}");
    CHECK_STATUS(tchat_chat_free(chat), TCHAT_OK);
}

/* Counts the occurrences of `needle` in `hay`. */
static int count_of(const char *hay, const char *needle) {
    int n = 0;
    const char *p = hay;
    while (p && (p = strstr(p, needle)) != NULL) {
        n++;
        p += strlen(needle);
    }
    return n;
}

static void test_approval_continues_the_message(tchat_client *client) {
    tchat_chat *chat = t_open(client, NULL);
    t_turn ask, turn;
    char *last = NULL;
    t_section("a tool approval continues the same assistant message");
    if (!chat) {
        CHECK(chat != NULL);
        return;
    }
    t_turn_reset(&ask);
    CHECK_STATUS(tchat_chat_send_text(chat, "/tool Rome"), TCHAT_OK);
    CHECK(t_poll_turn(chat, &ask, T_TURN_MS));
    CHECK(ask.approvals == 1);
    t_turn_reset(&turn);
    CHECK_STATUS(tchat_chat_approve(chat, ask.approval, true, NULL), TCHAT_OK);
    CHECK(t_poll_turn(chat, &turn, T_TURN_MS));
    CHECK_STR(turn.text, "The weather in Rome is sunny, 21°C.");
    CHECK(count_of(turn.message_json, "\"type\":\"tool-get_weather\"") == 1);
    CHECK_CONTAINS(turn.message_json, "\"state\":\"output-available\"");
    CHECK_CONTAINS(turn.message_json, "\"city\":\"Rome\"");
    CHECK_STATUS(tchat_chat_last_assistant_message(chat, &last), TCHAT_OK);
    CHECK_STR(last, turn.message_json);
    tchat_string_free(last);
    CHECK_STATUS(tchat_chat_free(chat), TCHAT_OK);
}

static void test_restore_mid_turn_one_text_part(tchat_client *client) {
    tchat_chat *chat = t_open(client, NULL);
    tchat_chat *restored = NULL;
    char *state = NULL;
    t_turn turn;
    t_section("restored mid-turn: one text part, done, the whole reply once");
    if (!chat) {
        CHECK(chat != NULL);
        return;
    }
    t_turn_reset(&turn);
    CHECK_STATUS(tchat_chat_send_text(chat, "/slow 300"), TCHAT_OK);
    while (turn.deltas < 5 && !turn.complete && !turn.errors) {
        tchat_event *ev = NULL;
        if (tchat_chat_next_event(chat, T_TURN_MS, &ev) != TCHAT_OK) break;
        t_turn_add(&turn, ev);
        tchat_event_free(ev);
    }
    CHECK(!turn.complete);
    CHECK_STATUS(tchat_chat_save_state(chat, &state), TCHAT_OK);
    CHECK_STATUS(tchat_chat_free(chat), TCHAT_OK);
    CHECK_STATUS(tchat_chat_restore(client, state, &restored), TCHAT_OK);
    tchat_string_free(state);
    if (!restored) return;
    t_turn_reset(&turn);
    CHECK(t_poll_turn(restored, &turn, T_TURN_MS));
    CHECK(count_of(turn.message_json, "\"type\":\"text\"") == 1);
    CHECK(count_of(turn.message_json, "\"state\":\"streaming\"") == 0);
    CHECK(count_of(turn.message_json, "tick 300\"") == 1);
    CHECK(count_of(turn.message_json, "\"tick 1 tick 2 ") == 1);
    CHECK_STATUS(tchat_chat_free(restored), TCHAT_OK);
}

static void test_idle_watch_hears_a_close(void) {
    tchat_client *client = NULL;
    tchat_client_options *o = tchat_client_options_new();
    tchat_chat *chat, *other = NULL;
    tchat_event *ev;
    char *state = NULL;
    t_turn turn;
    t_section("with the idle watch, a close by someone else between turns: session-closed event");
    CHECK_STATUS(tchat_client_options_set_base_url(o, getenv("TRIGGER_API_URL")), TCHAT_OK);
    CHECK_STATUS(tchat_client_options_set_token(o, t_env("TRIGGER_SECRET_KEY", "tr_dev_tchat_local")), TCHAT_OK);
    CHECK_STATUS(tchat_client_options_set_long_poll_seconds(o, 1), TCHAT_OK);
    CHECK_STATUS(tchat_client_options_set_idle_watch(o, true), TCHAT_OK);
    CHECK_STATUS(tchat_client_options_set_idle_watch(NULL, true), TCHAT_INVALID_ARGUMENT);
    CHECK_STATUS(tchat_client_new(o, &client), TCHAT_OK);
    tchat_client_options_free(o);
    if (!client) return;
    chat = t_open(client, NULL);
    if (!chat) {
        CHECK(chat != NULL);
        tchat_client_free(client);
        return;
    }
    t_turn_reset(&turn);
    CHECK_STATUS(tchat_chat_send_text(chat, "before the close"), TCHAT_OK);
    CHECK(t_poll_turn(chat, &turn, T_TURN_MS));
    CHECK_STATUS(tchat_chat_save_state(chat, &state), TCHAT_OK);
    CHECK_STATUS(tchat_chat_restore(client, state, &other), TCHAT_OK);
    tchat_string_free(state);
    if (other) {
        CHECK_STATUS(tchat_chat_close_session(other, "closed while idle"), TCHAT_OK);
        CHECK_STATUS(tchat_chat_free(other), TCHAT_OK);
    }
    ev = next_non_chunk(chat, T_TURN_MS);
    CHECK(ev != NULL);
    if (ev) {
        CHECK(tchat_event_get_kind(ev) == TCHAT_EVENT_KIND_SESSION_CLOSED);
        CHECK_STR(tchat_event_session_closed_reason(ev), "closed while idle");
        tchat_event_free(ev);
    }
    CHECK_STATUS(tchat_chat_free(chat), TCHAT_OK);
    tchat_client_free(client);
}

/* Polls until a turn-complete; returns it (owned) or NULL after timeout_ms. Text deltas go to `text`. */
static tchat_event *poll_to_turn_end(tchat_chat *chat, char *text, size_t cap, long timeout_ms) {
    long long deadline = t_now_ms() + timeout_ms;
    while (t_now_ms() < deadline) {
        tchat_event *ev = NULL;
        if (tchat_chat_next_event(chat, 100, &ev) != TCHAT_OK) continue;
        if (tchat_event_get_kind(ev) == TCHAT_EVENT_KIND_TURN_COMPLETE) return ev;
        if (tchat_event_get_kind(ev) == TCHAT_EVENT_KIND_CHUNK && text) {
            const char *d = tchat_event_delta(ev, NULL);
            const char *type = tchat_event_chunk_type(ev);
            if (d && type && strcmp(type, "text-delta") == 0 && strlen(text) + strlen(d) < cap) strcat(text, d);
        }
        tchat_event_free(ev);
    }
    return NULL;
}

static void test_settled_close_mid_turn(tchat_client *client) {
    tchat_chat *chat = t_open(client, NULL), *restored = NULL;
    char *state = NULL, *p;
    tchat_event *ev;
    t_turn turn;
    t_section("a settled close mid-turn: a turn-complete flagged incomplete");
    if (!chat) {
        CHECK(chat != NULL);
        return;
    }
    t_turn_reset(&turn);
    CHECK_STATUS(tchat_chat_send_text(chat, "first"), TCHAT_OK);
    CHECK(t_poll_turn(chat, &turn, T_TURN_MS));
    CHECK_STATUS(tchat_chat_save_state(chat, &state), TCHAT_OK);
    CHECK_STATUS(tchat_chat_free(chat), TCHAT_OK);
    if (!state) return;
    /* The state of an app that saved "turn in flight" at the very end of the turn. */
    p = strstr(state, "\"turnInFlight\":false");
    CHECK(p != NULL);
    if (p) memcpy(p, "\"turnInFlight\":true ", strlen("\"turnInFlight\":true "));
    CHECK_STATUS(tchat_chat_restore(client, state, &restored), TCHAT_OK);
    tchat_string_free(state);
    if (!restored) return;
    ev = poll_to_turn_end(restored, NULL, 0, 3000);
    CHECK(ev != NULL);
    if (ev) {
        CHECK(tchat_event_incomplete(ev));
        tchat_event_free(ev);
    }
    CHECK(!tchat_chat_is_turn_in_flight(restored));
    CHECK_STATUS(tchat_chat_free(restored), TCHAT_OK);
}

static void test_turn_correlation(tchat_client *client) {
    tchat_chat *ours = open_id(client, "c-correlate"), *theirs;
    tchat_event *ev;
    char text[512] = "";
    t_turn turn;
    t_section("turn correlation: no turn-complete event for a turn this chat did not start");
    if (!ours) {
        CHECK(ours != NULL);
        return;
    }
    t_turn_reset(&turn);
    CHECK_STATUS(tchat_chat_send_text(ours, "warm up"), TCHAT_OK);
    CHECK(t_poll_turn(ours, &turn, T_TURN_MS));
    theirs = open_id(client, "c-correlate");
    if (theirs) {
        t_turn_reset(&turn);
        CHECK_STATUS(tchat_chat_send_text(theirs, "from the other device"), TCHAT_OK);
        CHECK(t_poll_turn(theirs, &turn, T_TURN_MS));
        CHECK_STATUS(tchat_chat_free(theirs), TCHAT_OK);
    }
    CHECK_STATUS(tchat_chat_send_text(ours, "mine"), TCHAT_OK);
    ev = poll_to_turn_end(ours, text, sizeof text, T_TURN_MS);
    CHECK(ev != NULL);
    if (ev) {
        CHECK_CONTAINS(tchat_event_message_json(ev, NULL), "You said: mine");
        CHECK(strstr(tchat_event_message_json(ev, NULL), "other device") == NULL);
        tchat_event_free(ev);
    }
    CHECK_STATUS(tchat_chat_free(ours), TCHAT_OK);
}

static void test_reconnect_now(tchat_client *client) {
    tchat_chat *chat = t_open(client, NULL);
    tchat_event *ev;
    char text[512] = "";
    long long started;
    t_section("tchat_chat_reconnect_now replaces a silent connection at once");
    if (!chat) {
        CHECK(chat != NULL);
        return;
    }
    CHECK(t_devserver_post("/__devserver/faults", "{\"stall_next_out_ms\":20000}") == 200);
    started = t_now_ms();
    CHECK_STATUS(tchat_chat_send_text(chat, "/slow 5"), TCHAT_OK);
    CHECK_STATUS(tchat_chat_reconnect_now(chat), TCHAT_OK);
    CHECK_STATUS(tchat_chat_reconnect_now(NULL), TCHAT_INVALID_ARGUMENT);
    ev = poll_to_turn_end(chat, text, sizeof text, T_TURN_MS);
    CHECK(ev != NULL);
    if (ev) tchat_event_free(ev);
    CHECK_STR(text, "tick 1 tick 2 tick 3 tick 4 tick 5");
    CHECK(t_now_ms() - started < 10000);
    printf("turn complete %lld ms after the send\n", t_now_ms() - started);
    t_devserver_post("/__devserver/faults", "{}");
    CHECK_STATUS(tchat_chat_free(chat), TCHAT_OK);
}

static void test_watch_mode(tchat_client *client) {
    tchat_chat *driver = open_id(client, "c-watched"), *watcher = NULL;
    tchat_chat_options *o = tchat_chat_options_new();
    tchat_event *ev;
    char text[512];
    t_turn turn;
    int i;
    t_section("watch mode: a watching chat sees every turn another chat drives, once");
    CHECK_STATUS(tchat_chat_options_set_watch(NULL, true), TCHAT_INVALID_ARGUMENT);
    tchat_chat_options_set_task_id(o, "demo");
    tchat_chat_options_set_chat_id(o, "c-watched");
    CHECK_STATUS(tchat_chat_options_set_watch(o, true), TCHAT_OK);
    CHECK_STATUS(tchat_chat_open(client, o, &watcher), TCHAT_OK);
    tchat_chat_options_free(o);
    if (!driver || !watcher) {
        CHECK(driver != NULL && watcher != NULL);
        tchat_chat_free(driver);
        tchat_chat_free(watcher);
        return;
    }
    for (i = 0; i < 2; i++) {
        char message[64], want[96];
        snprintf(message, sizeof message, "turn number %d", i);
        snprintf(want, sizeof want, "You said: %s", message);
        t_turn_reset(&turn);
        CHECK_STATUS(tchat_chat_send_text(driver, message), TCHAT_OK);
        CHECK(t_poll_turn(driver, &turn, T_TURN_MS));
        CHECK_STR(turn.text, want);
        text[0] = '\0';
        ev = poll_to_turn_end(watcher, text, sizeof text, T_TURN_MS);
        CHECK(ev != NULL);
        if (ev) tchat_event_free(ev);
        CHECK_STR(text, want);
    }
    CHECK_STATUS(tchat_chat_next_event(watcher, 300, &ev), TCHAT_NO_EVENT);
    CHECK_STATUS(tchat_chat_free(watcher), TCHAT_OK);
    CHECK_STATUS(tchat_chat_free(driver), TCHAT_OK);
}

typedef struct {
    pthread_mutex_t lock;
    int sent, first_chunk, completed, failed;
    long long seq;
    tchat_status failed_status;
    int freed;
} t_observed;

static void observe_send(void *user_data, const tchat_send_event *ev) {
    t_observed *o = user_data;
    pthread_mutex_lock(&o->lock);
    switch (ev->kind) {
    case TCHAT_SEND_EVENT_KIND_MESSAGE_SENT:
        o->sent++;
        o->seq = ev->seq;
        break;
    case TCHAT_SEND_EVENT_KIND_FIRST_CHUNK:
        o->first_chunk++;
        break;
    case TCHAT_SEND_EVENT_KIND_TURN_COMPLETED:
        o->completed++;
        break;
    case TCHAT_SEND_EVENT_KIND_SEND_FAILED:
        o->failed++;
        o->failed_status = ev->status;
        break;
    }
    pthread_mutex_unlock(&o->lock);
}

static void observed_free(void *user_data) {
    ((t_observed *)user_data)->freed++;
}

static void test_send_observer_and_metadata(void) {
    static t_observed o;
    tchat_client_options *opts = tchat_client_options_new();
    tchat_client *client = NULL;
    tchat_chat *chat;
    t_turn turn;
    t_section("the send observer: sent, first chunk, completed, failed; per-send metadata");
    memset(&o, 0, sizeof o);
    pthread_mutex_init(&o.lock, NULL);
    CHECK_STATUS(tchat_client_options_set_base_url(opts, getenv("TRIGGER_API_URL")), TCHAT_OK);
    CHECK_STATUS(tchat_client_options_set_token(opts, t_env("TRIGGER_SECRET_KEY", "tr_dev_tchat_local")), TCHAT_OK);
    CHECK_STATUS(tchat_client_options_set_send_observer(opts, observe_send, &o, observed_free), TCHAT_OK);
    CHECK_STATUS(tchat_client_options_set_send_observer(NULL, observe_send, &o, NULL), TCHAT_INVALID_ARGUMENT);
    CHECK_STATUS(tchat_client_new(opts, &client), TCHAT_OK);
    tchat_client_options_free(opts);
    if (!client) return;
    chat = t_open(client, NULL);
    if (chat) {
        t_turn_reset(&turn);
        CHECK_STATUS(tchat_chat_send_text_with_metadata(chat, "observed", "{\"trace\":\"t-1\"}"), TCHAT_OK);
        CHECK(t_poll_turn(chat, &turn, T_TURN_MS));
        CHECK_STATUS(tchat_chat_send_text_with_metadata(chat, "x", "[1]"), TCHAT_INVALID_ARGUMENT);
        CHECK_STATUS(tchat_chat_send_text_with_metadata(chat, "x", NULL), TCHAT_INVALID_ARGUMENT);
        CHECK_STATUS(tchat_chat_close_session(chat, NULL), TCHAT_OK);
        CHECK_STATUS(tchat_chat_send_text(chat, "refused"), TCHAT_SESSION_CLOSED);
        pthread_mutex_lock(&o.lock);
        CHECK(o.sent == 1);
        CHECK(o.seq == 0);
        CHECK(o.first_chunk == 1);
        CHECK(o.completed == 1);
        CHECK(o.failed == 1);
        CHECK(o.failed_status == TCHAT_SESSION_CLOSED);
        pthread_mutex_unlock(&o.lock);
        CHECK_STATUS(tchat_chat_free(chat), TCHAT_OK);
    }
    tchat_client_free(client);
    CHECK(o.freed == 1);
    pthread_mutex_destroy(&o.lock);
}

/* A client with keep_warm_ms set (or left at its default when keep_warm_ms < 0). */
static tchat_client *warm_client(long long keep_warm_ms) {
    tchat_client *client = NULL;
    tchat_client_options *o = tchat_client_options_new();
    CHECK_STATUS(tchat_client_options_set_base_url(o, getenv("TRIGGER_API_URL")), TCHAT_OK);
    CHECK_STATUS(tchat_client_options_set_token(o, t_env("TRIGGER_SECRET_KEY", "tr_dev_tchat_local")), TCHAT_OK);
    if (keep_warm_ms >= 0) CHECK_STATUS(tchat_client_options_set_keep_warm_ms(o, (uint64_t)keep_warm_ms), TCHAT_OK);
    CHECK_STATUS(tchat_client_new(o, &client), TCHAT_OK);
    tchat_client_options_free(o);
    return client;
}

/* Three turns after a first one: how many new connections they cost the client. */
static uint64_t connections_for_three_turns(tchat_client *client) {
    uint64_t before = 0, after = 0, full = 99, resumed = 99;
    t_turn turn;
    int i;
    tchat_chat *chat = t_open(client, NULL);
    if (!chat) {
        CHECK(chat != NULL);
        return 0;
    }
    t_turn_reset(&turn);
    CHECK_STATUS(tchat_chat_send_text(chat, "first"), TCHAT_OK);
    CHECK(t_poll_turn(chat, &turn, T_TURN_MS));
    CHECK_STATUS(tchat_client_connection_stats(client, &before, NULL, NULL), TCHAT_OK);
    for (i = 0; i < 3; i++) {
        t_turn_reset(&turn);
        CHECK_STATUS(tchat_chat_send_text(chat, "again"), TCHAT_OK);
        CHECK(t_poll_turn(chat, &turn, T_TURN_MS));
        CHECK_STR(turn.text, "You said: again");
    }
    CHECK_STATUS(tchat_client_connection_stats(client, &after, &full, &resumed), TCHAT_OK);
    /* Plain http to the devserver: connections, no TLS handshakes. */
    CHECK(full == 0 && resumed == 0);
    CHECK_STATUS(tchat_chat_free(chat), TCHAT_OK);
    return after - before;
}

static void test_keep_warm(void) {
    tchat_client *client;
    tchat_client_options *o;
    t_section("keep warm: the next turns stream on the open connection; 0 reconnects per turn");
    client = warm_client(-1);
    CHECK(connections_for_three_turns(client) == 0);
    tchat_client_free(client);
    client = warm_client(0);
    CHECK(connections_for_three_turns(client) == 3);
    tchat_client_free(client);
    CHECK_STATUS(tchat_client_connection_stats(NULL, NULL, NULL, NULL), TCHAT_INVALID_ARGUMENT);
    CHECK_STATUS(tchat_client_options_set_keep_warm_ms(NULL, 1), TCHAT_INVALID_ARGUMENT);

    t_section("replacing the root certificates needs a certificate");
    o = tchat_client_options_new();
    client = NULL;
    CHECK_STATUS(tchat_client_options_set_token(o, "tr_dev_x"), TCHAT_OK);
    CHECK_STATUS(tchat_client_options_set_replace_root_certs(o, true), TCHAT_OK);
    CHECK_STATUS(tchat_client_new(o, &client), TCHAT_INVALID_ARGUMENT);
    CHECK(client == NULL);
    CHECK_CONTAINS(tchat_last_error_message(), "root certificates");
    CHECK_STATUS(tchat_client_options_set_replace_root_certs(NULL, true), TCHAT_INVALID_ARGUMENT);
    tchat_client_options_free(o);
}

/* A /reason turn: the reply's text and the reasoning are told apart by kind, with no strcmp. */
static void test_chunk_kinds(tchat_client *client) {
    tchat_chat *chat = open_id(client, "c-kinds");
    char text[512] = "", reasoning[512] = "", message[8192] = "";
    char *last = NULL;
    int kinds_agree = 1, complete = 0, starts = 0, finishes = 0;
    long long deadline = t_now_ms() + T_TURN_MS;
    t_section("chunk kinds: text and reasoning deltas apart; every chunk has its kind");
    if (!chat) {
        CHECK(chat != NULL);
        return;
    }
    CHECK_STATUS(tchat_chat_send_text(chat, "/reason the sky"), TCHAT_OK);
    while (!complete && t_now_ms() < deadline) {
        tchat_event *ev = NULL;
        tchat_status st = tchat_chat_next_event(chat, 200, &ev);
        if (st == TCHAT_NO_EVENT) continue;
        CHECK_STATUS(st, TCHAT_OK);
        if (st != TCHAT_OK) break;
        if (tchat_event_get_kind(ev) == TCHAT_EVENT_KIND_CHUNK) {
            const char *type = tchat_event_chunk_type(ev);
            tchat_chunk_kind kind = tchat_event_chunk_kind(ev);
            const char *t = tchat_event_text_delta(ev, NULL), *r = tchat_event_reasoning_delta(ev, NULL);
            if (t) strncat(text, t, sizeof text - strlen(text) - 1);
            if (r) strncat(reasoning, r, sizeof reasoning - strlen(reasoning) - 1);
            /* the enum agrees with the type string, and the deltas with the enum */
            if ((strcmp(type, "text-delta") == 0) != (kind == TCHAT_CHUNK_KIND_TEXT_DELTA)) kinds_agree = 0;
            if ((strcmp(type, "reasoning-delta") == 0) != (kind == TCHAT_CHUNK_KIND_REASONING_DELTA)) kinds_agree = 0;
            if ((t != NULL) != (kind == TCHAT_CHUNK_KIND_TEXT_DELTA)) kinds_agree = 0;
            if ((r != NULL) != (kind == TCHAT_CHUNK_KIND_REASONING_DELTA)) kinds_agree = 0;
            if (strcmp(type, "reasoning-start") == 0 && kind != TCHAT_CHUNK_KIND_REASONING_START) kinds_agree = 0;
            if (strcmp(type, "text-end") == 0 && kind != TCHAT_CHUNK_KIND_TEXT_END) kinds_agree = 0;
            starts += kind == TCHAT_CHUNK_KIND_START;
            finishes += kind == TCHAT_CHUNK_KIND_FINISH;
        } else {
            CHECK(tchat_event_chunk_kind(ev) == TCHAT_CHUNK_KIND_NONE);
            CHECK(tchat_event_text_delta(ev, NULL) == NULL);
            complete = tchat_event_get_kind(ev) == TCHAT_EVENT_KIND_TURN_COMPLETE;
            if (complete) strncpy(message, tchat_event_message_json(ev, NULL), sizeof message - 1);
        }
        tchat_event_free(ev);
    }
    CHECK(complete);
    CHECK(kinds_agree);
    CHECK(starts == 1 && finishes == 1);
    CHECK_STR(text, "You said: the sky");
    CHECK_STR(reasoning, "Thinking about: the sky");
    /* One JSON shape: the turn-complete's message and the chat's last answer are the same text, in
       the AI SDK's key order (id, role, parts). */
    CHECK_STATUS(tchat_chat_last_assistant_message(chat, &last), TCHAT_OK);
    CHECK(last != NULL && strcmp(last, message) == 0);
    CHECK(strncmp(message, "{\"id\":", 6) == 0);
    CHECK(strstr(message, "\"role\"") != NULL && strstr(message, "\"parts\"") != NULL &&
          strstr(message, "\"role\"") < strstr(message, "\"parts\""));
    tchat_string_free(last);
    CHECK(tchat_event_chunk_kind(NULL) == TCHAT_CHUNK_KIND_NONE);
    CHECK(tchat_event_reasoning_delta(NULL, NULL) == NULL);
    CHECK_STATUS(tchat_chat_free(chat), TCHAT_OK);
}

static int sink_frees;
static void count_sink_free(void *user_data) {
    (void)user_data;
    __atomic_add_fetch(&sink_frees, 1, __ATOMIC_SEQ_CST);
}

/* Callbacks from the first event: set on the chat options (open) and on restore; nothing lands in
   the poll queue. */
static void test_callback_from_the_first_event(tchat_client *client) {
    t_sink sink, rest;
    tchat_chat *chat = NULL, *restored = NULL;
    tchat_chat_options *o = tchat_chat_options_new();
    tchat_event *ev = SENTINEL;
    char *state = NULL;
    long long t0;
    t_section("callbacks from the first event: on the chat options and on restore");
    t_sink_init(&sink);
    t_sink_init(&rest);
    sink_frees = 0;
    tchat_chat_options_set_task_id(o, "demo");
    tchat_chat_options_set_first_message(o, "/slow 300");
    CHECK_STATUS(tchat_chat_options_set_callback(o, t_sink_callback, &sink, count_sink_free), TCHAT_OK);
    CHECK_STATUS(tchat_chat_options_set_callback(NULL, t_sink_callback, &sink, NULL), TCHAT_INVALID_ARGUMENT);
    CHECK_STATUS(tchat_chat_open(client, o, &chat), TCHAT_OK);
    /* The options still hold the callback: its user_data is not freed with them while a chat uses it. */
    tchat_chat_options_free(o);
    CHECK(__atomic_load_n(&sink_frees, __ATOMIC_SEQ_CST) == 0);
    if (!chat) return;
    /* Wait, on the sink's condition, until a few deltas of the first message's turn arrived. */
    t0 = t_now_ms();
    pthread_mutex_lock(&sink.lock);
    while (sink.turn.deltas < 5 && !sink.turn.complete && t_now_ms() - t0 < T_TURN_MS) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_sec += 1;
        pthread_cond_timedwait(&sink.cond, &sink.lock, &ts);
    }
    CHECK(sink.turn.chunks > 0 && strncmp(sink.turn.text, "tick 1", 6) == 0);
    pthread_mutex_unlock(&sink.lock);
    CHECK_STATUS(tchat_chat_next_event(chat, 0, &ev), TCHAT_NO_EVENT);
    CHECK(ev == SENTINEL);
    CHECK_STATUS(tchat_chat_save_state(chat, &state), TCHAT_OK);
    CHECK_STATUS(tchat_chat_free(chat), TCHAT_OK);
    CHECK(__atomic_load_n(&sink_frees, __ATOMIC_SEQ_CST) == 1);

    /* Restored mid-turn with a callback: the rest of the turn goes to it, nothing to the queue. */
    CHECK_STATUS(tchat_chat_restore_with_callback(client, state, t_sink_callback, &rest, count_sink_free, &restored),
                 TCHAT_OK);
    tchat_string_free(state);
    if (!restored) return;
    CHECK(t_sink_wait(&rest, T_TURN_MS));
    CHECK(count_of(rest.turn.message_json, "tick 300\"") == 1);
    CHECK(rest.turn.chunks > 0);
    CHECK_STATUS(tchat_chat_next_event(restored, 0, &ev), TCHAT_NO_EVENT);
    CHECK_STATUS(tchat_chat_free(restored), TCHAT_OK);
    CHECK(__atomic_load_n(&sink_frees, __ATOMIC_SEQ_CST) == 2);
    /* A failed restore leaves user_data to the caller. */
    CHECK_STATUS(tchat_chat_restore_with_callback(client, "{", t_sink_callback, &rest, count_sink_free, &restored),
                 TCHAT_INVALID_ARGUMENT);
    CHECK(__atomic_load_n(&sink_frees, __ATOMIC_SEQ_CST) == 2);
    t_sink_destroy(&sink);
    t_sink_destroy(&rest);
}

int main(void) {
    tchat_client *client = quick_client();
    test_reopen(client);
    test_run_killed_mid_turn(client);
    test_closed_silently_elsewhere(client);
    test_approval_continues_the_message(client);
    test_restore_mid_turn_one_text_part(client);
    test_idle_watch_hears_a_close();
    test_settled_close_mid_turn(client);
    test_turn_correlation(client);
    test_reconnect_now(client);
    test_watch_mode(client);
    test_send_observer_and_metadata();
    test_keep_warm();
    test_chunk_kinds(client);
    test_callback_from_the_first_event(client);
    tchat_client_free(client);
    return t_finish();
}
