// Conformance: the official browser transport `TriggerChatTransport` (@trigger.dev/sdk/chat,
// pinned in package.json) holds a conversation against tchat-devserver, driven the way the AI
// SDK's `useChat` drives it (`sendMessages` / `reconnectToStream`, chunk streams assembled with
// the AI SDK's `readUIMessageStream`). The app backend is emulated here with the secret key
// (`chat.createStartSessionAction` from @trigger.dev/sdk/ai). A failing step means the
// devserver is not what the 4.8.3 transport expects of the real server.
//
//   node transport.mjs            (from tests/conformance)
//
// The devserver binary is target/release/tchat-devserver, or the path in $TCHAT_DEVSERVER.
// Only loopback traffic: every fetch to another host is refused. Each step prints
// `ok N - name` or `not ok N - name: reason`; the last line is `N passed, N failed`; the exit
// code is non-zero when anything failed.

import assert from "node:assert/strict";
import { killDevservers, loopbackOnlyFetch, sleep, slowText, startDevserver, tickNumbers, withTimeout } from "./lib.mjs";

const SECRET_KEY = "tr_dev_tchat_local";
const STEP_TIMEOUT_MS = 20_000;
const WATCHDOG_MS = 240_000;
const DELTA_DELAY_MS = 20; // `/slow 50` streams for about a second: long enough to stop or reload mid-turn
const IDLE_TIMEOUT_SECONDS = 1; // the second devserver's runs end after one idle second

// Hermetic: no ambient Trigger.dev configuration (keys, URLs, branches, deployment ids).
for (const k of Object.keys(process.env)) {
  if (k.startsWith("TRIGGER_")) delete process.env[k];
}


const types = (chunks) => chunks.map((c) => c.type).join(",");
const textsOf = (message) => (message?.parts ?? []).filter((p) => p.type === "text").map((p) => p.text);
const count = (chunks, type) => chunks.filter((c) => c.type === type).length;

/** A resolvable promise: an event the steps await instead of sleeping. */
function signal() {
  let resolve;
  const promise = new Promise((r) => (resolve = r));
  return { promise, resolve };
}

async function devserverPost(baseURL, route, body) {
  const res = await fetch(`${baseURL}${route}`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(body ?? {}),
  });
  assert.equal(res.status, 200, `POST ${route}: ${res.status} ${await res.clone().text()}`);
  return res.json();
}

function decodeJwt(token) {
  const [, payload] = token.split(".");
  return JSON.parse(Buffer.from(payload, "base64url").toString("utf8"));
}

// ─── the app: a backend holding the secret key, and a useChat-like frontend ──────────────

/**
 * The app's server side, as a Next.js server action would be: it holds the secret key and
 * starts sessions with the SDK's own `chat.createStartSessionAction`. `accessToken` (the
 * transport's refresh callback) re-runs the same idempotent start, which answers a fresh
 * session PAT for an existing session (AccessTokenParams: "typical for
 * chat.createStartSessionAction server actions"); it does not depend on `auth.createPublicToken`,
 * which step 15 checks on its own.
 */
function makeBackend(sdk, baseURL) {
  const action = sdk.chat.createStartSessionAction("demo", { apiClient: { baseURL, accessToken: SECRET_KEY } });
  const calls = { startSession: [], accessToken: [] };
  return {
    calls,
    startSession: async ({ taskId, chatId, clientData }) => {
      calls.startSession.push({ taskId, chatId, clientData });
      assert.equal(taskId, "demo", "startSession receives the transport's task");
      const started = await action({ chatId, clientData });
      return { publicAccessToken: started.publicAccessToken, pendingVersion: started.pendingVersion };
    },
    accessToken: async ({ chatId }) => {
      calls.accessToken.push({ chatId });
      const started = await action({ chatId });
      return started.publicAccessToken;
    },
  };
}

/**
 * What `useChat` (the AI SDK's AbstractChat, ai@6) does around a ChatTransport: it keeps the
 * message list, calls `sendMessages` with the whole list, an abort signal per request, the
 * trigger and messageId; it assembles the returned chunk stream into the response message
 * (continuing the last assistant message for tool approvals), and calls `reconnectToStream`
 * to resume. Here `readUIMessageStream` does the assembly.
 */
class ChatDriver {
  constructor(sdk, transport, chatId) {
    this.sdk = sdk;
    this.transport = transport;
    this.chatId = chatId;
    this.messages = [];
  }

