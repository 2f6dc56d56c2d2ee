// The sender against a hostile batch server (SPEC §12): per request the server picks a status code, a
// Range, a Retry-After, a delay, a huge or garbage body, a dropped connection (before its answer or halfway through it), claims completion
// without the bytes, or answers a batch POST/GET/DELETE with success and a lie (no fields, the canary in them, a
// live batch said failed, a DELETE that deletes nothing). Whatever it does, the run ends within bounds, nothing is recorded "uploaded" that the
// server does not hold byte for byte, no archive is accepted twice, no request follows an abort, no
// Content-Range is invalid, and a planted secret never shows.
import { createHash, randomUUID } from "node:crypto";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import path from "node:path";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { stateDir } from "../../src/commit/paths.js";
import { readUploads, uploadsPath } from "../../src/commit/uploads.js";
import { WopackError } from "../../src/core/errors.js";
import type { UploadOutcome } from "../../src/core/types.js";
import { CHUNK_UNIT, httpApi } from "../../src/upload/protocol.js";
import { uploadArchive } from "../../src/upload/uploadArchive.js";
import { tempDir } from "../helpers.js";

const CANARY = "CaNaRy0sekret9";
const KEY = `wk_${CANARY}`;

type Answer =
  | { kind: "honest" }
  | { kind: "status"; status: number; retryAfter: string | undefined; body: "none" | "json" | "garbage" | "huge"; store: boolean }
  | { kind: "308"; range: "absent" | "valid" | "stale" | "all" | "past" | "malformed"; store: boolean }
  | { kind: "drop"; store: boolean }
  | { kind: "delay"; ms: number }
  | { kind: "hang" }
  /** an honest answer whose body is cut off (the connection dropped) or never finished (it hangs) */
  | { kind: "torn"; end: "drop" | "hang" }
  /**
   * a batch API call (POST, GET, DELETE) answered with success and a lie or nonsense in its body: no
   * batch_id or upload_url, fields carrying the canary, a JSON array, a batch said failed (or a status
   * 10 KB long) while the platform keeps it, a DELETE said done that deletes nothing. Other requests: honest.
   */
  | { kind: "api"; lie: "no-fields" | "canary-fields" | "array" | "failed-status" | "long-status" | "delete-keeps" };

const statusAnswer = (statuses: number[]) =>
  fc.record({
    kind: fc.constant("status" as const),
    status: fc.constantFrom(...statuses),
    retryAfter: fc.constantFrom(undefined, "-1", "1.5", "0", "3600", "past", "future", "garbage"),
    body: fc.constantFrom("none" as const, "json" as const, "garbage" as const, "huge" as const),
    store: fc.boolean(),
  });
const rangeAnswer = fc.record({
  kind: fc.constant("308" as const),
  range: fc.constantFrom(
    "absent" as const,
    "valid" as const,
    "stale" as const,
    "all" as const,
    "past" as const,
    "malformed" as const,
  ),
  store: fc.boolean(),
});
const honest = fc.constant({ kind: "honest" as const });
const torn = fc.record({ kind: fc.constant("torn" as const), end: fc.constantFrom("drop" as const, "hang" as const) });
const apiLie = fc.record({
  kind: fc.constant("api" as const),
  lie: fc.constantFrom(
    "no-fields" as const,
    "canary-fields" as const,
    "array" as const,
    "failed-status" as const,
    "long-status" as const,
    "delete-keeps" as const,
  ),
});

