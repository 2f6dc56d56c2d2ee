// --uploaded-to on another disk (a tmpfs here): the move of an uploaded archive cut short (kill -9 in the
// copy, a full disk) never shows part of an archive under its name there, and the next upload run
// finishes the move: exactly one whole archive, in the destination, not sent again.
import { execFileSync, spawnSync } from "node:child_process";
import { randomUUID } from "node:crypto";
import { cp, mkdir, readdir, readFile, rm, symlink, writeFile } from "node:fs/promises";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { appendUploads, readUploads } from "../../src/commit/uploads.js";
import { committedOutbox, noiseJpeg, sha256, tempDir, wopack } from "../helpers.js";
import { UploadServer } from "../upload-server.js";

const KEY = "wk_moves";
let server: UploadServer;
let root: string;
let disk: string | undefined; // another file system, roomy
let tiny: string | undefined; // another file system, smaller than the archive
/** an outbox whose one archive the platform holds (uploaded, not moved), and that archive's bytes */
let uploaded: { out: string; name: string; bytes: Buffer };

const mount = (dir: string, size: string) => spawnSync("mount", ["-t", "tmpfs", "-o", `size=${size}`, "tmpfs", dir]).status === 0;

beforeAll(async () => {
  server = await new UploadServer(KEY).start();
  root = await tempDir("wopack-uploaded-to-");
  await mkdir(path.join(root, "disk"));
  await mkdir(path.join(root, "tiny"));
  if (mount(path.join(root, "disk"), "64m")) disk = path.join(root, "disk");
  if (mount(path.join(root, "tiny"), "256k")) tiny = path.join(root, "tiny");
  const ws = await committedOutbox(1, 3, await noiseJpeg(600, 400, 3, 100));
  const r = await wopack(["upload", ws.out], { env: env() });
  expect(r.code, r.stderr).toBe(0);
  const name = (await readdir(ws.out)).find((f) => f.endsWith(".zip"))!;
  uploaded = { out: ws.out, name, bytes: await readFile(path.join(ws.out, name)) };
}, 120_000);
afterAll(async () => {
  await server.stop();
  for (const d of [disk, tiny]) if (d) spawnSync("umount", [d]);
});

const env = () => ({ WOPACK_API_URL: server.base, WOPACK_API_KEY: KEY });

async function copyOutbox(): Promise<string> {
  const copy = path.join(root, `out-${randomUUID()}`);
  await cp(uploaded.out, copy, { recursive: true });
  return copy;
}

/** Every file under a folder (names only), sorted. */
async function files(dir: string): Promise<string[]> {
  const all = await readdir(dir, { recursive: true, withFileTypes: true }).catch(() => []);
  return all.filter((d) => d.isFile()).map((d) => path.relative(dir, path.join(d.parentPath, d.name)));
}

/** The destination holds exactly the whole archive, its report and its review page, the outbox none; unzip -t agrees. */
async function expectMovedWhole(
  out: string,
  dest: string,
  { name, bytes }: { name: string; bytes: Buffer } = uploaded,
): Promise<void> {
  const page = name.replace(/\.zip$/, ".html");
  expect((await files(dest)).sort(), "the destination: the archive, its report and page, nothing partial").toEqual(
    [name, `${name}.report.json`, page].sort(),
  );
  expect(sha256(await readFile(path.join(dest, name)))).toBe(sha256(bytes));
  execFileSync("unzip", ["-tq", path.join(dest, name)]);
  expect(
    (await readdir(out)).filter((f) => f.startsWith(name) || f === page),
    "nothing of it left in --out",
  ).toEqual([]);
  expect((await readUploads(out)).archives.get(name)?.movedTo).toBe(dest);
}

// What a move cut short can leave in the destination. "final" is the archive's own name there; the
// partial name is the hidden one a whole-or-nothing copy writes first. A report moves after its archive.
const CUT: {
  what: string;
  archive: "none" | "final-part" | "temp-part" | "temp-whole" | "final-whole" | "moved";
  report: boolean;
}[] = [
  { what: "nothing copied yet", archive: "none", report: false },
  { what: "part of the archive under its own name (a plain copy cut short)", archive: "final-part", report: false },
  { what: "part of the archive under the partial name", archive: "temp-part", report: false },
  { what: "the whole archive under the partial name, not renamed", archive: "temp-whole", report: false },
  { what: "the archive renamed into place, its original not removed yet", archive: "final-whole", report: false },
  { what: "the archive moved, its report not yet", archive: "moved", report: false },
  { what: "the archive moved, part of its report copied", archive: "moved", report: true },
];

