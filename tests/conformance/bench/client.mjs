// End-to-end figures of the official AgentChat (@trigger.dev/sdk) against a tchat-devserver child
// process on loopback, measured the way benches/client.rs measures tchat:
//
//   1. time to first chunk and per-turn time over 300 sends of "message number i for the
//      benchmark run" (the demo agent streams 9 deltas, --delta-delay-ms 0), one preloaded chat;
//   2. stop latency: 30 chats, each streaming `/slow 100` at --delta-delay-ms 500; after the first
//      chunk, how long `await chat.stop()` takes to return, then how long `await reader.cancel()`
//      on the turn's stream takes (the nearest thing JS has to tchat's drop(chat): the stream is
//      abandoned while a read is pending between deltas);
//   3. RSS per idle chat: 1,000 AgentChats opened with `await chat.preload()` (session created,
//      run triggered), process.memoryUsage().rss after GC minus before, over 1,000. Measured
//      (and printed) first: see the comment there.
//
//   node --expose-gc bench/client.mjs
//
// Env: BENCH_CHATS (1000) idle chats; BENCH_WARM (0) extra chats opened and dropped before the
// memory figure (client.rs warms up with one chat, as this does by default); TCHAT_DEVSERVER the binary.
//
// Only loopback traffic; every devserver this starts is killed on exit, failure or signal.

import { PREFIX, SECRET_KEY, loopbackOnlyFetch, report, say, scrubTriggerEnv, startDevserver, watchdog, withTimeout } from "./common.mjs";

const READ_TIMEOUT_MS = 20_000; // as client.rs: every event within 20 s
const TURNS = 300;
const STOPS = 30;

scrubTriggerEnv();
watchdog(20 * 60_000, "client benchmark");
globalThis.fetch = loopbackOnlyFetch(globalThis.fetch);

const { configure } = await import("@trigger.dev/sdk");
const { AgentChat } = await import("@trigger.dev/sdk/chat");

function read(reader, what) {
  return withTimeout(reader.read(), READ_TIMEOUT_MS, what);
}

/** Runs `fn` with a devserver at `deltaDelayMs`, configured as the SDK's API; always stops it. */
async function withDevserver(deltaDelayMs, fn) {
  const server = await startDevserver(deltaDelayMs);
  try {
    configure({ secretKey: SECRET_KEY, baseURL: server.url });
    return await fn(server);
  } finally {
    await server.stop();
  }
}

function gc() {
  if (globalThis.gc) {
    globalThis.gc();
    globalThis.gc();
  }
}

const rssKiB = () => Math.round(process.memoryUsage().rss / 1024);

