/*
 * The C API's contract without a conversation: statuses and their texts, the last error, NULL and
 * invalid UTF-8 arguments to every function, option validation, out-params left untouched on
 * failure, NULL-safe frees, the log callback, and connection/auth failures against the devserver.
 */
#include "testlib.h"

/* "caf\xC3" + "\xA9" split wrongly: a truncated 2-byte sequence, and a lone continuation byte. */
static const char BAD_UTF8[] = {'c', 'a', 'f', (char)0xC3, '\0'};
static const char BAD_UTF8_2[] = {(char)0x80, 'x', '\0'};


static void test_version_and_status(void) {
    int i;
    t_section("version and status texts");
    CHECK(tchat_version() != NULL && strlen(tchat_version()) > 0);
    /* The header's version macros (generated from Cargo.toml) are the library's version. */
    {
        char v[64];
        snprintf(v, sizeof v, "%d.%d.%d", TCHAT_VERSION_MAJOR, TCHAT_VERSION_MINOR, TCHAT_VERSION_PATCH);
        CHECK_STR(v, tchat_version());
        CHECK_STR(TCHAT_VERSION_STRING, tchat_version());
    }
    CHECK_STR(tchat_status_str(TCHAT_OK), "TCHAT_OK: success");
    CHECK_CONTAINS(tchat_status_str(TCHAT_TIMEOUT), "TCHAT_TIMEOUT");
    CHECK_CONTAINS(tchat_status_str(TCHAT_PANIC), "TCHAT_PANIC");
    for (i = 0; i <= (int)TCHAT_WOKEN; i++) CHECK(strncmp(tchat_status_str(i), "TCHAT_", 6) == 0);
    CHECK_STR(tchat_status_str(TCHAT_NO_EVENT), "TCHAT_NO_EVENT: no event yet");
    CHECK_STR(tchat_status_str(TCHAT_WOKEN), "TCHAT_WOKEN: woken by tchat_chat_wake");
    CHECK_STR(tchat_status_str(-1), "unknown tchat_status");
    CHECK_STR(tchat_status_str(1000), "unknown tchat_status");
    CHECK_STR(tchat_event_kind_name(TCHAT_EVENT_KIND_CHUNK), "chunk");
    CHECK_STR(tchat_event_kind_name(TCHAT_EVENT_KIND_TURN_COMPLETE), "turn-complete");
    CHECK_STR(tchat_event_kind_name(TCHAT_EVENT_KIND_CONNECTED), "connected");
    CHECK_STR(tchat_event_kind_name(99), "unknown");
    CHECK_STR(tchat_status_str(TCHAT_RUN_ENDED), "TCHAT_RUN_ENDED: the agent's run ended before completing the turn");
    /* Before any failing call the last error is empty, never NULL. */
    CHECK(tchat_last_error_message() != NULL);
    CHECK(tchat_last_error_http_status() == 0);
}

static void test_null_safe_frees(void) {
    t_section("NULL-safe frees");
    tchat_string_free(NULL);
    tchat_event_free(NULL);
    tchat_client_free(NULL);
    tchat_client_options_free(NULL);
    tchat_chat_options_free(NULL);
    CHECK_STATUS(tchat_chat_free(NULL), TCHAT_OK);
}

static int provider_frees;
static void count_free(void *user_data) {
    (void)user_data;
    provider_frees++;
}
static int provider_cb(void *user_data, const char *chat_id, char *buf, size_t buf_len) {
    (void)user_data;
    (void)chat_id;
    return snprintf(buf, buf_len, "tr_dev_tchat_local");
}

