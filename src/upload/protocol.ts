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
   * to 1 s..1 h (`retryAfterNote` says how it was read when it was clamped or unreadable); `lost`: the
   * request may have taken effect, its answer lost on the way (no answer, a 5xx but 503), see answerLost
   */
  | { ok: false; kind: "retry"; detail: string; retryAfterMs?: number; retryAfterNote?: string; lost?: boolean }
  /** 401/403 from the API: the key is refused; nothing more is sent (from the upload session: see sessionRefusal) */
  | { ok: false; kind: "auth"; detail: string }
  /** the resumable session (or the batch) does not exist any more: 404/410 */
  | { ok: false; kind: "gone"; detail: string }
  /** an answer the protocol has no meaning for (a malformed Range): asked again, a few times at most */
  | { ok: false; kind: "protocol"; detail: string }
  /**
   * any other answer: this archive fails, with the server's words; `batchId`: a batch the platform made
   * although its answer cannot be used (no upload session), to be deleted
   */
  | { ok: false; kind: "fail"; detail: string; batchId?: string }
  /** a session URL that would carry the archive unencrypted (http: under an https: API): nothing is sent there */
  | { ok: false; kind: "insecure"; detail: string };

/** Where an upload session stands: `confirmed` bytes stored, or complete. */
export type SessionState =
  /** `digests`: what the last answer said of the object stored (its MD5/CRC32C), when it said */
  { complete: true; digests?: ObjectDigests | undefined } | { complete: false; confirmed: number };

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

/**
 * What `status --refresh` journals when the platform answers 404/410 for a batch: not final (a wrong URL
 * answers so too, so it is asked again at the next refresh), but no confirmation either (prune keeps it).
 */
export const BATCH_MISSING = "missing: the platform has no such batch";

