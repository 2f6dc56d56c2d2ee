// `wopack doctor`: what this installation runs with, and what is wrong with it, each with its fix.
import { constants } from "node:fs";
import { access, mkdtemp, rm, stat, statfs } from "node:fs/promises";
import { availableParallelism } from "node:os";
import path from "node:path";
import { loadConfig } from "../config/find.js";
import type { Config } from "../config/schema.js";
import { heicDecoderStatus } from "../convert/heicDecoder.js";
import { loadSharp } from "../convert/onFirstUse.js";
import { WopackError } from "../core/errors.js";
import { redactor } from "../core/redact.js";
import { VERSION } from "../core/version.js";
import { resolveCredentials } from "../upload/key.js";
import { httpApi } from "../upload/protocol.js";
import { whereWritable } from "./folders.js";

export interface DoctorCheck {
  what: string;
  status: "ok" | "warn" | "error";
  detail: string;
  /** what to do about a warn or error */
  fix?: string;
}

/** statfs magic numbers of the file systems a staging folder or an outbox is found on. */
const FILE_SYSTEMS: Record<number, string> = {
  61267: "ext4",
  1481003842: "xfs",
  2435016766: "btrfs",
  16914836: "tmpfs",
  2035054128: "overlayfs",
  26985: "nfs",
  4283649346: "cifs",
  4266872130: "smb2",
  1702057286: "fuse",
  12805120: "ceph",
  801189825: "zfs",
};
const NETWORK = new Set(["nfs", "cifs", "smb2", "fuse", "ceph"]);

export interface DoctorOptions {
  staging?: string | undefined;
  out?: string | undefined;
  /** --config; default: the one pack would find (./wopack.config.json, then the staging folder's) */
  configPath?: string | undefined;
  /** where WOPACK_API_URL / WOPACK_API_KEY / CREDENTIALS_DIRECTORY are read (default process.env) */
  env?: NodeJS.ProcessEnv | undefined;
  /** how long the platform may take to answer (default 10 s) */
  timeoutMs?: number | undefined;
}

export async function doctor(folders: DoctorOptions): Promise<DoctorCheck[]> {
  const sharp = await loadSharp();
  const checks: DoctorCheck[] = [
    { what: "wopack", status: "ok", detail: `${VERSION} on Node.js ${process.versions.node}` },
    {
      what: "sharp / libvips",
      status: "ok",
      detail: `sharp ${sharp.versions.sharp}, libvips ${sharp.versions.vips}`,
    },
    {
      what: "thread pool",
      status: "ok",
      detail: `${process.env.UV_THREADPOOL_SIZE ?? 4} libuv threads for ${availableParallelism()} cores (bin/wopack.js sets max(4, cores + 2) unless UV_THREADPOOL_SIZE is set)`,
    },
  ];
  const heic = heicDecoderStatus();
  checks.push(
    heic.native
      ? { what: "HEIC decoder", status: "ok", detail: heic.name }
      : {
          what: "HEIC decoder",
          status: "warn",
          detail: `${heic.name}, about 1.6x slower: ${heic.why}`,
          fix: heic.why?.startsWith("WOPACK_HEIC_DECODER")
            ? "unset WOPACK_HEIC_DECODER to use the native decoder"
            : "apt-get install libheif-dev libjpeg-dev pkg-config, then npm rebuild -g wopack (a global install) or npm run install (in a clone); do not run scripts/build-native.mjs by hand over a working build",
        },
  );
  const config = await configCheck(folders);
  checks.push(config.check);
  if (config.loaded) checks.push(...(await platformCheck(config.loaded, folders)));
  if (folders.staging) checks.push(await folderCheck("staging folder", folders.staging, false));
  if (folders.out) checks.push(await roomFor(await folderCheck("output folder", folders.out, true), folders.out));
  return checks;
}

type Role = "staging folder" | "output folder";

/**
 * The fix for a folder that cannot be used, by what was found: the right words differ for a staging folder
 * (never created by wopack), an output folder (created on first use, parents included) and the reason.
 */
