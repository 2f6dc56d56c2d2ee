// `wopack doctor`: what this installation runs with, and what is wrong with it, each with its fix.
import { constants } from "node:fs";
import { access, mkdtemp, rm, stat, statfs } from "node:fs/promises";
import { availableParallelism } from "node:os";
import path from "node:path";
import sharp from "sharp";
import { heicDecoderStatus } from "../convert/heicDecoder.js";
import { VERSION } from "../core/version.js";

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

/** Readable (and writable: a file is made and removed), and on which file system. */
async function folderCheck(what: string, dir: string, write: boolean): Promise<DoctorCheck> {
  const s = await stat(dir).catch((err: NodeJS.ErrnoException) => err);
  if (s instanceof Error || !s.isDirectory()) {
    return {
      what,
      status: "error",
      detail: `${dir}: ${s instanceof Error ? (s.code ?? s.message) : "not a folder"}`,
      fix: "create it, or mount its share (wopack never creates a staging folder)",
    };
  }
  try {
    await access(dir, constants.R_OK | constants.X_OK);
    if (write) await rm(await mkdtemp(path.join(dir, ".wopack-doctor-")), { recursive: true });
  } catch (err) {
    return {
      what,
      status: "error",
      detail: `${dir}: cannot ${write ? "write" : "read"} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`,
      fix: `give the user wopack runs as (${process.getuid?.() ?? "?"}) ${write ? "write" : "read"} access, e.g. with deploy/wopack.tmpfiles.conf`,
    };
  }
  const fs = await statfs(dir).then(
    (f) => FILE_SYSTEMS[f.type] ?? `type 0x${f.type.toString(16)}`,
    () => "unknown",
  );
  const network = NETWORK.has(fs);
  return {
    what,
    status: "ok",
    detail: `${dir}: ${write ? "readable and writable" : "readable"}, on ${fs}${network ? " (a network share: watch needs --poll there, file events do not cross it)" : ""}`,
  };
}
