// prune and status read the upload journal by one rule (the same bytes uploaded as another archive count,
// unless the archive itself was uploaded or needs attention): prune deletes an old archive exactly when
// status says "uploaded" (issue 21). A table of every pairing of the archive's own journal state with that
// of an archive of the same bytes, journaled before or after it.
import { mkdir, writeFile } from "node:fs/promises";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { appendLedger } from "../../src/commit/ledger.js";
import { REPORT_SUFFIX } from "../../src/commit/recovery.js";
import { appendUploads, type UploadRecord } from "../../src/commit/uploads.js";
import { pruneHeld } from "../../src/run/prune.js";
import { status } from "../../src/run/status.js";
import { BATCH_MISSING } from "../../src/upload/protocol.js";
import { tempDir } from "../helpers.js";

const SHA = "a".repeat(64);
const at = "2026-01-02T00:00:00.000Z";
const now = () => new Date("2026-12-01T00:00:00Z");

type Journal = (archive: string) => UploadRecord[];
const uploaded = (archive: string): UploadRecord[] => [
  { type: "intent", archive, sha256: SHA, bytes: 3, at },
  { type: "batch", archive, batchId: `b-${archive}`, uploadUrl: "https://x/s", at },
  { type: "uploaded", archive, sha256: SHA, batchId: `b-${archive}`, at },
];
const said = (word: string) => (archive: string) => [
  ...uploaded(archive),
  { type: "status" as const, archive, batchId: `b-${archive}`, status: word, at },
];

const OWN: Record<string, Journal> = {
  "never tried": () => [],
  uploading: (archive) => [{ type: "intent", archive, sha256: SHA, bytes: 3, at }],
  failed: (archive) => [{ type: "failed", archive, code: "E_UPLOAD_REFUSED", message: "no", at }],
  attention: (archive) => [
    { type: "intent", archive, sha256: SHA, bytes: 3, at },
    { type: "attention", archive, batchId: "b-part", reason: "DELETE 405", at },
  ],
  uploaded,
  "uploaded, then refused": said("failed"),
  "uploaded, then missing": said(`${BATCH_MISSING} (404)`),
  "uploaded, then done": said("done"),
};
const TWIN: Record<string, Journal> = {
  none: () => [],
  uploaded,
  "uploaded, then refused": said("rejected"),
  "uploaded, then missing": said(`${BATCH_MISSING} (410)`),
};

describe("prune and status agree on whether an archive is uploaded", () => {
  for (const [own, ownRecords] of Object.entries(OWN))
    for (const [twin, twinRecords] of Object.entries(TWIN))
      for (const ownFirst of [false, true])
        it(`its own journal: ${own}; the same bytes as another archive: ${twin}${ownFirst ? " (journaled after)" : ""}`, async () => {
          const out = await tempDir("wopack-agree-");
          await mkdir(path.join(out, ".wopack", "tmp"), { recursive: true });
          for (const name of ["a1.zip", "a2.zip"]) {
            await writeFile(path.join(out, name), "zip");
            const report = { archive: name, sha256: SHA, bytes: 3, createdAt: at, workOrders: [{ id: "WO_1" }] };
            await writeFile(path.join(out, name + REPORT_SUFFIX), JSON.stringify(report));
          }
          await appendLedger(out, [
            { type: "commit", id: "WO_1", fingerprint: "f", archive: "a1.zip", at },
            { type: "commit", id: "WO_1", fingerprint: "f", archive: "a2.zip", at },
          ]);
          const [mine, theirs] = [ownRecords("a2.zip"), twinRecords("a1.zip")];
          const records = ownFirst ? [...mine, ...theirs] : [...theirs, ...mine];
          if (records.length) await appendUploads(out, records);

          const line = (await status(out, { now })).find((l) => l.archive === "a2.zip");
          const env = { WOPACK_API_URL: "https://platform.example/api" };
          const pruned = await pruneHeld({ out, olderThanMs: 1, env, now });
          const deleted = pruned.pruned.some((p) => p.path === path.join(out, "a2.zip"));
          expect(deleted, `status says ${line?.state}${line?.sameAs ? ` (same bytes as ${line.sameAs})` : ""}`).toBe(
            line?.state === "uploaded",
          );
        });
});
