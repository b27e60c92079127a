// What both conformance scripts need: a devserver child process on a free loopback port (killed
// when the script exits, however it exits), bounded waits, and a fetch that refuses anything but
// loopback, so the official clients can never reach the internet from here.

import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import path from "node:path";

export const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..");
const STARTUP_TIMEOUT_MS = 10_000;

const children = [];

export function killDevservers() {
  for (const child of children) {
    if (child.exitCode === null && child.signalCode === null) {
      try {
        child.kill("SIGKILL");
      } catch {}
    }
  }
}
process.on("exit", killDevservers);
for (const sig of ["SIGINT", "SIGTERM"]) {
  process.on(sig, () => {
    killDevservers();
    process.exit(130);
  });
}

/** Starts `$TCHAT_DEVSERVER` (default: the release build) with `args`; resolves to its base URL. */
export async function startDevserver(args = []) {
  const bin = process.env.TCHAT_DEVSERVER || path.join(REPO, "target", "release", "tchat-devserver");
  const child = spawn(bin, ["--addr", "127.0.0.1:0", ...args], { stdio: ["ignore", "pipe", "inherit"] });
  children.push(child);
  const firstLine = new Promise((resolve, reject) => {
    child.once("error", reject);
    child.once("exit", (code, sig) => reject(new Error(`devserver exited early (code ${code}, signal ${sig})`)));
    createInterface({ input: child.stdout }).once("line", resolve);
  });
  const line = await withTimeout(firstLine, STARTUP_TIMEOUT_MS, "devserver startup");
  const m = /^tchat-devserver listening on (http:\/\/127\.0\.0\.1:\d+)$/.exec(line);
  if (!m) throw new Error(`unexpected first line from the devserver: ${JSON.stringify(line)}`);
  child.stdout.resume(); // keep draining stdout so the server never blocks on a full pipe
  return m[1];
}

export function withTimeout(promise, ms, what) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Refuses anything but loopback; `label` names the script in the refusal. */
export function loopbackOnlyFetch(realFetch, label) {
  return (input, init) => {
    const url = new URL(typeof input === "string" ? input : input instanceof URL ? input.href : input.url);
    if (url.hostname !== "127.0.0.1" && url.hostname !== "localhost" && url.hostname !== "[::1]") {
      return Promise.reject(new Error(`${label}: refusing non-loopback request to ${url.origin}`));
    }
    return realFetch(input, init);
  };
}

/** `/slow N` answers "tick 1", " tick 2", ... one delta per tick. */
export function slowText(n) {
  return Array.from({ length: n }, (_, i) => `tick ${i + 1}`).join(" ");
}

export function tickNumbers(chunks) {
  return chunks
    .filter((c) => c.type === "text-delta")
    .map((c) => {
      const m = /^ ?tick (\d+)$/.exec(c.delta);
      assert.ok(m, `unexpected delta ${JSON.stringify(c.delta)}`);
      return Number(m[1]);
    });
}
