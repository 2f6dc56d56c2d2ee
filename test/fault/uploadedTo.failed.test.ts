// --uploaded-to that refuses for another reason than a missing or unmounted folder: a full disk, a read-only
// one, a name taken there. Each is journaled (moveRefused, with its code), `status` says it and exits 1 until
// the archive is moved; the archive stays whole in --out, nothing partial or written over in the folder; and
// once --uploaded-to is dropped on purpose, an archive waiting in --out is no longer a fault.
import { execFileSync, spawnSync } from "node:child_process";
import { mkdir, readdir, readFile, rm, writeFile } from "node:fs/promises";
import path from "node:path";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { formatStatus } from "../../src/cli/format.js";
import { status } from "../../src/run/status.js";
import { committedCopy, TinyDisks, tempDir, wopack } from "../helpers.js";
import type { UploadServer } from "../upload-server.js";
import { useUploadServer } from "../useUploadServer.js";

const KEY = "wk_move_failed";
let server: UploadServer;
useUploadServer(KEY, (s) => (server = s)); // (a server a test: each test's outbox is the same packed copy)
let root: string;
const tiny = new TinyDisks();

const env = () => ({ WOPACK_API_URL: server.base, WOPACK_API_KEY: KEY });
const zips = async (dir: string) => (await readdir(dir)).filter((f) => f.endsWith(".zip")).sort();

/** Fills a disk to the last byte (dd stops at ENOSPC). */
function fill(dir: string): void {
  spawnSync("dd", ["if=/dev/zero", `of=${path.join(dir, "filler")}`, "bs=64k"]);
}

interface StatusLine {
  archive: string;
  state: string;
  notMoved?: { to: string; code?: string; reason: string };
}
/**
 * `status --json` from the CLI (its exit code, its lines) and the text `status` prints: from the CLI too when
 * `cliText`, else made in this process by the functions the CLI calls (a CLI run each was a fifth of the file).
 */
async function statusOf(out: string, cliText = false): Promise<{ code: number | null; lines: StatusLine[]; text: string }> {
  const json = await wopack(["status", out, "--json"]);
  let text = formatStatus(await status(out), []);
  if (cliText) {
    const cli = await wopack(["status", out]);
    expect(cli.code, "status --json and status agree").toBe(json.code);
    text = cli.stdout;
  }
  return { code: json.code, lines: JSON.parse(json.stdout).archives, text };
}

beforeAll(async () => {
  root = await tempDir("wopack-move-failed-");
});
afterEach(() => tiny.unmountAll());

