/*
 * Whole conversations against the devserver's demo agent, through the C API: open, stream by
 * polling and by callback, steer, regenerate, actions, tool approval (approve and deny), stop from
 * inside the callback, save/restore, close, calls after close, freeing a chat from inside its own
 * callback, replacing a callback from inside itself, user_data destructors, the log callback, the
 * token provider.
 */
#include "testlib.h"

#define EXPECT_HELLO "You said: hello there"

static void test_open_and_poll(tchat_client *client) {
    tchat_chat *chat = NULL;
    tchat_chat_options *o = tchat_chat_options_new();
    t_turn turn;
    char *run_id = NULL, *msg = NULL;
    char chat_id[64];
    t_section("open with every option, first message, poll");
    snprintf(chat_id, sizeof chat_id, "c-test-open-%ld", (long)t_now_ms());
    tchat_chat_options_set_task_id(o, "demo");
    tchat_chat_options_set_chat_id(o, chat_id);
    tchat_chat_options_set_metadata_json(o, "{\"userId\":\"u1\"}");
    tchat_chat_options_set_machine(o, "small-1x");
    tchat_chat_options_set_queue(o, "chat");
    tchat_chat_options_add_tag(o, "test");
    tchat_chat_options_add_tag(o, "c");
    tchat_chat_options_set_max_attempts(o, 2);
    tchat_chat_options_set_max_duration_secs(o, 600);
    tchat_chat_options_set_idle_timeout_secs(o, 60);
    tchat_chat_options_set_trigger_config_json(o, "{\"region\":\"eu\"}");
    tchat_chat_options_set_first_message(o, "hello there");
    if (CHECK_STATUS(tchat_chat_open(client, o, &chat), TCHAT_OK) != TCHAT_OK) {
        tchat_chat_options_free(o);
        return;
    }
    tchat_chat_options_free(o);

    CHECK(strncmp(tchat_chat_session_id(chat), "session_", 8) == 0);
    CHECK_STR(tchat_chat_chat_id(chat), chat_id);
    CHECK(tchat_chat_is_turn_in_flight(chat));
    t_turn_reset(&turn);
    CHECK(t_poll_turn(chat, &turn, T_TURN_MS));
    CHECK_STR(turn.text, EXPECT_HELLO);
    CHECK(turn.deltas == 4); /* "You", " said:", " hello", " there" */
    CHECK(!turn.stopped);
    CHECK(!turn.seq_decreased);
    CHECK_STR(turn.finish_reason, "stop");
    CHECK_CONTAINS(turn.message_json, "\"role\":\"assistant\"");
    CHECK_CONTAINS(turn.message_json, EXPECT_HELLO);
    CHECK(tchat_chat_last_event_id(chat) >= (long long)turn.last_seq);
    CHECK(!tchat_chat_is_turn_in_flight(chat));

    CHECK_STATUS(tchat_chat_run_id(chat, NULL), TCHAT_INVALID_ARGUMENT);
    CHECK_STATUS(tchat_chat_run_id(chat, &run_id), TCHAT_OK);
    CHECK(run_id != NULL && strncmp(run_id, "run_", 4) == 0);
    tchat_string_free(run_id);
    CHECK_STATUS(tchat_chat_last_assistant_message(chat, NULL), TCHAT_INVALID_ARGUMENT);
    CHECK_STATUS(tchat_chat_last_assistant_message(chat, &msg), TCHAT_OK);
    CHECK_CONTAINS(msg, EXPECT_HELLO);
    tchat_string_free(msg);

    /* Nothing more is coming: a non-blocking poll times out at once, a short one after its time. */
    {
        tchat_event *ev = SENTINEL;
        long long t0 = t_now_ms();
        CHECK_STATUS(tchat_chat_next_event(chat, 0, &ev), TCHAT_NO_EVENT);
        CHECK(ev == SENTINEL);
        CHECK_STATUS(tchat_chat_next_event(chat, 0, NULL), TCHAT_INVALID_ARGUMENT);
        t0 = t_now_ms();
        CHECK_STATUS(tchat_chat_next_event(chat, 150, &ev), TCHAT_NO_EVENT);
        CHECK(t_now_ms() - t0 >= 140);
        CHECK(ev == SENTINEL);
    }
    CHECK_STATUS(tchat_chat_free(chat), TCHAT_OK);
}