async function main() {
  say(`client benchmark (AgentChat on Node ${process.version} against tchat-devserver on loopback)`);

  // 3. Memory of idle chats: preloaded (session created, run triggered), no turn in flight.
  // Measured first, while V8's heap has no free space left over from the other sections (which
  // would absorb the chats and hide them from RSS); client.rs measures it last.
  await withDevserver(0, async () => {
    const n = Number(process.env.BENCH_CHATS) > 0 ? Number(process.env.BENCH_CHATS) : 1000;
    // Warm up the SDK, fetch (undici) and its connection pool with one chat first.
    const warm = new AgentChat({ agent: "demo" });
    await withTimeout(warm.preload(), READ_TIMEOUT_MS, "preload");
    for (let i = 0; i < Number(process.env.BENCH_WARM ?? 0); i++) await new AgentChat({ agent: "demo" }).preload();
    gc();
    const before = rssKiB();
    const heapBefore = process.memoryUsage().heapUsed;
    const start = performance.now();
    const chats = [];
    for (let i = 0; i < n; i++) {
      const chat = new AgentChat({ agent: "demo" });
      await withTimeout(chat.preload(), READ_TIMEOUT_MS, `preload ${i}`);
      chats.push(chat);
    }
    const openMs = performance.now() - start;
    gc();
    const after = rssKiB();
    const heapHeld = process.memoryUsage().heapUsed;
    const grew = Math.max(0, after - before);
    say(
      `  ${n} idle chats: RSS +${grew} KiB (${(grew / n).toFixed(1)} KiB per chat), opened in ` +
        `${(openMs / 1e3).toFixed(2)} s (${(openMs / n).toFixed(2)} ms per open)` +
        `${globalThis.gc ? "" : " [no --expose-gc: RSS without a forced GC]"}`,
    );
    // RSS moves with V8's heap sizing and JIT code, not only with the chats: also report the V8
    // heap the chats themselves keep alive (heap with them minus heap once they are released).
    chats.length = 0;
    gc();
    const heapReleased = process.memoryUsage().heapUsed;
    const kib = (b) => (b / 1024).toFixed(0);
    say(
      `  ${n} idle chats: V8 heap +${kib(heapHeld - heapBefore)} KiB while open, of which ${kib(heapHeld - heapReleased)} KiB ` +
        `(${((heapHeld - heapReleased) / 1024 / n).toFixed(2)} KiB per chat) freed on release; no socket, timer or thread per idle chat`,
    );
    void warm;
  });

  // 1. Time to first chunk and per-turn time: the agent streams 9 deltas with no delay.
  await withDevserver(0, async () => {
    const chat = new AgentChat({ agent: "demo" });
    await withTimeout(chat.preload(), READ_TIMEOUT_MS, "preload");
    const ttfc = [];
    const turn = [];
    for (let i = 0; i < TURNS; i++) {
      const start = performance.now();
      const stream = await withTimeout(
        chat.sendMessage(`message number ${i} for the benchmark run`),
        READ_TIMEOUT_MS,
        "sendMessage",
      );
      const reader = stream.stream.getReader();
      let first;
      let deltas = 0;
      for (let n = 0; ; n++) {
        if (n > 1000) throw new Error("a 9-delta turn sent over 1000 chunks");
        const r = await read(reader, `turn ${i}`);
        if (r.done) break; // AgentChat closes the stream at the turn-complete record
        first ??= performance.now() - start;
        if (r.value.type === "error") throw new Error(`turn ${i}: ${r.value.errorText}`);
        if (r.value.type === "text-delta") deltas++;
      }
      turn.push(performance.now() - start);
      if (deltas !== 9) throw new Error(`turn ${i}: ${deltas} deltas, expected 9`);
      ttfc.push(first);
    }
    report("send -> first chunk (time to first chunk)", ttfc);
    report("send -> turn complete (9 deltas, no delay)", turn);
  });

  // 2. Stop latency while streaming, then abandoning the stream while a read is pending.
  await withDevserver(500, async () => {
    const stops = [];
    const cancels = [];
    for (let i = 0; i < STOPS; i++) {
      const chat = new AgentChat({ agent: "demo" });
      await withTimeout(chat.preload(), READ_TIMEOUT_MS, "preload");
      const stream = await withTimeout(chat.sendMessage("/slow 100"), READ_TIMEOUT_MS, "sendMessage");
      const reader = stream.stream.getReader();
      const r = await read(reader, "first chunk of /slow 100");
      if (r.done) throw new Error("the /slow turn ended before its first chunk");
      let start = performance.now();
      await withTimeout(chat.stop(), READ_TIMEOUT_MS, "stop");
      stops.push(performance.now() - start);
      const pending = reader.read().catch(() => ({ done: true })); // blocked between deltas
      start = performance.now();
      await withTimeout(reader.cancel(), READ_TIMEOUT_MS, "cancel");
      cancels.push(performance.now() - start);
      await withTimeout(pending, READ_TIMEOUT_MS, "the pending read settles on cancel");
    }
    report("stop() while streaming (returns)", stops);
    report("reader.cancel() while blocked in a read", cancels);
  });
}

try {
  await main();
} catch (e) {
  console.error(`${PREFIX} client benchmark failed: ${e?.stack ?? e}`);
  process.exitCode = 1;
}
