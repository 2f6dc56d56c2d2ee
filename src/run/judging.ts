// The photo checks (SPEC §15) in a pack pass: the index of packed pictures opened once (this outbox, and its
// siblings with --shard), each prepared work order judged in plan order before it is written (so later work
// orders of the same run are compared with it), its pictures handed to the commit for the index's append.
import {
  type CheckCounts,
  type CheckedWorkOrder,
  indexedPictures,
  judgeWorkOrder,
  PENDING_ARCHIVE,
  type PhotoCheckSettings,
  photoWarning,
  reuseMessage,
} from "../checks/checks.js";
import { openPictureIndex } from "../checks/pictureIndex.js";
import type { PictureIndex } from "../checks/pictures.js";
import type { Clock } from "../core/clock.js";
import type { Problem } from "../core/errors.js";
import type { ArchiveReport, Logger, PackedEntry, PhotoFinding } from "../core/types.js";
import { pixelChecksOn } from "../prepare/photoFacts.js";
import type { Prepared } from "../prepare/prepare.js";
import { checkOfCode } from "../spec/findingWords.js";

let saidStructure = false;

/** The index when reuse is off: nothing is looked up (a work order's pictures still go to the commit). */
const NO_INDEX: PictureIndex = { find: () => undefined, add() {}, drop() {}, size: 0 };

export class PhotoChecks {
  /** this run's work orders committed so far -> their archive */
  private readonly committed = new Map<string, string>();
  private readonly counts = new Map<string, CheckCounts>();
  /** the warning each finding became (a batch written again without a changed one is settled again) */
  private readonly warned = new WeakMap<PhotoFinding, Problem>();

  private constructor(
    private readonly checks: PhotoCheckSettings,
    private readonly index: PictureIndex,
    private readonly out: string,
    private readonly now: Clock,
  ) {}

  /**
   * The checks of a pass, or undefined when every check is off. `ledger`: the archives committed in `out`
   * (undefined in a dry run without one: nothing packed before is compared).
   */
  static async open(o: {
    checks: PhotoCheckSettings;
    verify: "pixels" | "structure";
    out: string;
    ledger: { archives: ReadonlySet<string> } | undefined;
    siblings: boolean;
    now: Clock;
    log: Logger;
  }): Promise<PhotoChecks | undefined> {
    const { checks } = o;
    if (!Object.values(checks).some((c) => c.action !== "off")) return undefined;
    if (o.verify === "structure" && pixelChecksOn(checks) && !saidStructure) {
      saidStructure = true; // (once per process: watch runs a pass after another)
      o.log.info(
        "images.verify is structure: photos are not decoded to be checked, so the photo checks that need their pixels (reuse, duplicate, blur, exposure) do not run; age and distance do",
      );
    }
    // (only reuse looks back at what was packed before: without it the index is not read)
    if (checks.reuse.action === "off") return new PhotoChecks(checks, NO_INDEX, o.out, o.now);
    const index = await openPictureIndex(o.out, {
      siblings: o.siblings,
      ledger: o.ledger ?? { archives: new Set<string>() },
    });
    for (const p of index.problems) o.log.warn(`${p.code}: ${p.message} (hint: ${p.hint})`);
    return new PhotoChecks(checks, index, o.out, o.now);
  }

  /**
   * Judges a prepared work order: the problems that refuse it (a check set to "refuse"), else none, and its
   * findings are on its report's entries; its pictures join the index (in memory, and for the commit).
   */
  judge(p: Prepared): Problem[] {
    const wo: CheckedWorkOrder = { id: p.wo.id, metadata: p.wo.metadata, photos: p.photos };
    const j = judgeWorkOrder(wo, { checks: this.checks, index: this.index, now: this.now(), committed: this.committed });
    if (j.problems.length) return j.problems;
    for (const r of p.report) {
      const found = j.findings.get(r.entry);
      if (found) r.checks = found;
    }
    this.counts.set(p.wo.id, j.counts);
    const pictures = indexedPictures(wo, PENDING_ARCHIVE, this.out);
    this.index.add(pictures);
    p.pictures = pictures.map(({ hash, sha256, workOrder, entry }) => ({
      hash,
      ...(sha256 ? { sha256 } : {}),
      workOrder,
      entry,
    }));
    return [];
  }

