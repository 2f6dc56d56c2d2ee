// watch --http: a read-only HTTP server for people and monitoring. `/` the live status page, `/events` its
// server-sent events, `/state.json`, `/healthz`, `/metrics`, and `/review/<page>.html` for the review pages
// in --out. Nothing changes anything; every other path is 404, every other method 405.
import { createHash, timingSafeEqual } from "node:crypto";
import { lookup } from "node:dns/promises";
import { type FileHandle, stat } from "node:fs/promises";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import { type AddressInfo, BlockList, isIP } from "node:net";
import path from "node:path";
import { pipeline } from "node:stream/promises";
import { isGone, WopackError } from "../core/errors.js";
import { ownWait } from "../core/testTimes.js";
import { openRegularFile } from "../core/text.js";
import type { WatchStatus } from "../core/types.js";
import { photoChecksView } from "./checkCounts.js";
import type { WatchMetrics } from "./metrics.js";
import { STATUS_CSS, STATUS_HTML, STATUS_JS } from "./statusPage.js";
import { waitingToRetry } from "./uploadWaits.js";

export interface StatusServerOptions {
  host: string;
  port: number;
  /** required as `Authorization: Bearer <token>` on every path but /healthz; a non-loopback address needs one */
  token?: string | undefined;
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
/** at most this many /events clients at once; the next is told 503 and when to try again */
export const MAX_EVENT_CLIENTS = 16;
/** a client whose last event is not taken by the socket within this long is dropped (it does not read) */
const EVENT_STALL_MS = ownWait(10_000);
/** what an event holds of the longer lists (the page draws these; /state.json has all) */
const EVENT_WAITING = 200;
const EVENT_PROBLEMS = 10;

/**
 * Whether a watch looks alive: its staging folder is there, a scan finished recently, and with --upload
 * its sender can still send. Pure. 503 is kept for what a restart (or a person) must fix: an unreachable
 * staging folder, failing passes, a stop under way, a refused key (a restart reads the key again), and
 * an upload that confirmed no byte for longer than `uploadStuckAfterMs`. A platform that refuses or is
 * down for a while is not among them: watch tries its archives again by itself, and says so with a 200.
 * What only a person can fix and a restart does nothing for is `attention` (200, not ok): a batch on the
 * platform that needs looking at, and archives uploaded but waiting in --out for the folder --uploaded-to
 * names (a disk not mounted), which watch moves by itself once the folder is back.
 */
export function healthOf(
  status: WatchStatus,
  stagingReachable: boolean,
  now: number,
  staleAfterMs: number,
  uploadStuckAfterMs = Number.POSITIVE_INFINITY,
): { ok: boolean; reason: string; attention?: true } {
  const h = uploadHealth(status, stagingReachable, now, staleAfterMs, uploadStuckAfterMs);
  if (!h.ok) return h;
  const more = (n: number) => (n ? ` (and ${n} more)` : "");
  const [first, ...others] = status.uploads?.attention ?? [];
  const [waits, ...waitsToo] = status.uploads?.notMoved ?? [];
  const said = [
    ...(first ? [`needs attention: ${first.archive} (batch ${first.batchId})${more(others.length)}`] : []),
    ...(waits ? [`uploaded, not moved to ${waits.to}: ${waits.archive}${more(waitsToo.length)}: ${waits.reason}`] : []),
  ];
  // (200 all the same: a restart, which a liveness probe would make, neither deals with a batch on the platform
  // nor mounts a disk)
  return said.length ? { ok: true, attention: true, reason: [...said, h.reason].join("; ") } : h;
}

function uploadHealth(
  status: WatchStatus,
  stagingReachable: boolean,
  now: number,
  staleAfterMs: number,
  uploadStuckAfterMs: number,
): { ok: boolean; reason: string } {
  const pack = packHealth(status, stagingReachable, now, staleAfterMs);
  const up = status.uploads;
  if (!pack.ok || !up) return pack;
  if (up.stopped) return { ok: false, reason: `uploads stopped: ${up.stopped.code}: ${up.stopped.message}` };
  const [next, ...more] = waitingToRetry(up);
  if (up.sending) {
    const quiet = now - Date.parse(up.sending.lastProgressAt);
    if (quiet > uploadStuckAfterMs)
      return { ok: false, reason: `uploading ${up.sending.archive}: no byte confirmed for ${Math.round(quiet / 1000)} s` };
    const waits = up.sending.waiting && next;
    const sending = `uploading ${up.sending.archive}${waits ? `: waiting to retry at ${waits.nextAt} after ${waits.why}` : ""}`;
    return { ok: true, reason: pack.reason === "uploading" ? sending : `${pack.reason}; ${sending}` };
  }
  const paused = up.pausedUntil ? `waiting until ${up.pausedUntil}, as the platform asked (Retry-After)` : undefined;
  if (paused && !next) return { ok: true, reason: `${pack.reason}; uploading: ${paused}` };
  if (next) {
    const others = more.length ? ` (and ${more.length} more)` : "";
    return {
      ok: true,
      reason: `${pack.reason}; uploading: ${paused ? `${paused}; ` : ""}waiting to retry ${next.archive} at ${next.nextAt}${others} after ${next.why}`,
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

const LOOPBACK = new BlockList();
LOOPBACK.addSubnet("127.0.0.0", 8, "ipv4");
LOOPBACK.addAddress("::1", "ipv6");
LOOPBACK.addSubnet("::ffff:127.0.0.0", 104, "ipv6");

/** An IP address in 127.0.0.0/8, ::1 or ::ffff:127.x (any spelling Node accepts). */
export function isLoopbackAddress(address: string): boolean {
  const family = isIP(address);
  return family !== 0 && LOOPBACK.check(address, family === 4 ? "ipv4" : "ipv6");
}

/** A Host header's name, canonical (127.1 and 0x7f.0.0.1 are 127.0.0.1; IPv6 in brackets, compressed); undefined if malformed. */
export function canonicalHost(value: string): string | undefined {
  if (!/^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+)(:\d{1,5})?$/.test(value)) return undefined;
  try {
    return new URL(`http://${value}`).hostname.replace(/\.$/, "").toLowerCase();
  } catch {
    return undefined;
  }
}

/**
 * The Host values a loopback listener answers (DNS rebinding): localhost, 127.0.0.1, [::1], and its own
 * address as given or as bound, in any spelling. `undefined`: not a loopback listener.
 */
function loopbackHosts(given: string, bound: string): Set<string> | undefined {
  if (!isLoopbackAddress(bound)) return undefined;
  const hosts = new Set(["localhost", "127.0.0.1", "[::1]"]);
  for (const h of [given, bound]) {
    const c = canonicalHost(isIP(h) === 6 ? `[${h}]` : h);
    if (c) hosts.add(c);
  }
  return hosts;
}

/** the shortest WOPACK_HTTP_TOKEN taken (a guessable one would be no lock) */
const MIN_TOKEN_LENGTH = 16;

/**
 * --http on an address that is not loopback (0.0.0.0, a LAN address, a name resolving elsewhere) serves
 * only with a token: a usage error (exit 2) before anything starts otherwise.
 */
export async function checkListen(listen: { host: string; token?: string | undefined }): Promise<void> {
  if (listen.token !== undefined && listen.token.length < MIN_TOKEN_LENGTH)
    throw new WopackError(
      "usage",
      "E_HTTP_TOKEN_WEAK",
      `WOPACK_HTTP_TOKEN is too short to keep the status server closed (${listen.token.length} characters; at least ${MIN_TOKEN_LENGTH})`,
      'use a long random one, e.g. "$(openssl rand -hex 32)"',
    );
  if (listen.token) return;
  const addresses = isIP(listen.host)
    ? [listen.host]
    : await lookup(listen.host, { all: true }).then(
        (all) => all.map((a) => a.address),
        () => [] as string[], // (an unknown name fails at listen, with its own message)
      );
  if (addresses.every(isLoopbackAddress)) return;
  throw new WopackError(
    "usage",
    "E_HTTP_TOKEN_MISSING",
    `--http ${listen.host}: not a loopback address, and the status server has no authentication of its own`,
    "set WOPACK_HTTP_TOKEN to a long random secret (clients then send Authorization: Bearer <it>), or listen on 127.0.0.1 behind a reverse proxy",
  );
}

/** Whether the request carries the bearer token; compared in constant time (over digests of equal length). */
function authorized(req: IncomingMessage, token: string): boolean {
  const m = /^Bearer\s+(\S+)\s*$/i.exec(req.headers.authorization ?? "");
  if (!m) return false;
  const digest = (t: string) => createHash("sha256").update(t).digest();
  return timingSafeEqual(digest(m[1]!), digest(token));
}

export async function startStatusServer(o: StatusServerOptions): Promise<StatusServer> {
  await checkListen(o);
  const clients = new Set<ServerResponse>();
  const feed = eventFeed(o);
  o.metrics.eventClients = () => clients.size;
  let hosts: Set<string> | undefined;
  const server = createServer((req, res) => {
    void handle(req, res, o, { clients, feed }, hosts).catch((err) => {
      // the code only: an error's message names paths in --out
      const code = (err as NodeJS.ErrnoException).code;
      if (!res.headersSent) send(res, 500, "text/plain", `internal error${code ? ` (${code})` : ""}\n`);
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
  hosts = loopbackHosts(o.host, address);
  const url = `http://${address.includes(":") ? `[${address}]` : address}:${port}`;
  return {
    url,
    async close() {
      feed.close();
      for (const c of clients) c.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

async function handle(
  req: IncomingMessage,
  res: ServerResponse,
  o: StatusServerOptions,
  stream: EventStreams,
  loopbackHosts: Set<string> | undefined,
) {
  // a loopback server answers only to its own names: a web page elsewhere cannot reach it by DNS rebinding
  if (loopbackHosts && !loopbackHosts.has(canonicalHost(req.headers.host ?? "") ?? ""))
    return send(res, 421, "text/plain", "use http://127.0.0.1 or localhost\n");
  // (the path as sent, without its query)
  if (o.token && (req.url ?? "/").split("?")[0] !== "/healthz" && !authorized(req, o.token)) {
    res.setHeader("WWW-Authenticate", 'Bearer realm="wopack watch"');
    return send(res, 401, "text/plain", "send Authorization: Bearer <WOPACK_HTTP_TOKEN>\n");
  }
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
      return events(res, o, stream);
    case "/metrics":
      return send(res, 200, o.metrics.contentType, await o.metrics.text());
    case "/healthz": {
      const health = healthOf(o.status(), await reachable(o.status().staging), Date.now(), o.staleAfterMs, o.uploadStuckAfterMs);
      return send(
        res,
        health.ok ? 200 : 503,
        "application/json",
        JSON.stringify({ status: health.ok ? (health.attention ? "attention" : "ok") : "unhealthy", reason: health.reason }) +
          "\n",
      );
    }
  }
  const page = /^\/review\/([A-Za-z0-9][A-Za-z0-9_.-]*\.html)$/.exec(pathname)?.[1];
  if (page && !page.includes("..")) {
    const opened = await openPage(path.join(o.out, page));
    if (opened) return sendPage(res, opened);
  }
  return send(res, 404, "text/plain", "not found\n");
}

/**
 * A review page, open, or undefined when there is no such page: opened without following a link (nor
 * waiting on a FIFO) and checked to be a file on the open handle, so nothing can swap it between the check
 * and the read; once open, a page deleted meanwhile is still sent whole.
 */
function openPage(file: string): Promise<{ handle: FileHandle; size: number } | undefined> {
  return openRegularFile(file, { followLinks: false }).catch((err) => {
    const code = (err as NodeJS.ErrnoException).code;
    if (isGone(err) || code === "ELOOP" || code === "ENOTREG") return undefined;
    throw err;
  });
}

/**
 * A page of any size is streamed from its open handle, as fast as the client reads it: the server holds a
 * read buffer per client, never the page (a page of thumbnails can be hundreds of MB). The size is the one
 * checked at open: bytes appended since are not sent, a page cut short since ends the answer early.
 */
async function sendPage(res: ServerResponse, { handle, size }: { handle: FileHandle; size: number }): Promise<void> {
  res.writeHead(200, {
    ...HEADERS,
    "Content-Type": "text/html; charset=utf-8",
    "Content-Length": size,
    "Content-Security-Policy": REVIEW_CSP,
  });
  if (res.req.method === "HEAD" || size === 0) {
    await handle.close();
    return void res.end();
  }
  await pipeline(handle.createReadStream({ start: 0, end: size - 1 }), res).catch(() => res.destroy());
}

const HEADERS = { "X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer", "Cache-Control": "no-store" };

function send(res: ServerResponse, code: number, type: string, body: string | Buffer, csp = PAGE_CSP): void {
  res.writeHead(code, {
    ...HEADERS,
    "Content-Type": type,
    "Content-Length": Buffer.byteLength(body),
    "Content-Security-Policy": csp,
  });
  res.end(res.req.method === "HEAD" ? undefined : body);
}

interface EventStreams {
  clients: Set<ServerResponse>;
  feed: { text(): string };
}

/**
 * The status as the page's event, serialised once per change whatever the number of clients; the long
 * lists cut to what the page draws (the counts of the rest kept: the page says "N more").
 */
function eventFeed(o: StatusServerOptions): { text(): string; close(): void } {
  let version = 0;
  let cachedVersion = -1;
  let cached = "";
  const close = o.subscribe(() => version++);
  return {
    text() {
      if (cachedVersion !== version) {
        cached = `data: ${JSON.stringify(statusEvent(o.status()))}\n\n`;
        cachedVersion = version;
      }
      return cached;
    },
    close,
  };
}

/**
 * What an /events message holds: the status, with at most EVENT_WAITING waiting and EVENT_PROBLEMS problems
 * a work order, and the photo checks as the page draws them (null when the status has none).
 */
export function statusEvent(s: WatchStatus) {
  return {
    ...s,
    photoChecks: photoChecksView(s),
    waiting: s.waiting.slice(0, EVENT_WAITING),
    moreWaiting: Math.max(0, s.waiting.length - EVENT_WAITING),
    recentRefused: s.recentRefused.map((r) => ({
      ...r,
      problems: r.problems.slice(0, EVENT_PROBLEMS),
      moreProblems: Math.max(0, r.problems.length - EVENT_PROBLEMS),
    })),
  };
}

/**
 * /events: the latest status, at most every EVENT_GAP_MS, never a queue of old ones. A write the socket
 * does not take at once is the client's last until it drains (then it gets the newest); a client that
 * does not drain within EVENT_STALL_MS is dropped. Packing never waits: a change only arms a timer.
 */
function events(res: ServerResponse, o: StatusServerOptions, stream: EventStreams): void {
  const { clients, feed } = stream;
  if (res.req.method === "HEAD") {
    // (a HEAD has no body to stream: kept open, it would hold a client's place for ever, never read from)
    res.writeHead(200, { "Content-Type": "text/event-stream", "Cache-Control": "no-store", "X-Content-Type-Options": "nosniff" });
    return void res.end();
  }
  if (clients.size >= MAX_EVENT_CLIENTS) {
    o.metrics.eventClientsTurnedAway.inc({ why: "too_many" });
    res.setHeader("Retry-After", "30");
    res.setHeader("Connection", "close");
    send(res, 503, "text/plain", `at most ${MAX_EVENT_CLIENTS} live status pages at once; try again later\n`);
    return;
  }
  res.writeHead(200, {
    "Content-Type": "text/event-stream",
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": PAGE_CSP,
  });
  clients.add(res);
  let last = 0;
  let timer: NodeJS.Timeout | undefined;
  let stalled: NodeJS.Timeout | undefined;
  let pending = false;
  const write = (text: string) => {
    if (res.write(text) || stalled) return;
    stalled = setTimeout(() => {
      o.metrics.eventClientsTurnedAway.inc({ why: "not_reading" });
      res.destroy();
    }, EVENT_STALL_MS);
  };
  const push = () => {
    timer = undefined;
    if (stalled) {
      pending = true; // sent on drain, as the newest status then
      return;
    }
    last = Date.now();
    write(feed.text());
  };
  const changed = () => {
    if (!timer) timer = setTimeout(push, Math.max(0, last + EVENT_GAP_MS - Date.now()));
  };
  res.on("drain", () => {
    clearTimeout(stalled);
    stalled = undefined;
    if (pending) {
      pending = false;
      changed();
    }
  });
  write("retry: 2000\n\n");
  push();
  const unsubscribe = o.subscribe(changed);
  const keepalive = setInterval(() => {
    if (!stalled) write(": keepalive\n\n");
  }, KEEPALIVE_MS);
  res.on("close", () => {
    clearInterval(keepalive);
    clearTimeout(timer);
    clearTimeout(stalled);
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
