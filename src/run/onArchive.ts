// The --on-archive command: run after each commit (retried if asked), its outcome written to the ledger,
// and run again by `wopack upload --hooks` for archives whose command never succeeded.
import path from "node:path";
import { appendLedger, readLedger } from "../commit/ledger.js";
import { runHook } from "../commit/runCommand.js";
import { type Clock, systemClock } from "../core/clock.js";
import { ioError } from "../core/errors.js";
import { type HookRun, type Logger, silentLogger } from "../core/types.js";
import { checkOut } from "./folders.js";
import { openOutput } from "./session.js";

/** --on-archive-timeout's default: an upload of a few GB over a slow line fits. */
const DEFAULT_HOOK_TIMEOUT_MS = 30 * 60_000;

export interface HookSettings {
  onArchiveTimeoutMs?: number | undefined;
  /** run a failed command again this many times, after 1 s, 2 s, 4 s, ... (default 0) */
  onArchiveRetries?: number | undefined;
  signal?: AbortSignal | undefined;
  log: Logger;
  now: Clock;
}

/** Runs the command for one committed archive (retrying a failure if asked) and records how it went. */
export async function runArchiveHook(out: string, archive: string, command: string[], s: HookSettings): Promise<HookRun> {
  let run: HookRun;
  for (let attempt = 0; ; attempt++) {
    run = await runHook(command, path.join(out, archive), {
      timeoutMs: s.onArchiveTimeoutMs ?? DEFAULT_HOOK_TIMEOUT_MS,
      signal: s.signal,
      onLine: (line) => s.log.info(`--on-archive: ${line}`),
    });
    if (run.ok || run.killed === "shutdown" || attempt >= (s.onArchiveRetries ?? 0) || s.signal?.aborted) break;
    s.log.warn(`--on-archive failed for ${archive} (exit ${run.exitCode ?? "?"}); trying again`);
    await new Promise((r) => setTimeout(r, 1000 * 2 ** attempt));
  }
  await appendLedger(out, [{ type: "hook", archive, ok: run.ok, exitCode: run.exitCode, at: s.now().toISOString() }]).catch(
    (err) => {
      throw ioError(err, `cannot record the --on-archive outcome in the ledger of ${out}`);
    },
  );
  // (a failure is told once, by the run's result: its output was logged line by line as it came)
  if (run.ok) s.log.info(`--on-archive ran for ${archive}`);
  return run;
}

export interface RerunHooksOptions {
  out: string;
  command: string[];
  onArchiveTimeoutMs?: number | undefined;
  onArchiveRetries?: number | undefined;
  logger?: Logger;
  now?: Clock;
  signal?: AbortSignal | undefined;
}

/** `wopack upload --hooks`: the command again for every committed archive whose command failed last. */
export async function rerunHooks(options: RerunHooksOptions): Promise<HookRun[]> {
  const out = path.resolve(options.out);
  await checkOut(out);
  const log = options.logger ?? silentLogger;
  const now = options.now ?? systemClock;
  const session = await openOutput(out, log, now);
  try {
    const ledger = await readLedger(out);
    const runs: HookRun[] = [];
    for (const archive of [...ledger.hookFailed].sort()) {
      if (!ledger.archives.has(archive)) continue;
      runs.push(await runArchiveHook(out, archive, options.command, { ...options, log, now }));
    }
    return runs;
  } finally {
    await session.release();
  }
}