describe("--uploaded-to fails for another reason", () => {
  it("a full disk: journaled, `status` says ENOSPC and exits 1; nothing partial left there; moved once there is room", async (ctx) => {
    const disk = await tiny.mount(root);
    if (!disk) return ctx.skip();
    const dest = path.join(disk, "sent");
    await mkdir(dest);
    fill(disk);
    const ws = await committedCopy(1);
    const [archive] = await zips(ws.out);

    const r = await wopack(["upload", ws.out, "--uploaded-to", dest], { env: env() });
    expect(r.code, "uploaded, not moved: exit 1").toBe(1);
    expect(r.stdout).toMatch(
      new RegExp(`W_UPLOADED_NOT_MOVED +${archive}: uploaded, but it cannot be moved to ${dest} \\(ENOSPC`),
    );
    expect(await readdir(dest), "no partial copy left on the full disk").toEqual([]);
    execFileSync("unzip", ["-tq", path.join(ws.out, archive!)]);

    const st = await statusOf(ws.out, true);
    expect(st.code, "status: work not done, as upload says").toBe(1);
    expect(st.lines[0]).toMatchObject({
      archive,
      state: "uploaded",
      notMoved: { to: dest, code: "W_UPLOADED_NOT_MOVED", reason: expect.stringContaining("ENOSPC") },
    });
    expect(st.text).toMatch(new RegExp(`${archive} +uploaded, not moved to ${dest}: W_UPLOADED_NOT_MOVED: ENOSPC`));
    expect(st.text, "what to do, and how to drop the move on purpose").toMatch(
      /\nhint: the next wopack upload \(or the running watch\) finishes the moves not done; if --uploaded-to was dropped on purpose, the next upload run without it says so/,
    );

    await rm(path.join(disk, "filler"));
    const again = await wopack(["upload", ws.out, "--uploaded-to", dest], { env: env() });
    expect(again.code, again.stderr).toBe(0);
    expect(await zips(dest)).toEqual([archive]);
    expect(await zips(ws.out)).toEqual([]);
    execFileSync("unzip", ["-tq", path.join(dest, archive!)]);
    const after = await statusOf(ws.out, true);
    expect(after.code).toBe(0);
    expect(after.lines[0]?.notMoved).toBeUndefined();
    expect(server.accepted().get(archive!.replace(/\.zip$/, ""))?.length, "sent once").toBe(1);
  }, 120_000);

  it("a read-only disk (EROFS): journaled and shown; moved once it is writable again", async (ctx) => {
    const disk = await tiny.mount(root);
    if (!disk) return ctx.skip();
    const dest = path.join(disk, "sent");
    await mkdir(dest);
    expect(spawnSync("mount", ["-o", "remount,ro", disk]).status).toBe(0);
    const ws = await committedCopy(1);
    const [archive] = await zips(ws.out);
    const r = await wopack(["upload", ws.out, "--uploaded-to", dest], { env: env() });
    expect(r.code).toBe(1);
    expect(r.stdout).toContain("EROFS");
    const st = await statusOf(ws.out);
    expect(st.code).toBe(1);
    expect(st.lines[0]?.notMoved).toEqual({ to: dest, code: "W_UPLOADED_NOT_MOVED", reason: expect.stringContaining("EROFS") });
    expect(spawnSync("mount", ["-o", "remount,rw", disk]).status).toBe(0);
    const again = await wopack(["upload", ws.out, "--uploaded-to", dest], { env: env() });
    expect(again.code, again.stderr).toBe(0);
    expect(await zips(dest)).toEqual([archive]);
  }, 120_000);

  for (const row of [
    { what: "another file", plant: (p: string) => writeFile(p, "someone else's archive\n") },
    { what: "a folder", plant: (p: string) => mkdir(p) },
  ])
    it(`${row.what} under the archive's name there: E_UPLOADED_TO_NAME_TAKEN, never written over, at every run until it is moved away`, async () => {
      const ws = await committedCopy(1);
      const [archive] = await zips(ws.out);
      const dest = await tempDir("wopack-taken-");
      await row.plant(path.join(dest, archive!));
      for (const run of [1, 2]) {
        const r = await wopack(["upload", ws.out, "--uploaded-to", dest], { env: env() });
        expect(r.code, `run ${run}: exit 1`).toBe(1);
        expect(r.stdout).toMatch(new RegExp(`E_UPLOADED_TO_NAME_TAKEN +${archive}: uploaded, but it cannot be moved to ${dest}`));
        expect(r.stdout + r.stderr).toContain(`move or rename ${path.join(dest, archive!)}`);
      }
      if (row.what === "another file") expect(await readFile(path.join(dest, archive!), "utf8")).toBe("someone else's archive\n");
      execFileSync("unzip", ["-tq", path.join(ws.out, archive!)]);
      const st = await statusOf(ws.out);
      expect(st.code).toBe(1);
      expect(st.lines[0]?.notMoved).toMatchObject({ to: dest, code: "E_UPLOADED_TO_NAME_TAKEN" });
      await rm(path.join(dest, archive!), { recursive: true });
      const again = await wopack(["upload", ws.out, "--uploaded-to", dest], { env: env() });
      expect(again.code, again.stderr).toBe(0);
      expect(await zips(dest)).toEqual([archive]);
    }, 120_000);
});

