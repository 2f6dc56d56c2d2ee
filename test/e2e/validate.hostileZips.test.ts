// validate's work on a foreign zip is bounded by the zip, not by what its headers claim (issue 21): the bytes
// it inflates are counted through the InflateBudget seam, never timed. The zips are made here, byte by byte.
// (In the e2e lane: some 15 s of zips inflated, too long for the unit lane.)
import { writeFile } from "node:fs/promises";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { InflateBudget } from "../../src/archive/readZip.js";
import { configSchema } from "../../src/config/schema.js";
import { validateArchive } from "../../src/validate/archive.js";
import { tempDir } from "../helpers.js";
import { type CentralRecord, craftZip, type LocalRecord, zeros } from "../zipCraft.js";

const MiB = 1 << 20;
/** the most one read of a stream can pass its stop (one inflated chunk) */
const CHUNK = 64 * 1024;
/** what docs/guarantees.md promises: at most 100 times the zip's size, or 64 MiB for a small zip */
const totalBound = (zipBytes: number): number => Math.max(64 * MiB, 100 * zipBytes);

async function validateCounted(zip: Buffer, maxImageSize: number) {
  const file = path.join(await tempDir(), "foreign.zip");
  await writeFile(file, zip);
  const budget = new InflateBudget(zip.length);
  const config = configSchema.parse({ images: { maxImageSize } });
  const report = await validateArchive(file, config, { budget });
  return { report, spent: budget.spent, codes: report.problems.map((p) => `${p.code} ${p.path}`) };
}

const name = (i: number): string => `WO_1/big-${String(i).padStart(2, "0")}.jpg`;

interface Row {
  overlap: "shared" | "none";
  entries: number;
  mib: number;
  declared: "honest" | "half" | "double";
  limitMib: number;
  zip64: boolean;
}

const rows: Row[] = [];
for (const overlap of ["shared", "none"] as const)
  for (const entries of [1, 3, 12])
    for (const mib of [2, 16])
      for (const declared of ["honest", "half", "double"] as const)
        for (const limitMib of [4, 32])
          for (const zip64 of [false, true]) rows.push({ overlap, entries, mib, declared, limitMib, zip64 });

describe("validate of a hostile zip inflates a bounded number of bytes", () => {
  it.each(rows)("%o", async (row) => {
    const limit = row.limitMib * MiB;
    const locals: LocalRecord[] =
      row.overlap === "shared"
        ? [zeros(name(0), row.mib)]
        : Array.from({ length: row.entries }, (_, i) => zeros(name(i), row.mib));
    const declaredSize = { honest: row.mib * MiB, half: (row.mib * MiB) / 2, double: row.mib * MiB * 2 }[row.declared];
    const centrals: CentralRecord[] = Array.from({ length: row.entries }, (_, i) => ({
      name: name(i),
      local: row.overlap === "shared" ? 0 : i,
      size: declaredSize,
    }));
    const zip = craftZip(locals, centrals, row.zip64);
    const { spent, codes } = await validateCounted(zip, limit);

    const overlapping = row.overlap === "shared" && row.entries > 1;
    if (overlapping) {
      // refused from the central directory alone: not a byte inflated
      for (let i = 0; i < row.entries; i++) expect(codes).toContain(`E_ZIP_OVERLAP ${name(i)}`);
      expect(spent).toBe(0);
      return;
    }
    expect(codes.filter((c) => c.startsWith("E_ZIP_OVERLAP"))).toEqual([]);
    // each entry: never past its declared size, nor past the limit once it is over it
    const perEntry = Math.min(declaredSize, row.mib * MiB, declaredSize > limit ? limit : Number.POSITIVE_INFINITY) + CHUNK;
    expect(spent).toBeLessThanOrEqual(row.entries * perEntry);
    expect(spent).toBeLessThanOrEqual(totalBound(zip.length) + CHUNK);
    if (declaredSize > limit) {
      for (let i = 0; i < row.entries; i++) expect(codes).toContain(`E_IMAGE_TOO_BIG ${name(i)}`);
    }
    // past the total bound it says so, once
    const wanted = row.entries * Math.min(declaredSize, row.mib * MiB, limit);
    if (wanted > totalBound(zip.length) + CHUNK) expect(codes.filter((c) => c.startsWith("E_ZIP_BOMB"))).toHaveLength(1);
  });
});

describe("the hostile tester's shapes (issue 21), made here rather than committed", () => {
  // one local entry of 4 GiB of zeros (4 MB deflated), zip64
  const big = zeros(name(0), 4096);

  it("overlap.zip: 12 central entries over one 4 GiB local entry: every one E_ZIP_OVERLAP, nothing inflated", async () => {
    const centrals = Array.from({ length: 12 }, (_, i) => ({ name: name(i), local: 0 }));
    const { report, spent, codes } = await validateCounted(craftZip([big], centrals, true), 5_000_000);
    expect(spent).toBe(0);
    expect(codes.filter((c) => c.startsWith("E_ZIP_OVERLAP"))).toEqual(centrals.map((c) => `E_ZIP_OVERLAP ${c.name}`));
    const second = report.problems.find((p) => p.code === "E_ZIP_OVERLAP" && p.path === name(1));
    expect(second?.message).toContain(name(0));
    expect(second?.hint).toBeTruthy();
  });

  it("bomb.zip: one honest 4 GiB entry: E_IMAGE_TOO_BIG, read no further than the limit", async () => {
    const { report, spent, codes } = await validateCounted(craftZip([big], [{ name: name(0), local: 0 }], true), 5_000_000);
    expect(codes).toContain(`E_IMAGE_TOO_BIG ${name(0)}`);
    expect(report.problems.find((p) => p.code === "E_IMAGE_TOO_BIG")?.message).toMatch(/CRC-32 not checked/);
    expect(spent).toBeLessThanOrEqual(5_000_000 + CHUNK);
  });

  it("1,000 entries, each its own 1 MiB of zeros: the total stops at the bound, with E_ZIP_BOMB", async () => {
    const locals = Array.from({ length: 1000 }, (_, i) => zeros(`WO_1/z-${i}.jpg`, 1));
    const zip = craftZip(
      locals,
      locals.map((l, i) => ({ name: l.name, local: i })),
      false,
    );
    const { spent, codes } = await validateCounted(zip, 5_000_000);
    expect(spent).toBeLessThanOrEqual(totalBound(zip.length) + CHUNK);
    expect(codes.filter((c) => c.startsWith("E_ZIP_BOMB"))).toHaveLength(1);
  });

  it("a real archive's entries are still read whole and CRC-checked", async () => {
    const local = zeros("WO_1/a-0.jpg", 2);
    const ok = await validateCounted(craftZip([local], [{ name: local.name, local: 0 }], false), 5_000_000);
    expect(ok.spent).toBe(2 * MiB);
    expect(ok.codes.filter((c) => c.startsWith("E_ZIP"))).toEqual([]);
    const bad = await validateCounted(
      craftZip([{ ...local, crc: (local.crc ^ 1) >>> 0 }], [{ name: local.name, local: 0 }], false),
      5_000_000,
    );
    expect(bad.codes).toContain("E_ZIP_CRC WO_1/a-0.jpg");
  });
});
