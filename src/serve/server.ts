// watch --http: a read-only HTTP server for people and monitoring. `/` the live status page, `/events` its
// server-sent events, `/state.json`, `/healthz`, `/metrics`, and `/review/<page>.html` for the review pages
// in --out. Nothing changes anything; every other path is 404, every other method 405.
import { lstat, readFile, stat } from "node:fs/promises";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import path from "node:path";
import type { WatchStatus } from "../core/types.js";
import type { WatchMetrics } from "./metrics.js";
import { STATUS_CSS, STATUS_HTML, STATUS_JS } from "./page.js";

export interface StatusServerOptions {
  host: string;
  port: number;
  out: string;
  status: () => WatchStatus;
  /** told when the status changed */
  subscribe: (listener: () => void) => () => void;
  metrics: WatchMetrics;
  /** the staging folder is reachable and the last scan is younger than this: healthy */
  staleAfterMs: number;
  /** an upload that confirmed no byte for this long is stuck (unhealthy) */
  uploadStuckAfterMs?: number;
}

export interface StatusServer {
  url: string;
  close(): Promise<void>;
}

const PAGE_CSP =
  "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";
/** the review pages' own: inline styles and data: thumbnails, no script at all */
const REVIEW_CSP =
  "default-src 'none'; img-src data:; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";
/** how often a quiet /events stream gets a comment line (proxies close idle connections) */
const KEEPALIVE_MS = 15_000;
/** at most this many status events a second per client: a busy pass updates progress per photo */
const EVENT_GAP_MS = 250;

/**
 * Whether a watch looks alive: its staging folder is there, a scan finished recently, and with --upload
 * its sender can still send. Pure. 503 is kept for what a restart (or a person) must fix: an unreachable
 * staging folder, failing passes, a stop under way, a refused key (a restart reads the key again), and
 * an upload that confirmed no byte for longer than `uploadStuckAfterMs`. A platform that refuses or is
 * down for a while is not among them: watch tries its archives again by itself, and says so with a 200.
 */
export function healthOf(
  status: WatchStatus,
  stagingReachable: boolean,
  now: number,
  staleAfterMs: number,
  uploadStuckAfterMs = Number.POSITIVE_INFINITY,
): { ok: boolean; reason: string } {
  const pack = packHealth(status, stagingReachable, now, staleAfterMs);
  const up = status.uploads;
  if (!pack.ok || !up) return pack;
  if (up.stopped) return { ok: false, reason: `uploads stopped: ${up.stopped.code}: ${up.stopped.message}` };
  if (up.sending) {
    const quiet = now - Date.parse(up.sending.lastProgressAt);
    if (quiet > uploadStuckAfterMs)
      return { ok: false, reason: `uploading ${up.sending.archive}: no byte confirmed for ${Math.round(quiet / 1000)} s` };
    return { ok: true, reason: `${pack.reason}; uploading ${up.sending.archive}` };
  }
  const next = [...up.retrying].sort((x, y) => Date.parse(x.nextAttemptAt) - Date.parse(y.nextAttemptAt))[0];
  if (next) {
    const more = up.retrying.length > 1 ? ` (and ${up.retrying.length - 1} more)` : "";
    return {
      ok: true,
      reason: `${pack.reason}; uploading: waiting to retry ${next.archive} at ${next.nextAttemptAt}${more} after ${next.lastError.code}`,
    };
  }
  return pack;
}

function packHealth(status: WatchStatus, stagingReachable: boolean, now: number, staleAfterMs: number) {
  if (!stagingReachable) return { ok: false, reason: `the staging folder ${status.staging} is not reachable` };
  if (status.status === "error")
    return { ok: false, reason: status.lastError ? `${status.lastError.code}: ${status.lastError.message}` : "passes fail" };
  if (status.status === "stopping" || status.status === "stopped") return { ok: false, reason: "watch is stopping" };
  // a long pass scans nothing until it ends: its progress is what shows it alive
  if (status.status === "packing") return { ok: true, reason: "packing" };
  if (!status.lastScanAt)
    return status.status === "starting" ? { ok: true, reason: "starting" } : { ok: false, reason: "no scan yet" };
  const age = now - Date.parse(status.lastScanAt);
  if (age > staleAfterMs) return { ok: false, reason: `no scan finished for ${Math.round(age / 1000)} s` };
  return { ok: true, reason: status.status };
}

const LOOPBACK = new Set(["127.0.0.1", "::1", "localhost"]);

