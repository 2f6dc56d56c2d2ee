import type { Config } from "../config/schema.js";
import { type Problem, problem } from "../core/errors.js";
import type { CapturedFrom, FileStamp } from "../core/types.js";
import type { FileFacts, ScannedEntry, StagingScan } from "../scan/scan.js";
import type { SidecarRow } from "../scan/sidecar.js";
import { type EntryExt, type ImageType, packedExt } from "../spec/images.js";
import { caseTwins, codeUnitOrder, isWorkOrderId, splitOrderSuffix, stemOf } from "../spec/names.js";
import {
  badWorkOrderId,
  caseTwinId,
  caseTwinPacked,
  internalProblem,
  noPhotos,
  notJsonObject,
  repackNeedsAttention,
  unreadable,
  vanishedSource,
} from "../spec/problems.js";
import type { MetadataValue } from "../spec/values.js";
import { changedAt, groupStaging, hasReadyMarker, type Member, packableOf, type WorkOrderGroup } from "./group.js";
import { resolveMetadata } from "./metadata.js";
import { assignNumbers } from "./numbering.js";
import { resolveTaskGroup } from "./taskGroup.js";

export interface PlanOptions {
  /** The clock, passed in so that planning stays pure. */
  now: number;
  /** A work order is ready once nothing in it changed for this long. */
  settleMs: number;
  readyMarker?: string | undefined;
  /** Pack work orders again even when the ledger says this content was committed. */
  repack: boolean;
  /** Write null for missing required metadata (with a warning) instead of refusing the work order. */
  allowIncomplete?: boolean;
  /** Plan only these work orders (watch mode: the ones it judged ready); the others are not mentioned. */
  only?: ReadonlySet<string>;
  /**
   * The fingerprint each work order had when it was judged ready: one that changed since is left pending,
   * so that a file arriving at that moment is never packed half-copied.
   */
  expected?: ReadonlyMap<string, string>;
  /**
   * watch: a work order with a file that vanished while it was read is left pending (judged again once it
   * settles); pack refuses it (E_SOURCE_VANISHED, SPEC §9), since a later run of pack is not this one
   */
  vanishedWaits?: boolean | undefined;
}

export interface PlanInput {
  scan: StagingScan;
  facts: ReadonlyMap<string, FileFacts>;
  config: Config;
  /** work-order id -> fingerprint of its last committed content */
  ledger: ReadonlyMap<string, string>;
  /**
   * work-order id -> the archive that last committed it (--shard: in any sibling outbox), and the batch the platform keeps of that archive
   * when its upload needs attention (the upload journal): a repack of it would reach the platform twice
   */
  committed?: ReadonlyMap<string, CommittedWorkOrder>;
  /**
   * every work-order id in the staging folder, the other shards' too (--shard hashes ids as spelled): a
   * case twin is a twin whichever shard it falls to. Without it, the ids of `scan`.
   */
  stagingIds?: readonly string[];
  /** the --metadata sidecar, by work-order id */
  sidecar?: ReadonlyMap<string, SidecarRow>;
  options: PlanOptions;
}

export interface CommittedWorkOrder {
  archive: string;
  attentionBatch?: string | undefined;
}

export interface PlannedPhoto {
  /** staging-relative source path */
  source: string;
  abs: string;
  type: ImageType;
  size: number;
  taskGroup: string;
  n: number;
  /** the extension it is packed with (§5/§7's rule, which prepare applies to the bytes it reads) */
  ext: EntryExt;
  /** EXIF DateTimeOriginal, when the photo has one */
  captureDate?: string;
  /** what put it in capture order (set with n) */
  capturedFrom?: CapturedFrom;
  /** the file time (ISO, UTC) that ordered it, when capturedFrom is "file" */
  fileTime?: string;
}

export interface PlannedWorkOrder {
  id: string;
  /** staging-relative folder, when the work order has one (it may be made of root files only) */
  folder?: string;
  /** every staging-relative path that moves with the work order once it is packed */
  sources: string[];
  fingerprint: string;
  /** each packed file's size and mtime, and the folder's other files: a move takes only what was packed */
  stamps: WorkOrderStamps;
  photos: PlannedPhoto[];
  /** the merged, typed metadata (§6) that becomes the archive's metadata.json */
  metadata: Record<string, MetadataValue>;
  /** parameters.json, passed through byte for byte */
  parameters?: { source: string; abs: string };
  warnings: Problem[];
}

