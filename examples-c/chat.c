/*
 * chat — an interactive terminal chat with a Trigger.dev chat.agent, on tchat's C API.
 *
 *   chat [--url URL] [--key KEY] [--task TASK] [--chat-id ID] [--resume FILE]
 *
 * Defaults: --url $TRIGGER_API_URL (else https://api.trigger.dev), --key $TRIGGER_SECRET_KEY,
 * --task $TCHAT_TASK (else "demo"), a random chat id.
 *
 * Type a message and press Enter: the reply streams to stdout as it arrives (exactly the agent's
 * text deltas, then a newline). Commands:
 *   /stop          stop the reply that is streaming (type it while the reply streams)
 *   /regenerate    answer the last message again
 *   /approve       approve the tool call the last reply asked about   (/deny to refuse it)
 *   /save FILE     save the conversation to FILE (resume later with --resume FILE)
 *   /quit          leave (also end of input)
 * Other lines starting with '/' are sent as messages (the demo agent knows /slow N, /tool CITY,
 * /reason TEXT, /data, /error).
 *
 * While a reply streams, the program watches both stdin and the chat: it polls stdin with poll(2)
 * and the chat with tchat_chat_next_event() with a short timeout, so /stop takes effect mid-reply.
 * Other lines typed during a reply (or piped in ahead) are handled in order after the reply.
 */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tchat.h"

/* --- stdin, line by line, without stdio buffering (so poll(2) tells the truth) ---------------- */

typedef struct {
    char buf[65536];
    size_t len;
    int eof;
} line_reader;

/* Moves the next complete line (without its newline) into `out`; 1 if there was one. At EOF a last
 * unterminated line counts as a line. */
static int take_line(line_reader *r, char *out, size_t out_size) {
    char *nl = memchr(r->buf, '\n', r->len);
    size_t n;
    if (!nl && !(r->eof && r->len > 0)) return 0;
    n = nl ? (size_t)(nl - r->buf) : r->len;
    if (n >= out_size) n = out_size - 1;
    memcpy(out, r->buf, n);
    out[n] = '\0';
    if (n > 0 && out[n - 1] == '\r') out[n - 1] = '\0';
    n = nl ? (size_t)(nl - r->buf) + 1 : r->len;
    memmove(r->buf, r->buf + n, r->len - n);
    r->len -= n;
    return 1;
}

/* Reads what stdin has (blocking when `block`); returns 0 on EOF or error. */
static int fill(line_reader *r, int block) {
    ssize_t got;
    struct pollfd p;
    if (r->eof) return 0;
    p.fd = STDIN_FILENO;
    p.events = POLLIN;
    p.revents = 0;
    if (!block && poll(&p, 1, 0) <= 0) return 1;
    if (r->len == sizeof r->buf) r->len = 0; /* an absurdly long line: drop it */
    do {
        got = read(STDIN_FILENO, r->buf + r->len, sizeof r->buf - r->len);
    } while (got < 0 && errno == EINTR);
    if (got <= 0) {
        r->eof = 1;
        return 0;
    }
    r->len += (size_t)got;
    return 1;
}

/* Blocks until a whole line is there; 0 at end of input. */
static int read_line(line_reader *r, char *out, size_t out_size) {
    for (;;) {
        if (take_line(r, out, out_size)) return 1;
        if (!fill(r, 1) && !take_line(r, out, out_size)) return 0;
    }
}

/* --- a little JSON, enough to show a tool call ----------------------------------------------- */

/* Copies the JSON value that follows "key": in `json` (a string without its quotes, or an
 * object/array/literal as it is) into out. Returns 0 when the key is not there. */
