// Decoder throughput of the official client: the same `.out` SSE bytes that benches/decode.rs
// decodes (`cargo bench --bench decode -- --write build-c/bench-out.sse`), through the code
// AgentChat runs on every turn's stream:
//
//   SSEStreamSubscription (@trigger.dev/core/v3: TextDecoderStream → eventsource-parser →
//   v2 batch JSON → per-record body JSON, id dedup, command records dropped)
//   → AgentChat's routing of each record (controlSubtype(headers): turn-complete ends a turn,
//     data records go on as UIMessageChunks)
//   → [assemble] readUIMessageStream (ai), the AI SDK's UIMessage assembly that AgentChat's
//     ChatStream.messages() (and its onAssistantMessage collector) runs, one stream per turn; the
//     final message is JSON.stringify'd per turn like tchat's `assembler.to_json()`. (Without
//     assembly, `await stream.text()` only concatenates deltas: the "sse + records" figure.)
//
// Two feeds:
//   in-memory  the bytes as a Response body of 16 KiB chunks handed to SSEStreamSubscription
//              through its `fetchClient` option, one chunk per event-loop turn (setImmediate, as
//              socket reads arrive; see inMemoryFetch): no socket, like benches/decode.rs (16 KiB
//              reads). This is the figure to compare with tchat's.
//   loopback   a node:http server in a worker thread serves the file as text/event-stream
//              (X-Stream-Version: v2) over 127.0.0.1; the SDK's default fetch (undici) reads it.
//              Includes HTTP and the socket; tchat has no matching figure.
//
//   node --expose-gc bench/decode.mjs --file PATH [--passes N] [--no-loopback] [--no-pacing]
//
// Each figure: one warm-up pass, then the best of N-1 (N = --passes, default 6, as decode.rs).

import { readFileSync } from "node:fs";
import http from "node:http";
import { Worker, isMainThread, parentPort, workerData } from "node:worker_threads";
import { PREFIX, arg, say, scrubTriggerEnv, watchdog, withTimeout } from "./common.mjs";

const READ_SIZE = 16 * 1024;
const PASS_TIMEOUT_MS = 120_000;

if (!isMainThread) {
  // The loopback server: serves workerData.file to every GET, in 16 KiB writes.
  const bytes = readFileSync(workerData.file);
  const server = http.createServer((req, res) => {
    res.writeHead(200, {
      "content-type": "text/event-stream",
      "cache-control": "no-cache",
      "x-stream-version": "v2",
    });
    let off = 0;
    const pump = () => {
      while (off < bytes.length) {
        const piece = bytes.subarray(off, off + READ_SIZE);
        off += piece.length;
        if (!res.write(piece)) return res.once("drain", pump);
      }
      res.end();
    };
    pump();
  });
  server.listen(0, "127.0.0.1", () => parentPort.postMessage({ port: server.address().port }));
  parentPort.on("message", (m) => {
    if (m === "stop") {
      server.closeAllConnections(); // undici keeps the connection alive
      server.close(() => process.exit(0));
    }
  });
} else {
  await main();
}

