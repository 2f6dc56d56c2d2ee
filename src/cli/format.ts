import type { Problem } from "../core/errors.js";
import { terminalText } from "../core/text.js";
import type { HookRun, PackResult } from "../core/types.js";
import type { DoctorCheck } from "../run/doctor.js";
import type { PruneResult } from "../run/prune.js";
import type { ReviewResult } from "../run/review.js";
import type { ArchiveStatus } from "../run/status.js";
import type { UploadOutcome } from "../run/upload.js";
import type { ValidationReport } from "../run/validate.js";
import { describeCounts } from "../spec/images.js";
import { maybeMadeProblem } from "../upload/uploadProblems.js";

/** Lines as the terminal shows them: a name's control characters escaped, so it cannot forge a line. */
const shown = (lines: readonly string[]) => lines.map((l) => terminalText(l)).join("\n");

function mb(bytes: number): string {
  return `${(bytes / 1e6).toFixed(1)} MB`;
}

function problemLines(p: Problem, indent: string): string[] {
  return [`${indent}${p.code}  ${p.message}`, `${indent}  hint: ${p.hint}`];
}

const workOrders = (n: number) => `${n} work order${n === 1 ? "" : "s"}`;

const count = (n: number, what: string) => `${n} ${what}${n === 1 ? "" : "s"}`;

/**
 * The human summary of a pack run: what it made, and how many of each thing the log told as it went (a
 * refusal with every problem, a warning with its hint, a failed hook or move): each is told once, there.
 */
export function formatPackResult(r: PackResult, verbose: boolean): string {
  const lines: string[] = [];
  const packedCount = r.dryRun ? (r.planned?.length ?? 0) : r.packed.length;
  // (the run's warnings hold each packed work order's too)
  const warnings = r.warnings.length;
  const failedHooks = r.hooks.filter((x) => !x.ok).length;
  const told = [
    ...(warnings ? [count(warnings, "warning")] : []),
    ...(failedHooks ? [`${count(failedHooks, "failed hook")}`] : []),
    ...(r.moveFailures.length ? [`${r.moveFailures.length} not moved`] : []),
  ];
  lines.push(
    `${r.dryRun ? "dry run: would pack" : "packed"} ${packedCount} work order${packedCount === 1 ? "" : "s"}` +
      `, refused ${r.refused.length}, already packed ${r.alreadyPacked.length}, pending ${r.pending.length}` +
      (told.length ? `; ${told.join(", ")} (logged above)` : ""),
  );
  // (a run that packed nothing has no photos to count)
  if (r.photos && r.photos.copied + r.photos.trimmed + r.photos.converted > 0)
    lines.push(`  photos: ${describeCounts(r.photos)}`);
  for (const a of r.archives) {
    lines.push(`  ${a.path}  (${mb(a.bytes)}, ${workOrders(a.workOrders.length)}, sha256 ${a.sha256.slice(0, 12)}…)`);
    if (a.reviewPage) lines.push(`    review: ${a.reviewPage}`);
  }
  if (r.uploads)
    lines.push(
      ...formatUploads(r.uploads)
        .split("\n")
        .map((l) => `  ${l}`),
    );
  if (r.dryRun) {
    for (const wo of r.planned ?? []) {
      lines.push(`  ${wo.id}`);
      for (const p of wo.photos) lines.push(`    ${p.source} -> ${p.name}`);
    }
  }
  if (r.refused.length)
    lines.push(
      `refused: ${r.refused.map((wo) => `${wo.id} (${[...new Set(wo.problems.map((p) => p.code))].join(", ")})`).join(", ")}`,
    );
  if (verbose) {
    for (const wo of r.alreadyPacked) lines.push(`already packed (same content): ${wo.id}`);
    for (const wo of r.pending) lines.push(`pending ${wo.id}: ${wo.reason}`);
  } else if (r.pending.length) {
    lines.push(`pending: ${r.pending.map((p) => p.id).join(", ")} (--verbose says why)`);
  }
  return shown(lines);
}

/** The human report of `validate`: every problem with its path, then a one-line verdict. */
export function formatValidation(r: ValidationReport): string {
  const lines: string[] = [];
  for (const p of r.problems) lines.push(...problemLines(p, ""));
  for (const w of r.warnings) lines.push(...problemLines(w, "warning: "));
  const what = r.kind === "archive" ? "archive" : "staging folder";
  lines.push(
    r.problems.length
      ? `${r.target}: ${r.problems.length} problem${r.problems.length === 1 ? "" : "s"} (${workOrders(r.workOrders)} checked)`
      : `${r.target}: the ${what} is valid (${workOrders(r.workOrders)} checked)`,
  );
  return shown(lines);
}

/** The human summary of an upload run. */
export function formatUploads(outcomes: UploadOutcome[]): string {
  if (!outcomes.length) return "nothing to upload: every committed archive has reached the platform";
  const lines: string[] = [];
  for (const o of outcomes) {
    const notMoved = o.notMovedTo === undefined ? "" : `, not moved to ${o.notMovedTo}`;
    if (o.result === "uploaded") lines.push(`uploaded  ${o.archive}  (batch ${o.batchId}${notMoved})`);
    else if (o.result === "cleared")
      lines.push(
        `cleared   ${o.archive}  (another run holds the output folder: a running watch --upload sends it within seconds; else run wopack upload again once that run ends)`,
      );
    else if (o.result === "already") lines.push(`already   ${o.archive}${o.batchId ? `  (batch ${o.batchId}${notMoved})` : ""}`);
    else if (o.problem)
      lines.push(`${o.result === "attention" ? "attention" : "failed   "} ${o.archive}`, ...problemLines(o.problem, "  "));
    for (const w of o.warnings) lines.push(...problemLines(w, "  "));
  }
  const failed = outcomes.filter((o) => o.result === "failed").length;
  const attention = outcomes.filter((o) => o.result === "attention").length;
  const cleared = outcomes.filter((o) => o.result === "cleared").length;
  lines.push(
    `${outcomes.filter((o) => o.result === "uploaded").length} uploaded, ${failed} failed${attention ? `, ${attention} need attention` : ""}${cleared ? `, ${cleared} cleared for the run holding the output folder to send` : ""}`,
  );
  return shown(lines);
}

