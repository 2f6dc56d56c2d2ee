// Issue 21: `watch --upload` against the strict stand-in platform (test/upload-server.ts), through the real
// CLI. A failed archive is tried again while watch runs (backoff from upload.retryBackoff, told in the log,
// /state.json and /healthz); a refused key is 503; two senders on one outbox never both send; SIGTERM
// ends it within seconds even while the platform stalls a PUT.
import { writeFile } from "node:fs/promises";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { WatchStatus } from "../../src/core/types.js";
import { healthOf } from "../../src/serve/server.js";
import { archivesIn, noiseJpeg, put, sha256, waitFor, wopack, workspace } from "../helpers.js";
import { UploadServer } from "../upload-server.js";
import { type Event, Watcher } from "../watcher.js";

const KEY = "wk_live_2b7e151628aed2a6abf7";
let server: UploadServer;
let watchers: Watcher[] = [];
beforeEach(async () => {
  server = await new UploadServer(KEY).start();
});
afterEach(async () => {
  for (const w of watchers) if (w.child.exitCode === null && w.child.signalCode === null) w.child.kill("SIGKILL");
  await Promise.all(watchers.map((w) => w.exited));
  watchers = [];
  await server.stop();
});

const env = () => ({ WOPACK_API_URL: server.base, WOPACK_API_KEY: KEY });

/** A staging folder with `count` work orders and a config whose upload.retryBackoff is `backoff`. */
async function setup(count: number, backoff: string, upload: Record<string, unknown> = {}) {
  const ws = await workspace();
  for (let i = 0; i < count; i++) await put(ws.staging, `WO_${i}/meter/a.jpg`, noiseJpeg(300, 200, i + 1));
  const config = path.join(ws.dir, "wopack.config.json");
  await writeFile(config, JSON.stringify({ upload: { retryBackoff: backoff, ...upload } }));
  return { ...ws, config };
}

function start(ws: Awaited<ReturnType<typeof setup>>, extra: string[] = []): Watcher {
  const w = new Watcher(
    [ws.staging, "--out", ws.out, "--config", ws.config, "--settle", "200ms", "--upload", "--http", "127.0.0.1:0", ...extra],
    env(),
  );
  watchers.push(w);
  return w;
}

async function baseOf(w: Watcher): Promise<string> {
  await w.until("started", (x) => x.events.some((e) => e.event === "started"));
  return String((w.events.find((e) => e.event === "started") as Event & { url: string }).url);
}

const state = async (base: string) => (await (await fetch(`${base}/state.json`)).json()) as WatchStatus;
const healthz = async (base: string) => {
  const r = await fetch(`${base}/healthz`);
  return { status: r.status, body: (await r.json()) as { status: string; reason: string } };
};

/** Every archive in `out` was accepted by the platform exactly once, byte for byte. */
async function expectEachAcceptedOnce(out: string) {
  const zips = await archivesIn(out);
  const accepted = server.accepted();
  expect([...accepted.keys()].sort()).toEqual(zips.map((z) => path.basename(z, ".zip")).sort());
  for (const zip of zips) {
    const batches = accepted.get(path.basename(zip, ".zip"))!;
    expect(batches).toHaveLength(1);
    expect(server.received(batches[0]!.id).sha256).toBe(sha256(await import("node:fs").then((fs) => fs.readFileSync(zip))));
  }
  expect(server.violations).toEqual([]);
}

/** watch's error events (on stderr, as JSON lines with --json) */
const errorEvents = (w: Watcher) =>
  w.stderr
    .split("\n")
    .filter((l) => l.startsWith("{"))
    .map((l) => JSON.parse(l) as Event & { code?: string; attempts?: number; msg?: string })
    .filter((e) => e.event === "error");
const errors = (w: Watcher) => errorEvents(w).map((e) => e.message ?? e.msg);

