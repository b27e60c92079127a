// The WAN benchmark's link check (run.sh runs it in the client namespace): the round-trip time
// and jitter of the emulated link, measured two ways against the terminator's TCP echo port:
//   - TCP connect: SYN -> SYN-ACK, one round trip paid by the kernel (what every new connection pays);
//   - echo: one byte written on an open connection until it comes back (no handshake, Nagle off).
//   - bulk: 4 MiB echoed back on one connection (large segments and GSO frames cross the relay).
// Prints one JSON line: {"connect":{min,p50,p95,max,sd,n},"echo":{...},"bulk":{bytes,ms}}, in ms.
//
//   node probe.mjs --host 10.77.0.2 --port 7000 [--n 40]

import net from "node:net";

function arg(name, fallback) {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : fallback;
}
const host = arg("--host");
const port = Number(arg("--port"));
const n = Number(arg("--n", "40"));

function stats(xs) {
  const s = [...xs].sort((a, b) => a - b);
  const mean = s.reduce((a, b) => a + b, 0) / s.length;
  const sd = Math.sqrt(s.reduce((a, b) => a + (b - mean) ** 2, 0) / s.length);
  const r = (v) => Math.round(v * 1000) / 1000;
  const pick = (p) => s[Math.round((s.length - 1) * p)];
  return { min: r(s[0]), p50: r(pick(0.5)), p95: r(pick(0.95)), max: r(s.at(-1)), sd: r(sd), n: s.length };
}

function timeout(ms, what) {
  return new Promise((_, reject) => setTimeout(() => reject(new Error(`probe: timed out: ${what}`)), ms).unref());
}

function connect() {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const s = net.connect({ host, port });
    s.setNoDelay(true);
    s.once("connect", () => resolve({ s, ms: performance.now() - t0 }));
    s.once("error", reject);
  });
}

async function main() {
  // One throwaway connection first: the very first packet also waits for ARP (one more round trip).
  (await Promise.race([connect(), timeout(5000, "first connect")])).s.destroy();
  const connects = [];
  for (let i = 0; i < n; i++) {
    const { s, ms } = await Promise.race([connect(), timeout(5000, "connect")]);
    connects.push(ms);
    s.destroy();
  }
  const { s } = await Promise.race([connect(), timeout(5000, "connect")]);
  const echoes = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    const back = new Promise((resolve) => s.once("data", resolve));
    s.write("x");
    await Promise.race([back, timeout(5000, "echo")]);
    echoes.push(performance.now() - t0);
    await new Promise((r) => setTimeout(r, 10));
  }
  // Bulk: 4 MiB written and echoed back on the same connection. Checks that full-size segments and
  // the veths' GSO super-frames cross the relay intact (a relay that mishandles them stalls here).
  const size = 4 << 20;
  const t0 = performance.now();
  let got = 0;
  const bulk = new Promise((resolve) => {
    s.on("data", (b) => {
      got += b.length;
      if (got >= size) resolve();
    });
  });
  s.write(Buffer.alloc(size, 0x61));
  await Promise.race([bulk, timeout(20000, `bulk echo (${got} of ${size} bytes back)`)]);
  const bulkMs = performance.now() - t0;
  s.destroy();
  console.log(JSON.stringify({ connect: stats(connects), echo: stats(echoes), bulk: { bytes: size, ms: Math.round(bulkMs) } }));
}

main().catch((e) => {
  console.error(String(e?.stack ?? e));
  process.exit(1);
});