export function folderFix(role: Role, found: string): string {
  const user = `the user wopack runs as (uid ${process.getuid?.() ?? "?"})`;
  switch (found) {
    case "ENOENT":
      return role === "staging folder"
        ? "create it, or mount its share (wopack never creates a staging folder)"
        : "create the folder above it (wopack creates the output folder itself, but not on a path that cannot be made)";
    case "EROFS":
      return "it is on a read-only file system: remount it read-write, or choose a folder on a writable disk";
    case "ENOTDIR":
    case "file":
      return role === "staging folder"
        ? "give the staging folder itself: a file is in the way on that path"
        : "a file is in the way on that path: give --out a path made of folders only, or move the file";
    case "ENOSPC":
      return "the disk is full: free space, or choose a folder on another disk";
    case "ELOOP":
      return "a symbolic link on that path points to itself: fix or remove the link";
    default:
      return `give ${user} ${role === "staging folder" ? "read" : "write"} access to it and the folders above it, e.g. with deploy/wopack.tmpfiles.conf`;
  }
}

const codeOf = (err: unknown): string => (err as NodeJS.ErrnoException).code ?? (err as Error).message;

/**
 * Readable (and writable: a file is made and removed), and on which file system. An output folder that
 * does not exist yet is judged by the nearest folder above it, since pack creates it with its parents.
 */
async function folderCheck(what: Role, dir: string, write: boolean): Promise<DoctorCheck> {
  const error = (detail: string, found: string): DoctorCheck => ({ what, status: "error", detail, fix: folderFix(what, found) });
  const s = await stat(dir).catch((err: unknown) => err as NodeJS.ErrnoException);
  if (s instanceof Error) {
    if (!(write && s.code === "ENOENT")) return error(`${dir}: ${codeOf(s)}`, codeOf(s));
    return missingOutput(what, dir, error);
  }
  if (!s.isDirectory()) return error(`${dir}: a file, not a folder`, "file");
  try {
    await access(dir, constants.R_OK | constants.X_OK);
    if (write) await rm(await mkdtemp(path.join(dir, ".wopack-doctor-")), { recursive: true });
  } catch (err) {
    return error(`${dir}: cannot ${write ? "write" : "read"} (${codeOf(err)})`, codeOf(err));
  }
  const fs = await fileSystemOf(dir);
  if (!write) {
    // watch, and pack --move-to, move packed work orders out of it: that changes the folder
    const { problem } = await whereWritable(dir, ".wopack-doctor-");
    if (problem) {
      return {
        what,
        status: "warn",
        detail: `${dir}: readable, but cannot be written (${problem}), on ${fs}: watch and pack --move-to cannot move packed work orders out of it (pack alone can)`,
        fix: folderFix(what, problem).replace(/ read access /, " write access "),
      };
    }
  }
  return {
    what,
    status: "ok",
    detail: `${dir}: readable and writable, on ${fs}${NETWORK.has(fs) ? " (a network share: watch needs --poll there, file events do not cross it)" : ""}`,
  };
}

/** An output folder to be made: fine when the nearest existing folder above it is writable. */
async function missingOutput(
  what: Role,
  dir: string,
  error: (detail: string, found: string) => DoctorCheck,
): Promise<DoctorCheck> {
  const { at, problem } = await whereWritable(path.dirname(path.resolve(dir)), ".wopack-doctor-");
  if (problem === "file") return error(`${dir}: cannot be created, ${at} is a file`, "file");
  if (problem) return error(`${dir}: cannot be created in ${at} (${problem})`, problem);
  const fs = await fileSystemOf(at);
  return { what, status: "ok", detail: `${dir}: does not exist yet; wopack creates it in ${at} (writable, on ${fs})` };
}

/** The config pack and watch would run with, found as they find it: a config error stops them (exit 2). */
async function configCheck(o: DoctorOptions): Promise<{ check: DoctorCheck; loaded?: Config }> {
  try {
    const { config, path: file } = await loadConfig({
      ...(o.configPath ? { configPath: o.configPath } : {}),
      ...(o.staging ? { staging: o.staging } : {}),
    });
    const detail = file ?? "none found (./wopack.config.json, then the staging folder's): the defaults apply";
    return { check: { what: "config", status: "ok", detail }, loaded: config };
  } catch (err) {
    if (!(err instanceof WopackError)) throw err;
    const detail = [`${err.code}: ${err.summary}`, ...err.lines].join(" ");
    return { check: { what: "config", status: "error", detail, fix: err.hint } };
  }
}