/* --- callbacks -------------------------------------------------------------------------------- */

static int frees;
static void count_free(void *user_data) {
    (void)user_data;
    __atomic_add_fetch(&frees, 1, __ATOMIC_SEQ_CST);
}

typedef struct {
    t_sink sink;
    tchat_chat *chat;
    int stop_after;        /* call tchat_chat_stop from inside the callback after this many deltas */
    tchat_status stop_status;
    int stop_sent;
    int free_attempted;    /* call tchat_chat_free from inside the callback on the first event */
    tchat_status free_status;
    int replace;           /* replace the callback from inside itself on the first event */
    tchat_status replace_status;
    tchat_event *kept;     /* a copy of the first chunk event, kept past the callback */
} cb_ctx;

static void other_callback(void *user_data, const tchat_event *ev);

/* Waits (a little) until `frees` reaches n: a callback's user_data is released by whichever thread
 * drops the last reference, which is the reader thread when the callback was still returning. */
static int frees_reach(int n) {
    long long deadline = t_now_ms() + 5000;
    while (__atomic_load_n(&frees, __ATOMIC_SEQ_CST) < n && t_now_ms() < deadline) t_sleep_ms(2);
    return __atomic_load_n(&frees, __ATOMIC_SEQ_CST) == n;
}

static void test_callback(void *user_data, const tchat_event *ev) {
    cb_ctx *c = (cb_ctx *)user_data;
    if (c->free_attempted == 1) {
        c->free_status = tchat_chat_free(c->chat);
        c->free_attempted = 2;
    }
    if (!c->kept && tchat_event_get_kind(ev) == TCHAT_EVENT_KIND_CHUNK) {
        tchat_event_copy(ev, &c->kept);
        /* A borrowed event must survive a (mistaken) free: it does nothing. */
        tchat_event_free((tchat_event *)ev);
    }
    t_sink_callback(&c->sink, ev);
    if (c->stop_after > 0 && !c->stop_sent && c->sink.turn.deltas >= c->stop_after) {
        c->stop_sent = 1;
        c->stop_status = tchat_chat_stop(c->chat, "enough");
    }
    if (c->replace == 1) {
        c->replace = 2;
        c->replace_status = tchat_chat_set_callback(c->chat, other_callback, c, count_free);
    }
}

static void other_callback(void *user_data, const tchat_event *ev) {
    cb_ctx *c = (cb_ctx *)user_data;
    t_sink_callback(&c->sink, ev);
}

static void cb_ctx_init(cb_ctx *c, tchat_chat *chat) {
    memset(c, 0, sizeof *c);
    t_sink_init(&c->sink);
    c->chat = chat;
}

static void cb_ctx_reset_turn(cb_ctx *c) {
    pthread_mutex_lock(&c->sink.lock);
    t_turn_reset(&c->sink.turn);
    pthread_mutex_unlock(&c->sink.lock);
}

