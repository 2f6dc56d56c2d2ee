// `wopack doctor`: what this installation runs with, and what is wrong with it, each with its fix.
import { constants } from "node:fs";
import { access, mkdtemp, rm, stat, statfs } from "node:fs/promises";
import { availableParallelism } from "node:os";
import path from "node:path";
import { heicDecoderStatus } from "../convert/heicDecoder.js";
import { loadSharp } from "../convert/onFirstUse.js";
import { VERSION } from "../core/version.js";
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

export async function doctor(folders: { staging?: string | undefined; out?: string | undefined }): Promise<DoctorCheck[]> {
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
  if (folders.staging) checks.push(await folderCheck("staging folder", folders.staging, false));
  if (folders.out) checks.push(await folderCheck("output folder", folders.out, true));
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
  return {
    what,
    status: "ok",
    detail: `${dir}: ${write ? "readable and writable" : "readable"}, on ${fs}${NETWORK.has(fs) ? " (a network share: watch needs --poll there, file events do not cross it)" : ""}`,
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

function fileSystemOf(dir: string): Promise<string> {
  return statfs(dir).then(
    (f) => FILE_SYSTEMS[f.type] ?? `type 0x${f.type.toString(16)}`,
    () => "unknown",
  );
}