export async function startStatusServer(o: StatusServerOptions): Promise<StatusServer> {
  const clients = new Set<ServerResponse>();
  const server = createServer((req, res) => {
    void handle(req, res, o, clients).catch((err) => {
      if (!res.headersSent) send(res, 500, "text/plain", `internal error: ${(err as Error).message}\n`);
      else res.destroy();
    });
  });
  server.headersTimeout = 10_000;
  server.requestTimeout = 30_000;
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(o.port, o.host, () => resolve());
  });
  const { address, port } = server.address() as AddressInfo;
  const url = `http://${address.includes(":") ? `[${address}]` : address}:${port}`;
  return {
    url,
    async close() {
      for (const c of clients) c.end();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

async function handle(req: IncomingMessage, res: ServerResponse, o: StatusServerOptions, clients: Set<ServerResponse>) {
  // a loopback server answers only to loopback names: a web page elsewhere cannot reach it by DNS rebinding
  const host = (req.headers.host ?? "").replace(/:\d+$/, "").replace(/^\[|\]$/g, "");
  if (LOOPBACK.has(o.host) && !LOOPBACK.has(host)) return send(res, 421, "text/plain", "use http://127.0.0.1 or localhost\n");
  if (req.method !== "GET" && req.method !== "HEAD") {
    res.setHeader("Allow", "GET, HEAD");
    return send(res, 405, "text/plain", "read-only: GET and HEAD only\n");
  }
  // the path as sent, not resolved: "/review/.." must not become "/"
  const pathname = (req.url ?? "/").split("?")[0]!;
  switch (pathname) {
    case "/":
      return send(res, 200, "text/html; charset=utf-8", STATUS_HTML);
    case "/status.css":
      return send(res, 200, "text/css; charset=utf-8", STATUS_CSS);
    case "/status.js":
      return send(res, 200, "text/javascript; charset=utf-8", STATUS_JS);
    case "/state.json":
      return send(res, 200, "application/json", JSON.stringify(o.status(), null, 2) + "\n");
    case "/events":
      return events(req, res, o, clients);
    case "/metrics":
      return send(res, 200, o.metrics.contentType, await o.metrics.text());
    case "/healthz": {
      const health = healthOf(o.status(), await reachable(o.status().staging), Date.now(), o.staleAfterMs, o.uploadStuckAfterMs);
      return send(
        res,
        health.ok ? 200 : 503,
        "application/json",
        JSON.stringify({ status: health.ok ? "ok" : "unhealthy", reason: health.reason }) + "\n",
      );
    }
  }
  const page = /^\/review\/([A-Za-z0-9][A-Za-z0-9_.-]*\.html)$/.exec(pathname)?.[1];
  if (page && !page.includes("..")) {
    const file = path.join(o.out, page);
    const s = await lstat(file).catch(() => undefined);
    if (s?.isFile()) return send(res, 200, "text/html; charset=utf-8", await readFile(file), REVIEW_CSP);
  }
  return send(res, 404, "text/plain", "not found\n");
}

function send(res: ServerResponse, code: number, type: string, body: string | Buffer, csp = PAGE_CSP): void {
  res.writeHead(code, {
    "Content-Type": type,
    "Content-Length": Buffer.byteLength(body),
    "Content-Security-Policy": csp,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
  });
  res.end(res.req.method === "HEAD" ? undefined : body);
}

function events(req: IncomingMessage, res: ServerResponse, o: StatusServerOptions, clients: Set<ServerResponse>): void {
  res.writeHead(200, {
    "Content-Type": "text/event-stream",
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": PAGE_CSP,
  });
  clients.add(res);
  let last = 0;
  let timer: NodeJS.Timeout | undefined;
  const push = () => {
    timer = undefined;
    last = Date.now();
    res.write(`data: ${JSON.stringify(o.status())}\n\n`);
  };
  const changed = () => {
    if (!timer) timer = setTimeout(push, Math.max(0, last + EVENT_GAP_MS - Date.now()));
  };
  res.write("retry: 2000\n\n");
  push();
  const unsubscribe = o.subscribe(changed);
  const keepalive = setInterval(() => res.write(": keepalive\n\n"), KEEPALIVE_MS);
  req.on("close", () => {
    clearInterval(keepalive);
    if (timer) clearTimeout(timer);
    unsubscribe();
    clients.delete(res);
  });
}

/** The staging folder answers a stat within 2 s (a hung network share counts as unreachable). */
async function reachable(dir: string): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<boolean>((resolve) => {
    timer = setTimeout(() => resolve(false), 2000);
  });
  try {
    return await Promise.race([
      stat(dir).then(
        (s) => s.isDirectory(),
        () => false,
      ),
      timeout,
    ]);
  } finally {
    clearTimeout(timer);
  }
}