  /** Consumes one response stream. `chunks` fill as they arrive; `done` gives the message. */
  consume(stream, { continueMessage, abortController, onChunk } = {}) {
    const chunks = [];
    const errors = []; // errors readUIMessageStream reports: error chunks, and a failed stream
    let streamError;
    const reader = stream.getReader();
    const tapped = new ReadableStream({
      async pull(controller) {
        let r;
        try {
          r = await reader.read();
        } catch (e) {
          streamError = e;
          controller.error(e);
          return;
        }
        if (r.done) {
          controller.close();
          return;
        }
        chunks.push(r.value);
        onChunk?.(r.value, chunks);
        controller.enqueue(r.value);
      },
      cancel(reason) {
        return reader.cancel(reason);
      },
    });
    const startedAt = Date.now();
    const handle = { chunks, errors, abortController, endedAt: undefined };
    handle.done = (async () => {
      let message;
      for await (const m of this.sdk.readUIMessageStream({
        message: continueMessage,
        stream: tapped,
        onError: (e) => errors.push(e),
      })) {
        message = m;
      }
      handle.endedAt = Date.now();
      handle.elapsedMs = handle.endedAt - startedAt;
      handle.streamError = streamError;
      if (message) {
        const i = this.messages.findIndex((x) => x.id === message.id);
        if (i >= 0) this.messages[i] = message;
        else this.messages.push(message);
      }
      return message;
    })();
    handle.abort = () => abortController?.abort();
    return handle;
  }

  async request({ trigger, messageId, body, continueMessage, onChunk }) {
    const abortController = new AbortController();
    const stream = await this.transport.sendMessages({
      chatId: this.chatId,
      messages: this.messages,
      abortSignal: abortController.signal,
      metadata: undefined,
      headers: undefined,
      body,
      trigger,
      messageId,
    });
    assert.ok(stream instanceof ReadableStream, "sendMessages returns a ReadableStream");
    return this.consume(stream, { continueMessage, abortController, onChunk });
  }

  /** useChat.sendMessage({text}) */
  send(text, opts) {
    this.messages.push({ id: this.sdk.generateId(), role: "user", parts: [{ type: "text", text }] });
    return this.request({ trigger: "submit-message", messageId: undefined, ...opts });
  }

  /** useChat.regenerate(): drops the last assistant message and asks again. */
  regenerate() {
    if (this.messages.at(-1)?.role === "assistant") this.messages.pop();
    return this.request({ trigger: "regenerate-message", messageId: undefined });
  }

  /** useChat.addToolApprovalResponse + sendAutomaticallyWhen: the assistant message goes back. */
  respondToApproval(approvalId, approved, reason) {
    const i = this.messages.findIndex((m) =>
      m.parts.some((p) => p.state === "approval-requested" && p.approval?.id === approvalId),
    );
    assert.ok(i >= 0, `a message waiting for approval ${approvalId}`);
    const answered = {
      ...this.messages[i],
      parts: this.messages[i].parts.map((p) =>
        p.state === "approval-requested" && p.approval?.id === approvalId
          ? { ...p, state: "approval-responded", approval: { ...p.approval, id: approvalId, approved, reason } }
          : p,
      ),
    };
    this.messages[i] = answered;
    return this.request({ trigger: "submit-message", messageId: answered.id, continueMessage: structuredClone(answered) });
  }

  /** useChat.resumeStream(): null when there is nothing to resume. */
  async resume(opts) {
    const abortController = new AbortController();
    const stream = await this.transport.reconnectToStream({ chatId: this.chatId, abortSignal: abortController.signal });
    if (stream == null) return null;
    return this.consume(stream, { abortController, ...opts });
  }
}

/** A transport with an app around it: persisted session state, events, the backend. */
function makeApp(sdk, baseURL, chatId, { backend, sessions } = {}) {
  backend ??= makeBackend(sdk, baseURL);
  const app = { backend, persisted: undefined, persistedHistory: [], events: [] };
  if (sessions?.[chatId]) app.persisted = sessions[chatId];
  // Every request the transport makes, through its `fetch` option: method, path, the headers
  // that matter to the protocol, and the answer's status and headers.
  app.requests = [];
  const fetchOverride = async (url, init, ctx) => {
    const headers = new Headers(init?.headers);
    const body = typeof init?.body === "string" ? init.body : undefined;
    const entry = { endpoint: ctx?.endpoint, method: init?.method ?? "GET", path: new URL(url).pathname, headers, body };
    app.requests.push(entry);
    entry.answered = fetch(url, init).then((res) => {
      entry.status = res.status;
      entry.responseHeaders = res.headers;
      return res;
    });
    return entry.answered;
  };
  app.transport = new sdk.TriggerChatTransport({
    task: "demo",
    baseURL,
    fetch: fetchOverride,
    accessToken: backend.accessToken,
    startSession: backend.startSession,
    clientData: { suite: "transport-conformance" },
    sessions,
    onSessionChange: (id, session) => {
      if (id !== chatId) return;
      app.persisted = session ? JSON.parse(JSON.stringify(session)) : session;
      app.persistedHistory.push(app.persisted);
    },
    onEvent: (e) => app.events.push(e),
  });
  app.chat = new ChatDriver(sdk, app.transport, chatId);
  return app;
}