  /**
   * Before a batch is committed: each finding names the archive of its earlier picture where that is known
   * (an archive of this run committed since, or this one), and becomes one of its work order's warnings.
   * The counts per check of the batch, for its report.
   */
  settle(batch: readonly Prepared[]): ArchiveReport["photoChecks"] {
    const inBatch = new Set(batch.map((p) => p.wo.id));
    const total: NonNullable<ArchiveReport["photoChecks"]> = {};
    for (const p of batch) {
      for (const r of p.report) {
        for (const f of [...(r.checks ?? [])]) {
          const e = f.earlier;
          if (f.code === "W_PHOTO_REUSED" && e && e.archive === PENDING_ARCHIVE) {
            const committed = this.committed.get(e.workOrder);
            if (committed) e.archive = committed;
            else if (!inBatch.has(e.workOrder)) {
              // (its earlier work order was left out of this batch, a photo of it changed while it was
              // written: it is packed nowhere, so this photo was not packed before)
              this.unwarn(p, r, f);
              continue;
            }
            f.message = reuseMessage(r, p.wo.id, e, !committed);
          }
          const before = this.warned.get(f);
          if (before?.message === f.message) continue;
          if (before) p.warnings.splice(p.warnings.indexOf(before), 1);
          const w = photoWarning(f, r.source);
          this.warned.set(f, w);
          p.warnings.push(w);
        }
      }
      for (const [check, c] of Object.entries(this.counts.get(p.wo.id) ?? {})) {
        const t = total[check] ?? { passed: 0, warned: 0 };
        total[check] = { passed: t.passed + (c.passed ?? 0), warned: t.warned + (c.warned ?? 0) };
      }
    }
    return Object.keys(total).length ? total : undefined;
  }

  /** Takes a finding back: off its entry, its warning and the counts (the photo passed after all). */
  private unwarn(p: Prepared, r: PackedEntry, f: PhotoFinding): void {
    r.checks = r.checks?.filter((x) => x !== f);
    if (!r.checks?.length) delete r.checks;
    const w = this.warned.get(f);
    if (w && p.warnings.includes(w)) p.warnings.splice(p.warnings.indexOf(w), 1);
    const check = checkOfCode(f.code);
    const c = check && this.counts.get(p.wo.id)?.[check];
    if (c) {
      c.warned = (c.warned ?? 1) - 1;
      c.passed = (c.passed ?? 0) + 1;
    }
  }

  /** A judged work order was left out of its archive (a photo moved or changed meanwhile): packed nowhere. */
  dropped(id: string): void {
    this.index.drop(id);
    this.counts.delete(id);
  }

  /** A batch was committed as `archive`: later findings name it. */
  committedAs(batch: readonly Prepared[], archive: string): void {
    for (const p of batch) {
      this.committed.set(p.wo.id, archive);
      this.counts.delete(p.wo.id);
    }
  }

  /** A dry run's work order judged: its findings as warnings now (nothing is committed). */
  warningsOf(p: Prepared): Problem[] {
    return p.report.flatMap((r) => (r.checks ?? []).map((f) => photoWarning(f, r.source)));
  }
}

/** How many findings of each check a list of problems holds (refusals: E_PHOTO_*; warnings: W_PHOTO_*). */
export function findingsByCheck(problems: readonly Problem[]): Record<string, number> {
  const n: Record<string, number> = {};
  for (const p of problems) {
    const check = checkOfCode(p.code);
    if (check) n[check] = (n[check] ?? 0) + 1;
  }
  return n;
}
