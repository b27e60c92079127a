// The WAN benchmark's TLS terminator (run.sh starts it in the server namespace): TLS 1.3 in front
// of the devserver's plain HTTP port, one listening port per client so that every figure is
// attributed to one client, counted here, server-side, the same way for both.
//
//   node terminator.mjs --cert F --key F --host 10.77.0.2 --listen tchat=8443,node=8444 \
//        --upstream 127.0.0.1:PORT --echo 7000 --log events.jsonl
//
// Each accepted TCP connection is decrypted and piped, byte for byte, to its own connection to the
// upstream (so HTTP keep-alive, long-polls and SSE behave as they would against a real server).
// Session tickets are on (Node's default: two TLS 1.3 tickets per full handshake, one ticket key
// for the whole process), so a client that keeps its tickets can resume.
//
// --log gets one JSON line per event, `t` in Unix epoch milliseconds (the clients print their
// phase boundaries on the same clock; run.sh's report attributes events to phases by time):
//   {"t","client","ev":"tcp","id"}                           TCP connection accepted
//   {"t","client","ev":"tls","id","reused","hs_ms","alpn"}   handshake done: resumed or full
//   {"t","client","ev":"req","id","method","path"}           an HTTP/1.1 request line seen
//   {"t","client","ev":"close","id","rx","tx","ms"}          connection closed (plaintext bytes)
//   {"t","client","ev":"tlserr","error"}                     a handshake that failed
// --echo PORT: a plain TCP echo server on the same host, for the link's RTT/jitter probe.
// Prints "terminator ready" on stdout once every port listens.

import fs from "node:fs";
import net from "node:net";
import tls from "node:tls";

function arg(name, fallback) {
  const i = process.argv.indexOf(name);
  if (i >= 0) return process.argv[i + 1];
  if (fallback === undefined) throw new Error(`terminator: missing ${name}`);
  return fallback;
}

const host = arg("--host");
const [upHost, upPort] = arg("--upstream").split(":");
const listen = arg("--listen")
  .split(",")
  .map((kv) => kv.split("="))
  .map(([client, port]) => ({ client, port: Number(port) }));
const echoPort = Number(arg("--echo", "0"));
const logFd = fs.openSync(arg("--log"), "a");
const key = fs.readFileSync(arg("--key"));
const cert = fs.readFileSync(arg("--cert"));

function log(obj) {
  fs.writeSync(logFd, JSON.stringify({ t: Date.now(), ...obj }) + "\n");
}

// Request lines in the decrypted client->server bytes. HTTP/1.1 only (no client here offers h2:
// ALPN is http/1.1); a line split across two reads is missed, which the report tolerates.
const REQUEST_LINE = /(?:^|\r\n)(GET|POST|PUT|PATCH|DELETE|HEAD|OPTIONS) (\S+) HTTP\/1\.1\r\n/g;
function normalizePath(p) {
  return p
    .split("?")[0]
    .replace(/\/sessions\/[^/]+/, "/sessions/:id")
    .replace(/\/runs\/[^/]+/, "/runs/:id");
}

let nextId = 0;
const servers = [];
for (const { client, port } of listen) {
  const pending = new Map(); // "addr:port" -> { id, t0 } between TCP accept and handshake
  const server = tls.createServer({
    key,
    cert,
    minVersion: "TLSv1.3",
    maxVersion: "TLSv1.3",
    ALPNProtocols: ["http/1.1"],
    // Node's defaults, spelled out: tickets on, sessions valid for 5 minutes.
    sessionTimeout: 300,
  });
  server.on("connection", (raw) => {
    const id = ++nextId;
    raw.setNoDelay(true);
    pending.set(`${raw.remoteAddress}:${raw.remotePort}`, { id, t0: performance.now() });
    log({ client, ev: "tcp", id });
    raw.once("close", () => pending.delete(`${raw.remoteAddress}:${raw.remotePort}`));
  });
  server.on("tlsClientError", (err) => log({ client, ev: "tlserr", error: String(err?.message ?? err) }));
  server.on("secureConnection", (sock) => {
    const k = `${sock.remoteAddress}:${sock.remotePort}`;
    const p = pending.get(k) ?? { id: ++nextId, t0: performance.now() };
    pending.delete(k);
    const { id, t0 } = p;
    log({
      client,
      ev: "tls",
      id,
      reused: sock.isSessionReused(),
      hs_ms: Math.round((performance.now() - t0) * 100) / 100,
      alpn: sock.alpnProtocol || null,
    });
    let rx = 0;
    let tx = 0;
    const up = net.connect({ host: upHost, port: Number(upPort) });
    up.setNoDelay(true);
    sock.on("data", (buf) => {
      rx += buf.length;
      const text = buf.toString("latin1");
      REQUEST_LINE.lastIndex = 0;
      for (const m of text.matchAll(REQUEST_LINE)) log({ client, ev: "req", id, method: m[1], path: normalizePath(m[2]) });
    });
    up.on("data", (buf) => {
      tx += buf.length;
    });
    sock.pipe(up);
    up.pipe(sock);
    let closed = false;
    const done = () => {
      if (closed) return;
      closed = true;
      sock.destroy();
      up.destroy();
      log({ client, ev: "close", id, rx, tx, ms: Math.round(performance.now() - t0) });
    };
    sock.on("close", done);
    up.on("close", done);
    sock.on("error", done);
    up.on("error", done);
  });
  servers.push(new Promise((resolve, reject) => server.listen(port, host, resolve).once("error", reject)));
}

if (echoPort) {
  const echo = net.createServer((s) => {
    s.setNoDelay(true);
    s.on("error", () => s.destroy());
    s.pipe(s);
  });
  servers.push(new Promise((resolve, reject) => echo.listen(echoPort, host, resolve).once("error", reject)));
}

await Promise.all(servers);
console.log("terminator ready");
for (const sig of ["SIGINT", "SIGTERM"]) process.on(sig, () => process.exit(0));
