// --uploaded-to's folder (issue 21, finding 5): never created (an unmounted disk's mount point would be, and
// the disk under it filled); a move journaled to a folder that is gone or full is not pinned there: a later
// run given another --uploaded-to moves the archive there, unless part of it reached the first.
import { createHash } from "node:crypto";
import { copyFile, mkdir, readdir, readFile, rename, writeFile } from "node:fs/promises";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { appendUploads, readUploads } from "../../src/commit/uploads.js";
import { finishMoves, moveUploaded } from "../../src/upload/uploadedTo.js";
import { tempDir } from "../helpers.js";

const NAME = "batch-20261206-0001.zip";
const REPORT = `${NAME}.report.json`;
const PAGE = NAME.replace(/\.zip$/, ".html");
const now = () => "2026-12-06T05:00:00.000Z";

async function uploadedOutbox() {
  const root = await tempDir("wopack-uploaded-dest-");
  const out = path.join(root, "out");
  await mkdir(out);
  const bytes = Buffer.from("PK\u0005\u0006 an archive's bytes");
  const sha256 = createHash("sha256").update(bytes).digest("hex");
  await writeFile(path.join(out, NAME), bytes);
  await writeFile(path.join(out, REPORT), JSON.stringify({ sha256, bytes: bytes.length }));
  await writeFile(path.join(out, PAGE), "<!doctype html><title>review</title>");
  const journal = await readUploads(out);
  await appendUploads(out, [{ type: "uploaded", archive: NAME, sha256, batchId: "b1", at: now() }], journal);
  return { root, out, sha256, journal };
}

const files = async (dir: string) => (await readdir(dir).catch(() => undefined))?.filter((f) => f.includes(NAME)).sort();

const MISSING: { what: string; make: (root: string) => Promise<string> }[] = [
  { what: "a folder that does not exist", make: async (root) => path.join(root, "sent") },
  { what: "a folder under one that does not exist (an unmounted disk)", make: async (root) => path.join(root, "mnt", "sent") },
  {
    what: "a file, not a folder",
    make: async (root) => {
      await writeFile(path.join(root, "sent"), "");
      return path.join(root, "sent");
    },
  },
];

describe("--uploaded-to that is not a folder: refused, never created", () => {
  it.for(MISSING.flatMap((m) => (["moveUploaded", "finishMoves"] as const).map((how) => [m.what, how] as const)))(
    "%s (%s): E_UPLOADED_TO_MISSING, the archive stays in --out, and moves once the folder exists",
    async ([what, how]) => {
      const { root, out, sha256, journal } = await uploadedOutbox();
      const dir = await MISSING.find((m) => m.what === what)!.make(root);
      const problems =
        how === "moveUploaded"
          ? [await moveUploaded(out, journal, { name: NAME, sha256 }, dir, now)]
          : (await finishMoves(out, journal, dir, now)).notMoved.map((m) => m.problem);
      expect(problems).toEqual([
        expect.objectContaining({ code: "E_UPLOADED_TO_MISSING", message: expect.stringContaining(dir) }),
      ]);
      expect(await files(out)).toEqual([NAME, REPORT]);
      if (what !== "a file, not a folder") expect(await files(dir), "not created").toBeUndefined();
      // the folder appears (the disk is mounted): the next run moves it there
      const sent = path.join(root, "mounted");
      await mkdir(sent);
      expect(await finishMoves(out, await readUploads(out), sent, now)).toEqual({ warnings: [], notMoved: [] });
      expect(await files(sent)).toEqual([NAME, REPORT]);
      expect(await files(out)).toEqual([]);
    },
  );
});

