// The upload's pure parts and its journal: retry timing, the protocol's small rules, compaction.
import { mkdir } from "node:fs/promises";
import { describe, expect, it } from "vitest";
import { stateDir, tmpDir } from "../src/commit/paths.js";
import { appendUploads, compactUploads, readUploads, type UploadRecord } from "../src/commit/uploads.js";
import { batchesUrl, retryAfterMs, statusLooksFailed } from "../src/upload/protocol.js";
import { backoffMs } from "../src/upload/retry.js";
import { tempDir } from "./helpers.js";

describe("the protocol's small rules", () => {
  it("batch URLs, with or without a trailing slash on the base", () => {
    expect(batchesUrl("https://api.x/v0.2")).toBe("https://api.x/v0.2/batches/");
    expect(batchesUrl("https://api.x/v0.2/", "a b")).toBe("https://api.x/v0.2/batches/a%20b/");
  });

  it("Retry-After in seconds or as an HTTP date; nonsense is no hint", () => {
    const now = Date.parse("2026-12-02T10:00:00Z");
    expect(retryAfterMs("7", now)).toBe(7000);
    expect(retryAfterMs("Wed, 02 Dec 2026 10:00:30 GMT", now)).toBe(30_000);
    expect(retryAfterMs("soon", now)).toBeUndefined();
    expect(retryAfterMs(null, now)).toBeUndefined();
  });

  it("statuses that read like failures are failures; anything else is still accepted", () => {
    for (const s of ["error", "FAILED", "upload_failed", "rejected", "cancelled"]) expect(statusLooksFailed(s)).toBe(true);
    for (const s of ["processing", "done", "pending", "unknown", "waiting_upload"]) expect(statusLooksFailed(s)).toBe(false);
  });

  it("backoff grows to a minute at most, with full jitter", () => {
    expect(backoffMs(0, () => 0.999)).toBeLessThan(1000);
    expect(backoffMs(3, () => 1)).toBe(8000);
    expect(backoffMs(30, () => 1)).toBe(60_000);
    expect(backoffMs(5, () => 0)).toBe(0);
  });
});

describe("the upload journal", () => {
  const at = "2026-12-02T10:00:00.000Z";

  it("after compaction it says the same of every archive, and the same bytes are still never sent twice", async () => {
    const out = await tempDir();
    await mkdir(tmpDir(out), { recursive: true });
    const records: UploadRecord[] = [];
    for (let i = 0; i < 300; i++) {
      const archive = `batch-${i}.zip`;
      records.push({ type: "intent", archive, sha256: `sha${i}`, bytes: 1000, at });
      records.push({ type: "batch", archive, batchId: `b${i}`, uploadUrl: `http://s/${i}`, at });
      for (let o = 1; o <= 10; o++) records.push({ type: "offset", archive, batchId: `b${i}`, confirmed: o * 10, at });
      if (i % 3 === 0) records.push({ type: "uploaded", archive, sha256: `sha${i}`, batchId: `b${i}`, at });
      if (i % 3 === 1) records.push({ type: "failed", archive, code: "E_UPLOAD_REFUSED", message: "no", at });
    }
    await appendUploads(out, records);
    const before = await readUploads(out);
    expect(before.records).toBe(records.length);
    await compactUploads(out, before);
    const after = await readUploads(out);
    expect(after.records).toBe(300);
    expect(after.archives).toEqual(before.archives);
    expect(after.uploadedSha).toEqual(before.uploadedSha);
    expect(after.uploadedSha.get("sha3")).toBe("batch-3.zip");
    expect(after.archives.get("batch-2.zip")).toMatchObject({ batchId: "b2", confirmed: 100 });
  });

  it("a torn last line (a crash mid-append) is skipped, and the next append starts on a line of its own", async () => {
    const out = await tempDir();
    await mkdir(stateDir(out), { recursive: true });
    await appendUploads(out, [{ type: "intent", archive: "a.zip", sha256: "s", bytes: 1, at }]);
    const { appendFile } = await import("node:fs/promises");
    const { uploadsPath } = await import("../src/commit/uploads.js");
    await appendFile(uploadsPath(out), '{"type":"batch","archive":"a.zip","batchId":"x","uplo');
    expect((await readUploads(out)).archives.get("a.zip")?.batchId).toBeUndefined();
    await appendUploads(out, [{ type: "batch", archive: "a.zip", batchId: "y", uploadUrl: "u", at }]);
    expect((await readUploads(out)).archives.get("a.zip")?.batchId).toBe("y");
  });
});
