// Problems that more than one stage reports, and a refused work order's report: worded in one place.
import { type Problem, problem } from "../core/errors.js";
import type { RefusedReport } from "../core/types.js";
import { codeUnitOrder, nearest } from "./names.js";

/** A file or folder that cannot be read (permissions, an I/O error): refuses its work order. */
export function unreadable(path: string, reason: string, what: "file" | "folder" = "file"): Problem {
  return what === "folder"
    ? problem(
        "E_UNREADABLE",
        `${path}: the folder cannot be read (${reason})`,
        "check the folder's permissions for the user running wopack",
        path,
      )
    : problem(
        "E_UNREADABLE",
        `${path}: cannot be read (${reason})`,
        "check the file's permissions for the user running wopack, and that it is fully copied",
        path,
      );
}

/** An unexpected error (a bug) met while handling one work order or photo: a coded problem for it. */
export function internalProblem(path: string, err: unknown): Problem {
  return problem(
    "E_INTERNAL",
    `${path}: wopack failed on this (${(err as Error)?.message ?? String(err)})`,
    "the rest of the run went on; please report this with the file (run with --verbose for details)",
    path,
  );
}

/**
 * §9: a source that was moved or removed while pack read it (its folder too, perhaps): the work order is
 * refused rather than called pending, since what it was is gone and nothing of it was packed.
 */
export function vanishedSource(id: string, path: string): Problem {
  return problem(
    "E_SOURCE_VANISHED",
    `${path}: moved or removed while work order ${id} was packed; nothing of ${id} was packed`,
    `if ${id} was moved or deleted on purpose, nothing to do; else put it back whole and run pack again`,
    path,
  );
}

/** A refused work order as results and reports show it. */
export function refusedReport(
  wo: { id: string; folder?: string | undefined; sources: string[] },
  problems: Problem[],
): RefusedReport {
  return { id: wo.id, ...(wo.folder ? { folder: wo.folder } : {}), sources: wo.sources, problems };
}

/** Refusals from two checks of the same run: one report per work order, every problem kept, by id. */
export function mergeRefusals(a: readonly RefusedReport[], b: readonly RefusedReport[]): RefusedReport[] {
  const byId = new Map<string, RefusedReport>();
  for (const r of [...a, ...b]) {
    const seen = byId.get(r.id);
    byId.set(r.id, seen ? { ...seen, problems: [...seen.problems, ...r.problems] } : r);
  }
  return [...byId.values()].sort((x, y) => codeUnitOrder(x.id, y.id));
}

// §2/§5 rules broken, as both the planner (staging) and validate (archives) report them. `from` says
// where a staging name came from ("folder \"Meter\""); staging problems can also be fixed with aliases.

export function badWorkOrderId(id: string, path: string): Problem {
  const suggestion = asciiName(id).slice(0, 128).replace(/_+$/, "");
  return problem(
    "E_WORK_ORDER_ID",
    `${path}: the work-order id "${id}" may hold only letters, digits, _ and - (1 to 128 characters)`,
    /[A-Za-z0-9]/.test(suggestion)
      ? `rename the folder, e.g. to "${suggestion}"`
      : `rename the folder to the work order's id in letters (A-Z, a-z), digits, _ and -, e.g. "WO_123456"`,
    path,
  );
}

/** A work-order id that differs from another only in letter case (spec/names.ts caseTwins). */
export function caseTwinId(id: string, earlier: string, path: string): Problem {
  return problem(
    "E_WORK_ORDER_ID_CASE",
    `${path}: the work-order id "${id}" differs from "${earlier}" only in letter case; in one archive their folders are one folder on Windows and macOS, and their photos would overwrite each other`,
    `rename one of them so that the ids differ in more than case (if they are one work order, put its photos in one folder); until then "${id}" is refused, "${earlier}" is not`,
    path,
  );
}

