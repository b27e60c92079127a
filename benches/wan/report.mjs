// The WAN benchmark's table (run.sh calls it once both clients are done): reads what the clients,
// the TLS terminator, the relay and the link probe wrote into --dir and prints the side-by-side
// table, the per-client details, and writes summary.json (every figure of the table, for scripts).
//
//   node report.mjs --dir build-c/bench-wan --rtt-ms 50 --delta-delay-ms 10 --turns-1s 15 \
//        --turns-5s 8 --stops 5 --order tchat,node
//
// Percentiles are nearest-rank (sorted[round((n-1)*p)]), as in benches/client.rs. Steady state is
// turn 2 onwards of each phase. Connections and handshakes are the terminator's (server-side)
// events of that client's port whose time falls in (end of turn 1, end of the last turn] of the
// phase, divided by the number of steady turns: so "per turn" is per turn plus the gap before it.

import fs from "node:fs";
import path from "node:path";

function arg(name, fallback) {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : fallback;
}
const dir = arg("--dir");
const rttNominal = Number(arg("--rtt-ms", "50"));
const deltaDelay = Number(arg("--delta-delay-ms", "10"));
const order = arg("--order", "tchat,node").split(",");

function readJsonl(name) {
  const file = path.join(dir, name);
  if (!fs.existsSync(file)) return [];
  return fs
    .readFileSync(file, "utf8")
    .split("\n")
    .filter((l) => l.trim().startsWith("{"))
    .flatMap((l) => {
      try {
        return [JSON.parse(l)];
      } catch {
        return [];
      }
    });
}
function readJson(name) {
  try {
    return JSON.parse(fs.readFileSync(path.join(dir, name), "utf8"));
  } catch {
    return null;
  }
}

const pct = (xs, p) => {
  if (!xs.length) return null;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.round((s.length - 1) * p)];
};
const r1 = (v) => (v == null ? null : Math.round(v * 10) / 10);
const r2 = (v) => (v == null ? null : Math.round(v * 100) / 100);

const events = readJsonl("terminator.jsonl");
const probeBefore = readJson("probe-before.json");
const probeAfter = readJson("probe-after.json");
const relay = readJson("relay.json");
const rtt = probeBefore?.connect?.p50 ?? rttNominal;

/** Terminator events of `client` in (from, to]. */
function eventsIn(client, from, to) {
  return events.filter((e) => e.client === client && e.t > from && e.t <= to);
}
function connStats(client, from, to, turns) {
  const ev = eventsIn(client, from, to);
  const tcp = ev.filter((e) => e.ev === "tcp").length;
  const full = ev.filter((e) => e.ev === "tls" && !e.reused).length;
  const resumed = ev.filter((e) => e.ev === "tls" && e.reused).length;
  const reqs = ev.filter((e) => e.ev === "req");
  const byPath = {};
  for (const q of reqs) byPath[`${q.method} ${q.path}`] = (byPath[`${q.method} ${q.path}`] ?? 0) + 1;
  const per = (n) => (turns > 0 ? r2(n / turns) : null);
  return {
    turns,
    tcp_per_turn: per(tcp),
    full_per_turn: per(full),
    resumed_per_turn: per(resumed),
    requests_per_turn: per(reqs.length),
    requests: Object.fromEntries(Object.entries(byPath).map(([k, v]) => [k, per(v)])),
  };
}

function summarize(client) {
  const lines = readJsonl(`${client}.jsonl`);
  if (!lines.length) return null;
  const opens = Object.fromEntries(lines.filter((l) => l.kind === "open").map((l) => [l.which, l]));
  const out = { client, version: opens.cold?.version ?? null, complete: lines.some((l) => l.kind === "done") };
  out.open_cold_ms = r1(opens.cold?.ms);
  out.open_warm_ms = r1(opens.warm?.ms);
  out.open_cold_conns = opens.cold ? connStats(client, opens.cold.t0 - 1, opens.cold.t1, 1) : null;
  for (const phase of ["1s", "5s"]) {
    const turns = lines.filter((l) => l.kind === "turn" && l.phase === phase).sort((a, b) => a.turn - b.turn);
    const steady = turns.filter((t) => t.turn >= 2);
    const col = (k) => steady.map((t) => t[k]);
    out[phase] = {
      n: steady.length,
      first_delta: { p50: r1(pct(col("first_delta_ms"), 0.5)), p95: r1(pct(col("first_delta_ms"), 0.95)) },
      first_chunk: { p50: r1(pct(col("first_chunk_ms"), 0.5)), p95: r1(pct(col("first_chunk_ms"), 0.95)) },
      complete: { p50: r1(pct(col("complete_ms"), 0.5)), p95: r1(pct(col("complete_ms"), 0.95)) },
      send: { p50: r1(pct(col("send_ms"), 0.5)), p95: r1(pct(col("send_ms"), 0.95)) },
      turn1_first_delta_ms: r1(turns[0]?.first_delta_ms),
      conns: turns.length >= 2 ? connStats(client, turns[0].t_end, turns.at(-1).t_end, turns.length - 1) : null,
    };
  }
  const stops = lines.filter((l) => l.kind === "stop");
  out.stop = {
    n: stops.length,
    returns: { p50: r1(pct(stops.map((s) => s.stop_return_ms), 0.5)), max: r1(pct(stops.map((s) => s.stop_return_ms), 1)) },
    turn_end: { p50: r1(pct(stops.map((s) => s.stop_end_ms), 0.5)), max: r1(pct(stops.map((s) => s.stop_end_ms), 1)) },
    all_stopped: stops.every((s) => s.stopped),
  };
  const all = events.filter((e) => e.client === client);
  const hs = (reused) => all.filter((e) => e.ev === "tls" && e.reused === reused).map((e) => e.hs_ms);
  out.totals = {
    tcp: all.filter((e) => e.ev === "tcp").length,
    tls_full: hs(false).length,
    tls_resumed: hs(true).length,
    tls_errors: all.filter((e) => e.ev === "tlserr").length,
    handshake_ms_full_p50: r1(pct(hs(false), 0.5)),
    handshake_ms_resumed_p50: r1(pct(hs(true), 0.5)),
    requests: all.filter((e) => e.ev === "req").length,
  };
  return out;
}