describe("--uploaded-to refuses the archive's report or review page after the archive went", () => {
  for (const which of ["report", "review page"] as const)
    it(`a name taken there by its ${which}: still shown as not moved (status exit 1) until the ${which} follows`, async () => {
      const ws = await committedCopy(1);
      const [archive] = await zips(ws.out);
      const files = [archive!, `${archive}.report.json`, archive!.replace(/\.zip$/, ".html")];
      for (const f of files) await readFile(path.join(ws.out, f)); // (all three there to move)
      const blocked = which === "report" ? files[1]! : files[2]!;
      const dest = await tempDir("wopack-part-taken-");
      await writeFile(path.join(dest, blocked), "someone else's\n");
      for (const run of [1, 2]) {
        const r = await wopack(["upload", ws.out, "--uploaded-to", dest], { env: env() });
        expect(r.code, `run ${run}: exit 1`).toBe(1);
        expect(r.stdout + r.stderr).toContain(`E_UPLOADED_TO_NAME_TAKEN`);
      }
      expect(await zips(dest), "the archive went first").toEqual([archive]);
      expect(await readFile(path.join(dest, blocked), "utf8"), "never written over").toBe("someone else's\n");
      const st = await statusOf(ws.out);
      expect(st.code, st.text).toBe(1);
      expect(st.lines.map((l) => l.archive)).toEqual([archive]);
      expect(st.lines[0]?.notMoved).toMatchObject({ to: dest, code: "E_UPLOADED_TO_NAME_TAKEN" });
      expect(st.text).toContain("not moved");

      await rm(path.join(dest, blocked));
      const again = await wopack(["upload", ws.out, "--uploaded-to", dest], { env: env() });
      expect(again.code, again.stderr).toBe(0);
      expect((await readdir(dest)).sort()).toEqual([...files].sort());
      expect((await readdir(ws.out)).filter((f) => files.includes(f))).toEqual([]);
      const done = await statusOf(ws.out);
      expect(done.code, done.text).toBe(0);
      expect(done.lines[0]).toMatchObject({ archive, state: "uploaded", movedTo: dest });
    }, 120_000);
});

describe("--uploaded-to dropped on purpose", () => {
  for (const row of [
    { what: "the folder missing", prepare: async (_dest: string) => undefined },
    {
      what: "a name taken there",
      prepare: async (dest: string, archive: string) => mkdir(path.join(dest, archive), { recursive: true }),
    },
  ])
    it(`${row.what}, then a run without --uploaded-to: uploaded and kept in --out, no longer a fault (status exit 0)`, async () => {
      const ws = await committedCopy(1);
      const [archive] = await zips(ws.out);
      const dest = path.join(await tempDir("wopack-dropped-"), "sent");
      await row.prepare(dest, archive!);
      const r = await wopack(["upload", ws.out, "--uploaded-to", dest], { env: env() });
      expect(r.code).toBe(1);
      expect((await statusOf(ws.out)).code, "not moved while --uploaded-to is given").toBe(1);

      const dropped = await wopack(["upload", ws.out], { env: env() });
      expect(dropped.code, dropped.stderr).toBe(0);
      const st = await statusOf(ws.out);
      expect(st.code, st.text).toBe(0);
      expect(st.lines[0]).toMatchObject({ archive, state: "uploaded" });
      expect(st.lines[0]?.notMoved).toBeUndefined();
      expect(st.text).not.toContain("not moved");
      expect(await zips(ws.out)).toEqual([archive]);

      // given again later, the move is made (or refused again, and said)
      await rm(path.join(dest, archive!), { recursive: true, force: true });
      await mkdir(dest, { recursive: true });
      const back = await wopack(["upload", ws.out, "--uploaded-to", dest], { env: env() });
      expect(back.code, back.stderr).toBe(0);
      expect(await zips(dest)).toEqual([archive]);
    }, 120_000);
});