/** Each class of misbehaviour alone (HOSTILE_CLASS=loops|storm|complete|dropped|abort), or all of them mixed. */
const CLASSES: Record<string, fc.Arbitrary<Answer>> = {
  loops: fc.oneof({ weight: 1, arbitrary: honest }, { weight: 3, arbitrary: rangeAnswer }),
  storm: fc.oneof({ weight: 1, arbitrary: honest }, { weight: 3, arbitrary: statusAnswer([408, 429, 500, 503]) }),
  complete: fc.oneof({ weight: 2, arbitrary: honest }, { weight: 1, arbitrary: statusAnswer([200, 201, 204]) }),
  refusals: fc.oneof({ weight: 2, arbitrary: honest }, { weight: 1, arbitrary: statusAnswer([400, 401, 404, 405, 410]) }),
  dropped: fc.oneof(
    { weight: 2, arbitrary: honest },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant("drop" as const), store: fc.boolean() }) },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant("delay" as const), ms: fc.integer({ min: 1, max: 60 }) }) },
    { weight: 1, arbitrary: fc.constant({ kind: "hang" as const }) },
    { weight: 2, arbitrary: torn },
  ),
  abort: honest,
  // (with sessions gone now and then: only then is a batch's status asked, and the batch deleted)
  api: fc.oneof(
    { weight: 2, arbitrary: honest },
    { weight: 2, arbitrary: apiLie },
    { weight: 1, arbitrary: statusAnswer([404, 410]) },
  ),
};
const CLASS = process.env.HOSTILE_CLASS;
const answer: fc.Arbitrary<Answer> = CLASS
  ? CLASSES[CLASS]!
  : fc.oneof(
      { weight: 8, arbitrary: honest },
      { weight: 5, arbitrary: statusAnswer([200, 201, 204, 400, 401, 404, 405, 408, 410, 429, 500, 503]) },
      { weight: 4, arbitrary: rangeAnswer },
      { weight: 1, arbitrary: fc.record({ kind: fc.constant("drop" as const), store: fc.boolean() }) },
      { weight: 1, arbitrary: fc.record({ kind: fc.constant("delay" as const), ms: fc.integer({ min: 1, max: 60 }) }) },
      { weight: 1, arbitrary: fc.constant({ kind: "hang" as const }) },
      { weight: 1, arbitrary: torn },
      { weight: 2, arbitrary: apiLie },
    );

interface HostileBatch {
  id: string;
  session: string;
  stored: Buffer[];
  size: number;
  complete: boolean;
  deleted: boolean;
  /** said complete without holding every byte */
  lied?: boolean;
  /** a PUT of the archive's last byte arrived (wopack sent it, after its SHA-256 check) */
  lastByteSent?: boolean;
}

/** A batch server that answers each request as the script says, then honestly once the script is done. */
class HostileServer {
  readonly batches: HostileBatch[] = [];
  readonly violations: string[] = [];
  requests = 0;
  afterAbort = 0;
  private server!: Server;
  base = "";

  constructor(
    private readonly script: Answer[],
    /** once the script is done, its last answer again and again (a server that never recovers) */
    private readonly persist: boolean,
    private readonly abortAt: number | undefined,
    private readonly controller: AbortController,
  ) {}