static void test_conversation_with_callback(tchat_client *client) {
    tchat_chat *chat = t_open(client, NULL);
    cb_ctx c;
    char *saved = NULL;
    t_section("callback: send, reader thread, steer, regenerate, actions, message JSON, approve, deny, stop");
    if (!chat) {
        CHECK(chat != NULL);
        return;
    }
    cb_ctx_init(&c, chat);
    frees = 0;
    CHECK_STATUS(tchat_chat_set_callback(chat, test_callback, &c, count_free), TCHAT_OK);

    /* a plain message */
    CHECK_STATUS(tchat_chat_send_text(chat, "hello there"), TCHAT_OK);
    CHECK(t_sink_wait(&c.sink, T_TURN_MS));
    CHECK_STR(c.sink.turn.text, EXPECT_HELLO);
    CHECK(!pthread_equal(c.sink.reader, pthread_self())); /* callbacks run on the reader thread */
    CHECK(c.kept != NULL);
    CHECK(tchat_event_get_kind(c.kept) == TCHAT_EVENT_KIND_CHUNK);
    CHECK(tchat_event_chunk_json(c.kept, NULL) != NULL);
    tchat_event_free(c.kept);

    /* invalid arguments on a live chat */
    CHECK_STATUS(tchat_chat_send_text(chat, NULL), TCHAT_INVALID_ARGUMENT);
    CHECK_STATUS(tchat_chat_send_text(chat, "\xC3"), TCHAT_INVALID_ARGUMENT);
    CHECK_CONTAINS(tchat_last_error_message(), "UTF-8");
    CHECK_STATUS(tchat_chat_steer(chat, NULL), TCHAT_INVALID_ARGUMENT);
    CHECK_STATUS(tchat_chat_send_message_json(chat, "{oops"), TCHAT_INVALID_ARGUMENT);
    CHECK_STATUS(tchat_chat_send_message_json(chat, "{\"role\":\"user\"}"), TCHAT_INVALID_ARGUMENT);
    CHECK_STATUS(tchat_chat_send_message_json(chat, NULL), TCHAT_INVALID_ARGUMENT);
    CHECK_STATUS(tchat_chat_send_action(chat, "not json"), TCHAT_INVALID_ARGUMENT);
    CHECK_STATUS(tchat_chat_send_action(chat, NULL), TCHAT_INVALID_ARGUMENT);
    CHECK_STATUS(tchat_chat_approve(chat, NULL, true, NULL), TCHAT_INVALID_ARGUMENT);
    CHECK_STATUS(tchat_chat_approve(chat, "a", true, "\xC3"), TCHAT_INVALID_ARGUMENT);
    CHECK_STATUS(tchat_chat_stop(chat, "\x80"), TCHAT_INVALID_ARGUMENT);
    CHECK_STATUS(tchat_chat_close_session(chat, "\x80"), TCHAT_INVALID_ARGUMENT);
    /* no pending approval with this id */
    CHECK_STATUS(tchat_chat_approve(chat, "approval_nope", true, NULL), TCHAT_INVALID_STATE);

    /* a whole UIMessage */
    cb_ctx_reset_turn(&c);
    CHECK_STATUS(tchat_chat_send_message_json(chat, "{\"parts\":[{\"type\":\"text\",\"text\":\"from json\"}]}"),
                 TCHAT_OK);
    CHECK(t_sink_wait(&c.sink, T_TURN_MS));
    CHECK_STR(c.sink.turn.text, "You said: from json");

    /* regenerate answers the last user message again */
    cb_ctx_reset_turn(&c);
    CHECK_STATUS(tchat_chat_regenerate(chat), TCHAT_OK);
    CHECK(t_sink_wait(&c.sink, T_TURN_MS));
    CHECK_STR(c.sink.turn.text, "You said: from json");

    /* actions */
    cb_ctx_reset_turn(&c);
    CHECK_STATUS(tchat_chat_send_action(chat, "{\"type\":\"undo\"}"), TCHAT_OK);
    CHECK(t_sink_wait(&c.sink, T_TURN_MS));
    CHECK_STR(c.sink.turn.text, "Undid the last exchange.");
    cb_ctx_reset_turn(&c);
    CHECK_STATUS(tchat_chat_send_action(chat, "{\"type\":\"dance\"}"), TCHAT_OK);
    CHECK(t_sink_wait(&c.sink, T_TURN_MS));
    CHECK_CONTAINS(c.sink.turn.error_text, "Unknown action");

    /* a tool call that needs approval, approved */
    cb_ctx_reset_turn(&c);
    CHECK_STATUS(tchat_chat_send_text(chat, "/tool Paris"), TCHAT_OK);
    CHECK(t_sink_wait(&c.sink, T_TURN_MS));
    CHECK(c.sink.turn.approvals == 1);
    CHECK_STR(c.sink.turn.finish_reason, "tool-calls");
    {
        char approval[256];
        snprintf(approval, sizeof approval, "%s", c.sink.turn.approval);
        cb_ctx_reset_turn(&c);
        CHECK_STATUS(tchat_chat_approve(chat, approval, true, NULL), TCHAT_OK);
    }
    CHECK(t_sink_wait(&c.sink, T_TURN_MS));
    CHECK_STR(c.sink.turn.text, "The weather in Paris is sunny, 21°C.");

    /* denied, with a reason */
    cb_ctx_reset_turn(&c);
    CHECK_STATUS(tchat_chat_send_text(chat, "/tool Oslo"), TCHAT_OK);
    CHECK(t_sink_wait(&c.sink, T_TURN_MS));
    CHECK(c.sink.turn.approvals == 1);
    {
        char approval[256];
        snprintf(approval, sizeof approval, "%s", c.sink.turn.approval);
        cb_ctx_reset_turn(&c);
        CHECK_STATUS(tchat_chat_approve(chat, approval, false, "not now"), TCHAT_OK);
    }
    CHECK(t_sink_wait(&c.sink, T_TURN_MS));
    CHECK_STR(c.sink.turn.text, "Okay, I won't check the weather in Oslo.");

    /* steering while a slow turn streams: the agent notes it in the same turn */
    cb_ctx_reset_turn(&c);
    CHECK_STATUS(tchat_chat_send_text(chat, "/slow 30"), TCHAT_OK);
    CHECK_STATUS(tchat_chat_steer(chat, "be brief"), TCHAT_OK);
    CHECK(t_sink_wait(&c.sink, T_TURN_MS));
    CHECK(c.sink.turn.text_len > 0);
    CHECK_CONTAINS(c.sink.turn.text, "be brief");

    /* stop from inside the callback: the turn completes early, stopped */
    cb_ctx_reset_turn(&c);
    c.stop_after = 3;
    CHECK_STATUS(tchat_chat_send_text(chat, "/slow 2000"), TCHAT_OK);
    CHECK(t_sink_wait(&c.sink, T_TURN_MS));
    CHECK(c.stop_sent);
    CHECK(c.stop_status == TCHAT_OK);
    CHECK(c.sink.turn.stopped);
    CHECK(strstr(c.sink.turn.text, "tick 2000") == NULL);
    CHECK(!tchat_chat_is_turn_in_flight(chat));
    c.stop_after = 0;
    /* stopping when nothing streams is harmless */
    CHECK_STATUS(tchat_chat_stop(chat, NULL), TCHAT_OK);

    /* the chat is usable after a stop */
    cb_ctx_reset_turn(&c);
    CHECK_STATUS(tchat_chat_send_text(chat, "still there?"), TCHAT_OK);
    CHECK(t_sink_wait(&c.sink, T_TURN_MS));
    CHECK_STR(c.sink.turn.text, "You said: still there?");

    CHECK_STATUS(tchat_chat_save_state(chat, NULL), TCHAT_INVALID_ARGUMENT);
    CHECK_STATUS(tchat_chat_save_state(chat, &saved), TCHAT_OK);
    CHECK_CONTAINS(saved, tchat_chat_session_id(chat));
    tchat_string_free(saved);

    /* back to polling: the callback's user_data is released once (by the reader thread if the last
     * call was still returning) */
    CHECK_STATUS(tchat_chat_set_callback(chat, NULL, NULL, NULL), TCHAT_OK);
    CHECK(frees_reach(1));
    CHECK_STATUS(tchat_chat_free(chat), TCHAT_OK);
    CHECK(frees == 1);
    t_sink_destroy(&c.sink);
}

