// The upload's pure parts and its journal: retry timing, the protocol's small rules, compaction.
import { spawnSync } from "node:child_process";
import { mkdir, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { hostname } from "node:os";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { stateDir, tmpDir } from "../../src/commit/paths.js";
import { appendUploads, compactUploads, readUploads, type UploadRecord, uploadsPath } from "../../src/commit/uploads.js";
import { parseConfig } from "../../src/config/load.js";
import { interruptedError, type WopackError } from "../../src/core/errors.js";
import { redact, redactor, secretsOf } from "../../src/core/redact.js";
import { status } from "../../src/run/status.js";
import type { Api } from "../../src/upload/protocol.js";
import { batchesUrl, httpApi, JSON_BODY_BYTES, retryAfter, retryAfterMs, statusLooksFailed } from "../../src/upload/protocol.js";
import { backoffMs } from "../../src/upload/requests.js";
import { tempDir, waitFor } from "../helpers.js";

describe("the protocol's small rules", () => {
  it("batch URLs, with or without a trailing slash on the base", () => {
    expect(batchesUrl("https://api.x/v0.2")).toBe("https://api.x/v0.2/batches/");
    expect(batchesUrl("https://api.x/v0.2/", "a b")).toBe("https://api.x/v0.2/batches/a%20b/");
    expect(batchesUrl("https://api.x/v0.2/?token=t", "7")).toBe("https://api.x/v0.2/batches/7/?token=t");
  });

  it("Retry-After in whole seconds or as an HTTP date, clamped to 1 s..1 h; nonsense never means 'at once'", () => {
    const now = Date.parse("2026-12-02T10:00:00Z");
    expect(retryAfterMs("7", now)).toBe(7000);
    expect(retryAfterMs("Wed, 02 Dec 2026 10:00:30 GMT", now)).toBe(30_000);
    expect(retryAfterMs(null, now)).toBeUndefined();
    const table: [string, number][] = [
      ["soon", 1000],
      ["-1", 1000],
      ["1.5", 1000],
      ["0", 1000],
      ["3600", 3_600_000],
      ["3601", 3_600_000],
      ["99999999999", 3_600_000],
      ["Wed, 02 Dec 2026 09:00:00 GMT", 1000], // past
      ["Thu, 01 Jan 2099 00:00:00 GMT", 3_600_000], // far future
      ["", 1000],
      ["-1 GMT", 1000],
    ];
    for (const [header, ms] of table) expect(retryAfterMs(header, now), header).toBe(ms);
    expect(retryAfter("-1", now)?.note).toMatch(/1 s/);
    expect(retryAfter("3601", now)?.note).toMatch(/1 h/);
    expect(retryAfter("30", now)?.note).toBeUndefined();
    // the three forms of an HTTP date a client must accept, and whole seconds of any length (generated)
    const DAYS = ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"];
    const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
    const two = (n: number) => String(n).padStart(2, "0");
    const forms = (d: Date) => {
      const time = `${two(d.getUTCHours())}:${two(d.getUTCMinutes())}:${two(d.getUTCSeconds())}`;
      const [day, mon] = [DAYS[d.getUTCDay()]!, MONTHS[d.getUTCMonth()]!];
      return [
        d.toUTCString(),
        `${day}, ${two(d.getUTCDate())}-${mon}-${two(d.getUTCFullYear() % 100)} ${time} GMT`,
        `${day.slice(0, 3)} ${mon} ${String(d.getUTCDate()).padStart(2, " ")} ${time} ${d.getUTCFullYear()}`,
      ];
    };
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 3600 }), (s) => {
        for (const form of forms(new Date(now + s * 1000))) expect(retryAfterMs(form, now), form).toBe(s * 1000);
      }),
    );
    fc.assert(
      fc.property(fc.stringMatching(/^[0-9]{1,40}$/), (digits) => {
        expect(retryAfterMs(digits, now), digits).toBe(Math.min(Math.max(Number(digits), 1), 3600) * 1000);
      }),
    );
    // any header at all: a wait within the clamp, never NaN
    fc.assert(
      fc.property(fc.string(), (h) => {
        const ms = retryAfterMs(h, now)!;
        return ms >= 1000 && ms <= 3_600_000;
      }),
    );
  });

  it("an answer's body is read up to 64 KiB and no further: an endless one closes the connection", async () => {
    let written = 0;
    let closed!: () => void;
    const gone = new Promise<void>((resolve) => {
      closed = resolve;
    });
    const server = createServer((_req, res) => {
      res.writeHead(400, { "content-type": "text/plain" });
      const piece = Buffer.alloc(16_384, 65);
      const pump = () => {
        while (!res.destroyed && res.write(piece)) written += piece.length;
      };
      res.on("drain", pump);
      res.on("close", closed);
      pump();
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    try {
      const { port } = server.address() as AddressInfo;
      const r = await httpApi(`http://127.0.0.1:${port}/v0.2`, "k", { timeoutMs: 10_000 }).createBatch("a");
      expect(r.ok).toBe(false);
      expect(!r.ok && r.kind).toBe("fail");
      expect(!r.ok && r.detail).toMatch(/^HTTP 400: A{490,} …$/);
      await gone; // the client closed it: the server's writes stop (what the kernel buffers, at most)
      expect(written).toBeLessThan(64 * 1024 * 1024);
    } finally {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
  });

  it("a JSON answer of up to 64 KiB is read, one byte more is refused as too large", async () => {
    let pad = 0;
    const server = createServer((_req, res) => {
      const head = '{"batch_id":"b1","upload_url":"http://127.0.0.1:1/u","pad":"';
      res.writeHead(201, { "content-type": "application/json" });
      res.end(`${head}${"x".repeat(pad - head.length - 2)}"}`);
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    try {
      const { port } = server.address() as AddressInfo;
      const api = httpApi(`http://127.0.0.1:${port}/v0.2`, "k", { timeoutMs: 10_000 });
      for (const [size, accepted] of [
        [200, true],
        [JSON_BODY_BYTES - 1, true],
        [JSON_BODY_BYTES, true],
        [JSON_BODY_BYTES + 1, false],
        [4 * JSON_BODY_BYTES, false],
      ] as const) {
        pad = size;
        const r = await api.createBatch("a");
        expect(r.ok, `${size} bytes`).toBe(accepted);
        if (!r.ok) expect(r.detail).toMatch(/answer over 64 KiB/);
      }
    } finally {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
  });
});

describe("redaction", () => {
  const CANARY = "cAnAry5ecret";
  it("the key, URL userinfo and query tokens are replaced, wherever they are in a text", () => {
    const r = redactor(`wk_${CANARY}`, `https://bob:${CANARY}@api.x/v0.2?token=${CANARY}`);
    for (const text of [
      `refused wk_${CANARY} here`,
      `fetch failed: https://bob:${CANARY}@api.x/v0.2/batches/`,
      `GET https://api.x/v0.2/batches/?token=${CANARY}&x=1`,
      `{"detail":"bad","echo":"${encodeURIComponent(CANARY)}"}`,
    ])
      expect(r(text)).not.toContain(CANARY);
    // unknown secrets in URLs are caught by their shape
    expect(redact("see https://u:p4ssw0rd@h/x?access_token=abc123&sig=zzz9&page=2")).toBe(
      "see https://[redacted]@h/x?access_token=[redacted]&sig=[redacted]&page=2",
    );
    expect(secretsOf(`https://api.x/?key=${CANARY}&page=3`)).toEqual([CANARY]);
  });

  it("an upload session's bearer upload_id is caught by its shape, in any session URL (issue 21, finding 6)", () => {
    fc.assert(
      fc.property(
        fc.constantFrom("upload_id", "uploadId", "UPLOAD_ID"),
        fc.constantFrom("?", "?uploadType=resumable&", "?name=a.zip&uploadType=resumable&"),
        fc.constantFrom("", "&x=1", "#frag", '"}', " then"),
        fc.string(),
        (name, head, tail, before) => {
          const url = `https://storage.x/upload/b/o${head}${name}=${CANARY}`;
          return !redact(before + url + tail).includes(CANARY) && secretsOf(`${url}&x=1`).includes(CANARY);
        },
      ),
      // (a URL as another parameter's value: "&0=" before it once took the whole URL as its value, unredacted)
      { examples: [["upload_id", "?", "", "&0="]] },
    );
  });

  it("a planted secret never survives, whatever surrounds it (generated)", () => {
    fc.assert(
      fc.property(
        fc.string(),
        fc.string(),
        fc.constantFrom("key", "url-user", "url-password", "query"),
        (before, after, where) => {
          const url =
            where === "url-user"
              ? `https://${CANARY}:pw@api.x/v0.2`
              : where === "url-password"
                ? `https://u:${CANARY}@api.x/v0.2`
                : where === "query"
                  ? `https://api.x/v0.2?access_token=${CANARY}`
                  : "https://api.x/v0.2";
          const key = where === "key" ? CANARY : "some-other-key";
          return !redactor(key, url)(before + CANARY + after).includes(CANARY);
        },
      ),
    );
  });

  it("statuses that read like failures are failures; anything else is still accepted", () => {
    for (const s of ["error", "FAILED", "upload_failed", "rejected", "cancelled"]) expect(statusLooksFailed(s)).toBe(true);
    for (const s of ["processing", "done", "pending", "unknown", "waiting_upload"]) expect(statusLooksFailed(s)).toBe(false);
  });

  it("backoff grows to a minute at most, with full jitter", () => {
    expect(backoffMs(0, () => 0.999)).toBeLessThan(1000);
    expect(backoffMs(3, () => 1)).toBe(8000);
    expect(backoffMs(30, () => 1)).toBe(60_000);
    expect(backoffMs(5, () => 0)).toBe(0);
  });
});

describe("the upload journal", () => {
  const at = "2026-12-02T10:00:00.000Z";

  it("after compaction it says the same of every archive, and the same bytes are still never sent twice", async () => {
    const out = await tempDir();
    await mkdir(tmpDir(out), { recursive: true });
    const records: UploadRecord[] = [];
    for (let i = 0; i < 300; i++) {
      const archive = `batch-${i}.zip`;
      records.push({ type: "intent", archive, sha256: `sha${i}`, bytes: 1000, at });
      records.push({ type: "batch", archive, batchId: `b${i}`, uploadUrl: `http://s/${i}`, at });
      for (let o = 1; o <= 10; o++) records.push({ type: "offset", archive, batchId: `b${i}`, confirmed: o * 10, at });
      if (i % 3 === 0) records.push({ type: "uploaded", archive, sha256: `sha${i}`, batchId: `b${i}`, at });
      if (i % 3 === 1) records.push({ type: "failed", archive, code: "E_UPLOAD_REFUSED", message: "no", at });
    }
    await appendUploads(out, records);
    const before = await readUploads(out);
    expect(before.records).toBe(records.length);
    await compactUploads(out, before);
    const after = await readUploads(out);
    expect(after.records).toBe(300);
    // the same, but an uploaded archive's session URL (a bearer token in an older journal) is not carried over
    const expected = new Map([...before.archives].map(([k, v]) => [k, v.uploaded ? { ...v, uploadUrl: undefined } : v]));
    expect(after.archives).toEqual(expected);
    expect(after.archives.get("batch-3.zip")?.uploadUrl).toBeUndefined();
    expect(after.archives.get("batch-2.zip")?.uploadUrl, "one still to resume keeps it").toBe("http://s/2");
    expect(await readFile(uploadsPath(out), "utf8")).not.toContain('http://s/3"');
    expect(after.uploadedSha).toEqual(before.uploadedSha);
    expect(after.uploadedSha.get("sha3")).toBe("batch-3.zip");
    expect(after.archives.get("batch-2.zip")).toMatchObject({ batchId: "b2", confirmed: 100 });
  });

  it("'needs attention' is its own state: never uploaded, kept through compaction, cleared only by a new attempt", async () => {
    const out = await tempDir();
    await mkdir(tmpDir(out), { recursive: true });
    const archive = "a.zip";
    await appendUploads(out, [
      { type: "intent", archive, sha256: "s", bytes: 10, at },
      { type: "batch", archive, batchId: "b1", uploadUrl: "http://s/1", at },
      { type: "final", archive, batchId: "b1", at },
    ]);
    expect((await readUploads(out)).archives.get(archive)).toMatchObject({ batchId: "b1", finalSent: true });
    await appendUploads(out, [{ type: "attention", archive, batchId: "b1", reason: "session gone; delete refused", at }]);
    const journal = await readUploads(out);
    const state = journal.archives.get(archive)!;
    expect(state.attention).toMatchObject({ batchId: "b1" });
    expect(state.uploaded).toBeUndefined();
    expect(state.batchId).toBeUndefined(); // that session is never resumed
    expect(state.finalSent).toBeUndefined();
    expect(journal.uploadedSha.size).toBe(0);
    journal.records = 5000;
    await compactUploads(out, journal);
    expect((await readUploads(out)).archives.get(archive)?.attention).toMatchObject({ batchId: "b1" });
    await appendUploads(out, [{ type: "intent", archive, sha256: "s", bytes: 10, at }]);
    expect((await readUploads(out)).archives.get(archive)?.attention).toBeUndefined();
  });

  it("a torn last line (a crash mid-append) is skipped, and the next append starts on a line of its own", async () => {
    const out = await tempDir();
    await mkdir(stateDir(out), { recursive: true });
    await appendUploads(out, [{ type: "intent", archive: "a.zip", sha256: "s", bytes: 1, at }]);
    const { appendFile } = await import("node:fs/promises");
    const { uploadsPath } = await import("../../src/commit/uploads.js");
    await appendFile(uploadsPath(out), '{"type":"batch","archive":"a.zip","batchId":"x","uplo');
    expect((await readUploads(out)).archives.get("a.zip")?.batchId).toBeUndefined();
    await appendUploads(out, [{ type: "batch", archive: "a.zip", batchId: "y", uploadUrl: "u", at }]);
    expect((await readUploads(out)).archives.get("a.zip")?.batchId).toBe("y");
  });

  /** A journal long enough to be compacted: `n` archives uploaded, 200 records each. */
  async function longJournal(n: number): Promise<string> {
    const out = await tempDir();
    await mkdir(tmpDir(out), { recursive: true });
    const records: UploadRecord[] = [];
    for (let i = 0; i < n; i++) {
      const archive = `batch-${i}.zip`;
      records.push({ type: "intent", archive, sha256: `sha${i}`, bytes: 1000, at });
      records.push({ type: "batch", archive, batchId: `b${i}`, uploadUrl: `http://s/${i}`, at });
      for (let o = 1; o <= 197; o++) records.push({ type: "offset", archive, batchId: `b${i}`, confirmed: o, at });
      records.push({ type: "uploaded", archive, sha256: `sha${i}`, batchId: `b${i}`, at });
    }
    await appendUploads(out, records);
    return out;
  }

  const ticks = async (n: number) => {
    for (let i = 0; i < n; i++) await new Promise((resolve) => setImmediate(resolve));
  };

  it("status --refresh beside a watch compacting the journal: no record lost, whatever the interleaving", async () => {
    const config = parseConfig({ upload: { url: "http://127.0.0.1:9/v0.2" } });
    await fc.assert(
      fc.asyncProperty(fc.nat(12), fc.array(fc.nat(4), { minLength: 10, maxLength: 10 }), async (compactAfter, answerAfter) => {
        const out = await longJournal(10);
        // the watch read the journal when it started (Sender.open), then compacts it
        const watchJournal = await readUploads(out);
        let asked = 0;
        const api = {
          batchStatus: async (id: string) => {
            await ticks(answerAfter[asked++ % answerAfter.length]!);
            return { ok: true, value: { status: `done-${id}` } };
          },
        } as unknown as Api;
        const refresh = status(out, { refresh: { config, env: { WOPACK_API_KEY: "k" }, api } });
        const compaction = ticks(compactAfter).then(() => compactUploads(out, watchJournal));
        await Promise.all([refresh, compaction]);
        const after = await readUploads(out);
        for (let i = 0; i < 10; i++)
          expect(after.archives.get(`batch-${i}.zip`)?.status?.status, `batch-${i}.zip`).toBe(`done-b${i}`);
        // the watch's own copy learnt what was carried over
        expect(watchJournal.archives.get("batch-0.zip")?.uploaded).toBeDefined();
        expect(after.records).toBeLessThan(200);
      }),
      { numRuns: 15 },
    );
  });

  it("a writer waits while another process holds the journal's lock, and takes over a dead holder's", async () => {
    const out = await longJournal(1);
    const lock = `${uploadsPath(out)}.lock`;
    const holder = (pid: number) => JSON.stringify({ pid, host: hostname(), startedAt: at, nonce: String(pid) });
    await writeFile(lock, holder(process.ppid)); // alive: the process that started this test
    let done = false;
    const append = appendUploads(out, [{ type: "status", archive: "batch-0.zip", batchId: "b0", status: "seen", at }]).then(
      () => {
        done = true;
      },
    );
    // waiting: its draft of the lock is written, the record is not
    await waitFor(async () => (await readdir(tmpDir(out))).some((f) => f.startsWith("lock.")), "the writer waiting for the lock");
    expect(done).toBe(false);
    expect((await readUploads(out)).archives.get("batch-0.zip")?.status).toBeUndefined();
    await rm(lock);
    await append;
    expect((await readUploads(out)).archives.get("batch-0.zip")?.status?.status).toBe("seen");
    // a holder that died (a pid no process has any more) does not stop the writers
    const gone = spawnSync("true").pid!;
    await writeFile(lock, holder(gone));
    await appendUploads(out, [{ type: "status", archive: "batch-0.zip", batchId: "b0", status: "later", at }]);
    expect((await readUploads(out)).archives.get("batch-0.zip")?.status?.status).toBe("later");
  });

  it("the run's abort signal ends a wait for a live holder at once: E_INTERRUPTED, nothing appended, the holder's lock untouched (table)", async () => {
    const table = [
      { when: "before the call", reason: undefined },
      { when: "while waiting", reason: undefined },
      { when: "while waiting", reason: interruptedError("interrupted by SIGTERM") },
      { when: "while compacting waits", reason: undefined },
    ] as const;
    for (const row of table) {
      const what = `${row.when}, ${row.reason ? "the run's own reason" : "no reason"}`;
      // (10 archives: 2,000 records, the fewest that compaction works on)
      const out = await longJournal(row.when === "while compacting waits" ? 10 : 1);
      const lock = `${uploadsPath(out)}.lock`;
      const holder = JSON.stringify({ pid: process.ppid, host: hostname(), startedAt: at, nonce: "live" }); // alive
      await writeFile(lock, holder);
      const stop = new AbortController();
      if (row.when === "before the call") stop.abort(row.reason);
      const journal = await readUploads(out);
      const records = journal.records;
      const writing =
        row.when === "while compacting waits"
          ? compactUploads(out, journal, stop.signal)
          : appendUploads(
              out,
              [{ type: "status", archive: "batch-0.zip", batchId: "b0", status: "seen", at }],
              journal,
              stop.signal,
            );
      const settled = writing.then(
        () => undefined,
        (err: unknown) => err,
      );
      if (!stop.signal.aborted) {
        await waitFor(async () => (await readdir(tmpDir(out))).some((f) => f.startsWith("lock.")), `${what}: the writer waiting`);
        stop.abort(row.reason);
      }
      // (without the signal this wait lasts 30 s: the test's own timeout would end it first)
      const err = (await settled) as WopackError | undefined;
      expect(err?.code, what).toBe("E_INTERRUPTED");
      if (row.reason) expect(err, what).toBe(row.reason);
      expect((await readUploads(out)).records, what).toBe(records);
      expect(await readFile(lock, "utf8"), what).toBe(holder);
      expect(
        (await readdir(tmpDir(out))).filter((f) => f.startsWith("lock.")),
        `${what}: drafts left`,
      ).toEqual([]);
    }
    // a free lock is still taken after an abort: a record whose step happened is not lost
    const out = await longJournal(1);
    const stop = new AbortController();
    stop.abort();
    await appendUploads(
      out,
      [{ type: "status", archive: "batch-0.zip", batchId: "b0", status: "kept", at }],
      undefined,
      stop.signal,
    );
    expect((await readUploads(out)).archives.get("batch-0.zip")?.status?.status).toBe("kept");
  }, 20_000);
});
