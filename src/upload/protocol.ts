// SPEC §12: the platform's batch API and its resumable upload session, as the vendor's own client uses
// them (Deepomatic/deepocli, deepomatic/cli/lib/site.py, its batch functions). Everything this module
// knows about the remote side is here, so that a difference in the real API changes this file only.

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
  /** retry after a pause (network error, 408, 429, 5xx); `retryAfterMs` from a Retry-After header */
  | { ok: false; kind: "retry"; detail: string; retryAfterMs?: number }
  /** 401/403: the key is refused; nothing more is sent */
  | { ok: false; kind: "auth"; detail: string }
  /** the resumable session (or the batch) does not exist any more: 404/410 */
  | { ok: false; kind: "gone"; detail: string }
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

/** `{base}/batches` and `{base}/batches/{id}`, whether or not the base ends in "/". */
export function batchesUrl(base: string, id?: string): string {
  const root = `${base.replace(/\/+$/, "")}/batches`;
  return id === undefined ? `${root}/` : `${root}/${encodeURIComponent(id)}/`;
}

/** The answer to a session PUT: 308 with `Range: bytes=0-N` (or none: nothing stored), 200/201 complete. */
function sessionState(res: Response): SessionState | undefined {
  if (res.status === 200 || res.status === 201) return { complete: true };
  if (res.status !== 308) return undefined;
  const range = /^bytes=0-(\d+)$/.exec(res.headers.get("range") ?? "");
  return { complete: false, confirmed: range ? Number(range[1]) + 1 : 0 };
}

/** Retry-After as seconds or an HTTP date, in ms; undefined when absent or unreadable. */
export function retryAfterMs(header: string | null, now = Date.now()): number | undefined {
  if (!header) return undefined;
  if (/^\d+$/.test(header.trim())) return Number(header.trim()) * 1000;
  const at = Date.parse(header);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

async function judge<T>(res: Response, value: (res: Response) => T | undefined): Promise<Outcome<T>> {
  const v = value(res);
  if (v !== undefined) return { ok: true, value: v };
  const text = (await res.text().catch(() => "")).slice(0, 500).trim();
  const detail = `HTTP ${res.status}${text ? `: ${text}` : ""}`;
  if (res.status === 401 || res.status === 403) return { ok: false, kind: "auth", detail };
  if (res.status === 404 || res.status === 410) return { ok: false, kind: "gone", detail };
  if (res.status === 408 || res.status === 429 || res.status >= 500) {
    const after = retryAfterMs(res.headers.get("retry-after"));
    return { ok: false, kind: "retry", detail, ...(after === undefined ? {} : { retryAfterMs: after }) };
  }
  return { ok: false, kind: "fail", detail };
}

/** The platform over HTTP (Node's fetch). The key goes into the Authorization header of API calls only. */
export function httpApi(base: string, key: string, timeoutMs = 120_000): Api {
  const auth = { authorization: `Token ${key}` };
  const call = async <T>(url: string, init: RequestInit, value: (res: Response) => T | undefined): Promise<Outcome<T>> => {
    let res: Response;
    try {
      res = await fetch(url, { ...init, redirect: "manual", signal: AbortSignal.timeout(timeoutMs) });
    } catch (err) {
      const cause = (err as { cause?: { code?: string; message?: string } }).cause;
      return { ok: false, kind: "retry", detail: cause?.code ?? cause?.message ?? (err as Error).message };
    }
    return judge(res, value);
  };
  const json = async (res: Response) => (await res.json().catch(() => undefined)) as Record<string, unknown> | undefined;
  return {
    async createBatch(filename) {
      const r = await call(
        batchesUrl(base),
        { method: "POST", headers: { ...auth, "content-type": "application/json" }, body: JSON.stringify({ filename }) },
        (res) => (res.status === 200 || res.status === 201 ? res : undefined),
      );
      if (!r.ok) return r;
      const body = await json(r.value);
      if (typeof body?.batch_id !== "string" || typeof body.upload_url !== "string") {
        return { ok: false, kind: "fail", detail: "the platform's answer to creating a batch has no batch_id or upload_url" };
      }
      return { ok: true, value: { batchId: body.batch_id, uploadUrl: body.upload_url } };
    },
    async batchStatus(batchId) {
      const r = await call(batchesUrl(base, batchId), { headers: auth }, (res) => (res.status === 200 ? res : undefined));
      if (!r.ok) return r;
      const body = await json(r.value);
      return { ok: true, value: { status: typeof body?.status === "string" ? body.status : "unknown" } };
    },
    deleteBatch(batchId) {
      return call(batchesUrl(base, batchId), { method: "DELETE", headers: auth }, (res) =>
        res.status === 204 || res.status === 200 ? null : undefined,
      ).then((r) => (r.ok ? { ok: true, value: undefined } : r));
    },
    putChunk(uploadUrl, data, from, total) {
      const headers = {
        "content-type": "application/octet-stream",
        "content-range": `bytes ${from}-${from + data.length - 1}/${total}`,
      };
      return call(uploadUrl, { method: "PUT", headers, body: data as Uint8Array<ArrayBuffer> }, sessionState);
    },
    querySession(uploadUrl, total) {
      const headers = { "content-length": "0", "content-range": `bytes */${total}` };
      return call(uploadUrl, { method: "PUT", headers }, sessionState);
    },
  };
}