static void test_free_and_replace_inside_callback(tchat_client *client) {
    tchat_chat *chat = t_open(client, NULL);
    cb_ctx c;
    t_section("free from inside the callback is refused; replacing the callback from inside works");
    if (!chat) {
        CHECK(chat != NULL);
        return;
    }
    cb_ctx_init(&c, chat);
    c.free_attempted = 1;
    c.replace = 1;
    frees = 0;
    CHECK_STATUS(tchat_chat_set_callback(chat, test_callback, &c, count_free), TCHAT_OK);
    CHECK_STATUS(tchat_chat_send_text(chat, "hello there"), TCHAT_OK);
    CHECK(t_sink_wait(&c.sink, T_TURN_MS));
    CHECK(c.free_attempted == 2);
    CHECK(c.free_status == TCHAT_INVALID_STATE);
    CHECK(c.replace == 2 && c.replace_status == TCHAT_OK);
    CHECK_STR(c.sink.turn.text, EXPECT_HELLO); /* the rest of the turn went to the new callback */
    /* the first callback's user_data was released right after it returned, on the reader thread */
    CHECK(frees_reach(1));
    if (c.kept) tchat_event_free(c.kept);
    /* freeing from the application thread works, and releases the second user_data */
    CHECK_STATUS(tchat_chat_free(chat), TCHAT_OK);
    CHECK(frees == 2);
    t_sink_destroy(&c.sink);
}

