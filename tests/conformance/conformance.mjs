// Conformance: the official AgentChat (@trigger.dev/sdk, pinned in package.json) holds a whole
// conversation against tchat-devserver. If a step fails here, the devserver is not faithful.
//
//   node conformance.mjs          (from tests/conformance; `make test-conformance` does it all)
//
// The devserver binary is target/release/tchat-devserver, or the path in $TCHAT_DEVSERVER.
// Only loopback traffic: every fetch to another host is refused. The last line printed is
// `conformance: N passed, N failed`; the exit code is non-zero when anything failed.

import assert from "node:assert/strict";
import { killDevservers, loopbackOnlyFetch, sleep, slowText, startDevserver, tickNumbers, withTimeout } from "./lib.mjs";

const SECRET_KEY = "tr_dev_tchat_local";
const STEP_TIMEOUT_MS = 20_000;
const WATCHDOG_MS = 180_000;

// Hermetic: no ambient Trigger.dev configuration (keys, URLs, branches, deployment ids).
for (const k of Object.keys(process.env)) {
  if (k.startsWith("TRIGGER_")) delete process.env[k];
}

// ─── the devserver ────────────────────────────────────────────────────────────────────────


/** Reads a chunk stream to its end. */
async function readAll(readable) {
  const chunks = [];
  for await (const c of readable) chunks.push(c);
  return chunks;
}

/** Text parts of one turn, joined per part id, in order of their start. */
function textParts(chunks) {
  const order = [];
  const byId = new Map();
  for (const c of chunks) {
    if (c.type === "text-start") {
      order.push(c.id);
      byId.set(c.id, "");
    } else if (c.type === "text-delta") {
      if (!byId.has(c.id)) {
        order.push(c.id);
        byId.set(c.id, "");
      }
      byId.set(c.id, byId.get(c.id) + c.delta);
    }
  }
  return order.map((id) => byId.get(id));
}

function types(chunks) {
  return chunks.map((c) => c.type);
}


/** One well-formed, finished turn: start … finish, every delta inside an open text part. */
function assertWholeTurn(chunks) {
  const t = types(chunks);
  assert.equal(t[0], "start", `turn starts with start: ${t.join(",")}`);
  assert.equal(t.filter((x) => x === "start").length, 1, "one start");
  assert.equal(t.at(-1), "finish", `turn ends with finish: ${t.join(",")}`);
  assert.ok(!t.includes("abort") && !t.includes("error"), `no abort/error: ${t.join(",")}`);
  const open = new Set();
  for (const c of chunks) {
    if (c.type === "text-start") open.add(c.id);
    if (c.type === "text-delta") assert.ok(open.has(c.id), "delta inside its part");
    if (c.type === "text-end") open.delete(c.id);
  }
  assert.equal(open.size, 0, "every text part ended");
}

/**
 * Reads what is already queued on `reader` without waiting for the network: a read on a
 * non-empty queue settles in a microtask, before the setImmediate below fires. Returns true
 * when the stream ended.
 */
async function drainQueued(reader, sink) {
  const NOTHING = Symbol("nothing");
  for (;;) {
    const read = reader.read();
    const r = await Promise.race([read, new Promise((res) => setImmediate(() => res(NOTHING)))]);
    if (r === NOTHING) {
      // Leave the pending read to the caller's cancel, which settles it with done.
      read.then((x) => {
        if (!x.done) sink.push(x.value);
      }, () => {});
      return false;
    }
    if (r.done) return true;
    sink.push(r.value);
  }
}

// ─── the steps ────────────────────────────────────────────────────────────────────────────

const results = [];

async function step(name, fn) {
  const t0 = Date.now();
  try {
    await withTimeout(Promise.resolve().then(fn), STEP_TIMEOUT_MS, name);
    results.push({ name, ok: true });
    console.log(`ok - ${name} (${Date.now() - t0} ms)`);
  } catch (e) {
    results.push({ name, ok: false });
    console.log(`not ok - ${name} (${Date.now() - t0} ms)`);
    console.log(String(e?.stack ?? e).replace(/^/gm, "    "));
  }
}