describe("watch --upload tries a failed archive again while it runs", () => {
  // (the lead's rule: the platform's Retry-After is honoured, capped at the backoff's maximum, and said so)
  it("a 429 with Retry-After: 5, past the time left for the archive, fails it twice; it is tried again after the 5s the platform asked (not the 3s backoff), then the 6s backoff, said in the log, /state.json and /healthz, then sent once", async () => {
    const ws = await setup(1, "3s", { maxElapsed: "2s" });
    server.faults.tooMany = { count: 2, retryAfter: 5 };
    const w = start(ws);
    const base = await baseOf(w);
    await w.until("the first failure", (x) => errors(x).length >= 1);
    expect(errors(w)[0]).toMatch(
      /^batch-.*\.zip: upload failed \(E_UPLOAD_GAVE_UP: .*\); next try in 5s \(the platform asked for this wait: Retry-After\)$/,
    );
    // while it waits: the status says which archive, when, why, and that the platform asked for that time
    const s = await state(base);
    expect(s.uploads?.retrying).toEqual([
      {
        archive: expect.stringMatching(/^batch-.*\.zip$/),
        attempts: 1,
        nextAttemptAt: expect.any(String),
        platformAsked: true,
        lastError: { code: "E_UPLOAD_GAVE_UP", message: expect.any(String) },
      },
    ]);
    const h = await healthz(base);
    expect(h.status).toBe(200);
    expect(h.body.reason).toMatch(
      /uploading: waiting until \d{4}-\d\d-\d\dT.*, as the platform asked \(Retry-After\); waiting to retry batch-.*\.zip at \d{4}-\d\d-\d\dT.* after E_UPLOAD_GAVE_UP, as the platform asked \(Retry-After\)$/,
    );
    await w.until("the second failure", (x) => errors(x).length >= 2);
    expect(errors(w)[1]).toMatch(/upload failed \(E_UPLOAD_GAVE_UP: .*\); next try in 6s$/);
    await w.until("the upload", (x) => x.events.some((e) => e.event === "uploaded"), 30_000);
    await waitFor(async () => (await state(base)).uploads?.retrying.length === 0, "the retry list to empty");
    const after = await state(base);
    expect(after.uploads).toMatchObject({ uploaded: 1, failed: 2, sending: null, retrying: [], stopped: null });
    expect((await healthz(base)).status).toBe(200);
    expect((await w.stop()).code).toBe(0);
    await expectEachAcceptedOnce(ws.out);
  }, 90_000);

  // a failure is a class: whatever fails an archive (a server down past the retries, a throttle past the
  // time allowed), it is tried again (that the archives behind it are not held up: "two senders" below)
  const failures: { name: string; retries?: number; upload?: object; inject: (s: UploadServer) => void; code: RegExp }[] = [
    { name: "503s past upload.retries", retries: 0, inject: (s) => (s.faults.unavailable = 2), code: /^E_PLATFORM_UNAVAILABLE$/ },
    {
      name: "a 429 with Retry-After: 3, past the time left",
      upload: { maxElapsed: "1s" },
      inject: (s) => (s.faults.tooMany = { count: 1, retryAfter: 3 }),
      code: /^E_UPLOAD_GAVE_UP$/,
    },
  ];
  for (const f of failures) {
    it(`${f.name}: an archive fails, is tried again and goes once; the other goes once`, async () => {
      const ws = await setup(2, "1s", { ...(f.retries === undefined ? {} : { retries: f.retries }), ...f.upload });
      f.inject(server);
      const w = start(ws, ["--max-work-orders", "1"]);
      const base = await baseOf(w);
      await w.until("both uploaded", (x) => x.events.filter((e) => e.event === "uploaded").length === 2, 45_000);
      const failed = errorEvents(w);
      expect(failed.length).toBeGreaterThanOrEqual(1);
      expect(failed[0]!.code).toMatch(f.code);
      expect(errors(w)[0]).toMatch(
        /: upload failed \(.*\); next try in ([12]s|3s \(the platform asked for this wait: Retry-After\))$/,
      );
      expect((await state(base)).uploads).toMatchObject({ uploaded: 2, retrying: [], stopped: null });
      expect((await w.stop()).code).toBe(0);
      await expectEachAcceptedOnce(ws.out);
    }, 90_000);
  }
});

