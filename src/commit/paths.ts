// Where wopack keeps its own state inside --out.
import path from "node:path";

/** wopack's own state inside --out: the lock, the ledger and unfinished temporary files. */
export function stateDir(out: string): string {
  return path.join(out, ".wopack");
}
export function tmpDir(out: string): string {
  return path.join(stateDir(out), "tmp");
}
/** Where the native HEIC decoder marks the files it is decoding (convert/heicDecoder.ts). */
export function decodingDir(out: string): string {
  return path.join(stateDir(out), "decoding");
}

/** The lock file that keeps one writer per --out (lock.ts). */
export function lockPath(out: string): string {
  return path.join(stateDir(out), "lock");
}
