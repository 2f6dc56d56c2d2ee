// --uploaded-to naming --out itself (or a path that is --out under another name: a symlink): the archive is
// already where it should go. It stays there; it is never taken for "an earlier move's whole copy" and
// removed from --out, which would leave it nowhere.
import { createHash } from "node:crypto";
import { lstat, readdir, readFile, rm, symlink, writeFile } from "node:fs/promises";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { appendUploads, readUploads } from "../../src/commit/uploads.js";
import { finishMoves, moveUploaded } from "../../src/upload/uploadedTo.js";
import { tempDir } from "../helpers.js";

const NAME = "batch-20261206-0001.zip";
const now = () => "2026-12-06T05:00:00.000Z";

/** An --out holding one uploaded archive and its report, and its journal. */
async function uploadedOutbox() {
  const out = await tempDir("wopack-uploaded-same-");
  const bytes = Buffer.from("PK\u0005\u0006 an archive's bytes");
  const sha256 = createHash("sha256").update(bytes).digest("hex");
  await writeFile(path.join(out, NAME), bytes);
  await writeFile(path.join(out, `${NAME}.report.json`), JSON.stringify({ sha256, bytes: bytes.length }));
  const journal = await readUploads(out);
  await appendUploads(out, [{ type: "uploaded", archive: NAME, sha256, batchId: "b1", at: now() }], journal);
  return { out, sha256, journal };
}

const kept = async (out: string) => (await readdir(out)).filter((f) => f.startsWith(NAME)).sort();

describe("--uploaded-to that is --out itself", () => {
  it("leaves the uploaded archive and its report in --out (moveUploaded)", async () => {
    const { out, sha256, journal } = await uploadedOutbox();
    await moveUploaded(out, journal, { name: NAME, sha256 }, out, now);
    expect(await kept(out)).toEqual([NAME, `${NAME}.report.json`]);
  });

  it("leaves them when the next run finishes moves (finishMoves)", async () => {
    const { out, journal } = await uploadedOutbox();
    await finishMoves(out, journal, out, now);
    expect(await kept(out)).toEqual([NAME, `${NAME}.report.json`]);
  });

  it("leaves them when --uploaded-to is a symlink to --out", async () => {
    const { out, sha256, journal } = await uploadedOutbox();
    const alias = path.join(await tempDir("wopack-uploaded-alias-"), "sent");
    await symlink(out, alias);
    await moveUploaded(out, journal, { name: NAME, sha256 }, alias, now);
    expect(await kept(out)).toEqual([NAME, `${NAME}.report.json`]);
  });
});

describe("a link under the archive's name in --uploaded-to (issue 21, finding 4)", () => {
  // wherever it points, a link is not the archive there: taken for "moved" (to the original in --out) or
  // for "an earlier move's whole copy" (to a copy elsewhere), the original was left to prune, or removed
  const LINKS: { what: string; target: (out: string, elsewhere: string) => string }[] = [
    { what: "to the archive in --out", target: (out) => path.join(out, NAME) },
    { what: "to a copy of it elsewhere", target: (_, elsewhere) => path.join(elsewhere, NAME) },
    { what: "to nothing", target: (_, elsewhere) => path.join(elsewhere, "gone.zip") },
  ];
  it.for(LINKS.map((l) => [l.what, l] as const))("a link %s: not moved, a warning, the archive stays in --out", async ([, l]) => {
    const { out, sha256, journal } = await uploadedOutbox();
    const elsewhere = await tempDir("wopack-uploaded-copy-");
    await writeFile(path.join(elsewhere, NAME), await readFile(path.join(out, NAME)));
    const dest = await tempDir("wopack-uploaded-dest-");
    await symlink(l.target(out, elsewhere), path.join(dest, NAME));
    const warning = await moveUploaded(out, journal, { name: NAME, sha256 }, dest, now);
    expect(warning?.code).toBe("W_UPLOADED_NOT_MOVED");
    expect(warning?.message).toMatch(new RegExp(`${NAME.replace(/\./g, "\\.")} there is a link \\(to .*\\), not the archive`));
    expect(await kept(out)).toEqual([NAME, `${NAME}.report.json`]);
    expect((await readUploads(out)).archives.get(NAME)?.movedTo, "not journaled as moved").toBeUndefined();
    expect((await lstat(path.join(dest, NAME))).isSymbolicLink(), "the link is left as it was").toBe(true);

    // the next starts (the journal read again): the same refusal is not warned of again, nor moved
    for (let start = 0; start < 2; start++) {
      const again = await moveUploaded(out, await readUploads(out), { name: NAME, sha256 }, dest, now);
      expect(again, `start ${start + 2}`).toBeUndefined();
      expect(await kept(out)).toEqual([NAME, `${NAME}.report.json`]);
    }
    // another link there is another refusal: said once more
    await rm(path.join(dest, NAME));
    await symlink(path.join(elsewhere, "other.zip"), path.join(dest, NAME));
    expect((await moveUploaded(out, await readUploads(out), { name: NAME, sha256 }, dest, now))?.code).toBe(
      "W_UPLOADED_NOT_MOVED",
    );
    // the link removed: the next start moves it
    await rm(path.join(dest, NAME));
    expect(await moveUploaded(out, await readUploads(out), { name: NAME, sha256 }, dest, now)).toBeUndefined();
    expect(await kept(out)).toEqual([]);
    expect((await readUploads(out)).archives.get(NAME)?.movedTo).toBe(dest);
  });
});