describe("/healthz with --upload: 200 while the platform is waited out, 503 for what needs a person or a restart", () => {
  it("a refused key: sending stops, /healthz is 503 naming it, /state.json says so, the key is in neither", async () => {
    const ws = await setup(1, "1s");
    server.faults.refuseKey = true;
    const w = start(ws);
    const base = await baseOf(w);
    await w.until("the refusal", (x) => errorEvents(x).some((e) => e.code === "E_UPLOAD_CREDENTIALS"));
    await waitFor(async () => (await healthz(base)).status === 503, "/healthz to say 503");
    const h = await healthz(base);
    expect(h.body).toEqual({ status: "unhealthy", reason: expect.stringMatching(/^uploads stopped: E_UPLOAD_CREDENTIALS: /) });
    const s = await state(base);
    expect(s.uploads?.stopped).toMatchObject({ code: "E_UPLOAD_CREDENTIALS" });
    expect(s.uploads?.retrying).toEqual([]);
    for (const text of [JSON.stringify(h.body), JSON.stringify(s), w.stderr, JSON.stringify(w.events)])
      expect(text).not.toContain(KEY);
    expect(server.log.filter((l) => l.status === 401)).toHaveLength(1); // nothing more was tried
    expect((await w.stop()).code).toBe(0);
  }, 60_000);

  const now = Date.parse("2026-12-05T12:00:00Z");
  const at = (ms: number) => new Date(now + ms).toISOString();
  const base = { staging: "/s", status: "idle", lastScanAt: at(-10_000), lastError: null } as unknown as WatchStatus;
  const uploads = (over: Partial<NonNullable<WatchStatus["uploads"]>>): WatchStatus => ({
    ...base,
    uploads: { uploaded: 0, failed: 0, queued: 0, sending: null, retrying: [], stopped: null, attention: [], ...over },
  });
  const retry = (archive: string, inMs: number) => ({
    archive,
    attempts: 2,
    nextAttemptAt: at(inMs),
    platformAsked: false,
    lastError: { code: "E_UPLOAD_GAVE_UP", message: "429" },
  });
  const cases: [string, WatchStatus, number, RegExp][] = [
    ["nothing to send", uploads({}), 200, /^idle$/],
    [
      "waiting to retry",
      uploads({ retrying: [retry("b.zip", 3_600_000), retry("a.zip", 60_000)] }),
      200,
      /^idle; uploading: waiting to retry a\.zip at 2026-12-05T12:01:00\.000Z \(and 1 more\) after E_UPLOAD_GAVE_UP$/,
    ],
    [
      "sending, bytes confirmed a minute ago",
      uploads({ sending: { archive: "a.zip", since: at(-3_600_000), lastProgressAt: at(-60_000) } }),
      200,
      /uploading a\.zip$/,
    ],
    [
      "status uploading: the archive named once",
      { ...uploads({ sending: { archive: "a.zip", since: at(-60_000), lastProgressAt: at(-1_000) } }), status: "uploading" },
      200,
      /^uploading a\.zip$/,
    ],
    [
      "sending, no byte confirmed for 40 min",
      uploads({ sending: { archive: "a.zip", since: at(-3_600_000), lastProgressAt: at(-2_400_000) } }),
      503,
      /^uploading a\.zip: no byte confirmed for 2400 s$/,
    ],
    [
      "a refused key",
      uploads({ stopped: { at: at(0), code: "E_UPLOAD_CREDENTIALS", message: "refused" } }),
      503,
      /^uploads stopped: E_UPLOAD_CREDENTIALS: refused$/,
    ],
    [
      "stopping, whatever the uploads",
      { ...uploads({ retrying: [retry("a.zip", 1000)] }), status: "stopping" },
      503,
      /^watch is stopping$/,
    ],
    [
      "staging gone, whatever the uploads",
      { ...uploads({ retrying: [retry("a.zip", 1000)] }), staging: "/gone" },
      503,
      /not reachable/,
    ],
  ];
  for (const [name, status, code, reason] of cases) {
    it(`healthOf: ${name} → ${code}`, () => {
      const h = healthOf(status, status.staging === "/s", now, 180_000, 35 * 60_000);
      expect(h.ok ? 200 : 503).toBe(code);
      expect(h.reason).toMatch(reason);
    });
  }
});

