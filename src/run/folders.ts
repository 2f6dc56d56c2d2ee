import { mkdtemp, readdir, realpath, rm, stat } from "node:fs/promises";
import path from "node:path";
import type { Config } from "../config/schema.js";
import { ioError, isGone, type Problem, problem, WopackError } from "../core/errors.js";

/**
 * A path with its symlinks resolved, for the part that exists (an --out made on first use does not yet):
 * a symlinked --out that points into the staging folder must be seen for what it is.
 */
export async function realPathOf(p: string): Promise<string> {
  const abs = path.resolve(p);
  const rest: string[] = [];
  for (let at = abs; ; at = path.dirname(at)) {
    try {
      return path.join(await realpath(at), ...rest.reverse());
    } catch {
      if (path.dirname(at) === at) return abs;
      rest.push(path.basename(at));
    }
  }
}

/** Whether `child` is `parent` or inside it (by path components: staging "/" holds everything). */
export function isInside(child: string, parent: string): boolean {
  const rel = path.relative(parent, child);
  return rel === "" || (!rel.startsWith(`..${path.sep}`) && rel !== ".." && !path.isAbsolute(rel));
}

export interface RunFolders {
  staging?: string | undefined;
  out?: string | undefined;
  moveTo?: string | undefined;
  failedTo?: string | undefined;
  uploadedTo?: string | undefined;
}

const FLAG = {
  staging: "the staging folder",
  out: "--out",
  moveTo: "--move-to",
  failedTo: "--failed-to",
  uploadedTo: "--uploaded-to",
} as const;
const CODE = { staging: "STAGING", out: "OUT", moveTo: "MOVE_TO", failedTo: "FAILED_TO", uploadedTo: "UPLOADED_TO" } as const;
const HINT = {
  out: "put the output folder beside the staging folder, e.g. --out ../outbox",
  moveTo: "move packed work orders to a folder beside the staging folder and the output folder, e.g. ../processed",
  failedTo: "move refused work orders to a folder beside the staging folder and the output folder, e.g. ../failed",
  uploadedTo:
    "move uploaded archives to a folder beside the output folder and the staging folder, e.g. --uploaded-to ../uploaded (or upload.uploadedTo in the config)",
} as const;

/**
 * The folders a run writes must not overlap, compared as real paths: an --out inside staging would be
 * packed, a --move-to inside staging resubmitted, and anything inside --out (its .wopack state above all)
 * is wopack's own, emptied by recovery: an archive moved to --out/.wopack/tmp by --uploaded-to was deleted
 * by the next run. --move-to and --failed-to may be one folder. Usage error, exit 2.
 */
export async function checkFolders(folders: RunFolders): Promise<void> {
  const real = new Map<keyof RunFolders, string>();
  for (const key of Object.keys(FLAG) as (keyof RunFolders)[]) {
    const p = folders[key];
    if (p !== undefined) real.set(key, await realPathOf(p));
  }
  const pairs: [keyof typeof HINT, keyof RunFolders][] = [
    ["out", "staging"],
    ["moveTo", "staging"],
    ["moveTo", "out"],
    ["failedTo", "staging"],
    ["failedTo", "out"],
    ["uploadedTo", "staging"],
    ["uploadedTo", "out"],
  ];
  for (const [a, b] of pairs) {
    const pa = real.get(a);
    const pb = real.get(b);
    if (!pa || !pb || !(isInside(pa, pb) || isInside(pb, pa))) continue;
    const shown = (key: keyof RunFolders) =>
      real.get(key) === path.resolve(folders[key]!) ? real.get(key) : `${path.resolve(folders[key]!)} (really ${real.get(key)})`;
    throw new WopackError(
      "usage",
      `E_${CODE[a]}_IN_${CODE[b]}`,
      `${FLAG[a]} ${shown(a)} and ${FLAG[b]} ${shown(b)} overlap; nothing was done`,
      HINT[a],
    );
  }
}

/** Where a run moves uploaded archives (the flag, else upload.uploadedTo), when it uploads at all. */
export function uploadedToOf(upload: { uploadedTo?: string | undefined } | undefined, config: Config): string | undefined {
  return upload ? (upload.uploadedTo ?? config.upload.uploadedTo) : undefined;
}

/** A folder a command reads (staging, an output folder) that is not there: a usage error, exit 2, never created. */
export async function requireFolder(dir: string, code: string, what: string, hint: string): Promise<void> {
  const st = await stat(dir).catch((err: unknown) => {
    if (isGone(err)) return undefined;
    throw ioError(err, `cannot read ${what} ${dir}`);
  });
  if (!st?.isDirectory()) {
    throw new WopackError("usage", code, `${what} ${dir} ${st ? "is not a folder" : "does not exist"}`, hint);
  }
}

