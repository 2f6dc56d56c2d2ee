// `wopack status --refresh` against the strict batch server when the platform's answer is not a status:
// a batch it no longer has is journaled failed (never left "uploaded" for prune to delete), a refused key
// is exit 5, and a platform that does not answer is said, per archive, with exit 1 - never "uploaded", exit 0.
// A missing batch is asked again at the next refresh: a wrong URL answers 404 too, and must not fail it for good.
import { spawn } from "node:child_process";
import { describe, expect, it } from "vitest";
import { BIN, committedCopy, committedOutbox, ROOT, waitFor, wopack } from "../helpers.js";
import type { UploadServer } from "../upload-server.js";
import { useUploadServer } from "../useUploadServer.js";

const KEY = "wk_live_status_refresh_9c1d";
let server: UploadServer;
useUploadServer(KEY, (s) => (server = s));

interface Line {
  archive: string;
  state: string;
  batchId?: string;
  platformStatus?: string;
  problem?: { code: string; message: string };
  refreshError?: { code: string; message: string };
}

describe("status --refresh when the platform does not give a status", () => {
  it("(table) gone, key refused, unavailable, unreachable: what status says and exits, and what prune would delete", async () => {
    const ws = await committedOutbox(3);
    const env = { WOPACK_API_URL: server.base, WOPACK_API_KEY: KEY };
    expect((await wopack(["upload", ws.out], { env })).code).toBe(0);
    const state = async (extra: Record<string, string> = {}) => {
      const r = await wopack(["status", ws.out, "--json", "--refresh"], { env: { ...env, ...extra } });
      return { code: r.code, stderr: r.stderr, lines: r.stdout ? (JSON.parse(r.stdout).archives as Line[]) : [] };
    };
    const before = await state();
    expect(before.code, before.stderr).toBe(0);
    expect(before.lines.map((l) => l.state)).toEqual(["uploaded", "uploaded", "uploaded"]);
    const [first] = before.lines;

    // the platform does not answer: no status learnt, said for every archive it could not ask; exit 1
    const unreachable = await state({ WOPACK_API_URL: "http://127.0.0.1:1/v0.2" });
    expect(unreachable.code, unreachable.stderr).toBe(1);
    expect(unreachable.lines.map((l) => l.refreshError?.code)).toEqual(Array(3).fill("E_STATUS_NOT_REFRESHED"));
    expect(unreachable.lines.map((l) => l.state)).toEqual(["uploaded", "uploaded", "uploaded"]);
    // and in words: each archive's line, then its own line saying why it was not refreshed
    const words = await wopack(["status", ws.out, "--refresh"], { env: { ...env, WOPACK_API_URL: "http://127.0.0.1:1/v0.2" } });
    const said = words.stdout.trimEnd().split("\n");
    expect(
      said.filter((l) => /^ {2}not refreshed: E_STATUS_NOT_REFRESHED/.test(l)),
      words.stdout,
    ).toHaveLength(3);
    expect(words.stdout).not.toContain("\\n");

    // a 503: the same, and the rest not asked (each would wait as long)
    server.faults.unavailable = 1;
    const busy = await state();
    expect(busy.code, busy.stderr).toBe(1);
    expect(busy.lines[0]!.refreshError?.message).toMatch(/503/);
    expect(busy.lines.slice(1).map((l) => l.refreshError?.message)).toEqual([
      expect.stringMatching(/^not asked/),
      expect.stringMatching(/^not asked/),
    ]);

    // the key refused: exit 5, the key's error, nothing journaled
    server.faults.refuseKey = true;
    const refused = await wopack(["status", ws.out, "--refresh"], { env });
    expect(refused.code).toBe(5);
    expect(refused.stderr).toMatch(/E_UPLOAD_CREDENTIALS/);
    expect(refused.stderr).not.toContain(KEY);
    server.faults.refuseKey = false;

    // the platform no longer has the first batch: failed, said so, and prune keeps its archive
    server.batches.get(first!.batchId!)!.deleted = true;
    const gone = await state();
    expect(gone.code, gone.stderr).toBe(1);
    expect(gone.lines[0]).toMatchObject({ state: "failed", platformStatus: expect.stringMatching(/no such batch/) });
    expect(gone.lines[0]!.problem?.code).toBe("E_BATCH_MISSING");
    expect(gone.lines.slice(1).map((l) => l.state)).toEqual(["uploaded", "uploaded"]);
    const prune = await wopack(["prune", ws.out, "--older-than", "0s", "--json"], { env });
    expect(prune.code, prune.stderr).toBe(0);
    const plan = JSON.parse(prune.stdout) as { dryRun: boolean; pruned: { path: string }[]; kept: { path: string }[] };
    expect(plan.dryRun).toBe(true);
    expect(plan.pruned.some((d) => d.path.endsWith(first!.archive))).toBe(false);
    expect(plan.kept.some((d) => d.path.endsWith(first!.archive))).toBe(true);
    expect(plan.pruned.filter((d) => d.path.endsWith(".zip"))).toHaveLength(2);
    // asked again (a wrong URL answers 404 too): with the batch back, it is uploaded again; still missing, still kept
    server.batches.get(first!.batchId!)!.deleted = false;
    const back = await state();
    expect(back.code, back.stderr).toBe(0);
    expect(back.lines.map((l) => l.state)).toEqual(["uploaded", "uploaded", "uploaded"]);
    // a wrong base URL (every route 404): missing for now, never final
    const wrong = await state({ WOPACK_API_URL: `${server.base}-wrong` });
    expect(wrong.code).toBe(1);
    expect(wrong.lines.map((l) => l.state)).toEqual(["failed", "failed", "failed"]);
    const right = await state();
    expect(right.code, right.stderr).toBe(0);
    expect(right.lines.map((l) => l.state)).toEqual(["uploaded", "uploaded", "uploaded"]);
  });
});

describe("status --refresh stopped by a signal (issue 21, finding 7)", () => {
  it.for(["SIGTERM", "SIGINT"] as const)("%s while the platform has not answered: exit 130, as every command", async (signal) => {
    const ws = await committedCopy(1);
    const env = { WOPACK_API_URL: server.base, WOPACK_API_KEY: KEY };
    expect((await wopack(["upload", ws.out], { env })).code).toBe(0);
    server.faults.hold = { at: server.requests, apply: false }; // (the status request, never answered)
    const child = spawn(process.execPath, [BIN, "status", ws.out, "--refresh"], {
      cwd: ROOT,
      env: { ...process.env, NO_COLOR: "1", ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stderr = "";
    child.stderr.on("data", (d) => (stderr += d));
    const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
      child.on("close", (code, signal) => resolve({ code, signal })),
    );
    await waitFor(() => server.log.some((l) => l.url === "held"), "the status request reached the server");
    child.kill(signal);
    expect(await exit, stderr).toEqual({ code: 130, signal: null });
    expect(stderr).toMatch(/E_INTERRUPTED[\s\S]*run wopack status again/);
  });
});
