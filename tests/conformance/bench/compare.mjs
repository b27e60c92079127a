// The last thing `make bench` prints: every tchat figure next to the same figure for the official
// Node client, read back from the benchmarks' saved stdout.
//
//   node bench/compare.mjs PREFIX     (reads PREFIX-decode.txt, PREFIX-client.txt: cargo bench;
//                                      PREFIX-node-decode.txt, PREFIX-node-client.txt: this directory)
//
// A figure missing from either side (a benchmark skipped, or its output format changed) shows
// as "-"; this script never fails the build.

import { existsSync, readFileSync } from "node:fs";

const prefix = process.argv[2];
if (!prefix) {
  console.error("usage: compare.mjs PREFIX");
  process.exit(2);
}
const read = (name) => (existsSync(`${prefix}-${name}.txt`) ? readFileSync(`${prefix}-${name}.txt`, "utf8") : "");
const rust = { decode: read("decode"), client: read("client") };
const node = { decode: read("node-decode"), client: read("node-client") };
const sdk = /^(node \(@trigger\.dev\/sdk [^)]*\)):/m.exec(node.decode + node.client)?.[1] ?? "node";

const num = (s) => (s === undefined ? undefined : Number(s));
const esc = (s) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
/** The p50/p99 of a latency line `  <name>   p50 X ms   p99 Y ms ...`. */
function pct(text, name) {
  const m = new RegExp(`${esc(name)}[^\\n]*?\\sp50\\s+([\\d.]+) ms\\s+p99\\s+([\\d.]+) ms`).exec(text);
  return { p50: num(m?.[1]), p99: num(m?.[2]) };
}
function decodeRate(text, label) {
  const m = new RegExp(`${esc(label)}: ([\\d.]+) records/s, ([\\d.]+) MB/s`).exec(text);
  return { rps: num(m?.[1]), mbps: num(m?.[2]) };
}
function idle(text) {
  const m = /(\d+) idle chats: RSS \+(\d+) KiB \(([\d.]+) KiB per chat\), opened in [\d.]+ s \(([\d.]+) ms per open\)/.exec(text);
  return { n: num(m?.[1]), perChat: num(m?.[3]), perOpen: num(m?.[4]) };
}

const rows = [];
/** better: "higher" or "lower" is better; word: what the ratio says ("faster", "smaller"). */
const row = (figure, t, n, unit, better, word = "faster") => rows.push({ figure, t, n, unit, better, word });

const rd = decodeRate(rust.decode, "sse + records + assemble, one core");
const nd = decodeRate(node.decode, "sse + records + assemble, one thread, in-memory");
row("decoder: sse + records + assemble, records/s", rd.rps, nd.rps, "", "higher");
row("decoder: sse + records + assemble, MB/s", rd.mbps, nd.mbps, " MB/s", "higher");
const ns = decodeRate(node.decode, "sse + records, one thread, in-memory");
row("decoder: sse + records only (node), records/s", undefined, ns.rps, "", "higher");
const nl = decodeRate(node.decode, "sse + records + assemble, loopback HTTP");
row("decoder: + loopback HTTP (node), records/s", undefined, nl.rps, "", "higher");

if (rust.client || node.client) {
  for (const [figure, rname, nname] of [
    ["time to first chunk", "send -> first chunk", "send -> first chunk"],
    ["send -> turn complete (9 deltas)", "send -> turn complete", "send -> turn complete"],
    ["stop() returns", "stop() while streaming (returns)", "stop() while streaming (returns)"],
    ["drop(chat) / reader.cancel(), read pending", "drop(chat) while blocked in a read", "reader.cancel() while blocked in a read"],
  ]) {
    const r = pct(rust.client, rname);
    const n = pct(node.client, nname);
    row(`${figure}, p50`, r.p50, n.p50, " ms", "lower");
    row(`${figure}, p99`, r.p99, n.p99, " ms", "lower");
  }
  const ri = idle(rust.client);
  const ni = idle(node.client);
  row(`RSS per idle chat (${ri.n ?? ni.n ?? "?"} chats)`, ri.perChat, ni.perChat, " KiB", "lower", "smaller");
  row("open (preload) one chat", ri.perOpen, ni.perOpen, " ms", "lower");
  const heap = /\(([\d.]+) KiB per chat\) freed on release/.exec(node.client);
  row("V8 heap per idle chat, freed on release (node)", undefined, num(heap?.[1]), " KiB", "lower", "smaller");
}

const fmt = (v, unit) => {
  if (v === undefined || Number.isNaN(v)) return "-";
  if (unit === " ms") return `${v.toFixed(3)} ms`;
  if (v >= 1000) return Math.round(v).toLocaleString("en-US") + unit;
  return v.toFixed(1) + unit;
};
const ratio = ({ t, n, better, word }) => {
  if (!(t > 0) || !(n > 0)) return "";
  const r = better === "higher" ? t / n : n / t;
  return r >= 1 ? `tchat ${r.toFixed(1)}x ${word}` : `node ${(1 / r).toFixed(1)}x ${word}`;
};
const w = Math.max(...rows.map((r) => r.figure.length));
const cw = Math.max(12, sdk.length);
console.log("");
console.log("tchat vs the official Node client (same machine, same devserver binary, same .out bytes):");
console.log(`  ${"figure".padEnd(w)}  ${"tchat".padStart(12)}  ${sdk.padStart(cw)}`);
for (const r of rows) {
  console.log(`  ${r.figure.padEnd(w)}  ${fmt(r.t, r.unit).padStart(12)}  ${fmt(r.n, r.unit).padStart(cw)}   ${ratio(r)}`);
}
console.log(
  "  decoder: tchat = SseParser + Decoder + Assembler over 16 KiB slices; node = SSEStreamSubscription (fed the\n" +
    "    same bytes from memory, 16 KiB per event-loop turn) + AgentChat's control routing + readUIMessageStream per turn.",
);
if (rust.client || node.client) {
  console.log(
    "  drop(chat) joins tchat's reader thread; reader.cancel() aborts AgentChat's fetch (undici closes the socket later).\n" +
      "  Node's RSS delta is mostly V8 heap/JIT growth; the idle AgentChat objects themselves are the V8 heap row.",
  );
}
