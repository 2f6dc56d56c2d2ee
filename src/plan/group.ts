// The staging folder's entries sorted into work orders (§3), and what says whether one changed: the
// grouping, the shard's share of it, fingerprints and readiness signatures. Pure.
import { createHash } from "node:crypto";
import type { Config } from "../config/schema.js";
import { type Problem, problem } from "../core/errors.js";
import type { ScannedEntry, StagingScan } from "../scan/scan.js";
import { CONFIG_FILE_NAME, isIgnoredName } from "../spec/ignore.js";
import { type Shard, shardOf } from "../spec/shard.js";

export interface Member {
  entry: ScannedEntry;
  /** path inside the work order: "x.jpg", "group/x.jpg"; for root files, the file name */
  inner: string;
  rootFile?: { taskGroup: string; n: number | undefined };
}

/** The files of one work order, as found in the staging folder (before any rule is applied). */
export interface WorkOrderGroup {
  id: string;
  folder?: { rel: string; mtimeMs: number };
  members: Member[];
  /** ignored files count for readiness (a *.part being written) but are never packed */
  ignored: ScannedEntry[];
}

const DEFAULT_ROOT_FILE = /^(?<workOrder>[A-Za-z0-9_-]{1,128})__(?<taskGroup>[^.]+?)(?:-(?<n>\d{1,9}))?\.[^.]+$/;

/** Sorts the staging folder's entries into work orders: folders, and root files that name theirs (§3). */
export function groupStaging(
  scan: StagingScan,
  config: Pick<Config, "rootFilePattern">,
): { groups: WorkOrderGroup[]; warnings: Problem[] } {
  const warnings: Problem[] = [];
  const groups = new Map<string, WorkOrderGroup>();
  const groupFor = (id: string) => {
    let g = groups.get(id);
    if (!g) {
      g = { id, members: [], ignored: [] };
      groups.set(id, g);
    }
    return g;
  };
  for (const folder of scan.folders) groupFor(folder.rel).folder = folder;

  const rootPattern = config.rootFilePattern ? new RegExp(config.rootFilePattern) : DEFAULT_ROOT_FILE;
  for (const entry of scan.entries) {
    const slash = entry.rel.indexOf("/");
    if (slash < 0) {
      if (isIgnoredName(entry.rel) || entry.rel === CONFIG_FILE_NAME) continue;
      const m = rootPattern.exec(entry.rel)?.groups;
      if (!m?.workOrder || !m.taskGroup) {
        warnings.push(
          problem(
            "W_ROOT_FILE_UNMATCHED",
            `${entry.rel}: a file at the staging root that names no work order; it was left where it is`,
            `move it into its work order's folder, or name it <work order id>__<task group>[-N].<ext>`,
            entry.rel,
          ),
        );
        continue;
      }
      groupFor(m.workOrder).members.push({
        entry,
        inner: entry.rel,
        rootFile: { taskGroup: m.taskGroup, n: m.n === undefined ? undefined : Number(m.n) },
      });
      continue;
    }
    const group = groupFor(entry.rel.slice(0, slash));
    const inner = entry.rel.slice(slash + 1);
    if (inner.split("/").some(isIgnoredName)) group.ignored.push(entry);
    else group.members.push({ entry, inner });
  }
  // In the order their entries sort in an archive ("WO_1/..." before "WO_1-2/..." is byte order of "id/").
  const sorted = [...groups.keys()].sort((a, b) => (`${a}/` < `${b}/` ? -1 : 1)).map((id) => groups.get(id)!);
  return { groups: sorted, warnings };
}

/**
 * The part of the staging folder that belongs to one shard (spec/shard.ts): its work orders' folders and
 * files. A file at the root that names no work order belongs to no shard: shard 0 keeps it, so that it is
 * warned about once.
 */
export function shardScan(scan: StagingScan, config: Pick<Config, "rootFilePattern">, shard: Shard | undefined): StagingScan {
  if (!shard || shard.count === 1) return scan;
  const owned = new Set<string>();
  const mine = new Set<string>();
  for (const g of groupStaging(scan, config).groups) {
    const ours = shardOf(g.id, shard.count) === shard.index;
    for (const rel of [
      ...g.members.map((m) => m.entry.rel),
      ...g.ignored.map((e) => e.rel),
      ...(g.folder ? [g.folder.rel] : []),
    ]) {
      owned.add(rel);
      if (ours) mine.add(rel);
    }
  }
  const keep = (rel: string) => mine.has(rel) || (shard.index === 0 && !owned.has(rel));
  return { ...scan, folders: scan.folders.filter((f) => keep(f.rel)), entries: scan.entries.filter((e) => keep(e.rel)) };
}

/** The files that would be packed (the ready marker never is), and their fingerprint. */
export function packableOf(group: WorkOrderGroup, readyMarker: string | undefined): { members: Member[]; fingerprint: string } {
  const members = group.members.filter((m) => !(readyMarker && !m.rootFile && m.inner === readyMarker));
  return { members, fingerprint: fingerprintOf(members.map((m) => m.entry)) };
}

/** Whether the work order's folder holds the ready marker (a hidden name like ".ready" counts too). */
export function hasReadyMarker(group: WorkOrderGroup, readyMarker: string): boolean {
  const rel = `${group.id}/${readyMarker}`;
  return group.members.some((m) => m.entry.rel === rel) || group.ignored.some((e) => e.rel === rel);
}

/** Changes whenever anything in the work order changes, ignored files (a *.part being written) included. */
export function stabilitySignature(group: WorkOrderGroup): string {
  return fingerprintOf([...group.members.map((m) => m.entry), ...group.ignored]) + (group.folder?.mtimeMs ?? "");
}

/**
 * When a file last changed, for readiness: its modification time, unless that lies after the kernel's
 * change time (a camera or card with a wrong clock, copied with its times kept): then the change time.
 */
export function changedAt(e: { mtimeMs: number; ctimeMs?: number | undefined }): number {
  return e.ctimeMs === undefined ? e.mtimeMs : Math.min(e.mtimeMs, e.ctimeMs);
}

/** Changes when a file is added, removed, replaced or touched; cheap (no content read). */
export function fingerprintOf(entries: readonly ScannedEntry[]): string {
  const lines = entries.map((e) => `${e.rel}\t${e.size}\t${Math.round(e.mtimeMs)}`).sort();
  return createHash("sha256").update(lines.join("\n")).digest("hex").slice(0, 32);
}
