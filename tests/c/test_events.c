/*
 * Every event kind through the C API, provoked on the devserver: a stream cut mid-turn (reconnecting,
 * then the rest of the turn without a gap or a duplicate), an error turn, an upgrade, a session
 * closed by another client, and a stream that fails for good (error event with its status).
 * Faults are set with the devserver's test route POST /__devserver/faults (plain HTTP over a socket).
 */
#include "testlib.h"

/* Collects a turn by polling, also counting the other event kinds. */
typedef struct {
    t_turn turn;
    int reconnects;
    int connected;
    int last_cause_status;
    char last_cause[512];
    unsigned reconnect_attempt;
    unsigned long long reconnect_delay_ms;
    int upgrades;
    int pending_versions;
    int closed;
    char closed_reason[128];
    tchat_status error_status;
    int error_http;
    char error_message[512];
} t_log;

static void log_add(t_log *l, const tchat_event *ev) {
    switch (tchat_event_get_kind(ev)) {
    case TCHAT_EVENT_KIND_RECONNECTING: {
        const char *cause = tchat_event_reconnect_cause(ev);
        l->reconnects++;
        l->reconnect_attempt = tchat_event_reconnect_attempt(ev);
        l->reconnect_delay_ms = tchat_event_reconnect_delay_ms(ev);
        l->last_cause_status = tchat_event_reconnect_http_status(ev);
        CHECK(cause != NULL && *cause);
        if (cause) snprintf(l->last_cause, sizeof l->last_cause, "%s", cause);
        break;
    }
    case TCHAT_EVENT_KIND_CONNECTED:
        l->connected++;
        CHECK(tchat_event_reconnect_attempt(ev) >= 1);
        CHECK(tchat_event_reconnect_cause(ev) == NULL);
        break;
    case TCHAT_EVENT_KIND_UPGRADE_REQUIRED:
        l->upgrades++;
        break;
    case TCHAT_EVENT_KIND_PENDING_VERSION:
        l->pending_versions++;
        break;
    case TCHAT_EVENT_KIND_SESSION_CLOSED: {
        const char *reason = tchat_event_session_closed_reason(ev);
        l->closed++;
        if (reason) snprintf(l->closed_reason, sizeof l->closed_reason, "%s", reason);
        break;
    }
    case TCHAT_EVENT_KIND_ERROR: {
        const char *msg = tchat_event_error_message(ev);
        l->error_status = tchat_event_error_status(ev);
        l->error_http = tchat_event_error_http_status(ev);
        if (msg) snprintf(l->error_message, sizeof l->error_message, "%s", msg);
        break;
    }
    default:
        break;
    }
    /* accessors of other kinds answer "nothing" */
    if (tchat_event_get_kind(ev) != TCHAT_EVENT_KIND_CHUNK) {
        CHECK(tchat_event_chunk_type(ev) == NULL);
        CHECK(tchat_event_delta(ev, NULL) == NULL);
    }
    if (tchat_event_get_kind(ev) != TCHAT_EVENT_KIND_ERROR) CHECK(tchat_event_error_status(ev) == TCHAT_OK);
    if (tchat_event_get_kind(ev) != TCHAT_EVENT_KIND_RECONNECTING) {
        CHECK(tchat_event_reconnect_cause(ev) == NULL);
        CHECK(tchat_event_reconnect_http_status(ev) == 0);
    }
    t_turn_add(&l->turn, ev);
}

/* Polls until a turn completes, an error event arrives, the session closes, or timeout. */
static void log_until(tchat_chat *chat, t_log *l, long timeout_ms) {
    long long deadline = t_now_ms() + timeout_ms;
    while (!l->turn.complete && !l->turn.errors && !l->closed && t_now_ms() < deadline) {
        tchat_event *ev = NULL;
        if (tchat_chat_next_event(chat, 100, &ev) != TCHAT_OK) continue;
        log_add(l, ev);
        tchat_event_free(ev);
    }
}

static void test_reconnect(tchat_client *client) {
    tchat_chat *chat = t_open(client, NULL);
    t_log l;
    char want[4096];
    int i;
    t_section("a stream cut mid-turn: reconnecting, then the rest without gap or duplicate");
    if (!chat) {
        CHECK(chat != NULL);
        return;
    }
    CHECK(t_devserver_post("/__devserver/faults", "{\"out_drop_after_records\":6}") == 200);
    memset(&l, 0, sizeof l);
    CHECK_STATUS(tchat_chat_send_text(chat, "/slow 30"), TCHAT_OK);
    log_until(chat, &l, T_TURN_MS);
    t_devserver_post("/__devserver/faults", "{}");
    want[0] = '\0';
    for (i = 1; i <= 30; i++) {
        char tick[32];
        snprintf(tick, sizeof tick, i == 1 ? "tick %d" : " tick %d", i);
        strcat(want, tick);
    }
    CHECK(l.turn.complete);
    CHECK_STR(l.turn.text, want);
    CHECK(!l.turn.seq_decreased);
    CHECK(l.reconnects >= 1);
    CHECK(l.reconnect_attempt >= 1);
    CHECK(l.connected >= 1);
    CHECK(l.last_cause_status == 0); /* a cut stream, not an HTTP status */
    printf("reconnects: %d (last attempt %u after %llu ms: %s), connected again: %d\n", l.reconnects,
           l.reconnect_attempt, l.reconnect_delay_ms, l.last_cause, l.connected);
    CHECK_STATUS(tchat_chat_free(chat), TCHAT_OK);
}