  async start(): Promise<this> {
    this.server = createServer((req, res) => void this.handle(req, res).catch(() => res.socket?.destroy()));
    await new Promise<void>((resolve) => this.server.listen(0, "127.0.0.1", resolve));
    this.base = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/v0.2`;
    return this;
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const n = this.requests++;
    if (this.controller.signal.aborted) this.afterAbort++;
    const body = await read(req);
    const url = new URL(req.url ?? "/", "http://x");
    if (url.pathname.startsWith("/upload/")) this.checkRange(req, body);
    if (n === this.abortAt) {
      this.controller.abort(); // the run is interrupted while this request is in flight: never answered
      return;
    }
    const a = this.script[n] ?? (this.persist && this.script.length ? this.script.at(-1)! : { kind: "honest" });
    const echo = `you sent ${req.headers.authorization ?? ""} to ${req.url}; ${CANARY}`;
    const session = /^\/upload\/([^/]+)$/.exec(url.pathname);
    const b = session ? this.batches.find((x) => x.session === session[1]) : undefined;
    const put = /^bytes \d+-(\d+)\/(\d+)$/.exec(req.headers["content-range"] ?? "");
    if (b && put && Number(put[1]) === Number(put[2]) - 1) b.lastByteSent = true;
    if (a.kind === "hang") return; // no answer: the client's deadline ends it
    if (a.kind === "delay") await new Promise((r) => setTimeout(r, a.ms));
    if (a.kind === "drop") {
      if (a.store && b) this.store(b, req, body);
      res.socket?.destroy();
      return;
    }
    if (a.kind === "308") {
      if (!b) return this.honest(req, res, url, body);
      if (a.store) this.store(b, req, body);
      const total = this.total(req);
      const range = {
        absent: undefined,
        valid: b.size > 0 ? `bytes=0-${b.size - 1}` : undefined,
        stale: b.size > CHUNK_UNIT ? `bytes=0-${b.size - CHUNK_UNIT - 1}` : "bytes=0-0",
        all: `bytes=0-${total - 1}`,
        past: `bytes=0-${total + 5 * CHUNK_UNIT}`,
        malformed: `bytes=${CANARY}`,
      }[a.range];
      res.writeHead(308, { ...(range ? { range } : {}), "x-echo": echo });
      return void res.end();
    }
    if (a.kind === "api") return this.lie(req, res, url, body, a.lie);
    if (a.kind === "status") {
      const ok = a.status >= 200 && a.status < 300;
      if (!b && ok && a.body !== "huge") return this.honest(req, res, url, body); // a success does what it says
      if (b && (a.store || ok)) this.store(b, req, body); // (a success keeps the chunk it answers)
      if (b && ok && !b.complete) Object.assign(b, { complete: true, lied: true }); // "complete", without every byte
      const headers: Record<string, string> = { "x-echo": echo };
      const after = a.retryAfter && retryAfterText(a.retryAfter);
      if (after) headers["retry-after"] = after;
      res.writeHead(a.status, headers);
      if (a.body === "huge") return this.flood(res, `{"detail":"${echo}`);
      if (a.body === "json") return void res.end(JSON.stringify({ detail: echo }));
      if (a.body === "garbage") return void res.end(`<html>${echo}\u0000\u00ff</html>`);
      return void res.end();
    }
    return this.honest(req, res, url, body, a.kind === "torn" ? a.end : undefined);
  }

  /** A batch API call answered with success and a lie (see Answer "api"); anything else honestly. */
  private lie(req: IncomingMessage, res: ServerResponse, url: URL, body: Buffer, lie: Extract<Answer, { kind: "api" }>["lie"]) {
    const api = /^\/v0\.2\/batches\/?(?:([^/]+)\/?)?$/.exec(url.pathname);
    const b = api?.[1] ? this.batches.find((x) => x.id === api[1] && !x.deleted) : undefined;
    const json = (status: number, value?: unknown) => {
      res.writeHead(status, value === undefined ? {} : { "content-type": "application/json" });
      res.end(value === undefined ? undefined : JSON.stringify(value));
    };
    if (api && !api[1] && req.method === "POST") {
      if (lie === "no-fields") return json(201, { detail: "created" });
      if (lie === "array") return json(201, [{ batch_id: "b", upload_url: `${this.base}/upload/x` }]);
      if (lie === "canary-fields") return json(201, { batch_id: `id ${CANARY}`, upload_url: `ftp://${CANARY}.example/` });
    }
    if (b && req.method === "GET") {
      if (lie === "failed-status") return json(200, { status: `failed: ${CANARY}` });
      if (lie === "long-status") return json(200, { status: "x".repeat(10_000) });
      if (lie === "canary-fields") return json(200, { status: CANARY });
    }
    if (b && req.method === "DELETE" && lie === "delete-keeps") return json(204);
    return this.honest(req, res, url, body);
  }