/* A chat freed while a turn streams into its callback: free returns promptly and joins the reader. */
/* user_data_free may call into the chat: after a replacement it works, during tchat_chat_free the
 * chat answers TCHAT_INVALID_STATE. */
typedef struct {
    tchat_chat *chat;
    tchat_status status;
    int calls;
} free_probe;

static void probe_callback(void *user_data, const tchat_event *ev) {
    (void)user_data;
    (void)ev;
}

static void probe_free(void *user_data) {
    free_probe *p = (free_probe *)user_data;
    p->calls++;
    p->status = tchat_chat_wake(p->chat);
}

static void test_user_data_free_calls_in(tchat_client *client) {
    tchat_chat *chat = t_open(client, NULL);
    free_probe first, second;
    t_section("user_data_free may call into the chat");
    if (!chat) {
        CHECK(chat != NULL);
        return;
    }
    memset(&first, 0, sizeof first);
    memset(&second, 0, sizeof second);
    first.chat = second.chat = chat;
    CHECK_STATUS(tchat_chat_set_callback(chat, probe_callback, &first, probe_free), TCHAT_OK);
    CHECK_STATUS(tchat_chat_set_callback(chat, probe_callback, &second, probe_free), TCHAT_OK);
    CHECK(first.calls == 1);
    CHECK(first.status == TCHAT_OK);
    CHECK_STATUS(tchat_chat_free(chat), TCHAT_OK);
    CHECK(second.calls == 1);
    CHECK(second.status == TCHAT_INVALID_STATE);
}

static void test_free_while_streaming(tchat_client *client) {
    tchat_chat *chat = t_open(client, NULL);
    cb_ctx c;
    long long t0, elapsed;
    t_section("free while streaming");
    if (!chat) {
        CHECK(chat != NULL);
        return;
    }
    cb_ctx_init(&c, chat);
    frees = 0;
    CHECK_STATUS(tchat_chat_set_callback(chat, test_callback, &c, count_free), TCHAT_OK);
    CHECK_STATUS(tchat_chat_send_text(chat, "/slow 5000"), TCHAT_OK);
    /* wait for the stream to be flowing */
    t0 = t_now_ms();
    for (;;) {
        int deltas;
        pthread_mutex_lock(&c.sink.lock);
        deltas = c.sink.turn.deltas;
        pthread_mutex_unlock(&c.sink.lock);
        if (deltas >= 3 || t_now_ms() - t0 > T_TURN_MS) break;
        t_sleep_ms(5);
    }
    t0 = t_now_ms();
    CHECK_STATUS(tchat_chat_free(chat), TCHAT_OK);
    elapsed = t_now_ms() - t0;
    printf("free while streaming took %lld ms\n", elapsed);
    CHECK(elapsed < 5000); /* 50 ms natively; valgrind is much slower */
    CHECK(frees == 1);
    if (c.kept) tchat_event_free(c.kept);
    t_sink_destroy(&c.sink);
}