static void test_client_options(void) {
    tchat_client_options *o = tchat_client_options_new();
    tchat_client *client = SENTINEL;
    t_section("client options: NULLs, UTF-8, ranges");
    CHECK(o != NULL);

    /* NULL options object */
    CHECK_STATUS(tchat_client_options_set_base_url(NULL, "http://127.0.0.1:1"), TCHAT_INVALID_ARGUMENT);
    CHECK_CONTAINS(tchat_last_error_message(), "options is NULL");
    CHECK_STATUS(tchat_client_options_set_token(NULL, "k"), TCHAT_INVALID_ARGUMENT);
    CHECK_STATUS(tchat_client_options_set_branch(NULL, "b"), TCHAT_INVALID_ARGUMENT);
    CHECK_STATUS(tchat_client_options_set_connect_timeout_ms(NULL, 1), TCHAT_INVALID_ARGUMENT);
    CHECK_STATUS(tchat_client_options_set_response_timeout_ms(NULL, 1), TCHAT_INVALID_ARGUMENT);
    CHECK_STATUS(tchat_client_options_set_stall_timeout_ms(NULL, 1), TCHAT_INVALID_ARGUMENT);
    CHECK_STATUS(tchat_client_options_set_long_poll_seconds(NULL, 10), TCHAT_INVALID_ARGUMENT);
    CHECK_STATUS(tchat_client_options_set_reconnect_limit_ms(NULL, 10), TCHAT_INVALID_ARGUMENT);
    CHECK_STATUS(tchat_client_options_set_retry(NULL, 1, 1, 1), TCHAT_INVALID_ARGUMENT);
    CHECK_STATUS(tchat_client_options_set_user_agent(NULL, "ua"), TCHAT_INVALID_ARGUMENT);
    CHECK_STATUS(tchat_client_options_add_root_certs_pem(NULL, (const uint8_t *)"x", 1), TCHAT_INVALID_ARGUMENT);
    CHECK_STATUS(tchat_client_options_set_allow_insecure_http(NULL, true), TCHAT_INVALID_ARGUMENT);
    CHECK_STATUS(tchat_client_options_set_token_provider(NULL, provider_cb, NULL, count_free), TCHAT_INVALID_ARGUMENT);
    CHECK(provider_frees == 0); /* a failed call does not take user_data */

    /* NULL and invalid UTF-8 strings */
    CHECK_STATUS(tchat_client_options_set_base_url(o, NULL), TCHAT_INVALID_ARGUMENT);
    CHECK_CONTAINS(tchat_last_error_message(), "base_url is NULL");
    CHECK_STATUS(tchat_client_options_set_base_url(o, BAD_UTF8), TCHAT_INVALID_ARGUMENT);
    CHECK_CONTAINS(tchat_last_error_message(), "not valid UTF-8");
    CHECK_STATUS(tchat_client_options_set_token(o, NULL), TCHAT_INVALID_ARGUMENT);
    CHECK_STATUS(tchat_client_options_set_token(o, BAD_UTF8_2), TCHAT_INVALID_ARGUMENT);
    CHECK_STATUS(tchat_client_options_set_token(o, ""), TCHAT_INVALID_ARGUMENT);
    CHECK_STATUS(tchat_client_options_set_branch(o, BAD_UTF8), TCHAT_INVALID_ARGUMENT);
    CHECK_STATUS(tchat_client_options_set_user_agent(o, NULL), TCHAT_INVALID_ARGUMENT);
    CHECK_STATUS(tchat_client_options_add_root_certs_pem(o, NULL, 5), TCHAT_INVALID_ARGUMENT);
    CHECK_STATUS(tchat_client_options_add_root_certs_pem(o, NULL, 0), TCHAT_INVALID_ARGUMENT);

    /* ranges */
    CHECK_STATUS(tchat_client_options_set_connect_timeout_ms(o, 0), TCHAT_INVALID_ARGUMENT);
    CHECK_STATUS(tchat_client_options_set_response_timeout_ms(o, 0), TCHAT_INVALID_ARGUMENT);
    CHECK_STATUS(tchat_client_options_set_stall_timeout_ms(o, 0), TCHAT_INVALID_ARGUMENT);
    CHECK_STATUS(tchat_client_options_set_long_poll_seconds(o, 0), TCHAT_INVALID_ARGUMENT);
    CHECK_STATUS(tchat_client_options_set_long_poll_seconds(o, 601), TCHAT_INVALID_ARGUMENT);
    CHECK_STATUS(tchat_client_options_set_retry(o, 0, 1, 1), TCHAT_INVALID_ARGUMENT);
    CHECK_STATUS(tchat_client_options_set_retry(o, 3, 100, 10), TCHAT_INVALID_ARGUMENT);

    /* a success clears the last error */
    CHECK_STATUS(tchat_client_options_set_long_poll_seconds(o, 30), TCHAT_OK);
    CHECK_STATUS(tchat_client_options_set_reconnect_limit_ms(o, 60000), TCHAT_OK);
    CHECK_STATUS(tchat_client_options_set_reconnect_limit_ms(o, 0), TCHAT_OK);
    CHECK_STATUS(tchat_client_options_set_idle_watch(o, false), TCHAT_OK);
    CHECK_STR(tchat_last_error_message(), "");

    /* tchat_client_new: NULLs, then no token; the out-param stays untouched on failure */
    CHECK_STATUS(tchat_client_new(NULL, &client), TCHAT_INVALID_ARGUMENT);
    CHECK_STATUS(tchat_client_new(o, NULL), TCHAT_INVALID_ARGUMENT);
    CHECK_STATUS(tchat_client_new(o, &client), TCHAT_INVALID_ARGUMENT);
    CHECK_CONTAINS(tchat_last_error_message(), "token");
    CHECK(client == SENTINEL);

    /* every setter, valid */
    CHECK_STATUS(tchat_client_options_set_token(o, "tr_dev_SECRET_must_not_leak"), TCHAT_OK);
    CHECK_STATUS(tchat_client_options_set_branch(o, "preview-1"), TCHAT_OK);
    CHECK_STATUS(tchat_client_options_set_connect_timeout_ms(o, 2000), TCHAT_OK);
    CHECK_STATUS(tchat_client_options_set_response_timeout_ms(o, 5000), TCHAT_OK);
    CHECK_STATUS(tchat_client_options_set_stall_timeout_ms(o, 30000), TCHAT_OK);
    CHECK_STATUS(tchat_client_options_set_retry(o, 1, 10, 10), TCHAT_OK);
    CHECK_STATUS(tchat_client_options_set_user_agent(o, "tchat-c-tests/1"), TCHAT_OK);
    CHECK_STATUS(tchat_client_options_set_token_provider(o, provider_cb, NULL, count_free), TCHAT_OK);
    /* replacing the provider frees the previous user_data once */
    CHECK_STATUS(tchat_client_options_set_token_provider(o, provider_cb, NULL, count_free), TCHAT_OK);
    CHECK(provider_frees == 1);
    CHECK_STATUS(tchat_client_options_set_token_provider(o, NULL, NULL, NULL), TCHAT_OK);
    CHECK(provider_frees == 2);

    /* plain http:// only to loopback unless allowed; bad schemes */
    CHECK_STATUS(tchat_client_options_set_base_url(o, "http://example.com"), TCHAT_OK);
    CHECK_STATUS(tchat_client_new(o, &client), TCHAT_INVALID_ARGUMENT);
    CHECK_CONTAINS(tchat_last_error_message(), "http://");
    CHECK(strstr(tchat_last_error_message(), "SECRET") == NULL);
    CHECK_STATUS(tchat_client_options_set_allow_insecure_http(o, true), TCHAT_OK);
    CHECK_STATUS(tchat_client_new(o, &client), TCHAT_OK);
    CHECK(client != SENTINEL && client != NULL);
    tchat_client_free(client);
    client = SENTINEL;
    CHECK_STATUS(tchat_client_options_set_base_url(o, "ftp://example.com"), TCHAT_OK);
    CHECK_STATUS(tchat_client_new(o, &client), TCHAT_INVALID_ARGUMENT);
    CHECK(client == SENTINEL);

    /* PEM roots: garbage is refused when the client is built (or accepted and ignored); never a crash */
    CHECK_STATUS(tchat_client_options_set_base_url(o, "https://127.0.0.1:1"), TCHAT_OK);
    CHECK_STATUS(tchat_client_options_add_root_certs_pem(o, (const uint8_t *)"not a pem", 9), TCHAT_OK);
    {
        tchat_status s = tchat_client_new(o, &client);
        CHECK(s == TCHAT_OK || s == TCHAT_INVALID_ARGUMENT);
        if (s == TCHAT_OK) tchat_client_free(client);
    }
    tchat_client_options_free(o);
}

