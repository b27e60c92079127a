// The official client's side of the WAN benchmark (benches/wan/run.sh): the conversation of
// examples/wan_client.rs, identical turn for turn, held by AgentChat (@trigger.dev/sdk, pinned
// by tests/conformance's lockfile and taken from its node_modules) over the same emulated link
// and TLS 1.3 (the private CA trusted through NODE_EXTRA_CA_CERTS, which run.sh sets).
//
// What each figure is for AgentChat (dist/esm/v3/chat-client.js, 4.8.3):
//   open -> ready   `new AgentChat({agent})` then `await chat.preload()`: sessions.start (POST
//                   /api/v1/sessions, which starts the run) and nothing else.
//   send            `await chat.sendMessage(text)`: ensureStarted (a no-op once preloaded), then
//                   appendInputChunk, a fetch POST of .../in/append awaited until its response
//                   headers (status checked, body not read); only then does it build the turn's
//                   ReadableStream, whose start() opens the .out SSE GET. So the send call blocks
//                   for one full append round trip, and the subscription starts after it.
//   first delta     the first `text-delta` chunk read from `stream.stream`, timed from just
//                   before sendMessage; turn complete: the stream's end (AgentChat closes it at
//                   the turn-complete control record).
//   stop            `await chat.stop()` (appends {"kind":"stop"} and awaits that POST); the
//                   turn's end is the stopped stream closing at the turn's turn-complete.
//
//   node official.mjs    (env as wan_client.rs: WAN_URL (https://10.77.0.2:8444), WAN_TURNS_1S,
//                         WAN_TURNS_5S, WAN_STOPS; WAN_CA_PEM is only checked to be set)
//
// Output: the same JSON lines as wan_client.rs, with "client":"node".

import { readFileSync } from "node:fs";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { REPO, SECRET_KEY, scrubTriggerEnv, watchdog, withTimeout } from "../../tests/conformance/bench/common.mjs";

const EVENT_TIMEOUT_MS = 30_000; // as wan_client.rs
const url = process.env.WAN_URL || "https://10.77.0.2:8444";
const count = (name, def) => {
  const v = process.env[name];
  if (v === undefined || v === "") return def;
  if (!/^\d+$/.test(v)) fail(`${name} must be a number`);
  return Number(v);
};
const turns1s = count("WAN_TURNS_1S", 15);
const turns5s = count("WAN_TURNS_5S", 8);
const stops = count("WAN_STOPS", 5);

function fail(msg) {
  console.error(`official (AgentChat): ${msg}`);
  process.exit(1);
}
if (turns1s < 2 || turns5s < 2) fail("WAN_TURNS_1S and WAN_TURNS_5S must be at least 2 (turn 1 is not steady state)");
if (!process.env.NODE_EXTRA_CA_CERTS) fail("NODE_EXTRA_CA_CERTS (the benchmark CA) is not set: run through run.sh");

scrubTriggerEnv();
watchdog(15 * 60_000, "WAN benchmark (official client)");

// Only the benchmark's server: the SDK can reach nothing else from here (nor could it: the
// client namespace has no route out).
const origin = new URL(url).origin;
const realFetch = globalThis.fetch;
globalThis.fetch = (input, init) => {
  const u = new URL(typeof input === "string" ? input : input instanceof URL ? input.href : input.url);
  if (u.origin !== origin) return Promise.reject(new Error(`wan bench: refusing a request to ${u.origin}`));
  return realFetch(input, init);
};

// The SDK lives in tests/conformance/node_modules; resolve its ESM entry points from the package's
// own exports map (this file is outside that package, so bare specifiers would not resolve).
const sdkDir = path.join(REPO, "tests", "conformance", "node_modules", "@trigger.dev", "sdk");
const sdkPkg = JSON.parse(readFileSync(path.join(sdkDir, "package.json"), "utf8"));
const entry = (sub) => pathToFileURL(path.join(sdkDir, sdkPkg.exports[sub].import.default)).href;
const { configure } = await import(entry("."));
const { AgentChat } = await import(entry("./chat"));
configure({ secretKey: SECRET_KEY, baseURL: url });

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const round = (v) => Math.round(v * 1000) / 1000;
const emit = (obj) => console.log(JSON.stringify({ ...obj, client: "node" }));