static void test_save_restore(tchat_client *client) {
    tchat_chat *chat = t_open(client, "hello there");
    tchat_chat *restored = SENTINEL;
    t_turn turn;
    char *state = NULL;
    char session[128];
    t_section("save and restore");
    if (!chat) {
        CHECK(chat != NULL);
        return;
    }
    t_turn_reset(&turn);
    CHECK(t_poll_turn(chat, &turn, T_TURN_MS));
    CHECK_STATUS(tchat_chat_save_state(chat, &state), TCHAT_OK);
    snprintf(session, sizeof session, "%s", tchat_chat_session_id(chat));
    CHECK_STATUS(tchat_chat_free(chat), TCHAT_OK);

    CHECK_STATUS(tchat_chat_restore(client, "{broken", &restored), TCHAT_INVALID_ARGUMENT);
    CHECK(restored == SENTINEL);
    CHECK_STATUS(tchat_chat_restore(client, state, &restored), TCHAT_OK);
    tchat_string_free(state);
    if (restored == SENTINEL) return;
    CHECK_STR(tchat_chat_session_id(restored), session);
    CHECK(tchat_chat_last_event_id(restored) >= 0);
    t_turn_reset(&turn);
    CHECK_STATUS(tchat_chat_send_text(restored, "after restore"), TCHAT_OK);
    CHECK(t_poll_turn(restored, &turn, T_TURN_MS));
    CHECK_STR(turn.text, "You said: after restore");

    /* the tool approval survives a restore too */
    t_turn_reset(&turn);
    CHECK_STATUS(tchat_chat_send_text(restored, "/tool Rome"), TCHAT_OK);
    CHECK(t_poll_turn(restored, &turn, T_TURN_MS));
    CHECK(turn.approvals == 1);
    CHECK_STATUS(tchat_chat_save_state(restored, &state), TCHAT_OK);
    CHECK_STATUS(tchat_chat_free(restored), TCHAT_OK);
    restored = NULL;
    CHECK_STATUS(tchat_chat_restore(client, state, &restored), TCHAT_OK);
    tchat_string_free(state);
    {
        char approval[256];
        snprintf(approval, sizeof approval, "%s", turn.approval);
        t_turn_reset(&turn);
        CHECK_STATUS(tchat_chat_approve(restored, approval, true, NULL), TCHAT_OK);
    }
    CHECK(t_poll_turn(restored, &turn, T_TURN_MS));
    CHECK_STR(turn.text, "The weather in Rome is sunny, 21°C.");
    CHECK_STATUS(tchat_chat_free(restored), TCHAT_OK);
}

static void test_close(tchat_client *client) {
    tchat_chat *chat = t_open(client, "hello there");
    t_turn turn;
    int saw_closed = 0;
    t_section("close the agent, close the session, calls after close");
    if (!chat) {
        CHECK(chat != NULL);
        return;
    }
    t_turn_reset(&turn);
    CHECK(t_poll_turn(chat, &turn, T_TURN_MS));

    /* closing the agent's loop keeps the session: the next message starts a new run */
    CHECK_STATUS(tchat_chat_close_agent(chat), TCHAT_OK);
    t_turn_reset(&turn);
    CHECK_STATUS(tchat_chat_send_text(chat, "are you back?"), TCHAT_OK);
    CHECK(t_poll_turn(chat, &turn, T_TURN_MS));
    CHECK_STR(turn.text, "You said: are you back?");

    CHECK_STATUS(tchat_chat_close_session(chat, "test over"), TCHAT_OK);
    /* drain: maybe a session-closed event */
    {
        tchat_event *ev = NULL;
        while (tchat_chat_next_event(chat, 200, &ev) == TCHAT_OK) {
            if (tchat_event_get_kind(ev) == TCHAT_EVENT_KIND_SESSION_CLOSED) saw_closed = 1;
            tchat_event_free(ev);
        }
    }
    (void)saw_closed;
    CHECK_STATUS(tchat_chat_send_text(chat, "anyone?"), TCHAT_SESSION_CLOSED);
    CHECK(strlen(tchat_last_error_message()) > 0);
    CHECK_STATUS(tchat_chat_steer(chat, "x"), TCHAT_SESSION_CLOSED);
    CHECK_STATUS(tchat_chat_regenerate(chat), TCHAT_SESSION_CLOSED);
    CHECK_STATUS(tchat_chat_send_action(chat, "{\"type\":\"undo\"}"), TCHAT_SESSION_CLOSED);
    CHECK_STATUS(tchat_chat_stop(chat, NULL), TCHAT_SESSION_CLOSED);
    CHECK_STATUS(tchat_chat_close_agent(chat), TCHAT_SESSION_CLOSED);
    /* reads still work after close */
    CHECK(tchat_chat_session_id(chat) != NULL);
    {
        char *state = NULL;
        CHECK_STATUS(tchat_chat_save_state(chat, &state), TCHAT_OK);
        tchat_string_free(state);
    }
    CHECK_STATUS(tchat_chat_wake(chat), TCHAT_OK);
    CHECK_STATUS(tchat_chat_free(chat), TCHAT_OK);
}

/* --- log callback and token provider ---------------------------------------------------------- */