static int json_value(const char *json, const char *key, char *out, size_t out_size) {
    char pattern[64];
    const char *p, *start;
    int depth = 0, in_string = 0;
    size_t n;
    snprintf(pattern, sizeof pattern, "\"%s\":", key);
    p = strstr(json, pattern);
    if (!p) return 0;
    p += strlen(pattern);
    if (*p == '"') {
        start = ++p;
        while (*p && !(*p == '"' && p[-1] != '\\')) p++;
    } else {
        start = p;
        for (; *p; p++) {
            if (in_string) {
                if (*p == '\\' && p[1]) p++;
                else if (*p == '"') in_string = 0;
            } else if (*p == '"') {
                in_string = 1;
            } else if (*p == '{' || *p == '[') {
                depth++;
            } else if (*p == '}' || *p == ']') {
                if (depth == 0) break;
                if (--depth == 0) {
                    p++;
                    break;
                }
            } else if (*p == ',' && depth == 0) {
                break;
            }
        }
    }
    n = (size_t)(p - start);
    if (n >= out_size) n = out_size - 1;
    memcpy(out, start, n);
    out[n] = '\0';
    return 1;
}

/* --- the conversation -------------------------------------------------------------------------- */

typedef struct {
    tchat_chat *chat;
    line_reader in;
    int interactive;         /* stdin is a terminal (else input lines are echoed) */
    char approval[256];      /* the pending approval id of the last turn, if any */
    char tool_call[512];     /* "name {input}" of the last tool call the agent asked to make */
    char queued[64][1024];   /* lines typed while a reply streamed */
    int queued_n;
    int quit;
} app;

static void fail(const char *what, tchat_status s) {
    fprintf(stderr, "chat: %s: %s (%s)\n", what, tchat_last_error_message(), tchat_status_str((int)s));
}

/* One line typed while a reply streams. A /stop or /quit typed when nothing else is waiting acts at
 * once (it stops the reply; /quit then leaves); every other line, and any line typed ahead behind
 * others, is handled in order after the reply. */
static void line_during_reply(app *a, const char *line) {
    if (a->queued_n == 0 && (strcmp(line, "/stop") == 0 || strcmp(line, "/quit") == 0)) {
        tchat_status s = tchat_chat_stop(a->chat, NULL);
        if (s != TCHAT_OK) fail("stop", s);
        if (strcmp(line, "/quit") == 0) a->quit = 1;
        return;
    }
    if (a->queued_n < 64) snprintf(a->queued[a->queued_n++], sizeof a->queued[0], "%s", line);
}

/* Streams one reply to stdout until its turn completes. Returns 0 when the chat cannot go on. */
static int stream_reply(app *a) {
    char line[1024];
    int wrote_text = 0;
    a->approval[0] = '\0';
    a->tool_call[0] = '\0';
    for (;;) {
        tchat_event *ev = NULL;
        tchat_status s;
        /* stdin first, without blocking: /stop must work mid-reply */
        fill(&a->in, 0);
        while (take_line(&a->in, line, sizeof line)) line_during_reply(a, line);

        s = tchat_chat_next_event(a->chat, 20, &ev);
        if (s == TCHAT_NO_EVENT || s == TCHAT_WOKEN) continue;
        if (s != TCHAT_OK) {
            fail("next_event", s);
            return 0;
        }
        switch (tchat_event_get_kind(ev)) {
        case TCHAT_EVENT_KIND_CHUNK: {
            size_t len = 0;
            const char *type = tchat_event_chunk_type(ev);
            const char *delta = tchat_event_delta(ev, &len);
            if (delta && type && strcmp(type, "text-delta") == 0) {
                fwrite(delta, 1, len, stdout);
                fflush(stdout);
                wrote_text = 1;
            } else if (type && strcmp(type, "tool-input-available") == 0) {
                const char *json = tchat_event_chunk_json(ev, NULL);
                char name[128], input[360];
                if (json_value(json, "toolName", name, sizeof name) && json_value(json, "input", input, sizeof input))
                    snprintf(a->tool_call, sizeof a->tool_call, "%s %s", name, input);
            }
            break;
        }
        case TCHAT_EVENT_KIND_TURN_COMPLETE: {
            const char *err = tchat_event_error_text(ev);
            if (wrote_text) fputc('\n', stdout);
            if (tchat_event_stopped(ev)) printf("(stopped by /stop)\n");
            if (err) printf("(the agent failed: %s)\n", err);
            if (tchat_event_pending_approval_count(ev) > 0) {
                snprintf(a->approval, sizeof a->approval, "%s", tchat_event_pending_approval_id(ev, 0));
                printf("(the agent wants to call %s: /approve or /deny)\n", a->tool_call[0] ? a->tool_call : "a tool");
            }
            fflush(stdout);
            tchat_event_free(ev);
            return 1;
        }
        case TCHAT_EVENT_KIND_RECONNECTING:
            fprintf(stderr, "[reconnecting in %llu ms]\n", (unsigned long long)tchat_event_reconnect_delay_ms(ev));
            break;
        case TCHAT_EVENT_KIND_SESSION_CLOSED:
            if (wrote_text) fputc('\n', stdout);
            fprintf(stderr, "[the session is closed]\n");
            tchat_event_free(ev);
            return 0;
        case TCHAT_EVENT_KIND_ERROR:
            if (wrote_text) fputc('\n', stdout);
            fprintf(stderr, "[streaming failed: %s]\n", tchat_event_error_message(ev));
            tchat_event_free(ev);
            return 1;
        default:
            break;
        }
        tchat_event_free(ev);
    }
}