/**
 * Where a folder is, or would be made: the folder itself when it exists, else the nearest folder above it
 * (a run makes the rest). `problem` says why nothing can be made there — an errno code, or "file" when a
 * file stands in the way — and is absent when a file could be made there (one is made and removed).
 */
export async function whereWritable(dir: string, probe = ".wopack-probe-"): Promise<{ at: string; problem?: string }> {
  let at = path.resolve(dir);
  for (;;) {
    const st = await stat(at).catch((err: NodeJS.ErrnoException) => err);
    if (!(st instanceof Error)) {
      if (!st.isDirectory()) return { at, problem: "file" };
      break;
    }
    if (st.code !== "ENOENT" || path.dirname(at) === at) return { at, problem: st.code ?? st.message };
    at = path.dirname(at);
  }
  const made = await mkdtemp(path.join(at, probe)).then(
    (tmp) => rm(tmp, { recursive: true }).then(() => undefined),
    (err: NodeJS.ErrnoException) => err.code ?? err.message,
  );
  return made ? { at, problem: made } : { at };
}

/**
 * A staging folder that cannot be written (a read-only mount or share): moving a packed work order out
 * of it fails, so each would stay there (packed once, its move tried again every run). Said at start.
 */
export async function stagingWarnings(staging: string): Promise<Problem[]> {
  const { problem: why } = await whereWritable(staging);
  if (!why) return [];
  return [
    problem(
      "W_FOLDER_NOT_WRITABLE",
      `the staging folder ${staging} cannot be written (${why === "file" ? "ENOTDIR" : why}): packed work orders cannot be moved out of it and stay there`,
      "give the user wopack runs as write access to it (mount it read-write), or pack without --move-to",
      staging,
    ),
  ];
}

/**
 * What is wrong with a folder wopack will move work orders into (--move-to, --failed-to), said at start
 * rather than at the first move: it cannot be written (or made), or it is not on the staging folder's file
 * system, so every move is a copy and a delete instead of a rename. Writes nothing that stays.
 */
export async function destinationWarnings(flag: string, dir: string, staging: string): Promise<Problem[]> {
  const { at, problem: why } = await whereWritable(dir);
  if (why) {
    return [
      problem(
        "W_FOLDER_NOT_WRITABLE",
        `${flag} ${dir}: ${at === path.resolve(dir) ? "cannot be written" : `cannot be made in ${at}`} (${why === "file" ? "ENOTDIR" : why}); work orders will stay in staging`,
        `give the user wopack runs as write access there, or choose another ${flag}`,
        dir,
      ),
    ];
  }
  const [a, b] = await Promise.all([stat(staging).catch(() => undefined), stat(at).catch(() => undefined)]);
  if (a && b && a.dev !== b.dev) {
    return [
      problem(
        "W_FOLDER_NOT_BESIDE_STAGING",
        `${flag} ${dir} is not on the staging folder's file system: each move is a copy then a delete, not a rename`,
        `put ${flag} beside the staging folder (e.g. ${path.join(path.dirname(path.resolve(staging)), path.basename(dir))})`,
        dir,
      ),
    ];
  }
  return [];
}

/**
 * What an existing output folder is: an "outbox" once pack or watch ran on it (each makes its .wopack state
 * folder, even when nothing was ready to pack); "empty" when it holds nothing anyone put there yet (a folder
 * made for pack, as deploy/wopack.tmpfiles.conf does, a fresh volume's lost+found, hidden files); else what
 * it holds: a staging folder, a config folder, a mistyped path, which no command reading an outbox may take.
 */
export async function outboxState(dir: string): Promise<"outbox" | "empty" | { holds: string }> {
  const names = await readdir(dir).catch((err: unknown) => {
    throw ioError(err, `cannot read the output folder ${dir}`);
  });
  if (names.includes(".wopack")) return "outbox";
  const others = names.filter((n) => !n.startsWith(".") && n !== "lost+found").sort();
  if (!others.length) return "empty";
  const shown = others.slice(0, 3).join(", ");
  return { holds: others.length > 3 ? `${shown} and ${others.length - 3} more` : shown };
}

/**
 * `upload` and `status` read an outbox (an output folder pack made): a mistyped one is a usage error, never
 * created; "empty" is an outbox nothing was packed in yet, which a run need not touch (see outboxState).
 */
export async function checkOut(out: string): Promise<"outbox" | "empty"> {
  const hint = "give the folder that wopack pack writes archives to (its --out)";
  await requireFolder(out, "E_OUT_MISSING", "the output folder", hint);
  const state = await outboxState(out);
  if (typeof state === "string") return state;
  throw new WopackError(
    "usage",
    "E_NOT_AN_OUTBOX",
    `${out} is not an output folder of wopack: no pack or watch wrote there (it has no .wopack folder), and it holds ${state.holds}; nothing was done`,
    "give the folder that wopack pack writes archives to: its --out, e.g. /srv/wopack/outbox",
  );
}