/** A batch status that does not confirm the archive: failed, or missing (see BATCH_MISSING). */
export function statusUnconfirmed(status: string): boolean {
  return statusLooksFailed(status) || status.startsWith(BATCH_MISSING);
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
function sessionState(res: Answer): Outcome<SessionState> | undefined {
  if (res.status === 200 || res.status === 201) {
    const digests = res.truncated ? undefined : objectDigests(jsonObject(res.body));
    return { ok: true, value: digests ? { complete: true, digests } : { complete: true } };
  }
  if (res.status !== 308) return undefined;
  const header = res.header("range");
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
  if (/^\d+$/.test(text)) ms = Number(text) * 1000;
  else {
    const at = Date.parse(httpDate(text) ?? "");
    if (!Number.isNaN(at)) ms = at - now;
  }
  if (ms === undefined) return { ms: RETRY_AFTER_MIN_MS, note: "an unreadable Retry-After is read as 1 s" };
  if (ms < RETRY_AFTER_MIN_MS) return { ms: RETRY_AFTER_MIN_MS, note: "a Retry-After under 1 s (or in the past) is read as 1 s" };
  if (ms > RETRY_AFTER_MAX_MS) return { ms: RETRY_AFTER_MAX_MS, note: "a Retry-After over 1 h is read as 1 h" };
  return { ms };
}

/**
 * An HTTP date in the three forms a client must accept (RFC 9110 §5.6.7), as Date.parse reads it in UTC:
 * IMF-fixdate (Sun, 06 Nov 1994 08:49:37 GMT), RFC 850 (Sunday, 06-Nov-94 08:49:37 GMT) and asctime
 * (Sun Nov  6 08:49:37 1994, which names no zone and is GMT); undefined for anything else.
 */
function httpDate(text: string): string | undefined {
  if (/^[A-Za-z]{3},? \d{1,2} [A-Za-z]{3} \d{4} \d{2}:\d{2}:\d{2} GMT$/.test(text)) return text;
  if (/^[A-Za-z]{3,9}, \d{2}-[A-Za-z]{3}-\d{2} \d{2}:\d{2}:\d{2} GMT$/.test(text)) return text;
  if (/^[A-Za-z]{3} [A-Za-z]{3} [ \d]?\d \d{2}:\d{2}:\d{2} \d{4}$/.test(text)) return `${text} GMT`;
  return undefined;
}

/** Retry-After in ms (clamped), or undefined when absent. */
export function retryAfterMs(header: string | null, now = Date.now()): number | undefined {
  return retryAfter(header, now)?.ms;
}

/**
 * A connection that failed so: the request never reached the platform (anything else may have). A TLS
 * handshake that failed (a certificate refused, a proxy's) sent no request either.
 */
const NEVER_REACHED = new Set(["ECONNREFUSED", "ENOTFOUND", "EAI_AGAIN", "EHOSTUNREACH", "ENETUNREACH", "EADDRNOTAVAIL"]);
const neverReached = (code: string | undefined): boolean =>
  code !== undefined &&
  (NEVER_REACHED.has(code) || /^(ERR_TLS_|ERR_SSL_|CERT_|DEPTH_ZERO_|SELF_SIGNED_|UNABLE_TO_(GET|VERIFY)_)/.test(code));

/**
 * A retryable status whose request the platform (or its backend, behind a gateway) may have carried out: any
 * 5xx but 503, which says the request was not handled, as 408 and 429 do.
 */
export function answerLost(status: number): boolean {
  return status >= 500 && status !== 503;
}

export interface HttpOptions {
  /** each request's deadline (default 2 minutes) */
  timeoutMs?: number | undefined;
  /** the run's abort signal: a request in flight ends at once */
  signal?: AbortSignal | undefined;
}

/** An answer of the platform, its body read already: at most JSON_BODY_BYTES of it. */
interface Answer {
  status: number;
  /** a header's value (repeated ones joined by ", "), or null */
  header(name: string): string | null;
  body: Buffer;
  /** the body was longer than JSON_BODY_BYTES: the rest was not read (and the connection not reused) */
  truncated: boolean;
}

/**
 * The platform over HTTP (node:http, one kept-alive connection for every request). The key goes into the
 * Authorization header of API calls only; whatever the server sends is read within bounds, and its words
 * reach wopack's messages redacted.
 */
export function httpApi(base: string, key: string, options: HttpOptions = {}): Api {
  const { timeoutMs = 120_000, signal } = options;
  const auth = { authorization: `Token ${key}` };
  const clean = redactor(key, base);
  const judge = <T>(res: Answer, value: (res: Answer) => Outcome<T> | undefined): Outcome<T> => {
    const v = value(res);
    if (v !== undefined) return v;
    const truncated = res.truncated || res.body.length > ERROR_BODY_BYTES;
    const text = clean(res.body.subarray(0, ERROR_BODY_BYTES).toString("utf8").replace(/\s+/g, " ").trim()).slice(0, 500);
    const detail = `HTTP ${res.status}${text ? `: ${text}` : ""}${truncated || text.length === 500 ? " …" : ""}`;
    if (res.status === 401 || res.status === 403) return { ok: false, kind: "auth", detail };
    if (res.status === 404 || res.status === 410) return { ok: false, kind: "gone", detail };
    if (res.status === 408 || res.status === 429 || res.status >= 500) {
      const after = retryAfter(res.header("retry-after"));
      return {
        ok: false,
        kind: "retry",
        detail,
        ...(answerLost(res.status) ? { lost: true } : {}),
        ...(after ? { retryAfterMs: after.ms } : {}),
        ...(after?.note ? { retryAfterNote: after.note } : {}),
      };
    }
    return { ok: false, kind: "fail", detail };
  };
  const call = async <T>(
    url: string,
    method: string,
    headers: Record<string, string>,
    body: Uint8Array | undefined,
    value: (res: Answer) => Outcome<T> | undefined,
  ): Promise<Outcome<T>> => {
    signal?.throwIfAborted();
    const timeout = AbortSignal.timeout(timeoutMs);
    let res: Answer;
    try {
      res = await request(url, method, headers, body, signal ? AbortSignal.any([timeout, signal]) : timeout);
    } catch (err) {
      signal?.throwIfAborted();
      if (timeout.aborted)
        return { ok: false, kind: "retry", detail: `no answer within ${Math.round(timeoutMs / 1000)} s`, lost: true };
      const { code, cause } = err as { code?: string; cause?: { code?: string; message?: string } };
      const why = cause?.code ?? code;
      const detail = clean(why ?? cause?.message ?? (err as Error).message);
      return { ok: false, kind: "retry", detail, ...(neverReached(why) ? {} : { lost: true }) };
    }
    return judge(res, value);
  };
  /** a JSON object answer of at most JSON_BODY_BYTES; anything else is undefined */
  const json = (res: Answer) => (res.truncated ? ("too large" as const) : jsonObject(res.body));
  const ok = (res: Answer, ...statuses: number[]) =>
    statuses.includes(res.status) ? ({ ok: true, value: res } as const) : undefined;
  const tooLarge = `an answer over ${JSON_BODY_BYTES / 1024} KiB`;
  return {
    async createBatch(filename) {
      const body = Buffer.from(JSON.stringify({ filename }));
      const r = await call(batchesUrl(base), "POST", { ...auth, "content-type": "application/json" }, body, (res) =>
        ok(res, 200, 201),
      );
      if (!r.ok) return r;
      const answer = json(r.value);
      if (answer === "too large") return { ok: false, kind: "fail", detail: `${tooLarge} to creating a batch` };
      const batchId = idOf(answer?.batch_id);
      if (batchId === undefined || typeof answer?.upload_url !== "string" || !/^https?:\/\//i.test(answer.upload_url)) {
        const detail = "the platform's answer to creating a batch has no batch_id or upload_url";
        return { ok: false, kind: "fail", detail, ...(batchId === undefined ? {} : { batchId }) };
      }
      return { ok: true, value: { batchId, uploadUrl: answer.upload_url } };
    },
    async batchStatus(batchId) {
      const r = await call(batchesUrl(base, batchId), "GET", auth, undefined, (res) => ok(res, 200));
      if (!r.ok) return r;
      const answer = json(r.value);
      if (answer === "too large") return { ok: false, kind: "fail", detail: `${tooLarge} to asking for a batch's status` };
      const status = typeof answer?.status === "string" && answer.status.length <= 100 ? clean(answer.status) : "unknown";
      return { ok: true, value: { status } };
    },
    async deleteBatch(batchId) {
      const r = await call(batchesUrl(base, batchId), "DELETE", auth, undefined, (res) => ok(res, 200, 204));
      return r.ok ? { ok: true, value: undefined } : r;
    },
    putChunk(uploadUrl, data, from, total) {
      const insecure = insecureSession(base, uploadUrl);
      if (insecure) return Promise.resolve(insecure);
      const headers = {
        "content-type": "application/octet-stream",
        "content-range": `bytes ${from}-${from + data.length - 1}/${total}`,
      };
      return call(uploadUrl, "PUT", headers, data, sessionState).then(sessionRefusal);
    },
    querySession(uploadUrl, total) {
      const insecure = insecureSession(base, uploadUrl);
      if (insecure) return Promise.resolve(insecure);
      return call(uploadUrl, "PUT", { "content-range": `bytes */${total}` }, new Uint8Array(0), sessionState).then(
        sessionRefusal,
      );
    },
  };
}

/**
 * A 401/403 from the upload session is not about the key (none is sent there: the session URL is its own
 * credential): the session cannot be used, as when it is gone. The archive goes on in a new batch (at most
 * MAX_BATCHES, then it fails alone), instead of stopping every upload with E_UPLOAD_CREDENTIALS.
 */
function sessionRefusal<T>(r: Outcome<T>): Outcome<T> {
  if (r.ok || r.kind !== "auth") return r;
  return { ok: false, kind: "gone", detail: `${r.detail} (from the upload session, which carries no key)` };
}

/**
 * A session URL that would carry the archive unencrypted (http: under an https: API): no request goes there,
 * whether the session was just handed out or is resumed from a journal an older wopack wrote.
 */
function insecureSession(base: string, uploadUrl: string): Outcome<never> | undefined {
  const session = URL.parse(uploadUrl);
  if (session?.protocol !== "http:" || URL.parse(base)?.protocol === "http:") return undefined;
  const detail = `the upload session is plain HTTP (host ${session.host}) under an https API: the archive's bytes would travel unencrypted`;
  return { ok: false, kind: "insecure", detail };
}

const agents = { http: new http.Agent({ keepAlive: true }), https: new https.Agent({ keepAlive: true }) };

/**
 * One request through node:http: a chunk's body is the very buffer that was hashed (fetch copied a
 * typed-array body before sending it: 8 MiB a chunk, and as much garbage), and fetch's own ~20 ms of
 * loading is not paid. The answer's body is read here, at most JSON_BODY_BYTES of it: a connection whose
 * answer was read to its end goes back to the keep-alive pool (closing it would make every chunk open a
 * new connection, slow-starting again); one that sends more is closed. Redirects are not followed.
 */
function request(
  url: string,
  method: string,
  headers: Record<string, string>,
  body: Uint8Array | undefined,
  signal: AbortSignal,
): Promise<Answer> {
  const u = new URL(url);
  const secure = u.protocol === "https:";
  return new Promise<Answer>((resolve, reject) => {
    const req = (secure ? https : http).request(
      u,
      {
        method,
        headers: body ? { ...headers, "content-length": String(body.length) } : headers,
        agent: secure ? agents.https : agents.http,
        signal,
      },
      (res) => {
        const parts: Buffer[] = [];
        let size = 0;
        const done = (truncated: boolean) => {
          const all = Buffer.concat(parts);
          resolve({
            status: res.statusCode ?? 0,
            header(name) {
              const v = res.headers[name.toLowerCase()];
              return v === undefined ? null : Array.isArray(v) ? v.join(", ") : v;
            },
            body: truncated ? all.subarray(0, JSON_BODY_BYTES) : all,
            truncated,
          });
        };
        res.on("data", (piece: Buffer) => {
          parts.push(piece);
          size += piece.length;
          if (size > JSON_BODY_BYTES) {
            res.destroy(); // enough of it: the rest is not read, and the connection is not reused
            done(true);
          }
        });
        res.on("end", () => done(false));
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

/** The digests the platform gave for the object it stored, in lower-case hex. */
export interface ObjectDigests {
  md5?: string | undefined;
  crc32c?: string | undefined;
}

/**
 * `md5Hash` (16 bytes) and `crc32c` (4 bytes) of an object resource, each base64 of the big-endian digest, as
 * the cloud storage's resumable upload answers its last chunk; anything else is not read.
 */
export function objectDigests(answer: Record<string, unknown> | undefined): ObjectDigests | undefined {
  const read = (v: unknown, bytes: number) => {
    if (typeof v !== "string" || !/^[A-Za-z0-9+/]+={0,2}$/.test(v)) return undefined;
    const raw = Buffer.from(v, "base64");
    return raw.length === bytes ? raw.toString("hex") : undefined;
  };
  const md5 = read(answer?.md5Hash, 16);
  const crc32c = read(answer?.crc32c, 4);
  return md5 || crc32c ? { ...(md5 ? { md5 } : {}), ...(crc32c ? { crc32c } : {}) } : undefined;
}

/** A JSON object, or undefined. */
function jsonObject(body: Buffer): Record<string, unknown> | undefined {
  try {
    const v = JSON.parse(body.toString("utf8")) as unknown;
    return v && typeof v === "object" && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * A batch id wopack can write down and show: short, printable text, or a whole number (a database key,
 * as a REST framework sends it) written as its digits.
 */
function idOf(v: unknown): string | undefined {
  if (typeof v === "number") return Number.isSafeInteger(v) && v >= 0 ? String(v) : undefined;
  return isId(v) ? v : undefined;
}

function isId(v: unknown): v is string {
  return typeof v === "string" && /^[\w.:-]{1,200}$/.test(v);
}