  /** Every session PUT's Content-Range is valid, whatever the answers were. */
  private checkRange(req: IncomingMessage, body: Buffer): void {
    const range = req.headers["content-range"] ?? "";
    const query = /^bytes \*\/(\d+)$/.exec(range);
    const chunk = /^bytes (\d+)-(\d+)\/(\d+)$/.exec(range);
    if (query) {
      if (body.length) this.violations.push(`a status query with a body (${range})`);
      return;
    }
    if (!chunk) return void this.violations.push(`no usable Content-Range: ${range}`);
    const [from, to, total] = [Number(chunk[1]), Number(chunk[2]), Number(chunk[3])];
    if (to < from || to >= total) this.violations.push(`an invalid Content-Range: ${range}`);
    if (body.length !== to - from + 1) this.violations.push(`${range} with ${body.length} bytes`);
    if (to !== total - 1 && (to - from + 1) % CHUNK_UNIT) this.violations.push(`${range}: not a multiple of 256 KiB`);
    if (req.headers.authorization) this.violations.push("the key went to the session URL");
  }

  private total(req: IncomingMessage): number {
    return Number(/\/(\d+)$/.exec(req.headers["content-range"] ?? "")?.[1] ?? 0);
  }

  /** Keeps a chunk if it continues what is stored (as a real session does). */
  private store(b: HostileBatch, req: IncomingMessage, body: Buffer): void {
    const chunk = /^bytes (\d+)-(\d+)\/(\d+)$/.exec(req.headers["content-range"] ?? "");
    if (
      !chunk ||
      b.deleted ||
      b.complete ||
      Number(chunk[1]) !== b.size ||
      body.length !== Number(chunk[2]) - Number(chunk[1]) + 1
    )
      return;
    b.stored.push(body);
    b.size += body.length;
    if (b.size === Number(chunk[3])) b.complete = true;
  }

  private flood(res: ServerResponse, head: string): void {
    res.write(head);
    let sent = 0;
    const more = () => {
      while (sent < 64 * 1024 * 1024 && !res.destroyed) {
        sent += 65_536;
        if (!res.write(Buffer.alloc(65_536, 0x41))) return void res.once("drain", more);
      }
      res.end();
    };
    res.on("error", () => undefined);
    more();
  }

  private honest(req: IncomingMessage, res: ServerResponse, url: URL, body: Buffer, tear?: "drop" | "hang") {
    const json = (status: number, value?: unknown) => {
      const text = value === undefined ? "" : JSON.stringify(value);
      if (tear && text) {
        // what the server did stands; its answer is cut off halfway, or never finished
        res.writeHead(status, { "content-type": "application/json", "content-length": String(text.length) });
        res.write(text.slice(0, text.length >> 1));
        if (tear === "drop") setImmediate(() => res.socket?.destroy());
        return;
      }
      res.writeHead(status, value === undefined ? {} : { "content-type": "application/json" });
      res.end(value === undefined ? undefined : text);
    };
    const api = /^\/v0\.2\/batches\/?(?:([^/]+)\/?)?$/.exec(url.pathname);
    if (api) {
      if (req.headers.authorization !== `Token ${KEY}`) return json(401, { detail: "Invalid token." });
      if (!url.search.includes(CANARY)) this.violations.push(`the base URL's query was lost: ${req.url}`);
      if (!api[1] && req.method === "POST") {
        const b: HostileBatch = { id: randomUUID(), session: randomUUID(), stored: [], size: 0, complete: false, deleted: false };
        this.batches.push(b);
        return json(201, { batch_id: b.id, upload_url: `${this.base.replace(/\/v0\.2$/, "")}/upload/${b.session}` });
      }
      const b = this.batches.find((x) => x.id === api[1] && !x.deleted);
      if (!b) return json(404, { detail: "Not found." });
      if (req.method === "GET") return json(200, { status: b.complete ? "processing" : "waiting_upload" });
      if (req.method === "DELETE") {
        if (b.complete) return json(409, { detail: "batch is processing" });
        b.deleted = true;
        return json(204);
      }
      return json(405);
    }
    const session = /^\/upload\/([^/]+)$/.exec(url.pathname);
    const b = session ? this.batches.find((x) => x.session === session[1]) : undefined;
    if (!b || b.deleted) return json(410, { error: "session gone" });
    if (b.complete) return json(200, {});
    const chunk = /^bytes (\d+)-(\d+)\/(\d+)$/.exec(req.headers["content-range"] ?? "");
    if (chunk) {
      if (Number(chunk[1]) !== b.size) return json(400, { error: `starts at ${chunk[1]}, holds ${b.size}` });
      this.store(b, req, body);
      if (b.complete) return json(201, {});
    }
    res.writeHead(308, b.size ? { range: `bytes=0-${b.size - 1}` } : {});
    res.end();
  }
}