/** The transport's own view of failures, for diagnostics. */
function eventTrail(app) {
  return app.events
    .filter((e) => ["stream-error", "message-send-failed", "session-closed"].includes(e.type))
    .map((e) => `${e.type}${e.status ? ` ${e.status}` : ""}: ${e.error?.message ?? e.reason ?? ""}`)
    .join("; ");
}

/** A finished, clean turn: one start, one finish, no stream failure. */
function assertCleanTurn(turn, message, what) {
  const trail = types(turn.chunks);
  assert.equal(turn.streamError, undefined, `${what}: the transport stream failed: ${turn.streamError?.message}`);
  assert.deepEqual(turn.errors.map((e) => e.message), [], `${what}: no errors (chunks ${trail})`);
  assert.equal(turn.chunks[0]?.type, "start", `${what}: starts with start (${trail})`);
  assert.equal(count(turn.chunks, "start"), 1, `${what}: one start (${trail})`);
  assert.equal(turn.chunks.at(-1)?.type, "finish", `${what}: ends with finish (${trail})`);
  assert.ok(message, `${what}: an assistant message`);
  assert.equal(message.role, "assistant");
}

/**
 * One turn of `.out` as the secret-key holder sees it (the SDK's own session subscription),
 * from `lastEventId` up to the next turn-complete control record.
 */
async function readTurnAsServer(apiClient, chatId, lastEventId) {
  const ac = new AbortController();
  const controls = [];
  const stream = await apiClient.subscribeToSessionStream(chatId, "out", {
    lastEventId,
    signal: ac.signal,
    timeoutInSeconds: 10,
    onControl: (control) => {
      controls.push(control);
      if (control.subtype === "turn-complete") ac.abort();
    },
  });
  const chunks = [];
  for await (const chunk of stream) if (chunk != null) chunks.push(chunk);
  assert.ok(controls.some((x) => x.subtype === "turn-complete"), "the turn completed");
  return { chunks, controls };
}

// ─── the steps ────────────────────────────────────────────────────────────────────────────

const results = [];

async function step(name, fn, timeoutMs = STEP_TIMEOUT_MS) {
  const n = results.length + 1;
  const t0 = Date.now();
  try {
    await withTimeout(Promise.resolve().then(fn), timeoutMs, name);
    results.push({ name, ok: true });
    console.log(`ok ${n} - ${name} (${Date.now() - t0} ms)`);
  } catch (e) {
    results.push({ name, ok: false });
    const reason = String(e?.message ?? e).split("\n")[0];
    console.log(`not ok ${n} - ${name}: ${reason} (${Date.now() - t0} ms)`);
    console.log(String(e?.stack ?? e).replace(/^/gm, "    "));
  }
}

