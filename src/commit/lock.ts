// One writer per --out. Node has no flock(), so the lock is a file created atomically with its content,
// its holder named well enough to tell a dead one from a live one, and taken over from a dead holder by
// exactly one run.
import { createHash, randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";
import { link, mkdir, readdir, readFile, rename, rm, stat, writeFile } from "node:fs/promises";
import { hostname } from "node:os";
import path from "node:path";
import { setTimeout as delay } from "node:timers/promises";
import { interruptedError, ioError, WopackError } from "../core/errors.js";

export interface LockHolder {
  pid: number;
  host: string;
  /** the kernel's boot id: a lock from before a reboot is stale whatever its pid */
  bootId?: string;
  /** the process's start time (clock ticks since boot): tells a reused pid from the holder */
  startTicks?: number;
  startedAt: string;
  /** unique per acquisition, so that two holders never have the same text */
  nonce?: string;
}

export interface Lock {
  release(): Promise<void>;
}

function readProc(file: string): string | undefined {
  try {
    return readFileSync(file, "utf8");
  } catch {
    return undefined;
  }
}

/** Field 22 of /proc/<pid>/stat (after the command name, which may hold spaces and parentheses). */
export function processStartTicks(pid: number): number | undefined {
  const stat = readProc(`/proc/${pid}/stat`);
  const fields = stat?.slice(stat.lastIndexOf(")") + 2).split(" ");
  const ticks = Number(fields?.[19]);
  return Number.isFinite(ticks) ? ticks : undefined;
}

const BOOT_ID = readProc("/proc/sys/kernel/random/boot_id")?.trim();
const START_TICKS = processStartTicks(process.pid);

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

/**
 * Whether the holder may still be running. Another host's holder cannot be checked, so it counts as alive.
 * On this host it is dead when the machine rebooted since, when its pid is ours (a restarted container's
 * pid 1), when no process has its pid, or when the process with its pid started at another time.
 */
export function holderAlive(holder: LockHolder, me = { host: hostname(), bootId: BOOT_ID, pid: process.pid }): boolean {
  if (holder.host !== me.host) return true;
  if (holder.bootId && me.bootId && holder.bootId !== me.bootId) return false;
  if (holder.pid === me.pid) return false;
  if (!isRunning(holder.pid)) return false;
  const ticks = holder.startTicks === undefined ? undefined : processStartTicks(holder.pid);
  return ticks === undefined || ticks === holder.startTicks;
}

function parseHolder(text: string): LockHolder | undefined {
  try {
    const h = JSON.parse(text) as LockHolder;
    return typeof h.pid === "number" && typeof h.host === "string" ? h : undefined;
  } catch {
    return undefined;
  }
}

async function readText(file: string): Promise<string | undefined> {
  try {
    return await readFile(file, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw err;
  }
}

/** Creates `target` as a hard link to `draft`: atomic, and it fails when `target` exists. */
async function createExclusive(draft: string, target: string): Promise<boolean> {
  try {
    await link(draft, target);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "EEXIST") return false;
    throw err;
  }
}

/**
 * Makes `target` ours: created when free; taken over when its holder is dead. A dead holder is replaced by
 * one run only: the one that creates the takeover token named after that very holder, which then checks
 * that `target` still names it before renaming its own file over it. A token whose creator died is taken
 * over the same way, one level down. Returns the live holder when there is one.
 */
async function claim(target: string, draft: string, depth = 0): Promise<{ ok: true } | { ok: false; holder?: LockHolder }> {
  for (let attempt = 0; attempt < 5; attempt++) {
    if (await createExclusive(draft, target)) return { ok: true };
    const text = await readText(target);
    if (text === undefined) continue; // released meanwhile: try again
    const holder = parseHolder(text);
    // an unparseable lock was written by nobody alive (creation is atomic, with the content)
    if (holder && holderAlive(holder)) return { ok: false, holder };
    if (depth > 3) return { ok: false };
    const token = `${target}.takeover.${createHash("sha256").update(text).digest("hex").slice(0, 16)}`;
    const got = await claim(token, draft, depth + 1);
    if (!got.ok) return got;
    try {
      if ((await readText(target)) !== text) continue; // taken over by another run already: look again
      // (a name no other call uses, the draft's nonce in it: it exists only from this link to this rename)
      const mine = `${draft}.${depth}`;
      await link(token, mine);
      await rename(mine, target).catch(async (err: unknown) => {
        await rm(mine, { force: true });
        throw err;
      });
      return { ok: true };
    } finally {
      await rm(token, { force: true });
    }
  }
  return { ok: false };
}

/** Whether a run that may still be running holds the lock at `lockPath` (status: is an upload in flight?). */
export async function heldByLiveRun(lockPath: string): Promise<boolean> {
  const text = await readText(lockPath).catch(() => undefined);
  const holder = text === undefined ? undefined : parseHolder(text);
  return holder !== undefined && holderAlive(holder);
}

/** The locks this process holds, by path: what they guard, it may rewrite (pictureStore.ts repairs). */
const held = new Set<string>();

/** Whether this process holds the lock at `lockPath` (taken by acquireLock, not released yet). */
export function holdsLock(lockPath: string): boolean {
  return held.has(path.resolve(lockPath));
}

/** One writer per --out: exit 4 when a live run holds the lock; a dead run's lock is taken over. */
export async function acquireLock(lockPath: string, draftDir: string, now: Date): Promise<Lock> {
  const { mine, text, draft } = await writeDraft(draftDir, now).catch((err) => {
    throw ioError(err, `cannot write to the output folder ${path.dirname(lockPath)}`);
  });
  try {
    const got = await claim(lockPath, draft).catch((err) => {
      throw ioError(err, `cannot take the lock ${lockPath}`);
    });
    if (got.ok) {
      held.add(path.resolve(lockPath));
      return {
        release: () => {
          held.delete(path.resolve(lockPath));
          return releaseLock(lockPath, text);
        },
      };
    }
    const h = got.holder;
    throw new WopackError(
      "locked",
      "E_LOCKED",
      h
        ? `another wopack run (pid ${h.pid} on ${h.host}, since ${h.startedAt}) is writing to ${path.dirname(path.dirname(lockPath))}`
        : `another wopack run is taking over the lock ${lockPath}`,
      `wait for it to finish and try again; if that process is gone for good${h && h.host !== mine.host ? " (it ran on another machine)" : ""}, delete ${lockPath}`,
    );
  } finally {
    await removeDraft(draft);
  }
}

/** This process's holder record, written beside the lock as a draft that claim() links or renames into place. */
async function writeDraft(draftDir: string, now: Date): Promise<{ mine: LockHolder; text: string; draft: string }> {
  const mine: LockHolder = {
    pid: process.pid,
    host: hostname(),
    ...(BOOT_ID ? { bootId: BOOT_ID } : {}),
    ...(START_TICKS === undefined ? {} : { startTicks: START_TICKS }),
    startedAt: now.toISOString(),
    nonce: randomUUID(),
  };
  const text = JSON.stringify(mine);
  const draft = path.join(draftDir, `lock.${mine.nonce}`);
  ownDrafts.add(path.resolve(draft));
  await mkdir(draftDir, { recursive: true });
  await writeFile(draft, text);
  return { mine, text, draft };
}

/**
 * The draft (the links claim() makes of it at a takeover are renamed over the lock, or removed by claim when
 * that fails: one rm here, where six in a row took ~3 ms of each journal record).
 */
async function removeDraft(draft: string): Promise<void> {
  await rm(draft, { force: true });
  ownDrafts.delete(path.resolve(draft));
}

/** This process's drafts in flight: never another's to clear up, even when its pid is taken for a dead one's. */
const ownDrafts = new Set<string>();

/**
 * Removes the holder drafts (`lock.<nonce>`) in `draftDir` that a killed run left: those whose holder is dead,
 * and those that never got their content (a kill while writing it) once a minute old. A live run's draft, which
 * it is about to claim or remove, is kept. Returns how many went.
 */
export async function removeDeadDrafts(draftDir: string, now: Date): Promise<number> {
  let removed = 0;
  for (const name of await readdir(draftDir).catch(() => [] as string[])) {
    if (!name.startsWith("lock.")) continue;
    const file = path.join(draftDir, name);
    // (and claim's link of one, `<draft>.<depth>`, on its way to a rename)
    if (ownDrafts.has(path.resolve(draftDir, name.replace(/\.\d+$/, "")))) continue;
    const info = await stat(file).catch(() => undefined);
    if (!info?.isFile()) continue;
    const holder = parseHolder((await readText(file)) ?? "");
    const dead = holder ? !holderAlive(holder) : now.getTime() - info.mtimeMs > 60_000;
    if (
      dead &&
      (await rm(file, { force: true }).then(
        () => true,
        () => false,
      ))
    )
      removed++;
  }
  return removed;
}

async function releaseLock(lockPath: string, text: string): Promise<void> {
  if ((await readText(lockPath).catch(() => undefined)) === text) await rm(lockPath, { force: true });
}

/** Runs of `withShortLock` in this process, by path: queued here, since a holder with our own pid counts as dead. */
const shortQueues = new Map<string, Promise<unknown>>();

export interface ShortLockWait {
  /** how long a live holder is waited for (default 30 s) */
  waitMs?: number | undefined;
  /** the run's abort signal: it ends the wait at once (E_INTERRUPTED); a free lock is still taken */
  signal?: AbortSignal | undefined;
}

/**
 * Runs `fn` holding a lock meant for a moment (the upload journal's writers, beside a `watch` that holds the lock
 * on --out for its life): a live holder is waited for up to `waitMs` (or until `signal` aborts), a dead one taken
 * over as acquireLock does.
 */
export function withShortLock<T>(
  lockFile: string,
  draftDir: string,
  fn: () => Promise<T>,
  { waitMs = 30_000, signal }: ShortLockWait = {},
): Promise<T> {
  const key = path.resolve(lockFile);
  const run = (shortQueues.get(key) ?? Promise.resolve())
    .catch(() => undefined)
    .then(() => holdingShortLock(lockFile, draftDir, fn, waitMs, signal));
  shortQueues.set(key, run);
  const forget = () => {
    if (shortQueues.get(key) === run) shortQueues.delete(key);
  };
  run.then(forget, forget);
  return run;
}

async function holdingShortLock<T>(
  lockFile: string,
  draftDir: string,
  fn: () => Promise<T>,
  waitMs: number,
  signal: AbortSignal | undefined,
): Promise<T> {
  const { text, draft } = await writeDraft(draftDir, new Date());
  try {
    const deadline = Date.now() + waitMs;
    for (let pause = 2; ; pause = Math.min(pause * 2, 100)) {
      const got = await claim(lockFile, draft);
      if (got.ok) break;
      if (Date.now() > deadline) {
        const h = got.holder;
        throw new WopackError(
          "locked",
          "E_LOCKED",
          `${lockFile} has been held${h ? ` by pid ${h.pid} on ${h.host}` : ""} for more than ${Math.round(waitMs / 1000)} s`,
          `it is held for a moment only: if that process is stuck or gone for good, delete ${lockFile}`,
        );
      }
      if (signal?.aborted) throw interruptedWait(lockFile, signal);
      await delay(pause, undefined, signal ? { signal } : {}).catch(() => {
        throw interruptedWait(lockFile, signal as AbortSignal);
      });
    }
  } finally {
    await removeDraft(draft);
  }
  try {
    return await fn();
  } finally {
    await releaseLock(lockFile, text);
  }
}

/** The run was interrupted while another process held the lock: the run's own reason, or one that names the lock. */
function interruptedWait(lockFile: string, signal: AbortSignal): WopackError {
  return signal.reason instanceof WopackError && signal.reason.kind === "interrupted"
    ? signal.reason
    : interruptedError(`interrupted while waiting for ${lockFile}`, "run again; nothing was written while waiting");
}