function retryAfterText(kind: string): string {
  const now = Date.now();
  if (kind === "past") return new Date(now - 3_600_000).toUTCString();
  if (kind === "future") return new Date(now + 365 * 86_400_000).toUTCString();
  if (kind === "garbage") return `soon ${CANARY}`;
  return kind;
}

async function read(req: IncomingMessage): Promise<Buffer> {
  const parts: Buffer[] = [];
  try {
    for await (const c of req) parts.push(c as Buffer);
  } catch {
    // the client went away
  }
  return Buffer.concat(parts);
}

let work: string;
beforeAll(async () => {
  work = await tempDir("wopack-hostile-");
});
afterAll(() => undefined);

describe("the sender against a hostile batch server", () => {
  it("ends, records 'uploaded' only for bytes the server holds, never twice, never after an abort, never leaks", async () => {
    let run = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.array(answer, { maxLength: 40 }),
        fc.boolean(),
        fc.integer({ min: 4, max: 4 * CHUNK_UNIT + 1000 }),
        CLASS === "abort"
          ? fc.integer({ min: 0, max: 12 })
          : CLASS
            ? fc.constant(undefined)
            : fc.oneof(
                { weight: 3, arbitrary: fc.constant(undefined) },
                { weight: 1, arbitrary: fc.integer({ min: 0, max: 30 }) },
              ),
        async (script, persist, size, abortAt) => {
          const out = path.join(work, `run-${run++}`);
          await mkdir(stateDir(out), { recursive: true });
          const bytes = Buffer.alloc(size);
          for (let i = 0; i < size; i += 4096) bytes.writeUInt32LE((i * 2654435761) >>> 0, Math.min(i, size - 4));
          const file = path.join(out, "batch-1.zip");
          await writeFile(file, bytes);
          const archive = {
            name: "batch-1.zip",
            path: file,
            sha256: createHash("sha256").update(bytes).digest("hex"),
            bytes: size,
          };
          const controller = new AbortController();
          const server = await new HostileServer(script, persist, abortAt, controller).start();
          const logged: string[] = [];
          const log = {
            info: (m: string) => logged.push(m),
            warn: (m: string) => logged.push(m),
            debug: (m: string) => logged.push(m),
          };
          const outcomes: (UploadOutcome | string)[] = [];
          const base = `${server.base}?token=${CANARY}`;
          try {
            // two runs on the same journal: a rerun resumes, and still accepts the archive once at most
            for (let r = 0; r < 2 && !controller.signal.aborted; r++) {
              const journal = await readUploads(out);
              const started = performance.now();
              try {
                outcomes.push(
                  await uploadArchive(archive, journal, {
                    out,
                    api: httpApi(base, KEY, { signal: controller.signal, timeoutMs: 300 }),
                    key: KEY,
                    urls: [base],
                    log,
                    clock: () => new Date(),
                    signal: controller.signal,
                    retries: 3,
                    chunkBytes: CHUNK_UNIT,
                    sleep: () => new Promise((resolve) => setImmediate(resolve)),
                  }),
                );
              } catch (err) {
                // only an interruption or a refused key ends a run with an error; anything else is a bug
                expect(err).toBeInstanceOf(WopackError);
                const kind = (err as WopackError).kind;
                expect(["interrupted", "credentials"]).toContain(kind);
                if (kind === "interrupted") expect(controller.signal.aborted).toBe(true);
                outcomes.push(`${(err as WopackError).code}: ${(err as WopackError).message}`);
                if (kind === "credentials") break;
              }
              expect(performance.now() - started).toBeLessThan(15_000);
            }
          } finally {
            await server.stop();
          }
          if (process.env.HOSTILE_STATS)
            console.log(
              "STAT",
              size,
              script.length,
              abortAt,
              JSON.stringify(
                outcomes.map((o) =>
                  typeof o === "string"
                    ? o.slice(0, 200)
                    : `${o.result} ${o.problem?.code ?? ""} ${o.problem?.message.slice(0, 150) ?? ""}`,
                ),
              ),
            );
          const journalText = await readFile(uploadsPath(out), "utf8").catch(() => "");
          const journal = await readUploads(out);
          const state = journal.archives.get(archive.name);
          // "uploaded" only for a batch that holds the archive byte for byte
          // (unless the server claimed completion after wopack had sent it every byte: no client can tell)
          if (state?.uploaded) {
            const b = server.batches.find((x) => x.id === state.uploaded!.batchId)!;
            expect(b.complete && !b.deleted).toBe(true);
            if (!(b.lied && b.lastByteSent))
              expect(createHash("sha256").update(Buffer.concat(b.stored)).digest("hex")).toBe(archive.sha256);
          }
          for (const o of outcomes) if (typeof o !== "string" && o.result === "uploaded") expect(state?.uploaded).toBeTruthy();
          // never accepted twice: at most one batch the platform keeps complete
          expect(server.batches.filter((b) => b.complete && !b.deleted).length).toBeLessThanOrEqual(1);
          // nothing after the abort
          expect(server.afterAbort).toBe(0);
          if (controller.signal.aborted) expect(journalText).not.toMatch(/"type":"uploaded"/);
          expect(server.violations).toEqual([]);
          const seen = [journalText, ...logged, JSON.stringify(outcomes)].join("\n");
          expect(seen).not.toContain(CANARY);
        },
      ),
      // (a run that does not end within 20 s fails the property: every loop and wait must be bounded)
      { numRuns: 60, seed: Number(process.env.HOSTILE_SEED ?? 20261205), endOnFailure: true, timeout: 20_000 },
    );
  }, 300_000);
});

