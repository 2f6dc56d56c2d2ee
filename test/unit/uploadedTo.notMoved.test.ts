// The archives uploaded but not yet moved where --uploaded-to says (watch's status: uploads.notMoved): since
// the first refusal for that reason, that time kept through a compaction of the journal and a later run
// that meets the same refusal; none once the move is done.
import { createHash } from "node:crypto";
import { mkdir, writeFile } from "node:fs/promises";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { appendUploads, compactUploads, readUploads, uploadedNotMoved } from "../../src/commit/uploads.js";
import { moveUploaded } from "../../src/upload/uploadedTo.js";
import { tempDir } from "../helpers.js";

const NAME = "batch-20261206-0001.zip";
const at = (m: number) => new Date(Date.parse("2026-12-06T05:00:00Z") + m * 60_000).toISOString();

describe("uploadedNotMoved", () => {
  it("says which archive waits, for which folder, why and since when; kept by a compaction; none once moved", async () => {
    const root = await tempDir("wopack-not-moved-");
    const out = path.join(root, "out");
    await mkdir(out);
    const bytes = Buffer.from("PK\u0005\u0006 an archive's bytes");
    const sha256 = createHash("sha256").update(bytes).digest("hex");
    await writeFile(path.join(out, NAME), bytes);
    await writeFile(path.join(out, `${NAME}.report.json`), JSON.stringify({ sha256, bytes: bytes.length }));
    let journal = await readUploads(out);
    await appendUploads(out, [{ type: "uploaded", archive: NAME, sha256, batchId: "b1", at: at(0) }], journal);
    const sent = path.join(root, "sent");

    expect(await moveUploaded(out, journal, { name: NAME, sha256 }, sent, () => at(1))).toMatchObject({
      code: "E_UPLOADED_TO_MISSING",
    });
    const waiting = [
      { archive: NAME, to: sent, code: "E_UPLOADED_TO_MISSING", reason: expect.stringContaining("does not exist"), at: at(1) },
    ];
    expect(uploadedNotMoved(journal)).toEqual(waiting);
    // a later run meets the same refusal: still since the first
    await moveUploaded(out, journal, { name: NAME, sha256 }, sent, () => at(30));
    await compactUploads(out, journal);
    journal = await readUploads(out);
    expect(uploadedNotMoved(journal)).toEqual(waiting);

    await mkdir(sent);
    expect(await moveUploaded(out, journal, { name: NAME, sha256 }, sent, () => at(31))).toBeUndefined();
    expect(uploadedNotMoved(journal)).toEqual([]);
    expect(uploadedNotMoved(await readUploads(out))).toEqual([]);
  });
});
