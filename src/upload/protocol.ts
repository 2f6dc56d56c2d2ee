// SPEC §12: the platform's batch API and its resumable upload session, as the vendor's own client uses
// them (Deepomatic/deepocli, deepomatic/cli/lib/site.py, its batch functions). Everything this module
// knows about the remote side is here, so that a difference in the real API changes this file only.

import http from "node:http";
import https from "node:https";
import { redactor } from "../core/redact.js";

/** Chunks are multiples of this (the cloud storage resumable protocol); the vendor's client sent 10 of them. */
export const CHUNK_UNIT = 262_144;
export const CHUNK_SIZE = 32 * CHUNK_UNIT;

export interface Batch {
  batchId: string;
  uploadUrl: string;
}

/** What a request came back with, reduced to what the uploader decides on. */
export type Outcome<T> =
  | { ok: true; value: T }
  /**
   * retry after a pause (network error, 408, 429, 5xx); `retryAfterMs` from a Retry-After header, clamped
   * to 1 s..1 h (`retryAfterNote` says how it was read when it was clamped or unreadable)
   */
  | { ok: false; kind: "retry"; detail: string; retryAfterMs?: number; retryAfterNote?: string }
  /** 401/403: the key is refused; nothing more is sent */
  | { ok: false; kind: "auth"; detail: string }
  /** the resumable session (or the batch) does not exist any more: 404/410 */
  | { ok: false; kind: "gone"; detail: string }
  /** an answer the protocol has no meaning for (a malformed Range): asked again, a few times at most */
  | { ok: false; kind: "protocol"; detail: string }
  /** any other answer: this archive fails, with the server's words */
  | { ok: false; kind: "fail"; detail: string };

/** Where an upload session stands: `confirmed` bytes stored, or complete. */
export type SessionState = { complete: true } | { complete: false; confirmed: number };

export interface Api {
  createBatch(filename: string): Promise<Outcome<Batch>>;
  batchStatus(batchId: string): Promise<Outcome<{ status: string }>>;
  deleteBatch(batchId: string): Promise<Outcome<undefined>>;
  /** PUTs bytes [from, from + data.length) of `total`; the session's state after it */
  putChunk(uploadUrl: string, data: Uint8Array, from: number, total: number): Promise<Outcome<SessionState>>;
  /** asks the session how much it holds (PUT, empty, `bytes * /total`) */
  querySession(uploadUrl: string, total: number): Promise<Outcome<SessionState>>;
}

/**
 * The batch statuses are not published: a status that reads like a failure is one (its text is shown),
 * anything else counts as accepted and still processing or done.
 */
export function statusLooksFailed(status: string): boolean {
  return /error|fail|reject|invalid|cancel|abort/i.test(status);
}

/** `{base}/batches` and `{base}/batches/{id}`, whether or not the base ends in "/" (its query kept). */
export function batchesUrl(base: string, id?: string): string {
  const [head = "", query] = splitQuery(base);
  const root = `${head.replace(/\/+$/, "")}/batches`;
  return `${id === undefined ? `${root}/` : `${root}/${encodeURIComponent(id)}/`}${query ?? ""}`;
}