const results = Object.fromEntries(order.map((c) => [c, summarize(c)]));
const T = results.tchat;
const N = results.node;

// ─── the table ──────────────────────────────────────────────────────────────────────────────────
const ms = (v) => (v == null ? "-" : `${v.toFixed(1)}`);
const pair = (o) => (o == null || o.p50 == null ? "-" : `${ms(o.p50)} / ${ms(o.p95 ?? o.max)} ms`);
const one = (v) => (v == null ? "-" : `${ms(v)} ms`);
const cnt = (v) => (v == null ? "-" : `${v}`);
const hsPair = (c) => (c == null ? "-" : `${cnt(c.full_per_turn)} / ${cnt(c.resumed_per_turn)}`);
const R = (k) => `${Math.round(k * rtt)} ms`;
const agentTurn = 8 * deltaDelay;

const rows = [["figure", `tchat ${T?.version ?? ""}`.trim(), `official Node (${N?.version ?? "AgentChat"})`, "ideal"]];
const sec = (title) => rows.push([title]);
sec("open");
rows.push(["open -> ready, cold client (1st chat)", one(T?.open_cold_ms), one(N?.open_cold_ms), `${R(3)} (TCP+TLS+create: 3 RTT)`]);
rows.push(["open -> ready, warm client (2nd chat)", one(T?.open_warm_ms), one(N?.open_warm_ms), `${R(1)} (1 RTT)`]);
for (const phase of ["1s", "5s"]) {
  const gap = phase === "1s" ? "1 s" : "5 s";
  const nT = T?.[phase]?.n ?? 0;
  const nN = N?.[phase]?.n ?? 0;
  sec(`turns ${gap} apart (steady: turn 2 on; n = ${nT === nN ? nT : `${nT} / ${nN}`}), p50 / p95`);
  rows.push(["send -> first text delta", pair(T?.[phase]?.first_delta), pair(N?.[phase]?.first_delta), `${R(1)} (1 RTT + agent 0 ms)`]);
  rows.push(["send -> turn complete", pair(T?.[phase]?.complete), pair(N?.[phase]?.complete), `${Math.round(rtt + agentTurn)} ms (1 RTT + agent ${agentTurn} ms)`]);
  rows.push(["send call blocks", pair(T?.[phase]?.send), pair(N?.[phase]?.send), `0 - ${R(1)} (0 - 1 RTT)`]);
  rows.push(["new TCP connections per turn", cnt(T?.[phase]?.conns?.tcp_per_turn), cnt(N?.[phase]?.conns?.tcp_per_turn), "0"]);
  rows.push(["TLS handshakes per turn: full / resumed", hsPair(T?.[phase]?.conns), hsPair(N?.[phase]?.conns), "0 / 0"]);
  rows.push(["HTTP requests per turn", cnt(T?.[phase]?.conns?.requests_per_turn), cnt(N?.[phase]?.conns?.requests_per_turn), "1"]);
}
sec(`stop while streaming (n = ${T?.stop?.n ?? 0} / ${N?.stop?.n ?? 0}), p50 / max`);
rows.push(["stop call returns", pair(T?.stop?.returns), pair(N?.stop?.returns), `0 - ${R(1)} (0 - 1 RTT)`]);
rows.push(["stop call -> the turn's end", pair(T?.stop?.turn_end), pair(N?.stop?.turn_end), `${R(1)} (1 RTT)`]);