static int save(app *a, const char *path) {
    char *state = NULL;
    FILE *f;
    tchat_status s = tchat_chat_save_state(a->chat, &state);
    if (s != TCHAT_OK) {
        fail("save", s);
        return 0;
    }
    f = fopen(path, "w");
    if (!f || fputs(state, f) < 0 || fclose(f) != 0) {
        fprintf(stderr, "chat: cannot write %s: %s\n", path, strerror(errno));
        tchat_string_free(state);
        return 0;
    }
    tchat_string_free(state);
    printf("(saved to %s; it holds an access token: keep it private)\n", path);
    return 1;
}

static char *read_file(const char *path) {
    FILE *f = fopen(path, "rb");
    char *data;
    long size;
    if (!f) return NULL;
    if (fseek(f, 0, SEEK_END) != 0 || (size = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) != 0) {
        fclose(f);
        return NULL;
    }
    data = malloc((size_t)size + 1);
    if (data && fread(data, 1, (size_t)size, f) != (size_t)size) {
        free(data);
        data = NULL;
    }
    if (data) data[size] = '\0';
    fclose(f);
    return data;
}

/* Handles one input line; returns 0 to leave. */
static int handle(app *a, const char *line) {
    tchat_status s;
    if (line[0] == '\0') return 1;
    if (strcmp(line, "/quit") == 0) return 0;
    if (strcmp(line, "/stop") == 0) {
        printf("(nothing is streaming)\n");
        return 1;
    }
    if (strncmp(line, "/save", 5) == 0 && (line[5] == ' ' || line[5] == '\0')) {
        const char *path = line + 5;
        while (*path == ' ') path++;
        if (!*path) printf("(usage: /save FILE)\n");
        else save(a, path);
        return 1;
    }
    if (strcmp(line, "/approve") == 0 || strcmp(line, "/deny") == 0) {
        if (!a->approval[0]) {
            printf("(no tool call is waiting for approval)\n");
            return 1;
        }
        s = tchat_chat_approve(a->chat, a->approval, line[1] == 'a', NULL);
    } else if (strcmp(line, "/regenerate") == 0) {
        s = tchat_chat_regenerate(a->chat);
    } else {
        s = tchat_chat_send_text(a->chat, line);
    }
    if (s == TCHAT_SESSION_CLOSED) {
        fail("send", s);
        return 0;
    }
    if (s != TCHAT_OK) {
        fail("send", s);
        return 1;
    }
    printf("agent> ");
    fflush(stdout);
    return stream_reply(a);
}

static void usage(void) {
    fprintf(stderr,
            "usage: chat [--url URL] [--key KEY] [--task TASK] [--chat-id ID] [--resume FILE]\n"
            "  defaults: $TRIGGER_API_URL, $TRIGGER_SECRET_KEY, $TCHAT_TASK or \"demo\", a random chat id\n");
}

