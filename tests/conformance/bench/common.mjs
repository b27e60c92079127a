// Shared by the Node benchmarks: the output prefix, the devserver child, loopback-only fetch,
// timeouts and the percentile report in the format of benches/client.rs.

import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import path from "node:path";

export const HERE = path.dirname(fileURLToPath(import.meta.url));
export const REPO = path.resolve(HERE, "..", "..", "..");
export const SECRET_KEY = "tr_dev_tchat_local";

const sdkVersion = JSON.parse(
  readFileSync(path.join(HERE, "..", "node_modules", "@trigger.dev", "sdk", "package.json"), "utf8"),
).version;
/** Every line the Node benchmarks print starts with this. */
export const PREFIX = `node (@trigger.dev/sdk ${sdkVersion}):`;

export function say(line = "") {
  console.log(`${PREFIX} ${line}`);
}

/** Hermetic: no ambient Trigger.dev configuration (keys, URLs, branches, deployment ids). */
export function scrubTriggerEnv() {
  for (const k of Object.keys(process.env)) {
    if (k.startsWith("TRIGGER_")) delete process.env[k];
  }
}

/** Parses `--name value` from argv. */
export function arg(name) {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

export function withTimeout(promise, ms, what) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** Refuses anything but loopback, so the SDK can never reach the internet from here. */
export function loopbackOnlyFetch(realFetch) {
  return (input, init) => {
    const url = new URL(typeof input === "string" ? input : input instanceof URL ? input.href : input.url);
    if (url.hostname !== "127.0.0.1" && url.hostname !== "localhost" && url.hostname !== "[::1]") {
      return Promise.reject(new Error(`bench: refusing non-loopback request to ${url.origin}`));
    }
    return realFetch(input, init);
  };
}

/**
 * A whole-process watchdog: whatever happens, the process (and so every devserver child, see
 * killAllDevservers) is gone after `ms`.
 */
export function watchdog(ms, what) {
  const t = setTimeout(() => {
    console.error(`${PREFIX} ${what}: watchdog fired after ${ms} ms, giving up`);
    killAllDevservers();
    process.exit(1);
  }, ms);
  t.unref();
}

// ─── devserver children ─────────────────────────────────────────────────────────────────────

const children = new Set();

export function killAllDevservers() {
  for (const child of children) {
    if (child.exitCode === null && child.signalCode === null) {
      try {
        child.kill("SIGKILL");
      } catch {}
    }
  }
}
process.on("exit", killAllDevservers);
for (const sig of ["SIGINT", "SIGTERM", "SIGHUP"]) {
  process.on(sig, () => {
    killAllDevservers();
    process.exit(130);
  });
}

/**
 * Starts target/release/tchat-devserver (or $TCHAT_DEVSERVER) on 127.0.0.1:0 with the same flags
 * as benches/client.rs. Returns { url, stop }.
 */
export async function startDevserver(deltaDelayMs) {
  const bin = process.env.TCHAT_DEVSERVER || path.join(REPO, "target", "release", "tchat-devserver");
  const child = spawn(
    bin,
    ["--addr", "127.0.0.1:0", "--delta-delay-ms", String(deltaDelayMs), "--idle-timeout-seconds", "600"],
    { stdio: ["ignore", "pipe", "inherit"] },
  );
  children.add(child);
  const exited = new Promise((resolve) => child.once("exit", resolve));
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
    await withTimeout(exited, 10_000, "devserver exit").catch(() => {});
    children.delete(child);
  };
  try {
    const firstLine = new Promise((resolve, reject) => {
      child.once("error", reject);
      child.once("exit", (code, sig) => reject(new Error(`devserver exited early (code ${code}, signal ${sig})`)));
      createInterface({ input: child.stdout }).once("line", resolve);
    });
    const line = await withTimeout(firstLine, 10_000, "devserver startup");
    const m = /^tchat-devserver listening on (http:\/\/127\.0\.0\.1:\d+)$/.exec(line);
    if (!m) throw new Error(`unexpected first line from the devserver: ${JSON.stringify(line)}`);
    child.stdout.resume(); // keep draining stdout so the server never blocks on a full pipe
    return { url: m[1], stop };
  } catch (e) {
    await stop();
    throw e;
  }
}

// ─── reporting (benches/client.rs's format) ─────────────────────────────────────────────────

function percentile(sorted, p) {
  return sorted[Math.round((sorted.length - 1) * p)];
}

/** `samples` in milliseconds. */
export function report(name, samples) {
  const s = [...samples].sort((a, b) => a - b);
  const f = (ms) => ms.toFixed(3).padStart(9);
  say(
    `  ${name.padEnd(44)} p50 ${f(percentile(s, 0.5))} ms   p99 ${f(percentile(s, 0.99))} ms   max ${f(s.at(-1))} ms   (n=${s.length})`,
  );
  return { p50: percentile(s, 0.5), p99: percentile(s, 0.99), max: s.at(-1), n: s.length };
}