static void test_chat_options(void) {
    tchat_chat_options *o = tchat_chat_options_new();
    t_section("chat options: NULLs, UTF-8, JSON, ranges");
    CHECK(o != NULL);
    CHECK_STATUS(tchat_chat_options_set_task_id(NULL, "demo"), TCHAT_INVALID_ARGUMENT);
    CHECK_STATUS(tchat_chat_options_set_chat_id(NULL, "c"), TCHAT_INVALID_ARGUMENT);
    CHECK_STATUS(tchat_chat_options_set_metadata_json(NULL, "{}"), TCHAT_INVALID_ARGUMENT);
    CHECK_STATUS(tchat_chat_options_set_machine(NULL, "small-1x"), TCHAT_INVALID_ARGUMENT);
    CHECK_STATUS(tchat_chat_options_set_queue(NULL, "q"), TCHAT_INVALID_ARGUMENT);
    CHECK_STATUS(tchat_chat_options_add_tag(NULL, "t"), TCHAT_INVALID_ARGUMENT);
    CHECK_STATUS(tchat_chat_options_set_max_attempts(NULL, 1), TCHAT_INVALID_ARGUMENT);
    CHECK_STATUS(tchat_chat_options_set_max_duration_secs(NULL, 1), TCHAT_INVALID_ARGUMENT);
    CHECK_STATUS(tchat_chat_options_set_idle_timeout_secs(NULL, 1), TCHAT_INVALID_ARGUMENT);
    CHECK_STATUS(tchat_chat_options_set_trigger_config_json(NULL, "{}"), TCHAT_INVALID_ARGUMENT);
    CHECK_STATUS(tchat_chat_options_set_first_message(NULL, "hi"), TCHAT_INVALID_ARGUMENT);

    CHECK_STATUS(tchat_chat_options_set_task_id(o, NULL), TCHAT_INVALID_ARGUMENT);
    CHECK_STATUS(tchat_chat_options_set_task_id(o, ""), TCHAT_INVALID_ARGUMENT);
    CHECK_STATUS(tchat_chat_options_set_task_id(o, BAD_UTF8), TCHAT_INVALID_ARGUMENT);
    CHECK_STATUS(tchat_chat_options_set_chat_id(o, "session_abc"), TCHAT_INVALID_ARGUMENT);
    CHECK_STATUS(tchat_chat_options_set_chat_id(o, ""), TCHAT_INVALID_ARGUMENT);
    CHECK_STATUS(tchat_chat_options_set_chat_id(o, BAD_UTF8_2), TCHAT_INVALID_ARGUMENT);
    CHECK_STATUS(tchat_chat_options_set_metadata_json(o, "{not json"), TCHAT_INVALID_ARGUMENT);
    CHECK_CONTAINS(tchat_last_error_message(), "JSON");
    CHECK_STATUS(tchat_chat_options_set_metadata_json(o, BAD_UTF8), TCHAT_INVALID_ARGUMENT);
    CHECK_STATUS(tchat_chat_options_set_machine(o, NULL), TCHAT_INVALID_ARGUMENT);
    CHECK_STATUS(tchat_chat_options_set_queue(o, BAD_UTF8), TCHAT_INVALID_ARGUMENT);
    CHECK_STATUS(tchat_chat_options_add_tag(o, ""), TCHAT_INVALID_ARGUMENT);
    CHECK_STATUS(tchat_chat_options_set_max_attempts(o, 0), TCHAT_INVALID_ARGUMENT);
    CHECK_STATUS(tchat_chat_options_set_max_duration_secs(o, 0), TCHAT_INVALID_ARGUMENT);
    CHECK_STATUS(tchat_chat_options_set_idle_timeout_secs(o, 0), TCHAT_INVALID_ARGUMENT);
    CHECK_STATUS(tchat_chat_options_set_trigger_config_json(o, "[1,2]"), TCHAT_INVALID_ARGUMENT);
    CHECK_CONTAINS(tchat_last_error_message(), "object");
    CHECK_STATUS(tchat_chat_options_set_first_message(o, BAD_UTF8_2), TCHAT_INVALID_ARGUMENT);

    CHECK_STATUS(tchat_chat_options_set_task_id(o, "demo"), TCHAT_OK);
    CHECK_STATUS(tchat_chat_options_set_chat_id(o, "c-options"), TCHAT_OK);
    CHECK_STATUS(tchat_chat_options_set_metadata_json(o, "{\"userId\":\"u1\"}"), TCHAT_OK);
    CHECK_STATUS(tchat_chat_options_set_machine(o, "small-1x"), TCHAT_OK);
    CHECK_STATUS(tchat_chat_options_set_queue(o, "chat"), TCHAT_OK);
    CHECK_STATUS(tchat_chat_options_add_tag(o, "a"), TCHAT_OK);
    CHECK_STATUS(tchat_chat_options_add_tag(o, "b"), TCHAT_OK);
    CHECK_STATUS(tchat_chat_options_set_max_attempts(o, 2), TCHAT_OK);
    CHECK_STATUS(tchat_chat_options_set_max_duration_secs(o, 600), TCHAT_OK);
    CHECK_STATUS(tchat_chat_options_set_idle_timeout_secs(o, 30), TCHAT_OK);
    CHECK_STATUS(tchat_chat_options_set_trigger_config_json(o, "{\"region\":\"eu\"}"), TCHAT_OK);
    CHECK_STATUS(tchat_chat_options_set_first_message(o, "héllo"), TCHAT_OK);
    tchat_chat_options_free(o);
}