export interface RefusedWorkOrder {
  id: string;
  folder?: string;
  sources: string[];
  fingerprint: string;
  stamps: WorkOrderStamps;
  problems: Problem[];
  /** photos that passed planning; their images are still checked so that every problem is reported */
  photos: PlannedPhoto[];
}

export interface Plan {
  ready: PlannedWorkOrder[];
  refused: RefusedWorkOrder[];
  /** same content as already committed (ledger); `sources` lets an interrupted --move-to finish */
  alreadyPacked: { id: string; folder?: string; sources: string[]; fingerprint: string; stamps: WorkOrderStamps }[];
  pending: { id: string; reason: string }[];
  /** run-level warnings, e.g. root files that match no rule */
  warnings: Problem[];
}

export interface WorkOrderStamps {
  packed: FileStamp[];
  alongside: FileStamp[];
}

/** What names a work order in every outcome: id, folder, the files that move with it, their fingerprint. */
function identityOf(group: WorkOrderGroup, { members, fingerprint }: ReturnType<typeof packableOf>) {
  return {
    id: group.id,
    ...(group.folder ? { folder: group.folder.rel } : {}),
    sources: members.map((m) => m.entry.rel).sort(),
    fingerprint,
    stamps: stampsOf(group, members),
  };
}

/** The packed files with their size and mtime, and every other file the group holds (marker, junk). */
function stampsOf(group: WorkOrderGroup, packed: readonly Member[]): WorkOrderStamps {
  const stamp = (e: ScannedEntry): FileStamp => ({ rel: e.rel, size: e.size, mtimeMs: e.mtimeMs });
  const packedRels = new Set(packed.map((m) => m.entry.rel));
  const byPath = (a: FileStamp, b: FileStamp) => codeUnitOrder(a.rel, b.rel);
  const others = [...group.members.filter((m) => !packedRels.has(m.entry.rel)).map((m) => m.entry), ...group.ignored];
  return { packed: packed.map((m) => stamp(m.entry)).sort(byPath), alongside: others.map(stamp).sort(byPath) };
}

/** scan + facts + config + ledger -> which work orders to pack, under which names, and what is refused. */
export function planPack(input: PlanInput): Plan {
  const plan: Plan = { ready: [], refused: [], alreadyPacked: [], pending: [], warnings: [] };
  const { groups, warnings } = groupStaging(input.scan, input.config);
  plan.warnings.push(...warnings);
  const only = input.options.only;
  // (among every work order in staging, not only those judged ready: a twin is a twin either way)
  const twins = caseTwins(input.stagingIds ?? groups.map((g) => g.id));
  const packed = packedSpellings(input.committed);
  for (const group of groups) {
    if (only && !only.has(group.id)) continue;
    try {
      // a spelling packed in an earlier run is the one kept, whatever the code-unit order says
      const earlier = packed.get(group.id.toLowerCase());
      const twin = earlier ? (earlier.id === group.id ? undefined : earlier) : twins.get(group.id);
      planGroup(group, input, plan, twin);
    } catch (err) {
      // A bug met on one work order's files refuses that work order, not the night.
      const problems = [internalProblem(group.folder?.rel ?? group.id, err)];
      plan.refused.push({ ...identityOf(group, packableOf(group, input.options.readyMarker)), problems, photos: [] });
    }
  }
  return plan;
}

/** Each case-folded id the ledger holds -> its spelling there (the first in code-unit order) and archive. */
function packedSpellings(committed: PlanInput["committed"]): Map<string, { id: string; archive: string }> {
  const byKey = new Map<string, { id: string; archive: string }>();
  for (const id of [...(committed?.keys() ?? [])].sort(codeUnitOrder)) {
    const key = id.toLowerCase();
    if (!byKey.has(key)) byKey.set(key, { id, archive: committed!.get(id)!.archive });
  }
  return byKey;
}