/** A work-order id that differs only in letter case from one an earlier run packed (the ledger's). */
export function caseTwinPacked(id: string, earlier: string, archive: string, path: string): Problem {
  return problem(
    "E_WORK_ORDER_ID_CASE",
    `${path}: the work-order id "${id}" differs only in letter case from "${earlier}", packed already in ${archive}; both would reach the platform, and unzipped on Windows or macOS their folders are one`,
    `if it is the same work order, rename it "${earlier}" (its photos are then a new submission of it); if not, rename it so that the ids differ in more than case; until then "${id}" is refused`,
    path,
  );
}

/** --repack of a work order whose archive's upload needs attention: the platform may hold part of it already. */
export function repackNeedsAttention(id: string, archive: string, batchId: string): Problem {
  return problem(
    "E_REPACK_UPLOAD_ATTENTION",
    `work order ${id}: its archive ${archive} needs attention (the platform keeps batch ${batchId}, which may hold part of it); packed again it could reach the platform twice: not repacked`,
    `look at batch ${batchId} on the platform and delete it there, then send the archive again with wopack upload <out> ${archive} --attention-cleared; once it is uploaded, --repack packs the work order again`,
    id,
  );
}

/**
 * A name in the letters the format allows: accents taken off (Ä -> A, é -> e), every other run of
 * characters one "_", none at either end. Letters of other scripts leave nothing of themselves.
 */
function asciiName(name: string): string {
  return name
    .normalize("NFKD")
    .replace(/\p{M}+/gu, "")
    .replace(/[^A-Za-z0-9_-]+/g, "_")
    .replace(/^_+|_+$/g, "");
}

export function badTaskGroupName(path: string, name: string, from?: string): Problem {
  return problem(
    "E_TASK_GROUP_NAME",
    from
      ? `${path}: the ${from} gives task group "${name}", which is not a valid task group name`
      : `${path}: "${name}" is not a valid task group name`,
    `rename it to letters, digits and _ only (e.g. "${suggestTaskGroup(name)}")${from ? `, or map it in the config's "aliases"` : ""}`,
    path,
  );
}

export function unknownTaskGroup(
  path: string,
  name: string,
  taskGroups: readonly string[],
  from?: { where: string; raw: string },
): Problem {
  const near = nearest(name, taskGroups);
  let hint: string;
  if (near)
    hint = `did you mean "${near}"? Rename it${from ? `, or add "${from.raw}": "${near}" to the config's "aliases"` : ""}`;
  else hint = `add it to "taskGroups" in the config${from ? `, or map it in "aliases"` : ""}`;
  return problem(
    "E_TASK_GROUP_UNKNOWN",
    `${path}: task group "${name}"${from ? ` (from the ${from.where})` : ""} is not one of the configured taskGroups`,
    hint,
    path,
  );
}

export function duplicateOrder(path: string, n: number, holder: string): Problem {
  return problem(
    "E_ORDER_DUPLICATE",
    `${path}: order number ${n} is taken by ${holder} too`,
    "give one of them another number (in staging, a photo without -N is numbered automatically)",
    path,
  );
}

export function noPhotos(id: string, path: string): Problem {
  return problem("E_NO_PHOTOS", `${path}: work order "${id}" holds no photos`, "add its photos, or leave the folder out", path);
}

/** §6: metadata.json or parameters.json that is not a JSON object (or not JSON at all). */
export function notJsonObject(path: string, file: string, json: { value: unknown } | { error: string } | undefined): Problem {
  const what =
    json === undefined
      ? ""
      : "error" in json
        ? ` (${json.error})`
        : `, not ${json.value === null ? "null" : Array.isArray(json.value) ? "an array" : `a ${typeof json.value}`}`;
  return problem(
    file === "metadata.json" ? "E_METADATA_NOT_OBJECT" : "E_PARAMETERS_NOT_OBJECT",
    `${path}: must hold a JSON object${what}`,
    `write it as {"field": value, ...}`,
    path,
  );
}

function suggestTaskGroup(name: string): string {
  const cleaned = asciiName(name.trim())
    .slice(0, 128)
    .replace(/^-+|[-_]+$/g, "")
    .replace(/-(\d+)$/, "_$1");
  return /[A-Za-z0-9]/.test(cleaned) ? cleaned : "task_group";
}