static int log_messages;
static int log_bad;
static void log_cb(void *user_data, tchat_log_level level, const char *message) {
    (void)user_data;
    if (level < TCHAT_LOG_LEVEL_ERROR || level > TCHAT_LOG_LEVEL_DEBUG || message == NULL) log_bad++;
    if (message && strstr(message, "tr_dev_tchat_local")) log_bad++; /* never a token */
    __atomic_add_fetch(&log_messages, 1, __ATOMIC_SEQ_CST);
}

static int provider_calls;
static int provider_frees;
static int token_provider(void *user_data, const char *chat_id, char *buf, size_t buf_len) {
    (void)chat_id;
    __atomic_add_fetch(&provider_calls, 1, __ATOMIC_SEQ_CST);
    return snprintf(buf, buf_len, "%s", (const char *)user_data);
}
static void provider_free(void *user_data) {
    (void)user_data;
    __atomic_add_fetch(&provider_frees, 1, __ATOMIC_SEQ_CST);
}

static void test_log_and_token_provider(void) {
    tchat_client_options *o = tchat_client_options_new();
    tchat_client *client = NULL;
    tchat_chat *chat = NULL;
    tchat_chat *restored = NULL;
    t_turn turn;
    char *state = NULL, *p;
    const char *key = t_env("TRIGGER_SECRET_KEY", "tr_dev_tchat_local");
    t_section("log callback and token provider");

    CHECK_STATUS(tchat_set_log_callback(log_cb, NULL, NULL, TCHAT_LOG_LEVEL_DEBUG), TCHAT_OK);
    tchat_client_options_set_base_url(o, getenv("TRIGGER_API_URL"));
    tchat_client_options_set_token(o, key);
    tchat_client_options_set_retry(o, 2, 50, 200);
    CHECK_STATUS(tchat_client_options_set_token_provider(o, token_provider, (void *)key, provider_free), TCHAT_OK);
    CHECK_STATUS(tchat_client_new(o, &client), TCHAT_OK);
    tchat_client_options_free(o); /* the client keeps the provider alive */
    CHECK(provider_frees == 0);

    chat = t_open(client, "hello there");
    if (!chat) {
        CHECK(chat != NULL);
        tchat_client_free(client);
        return;
    }
    t_turn_reset(&turn);
    CHECK(t_poll_turn(chat, &turn, T_TURN_MS));
    CHECK_STATUS(tchat_chat_save_state(chat, &state), TCHAT_OK);
    CHECK_STATUS(tchat_chat_free(chat), TCHAT_OK);

    /* Corrupt the saved session token: the next append gets a 401, asks the provider, and goes on. */
    p = strstr(state, "\"publicAccessToken\":\"");
    CHECK(p != NULL);
    if (p) {
        p += strlen("\"publicAccessToken\":\"");
        while (*p && *p != '"') {
            if (*p != '.') *p = 'x';
            p++;
        }
    }
    CHECK_STATUS(tchat_chat_restore(client, state, &restored), TCHAT_OK);
    tchat_string_free(state);
    tchat_client_free(client); /* chats keep what they need */
    if (restored) {
        t_turn_reset(&turn);
        CHECK_STATUS(tchat_chat_send_text(restored, "with a fresh token"), TCHAT_OK);
        CHECK(t_poll_turn(restored, &turn, T_TURN_MS));
        CHECK_STR(turn.text, "You said: with a fresh token");
        CHECK(provider_calls >= 1);
        CHECK_STATUS(tchat_chat_free(restored), TCHAT_OK);
    }
    /* the last user of the provider is gone: its user_data was released once */
    CHECK(provider_frees == 1);

    CHECK_STATUS(tchat_set_log_callback(NULL, NULL, NULL, 0), TCHAT_OK);
    /* How much the library logs in a healthy conversation is its business: only the contract is checked. */
    printf("log messages: %d\n", log_messages);
    CHECK(log_bad == 0);
}

int main(void) {
    tchat_client *client = t_client();
    test_open_and_poll(client);
    test_conversation_with_callback(client);
    test_free_and_replace_inside_callback(client);
    test_user_data_free_calls_in(client);
    test_free_while_streaming(client);
    test_save_restore(client);
    test_close(client);
    tchat_client_free(client);
    test_log_and_token_provider();
    return t_finish();
}