function planGroup(
  group: WorkOrderGroup,
  input: PlanInput,
  plan: Plan,
  caseTwin: string | { id: string; archive: string } | undefined,
): void {
  const { id } = group;
  const packable = packableOf(group, input.options.readyMarker);
  const waiting = waitingReason(group, packable, input);
  if (waiting) {
    plan.pending.push({ id, reason: waiting });
    return;
  }
  const common = identityOf(group, packable);
  const vanished = packable.members.find((m) => input.facts.get(m.entry.rel)?.vanished)?.entry.rel;
  if (vanished && !input.options.vanishedWaits) {
    plan.refused.push({ ...common, problems: [vanishedSource(id, vanished)], photos: [] });
    return;
  }
  const same = input.ledger.get(id) === packable.fingerprint;
  if (!input.options.repack && same) {
    plan.alreadyPacked.push(common);
    return;
  }
  const held = same ? input.committed?.get(id) : undefined;
  if (held?.attentionBatch !== undefined) {
    plan.refused.push({ ...common, problems: [repackNeedsAttention(id, held.archive, held.attentionBatch)], photos: [] });
    return;
  }
  const where = group.folder?.rel ?? id;
  const problems: Problem[] = isWorkOrderId(id) ? [] : [badWorkOrderId(id, where)];
  if (typeof caseTwin === "string") problems.push(caseTwinId(id, caseTwin, where));
  else if (caseTwin) problems.push(caseTwinPacked(id, caseTwin.id, caseTwin.archive, where));
  const read = readMembers(id, packable.members, input);
  problems.push(...read.problems);
  const { photos } = read;
  problems.push(...assignNumbers(photos, read.requests, packable.members));
  const sidecar = input.sidecar?.get(id);
  if (sidecar?.duplicate) {
    problems.push(
      problem(
        "E_SIDECAR_DUPLICATE",
        `work order ${id}: the --metadata sidecar has more than one row for it (${sidecar.where} and ${sidecar.duplicate})`,
        "keep one row per work order in the sidecar",
        where,
      ),
    );
  }
  const warnings: Problem[] = [];
  let metadata: Record<string, MetadataValue> = {};
  if (read.given) {
    const resolved = resolveMetadata(input.config.metadata, {
      id,
      captureDates: photos.flatMap((p) => (p.captureDate ? [p.captureDate] : [])),
      photoCount: photos.length,
      now: new Date(input.options.now).toISOString(),
      sidecar,
      given: read.given,
      givenPath: `${id}/metadata.json`,
      allowIncomplete: input.options.allowIncomplete ?? false,
    });
    problems.push(...resolved.problems);
    warnings.push(...resolved.warnings);
    metadata = resolved.values;
  }
  if (photos.length === 0 && problems.length === 0) problems.push(noPhotos(id, where));
  if (problems.length) {
    plan.refused.push({ ...common, problems, photos });
    return;
  }
  photos.sort((a, b) => a.n - b.n);
  plan.ready.push({ ...common, photos, metadata, ...(read.parameters ? { parameters: read.parameters } : {}), warnings });
}

/** Why a work order is not to be packed yet (empty, no ready marker, not settled, changed, vanishing), if so. */
function waitingReason(group: WorkOrderGroup, packable: ReturnType<typeof packableOf>, input: PlanInput): string | undefined {
  const { options } = input;
  const marker = options.readyMarker;
  if (packable.members.length === 0) return "empty: no files yet";
  if (group.folder && marker && !hasReadyMarker(group, marker)) return `no ${marker} marker yet`;
  const newest = Math.max(
    group.folder ? changedAt(group.folder) : 0,
    ...group.members.map((m) => changedAt(m.entry)),
    ...group.ignored.map(changedAt),
  );
  if (options.settleMs > 0 && options.now - newest < options.settleMs) {
    return `changed ${Math.round((options.now - newest) / 1000)}s ago; not settled yet`;
  }
  if (options.expected && options.expected.get(group.id) !== packable.fingerprint) return "changed since it was judged ready";
  const vanished = packable.members.find((m) => input.facts.get(m.entry.rel)?.vanished);
  if (vanished && options.vanishedWaits) return `${vanished.entry.rel} was moved or removed while it was read; not settled yet`;
  return undefined;
}

interface MembersRead {
  photos: PlannedPhoto[];
  /** explicit -N requests */
  requests: { photo: PlannedPhoto; n: number }[];
  /** the work order's metadata.json ({} without one; undefined when it is unusable, already a problem) */
  given: Record<string, unknown> | undefined;
  parameters?: { source: string; abs: string };
  problems: Problem[];
}