/* Every chat function with chat == NULL, and every required pointer/string NULL or invalid. */
static void test_chat_nulls(tchat_client *client) {
    tchat_chat *chat = SENTINEL;
    tchat_event *ev = SENTINEL;
    char *s = SENTINEL;
    tchat_chat_options *o = tchat_chat_options_new();
    t_section("chat functions: NULL and invalid arguments");

    CHECK_STATUS(tchat_chat_open(NULL, o, &chat), TCHAT_INVALID_ARGUMENT);
    CHECK_CONTAINS(tchat_last_error_message(), "client is NULL");
    CHECK_STATUS(tchat_chat_open(client, NULL, &chat), TCHAT_INVALID_ARGUMENT);
    CHECK_STATUS(tchat_chat_open(client, o, NULL), TCHAT_INVALID_ARGUMENT);
    CHECK_STATUS(tchat_chat_open(client, o, &chat), TCHAT_INVALID_ARGUMENT); /* no task id */
    CHECK_CONTAINS(tchat_last_error_message(), "task id");
    CHECK_STATUS(tchat_chat_restore(NULL, "{}", &chat), TCHAT_INVALID_ARGUMENT);
    CHECK_STATUS(tchat_chat_restore(client, NULL, &chat), TCHAT_INVALID_ARGUMENT);
    CHECK_STATUS(tchat_chat_restore(client, BAD_UTF8, &chat), TCHAT_INVALID_ARGUMENT);
    CHECK_STATUS(tchat_chat_restore(client, "{\"not\":\"a state\"}", &chat), TCHAT_INVALID_ARGUMENT);
    CHECK_STATUS(tchat_chat_restore(client, "{}", NULL), TCHAT_INVALID_ARGUMENT);
    CHECK(chat == SENTINEL);

    CHECK(tchat_chat_session_id(NULL) == NULL);
    CHECK(tchat_chat_chat_id(NULL) == NULL);
    CHECK(tchat_chat_last_event_id(NULL) == -1);
    CHECK(!tchat_chat_is_turn_in_flight(NULL));
    CHECK_STATUS(tchat_chat_run_id(NULL, &s), TCHAT_INVALID_ARGUMENT);
    CHECK_STATUS(tchat_chat_last_assistant_message(NULL, &s), TCHAT_INVALID_ARGUMENT);
    CHECK_STATUS(tchat_chat_save_state(NULL, &s), TCHAT_INVALID_ARGUMENT);
    CHECK(s == SENTINEL);
    CHECK_STATUS(tchat_chat_send_text(NULL, "hi"), TCHAT_INVALID_ARGUMENT);
    CHECK_STATUS(tchat_chat_steer(NULL, "hi"), TCHAT_INVALID_ARGUMENT);
    CHECK_STATUS(tchat_chat_send_message_json(NULL, "{}"), TCHAT_INVALID_ARGUMENT);
    CHECK_STATUS(tchat_chat_regenerate(NULL), TCHAT_INVALID_ARGUMENT);
    CHECK_STATUS(tchat_chat_send_action(NULL, "{}"), TCHAT_INVALID_ARGUMENT);
    CHECK_STATUS(tchat_chat_approve(NULL, "a", true, NULL), TCHAT_INVALID_ARGUMENT);
    CHECK_STATUS(tchat_chat_stop(NULL, NULL), TCHAT_INVALID_ARGUMENT);
    CHECK_STATUS(tchat_chat_close_agent(NULL), TCHAT_INVALID_ARGUMENT);
    CHECK_STATUS(tchat_chat_close_session(NULL, NULL), TCHAT_INVALID_ARGUMENT);
    CHECK_STATUS(tchat_chat_set_callback(NULL, NULL, NULL, NULL), TCHAT_INVALID_ARGUMENT);
    CHECK_STATUS(tchat_chat_next_event(NULL, 0, &ev), TCHAT_INVALID_ARGUMENT);
    CHECK_STATUS(tchat_chat_wake(NULL), TCHAT_INVALID_ARGUMENT);
    CHECK(ev == SENTINEL);
    tchat_chat_options_free(o);
}

