// Issue 21: the upload sender never loops, leaks, or claims "uploaded" falsely. The real CLI against the
// strict stand-in server (test/upload-server.ts): SIGTERM ends a stalled upload at once; a batch the
// platform keeps and will not delete needs attention, never "uploaded"; a planted secret shows nowhere;
// a huge error page costs no memory.
import { type ChildProcess, spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { readdir, readFile, rm, writeFile } from "node:fs/promises";
import { hostname } from "node:os";
import path from "node:path";
import { describe, expect, it as plainIt } from "vitest";
import { lockPath, tmpDir } from "../../src/commit/paths.js";
import { readUploads, uploadsPath } from "../../src/commit/uploads.js";
import { parseConfig } from "../../src/config/load.js";
import { status } from "../../src/run/status.js";
import { upload } from "../../src/run/upload.js";
import { CHUNK_SIZE } from "../../src/upload/protocol.js";
import {
  BIN,
  committedOutbox as committed,
  committedCopy,
  copyOutbox,
  noiseJpeg,
  put,
  ROOT,
  waitFor,
  wopack,
  workspace,
} from "../helpers.js";
import { UploadServer } from "../upload-server.js";
import { Watcher } from "../watcher.js";

const CANARY = "CaNaRy7sekret3";
const KEY = `wk_${CANARY}`;
/** the bearer upload_id of the session URLs the server hands out (finding 6): known to no redactor beforehand */
const UPLOAD_ID = "UpLoAd8sekret1";

// Each test has its own server and folders, so the file's tests run at once (describe.concurrent): one after
// the other, the kill -9 table waited for the rest. The CLI's retry backoff is a tenth as long.
const it = plainIt.extend<{ server: UploadServer }>({
  // biome-ignore lint/correctness/noEmptyPattern: vitest reads a fixture's needs from its first parameter
  server: async ({}, use) => {
    const server = await new UploadServer(KEY).start();
    await use(server);
    await server.stop();
  },
});

const env = (server: UploadServer, url = server.base) => ({
  WOPACK_API_URL: url,
  WOPACK_API_KEY: KEY,
  WOPACK_TEST_TIME_SCALE: "0.1",
});

function start(args: string[], env: Record<string, string>) {
  const child = spawn(process.execPath, [BIN, ...args], {
    cwd: ROOT,
    env: { ...process.env, NO_COLOR: "1", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const run = { child, stdout: "", stderr: "", exit: undefined as undefined | Promise<{ code: number | null; at: number }> };
  child.stdout.on("data", (d) => (run.stdout += d));
  child.stderr.on("data", (d) => (run.stderr += d));
  run.exit = new Promise((resolve) => child.on("close", (code) => resolve({ code, at: performance.now() })));
  return run as typeof run & { exit: Promise<{ code: number | null; at: number }> };
}

async function everyFileIn(dir: string): Promise<string> {
  const names = await readdir(dir, { recursive: true, withFileTypes: true });
  const texts = await Promise.all(
    names.filter((d) => d.isFile() && !d.name.endsWith(".zip")).map((d) => readFile(path.join(d.parentPath, d.name), "utf8")),
  );
  return texts.join("\n");
}

/** The peak resident memory of a running process, in MB (VmHWM only grows, so the last read is the peak so far). */
function peakMb(child: ChildProcess): number {
  try {
    const status = readFileSync(`/proc/${child.pid}/status`, "utf8");
    return Number(/VmHWM:\s+(\d+) kB/.exec(status)?.[1] ?? 0) / 1024;
  } catch {
    return 0;
  }
}

// (alone, before the rest: alongside them on a loaded machine its SIGTERM twice came too late, exit 0, not 130)
describe("SIGTERM while another process holds the upload journal's lock", () => {
  it("the wait for it ends at once: exit 130, nothing journaled, the holder's lock untouched; a rerun sends", async ({
    server,
  }) => {
    const ws = await committedCopy(1);
    const journalLock = `${uploadsPath(ws.out)}.lock`;
    // a live holder (this test's process: say a status --refresh that hangs while holding it)
    const holder = JSON.stringify({ pid: process.pid, host: hostname(), startedAt: new Date().toISOString(), nonce: "x" });
    await writeFile(journalLock, holder);
    const run = start(["upload", ws.out], env(server));
    // waiting: the lock on --out is held, and the journal writer's draft of the short lock stays
    await waitFor(
      async () =>
        existsSync(lockPath(ws.out)) && (await readdir(tmpDir(ws.out)).catch(() => [])).some((f) => f.startsWith("lock.")),
      `the upload waiting for the journal's lock; ${run.stderr}`,
      30_000,
    );
    const sent = performance.now();
    run.child.kill("SIGTERM");
    const { code, at } = await run.exit;
    expect(code, run.stderr).toBe(130);
    expect(at - sent, "the wait ended by SIGTERM, not by its 30 s bound").toBeLessThan(10_000);
    expect(await readFile(journalLock, "utf8")).toBe(holder);
    expect(existsSync(uploadsPath(ws.out)) ? await readFile(uploadsPath(ws.out), "utf8") : "").toBe("");
    expect(server.log).toEqual([]);
    expect(existsSync(lockPath(ws.out))).toBe(false);
    await rm(journalLock);
    const again = await wopack(["upload", ws.out], { env: env(server) });
    expect(again.code, again.stderr).toBe(0);
    expect(server.accepted().size).toBe(1);
  }, 60_000);
});

describe.concurrent("SIGTERM during an upload", () => {
  for (const command of ["upload", "pack --upload"] as const) {
    it(`${command}: a stalled PUT is abandoned at once: exit 130, nothing recorded uploaded, the lock released`, async ({
      server,
    }) => {
      const ws = await committed(1, 2, await noiseJpeg(1600, 1200, 4, 100));
      if (command === "pack --upload") await put(ws.staging, "WO_9/meter/p.jpg", await noiseJpeg(400, 300, 9));
      server.faults.stallChunks = true;
      const run = start(
        command === "upload" ? ["upload", ws.out] : ["pack", ws.staging, "--out", ws.out, "--upload"],
        env(server),
      );
      await waitFor(() => server.log.some((l) => l.url === "stalled"), `a chunk PUT reached the server; ${run.stderr}`, 60_000);
      const sent = performance.now();
      run.child.kill("SIGTERM");
      const { code, at } = await run.exit;
      expect(code, run.stderr).toBe(130);
      expect(at - sent).toBeLessThan(5_000);
      // (the hint is the command's own: an upload resumes, it does not pack)
      if (command === "upload") expect(run.stderr).toMatch(/E_INTERRUPTED[\s\S]*run wopack upload again: it resumes/);
      expect(await readFile(uploadsPath(ws.out), "utf8")).not.toMatch(/"type":"uploaded"/);
      expect(existsSync(lockPath(ws.out))).toBe(false);
      // the next run resumes and finishes it
      server.faults.stallChunks = false;
      const again = await wopack(["upload", ws.out], { env: env(server) });
      expect(again.code, again.stderr).toBe(0);
      expect(server.violations).toEqual([]);
    }, 120_000);
  }
});

describe.concurrent("kill -9 at every step of an upload, then a rerun", () => {
  // Each request the sender makes is one step: the server holds request k for ever, with its effect applied
  // (a batch made, a chunk stored, the last chunk completing the session, a batch deleted) or not, and the
  // sender is killed while it waits. A kill between an answer and the journal record of it leaves the same
  // journal as a kill while the request is held; one after the record, the same as a kill at the next request.
  // So every journal state a crash can leave is among these. The rerun must finish: accepted exactly once.
  it("every request held (effect applied or not), in a plain upload and one whose session expires: accepted once, status truthful", async () => {
    const ws0 = await committed(1, 3, await noiseJpeg(2000, 1500, 5, 100)); // one archive over one 8 MiB chunk
    const zip = (await readdir(ws0.out)).find((f) => f.endsWith(".zip"))!;
    const bytes = await readFile(path.join(ws0.out, zip));
    expect(bytes.length).toBeGreaterThan(CHUNK_SIZE);
    const sha = createHash("sha256").update(bytes).digest("hex");
    let rows = 0;
    // (the plain and the expiring runs side by side: each row has its own server and copy)
    const table = async (expiring: boolean) => {
      for (let at = 0; ; at++) {
        let reached = false;
        for (const apply of [false, true]) {
          const what = `${expiring ? "expiring session" : "plain"}, request ${at} held, effect ${apply ? "applied" : "not applied"}`;
          const ws = await copyOutbox(ws0.out);
          const srv = await new UploadServer(KEY).start();
          srv.faults = { hold: { at, apply }, ...(expiring ? { expireAtBytes: CHUNK_SIZE } : {}) };
          try {
            const run = start(["upload", ws], env(srv));
            const outcome = await Promise.race([
              run.exit.then(() => "exited" as const),
              waitFor(() => srv.log.some((l) => l.url === "held"), what, 60_000).then(() => "held" as const),
            ]);
            if (outcome === "exited") {
              // the run made fewer requests than `at`: it finished on its own
              expect((await run.exit).code, `${what}: ${run.stderr}`).toBe(0);
              break;
            }
            reached = true;
            rows++;
            run.child.kill("SIGKILL");
            await run.exit;
            srv.faults = { objectDigests: "both" }; // (the rerun checks what the platform says it stored, resumed or not)
            // (the rerun in this process, as status below: a spawn a row was a third of this table)
            const again = await upload({ out: ws, config: parseConfig({}), env: env(srv) });
            expect(
              again.filter((o) => o.result !== "uploaded" && o.result !== "already"),
              what,
            ).toEqual([]);
            const accepted = [...srv.accepted().values()].flat();
            expect(
              accepted.map((b) => b.filename),
              what,
            ).toEqual([zip.replace(/\.zip$/, "")]);
            expect(srv.received(accepted[0]!.id).sha256, what).toBe(sha);
            // any other batch holds nothing, or is deleted
            for (const b of srv.batches.values())
              if (b !== accepted[0] && !b.deleted) expect(b.stored, `${what}: batch ${b.id}`).toBe(0);
            expect(srv.violations, what).toEqual([]);
            // (status through the library too: the CLI's own status is the e2e tests')
            expect(
              (await status(ws)).map((a) => [a.archive, a.state]),
              what,
            ).toEqual([[zip, "uploaded"]]);
          } finally {
            await srv.stop();
          }
        }
        if (!reached) break;
      }
    };
    await Promise.all([table(false), table(true)]);
    expect(rows).toBeGreaterThanOrEqual(2 * (4 + 8)); // every request of both runs, each both ways
  }, 600_000);
});

describe.concurrent("a batch the platform keeps but will not delete", () => {
  it("after kill -9 mid-upload and an expired session, the archive needs attention: never 'uploaded', exit 1, status says so, not sent again", async ({
    server,
  }) => {
    const ws = await committed(1, 3, await noiseJpeg(2000, 1500, 5, 100));
    server.faults.chunkDelayMs = 100;
    const run = start(["upload", ws.out], env(server));
    await waitFor(() => [...server.batches.values()].some((b) => b.stored >= CHUNK_SIZE), "a chunk stored", 60_000);
    run.child.kill("SIGKILL");
    await run.exit;
    const [batch] = [...server.batches.values()];
    expect(batch!.stored).toBeLessThan(batch!.total ?? Number.POSITIVE_INFINITY);
    server.expire(batch!.id);
    server.faults.refuseDelete = 405;
    server.faults.chunkDelayMs = 0;
    const r = await wopack(["upload", ws.out, "--json"], { env: env(server) });
    expect(r.code, r.stderr).toBe(1);
    expect(JSON.parse(r.stdout).uploads).toMatchObject([{ result: "attention", problem: { code: "E_UPLOAD_ATTENTION" } }]);
    const journal = await readUploads(ws.out);
    const state = [...journal.archives.values()][0]!;
    expect(state.uploaded).toBeUndefined();
    expect(state.attention?.batchId).toBe(batch!.id);
    const st = await wopack(["status", ws.out, "--json"]);
    expect(st.code).toBe(1);
    expect(JSON.parse(st.stdout).archives).toMatchObject([{ state: "attention", batchId: batch!.id }]);
    server.faults.refuseDelete = undefined;
    await neverSentUntilCleared(server, ws, state.archive);
  }, 120_000);

  it("the platform holds wrong bytes (its digest differs): needs attention, and no run sends it again until cleared", async ({
    server,
  }) => {
    const ws = await committed(1, 2); // (packed here: it packs again from its staging folder)
    server.faults.corruptAt = 100;
    server.faults.objectDigests = "crc32c";
    const r = await wopack(["upload", ws.out, "--json"], { env: env(server) });
    expect(r.code, r.stderr).toBe(1);
    expect(JSON.parse(r.stdout).uploads).toMatchObject([{ result: "attention", problem: { code: "E_UPLOAD_ATTENTION" } }]);
    server.faults = {};
    await neverSentUntilCleared(server, ws, [...(await readUploads(ws.out)).archives.keys()][0]!);
  }, 120_000);
});

/**
 * An archive that needs attention is sent by no run (the backlog, named, pack --upload), each exiting 1
 * with E_UPLOAD_ATTENTION, until the operator says its old batch was dealt with (--attention-cleared,
 * which names archives: exit 2 without); then it is sent once, and status is clean.
 */
async function neverSentUntilCleared(server: UploadServer, ws: { staging: string; out: string }, archive: string): Promise<void> {
  const batches = server.batches.size;
  const runs: string[][] = [
    ["upload", ws.out],
    ["upload", ws.out, archive],
    ["upload", ws.out, path.join(ws.out, archive)],
    ["upload", ws.out, "--json"],
    ["pack", ws.staging, "--out", ws.out, "--upload"],
  ];
  for (const args of runs) {
    const r = await wopack(args, { env: env(server) });
    expect(r.code, `${args.join(" ")}: ${r.stderr}`).toBe(1);
    expect(r.stdout + r.stderr, args.join(" ")).toMatch(/E_UPLOAD_ATTENTION[\s\S]*--attention-cleared/);
    expect(server.batches.size, `${args.join(" ")}: no new batch`).toBe(batches);
  }
  // a running watch --upload: its backlog reports it, and it is not sent while watch runs
  const w = new Watcher([ws.staging, "--out", ws.out, "--upload", "--settle", "200ms"], env(server));
  try {
    await w.until("the backlog's attention reported", (x) => /E_UPLOAD_ATTENTION/.test(x.stderr + JSON.stringify(x.events)));
  } finally {
    expect((await w.stop()).code).toBe(0);
  }
  expect(server.batches.size, "watch --upload: no new batch").toBe(batches);
  const unnamed = await wopack(["upload", ws.out, "--attention-cleared"], { env: env(server) });
  expect(unnamed.code, unnamed.stderr).toBe(2);
  expect(unnamed.stderr).toMatch(/E_ATTENTION_UNNAMED/);
  expect(server.batches.size).toBe(batches);
  for (const b of server.batches.values()) b.deleted = true; // the operator deletes the old batch there
  const cleared = await wopack(["upload", ws.out, archive, "--attention-cleared"], { env: env(server) });
  expect(cleared.code, cleared.stderr).toBe(0);
  expect(server.batches.size).toBe(batches + 1);
  expect([...server.accepted().values()].flat()).toHaveLength(1);
  expect((await wopack(["status", ws.out])).code).toBe(0);
  expect((await wopack(["upload", ws.out, archive, "--attention-cleared"], { env: env(server) })).code).toBe(0);
  expect(server.batches.size, "uploaded: not sent again, cleared or not").toBe(batches + 1);
}

/** The first server-sent event of a stream (its whole `data:`), then the stream is closed. */
async function firstEvent(url: string): Promise<string> {
  const stop = new AbortController();
  const res = await fetch(url, { signal: stop.signal });
  let text = "";
  const decoder = new TextDecoder();
  for await (const piece of res.body as AsyncIterable<Uint8Array>) {
    text += decoder.decode(piece, { stream: true });
    if (/^data:.*\n\n/ms.test(text)) break;
  }
  stop.abort();
  expect(text).toMatch(/^data:/m);
  return text;
}

describe.concurrent("no secret leaves", () => {
  it("the key, URL userinfo and a query token never appear in any stream or file, failing or succeeding, upload/pack/status/watch", async ({
    server,
  }) => {
    server.faults.echo = CANARY;
    server.faults.uploadIdPrefix = UPLOAD_ID;
    const ws = await committed(2); // (packed here: it packs again from its staging folder)
    const streams: string[] = [];
    const keep = (r: { stdout: string; stderr: string }) => streams.push(r.stdout, r.stderr);
    const tokenUrl = `${server.base}?token=${CANARY}`;
    // credentials in the URL: refused before anything is sent, and not shown
    const userinfo = await wopack(["upload", ws.out], {
      env: env(server, server.base.replace("http://", `http://user:${CANARY}@`)),
    });
    expect(userinfo.code).toBe(2);
    keep(userinfo);
    // failing runs: the server refuses, echoing the key, the URL and the canary in bodies and headers
    server.faults.refuseFilename = path.basename((await readdir(ws.out)).find((f) => f.endsWith(".zip"))!, ".zip");
    server.faults.unavailable = 2;
    server.faults.refuseSession = 2; // (its answer names the session, upload_id and all)
    const failing = await wopack(["upload", ws.out, "--verbose", "--json"], { env: env(server, tokenUrl) });
    expect(failing.code).toBe(1);
    keep(failing);
    keep(await wopack(["status", ws.out], {}));
    keep(await wopack(["status", ws.out, "--json", "--refresh"], { env: env(server, tokenUrl) }));
    server.faults.refuseKey = true;
    const refused = await wopack(["upload", ws.out, "--verbose"], { env: env(server, tokenUrl) });
    expect(refused.code).toBe(5);
    keep(refused);
    server.faults.refuseKey = false;
    server.faults.refuseFilename = undefined;
    // succeeding runs
    const ok = await wopack(["upload", ws.out, "--verbose", "--json"], { env: env(server, tokenUrl) });
    expect(ok.code, ok.stderr).toBe(0);
    keep(ok);
    await put(ws.staging, "WO_7/meter/p.jpg", await noiseJpeg(400, 300, 7));
    server.faults.unavailable = 1;
    const packed = await wopack(["pack", ws.staging, "--out", ws.out, "--upload", "--verbose", "--json"], {
      env: env(server, tokenUrl),
    });
    expect(packed.code, packed.stderr).toBe(0);
    keep(packed);
    keep(await wopack(["status", ws.out, "--refresh", "--verbose"], { env: env(server, tokenUrl) }));
    // watch --upload --http: its pages, while an upload fails with the server's words
    const ws2 = await workspace();
    await put(ws2.staging, "WO_8/meter/p.jpg", await noiseJpeg(400, 300, 8));
    server.faults.refuseFilename = undefined;
    server.faults.unavailable = 1000;
    const watcher = new Watcher(
      [
        ws2.staging,
        "--out",
        ws2.out,
        "--upload",
        "--upload-retries",
        "1",
        "--settle",
        "0s",
        "--http",
        "127.0.0.1:0",
        "--verbose",
      ],
      env(server, tokenUrl),
    );
    try {
      await watcher.until("started", (w) => w.events.some((e) => e.event === "started"));
      const base = String((watcher.events.find((e) => e.event === "started") as unknown as { url: string }).url);
      await watcher.until("an upload failed", (w) => w.stderr.includes(`"event":"error"`));
      for (const page of ["/", "/state.json", "/healthz", "/metrics"]) streams.push(await (await fetch(base + page)).text());
      streams.push(await firstEvent(`${base}/events`)); // what the live page draws
      const reviews = (await readdir(ws2.out)).filter((f) => f.endsWith(".html"));
      for (const r of reviews) streams.push(await (await fetch(`${base}/review/${r}`)).text());
    } finally {
      await watcher.stop();
    }
    streams.push(JSON.stringify(watcher.events), watcher.stderr);
    const files = (await everyFileIn(path.dirname(ws.out))) + (await everyFileIn(path.dirname(ws2.out)));
    expect(streams.join("\n").length).toBeGreaterThan(1000);
    expect(streams.join("\n")).toMatch(/HTTP (400|503)/); // the server's words are shown...
    // the journal names each session without its token (its URL is kept apart, and only until the session ends)
    expect(files).toContain(`"uploadUrl":"${new URL(server.base).origin}/`);
    for (const text of [...streams, files]) {
      expect(text).not.toContain(CANARY); // ...without the secret
      expect(text).not.toContain(UPLOAD_ID);
    }
  }, 180_000);
});

describe.concurrent("bounded reads", () => {
  it("a 300 MB error page costs no memory, and its detail is cut short", async ({ server }) => {
    const ws = await committedCopy(1);
    server.faults.hugeErrors = { count: 3, bytes: 300 * 1024 * 1024 };
    const run = start(["upload", ws.out, "--upload-retries", "1", "--json"], env(server));
    let peak = 0;
    const done = run.exit.then(() => true);
    while (!(await Promise.race([done, new Promise<false>((r) => setTimeout(() => r(false), 20))])))
      peak = Math.max(peak, peakMb(run.child));
    const { code } = await run.exit;
    expect(code, run.stderr).toBe(1);
    const [outcome] = JSON.parse(run.stdout).uploads;
    expect(outcome.problem.message.length).toBeLessThan(1200);
    expect(peak).toBeGreaterThan(0);
    expect(peak).toBeLessThan(200);
  }, 120_000);
});