describe("two senders on one outbox never both send", () => {
  it("wopack upload beside a running watch --upload (its queue waiting an hour, as the platform asked) exits 4 and sends nothing; after watch stops it sends what is left, once", async () => {
    const ws = await setup(2, "1h");
    server.faults.tooMany = { count: 1, retryAfter: 3600 }; // the first archive waits an hour for its next try
    const w = start(ws, ["--max-work-orders", "1"]);
    const base = await baseOf(w);
    // the platform asked for an hour: the whole queue waits, the other archive too (packed, not sent)
    await w.until("one waiting", (x) => errors(x).length === 1, 45_000);
    await waitFor(async () => (await archivesIn(ws.out)).length === 2, "both archives packed");
    const waiting = (await state(base)).uploads!.retrying;
    expect(waiting).toHaveLength(1);
    const pausedUntil = (await state(base)).uploads!.pausedUntil!;
    expect(pausedUntil).toEqual(expect.any(String));
    // /metrics says the same pause, as a Unix time
    const metrics = await (await fetch(`${base}/metrics`)).text();
    expect(Number(/^wopack_upload_paused_until_seconds (\S+)$/m.exec(metrics)?.[1])).toBe(Date.parse(pausedUntil) / 1000);
    expect(w.events.some((e) => e.event === "uploaded")).toBe(false);
    const requests = server.log.length;
    const beside = await wopack(["upload", ws.out], { env: env() });
    expect(beside.code, beside.stderr).toBe(4);
    expect(beside.stderr).toMatch(/E_LOCKED|lock/i);
    expect(server.log.length).toBe(requests); // not one request from the second sender
    expect((await w.stop()).code).toBe(0);
    const after = await wopack(["upload", ws.out, "--json"], { env: env() });
    expect(after.code, after.stderr).toBe(0);
    const sent = JSON.parse(after.stdout).uploads as { archive: string; result: string }[];
    expect(sent.map((u) => u.result)).toEqual(["uploaded", "uploaded"]);
    expect(sent.map((u) => u.archive)).toContain(waiting[0]!.archive);
    await expectEachAcceptedOnce(ws.out);
  }, 90_000);
});

describe("SIGTERM while the platform stalls a PUT", () => {
  /** watch --upload with its first chunk PUT held by the server (answered after 10 minutes) */
  async function stalled() {
    const ws = await setup(1, "1s");
    server.faults.chunkDelayMs = 600_000;
    const w = start(ws);
    const base = await baseOf(w);
    await waitFor(() => server.timeline.some((t) => t.what === "chunk"), "a chunk PUT in flight", 45_000);
    return { w, base, ws };
  }

  it("/healthz is never ok once watch is stopping", async () => {
    const { w, base } = await stalled();
    // an upload in flight and nothing packing: the status word says so, /healthz names the archive once
    await waitFor(async () => (await state(base)).status === "uploading", "status uploading", 30_000);
    expect((await state(base)).uploads?.sending?.archive).toMatch(/\.zip$/);
    const h = await healthz(base);
    expect(h.status).toBe(200);
    expect(h.body.reason).toMatch(/^uploading [^;]+\.zip$/);
    w.child.kill("SIGTERM");
    await w.until("the stop to begin", (x) => x.events.some((e) => e.event === "stopped"));
    // from the moment watch says it stops until it is gone, /healthz answers 503 or not at all
    const answers: number[] = [];
    for (let i = 0; i < 20 && w.child.exitCode === null; i++) {
      const h = await healthz(base).catch(() => undefined);
      if (!h) break;
      answers.push(h.status);
      expect(h.body.reason).toBe("watch is stopping");
    }
    expect(answers.every((s) => s === 503)).toBe(true);
  }, 60_000);

  // every request carries the run's abort signal (src/upload/protocol.ts), so a stalled PUT ends at once
  it("exits within 10 s with 130, the upload not recorded as done, and a restart sends it once", async () => {
    const { w, ws } = await stalled();
    const stopping = Date.now();
    w.child.kill("SIGTERM");
    const exited = await Promise.race([w.exited, new Promise<undefined>((r) => setTimeout(r, 10_000))]);
    expect(exited, "watch still running 10 s after SIGTERM").toBeDefined();
    expect(Date.now() - stopping).toBeLessThan(10_000);
    expect(exited!.code).toBe(130);
    expect(w.events.at(-1)?.message).toMatch(/the upload in progress stopped; the next run resumes it/);
    server.faults.chunkDelayMs = 0;
    const again = start(ws);
    await again.until("the upload", (x) => x.events.some((e) => e.event === "uploaded"), 30_000);
    expect((await again.stop()).code).toBe(0);
    await expectEachAcceptedOnce(ws.out);
  }, 90_000);
});