describe("a move journaled to a folder, and a later run given another --uploaded-to", () => {
  /** A move begun to `first` (journaled "moving") and cut short, as `cut` left it. */
  const CUTS: { what: string; cut: (out: string, first: string) => Promise<void>; goesTo: "second" | "first" }[] = [
    { what: "the first folder unmounted since (gone)", cut: async () => undefined, goesTo: "second" },
    {
      what: "a partial copy left in the first (a full disk)",
      cut: async (_, first) => {
        await mkdir(first);
        await writeFile(path.join(first, `.${NAME}.partial`), "PK");
      },
      goesTo: "second",
    },
    {
      what: "the archive moved to the first, its report not yet",
      cut: async (out, first) => {
        await mkdir(first);
        await rename(path.join(out, NAME), path.join(first, NAME));
      },
      goesTo: "first",
    },
    {
      what: "a copy across disks renamed into place in the first, --out's not yet removed",
      cut: async (out, first) => {
        await mkdir(first);
        await copyFile(path.join(out, NAME), path.join(first, NAME));
      },
      goesTo: "first",
    },
    {
      what: "another file of the archive's name in the first (not a copy of it)",
      cut: async (_, first) => {
        await mkdir(first);
        await writeFile(path.join(first, NAME), "PK another archive altogether");
      },
      goesTo: "second",
    },
  ];
  it.for(CUTS.map((c) => [c.what, c] as const))("%s", async ([, c]) => {
    const { root, out, journal } = await uploadedOutbox();
    const first = path.join(root, "first");
    const second = path.join(root, "second");
    await mkdir(second);
    await appendUploads(out, [{ type: "moving", archive: NAME, to: first, at: now() }], journal);
    await c.cut(out, first);
    const { warnings } = await finishMoves(out, await readUploads(out), second, now);
    const where = c.goesTo === "second" ? second : first;
    expect(await files(where)).toEqual([NAME, REPORT]);
    expect(await files(out)).toEqual([]);
    if (c.goesTo === "second") {
      expect(warnings).toEqual([
        expect.objectContaining({ code: "W_UPLOADED_TO_CHANGED", message: expect.stringContaining(second) }),
      ]);
      expect(
        ((await files(first)) ?? []).filter((f) => (c.what.startsWith("another file") ? f !== NAME : true)),
        "nothing of it left in the first",
      ).toEqual([]);
    } else expect(warnings).toEqual([]);
    if (c.goesTo === "first") expect((await files(second)) ?? [], "nothing of it in the second").toEqual([]);
    expect((await readUploads(out)).archives.get(NAME)?.movedTo).toBe(where);
  });
});

describe("E_UPLOADED_TO_NAME_TAKEN names the file that did not move", () => {
  const table: { blocked: string; names: RegExp; stays: RegExp }[] = [
    { blocked: NAME, names: /uploaded, but it cannot be moved/, stays: /the archive and its report stay in --out/ },
    {
      blocked: REPORT,
      names: new RegExp(`uploaded, but its report ${REPORT.replace(/\./g, "\\.")} cannot be moved`),
      stays: /the archive is in .* already; its report .* stays in --out/,
    },
    {
      blocked: PAGE,
      names: new RegExp(`uploaded, but its review page ${PAGE.replace(/\./g, "\\.")} cannot be moved`),
      stays: /the archive is in .* already; its review page .* stays in --out/,
    },
  ];
  for (const { blocked, names, stays } of table)
    it(`another file named ${blocked} in the folder: E_UPLOADED_TO_NAME_TAKEN, never written over, and where each file is`, async () => {
      const { root, out, sha256, journal } = await uploadedOutbox();
      const dir = path.join(root, "sent");
      await mkdir(dir);
      await writeFile(path.join(dir, blocked), "someone else's file");
      const w = await moveUploaded(out, journal, { name: NAME, sha256 }, dir, now);
      expect(w?.code).toBe("E_UPLOADED_TO_NAME_TAKEN");
      expect(w?.message).toMatch(names);
      expect(w?.hint).toContain(`move or rename ${path.join(dir, blocked)}`);
      expect(await readFile(path.join(dir, blocked), "utf8")).toBe("someone else's file");
      expect(w?.hint).toMatch(stays);
      expect(await files(dir)).toEqual(blocked === NAME ? [NAME] : [NAME, REPORT].sort());
      if (blocked !== PAGE) return;
      // (the archive and its report are there: the page is the one left, said so; the next run finishes it)
      expect(await readdir(out)).toContain(PAGE);
    });
});

describe("the review page leaves --out with its archive (it holds thumbnails: left behind, the outbox grows)", () => {
  it("moved with the archive and its report; again a no-op", async () => {
    const { root, out, sha256, journal } = await uploadedOutbox();
    const dir = path.join(root, "sent");
    await mkdir(dir);
    for (let run = 0; run < 2; run++) {
      expect(await moveUploaded(out, journal, { name: NAME, sha256 }, dir, now)).toBeUndefined();
      expect((await readdir(dir)).sort()).toEqual([PAGE, NAME, REPORT].sort());
      expect((await readdir(out)).filter((f) => f.startsWith("batch-"))).toEqual([]);
    }
  });
});
