// --uploaded-to on a disk that is not mounted any more: its mount point is an empty folder of the disk
// under it. The upload says so and leaves the archive in --out (never scattered onto the wrong disk), and
// moves it once the disk is back. A real mount: a tmpfs bound onto the folder (a bind can be made again,
// the same folder: a tmpfs mounted anew would be another one).
import { spawnSync } from "node:child_process";
import { mkdir, readdir, rename, writeFile } from "node:fs/promises";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BoundDisk, committedOutbox, noiseJpeg, tempDir, wopack } from "../helpers.js";
import { UploadServer } from "../upload-server.js";

const KEY = "wk_unmounted";
let server: UploadServer;
let root: string;
const disks: BoundDisk[] = [];

const env = () => ({ WOPACK_API_URL: server.base, WOPACK_API_KEY: KEY });
const zips = async (dir: string) => (await readdir(dir)).filter((f) => f.endsWith(".zip")).sort();

beforeAll(async () => {
  server = await new UploadServer(KEY).start();
  root = await tempDir("wopack-unmounted-");
});
afterAll(async () => {
  await server.stop();
  for (const d of disks) d.unmountAll();
});

describe("--uploaded-to whose disk is not mounted", () => {
  it("an empty folder that is not the one earlier archives went into: E_UPLOADED_TO_NOT_THE_SAME, the archive stays in --out; moved once the disk is back", async () => {
    const d = await BoundDisk.mount(root);
    expect(d, "mount a tmpfs").toBeDefined();
    disks.push(d!);
    const { disk, sent } = d!;
    expect(d!.bind()).toBe(true);
    const ws = await committedOutbox(2, 1, await noiseJpeg(300, 200, 7, 100));
    const [first, second] = await zips(ws.out);

    const one = await wopack(["upload", ws.out, first!, "--uploaded-to", sent], { env: env() });
    expect(one.code, one.stderr).toBe(0);
    expect(await zips(disk)).toEqual([first]);

    // the disk goes away: sent/ is now the empty folder under it
    expect(d!.unbind()).toBe(true);
    const two = await wopack(["upload", ws.out, "--uploaded-to", sent], { env: env() });
    expect(two.code, "uploaded, not moved: work not done, a cron job must see it").toBe(1);
    expect(two.stdout).toMatch(
      new RegExp(`E_UPLOADED_TO_NOT_THE_SAME +${second}: uploaded, but --uploaded-to ${sent} is not the folder`),
    );
    expect(await readdir(sent), "nothing scattered onto the disk under the mount point").toEqual([]);
    expect(await zips(ws.out)).toEqual([second]);

    // the next nights, the disk still not there: nothing to send, and still not exit 0
    const json = await wopack(["upload", ws.out, "--uploaded-to", sent, "--json"], { env: env() });
    expect(json.code, json.stderr).toBe(1);
    expect(JSON.parse(json.stdout).uploads).toEqual([
      expect.objectContaining({ archive: second, result: "already", notMovedTo: sent }),
    ]);
    const packed = await wopack(["pack", ws.staging, "--out", ws.out, "--upload", "--uploaded-to", sent], { env: env() });
    expect(packed.code, "pack --upload: the same").toBe(1);
    expect(packed.stdout).toContain(`not moved to ${sent}`);
    expect(await readdir(sent)).toEqual([]);

    // the operator who looks sees it
    const st = await wopack(["status", ws.out]);
    expect(st.stdout).toMatch(new RegExp(`${second} +uploaded, not moved to ${sent}: .*not the folder earlier archives`));
    const stJson = await wopack(["status", ws.out, "--json"]);
    const line = (JSON.parse(stJson.stdout).archives as { archive: string; notMoved?: unknown }[]).find(
      (l) => l.archive === second,
    );
    expect(line?.notMoved).toEqual({
      to: sent,
      code: "E_UPLOADED_TO_NOT_THE_SAME",
      reason: expect.stringContaining("a disk not mounted there?"),
    });
    expect(st.code, "status: work not done, as upload says").toBe(1);

    // the disk is back: the next run moves it, not sent again
    expect(d!.bind()).toBe(true);
    const requests = server.log.length;
    const three = await wopack(["upload", ws.out, "--uploaded-to", sent], { env: env() });
    expect(three.code, three.stderr).toBe(0);
    expect(await zips(disk)).toEqual([first, second]);
    expect(await zips(ws.out)).toEqual([]);
    expect(server.log.length - requests, "nothing sent again").toBeLessThanOrEqual(0);
    const after = JSON.parse((await wopack(["status", ws.out, "--json"])).stdout).archives as { notMoved?: unknown }[];
    expect(after.map((l) => l.notMoved)).toEqual([undefined, undefined]);
  }, 120_000);

  it("an empty folder given on purpose (someone put a file in it): archives go there", async () => {
    const ws = await committedOutbox(2, 1, await noiseJpeg(300, 200, 8, 100));
    const [first, second] = await zips(ws.out);
    const sent = path.join(root, "sent2");
    await mkdir(sent);
    expect((await wopack(["upload", ws.out, first!, "--uploaded-to", sent], { env: env() })).code).toBe(0);
    // replaced by another, new folder: refused while empty, taken once it holds anything (the old one moved
    // aside while the new one is made: removed first, its inode could be the new folder's, the same folder to
    // device:inode, as it was in one full run)
    await rename(sent, `${sent}.old`);
    await mkdir(sent);
    spawnSync("rm", ["-r", `${sent}.old`]);
    const refused = await wopack(["upload", ws.out, "--uploaded-to", sent], { env: env() });
    expect(refused.stdout).toContain("E_UPLOADED_TO_NOT_THE_SAME");
    await writeFile(path.join(sent, ".wopack-uploaded-to"), "");
    const taken = await wopack(["upload", ws.out, "--uploaded-to", sent], { env: env() });
    expect(taken.code, taken.stderr).toBe(0);
    expect(await zips(sent)).toEqual([second]);
  }, 120_000);
});