function splitQuery(url: string): [string, string | undefined] {
  const at = url.search(/[?#]/);
  return at < 0 ? [url, undefined] : [url.slice(0, at), url.slice(at).replace(/#.*$/, "")];
}

/** Error bodies are kept up to this; JSON answers may be this long at most. */
export const ERROR_BODY_BYTES = 4096;
export const JSON_BODY_BYTES = 64 * 1024;

/**
 * The answer to a session PUT: 308 with `Range: bytes=0-N` (or none: nothing stored), 200/201 complete.
 * A Range that does not read `bytes=0-N` is a protocol answer (asked again, a few times at most).
 */
function sessionState(res: Response): Outcome<SessionState> | undefined {
  if (res.status === 200 || res.status === 201) return { ok: true, value: { complete: true } };
  if (res.status !== 308) return undefined;
  const header = res.headers.get("range");
  if (header === null) return { ok: true, value: { complete: false, confirmed: 0 } };
  const range = /^bytes=0-(\d{1,15})$/.exec(header.trim());
  if (!range) return { ok: false, kind: "protocol", detail: "HTTP 308 with a Range header that does not read bytes=0-N" };
  return { ok: true, value: { complete: false, confirmed: Number(range[1]) + 1 } };
}

export const RETRY_AFTER_MIN_MS = 1_000;
export const RETRY_AFTER_MAX_MS = 3_600_000;

/**
 * Retry-After as whole seconds or an HTTP date, clamped to 1 s..1 h; undefined when absent. Anything
 * else (negative, fractional, garbage) waits the least, 1 s, and says so: never "retry at once".
 */
export function retryAfter(header: string | null, now = Date.now()): { ms: number; note?: string } | undefined {
  if (header === null) return undefined;
  const text = header.trim();
  let ms: number | undefined;
  if (/^\d{1,12}$/.test(text)) ms = Number(text) * 1000;
  else if (/^[A-Za-z]{3},? \d{1,2}[ -][A-Za-z]{3}[ -]\d{2,4} \d{2}:\d{2}:\d{2} GMT$/.test(text)) {
    const at = Date.parse(text);
    if (!Number.isNaN(at)) ms = at - now;
  }
  if (ms === undefined) return { ms: RETRY_AFTER_MIN_MS, note: "an unreadable Retry-After is read as 1 s" };
  if (ms < RETRY_AFTER_MIN_MS) return { ms: RETRY_AFTER_MIN_MS, note: "a Retry-After under 1 s (or in the past) is read as 1 s" };
  if (ms > RETRY_AFTER_MAX_MS) return { ms: RETRY_AFTER_MAX_MS, note: "a Retry-After over 1 h is read as 1 h" };
  return { ms };
}

/** Retry-After in ms (clamped), or undefined when absent. */
export function retryAfterMs(header: string | null, now = Date.now()): number | undefined {
  return retryAfter(header, now)?.ms;
}

/** At most `limit` bytes of a body; the rest is not read (the stream is cancelled). */
export async function readCapped(res: Response, limit: number): Promise<{ bytes: Uint8Array; truncated: boolean }> {
  const reader = res.body?.getReader();
  if (!reader) return { bytes: new Uint8Array(0), truncated: false };
  const parts: Uint8Array[] = [];
  let size = 0;
  let truncated = false;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      const room = limit - size;
      parts.push(value.subarray(0, room));
      size += Math.min(room, value.length);
      if (value.length > room) {
        truncated = true;
        break;
      }
    }
  } finally {
    if (truncated) await reader.cancel().catch(() => undefined);
    reader.releaseLock();
  }
  return { bytes: Buffer.concat(parts), truncated };
}

/** Drops a body that is not needed, so that the connection is freed at once. */
function discard(res: Response): void {
  res.body?.cancel().catch(() => undefined);
}

export interface HttpOptions {
  /** each request's deadline (default 2 minutes) */
  timeoutMs?: number | undefined;
  /** the run's abort signal: a request in flight ends at once */
  signal?: AbortSignal | undefined;
}

/**
 * The platform over HTTP (Node's fetch). The key goes into the Authorization header of API calls only;
 * whatever the server sends is read within bounds, and its words reach wopack's messages redacted.
 */
export function httpApi(base: string, key: string, options: HttpOptions = {}): Api {
  const { timeoutMs = 120_000, signal } = options;
  const auth = { authorization: `Token ${key}` };
  const clean = redactor(key, base);
  const judge = async <T>(res: Response, value: (res: Response) => Outcome<T> | undefined): Promise<Outcome<T>> => {
    const v = value(res);
    if (v !== undefined) return v;
    const { bytes, truncated } = await readCapped(res, ERROR_BODY_BYTES).catch(() => ({
      bytes: new Uint8Array(0),
      truncated: false,
    }));
    const text = clean(Buffer.from(bytes).toString("utf8").replace(/\s+/g, " ").trim()).slice(0, 500);
    const detail = `HTTP ${res.status}${text ? `: ${text}` : ""}${truncated || text.length === 500 ? " …" : ""}`;
    if (res.status === 401 || res.status === 403) return { ok: false, kind: "auth", detail };
    if (res.status === 404 || res.status === 410) return { ok: false, kind: "gone", detail };
    if (res.status === 408 || res.status === 429 || res.status >= 500) {
      const after = retryAfter(res.headers.get("retry-after"));
      return {
        ok: false,
        kind: "retry",
        detail,
        ...(after ? { retryAfterMs: after.ms } : {}),
        ...(after?.note ? { retryAfterNote: after.note } : {}),
      };
    }
    return { ok: false, kind: "fail", detail };
  };
  const call = async <T>(
    url: string,
    init: RequestInit,
    value: (res: Response) => Outcome<T> | undefined,
  ): Promise<Outcome<T>> => {
    signal?.throwIfAborted();
    const timeout = AbortSignal.timeout(timeoutMs);
    let res: Response;
    try {
      const both = signal ? AbortSignal.any([timeout, signal]) : timeout;
      res = await (init.method === "PUT" && init.body
        ? putBytes(url, init, both)
        : fetch(url, { ...init, redirect: "manual", signal: both }));
    } catch (err) {
      signal?.throwIfAborted();
      if (timeout.aborted) return { ok: false, kind: "retry", detail: `no answer within ${Math.round(timeoutMs / 1000)} s` };
      const { code, cause } = err as { code?: string; cause?: { code?: string; message?: string } };
      return { ok: false, kind: "retry", detail: clean(cause?.code ?? code ?? cause?.message ?? (err as Error).message) };
    }
    try {
      return await judge(res, value);
    } finally {
      signal?.throwIfAborted();
    }
  };
  /**
   * A JSON object answer of at most JSON_BODY_BYTES (undefined: not one). An answer cut off (the
   * connection dropped) or not finished before the deadline is retried, as a request with no answer is.
   */
  const json = async (res: Response, what: string): Promise<Outcome<Record<string, unknown> | undefined>> => {
    let read: Awaited<ReturnType<typeof readCapped>>;
    try {
      read = await readCapped(res, JSON_BODY_BYTES);
    } catch (err) {
      signal?.throwIfAborted();
      const late = (err as Error).name === "TimeoutError";
      const why = late ? `did not end within ${Math.round(timeoutMs / 1000)} s` : "was cut off";
      return { ok: false, kind: "retry", detail: `the answer to ${what} ${why}` };
    }
    if (read.truncated) return { ok: false, kind: "fail", detail: `an answer over ${JSON_BODY_BYTES / 1024} KiB to ${what}` };
    try {
      const v = JSON.parse(Buffer.from(read.bytes).toString("utf8")) as unknown;
      return { ok: true, value: v && typeof v === "object" ? (v as Record<string, unknown>) : undefined };
    } catch {
      return { ok: true, value: undefined };
    }
  };
  const ok = (res: Response, ...statuses: number[]) =>
    statuses.includes(res.status) ? ({ ok: true, value: res } as const) : undefined;
  return {
    async createBatch(filename) {
      const r = await call(
        batchesUrl(base),
        { method: "POST", headers: { ...auth, "content-type": "application/json" }, body: JSON.stringify({ filename }) },
        (res) => ok(res, 200, 201),
      );
      if (!r.ok) return r;
      const read = await json(r.value, "creating a batch");
      if (!read.ok) return read;
      const body = read.value;
      if (!isId(body?.batch_id) || typeof body.upload_url !== "string" || !/^https?:\/\//i.test(body.upload_url)) {
        return { ok: false, kind: "fail", detail: "the platform's answer to creating a batch has no batch_id or upload_url" };
      }
      return { ok: true, value: { batchId: body.batch_id, uploadUrl: body.upload_url } };
    },
    async batchStatus(batchId) {
      const r = await call(batchesUrl(base, batchId), { headers: auth }, (res) => ok(res, 200));
      if (!r.ok) return r;
      const read = await json(r.value, "asking for a batch's status");
      if (!read.ok) return read;
      const body = read.value;
      const status = typeof body?.status === "string" && body.status.length <= 100 ? clean(body.status) : "unknown";
      return { ok: true, value: { status } };
    },
    async deleteBatch(batchId) {
      const r = await call(batchesUrl(base, batchId), { method: "DELETE", headers: auth }, (res) => ok(res, 200, 204));
      if (!r.ok) return r;
      discard(r.value);
      return { ok: true, value: undefined };
    },
    putChunk(uploadUrl, data, from, total) {
      const headers = {
        "content-type": "application/octet-stream",
        "content-range": `bytes ${from}-${from + data.length - 1}/${total}`,
      };
      return call(uploadUrl, { method: "PUT", headers, body: data as Uint8Array<ArrayBuffer> }, (res) =>
        discarding(res, sessionState(res)),
      );
    },
    querySession(uploadUrl, total) {
      const headers = { "content-length": "0", "content-range": `bytes */${total}` };
      return call(uploadUrl, { method: "PUT", headers }, (res) => discarding(res, sessionState(res)));
    },
  };
}

const agents = { http: new http.Agent({ keepAlive: true }), https: new https.Agent({ keepAlive: true }) };

/**
 * A chunk PUT through node:http rather than fetch: fetch copies a typed-array body before sending it
 * (8 MiB a chunk, and as much garbage), node:http writes the very buffer that was hashed. The answer's
 * body (none, for a 308) is read here, at most JSON_BODY_BYTES of it: a connection whose answer was read
 * to its end goes back to the keep-alive pool (cancelling the body would close it, and every chunk would
 * open a new connection, slow-starting again); one that sends more is closed.
 */
function putBytes(url: string, init: RequestInit, signal: AbortSignal): Promise<Response> {
  const body = init.body as Uint8Array;
  const u = new URL(url);
  const secure = u.protocol === "https:";
  return new Promise<Response>((resolve, reject) => {
    const req = (secure ? https : http).request(
      u,
      {
        method: "PUT",
        headers: { ...(init.headers as Record<string, string>), "content-length": String(body.length) },
        agent: secure ? agents.https : agents.http,
        signal,
      },
      (res) => {
        const status = res.statusCode ?? 0;
        const headers = new Headers();
        for (const [k, v] of Object.entries(res.headers))
          if (v !== undefined) headers.set(k, Array.isArray(v) ? v.join(", ") : v);
        const parts: Buffer[] = [];
        let size = 0;
        const done = () => {
          try {
            const empty = status === 204 || status === 205 || status === 304;
            resolve(new Response(empty ? null : Buffer.concat(parts), { status, headers }));
          } catch (err) {
            reject(err); // a status a Response cannot carry (1xx, over 599)
          }
        };
        res.on("data", (piece: Buffer) => {
          parts.push(piece);
          size += piece.length;
          if (size > JSON_BODY_BYTES) {
            res.destroy(); // enough of it: the rest is not read, and the connection is not reused
            done();
          }
        });
        res.on("end", done);
        res.on("error", reject);
        res.on("close", () => {
          if (!res.complete && size <= JSON_BODY_BYTES) reject(new Error("the connection closed before the answer ended"));
        });
      },
    );
    req.on("error", reject);
    req.end(body);
  });
}

/** A batch id wopack can write down and show: short, printable. */
function isId(v: unknown): v is string {
  return typeof v === "string" && /^[\w.:-]{1,200}$/.test(v);
}

function discarding<T>(res: Response, v: T): T {
  if (v !== undefined) discard(res);
  return v;
}