describe("a server that does not answer", () => {
  it("each try ends at its deadline and the log says so at info, with when the next one goes", async () => {
    for (const [what, script] of [
      ["creating the batch", [{ kind: "hang" }]],
      ["a chunk", [{ kind: "honest" }, { kind: "honest" }, { kind: "hang" }]],
      ["a cut-off answer", [{ kind: "torn", end: "hang" }]],
    ] as [string, Answer[]][]) {
      const out = path.join(work, `silent-${what.replace(/\W/g, "")}`);
      await mkdir(stateDir(out), { recursive: true });
      const bytes = Buffer.alloc(CHUNK_UNIT + 10, 7);
      const file = path.join(out, "batch-1.zip");
      await writeFile(file, bytes);
      const archive = {
        name: "batch-1.zip",
        path: file,
        sha256: createHash("sha256").update(bytes).digest("hex"),
        bytes: bytes.length,
      };
      const controller = new AbortController();
      const server = await new HostileServer(script, false, undefined, controller).start();
      const info: string[] = [];
      const log = { info: (m: string) => info.push(m), warn: (m: string) => info.push(m), debug: () => undefined };
      try {
        const base = `${server.base}?token=${CANARY}`;
        const outcome = await uploadArchive(archive, await readUploads(out), {
          out,
          api: httpApi(base, KEY, { signal: controller.signal, timeoutMs: 200 }),
          key: KEY,
          urls: [base],
          log,
          clock: () => new Date(),
          signal: controller.signal,
          sleep: () => new Promise((resolve) => setImmediate(resolve)),
        });
        expect(outcome.result, what).toBe("uploaded");
      } finally {
        await server.stop();
      }
      expect(
        info.some((m) => /batch-1\.zip: .*(no answer within|did not end within) \d+ s.*; trying again in \d/.test(m)),
        `${what}: ${info.join(" | ")}`,
      ).toBe(true);
    }
  });
});