describe("--uploaded-to another disk, the move cut short", () => {
  // journaled: the move's start was written down (as now); not: a run that did not (older, or a failed move)
  for (const [row, journaled] of CUT.flatMap(
    (r) =>
      [
        [r, true],
        [r, false],
      ] as const,
  )) {
    const how = journaled ? "journaled" : "not journaled";
    it(`${row.what} (${how}): the next upload run finishes it, nothing partial visible, nothing sent again`, async (ctx) => {
      if (!disk) return ctx.skip();
      const { name, bytes } = uploaded;
      const out = await copyOutbox();
      const dest = path.join(disk, randomUUID(), "uploaded");
      await mkdir(dest, { recursive: true });
      const journal = await readUploads(out);
      if (journaled)
        await appendUploads(out, [{ type: "moving", archive: name, to: dest, at: new Date().toISOString() }], journal);
      const half = bytes.subarray(0, bytes.length >> 1);
      const at = (f: string) => path.join(dest, f);
      if (row.archive === "final-part") await writeFile(at(name), half);
      if (row.archive === "temp-part") await writeFile(at(`.${name}.partial`), half);
      if (row.archive === "temp-whole") await writeFile(at(`.${name}.partial`), bytes);
      if (row.archive === "final-whole") await writeFile(at(name), bytes);
      if (row.archive === "moved") await cp(path.join(out, name), at(name)).then(() => rm(path.join(out, name)));
      if (row.report) await writeFile(at(`.${name}.report.json.partial`), "{");
      const requests = server.log.length;

      const r = await wopack(["upload", out, "--uploaded-to", dest], { env: env() });
      expect(r.code, r.stderr).toBe(0);
      await expectMovedWhole(out, dest);
      expect(server.log.length, "no request: it was uploaded already").toBe(requests);
      expect(server.accepted().get(name.replace(/\.zip$/, ""))?.length).toBe(1);
      await rm(path.dirname(dest), { recursive: true }); // (room on the small disk for the next row)
    }, 60_000);
  }

  it("a link planted at the partial names (a shared destination): the files they point at stay as they were", async (ctx) => {
    if (!disk) return ctx.skip();
    const { name, bytes } = uploaded;
    const out = await copyOutbox();
    const dest = path.join(disk, randomUUID());
    await mkdir(dest);
    // files of the wopack user's, outside the destination, on this disk and on the other one
    const victims = [path.join(root, `victim-${randomUUID()}`), path.join(disk, `victim-${randomUUID()}`)];
    for (const v of victims) await writeFile(v, "the wopack user's file\n");
    await symlink(victims[0]!, path.join(dest, `.${name}.partial`));
    await symlink(victims[1]!, path.join(dest, `.${name}.report.json.partial`));

    const r = await wopack(["upload", out, "--uploaded-to", dest], { env: env() });
    expect(r.code, r.stderr).toBe(0);
    for (const v of victims) expect(await readFile(v, "utf8"), v).toBe("the wopack user's file\n");
    await expectMovedWhole(out, dest, { name, bytes });
    expect(await readdir(dest), "the links are gone, not followed").toEqual(
      [name, `${name}.report.json`, name.replace(/\.zip$/, ".html")].sort(),
    );
  }, 60_000);

  it("kill -9 in the copy (the real CLI, at the copy's last step): nothing partial visible; the rerun moves it whole", async (ctx) => {
    if (!disk) return ctx.skip();
    const ws = await committedOutbox(1, 3, await noiseJpeg(600, 400, 4, 100));
    const dest = path.join(disk, randomUUID());
    await mkdir(dest); // (wopack never makes it: finding 5)
    const killed = await wopack(["upload", ws.out, "--uploaded-to", dest], { env: { ...env(), WOPACK_FAULT: "copy-partial" } });
    expect(killed.signal, killed.stderr).toBe("SIGKILL");
    expect(
      (await files(dest)).filter((f) => !f.startsWith(".")),
      "no name a reader waits for",
    ).toEqual([]);
    const name = (await readdir(ws.out)).find((f) => f.endsWith(".zip"))!;
    const bytes = await readFile(path.join(ws.out, name));
    const again = await wopack(["upload", ws.out, "--uploaded-to", dest], { env: env() });
    expect(again.code, again.stderr).toBe(0);
    await expectMovedWhole(ws.out, dest, { name, bytes });
    expect(server.accepted().get(name.replace(/\.zip$/, ""))?.length).toBe(1);
  }, 60_000);

  it("a full disk there: a warning, the archive stays whole in --out, nothing left in the destination", async (ctx) => {
    if (!tiny) return ctx.skip();
    expect(uploaded.bytes.length).toBeGreaterThan(256 * 1024);
    const ws = await committedOutbox(1, 3, await noiseJpeg(600, 400, 5, 100));
    const dest = path.join(tiny, randomUUID());
    await mkdir(dest);
    const r = await wopack(["upload", ws.out, "--uploaded-to", dest], { env: env() });
    expect(r.code, "uploaded, not moved: exit 1").toBe(1);
    expect(r.stdout + r.stderr).toMatch(/W_UPLOADED_NOT_MOVED/);
    expect(await files(dest), "not a byte of it under any name").toEqual([]);
    const name = (await readdir(ws.out)).find((f) => f.endsWith(".zip"))!;
    execFileSync("unzip", ["-tq", path.join(ws.out, name)]);
  }, 60_000);
});