const widths = [0, 1, 2, 3].map((i) => Math.max(...rows.filter((r) => r.length > 1).map((r) => (r[i] ?? "").length)));
const fmt = (r) => (r.length === 1 ? `  ${r[0]}` : `  ${r.map((c, i) => (c ?? "").padEnd(widths[i])).join(" | ")}`.trimEnd());
const lines = [];
const p = probeBefore;
const pa = probeAfter;
lines.push("WAN benchmark (benches/wan): one user's conversation over an emulated WAN link, TLS 1.3, certificates checked");
if (p) {
  lines.push(
    `  link: RTT ${p.connect.p50} ms (TCP connect p50, n=${p.connect.n}; min ${p.connect.min}, p95 ${p.connect.p95}, max ${p.connect.max}, ` +
      `sd ${p.connect.sd}); echo p50 ${p.echo.p50} ms, sd ${p.echo.sd}; ${p.bulk ? `${p.bulk.bytes >> 20} MiB echoed in ${p.bulk.ms} ms` : ""}` +
      (pa ? `; after the run: connect p50 ${pa.connect.p50} ms, sd ${pa.connect.sd}` : ""),
  );
}
if (relay) {
  const l = relay.lateness_us;
  const drops = ["a_to_b", "b_to_a"].reduce((a, k) => a + relay[k].kernel_drops + relay[k].queue_full + relay[k].send_errors + relay[k].truncated, 0);
  lines.push(
    `  relay: ${relay.one_way_delay_us / 1000} ms each way; its lateness (jitter it adds) p50 ${l.p50} us, p99 ${l.p99} us, max ${Math.round(l.max)} us ` +
      `over ${l.n} frames; largest frame ${Math.max(relay.a_to_b.max_frame, relay.b_to_a.max_frame)} B (GSO); lost ${drops}`,
  );
}
let loadBefore = null;
try {
  loadBefore = fs.readFileSync(path.join(dir, "loadavg-before.txt"), "utf8").trim().split(/\s+/).slice(0, 3).join(" ");
} catch {}
let loadAfter = null;
try {
  loadAfter = fs.readFileSync("/proc/loadavg", "utf8").trim().split(/\s+/).slice(0, 3).join(" ");
} catch {}
const jittery =
  (relay && relay.lateness_us.max > 5000) || [probeBefore, probeAfter].some((q) => q && (q.connect.sd > 2 || q.echo.sd > 2));
lines.push(
  `  host: load average ${loadBefore ?? "?"} before, ${loadAfter ?? "?"} after (${process.env.WAN_NPROC ?? "?"} CPUs)` +
    (jittery ? "; WARNING: the link was jittery (relay late > 5 ms or probe sd > 2 ms): the machine was busy, p95s may carry it" : ""),
);
lines.push(`  agent: tchat-devserver demo agent, 9 text deltas ${deltaDelay} ms apart (first at once: ${agentTurn} ms a turn); ideal uses the measured RTT`);
lines.push("");
for (const r of rows) lines.push(fmt(r));
lines.push("");
for (const c of order) {
  const s = results[c];
  if (!s) {
    lines.push(`  ${c}: no results (see ${c}.err)`);
    continue;
  }
  const t = s.totals;
  lines.push(
    `  ${c}: whole run ${t.tcp} TCP connections, TLS ${t.tls_full} full (server-side handshake p50 ${ms(t.handshake_ms_full_p50)} ms) / ` +
      `${t.tls_resumed} resumed (p50 ${ms(t.handshake_ms_resumed_p50)} ms)${t.tls_errors ? `, ${t.tls_errors} TLS errors` : ""}, ${t.requests} requests` +
      `; turn 1 first delta ${ms(s["1s"].turn1_first_delta_ms)} ms (1 s) / ${ms(s["5s"].turn1_first_delta_ms)} ms (5 s)` +
      (s.complete ? "" : "; INCOMPLETE RUN"),
  );
  for (const phase of ["1s", "5s"]) {
    const reqs = s[phase].conns?.requests ?? {};
    lines.push(`    requests per turn, ${phase} gaps: ${Object.entries(reqs).map(([k, v]) => `${k} x${v}`).join(", ") || "-"}`);
  }
  if (s.open_cold_conns) {
    const o = s.open_cold_conns;
    lines.push(`    cold open: ${o.tcp_per_turn} TCP, ${o.full_per_turn} full TLS, ${Object.entries(o.requests).map(([k, v]) => `${k} x${v}`).join(", ")}`);
  }
}
console.log(lines.join("\n"));
fs.writeFileSync(
  path.join(dir, "summary.json"),
  JSON.stringify({ link: { before: probeBefore, after: probeAfter }, relay, delta_delay_ms: deltaDelay, results }, null, 1) + "\n",
);
process.exitCode = order.every((c) => results[c]?.complete) ? 0 : 1;