async function open(which) {
  const t0 = Date.now();
  const start = performance.now();
  const chat = new AgentChat({ agent: "demo" });
  await withTimeout(chat.preload(), EVENT_TIMEOUT_MS, `open (${which})`);
  emit({ kind: "open", which, version: `@trigger.dev/sdk ${sdkPkg.version}`, ms: round(performance.now() - start), t0, t1: Date.now() });
  return chat;
}

async function turn(chat, phase, n) {
  const what = `${phase} turn ${n}`;
  const tSend = Date.now();
  const start = performance.now();
  const stream = await withTimeout(chat.sendMessage(`message number ${n} for the benchmark run`), EVENT_TIMEOUT_MS, `${what}: sendMessage`);
  const send = performance.now() - start;
  const reader = stream.stream.getReader();
  let firstChunk;
  let firstDelta;
  let deltas = 0;
  for (let i = 0; ; i++) {
    if (i > 1000) fail(`${what}: over 1000 chunks`);
    const r = await withTimeout(reader.read(), EVENT_TIMEOUT_MS, what);
    if (r.done) break;
    firstChunk ??= performance.now() - start;
    if (r.value.type === "error") fail(`${what}: ${r.value.errorText}`);
    if (r.value.type === "text-delta") {
      firstDelta ??= performance.now() - start;
      deltas++;
    }
  }
  const complete = performance.now() - start;
  if (deltas !== 9) fail(`${what}: ${deltas} text deltas, expected 9`);
  emit({
    kind: "turn",
    phase,
    turn: n,
    t_send: tSend,
    t_end: Date.now(),
    send_ms: round(send),
    first_chunk_ms: round(firstChunk),
    first_delta_ms: round(firstDelta),
    complete_ms: round(complete),
    deltas,
  });
}

async function stopOnce(chat, n) {
  const stream = await withTimeout(chat.sendMessage("/slow 200"), EVENT_TIMEOUT_MS, `stop ${n}: sendMessage`);
  const reader = stream.stream.getReader();
  for (;;) {
    const r = await withTimeout(reader.read(), EVENT_TIMEOUT_MS, `stop ${n}: first delta of /slow 200`);
    if (r.done) fail(`stop ${n}: the /slow turn ended before its first delta`);
    if (r.value.type === "text-delta") break;
  }
  const tStop = Date.now();
  const start = performance.now();
  await withTimeout(chat.stop(), EVENT_TIMEOUT_MS, `stop ${n}: stop()`);
  const returned = performance.now() - start;
  let extra = 0;
  for (;;) {
    const r = await withTimeout(reader.read(), EVENT_TIMEOUT_MS, `stop ${n}: the stopped turn's end`);
    if (r.done) break;
    if (++extra > 1000) fail(`stop ${n}: over 1000 chunks after stop`);
  }
  emit({
    kind: "stop",
    turn: n,
    t_stop: tStop,
    t_end: Date.now(),
    stop_return_ms: round(returned),
    stop_end_ms: round(performance.now() - start),
    stopped: true,
    chunks_after_stop: extra,
  });
}

console.error(`official (AgentChat, @trigger.dev/sdk ${sdkPkg.version}, Node ${process.version}): ${url}, ` +
  `${turns1s} turns 1 s apart, ${turns5s} turns 5 s apart, ${stops} stops`);
try {
  let chat = await open("cold");
  for (let n = 1; n <= turns1s; n++) {
    if (n > 1) await sleep(1000);
    await turn(chat, "1s", n);
  }
  await sleep(1000);
  chat = await open("warm");
  for (let n = 1; n <= turns5s; n++) {
    if (n > 1) await sleep(5000);
    await turn(chat, "5s", n);
  }
  for (let n = 1; n <= stops; n++) {
    await sleep(1000);
    await stopOnce(chat, n);
  }
  emit({ kind: "done", t: Date.now() });
  process.exit(0);
} catch (e) {
  fail(String(e?.stack ?? e));
}