async function main() {
  process.on("unhandledRejection", (e) => {
    console.error(`${PREFIX} decode benchmark failed: ${e?.stack ?? e}`);
    process.exit(1);
  });
  scrubTriggerEnv();
  watchdog(20 * 60_000, "decode benchmark");
  const file = arg("--file");
  if (!file) throw new Error("usage: decode.mjs --file PATH [--passes N] [--no-loopback]");
  const passes = Math.max(2, Number(arg("--passes") ?? 6));
  const bytes = readFileSync(file);
  const { SSEStreamSubscription, controlSubtype, TRIGGER_CONTROL_SUBTYPE } = await import("@trigger.dev/core/v3");
  const { readUIMessageStream } = await import("ai");
  const expected = await countRecords(bytes);

  say(`decoder benchmark: ${file}`);
  say(
    `  ${bytes.length} bytes, ${expected.records} records (${expected.data} data, ${expected.controls} controls, ` +
      `${expected.commands} commands, ${expected.turns} turns)`,
  );

  /** One pass: the whole body through the SDK; returns what came out. */
  async function decodePass(fetchClient, url, assemble) {
    const out = { chunks: 0, controls: 0, turns: 0, textBytes: 0 };
    const sub = new SSEStreamSubscription(url, {
      headers: {},
      fetchClient,
      maxRetries: 0, // a failure is a failure here, not a reconnect
      timeoutInSeconds: 60,
    });
    const reader = (await sub.subscribe()).getReader();
    let turn = null; // { controller, done } while a turn is open (assemble only)
    const openTurn = () => {
      let controller;
      const stream = new ReadableStream({ start: (c) => void (controller = c) });
      const done = (async () => {
        let last;
        for await (const m of readUIMessageStream({ stream })) last = m;
        return last;
      })();
      return { controller, done };
    };
    for (;;) {
      const next = await reader.read();
      if (next.done) break;
      const value = next.value;
      const control = controlSubtype(value.headers);
      if (control === TRIGGER_CONTROL_SUBTYPE.TURN_COMPLETE) {
        out.controls++;
        out.turns++;
        if (turn) {
          turn.controller.close();
          const message = await turn.done;
          out.textBytes += JSON.stringify(message).length;
          turn = null;
        }
        continue;
      }
      if (control) {
        out.controls++;
        continue;
      }
      if (value.chunk == null) continue;
      out.chunks++;
      if (assemble) {
        turn ??= openTurn();
        turn.controller.enqueue(value.chunk);
      }
    }
    if (turn) {
      turn.controller.close();
      await turn.done;
    }
    return out;
  }

  // One 16 KiB piece per event-loop turn, the way socket reads arrive. Without this pacing the
  // body is infinitely fast: SSEStreamSubscription's connectStream enqueues decoded records into
  // its internal ReadableStream without waiting on backpressure, so the whole stream piles up
  // there and every dequeue (an Array shift) costs O(queue): quadratic, 5-9x slower on this file.
  // `--no-pacing` measures that case.
  const paced = !process.argv.includes("--no-pacing");
  const inMemoryFetch = async () => {
    let off = 0;
    const body = new ReadableStream(
      {
        async pull(c) {
          if (off >= bytes.length) return c.close();
          if (paced) await new Promise(setImmediate);
          c.enqueue(bytes.subarray(off, off + READ_SIZE));
          off += READ_SIZE;
        },
      },
      { highWaterMark: 0 },
    );
    return new Response(body, {
      status: 200,
      headers: { "content-type": "text/event-stream", "x-stream-version": "v2" },
    });
  };

  async function measure(label, fetchClient, url, assemble) {
    let best = Infinity;
    let out;
    for (let i = 0; i < passes; i++) {
      globalThis.gc?.();
      const t0 = performance.now();
      out = await withTimeout(decodePass(fetchClient, url, assemble), PASS_TIMEOUT_MS, `${label} pass`);
      const ms = performance.now() - t0;
      if (i > 0) best = Math.min(best, ms); // the first pass warms up the JIT
    }
    if (out.chunks !== expected.data || out.turns !== expected.turns) {
      // Expected for a capture with re-sent record ids (the SDK drops those) or empty bodies.
      say(`  note: ${label}: the SDK gave ${out.chunks} chunks / ${out.turns} turns of ${expected.data} / ${expected.turns}`);
    }
    const s = best / 1e3;
    say(
      `  ${label}: ${(expected.records / s).toFixed(0)} records/s, ${(bytes.length / 1e6 / s).toFixed(1)} MB/s ` +
        `(${best.toFixed(1)} ms per pass, best of ${passes - 1})` +
        (assemble ? `, ${out.textBytes} bytes of UIMessage JSON` : ""),
    );
  }

  const fake = "http://127.0.0.1/bench/out"; // never dialled: the in-memory fetchClient answers
  await measure("sse + records + assemble, one thread, in-memory", inMemoryFetch, fake, true);
  await measure("sse + records, one thread, in-memory", inMemoryFetch, fake, false);

  if (!process.argv.includes("--no-loopback")) {
    const worker = new Worker(new URL(import.meta.url), { workerData: { file } });
    try {
      const { port } = await withTimeout(
        new Promise((resolve, reject) => {
          worker.once("message", resolve);
          worker.once("error", reject);
        }),
        10_000,
        "loopback server start",
      );
      const url = `http://127.0.0.1:${port}/bench/out`;
      await measure("sse + records + assemble, loopback HTTP", fetch, url, true);
    } finally {
      worker.postMessage("stop");
      await withTimeout(new Promise((r) => worker.once("exit", r)), 5_000, "loopback server stop").catch(() =>
        worker.terminate(),
      );
    }
  }
  say(
    `  (in-memory: Response body of 16 KiB chunks${paced ? ", one per event-loop turn," : " (unpaced)"} via SSEStreamSubscription's fetchClient, no socket, as decode.rs; ` +
      "loopback: plus undici fetch over 127.0.0.1 from a node:http server in a worker thread)",
  );
}

/** Records in the stream, by kind, counted the way decode.rs counts them (every record of every batch). */
async function countRecords(bytes) {
  const { createParser } = await import("eventsource-parser");
  const n = { records: 0, data: 0, controls: 0, commands: 0, turns: 0 };
  const parser = createParser({
    onEvent(ev) {
      if (ev.event !== "batch") return;
      for (const r of JSON.parse(ev.data).records ?? []) {
        n.records++;
        const h = r.headers ?? [];
        if (h[0]?.[0] === "") n.commands++;
        else if (h.some(([k]) => k === "trigger-control")) {
          n.controls++;
          if (h.some(([k, v]) => k === "trigger-control" && v === "turn-complete")) n.turns++;
        } else n.data++;
      }
    },
  });
  parser.feed(new TextDecoder().decode(bytes));
  return n;
}