async function main() {
  globalThis.fetch = loopbackOnlyFetch(globalThis.fetch, "conformance");
  const baseURL = await startDevserver(["--delta-delay-ms", "2", "--ping-interval-ms", "500"]);
  console.log(`# devserver at ${baseURL}`);

  const { configure, sessions, runs } = await import("@trigger.dev/sdk");
  const { AgentChat } = await import("@trigger.dev/sdk/chat");
  const { apiClientManager } = await import("@trigger.dev/core/v3");
  configure({ secretKey: SECRET_KEY, baseURL });
  const apiClient = apiClientManager.clientOrThrow();

  const chatId = `conformance-${process.pid}-${Date.now()}`;
  const triggered = [];
  const turnsCompleted = [];
  const chat = new AgentChat({
    agent: "demo",
    id: chatId,
    clientData: { suite: "conformance" },
    onTriggered: ({ runId, chatId }) => triggered.push({ runId, chatId }),
    onTurnComplete: ({ lastEventId }) => turnsCompleted.push(lastEventId),
  });
  let saved; // the persisted state of a chat, as a stateless request handler would keep it

  await step("preload starts the session and its first run", async () => {
    const session = await chat.preload();
    assert.deepEqual(session, { lastEventId: undefined });
    assert.equal(triggered.length, 1, "onTriggered fired once");
    assert.match(triggered[0].runId, /^run_/);
    assert.equal(triggered[0].chatId, chatId);
    const row = await sessions.retrieve(chatId);
    assert.match(row.id, /^session_/);
    assert.equal(row.externalId, chatId);
    assert.equal(row.type, "chat.agent");
    assert.equal(row.taskIdentifier, "demo");
    assert.equal(row.currentRunId, triggered[0].runId);
    assert.equal(row.closedAt, null);
    await chat.preload(); // idempotent
    assert.equal(triggered.length, 1, "a second preload is a no-op");
  });

  await step("first message: exact reply text", async () => {
    const stream = await chat.sendMessage("hello world");
    const chunks = await readAll(stream);
    assertWholeTurn(chunks);
    assert.deepEqual(textParts(chunks), ["You said: hello world"]);
    assert.equal(turnsCompleted.length, 1, "onTurnComplete fired");
    assert.equal(turnsCompleted[0], chat.session.lastEventId);
    assert.match(chat.session.lastEventId, /^\d+$/);
  });

  await step("second message: exact reply text, resumed after the first turn", async () => {
    const before = Number(chat.session.lastEventId);
    const stream = await chat.sendMessage("how are you today?");
    assert.equal(await stream.text(), "You said: how are you today?");
    assert.ok(Number(chat.session.lastEventId) > before, "cursor moved forward");
    assert.equal(turnsCompleted.length, 2);
  });

  await step("regenerate answers the last user message again", async () => {
    const chunks = await readAll(await chat.sendRaw([], { trigger: "regenerate-message" }));
    assertWholeTurn(chunks);
    assert.deepEqual(textParts(chunks), ["You said: how are you today?"]);
  });

  await step("stop during /slow 200 ends the turn early; the conversation continues", async () => {
    const cursor = chat.session.lastEventId;
    const stream = await chat.sendMessage("/slow 200");
    const reader = stream.stream.getReader();
    const seen = [];
    while (tickNumbers(seen).length < 5) {
      const r = await reader.read();
      assert.ok(!r.done, "the slow turn ended before 5 ticks");
      seen.push(r.value);
    }
    const t0 = Date.now();
    await chat.stop();
    // AgentChat swallows the rest of the stopped turn and closes at its turn-complete.
    for (;;) {
      const r = await reader.read();
      if (r.done) break;
      seen.push(r.value);
    }
    const ticks = tickNumbers(seen);
    assert.ok(ticks.length < 200, `stopped early (${ticks.length} ticks)`);
    assert.deepEqual(ticks, ticks.map((_, i) => i + 1), "ticks in order, none missing");
    assert.ok(Date.now() - t0 < 5000, "the stopped stream closed promptly");
    // What the agent wrote, read back the way the agent SDK reads .out at run boot.
    const { records } = await apiClient.readSessionStreamRecords(chatId, "out", { afterEventId: cursor });
    const written = records.filter((r) => r.data && typeof r.data === "object").map((r) => r.data);
    assert.ok(written.some((c) => c.type === "abort"), `the agent aborted: ${types(written).join(",")}`);
    assert.ok(!written.some((c) => c.type === "finish"), "and never finished");
    assert.ok(tickNumbers(written).length < 200, `it stopped early (${tickNumbers(written).length} ticks written)`);
    const last = records.at(-1);
    assert.deepEqual(last.headers?.[0], ["trigger-control", "turn-complete"], "the turn completed");
    // Had the agent not stopped, this message would be steering for the slow turn.
    const next = await chat.sendMessage("still there?");
    assert.equal(await next.text(), "You said: still there?");
  });

  await step("steering message during /slow 30 is acknowledged in the same turn", async () => {
    const stream = await chat.sendMessage("/slow 30");
    assert.equal(await chat.steer("keep it short"), true, "steer appended");
    const chunks = await readAll(stream);
    assertWholeTurn(chunks);
    assert.deepEqual(textParts(chunks), [slowText(30), "Noted: keep it short"]);
    assert.equal(types(chunks).filter((t) => t === "start-step").length, 2, "the steering got a step of its own");
  });

  await step("action {type: undo}", async () => {
    const stream = await chat.sendAction({ type: "undo" });
    const chunks = await readAll(stream);
    assertWholeTurn(chunks);
    assert.deepEqual(textParts(chunks), ["Undid the last exchange."]);
  });

  await step("tool call with approval, answered through sendRaw", async () => {
    const { readUIMessageStream } = await import("ai");
    const stream = await chat.sendMessage("/tool Oslo");
    let message;
    for await (const m of readUIMessageStream({ stream: stream.stream })) message = m;
    assert.ok(message, "an assistant message");
    const tool = message.parts.find((p) => p.type === "tool-get_weather");
    assert.ok(tool, `a tool part: ${JSON.stringify(message.parts)}`);
    assert.equal(tool.state, "approval-requested");
    assert.deepEqual(tool.input, { city: "Oslo" });
    const answered = {
      ...message,
      parts: message.parts.map((p) =>
        p === tool ? { ...p, state: "approval-responded", approval: { id: tool.approval.id, approved: true } } : p,
      ),
    };
    const reply = await chat.sendRaw([answered]);
    const chunks = await readAll(reply);
    const out = chunks.find((c) => c.type === "tool-output-available");
    assert.ok(out, `a tool output: ${types(chunks).join(",")}`);
    assert.equal(out.toolCallId, tool.toolCallId);
    assert.deepEqual(out.output, { city: "Oslo", forecast: "sunny", temperatureC: 21 });
    assert.deepEqual(textParts(chunks), ["The weather in Oslo is sunny, 21°C."]);
  });

  await step("an error turn reaches the client as an error chunk", async () => {
    const chunks = await readAll(await chat.sendMessage("/error"));
    const err = chunks.find((c) => c.type === "error");
    assert.ok(err, `an error chunk: ${types(chunks).join(",")}`);
    assert.equal(err.errorText, "The demo agent failed on purpose");
    const next = await chat.sendMessage("after the error");
    assert.equal(await next.text(), "You said: after the error");
  });

  await step("a long-poll window ending mid-turn: AgentChat resubscribes, the turn arrives whole", async () => {
    // One-second windows; 600 ticks at 2 ms take longer, so the turn spans several windows.
    const shortWindows = new AgentChat({ agent: "demo", id: chatId, session: chat.session, streamTimeoutSeconds: 1 });
    const chunks = await readAll(await shortWindows.sendMessage("/slow 600"));
    assertWholeTurn(chunks);
    const ticks = tickNumbers(chunks);
    assert.deepEqual(ticks, Array.from({ length: 600 }, (_, i) => i + 1), "no duplicate or missing tick");
    assert.deepEqual(textParts(chunks), [slowText(600)]);
    // From here on the conversation's state travels as a saved blob, as a stateless handler keeps it.
    saved = JSON.stringify({ chatId: shortWindows.id, session: shortWindows.session });
  });

  await step("reconnect mid-turn from a saved lastEventId with a new AgentChat", async () => {
    const first = new AgentChat({ agent: "demo", id: chatId, session: JSON.parse(saved).session });
    const stream = await first.sendMessage("/slow 100");
    const reader = stream.stream.getReader();
    const before = [];
    while (tickNumbers(before).length < 10) {
      const r = await reader.read();
      assert.ok(!r.done, "the turn ended before 10 ticks");
      before.push(r.value);
    }
    // Take everything already delivered, then "crash": persist the state, drop the stream
    // (cancel sends no stop), and forget this AgentChat.
    assert.equal(await drainQueued(reader, before), false, "turn still streaming");
    saved = JSON.stringify({ chatId: first.id, session: first.session });
    await reader.cancel();

    const restored = JSON.parse(saved);
    assert.match(restored.session.lastEventId, /^\d+$/);
    const second = new AgentChat({ agent: "demo", id: restored.chatId, session: restored.session });
    const resumed = await second.reconnect();
    assert.ok(resumed, "reconnect returns a stream for a hydrated chat");
    const after = await readAll(resumed);
    assert.ok(after.length > 0, "the rest of the turn arrived");
    assert.notEqual(after[0].type, "start", "resumed mid-turn, not replayed from the start");
    const all = [...before, ...after];
    assertWholeTurn(all);
    assert.deepEqual(tickNumbers(all), Array.from({ length: 100 }, (_, i) => i + 1), "no duplicate or missing tick");
    assert.deepEqual(textParts(all), [slowText(100)]);
    assert.ok(Number(second.session.lastEventId) > Number(restored.session.lastEventId), "cursor advanced");
    saved = JSON.stringify({ chatId: second.id, session: second.session });
  });

  await step("reconnect at a settled turn closes at once; the restored chat keeps talking", async () => {
    const restored = JSON.parse(saved);
    const third = new AgentChat({ agent: "demo", id: restored.chatId, session: restored.session });
    const t0 = Date.now();
    const chunks = await readAll(await third.reconnect());
    assert.deepEqual(chunks, [], "nothing new after a completed turn");
    assert.ok(Date.now() - t0 < 5000, `closed promptly (${Date.now() - t0} ms), not after the long-poll window`);
    const reply = await third.sendMessage("back again");
    assert.equal(await reply.text(), "You said: back again");
    saved = JSON.stringify({ chatId: third.id, session: third.session });
  });

  await step("close ends the agent loop; a closed session refuses new messages", async () => {
    const restored = JSON.parse(saved);
    const last = new AgentChat({ agent: "demo", id: restored.chatId, session: restored.session });
    assert.equal(await last.close(), true, "close appended");
    // The run ends: its status turns final.
    const row = await sessions.retrieve(chatId);
    const runId = row.currentRunId;
    assert.match(runId, /^run_/);
    let run;
    for (let i = 0; i < 100; i++) {
      run = await runs.retrieve(runId);
      if (run.isCompleted) break;
      await sleep(50);
    }
    assert.equal(run.status, "COMPLETED", "the agent's run completed after close");
    assert.equal(run.isSuccess, true);
    assert.ok(run.finishedAt instanceof Date);
    // Closing the session itself is terminal.
    const closed = await sessions.close(chatId, { reason: "conformance done" });
    assert.ok(closed.closedAt instanceof Date, "closedAt set");
    const late = new AgentChat({ agent: "demo", id: chatId, session: restored.session });
    assert.equal(await late.steer("anyone?"), false, "appending to a closed session fails");
    const again = new AgentChat({ agent: "demo", id: chatId });
    // 409 "Session is closed": the SDK's API client retries 409 with backoff, so this takes ~9 s.
    const refused = await again.sendMessage("anyone?").then(
      () => null,
      (e) => e,
    );
    assert.ok(refused, "a closed session refuses to start again");
    assert.equal(refused.status, 409, `refused with 409: ${refused}`);
  });
}

const watchdog = setTimeout(() => {
  console.log("not ok - watchdog: the suite did not finish in time");
  results.push({ name: "watchdog", ok: false });
  finish();
}, WATCHDOG_MS);

function finish() {
  clearTimeout(watchdog);
  killDevservers();
  const passed = results.filter((r) => r.ok).length;
  const failed = results.length - passed;
  console.log(`conformance: ${passed} passed, ${failed} failed`);
  process.exit(failed > 0 || passed === 0 ? 1 : 0);
}

main()
  .catch((e) => {
    results.push({ name: "setup", ok: false });
    console.log("not ok - setup");
    console.log(String(e?.stack ?? e).replace(/^/gm, "    "));
  })
  .finally(finish);