/**
 * With a platform configured (WOPACK_API_URL or upload.url): the key is there, and the platform answers
 * with it. Asked as upload asks for a batch's status, of a batch that does not exist: a 404 means the key
 * was accepted, a 401/403 that it was refused. Nothing is created or sent.
 */
async function platformCheck(config: Config, o: DoctorOptions): Promise<DoctorCheck[]> {
  const env = o.env ?? process.env;
  if (!(env.WOPACK_API_URL?.trim() || config.upload.url)) return [];
  const what = "platform";
  let credentials: { url: string; key: string };
  try {
    credentials = resolveCredentials(config, env);
  } catch (err) {
    if (!(err instanceof WopackError)) throw err;
    return [{ what, status: "error", detail: `${err.code}: ${err.message}`, fix: err.hint }];
  }
  const { url, key } = credentials;
  const clean = redactor(key, url);
  const where = clean(url);
  const timeoutMs = o.timeoutMs ?? 10_000;
  const r = await httpApi(url, key, { timeoutMs }).batchStatus("wopack-doctor");
  if (r.ok || r.kind === "gone") {
    // a 404 tells that the key was accepted only where a wrong key is refused: not at a wrong path
    const wrong = await httpApi(url, "wopack-doctor-not-a-key", { timeoutMs }).batchStatus("wopack-doctor");
    if (!wrong.ok && wrong.kind === "auth") return [{ what, status: "ok", detail: `${where} answers, and accepts the key` }];
    return [
      {
        what,
        status: "warn",
        detail: `${where} answers a made-up key as it answers yours (${wrong.ok ? "HTTP 200" : clean(wrong.detail)}): it is not the batch API, or does not check keys there`,
        fix: "check that upload.url (or WOPACK_API_URL) is the site's API base, e.g. https://api.<site-id>.customers.deepomatic.com/v0.2",
      },
    ];
  }
  const detail = clean(r.detail);
  if (r.kind === "auth") {
    return [
      {
        what,
        status: "error",
        detail: `${where} refused the key (${detail})`,
        fix: "check WOPACK_API_KEY (or upload.keyFile, or the systemd credential wopack-api-key) and that the key belongs to this site",
      },
    ];
  }
  if (r.kind === "retry") {
    return [
      {
        what,
        status: "error",
        detail: `${where} cannot be reached, or is unavailable (${detail})`,
        fix: "check upload.url (or WOPACK_API_URL), the name resolving, and a proxy or firewall between; uploads wait and try again meanwhile, but nothing is sent",
      },
    ];
  }
  return [
    {
      what,
      status: "warn",
      detail: `${where} answered what the batch API does not (${detail})`,
      fix: "check that upload.url (or WOPACK_API_URL) is the site's API base, e.g. https://api.<site-id>.customers.deepomatic.com/v0.2",
    },
  ];
}

/** Below this much free space an output folder is nearly full: one night's archive, or its copy being written, may not fit. */
export const LOW_SPACE_BYTES = 1024 ** 3;

/**
 * A usable output folder on a nearly full disk is a warning with the space left: writing the next
 * archive there fails (exit 3) however right the rest is. Judged where the folder is, or would be made.
 */
async function roomFor(check: DoctorCheck, dir: string): Promise<DoctorCheck> {
  if (check.status !== "ok") return check;
  const { at } = await whereWritable(dir, ".wopack-doctor-");
  const free = await statfs(at).then(
    (f) => f.bavail * f.bsize,
    () => undefined,
  );
  if (free === undefined || free >= LOW_SPACE_BYTES) return check;
  return {
    ...check,
    status: "warn",
    detail: `${check.detail}; nearly full: ${(free / 1024 ** 2).toFixed(1)} MB free`,
    fix: `free space there (wopack prune <out> --older-than 30d --delete removes old archives), or choose an output folder on a disk with at least ${LOW_SPACE_BYTES / 1024 ** 3} GiB free`,
  };
}

function fileSystemOf(dir: string): Promise<string> {
  return statfs(dir).then(
    (f) => FILE_SYSTEMS[f.type] ?? `type 0x${f.type.toString(16)}`,
    () => "unknown",
  );
}
