// `upload` and `status` read an outbox (the folder pack writes to): a table of folder states. One pack or
// watch made (its .wopack), or one nothing was put in yet (made for pack by tmpfiles, a fresh volume), is an
// outbox; a folder holding anything else (a staging folder, a config folder) is refused, exit 2, and nothing
// is created in it.
import { mkdir, readdir, writeFile } from "node:fs/promises";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { committedOutbox, put, snapshot, tempDir, wopack, workspace } from "../helpers.js";

const ENV = { WOPACK_API_URL: "http://127.0.0.1:9/v0.2", WOPACK_API_KEY: "k_outbox_test" };

type Make = (dir: string) => Promise<unknown>;
const states: { state: string; make: Make; outbox: boolean }[] = [
  { state: "empty (made for pack, e.g. by tmpfiles)", make: async () => {}, outbox: true },
  { state: "a fresh volume (lost+found only)", make: (d) => mkdir(path.join(d, "lost+found")), outbox: true },
  { state: "only hidden files (.gitkeep)", make: (d) => writeFile(path.join(d, ".gitkeep"), ""), outbox: true },
  {
    state: "pack ran with nothing ready (.wopack only)",
    make: async (d) => {
      const staging = await tempDir();
      const r = await wopack(["pack", staging, "--out", d]);
      if (r.code !== 0) throw new Error(r.stderr);
    },
    outbox: true,
  },
  {
    state: "pack's .wopack and a file a person added",
    make: async (d) => {
      await mkdir(path.join(d, ".wopack", "tmp"), { recursive: true });
      await writeFile(path.join(d, "README.txt"), "outbox");
    },
    outbox: true,
  },
  { state: "a staging folder (a work order)", make: (d) => put(d, "WO_1/meter/p0.jpg", "jpeg"), outbox: false },
  { state: "a loose photo", make: (d) => put(d, "WO_1__meter.jpg", "jpeg"), outbox: false },
  {
    state: "what init writes (config and schema)",
    make: async (d) => {
      await writeFile(path.join(d, "wopack.config.json"), "{}");
      await writeFile(path.join(d, "wopack.config.schema.json"), "{}");
    },
    outbox: false,
  },
  { state: "a zip copied in, no .wopack", make: (d) => put(d, "batch-1.zip", "PK"), outbox: false },
  { state: "a subfolder only", make: (d) => mkdir(path.join(d, "staging")), outbox: false },
];

describe("upload and status: which folders are outboxes", () => {
  for (const { state, make, outbox } of states) {
    for (const command of ["upload", "status"]) {
      it(`${command} in a folder that is ${state}: ${outbox ? "an outbox" : "refused, nothing created"}`, async () => {
        const dir = await tempDir();
        await make(dir);
        const before = await snapshot(dir);
        const names = await readdir(dir);
        const r = await wopack([command, dir], { env: ENV });
        if (outbox) {
          expect(r.code, r.stderr).toBe(0);
          if (!names.includes(".wopack")) expect(await snapshot(dir)).toEqual(before); // nothing made in it
        } else {
          expect(r.code, r.stdout).toBe(2);
          expect(r.stderr).toContain("E_NOT_AN_OUTBOX");
          expect(r.stderr).toContain(dir);
          expect(r.stderr).toMatch(/hint: .*--out/);
          expect(await snapshot(dir)).toEqual(before);
          expect(await readdir(dir)).not.toContain(".wopack");
        }
      });
    }
  }

  it("an outbox with committed archives is one (its upload is tried)", async () => {
    const ws = await committedOutbox(1);
    const r = await wopack(["status", ws.out]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/committed/);
  });

  it("a missing folder is still E_OUT_MISSING, and not created", async () => {
    const ws = await workspace();
    const r = await wopack(["upload", ws.out], { env: ENV });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/E_OUT_MISSING/);
  });
});