/** A work order's files: its photos with their task groups, its metadata.json and parameters.json, what is wrong. */
function readMembers(id: string, members: readonly Member[], input: PlanInput): MembersRead {
  const read: MembersRead = { photos: [], requests: [], given: {}, problems: [] };
  for (const member of members) {
    const { entry, inner } = member;
    const rel = entry.rel;
    const facts = input.facts.get(rel);
    if (entry.kind !== "file") {
      read.problems.push(kindProblem(entry));
    } else if (!member.rootFile && (inner === "metadata.json" || inner === "parameters.json")) {
      const json = facts?.json;
      const value = json && "value" in json ? json.value : undefined;
      if (!json || "error" in json || !isPlainObject(value)) {
        if (inner === "metadata.json") read.given = undefined;
        read.problems.push(notJsonObject(rel, inner, json));
      } else if (inner === "metadata.json") read.given = value;
      else read.parameters = { source: rel, abs: entry.abs };
    } else {
      const photo = photoOf(id, member, facts, input.config);
      if ("problem" in photo) read.problems.push(photo.problem);
      else {
        read.photos.push(photo.photo);
        if (photo.requested !== undefined) read.requests.push({ photo: photo.photo, n: photo.requested });
      }
    }
  }
  return read;
}

/** One photo of a work order: its type, task group and requested -N; or why it cannot be packed. */
function photoOf(
  id: string,
  member: Member,
  facts: FileFacts | undefined,
  config: PlanInput["config"],
): { photo: PlannedPhoto; requested: number | undefined } | { problem: Problem } {
  const { entry, inner } = member;
  const rel = entry.rel;
  const parts = inner.split("/");
  if (parts.length > 2) {
    return {
      problem: problem(
        "E_NESTED_FOLDER",
        `${rel}: photos may sit in the work-order folder or one task-group folder below it, not deeper`,
        `move it up to ${id}/${parts[0]}/`,
        rel,
      ),
    };
  }
  if (facts?.readError) return { problem: unreadable(rel, facts.readError) };
  if (entry.size === 0) {
    return {
      problem: problem(
        "E_EMPTY_FILE",
        `${rel}: the file is empty (0 bytes)`,
        "copy the photo again; the transfer may have failed",
        rel,
      ),
    };
  }
  if (!facts?.type) {
    const looksLikeImage = /\.(jpe?g|png|heic|heif|avif|webp|tiff?|gif|bmp|jxl)$/i.test(rel);
    return {
      problem: problem(
        "E_NOT_AN_IMAGE",
        looksLikeImage
          ? `${rel}: named like an image, but its content is not one wopack can read`
          : `${rel}: not an image, and a work order may hold only photos, metadata.json and parameters.json`,
        looksLikeImage ? "replace it with the real photo" : "remove it from the work order, or move it elsewhere",
        rel,
      ),
    };
  }
  const { raw, requested } = requestedName(member, parts);
  const resolved = resolveTaskGroup(raw, parts.length === 2 ? "folder" : "stem", config, rel);
  if ("problem" in resolved) return resolved;
  const photo: PlannedPhoto = {
    source: rel,
    abs: entry.abs,
    type: facts.type,
    size: entry.size,
    taskGroup: resolved.taskGroup,
    n: -1,
    ext: packedExt(facts.type, { bytes: entry.size, ...facts.pixels }, config.images),
    ...(facts.captureDate ? { captureDate: facts.captureDate } : {}),
  };
  return { photo, requested };
}

/** §3/§5: the task group a photo's place names (before aliases), and the -N it asks for, if any. */
function requestedName(member: Member, parts: string[]): { raw: string; requested: number | undefined } {
  if (member.rootFile) return { raw: member.rootFile.taskGroup, requested: member.rootFile.n };
  const { base, n } = splitOrderSuffix(stemOf(parts[parts.length - 1]!));
  // In a task-group folder, camera names like IMG-2024-0001 are not order requests: only "<group>-N" is.
  if (parts.length === 2) return { raw: parts[0]!, requested: base === parts[0] ? n : undefined };
  return { raw: base, requested: n };
}

function kindProblem(entry: ScannedEntry): Problem {
  switch (entry.kind) {
    case "symlink-outside":
      return problem(
        "E_SYMLINK_OUTSIDE",
        `${entry.rel}: a symlink that points outside the staging folder (or nowhere); it is never followed`,
        "copy the photo itself into the work order instead of linking to it",
        entry.rel,
      );
    case "symlink-dir":
      return problem(
        "E_SYMLINK_FOLDER",
        `${entry.rel}: a symlink to a folder; folders are never followed through links`,
        "copy the folder itself into the work order",
        entry.rel,
      );
    case "unreadable-dir":
      return unreadable(entry.rel, entry.error ?? "no permission", "folder");
    default:
      return problem(
        "E_NOT_A_FILE",
        `${entry.rel}: not a regular file (a pipe, socket or device)`,
        "remove it from the work order",
        entry.rel,
      );
  }
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}
