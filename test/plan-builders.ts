// In-memory staging folders for the pure planner's tests: no file system, no clock.
import { parseConfig } from "../src/config/load.js";
import type { ConfigInput } from "../src/config/schema.js";
import { type CommittedWorkOrder, type PlanOptions, planPack } from "../src/plan/plan.js";
import type { FileFacts, ScannedEntry, StagingScan } from "../src/scan/scan.js";
import type { ImageType } from "../src/spec/images.js";

export const NOW = Date.UTC(2026, 10, 28, 12, 0, 0);

export interface FileSpec {
  type?: ImageType | null;
  date?: string;
  mtime?: number;
  size?: number;
  kind?: ScannedEntry["kind"];
  json?: unknown;
}

/** In-memory staging folder: path -> what the scanner and fact reader would have said. */
export function staging(files: Record<string, FileSpec>): { scan: StagingScan; facts: Map<string, FileFacts> } {
  const entries: ScannedEntry[] = [];
  const facts = new Map<string, FileFacts>();
  const folders = new Map<string, number>();
  for (const [rel, spec] of Object.entries(files)) {
    const mtimeMs = spec.mtime ?? NOW - 3_600_000;
    entries.push({ rel, abs: `/staging/${rel}`, kind: spec.kind ?? "file", size: spec.size ?? 1000, mtimeMs });
    if (rel.includes("/")) folders.set(rel.split("/")[0]!, NOW - 3_600_000);
    const f: FileFacts = { type: spec.type === undefined ? (rel.endsWith(".json") ? null : "jpeg") : spec.type };
    if (spec.date) f.captureDate = spec.date;
    if (spec.json !== undefined) f.json = { value: spec.json };
    facts.set(rel, f);
  }
  return { scan: { root: "/staging", folders: [...folders].map(([rel, mtimeMs]) => ({ rel, mtimeMs })), entries }, facts };
}

export function plan(
  files: Record<string, FileSpec>,
  config: ConfigInput = {},
  options: Partial<PlanOptions> = {},
  ledger = new Map<string, string>(),
  committed?: Map<string, CommittedWorkOrder>,
) {
  return planPack({
    ...staging(files),
    config: parseConfig(config),
    ledger,
    ...(committed ? { committed } : {}),
    options: { now: NOW, settleMs: 0, repack: false, ...options },
  });
}