static void test_event_nulls(void) {
    size_t len = 12345;
    tchat_event *copy = SENTINEL;
    t_section("event accessors on NULL");
    CHECK(tchat_event_get_kind(NULL) == TCHAT_EVENT_KIND_NONE);
    CHECK(tchat_event_chunk_type(NULL) == NULL);
    CHECK(tchat_event_chunk_json(NULL, &len) == NULL);
    CHECK(tchat_event_delta(NULL, &len) == NULL);
    CHECK(len == 12345);
    CHECK(tchat_event_seq_num(NULL) == 0);
    CHECK(tchat_event_message_json(NULL, NULL) == NULL);
    CHECK(tchat_event_message_id(NULL) == NULL);
    CHECK(tchat_event_finish_reason(NULL) == NULL);
    CHECK(tchat_event_error_text(NULL) == NULL);
    CHECK(!tchat_event_stopped(NULL));
    CHECK(tchat_event_pending_approval_count(NULL) == 0);
    CHECK(tchat_event_pending_approval_id(NULL, 0) == NULL);
    CHECK(tchat_event_reconnect_attempt(NULL) == 0);
    CHECK(tchat_event_reconnect_delay_ms(NULL) == 0);
    CHECK(tchat_event_session_closed_reason(NULL) == NULL);
    CHECK(tchat_event_error_status(NULL) == TCHAT_OK);
    CHECK(tchat_event_error_http_status(NULL) == 0);
    CHECK(tchat_event_error_message(NULL) == NULL);
    CHECK_STATUS(tchat_event_copy(NULL, &copy), TCHAT_INVALID_ARGUMENT);
    CHECK(copy == SENTINEL);
}