/** `wopack status`: one line per archive. */
export function formatStatus(lines: ArchiveStatus[], stuck: ArchiveStatus[]): string {
  if (!lines.length) return "no committed archives";
  // (each an own line: one text with a line break in it would be escaped as a name's is)
  const out = lines.flatMap((l) => {
    const what =
      l.state === "uploading"
        ? `uploading ${mb(l.confirmed ?? 0)} of ${mb(l.bytes ?? 0)}`
        : l.state === "uploaded"
          ? `uploaded${l.notMoved ? `, not moved to ${l.notMoved.to}: ${l.notMoved.code ? `${l.notMoved.code}: ` : ""}${l.notMoved.reason}` : ""} (${l.sameAs ? `the same bytes as ${l.sameAs}: ` : ""}batch ${l.batchId}${l.platformStatus ? `, ${l.platformStatus}` : ""})`
          : l.state === "failed" || l.state === "attention"
            ? `${l.state === "failed" ? "failed" : "needs attention"} at ${l.since}: ${l.problem?.code ?? ""} ${l.problem?.message ?? ""}`
            : l.attentionCleared
              ? `committed, to send again (attention cleared at ${l.attentionCleared})`
              : "committed, not uploaded";
    const unknown = l.refreshError ? [`  not refreshed: ${l.refreshError.code}: ${l.refreshError.message}`] : [];
    return [`${l.archive}  ${what}${stuck.includes(l) ? "  (waiting too long)" : ""}`, ...unknown, ...maybeMade(l)];
  });
  // (`status` cannot see the flags of the run that uploads: only that run can tell a fault from a choice)
  if (lines.some((l) => l.notMoved))
    out.push(
      "hint: the next wopack upload (or the running watch) finishes the moves not done; if --uploaded-to was dropped on purpose, the next upload run without it says so, and the archives stay in the output folder",
    );
  return shown(out);
}

/** Under an archive's status line: the empty batches the platform may keep (W_BATCH_MAYBE_MADE). */
function maybeMade(l: ArchiveStatus): string[] {
  if (!l.maybeBatches) return [];
  const p = maybeMadeProblem(l.archive, l.archive.replace(/\.zip$/i, ""), l.maybeBatches);
  return [`  ${p.code}: ${p.message.slice(l.archive.length + 2)}; ${p.hint}`];
}

/** `wopack upload --hooks`: the commands run again. */
export function formatHooks(runs: HookRun[]): string {
  if (!runs.length) return "no --on-archive command to run again: every one succeeded";
  return runs
    .map((r) =>
      terminalText(
        `--on-archive ${r.ok ? "ran" : `failed again (exit ${r.exitCode ?? "?"})`} for ${r.archive}${r.ok ? "" : `: ${r.output}`}`,
        true,
      ),
    )
    .join("\n");
}

/** `wopack review`: the pages written, then what could not be reviewed. */
export function formatReview(r: ReviewResult): string {
  const lines = r.written.map((w) => `${w.page}  (${workOrders(w.workOrders)}, ${w.photos} photo${w.photos === 1 ? "" : "s"})`);
  for (const p of r.problems) lines.push(...problemLines(p, ""));
  if (!r.written.length && !r.problems.length) lines.push("no archives (.zip) found: nothing to review");
  return shown(lines);
}

/** `wopack doctor`: one line per check, the fix under each problem, then the verdict. */
export function formatDoctor(checks: DoctorCheck[]): string {
  const lines: string[] = [];
  for (const c of checks) {
    lines.push(`${c.status === "ok" ? "ok   " : c.status === "warn" ? "warn " : "ERROR"} ${c.what}: ${c.detail}`);
    if (c.fix) lines.push(`      fix: ${c.fix}`);
  }
  const errors = checks.filter((c) => c.status === "error").length;
  lines.push(errors ? `${errors} problem${errors === 1 ? "" : "s"} to fix` : "nothing wrong");
  return shown(lines);
}

/** `wopack prune`: what went (or would go), what was kept though old, and the space. */
export function formatPrune(r: PruneResult): string {
  const lines = r.pruned.map(
    (p) => `${r.dryRun ? "would delete" : "deleted"}  ${p.path}  (${mb(p.bytes)}, committed ${p.committedAt})`,
  );
  for (const k of r.kept) lines.push(`kept  ${k.path}  (${k.code ? `${k.code}: ` : ""}${k.reason})`);
  for (const f of r.failed) lines.push(`failed  ${f.path}  (${f.reason})`);
  for (const w of r.warnings) lines.push(...problemLines(w, "warning: "));
  lines.push(
    r.pruned.length
      ? `${r.dryRun ? "dry run: would free" : "freed"} ${mb(r.bytes)} (${r.pruned.length} item${r.pruned.length === 1 ? "" : "s"})${r.dryRun ? "; add --delete to delete" : ""}`
      : "nothing older than the cut-off to prune",
  );
  return shown(lines);
}