static const char *env_or(const char *name, const char *fallback) {
    const char *v = getenv(name);
    return v && *v ? v : fallback;
}

int main(int argc, char **argv) {
    const char *url = env_or("TRIGGER_API_URL", "https://api.trigger.dev");
    const char *key = env_or("TRIGGER_SECRET_KEY", NULL);
    const char *task = env_or("TCHAT_TASK", "demo");
    const char *chat_id = NULL, *resume = NULL;
    tchat_client_options *copts;
    tchat_client *client = NULL;
    tchat_status s;
    static app a; /* large buffers: not on the stack */
    char line[1024];
    int i, code = 0;

    for (i = 1; i < argc; i++) {
        const char *arg = argv[i];
        const char *val = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0) {
            usage();
            return 0;
        }
        if (!val) {
            usage();
            return 2;
        }
        if (strcmp(arg, "--url") == 0) url = val;
        else if (strcmp(arg, "--key") == 0) key = val;
        else if (strcmp(arg, "--task") == 0) task = val;
        else if (strcmp(arg, "--chat-id") == 0) chat_id = val;
        else if (strcmp(arg, "--resume") == 0) resume = val;
        else {
            usage();
            return 2;
        }
        i++;
    }
    if (!key) {
        fprintf(stderr, "chat: no key: pass --key or set TRIGGER_SECRET_KEY\n");
        return 2;
    }

    copts = tchat_client_options_new();
    if ((s = tchat_client_options_set_base_url(copts, url)) != TCHAT_OK ||
        (s = tchat_client_options_set_token(copts, key)) != TCHAT_OK ||
        (s = tchat_client_new(copts, &client)) != TCHAT_OK) {
        fail("client", s);
        tchat_client_options_free(copts);
        return 1;
    }
    tchat_client_options_free(copts);

    if (resume) {
        char *state = read_file(resume);
        if (!state) {
            fprintf(stderr, "chat: cannot read %s\n", resume);
            tchat_client_free(client);
            return 1;
        }
        s = tchat_chat_restore(client, state, &a.chat);
        free(state);
        if (s != TCHAT_OK) {
            fail("resume", s);
            tchat_client_free(client);
            return 1;
        }
    } else {
        tchat_chat_options *o = tchat_chat_options_new();
        if ((s = tchat_chat_options_set_task_id(o, task)) != TCHAT_OK ||
            (chat_id && (s = tchat_chat_options_set_chat_id(o, chat_id)) != TCHAT_OK) ||
            (s = tchat_chat_open(client, o, &a.chat)) != TCHAT_OK) {
            fail("open", s);
            tchat_chat_options_free(o);
            tchat_client_free(client);
            return 1;
        }
        tchat_chat_options_free(o);
    }
    /* The chat keeps what it needs of the client. */
    tchat_client_free(client);

    a.interactive = isatty(STDIN_FILENO);
    fprintf(stderr, "chat %s with agent \"%s\" (session %s). /quit to leave.\n", tchat_chat_chat_id(a.chat),
            task, tchat_chat_session_id(a.chat));
    /* A restored chat may have a reply still streaming. */
    if (tchat_chat_is_turn_in_flight(a.chat)) {
        printf("agent> ");
        fflush(stdout);
        if (!stream_reply(&a)) a.quit = 1;
    }

    while (!a.quit) {
        if (a.queued_n > 0) {
            snprintf(line, sizeof line, "%s", a.queued[0]);
            memmove(a.queued[0], a.queued[1], (size_t)(a.queued_n - 1) * sizeof a.queued[0]);
            a.queued_n--;
            printf("you> %s\n", line);
        } else {
            printf("you> ");
            fflush(stdout);
            if (!read_line(&a.in, line, sizeof line)) {
                if (!a.interactive) printf("\n");
                break;
            }
            if (!a.interactive) printf("%s\n", line); /* a transcript reads like a conversation */
        }
        if (!handle(&a, line)) break;
    }

    s = tchat_chat_free(a.chat);
    if (s != TCHAT_OK) {
        fail("free", s);
        code = 1;
    }
    return code;
}