static int log_calls;
static void log_cb(void *user_data, tchat_log_level level, const char *message) {
    (void)user_data;
    (void)level;
    (void)message;
    log_calls++;
}

static int log_frees;
static void log_free(void *user_data) {
    (void)user_data;
    log_frees++;
}

static void test_log(void) {
    t_section("log callback");
    CHECK_STATUS(tchat_set_log_callback(log_cb, NULL, NULL, 0), TCHAT_INVALID_ARGUMENT);
    CHECK_STATUS(tchat_set_log_callback(log_cb, NULL, NULL, 5), TCHAT_INVALID_ARGUMENT);
    CHECK_STATUS(tchat_set_log_callback(log_cb, NULL, NULL, TCHAT_LOG_LEVEL_DEBUG), TCHAT_OK);
    CHECK_STATUS(tchat_set_log_callback(NULL, NULL, NULL, 0), TCHAT_OK);
    /* user_data_free: once, when replaced or removed; not when the call fails. */
    CHECK_STATUS(tchat_set_log_callback(log_cb, &log_frees, log_free, 9), TCHAT_INVALID_ARGUMENT);
    CHECK(log_frees == 0);
    CHECK_STATUS(tchat_set_log_callback(log_cb, &log_frees, log_free, TCHAT_LOG_LEVEL_ERROR), TCHAT_OK);
    CHECK(log_frees == 0);
    CHECK_STATUS(tchat_set_log_callback(log_cb, &log_frees, log_free, TCHAT_LOG_LEVEL_WARN), TCHAT_OK);
    CHECK(log_frees == 1);
    CHECK_STATUS(tchat_set_log_callback(NULL, NULL, NULL, 0), TCHAT_OK);
    CHECK(log_frees == 2);
}

