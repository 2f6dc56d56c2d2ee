// A strict stand-in for the platform's batch API and its resumable upload sessions (SPEC §12), for the
// upload tests (no internet here). Every rule it enforces is in this file: if the real API differs,
// this file and src/upload/protocol.ts change together. Faults are injected on demand.
import { createHash, randomUUID } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { createServer as createTlsServer } from "node:https";
import type { AddressInfo } from "node:net";

export const UNIT = 262_144;

export interface ServerBatch {
  id: string;
  filename: string;
  session: string;
  status: string;
  total?: number;
  /** the bytes stored so far, in order */
  chunks: Buffer[];
  stored: number;
  sessionGone: boolean;
  deleted: boolean;
}

export interface Faults {
  /** answer API calls and uploads with 401 */
  refuseKey?: boolean;
  /** keep at most this many bytes of each chunk PUT (a session that confirms a little of each, for ever) */
  keepAtMost?: number;
  /** the next N upload-session PUTs (queries or chunks) answer 403, as a storage that no longer honours the session URL */
  refuseSession?: number;
  /** the next N requests (any) answer 503 */
  unavailable?: number;
  /** the next N requests answer 429 with this Retry-After (seconds) */
  tooMany?: { count: number; retryAfter: number };
  /** the next N requests answer 503 with this Retry-After (seconds): down for maintenance */
  busy?: { count: number; retryAfter: number };
  /** drop the connection once a chunk PUT has brought this many more bytes (then again after as many) */
  resetEveryBytes?: number;
  /** wait this long before answering each chunk PUT (a slow line) */
  chunkDelayMs?: number;
  /** expire a batch's session once it stores at least this many bytes (its first batch only) */
  expireAtBytes?: number;
  /** refuse to create a batch with this file name (400, with the server's reason) */
  refuseFilename?: string;
  /** never answer a chunk PUT (a stalled server): the request stays open until the client goes */
  stallChunks?: boolean;
  /** answer DELETE with this status instead of deleting (405: the platform will not delete batches) */
  refuseDelete?: number;
  /** every error answer echoes this (a planted secret), the request's Authorization and URL, in its body and a header */
  echo?: string;
  /** the next N requests answer 503 with an error page of this many bytes */
  hugeErrors?: { count: number; bytes: number };
  /** hand out upload sessions under this base instead of the server's own (e.g. http: under an https: API) */
  sessionBase?: string;
  /** hand out session URLs shaped as the cloud storage's, their bearer `upload_id` query starting with this */
  uploadIdPrefix?: string;
  /** answer a new batch (made all the same) with this `upload_url` instead (null: none at all) */
  uploadUrl?: unknown;
  /**
   * answer a complete session with the stored object's digests, as the cloud storage's object resource does
   * (`md5Hash`, `crc32c`: base64 of the big-endian digest): both, one, or malformed ones
   */
  objectDigests?: "both" | "md5" | "crc32c" | "malformed";
  /** the platform stores a wrong byte at this offset of each object (flipped when the session completes) */
  corruptAt?: number;
  /**
   * request number `at` (counting every request from 0) is held for ever, its effect applied (a batch made,
   * a chunk stored, a batch deleted) or not: the client never learns which, as when it is killed right then
   */
  hold?: { at: number; apply: boolean };
  /**
   * the next N batch creations make the batch, then lose the answer: an HTTP status (a gateway's 502, 504...)
   * or "drop" (the connection closes before any answer)
   */
  loseCreated?: { count: number; how: number | "drop" };
}

export class UploadServer {
  readonly batches = new Map<string, ServerBatch>();
  readonly log: { method: string; url: string; status: number; authorization?: string; port?: number }[] = [];
  faults: Faults = {};
  /** when each chunk arrived (ms since epoch), by batch file name */
  readonly timeline: { what: "chunk"; filename: string; at: number }[] = [];
  /** every problem the server found with a client's request (a strict server fails loudly) */
  readonly violations: string[] = [];
  private server!: Server;
  private sinceReset = 0;
  private expired = new Set<string>();
  private readonly digestsMade = new WeakMap<Buffer[], { stored: number; md5Hash: string; crc32c: string }>();
  base = "";