async function main() {
  globalThis.fetch = loopbackOnlyFetch(globalThis.fetch, "transport conformance");
  const baseURL = await startDevserver(["--delta-delay-ms", String(DELTA_DELAY_MS), "--ping-interval-ms", "500"]);
  console.log(`# devserver at ${baseURL}`);

  const { configure, sessions, runs, auth } = await import("@trigger.dev/sdk");
  const { TriggerChatTransport } = await import("@trigger.dev/sdk/chat");
  const { chat } = await import("@trigger.dev/sdk/ai");
  const { readUIMessageStream, generateId } = await import("ai");
  const { apiClientManager } = await import("@trigger.dev/core/v3");
  configure({ secretKey: SECRET_KEY, baseURL });
  const apiClient = apiClientManager.clientOrThrow();
  const sdk = { TriggerChatTransport, chat, readUIMessageStream, generateId };

  const chatId = `transport-${process.pid}-${Date.now()}`;
  const primary = makeApp(sdk, baseURL, chatId);
  const c = primary.chat;
  let restored; // the app reloaded in step 10, the one the conversation continues in

  await step("first message: the transport starts the session, exact reply", async () => {
    const turn = await c.send("hello world");
    const message = await turn.done;
    assertCleanTurn(turn, message, "first turn");
    assert.deepEqual(textsOf(message), ["You said: hello world"]);
    assert.equal(primary.backend.calls.startSession.length, 1, "startSession called once, lazily");
    assert.deepEqual(primary.backend.calls.startSession[0].clientData, { suite: "transport-conformance" });
    assert.equal(primary.backend.calls.accessToken.length, 0, "no token refresh needed");
    assert.equal(primary.persisted?.isStreaming, false, "persisted state: the turn settled");
    assert.match(primary.persisted.lastEventId ?? "", /^\d+$/, "persisted state: a numeric .out cursor");
    assert.equal(primary.persisted.activeInputSeq, undefined, "persisted state: no outstanding send");
    assert.ok(primary.persisted.publicAccessToken, "persisted state: a token");
    const row = await sessions.retrieve(chatId);
    assert.equal(row.externalId, chatId);
    assert.equal(row.taskIdentifier, "demo");
    assert.equal(row.type, "chat.agent");
  });

  await step("second turn: exact reply, nothing of the first turn replayed", async () => {
    const before = Number(primary.persisted.lastEventId);
    const turn = await c.send("how are you today?");
    const message = await turn.done;
    assertCleanTurn(turn, message, "second turn");
    assert.deepEqual(textsOf(message), ["You said: how are you today?"]);
    assert.ok(Number(primary.persisted.lastEventId) > before, "cursor moved forward");
    assert.equal(c.messages.length, 4);
  });

  await step("regenerate answers the last user message again", async () => {
    const turn = await c.regenerate();
    const message = await turn.done;
    assertCleanTurn(turn, message, "regenerated turn");
    assert.deepEqual(textsOf(message), ["You said: how are you today?"]);
    assert.deepEqual(c.messages.map((m) => m.role), ["user", "assistant", "user", "assistant"]);
  });

  await step("stop through the abort signal during /slow 50; the next turn is clean", async () => {
    const cursor = primary.persisted.lastEventId;
    const fiveTicks = signal();
    const turn = await c.send("/slow 50", {
      onChunk: (_, chunks) => tickNumbers(chunks).length >= 5 && fiveTicks.resolve(),
    });
    await fiveTicks.promise;
    const t0 = Date.now();
    turn.abort(); // useChat's stop()
    const message = await turn.done;
    assert.ok(Date.now() - t0 < 2000, `the stopped stream closed promptly (${Date.now() - t0} ms)`);
    assert.equal(turn.streamError, undefined, `no stream failure: ${turn.streamError?.message}`);
    const ticks = tickNumbers(turn.chunks);
    assert.ok(ticks.length < 50, `stopped early (${ticks.length} ticks)`);
    assert.deepEqual(ticks, ticks.map((_, i) => i + 1), "ticks in order, none missing");
    assert.equal(textsOf(message)[0], slowText(ticks.length));
    assert.equal(primary.persisted.isStreaming, false, "the persisted state says nothing is streaming");
    // What the agent wrote for the stopped turn, read with the secret key up to its turn-complete.
    const written = await readTurnAsServer(apiClient, chatId, cursor);
    const stops = primary.requests.filter((r) => r.endpoint === "in" && r.body === JSON.stringify({ kind: "stop" }));
    assert.equal(stops.length, 1, "the abort appended one {kind:\"stop\"}");
    assert.equal((await stops[0].answered).status, 200, "the stop append was accepted");
    assert.ok(written.chunks.some((x) => x.type === "abort"), `the agent aborted: ${types(written.chunks)}`);
    assert.ok(!written.chunks.some((x) => x.type === "finish"), "and never finished");
    assert.ok(tickNumbers(written.chunks).length < 50, `it stopped early (${tickNumbers(written.chunks).length} ticks)`);
    // The transport appended {kind:"stop"} and gates the next stream up to the stopped
    // turn's turn-complete: the next reply must arrive alone, with nothing of the slow turn.
    const next = await c.send("still there?");
    const reply = await next.done;
    assertCleanTurn(next, reply, "turn after the stop");
    assert.deepEqual(textsOf(reply), ["You said: still there?"]);
    assert.ok(!next.chunks.some((x) => /tick/.test(x.delta ?? "")), `no tick leaked (${types(next.chunks)})`);
    assert.ok(eventTrail(primary) === "", `no transport failures: ${eventTrail(primary)}`);
  });

  await step("tool approval, approved: /tool Paris, then the approval-responded assistant message", async () => {
    const turn = await c.send("/tool Paris");
    const message = await turn.done;
    assert.deepEqual(turn.errors.map((e) => e.message), []);
    const tool = message?.parts.find((p) => p.type === "tool-get_weather");
    assert.ok(tool, `a tool part: ${JSON.stringify(message?.parts)} (${types(turn.chunks)})`);
    assert.equal(tool.state, "approval-requested");
    assert.deepEqual(tool.input, { city: "Paris" });
    assert.ok(tool.approval?.id, "an approval id");
    assert.equal(turn.chunks.at(-1)?.type, "finish");
    assert.equal(turn.chunks.at(-1)?.finishReason, "tool-calls");

    const reply = await c.respondToApproval(tool.approval.id, true);
    const answered = await reply.done;
    assert.deepEqual(reply.errors.map((e) => e.message), [], `no errors (${types(reply.chunks)})`);
    assert.equal(reply.chunks[0]?.type, "start");
    assert.equal(reply.chunks[0]?.messageId, message.id, "the reply continues the same assistant message");
    assert.equal(answered.id, message.id);
    const done = answered.parts.find((p) => p.type === "tool-get_weather");
    assert.equal(done.state, "output-available", `tool part state (${types(reply.chunks)})`);
    assert.equal(done.toolCallId, tool.toolCallId);
    assert.deepEqual(done.output, { city: "Paris", forecast: "sunny", temperatureC: 21 });
    assert.deepEqual(textsOf(answered), ["The weather in Paris is sunny, 21°C."]);
    assert.equal(c.messages.filter((m) => m.id === message.id).length, 1, "one assistant message, updated in place");
  });

  await step("tool approval, denied: /tool Oslo", async () => {
    const turn = await c.send("/tool Oslo");
    const message = await turn.done;
    const tool = message?.parts.find((p) => p.type === "tool-get_weather");
    assert.ok(tool, `a tool part (${types(turn.chunks)})`);
    assert.equal(tool.state, "approval-requested");
    assert.deepEqual(tool.input, { city: "Oslo" });
    const reply = await c.respondToApproval(tool.approval.id, false, "not now");
    const answered = await reply.done;
    assert.deepEqual(reply.errors.map((e) => e.message), [], `no errors (${types(reply.chunks)})`);
    assert.equal(answered.id, message.id, "the reply continues the same assistant message");
    const done = answered.parts.find((p) => p.type === "tool-get_weather");
    assert.equal(done.state, "output-denied", `tool part state (${types(reply.chunks)})`);
    assert.ok(reply.chunks.some((x) => x.type === "tool-output-denied" && x.toolCallId === tool.toolCallId));
    assert.deepEqual(textsOf(answered), ["Okay, I won't check the weather in Oslo."]);
  });

  await step("pending (steering) message while /slow 30 streams joins the same turn", async () => {
    const firstTick = signal();
    const turn = await c.send("/slow 30", { onChunk: (x) => x.type === "text-delta" && firstTick.resolve() });
    await firstTick.promise;
    const steer = { id: generateId(), role: "user", parts: [{ type: "text", text: "keep it short" }] };
    assert.equal(await primary.transport.sendPendingMessage(chatId, steer), true, "sendPendingMessage appended");
    const message = await turn.done;
    assertCleanTurn(turn, message, "steered turn");
    assert.deepEqual(textsOf(message), [slowText(30), "Noted: keep it short"]);
    assert.equal(message.parts.filter((p) => p.type === "step-start").length, 2, "the steering got a step of its own");
  });

  await step("action undo through the transport's sendAction", async () => {
    const settled = [];
    const stream = await primary.transport.sendAction(chatId, { type: "undo" }, { onSettled: (s) => settled.push(s) });
    const turn = c.consume(stream);
    const message = await turn.done;
    assertCleanTurn(turn, message, "undo turn");
    assert.deepEqual(textsOf(message), ["Undid the last exchange."]);
    assert.equal(settled.length, 1, "onSettled fired: the turn-complete's session-in-event-id covers the action's .in seq");
    assert.equal(primary.persisted.isStreaming, false);
  });

  await step("an error turn (/error) reaches useChat as an error; the chat keeps going", async () => {
    const turn = await c.send("/error");
    await turn.done;
    assert.equal(turn.streamError, undefined, `the stream itself did not fail: ${turn.streamError?.message}`);
    assert.deepEqual(turn.errors.map((e) => e.message), ["The demo agent failed on purpose"], `errors (${types(turn.chunks)})`);
    assert.ok(turn.chunks.some((x) => x.type === "error" && x.errorText === "The demo agent failed on purpose"));
    assert.equal(primary.persisted.isStreaming, false, "the error turn settled");
    const next = await c.send("after the error");
    const reply = await next.done;
    assertCleanTurn(next, reply, "turn after the error");
    assert.deepEqual(textsOf(reply), ["You said: after the error"]);
  });

  await step("page reload mid-turn: a new transport from the persisted state replays the turn exactly once", async () => {
    const tenTicks = signal();
    const turn = await c.send("/slow 50", {
      onChunk: (_, chunks) => tickNumbers(chunks).length >= 10 && tenTicks.resolve(),
    });
    await tenTicks.promise;
    // What the app persisted (localStorage) through onSessionChange, and what getSession says.
    const saved = JSON.parse(JSON.stringify(primary.persisted));
    assert.deepEqual(saved, JSON.parse(JSON.stringify(primary.transport.getSession(chatId))), "onSessionChange == getSession");
    assert.equal(saved.isStreaming, true, "persisted mid-turn: streaming");
    assert.equal(typeof saved.activeInputSeq, "number", "persisted mid-turn: the send's .in seq (from the append response)");
    // The page goes away: no stop is sent, the old transport's streams are dropped.
    primary.transport.dispose();
    await turn.done;
    // The reloaded page: messages from the app's store (up to the user's /slow 50), and a new
    // transport hydrated from the persisted session.
    restored = makeApp(sdk, baseURL, chatId, { sessions: { [chatId]: saved } });
    restored.chat.messages = c.messages.slice();
    const resumed = await restored.chat.resume();
    assert.ok(resumed, "reconnectToStream returns a stream for an in-flight turn");
    const message = await resumed.done;
    assertCleanTurn(resumed, message, "replayed turn");
    assert.deepEqual(tickNumbers(resumed.chunks), Array.from({ length: 50 }, (_, i) => i + 1), "every tick exactly once");
    assert.deepEqual(textsOf(message), [slowText(50)]);
    assert.equal(restored.persisted?.isStreaming, false, "the replayed turn settled");
    assert.equal(restored.backend.calls.accessToken.length, 0, "the persisted token was enough");
    // And the restored chat carries on without replaying anything.
    const next = await restored.chat.send("back again");
    const reply = await next.done;
    assertCleanTurn(next, reply, "turn after the reload");
    assert.deepEqual(textsOf(reply), ["You said: back again"]);
  });

  await step("settled reconnect returns promptly (null, or an empty stream for a bare hydrated state)", async () => {
    const saved = JSON.parse(JSON.stringify(restored.persisted));
    assert.equal(saved.isStreaming, false);
    const reloaded = makeApp(sdk, baseURL, chatId, { sessions: { [chatId]: saved } });
    assert.equal(await reloaded.chat.resume(), null, "nothing to resume after a settled turn");
    // A state that only knows the token and the cursor (kept server-side, say): the transport
    // subscribes with X-Peek-Settled: 1, and the server must close at once as settled.
    const bare = makeApp(sdk, baseURL, chatId, {
      sessions: { [chatId]: { publicAccessToken: saved.publicAccessToken, lastEventId: saved.lastEventId } },
    });
    const t0 = Date.now();
    const resumed = await bare.chat.resume();
    assert.ok(resumed, "a bare hydrated state (isStreaming unknown) subscribes to .out");
    await resumed.done;
    assert.equal(resumed.streamError, undefined, `no stream failure: ${resumed.streamError?.message}`);
    assert.deepEqual(resumed.chunks, [], "nothing new after a settled turn");
    assert.ok(Date.now() - t0 < 3000, `closed promptly (${Date.now() - t0} ms), not after the long-poll window`);
    const sse = bare.requests.filter((r) => r.endpoint === "out");
    assert.ok(sse.length >= 1, "an .out subscription");
    assert.equal(sse[0].headers.get("x-peek-settled"), "1", "the reload path asks for the settled peek");
    assert.equal(sse[0].headers.get("last-event-id"), saved.lastEventId, "from the persisted cursor");
    assert.equal(sse[0].status, 200);
    assert.equal(sse[0].responseHeaders.get("x-stream-version"), "v2", "X-Stream-Version: v2");
    assert.equal(sse[0].responseHeaders.get("x-session-settled"), "true", "the answer says settled (X-Session-Settled: true)");
    assert.equal(sse.length, 1, `one subscription, no EOF resubscribes after a settled close (${sse.length})`);
  });

  await step("continuation after a killed run, and after an idle timeout", async () => {
    const app = restored;
    const before = await sessions.retrieve(chatId);
    assert.match(before.currentRunId ?? "", /^run_/);
    const killed = await devserverPost(baseURL, `/__devserver/sessions/${encodeURIComponent(chatId)}/kill-run`);
    assert.equal(killed.ok, true, "kill-run killed a run");
    const turn = await app.chat.send("after the kill");
    const reply = await turn.done;
    assertCleanTurn(turn, reply, "turn after the killed run");
    assert.deepEqual(textsOf(reply), ["You said: after the kill"]);
    const after = await sessions.retrieve(chatId);
    assert.notEqual(after.currentRunId, before.currentRunId, "a continuation run took over");
    const old = await runs.retrieve(before.currentRunId);
    assert.equal(old.status, "CANCELED");

    // A second devserver whose runs end after one idle second.
    const idleURL = await startDevserver(["--delta-delay-ms", String(DELTA_DELAY_MS), "--ping-interval-ms", "500", "--idle-timeout-seconds", String(IDLE_TIMEOUT_SECONDS)]);
    const idleChatId = `${chatId}-idle`;
    const idle = makeApp(sdk, idleURL, idleChatId);
    const first = await idle.chat.send("before the idle timeout");
    const firstReply = await first.done;
    assertCleanTurn(first, firstReply, "first turn on the idle devserver");
    assert.deepEqual(textsOf(firstReply), ["You said: before the idle timeout"]);
    const idleConfig = { baseURL: idleURL, accessToken: SECRET_KEY };
    const row = await auth.withAuth(idleConfig, () => sessions.retrieve(idleChatId));
    const firstRun = row.currentRunId;
    assert.match(firstRun ?? "", /^run_/);
    // No client-visible event marks a run's idle exit: poll its status, bounded.
    let run;
    for (let i = 0; i < 50; i++) {
      run = await auth.withAuth(idleConfig, () => runs.retrieve(firstRun));
      if (run.isCompleted) break;
      await sleep(100);
    }
    assert.equal(run.status, "COMPLETED", "the run ended on its idle timeout");
    const second = await idle.chat.send("after the idle timeout");
    const secondReply = await second.done;
    assertCleanTurn(second, secondReply, "turn after the idle timeout");
    assert.deepEqual(textsOf(secondReply), ["You said: after the idle timeout"]);
    const row2 = await auth.withAuth(idleConfig, () => sessions.retrieve(idleChatId));
    assert.notEqual(row2.currentRunId, firstRun, "a continuation run answered");
  }, 30_000);

  await step("a send after the session is closed marks it closed (409 session_closed)", async () => {
    const app = restored;
    const reason = "transport conformance done";
    const closed = await sessions.close(chatId, { reason });
    assert.ok(closed.closedAt instanceof Date, "closedAt set");
    const t0 = Date.now();
    const refused = await app.chat.send("anyone there?").then(
      () => null,
      (e) => e,
    );
    assert.ok(refused, "sendMessages rejects on a closed session");
    assert.ok(Date.now() - t0 < 5000, "refused at once (the 409 is terminal, never retried)");
    assert.equal(app.transport.sessionStatus(chatId), "closed",
      `the transport marked the session closed (refusal: ${refused.status} ${refused.message}; code ${refused.code})`);
    assert.equal(refused.status, 409);
    assert.equal(refused.code, "session_closed");
    assert.equal(app.transport.sessionClosedReason(chatId), reason, "closedReason from the refusal");
    assert.equal(app.persisted.closed, true, "persisted: closed");
    assert.equal(app.persisted.closedReason, reason, "persisted: closedReason");
    assert.ok(app.events.some((e) => e.type === "session-closed" && e.source === "append"), "session-closed event");
    // From here on the transport refuses locally, and a reload has nothing to resume.
    const again = await app.chat.send("still closed?").then(() => null, (e) => e);
    assert.equal(again?.code, "session_closed");
    const reloaded = makeApp(sdk, baseURL, chatId, { sessions: { [chatId]: app.persisted } });
    assert.equal(await reloaded.chat.resume(), null);
  });

  const expiryChatId = `${chatId}-expiry`;
  const expiry = makeApp(sdk, baseURL, expiryChatId);

  await step("token expiry is recovered through the accessToken callback (append and .out)", async () => {
    const first = await expiry.chat.send("before expiry");
    assert.deepEqual(textsOf(await first.done), ["You said: before expiry"]);
    const oldToken = expiry.persisted.publicAccessToken;
    await devserverPost(baseURL, "/__devserver/faults", { expire_all_tokens: true });
    // The append gets a 401: the transport asks the app for a token once and retries.
    const turn = await expiry.chat.send("after expiry");
    const reply = await turn.done;
    assertCleanTurn(turn, reply, `turn after expiry [${eventTrail(expiry)}]`);
    assert.deepEqual(textsOf(reply), ["You said: after expiry"]);
    assert.equal(expiry.backend.calls.accessToken.length, 1, "accessToken called once");
    assert.notEqual(expiry.persisted.publicAccessToken, oldToken, "the persisted token was replaced");

    // The .out subscription's 401: reload mid-turn with a token that expires meanwhile.
    const fiveTicks = signal();
    const slow = await expiry.chat.send("/slow 50", {
      onChunk: (_, chunks) => tickNumbers(chunks).length >= 5 && fiveTicks.resolve(),
    });
    await fiveTicks.promise;
    const saved = JSON.parse(JSON.stringify(expiry.persisted));
    expiry.transport.dispose();
    await slow.done;
    await devserverPost(baseURL, "/__devserver/faults", { expire_all_tokens: true });
    const reloaded = makeApp(sdk, baseURL, expiryChatId, { sessions: { [expiryChatId]: saved } });
    const resumed = await reloaded.chat.resume();
    assert.ok(resumed, "reconnectToStream returns a stream");
    const message = await resumed.done;
    assertCleanTurn(resumed, message, `replayed turn after expiry [${eventTrail(reloaded)}]`);
    assert.deepEqual(textsOf(message), [slowText(50)]);
    assert.equal(reloaded.backend.calls.accessToken.length, 1, "accessToken called once for the SSE 401");
    await devserverPost(baseURL, "/__devserver/faults", {});
  });

  await step("auth.createPublicToken with the secret key mints a session token the transport can use", async () => {
    // A chat with no turns yet, created by the app backend with the secret key: a transport that
    // holds only a token (no stream cursor) then reads nothing of earlier turns.
    const mintedChatId = `minted-${Date.now()}`;
    const created = await fetch(`${baseURL}/api/v1/sessions`, {
      method: "POST",
      headers: { Authorization: `Bearer ${SECRET_KEY}`, "Content-Type": "application/json" },
      body: JSON.stringify({
        type: "chat.agent",
        externalId: mintedChatId,
        taskIdentifier: "demo",
        triggerConfig: { basePayload: { chatId: mintedChatId, trigger: "preload", messages: [], metadata: {} } },
      }),
    });
    assert.equal(created.status, 201, await created.text());
    const expiryChatId = mintedChatId;
    const token = await auth.createPublicToken({
      scopes: { read: { sessions: expiryChatId }, write: { sessions: expiryChatId } },
      expirationTime: "1h",
    });
    assert.equal(typeof token, "string");
    const claims = decodeJwt(token);
    assert.ok(claims.scopes.includes(`read:sessions:${expiryChatId}`), `scopes ${claims.scopes}`);
    assert.ok(claims.scopes.includes(`write:sessions:${expiryChatId}`), `scopes ${claims.scopes}`);
    // A transport that only has this token (its refresh callback refuses) holds a turn.
    const backend = {
      calls: { startSession: [], accessToken: [] },
      accessToken: () => Promise.reject(new Error("no refresh in this step")),
      startSession: () => Promise.reject(new Error("no start in this step")),
    };
    const app = makeApp(sdk, baseURL, expiryChatId, { backend, sessions: { [expiryChatId]: { publicAccessToken: token } } });
    const turn = await app.chat.send("with a minted token");
    const reply = await turn.done;
    assertCleanTurn(turn, reply, `turn with the minted token [${eventTrail(app)}]`);
    assert.deepEqual(textsOf(reply), ["You said: with a minted token"]);
  });
}

const watchdog = setTimeout(() => {
  console.log(`not ok ${results.length + 1} - watchdog: the suite did not finish in ${WATCHDOG_MS} ms`);
  results.push({ name: "watchdog", ok: false });
  finish();
}, WATCHDOG_MS);

function finish() {
  clearTimeout(watchdog);
  killDevservers();
  const passed = results.filter((r) => r.ok).length;
  const failed = results.length - passed;
  console.log(`${passed} passed, ${failed} failed`);
  process.exit(failed > 0 || passed === 0 ? 1 : 0);
}

main()
  .catch((e) => {
    results.push({ name: "setup", ok: false });
    console.log(`not ok ${results.length} - setup: ${String(e?.message ?? e).split("\n")[0]}`);
    console.log(String(e?.stack ?? e).replace(/^/gm, "    "));
  })
  .finally(finish);