/* Failures that need a server: nothing listening, and a wrong key (401, without leaking the key). */
static void test_connection_failures(void) {
    tchat_client_options *o = tchat_client_options_new();
    tchat_client *client = NULL;
    tchat_chat_options *co = tchat_chat_options_new();
    tchat_chat *chat = SENTINEL;
    t_section("network and auth failures");
    tchat_chat_options_set_task_id(co, "demo");

    /* A loopback port where nothing listens (port 1 needs root to bind, so it is free). */
    tchat_client_options_set_base_url(o, "http://127.0.0.1:1");
    tchat_client_options_set_token(o, "tr_dev_whatever");
    tchat_client_options_set_retry(o, 1, 10, 10);
    tchat_client_options_set_connect_timeout_ms(o, 2000);
    CHECK_STATUS(tchat_client_new(o, &client), TCHAT_OK);
    CHECK_STATUS(tchat_chat_open(client, co, &chat), TCHAT_NETWORK);
    /* The error names the method, the whole URL (so the host) and what failed, in plain words. */
    CHECK_STR(tchat_last_error_message(), "POST http://127.0.0.1:1/api/v1/sessions: connection refused");
    CHECK(strstr(tchat_last_error_message(), "tr_dev_whatever") == NULL);
    CHECK(chat == SENTINEL);
    tchat_client_free(client);
    client = NULL;

    /* With the default retry policy (5 attempts, 1 s backoff) a refused connection still fails
       fast: refusals are tried twice, 100 ms apart. */
    {
        long long t0;
        tchat_client_options *d = tchat_client_options_new();
        tchat_client_options_set_base_url(d, "http://127.0.0.1:1");
        tchat_client_options_set_token(d, "tr_dev_whatever");
        CHECK_STATUS(tchat_client_new(d, &client), TCHAT_OK);
        tchat_client_options_free(d);
        t0 = t_now_ms();
        CHECK_STATUS(tchat_chat_open(client, co, &chat), TCHAT_NETWORK);
        CHECK(t_now_ms() - t0 < 1000);
        CHECK(chat == SENTINEL);
        tchat_client_free(client);
        client = NULL;
    }

    if (getenv("TRIGGER_API_URL")) {
        client = t_client_with_key("tr_dev_WRONG_KEY_must_not_leak");
        CHECK_STATUS(tchat_chat_open(client, co, &chat), TCHAT_AUTH);
        CHECK(tchat_last_error_http_status() == 401 || tchat_last_error_http_status() == 403);
        CHECK(strstr(tchat_last_error_message(), "WRONG_KEY") == NULL);
        CHECK(chat == SENTINEL);
        /* Unknown task. */
        tchat_client_free(client);
        client = t_client();
        tchat_chat_options_set_task_id(co, "no-such-task");
        {
            tchat_status s = tchat_chat_open(client, co, &chat);
            CHECK(s == TCHAT_NOT_FOUND || s == TCHAT_HTTP || s == TCHAT_OK);
            if (s == TCHAT_OK) tchat_chat_free(chat);
        }
        tchat_client_free(client);
    }
    tchat_chat_options_free(co);
    tchat_client_options_free(o);
}

int main(void) {
    tchat_client *client;
    tchat_client_options *o;
    test_version_and_status();
    test_null_safe_frees();
    test_client_options();
    test_chat_options();
    /* A client that is never used for a request: the NULL checks come first. */
    o = tchat_client_options_new();
    tchat_client_options_set_base_url(o, "http://127.0.0.1:1");
    tchat_client_options_set_token(o, "tr_dev_x");
    client = NULL;
    CHECK_STATUS(tchat_client_new(o, &client), TCHAT_OK);
    tchat_client_options_free(o);
    test_chat_nulls(client);
    tchat_client_free(client);
    test_event_nulls();
    test_log();
    test_connection_failures();
    return t_finish();
}