static void test_error_turn_and_upgrade(tchat_client *client) {
    tchat_chat *chat = t_open(client, NULL);
    t_log l;
    t_section("an error turn; an upgrade");
    if (!chat) {
        CHECK(chat != NULL);
        return;
    }
    memset(&l, 0, sizeof l);
    CHECK_STATUS(tchat_chat_send_text(chat, "/error"), TCHAT_OK);
    log_until(chat, &l, T_TURN_MS);
    CHECK(l.turn.complete);
    CHECK_STR(l.turn.error_text, "The demo agent failed on purpose");

    memset(&l, 0, sizeof l);
    CHECK_STATUS(tchat_chat_send_text(chat, "/upgrade"), TCHAT_OK);
    log_until(chat, &l, T_TURN_MS);
    CHECK(l.upgrades == 1);
    CHECK(l.turn.complete);
    CHECK_STR(l.turn.text, "You said: /upgrade");
    printf("pending-version events: %d\n", l.pending_versions);
    CHECK_STATUS(tchat_chat_free(chat), TCHAT_OK);
}

static void test_closed_by_another_client(tchat_client *client) {
    tchat_chat *a = t_open(client, NULL);
    tchat_chat *b = NULL;
    char *state = NULL;
    t_log l;
    t_section("a session closed by another client: session-closed event");
    if (!a) {
        CHECK(a != NULL);
        return;
    }
    /* b: the same conversation, restored from a's state, streaming a long turn */
    CHECK_STATUS(tchat_chat_save_state(a, &state), TCHAT_OK);
    CHECK_STATUS(tchat_chat_restore(client, state, &b), TCHAT_OK);
    tchat_string_free(state);
    if (!b) {
        tchat_chat_free(a);
        return;
    }
    memset(&l, 0, sizeof l);
    CHECK_STATUS(tchat_chat_send_text(b, "/slow 100000"), TCHAT_OK);
    while (l.turn.deltas < 2 && !l.turn.errors && !l.closed) {
        tchat_event *ev = NULL;
        if (tchat_chat_next_event(b, T_TURN_MS, &ev) != TCHAT_OK) break;
        log_add(&l, ev);
        tchat_event_free(ev);
    }
    CHECK_STATUS(tchat_chat_close_session(a, "closed by a"), TCHAT_OK);
    log_until(b, &l, T_TURN_MS);
    CHECK(l.closed == 1);
    CHECK_STR(l.closed_reason, "closed by a");
    CHECK_STATUS(tchat_chat_send_text(b, "hello?"), TCHAT_SESSION_CLOSED);
    CHECK_STATUS(tchat_chat_free(b), TCHAT_OK);
    CHECK_STATUS(tchat_chat_free(a), TCHAT_OK);
}

static void test_fatal_stream_error(tchat_client *client) {
    /* A saved state naming a session that does not exist, with a turn in flight: the reader's first
     * subscription gets a 404, which no reconnect can fix. */
    const char *state = "{\"version\":1,\"sessionId\":\"session_doesnotexist000000000\",\"chatId\":\"c-gone\","
                        "\"taskId\":\"demo\",\"runMode\":\"server\",\"turnInFlight\":true}";
    tchat_chat *chat = NULL;
    t_log l;
    t_section("a stream that fails for good: error event");
    CHECK_STATUS(tchat_chat_restore(client, state, &chat), TCHAT_OK);
    if (!chat) return;
    memset(&l, 0, sizeof l);
    log_until(chat, &l, T_TURN_MS);
    CHECK(l.turn.errors == 1);
    CHECK(l.error_status == TCHAT_NOT_FOUND);
    CHECK(l.error_http == 404);
    CHECK(strlen(l.error_message) > 0);
    CHECK(!tchat_chat_is_turn_in_flight(chat));
    CHECK_STATUS(tchat_chat_free(chat), TCHAT_OK);
}

int main(void) {
    tchat_client *client = t_client();
    test_reconnect(client);
    test_error_turn_and_upgrade(client);
    test_closed_by_another_client(client);
    test_fatal_stream_error(client);
    tchat_client_free(client);
    return t_finish();
}