  /**
   * `retain: false` (the bench): count and hash the bytes instead of keeping them; `readBytesPerSec`: chunk
   * bodies are read no faster than this, all connections together (a link of that speed: TCP holds the sender)
   */
  constructor(
    readonly key: string,
    private readonly options: { retain?: boolean; tls?: { key: string; cert: string }; readBytesPerSec?: number } = {},
  ) {}

  /** when the paced link is free again (performance.now() ms) */
  private linkFreeAt = 0;

  private async paceRead(bytes: number): Promise<void> {
    const rate = this.options.readBytesPerSec;
    if (!rate) return;
    const now = performance.now();
    this.linkFreeAt = Math.max(now, this.linkFreeAt) + (bytes / rate) * 1000;
    // (a timer under 2 ms would round up and slow the link: the debt is carried to a later piece instead)
    if (this.linkFreeAt - now >= 2) await new Promise((r) => setTimeout(r, this.linkFreeAt - now));
  }

  async start(): Promise<this> {
    const handle = (req: IncomingMessage, res: ServerResponse) => void this.handle(req, res);
    const tls = this.options.tls;
    this.server = tls ? createTlsServer(tls, handle) : createServer(handle);
    await new Promise<void>((resolve) => this.server.listen(0, "127.0.0.1", resolve));
    const { port } = this.server.address() as AddressInfo;
    this.base = `${tls ? "https" : "http"}://127.0.0.1:${port}/v0.2`;
    return this;
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  /** The SHA-256 of what a batch holds (hashed piece by piece: a table of uploads asks it of every row). */
  received(id: string): { sha256: string } {
    const hash = createHash("sha256");
    for (const piece of this.batches.get(id)!.chunks) hash.update(piece);
    return { sha256: hash.digest("hex") };
  }

  /** Batches whose upload completed (accepted by the platform), by file name. */
  accepted(): Map<string, ServerBatch[]> {
    const by = new Map<string, ServerBatch[]>();
    for (const b of this.batches.values()) {
      if (b.deleted || b.status === "waiting_upload") continue;
      by.set(b.filename, [...(by.get(b.filename) ?? []), b]);
    }
    return by;
  }

  expire(id: string): void {
    this.batches.get(id)!.sessionGone = true;
  }

  /** requests seen so far (faults.hold counts them) */
  requests = 0;

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? "/", "http://x");
    const held = this.faults.hold?.at === this.requests++ ? this.faults.hold : undefined;
    if (held) {
      this.log.push({ method: req.method ?? "", url: "held", status: 0 });
      if (!held.apply) return void drain(req).catch(() => undefined);
    }
    const send = (status: number, body?: unknown, headers: Record<string, string> = {}): void => {
      if (held) return; // (its effect applied, its answer never sent)
      this.log.push({
        method: req.method ?? "",
        url: url.pathname,
        status,
        ...(req.headers.authorization ? { authorization: req.headers.authorization } : {}),
        ...(req.socket.remotePort ? { port: req.socket.remotePort } : {}),
      });
      const echo = this.faults.echo;
      if (echo && status >= 400) {
        const words = `you sent ${req.headers.authorization ?? "no key"} to ${req.url} (${echo})`;
        body = { ...(typeof body === "object" ? body : {}), echo: words };
        headers = { ...headers, "x-echo": words, "retry-after": `soon ${echo}` };
      }
      res.writeHead(status, { ...(body === undefined ? {} : { "content-type": "application/json" }), ...headers });
      res.end(body === undefined ? undefined : JSON.stringify(body));
    };
    if (this.faults.hugeErrors?.count) {
      this.faults.hugeErrors.count--;
      await drain(req);
      this.log.push({ method: req.method ?? "", url: url.pathname, status: 503 });
      res.writeHead(503, { "content-type": "text/html" });
      return flood(res, this.faults.hugeErrors.bytes);
    }
    if (this.faults.unavailable) {
      this.faults.unavailable--;
      await drain(req);
      return send(503, { detail: "unavailable" });
    }
    if (this.faults.busy?.count) {
      this.faults.busy.count--;
      await drain(req);
      return send(503, { detail: "down for maintenance" }, { "retry-after": String(this.faults.busy.retryAfter) });
    }
    if (this.faults.tooMany?.count) {
      this.faults.tooMany.count--;
      await drain(req);
      return send(429, { detail: "slow down" }, { "retry-after": String(this.faults.tooMany.retryAfter) });
    }
    const api = /^\/v0\.2\/batches\/?(?:([^/]+)\/?)?$/.exec(url.pathname);
    if (api) return this.handleApi(req, res, api[1], send);
    const upload = /^\/upload\/([^/]+)$/.exec(url.pathname);
    if (upload && req.method === "PUT") return this.handleUpload(req, res, upload[1]!, send);
    await drain(req);
    send(404, { detail: "no such route" });
  }

  private async handleApi(
    req: IncomingMessage,
    _res: ServerResponse,
    id: string | undefined,
    send: (status: number, body?: unknown, headers?: Record<string, string>) => void,
  ): Promise<void> {
    const body = await drain(req);
    if (req.headers.authorization !== `Token ${this.key}` || this.faults.refuseKey) {
      return send(401, { detail: "Invalid token." });
    }
    if (id === undefined && req.method === "POST") {
      if (!/^application\/json/.test(req.headers["content-type"] ?? "")) this.violations.push("POST /batches without JSON");
      let filename: unknown;
      try {
        filename = JSON.parse(body.toString("utf8")).filename;
      } catch {
        filename = undefined;
      }
      if (typeof filename !== "string" || !filename) return send(400, { filename: ["This field is required."] });
      if (filename === this.faults.refuseFilename)
        return send(400, { filename: ["A batch with this name is not allowed on this site."] });
      const b: ServerBatch = {
        id: randomUUID(),
        filename,
        session: randomUUID(),
        status: "waiting_upload",
        chunks: [],
        stored: 0,
        sessionGone: false,
        deleted: false,
      };
      this.batches.set(b.id, b);
      const lost = this.faults.loseCreated;
      if (lost?.count) {
        lost.count--;
        if (lost.how !== "drop") return send(lost.how, { detail: "bad gateway" });
        this.log.push({ method: req.method ?? "", url: "/v0.2/batches/", status: 0 });
        return void req.socket.destroy();
      }
      const query =
        this.faults.uploadIdPrefix === undefined
          ? ""
          : `?uploadType=resumable&upload_id=${this.faults.uploadIdPrefix}${b.session}`;
      const session = `${this.faults.sessionBase ?? this.base.replace(/\/v0\.2$/, "")}/upload/${b.session}${query}`;
      const url = "uploadUrl" in this.faults ? this.faults.uploadUrl : session;
      return send(201, { batch_id: b.id, ...(url === null ? {} : { upload_url: url }), status: b.status });
    }
    const b = id === undefined ? undefined : this.batches.get(id);
    if (!b || b.deleted) return send(404, { detail: "Not found." });
    if (req.method === "GET") return send(200, { batch_id: b.id, filename: b.filename, status: b.status });
    if (req.method === "DELETE") {
      if (this.faults.refuseDelete) return send(this.faults.refuseDelete, { detail: "batches cannot be deleted here" });
      if (b.status !== "waiting_upload") return send(409, { detail: `batch is ${b.status}; it cannot be deleted` });
      b.deleted = true;
      b.sessionGone = true;
      return send(204);
    }
    send(405, { detail: "method not allowed" });
  }

  private async handleUpload(
    req: IncomingMessage,
    res: ServerResponse,
    session: string,
    send: (status: number, body?: unknown, headers?: Record<string, string>) => void,
  ): Promise<void> {
    const b = [...this.batches.values()].find((x) => x.session === session);
    if (req.headers.authorization) this.violations.push("the API key was sent to the storage session URL");
    if (!b) {
      await drain(req);
      return send(404, { error: "no such session" });
    }
    if (b.sessionGone) {
      await drain(req);
      return send(410, { error: "session expired" });
    }
    if (this.faults.refuseSession) {
      this.faults.refuseSession--;
      await drain(req);
      const id = new URL(req.url ?? "/", "http://x").searchParams.get("upload_id");
      return send(403, { error: `the signature of this session URL is not valid any more${id ? ` (upload ${id})` : ""}` });
    }
    const range = req.headers["content-range"] ?? "";
    const query = /^bytes \*\/(\d+)$/.exec(range);
    const chunk = /^bytes (\d+)-(\d+)\/(\d+)$/.exec(range);
    const progress = () => (b.stored > 0 ? { range: `bytes=0-${b.stored - 1}` } : undefined);
    if (query) {
      await drain(req);
      if (req.headers["content-length"] !== "0") this.violations.push("a status query with a body");
      if (b.total !== undefined && Number(query[1]) !== b.total) return send(400, { error: "total changed" });
      if (b.status !== "waiting_upload") return send(200, { name: b.filename, ...this.digests(b) });
      return send(308, undefined, progress());
    }
    if (!chunk) {
      await drain(req);
      this.violations.push(`a PUT without a usable Content-Range (${range})`);
      return send(400, { error: "Content-Range required" });
    }
    if (req.headers["content-type"] !== "application/octet-stream")
      this.violations.push("a chunk without Content-Type: application/octet-stream");
    const [from, to, total] = [Number(chunk[1]), Number(chunk[2]), Number(chunk[3])];
    const length = to - from + 1;
    const last = to === total - 1;
    const problems: string[] = [];
    if (b.total !== undefined && total !== b.total) problems.push(`total ${total}, was ${b.total}`);
    // (a chunk that starts before what the session holds overlaps it, as after a killed client whose last
    // request was still being read: accepted, the overlap not kept twice; one that leaves a gap is wrong)
    if (from > b.stored) problems.push(`starts at ${from}, the session holds ${b.stored}`);
    if (!last && length % UNIT !== 0) problems.push(`a chunk of ${length} bytes is not a multiple of ${UNIT}`);
    if (to >= total || length <= 0) problems.push("a range outside the file");
    if (problems.length) {
      await drain(req);
      this.violations.push(...problems);
      return send(400, { error: problems.join("; ") });
    }
    b.total = total;
    if (this.faults.stallChunks) {
      this.log.push({ method: "PUT", url: "stalled", status: 0 });
      await drain(req).catch(() => undefined);
      return; // never answered
    }
    this.timeline.push({ what: "chunk", filename: b.filename, at: Date.now() });
    // the body, with a connection reset on demand once enough bytes have come (what arrived whole in
    // 256 KiB units is kept, as the cloud storage does)
    const parts: Buffer[] = [];
    let got = 0;
    // (the bench's server, retain: false, only counts: holding a 0.3 GB single PUT to concatenate it cost the
    // reference, curl's one PUT, more than wopack's 16 MiB chunks)
    const keeping = this.options.retain !== false;
    // (the first n bytes as the pieces they came in: kept so, never concatenated, as the chunks are)
    const bodyOf = (n: number): Buffer[] | number => {
      if (!keeping) return n;
      const kept: Buffer[] = [];
      for (let left = n, i = 0; left > 0; left -= kept.at(-1)!.length, i++) kept.push(parts[i]!.subarray(0, left));
      return kept;
    };
    const reset = this.faults.resetEveryBytes;
    const body = req[Symbol.asyncIterator]();
    for (;;) {
      let next: IteratorResult<unknown>;
      try {
        next = await body.next();
      } catch {
        // the client went away mid-chunk (killed): what arrived whole in 256 KiB units is kept
        const keep = Math.floor(got / UNIT) * UNIT;
        if (keep) this.store(b, bodyOf(keep), from);
        return;
      }
      if (next.done) break;
      const piece = next.value as Buffer;
      if (keeping) parts.push(piece);
      got += piece.length;
      await this.paceRead(piece.length);
      this.sinceReset += piece.length;
      if (reset && this.sinceReset >= reset) {
        this.sinceReset = 0;
        const keep = Math.floor(got / UNIT) * UNIT;
        if (keep && keep < length) this.store(b, bodyOf(keep), from);
        res.socket?.destroy();
        this.log.push({ method: "PUT", url: "reset", status: 0 });
        return;
      }
    }
    if (got !== length) {
      this.violations.push(`Content-Range says ${length} bytes, the body has ${got}`);
      return send(400, { error: "length mismatch" });
    }
    if (this.faults.chunkDelayMs) await new Promise((r) => setTimeout(r, this.faults.chunkDelayMs));
    this.store(b, bodyOf(Math.min(got, this.faults.keepAtMost ?? got)), from);
    if (this.faults.expireAtBytes !== undefined && b.stored >= this.faults.expireAtBytes && !this.expired.size) {
      this.expired.add(b.id);
      b.sessionGone = true;
      return send(410, { error: "session expired" });
    }
    if (b.stored === total) {
      b.status = "processing";
      const wrong = this.faults.corruptAt;
      if (wrong !== undefined && wrong < total && this.options.retain !== false) {
        const all = Buffer.concat(b.chunks);
        all[wrong]! ^= 0x01;
        b.chunks = [all];
      }
      return send(201, { name: b.filename, size: total, ...this.digests(b) });
    }
    send(308, undefined, progress());
  }

  /** The object resource's digests of what a batch stores, as faults.objectDigests asks. */
  private digests(b: ServerBatch): Record<string, string> {
    const how = this.faults.objectDigests;
    if (!how || this.options.retain === false) return {};
    if (how === "malformed") return { md5Hash: "not base64!", crc32c: "AAAAAAAA" }; // (crc32c: 6 bytes, not 4)
    // (worked out once for what the batch holds: a status query asks again, and a corrupted batch holds new chunks)
    let made = this.digestsMade.get(b.chunks);
    if (made?.stored !== b.stored) {
      const md5 = createHash("md5");
      let c = 0;
      for (const piece of b.chunks) {
        md5.update(piece);
        c = referenceCrc32c(piece, c);
      }
      const crc = Buffer.alloc(4);
      crc.writeUInt32BE(c);
      made = { stored: b.stored, md5Hash: md5.digest("base64"), crc32c: crc.toString("base64") };
      this.digestsMade.set(b.chunks, made);
    }
    const { md5Hash, crc32c } = made;
    return how === "both" ? { md5Hash, crc32c } : how === "md5" ? { md5Hash } : { crc32c };
  }

  /**
   * Keeps bytes [from, from + data.length) by offset, as the cloud storage does: bytes the session holds
   * already are not kept twice. (A killed client's request may still be read to its end here while the
   * restarted client asks where the session stands and sends the next chunk: the later one overlaps.)
   */
  /** Keeps a chunk's bytes past what the session holds (`retain: false`: only their count, `data` a number). */
  private store(b: ServerBatch, data: Buffer[] | number, from: number): void {
    if (from > b.stored) {
      this.violations.push(`bytes from ${from} kept while the session holds ${b.stored}: a gap`);
      return;
    }
    const size = typeof data === "number" ? data : data.reduce((n, piece) => n + piece.length, 0);
    let skip = Math.min(size, b.stored - from);
    b.stored += size - skip;
    if (typeof data === "number") return;
    for (const piece of data) {
      if (skip < piece.length) b.chunks.push(piece.subarray(skip));
      skip = Math.max(0, skip - piece.length);
    }
  }
}

/** An error page of `bytes` bytes, written as fast as the client reads it (it may stop reading). */
function flood(res: ServerResponse, bytes: number): void {
  const piece = Buffer.alloc(65_536, "<p>error</p>");
  let sent = 0;
  res.on("error", () => undefined);
  const more = (): void => {
    while (sent < bytes && !res.destroyed) {
      sent += piece.length;
      if (!res.write(piece)) return void res.once("drain", more);
    }
    res.end();
  };
  more();
}

async function drain(req: IncomingMessage): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of req) parts.push(c as Buffer);
  return Buffer.concat(parts);
}

/**
 * CRC-32C, a byte at a time from a table of the bit-by-bit rule: not the client's code, a second opinion.
 * `previous`: the CRC of the bytes before these (0 for none).
 */
export function referenceCrc32c(data: Uint8Array, previous = 0): number {
  let c = (previous ^ 0xffffffff) >>> 0;
  for (let i = 0; i < data.length; i++) c = CRC32C_TABLE[(c ^ data[i]!) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

/** Each byte's eight bit steps of the reflected polynomial 0x82f63b78, done once (a byte at a time: ~30x faster). */
const CRC32C_TABLE = Uint32Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1;
  return c >>> 0;
});
