import { spawn } from "node:child_process";
import { parseArgsStringToArgv } from "string-argv";
import type { HookRun } from "../core/types.js";

/**
 * --on-archive: runs the command with the committed archive's path as its last argument. The command
 * string is split like a shell would split words (quotes group), but nothing is expanded or interpolated:
 * no shell runs, so a file name can never become code.
 */
export function splitCommand(command: string): string[] {
  return parseArgsStringToArgv(command);
}

export interface HookOptions {
  /** stop it (its whole process group) after this long */
  timeoutMs: number;
  /** wopack is shutting down: stop it at once */
  signal?: AbortSignal | undefined;
  /** each line it prints, as it prints it */
  onLine?: (line: string) => void;
}

const KEEP_LINES = 20;
/** after SIGTERM, how long a hook has to exit before SIGKILL */
const GRACE_MS = 5_000;

/**
 * Runs the hook in a process group of its own, its stdin closed and its output streamed line by line (so a
 * chatty upload script can print gigabytes without being killed for it). On timeout or shutdown the whole
 * group gets SIGTERM, then SIGKILL: a hook can never keep the lock for ever.
 */
export function runHook(command: string[], archive: string, options: HookOptions): Promise<HookRun> {
  const [program, ...args] = command;
  return new Promise((resolve) => {
    const last: string[] = [];
    let killed: HookRun["killed"];
    let spawnError: Error | undefined;
    const child = spawn(program!, [...args, archive], { stdio: ["ignore", "pipe", "pipe"], detached: true });
    const keep = (line: string) => {
      last.push(line);
      if (last.length > KEEP_LINES) last.shift();
      options.onLine?.(line);
    };
    for (const stream of [child.stdout, child.stderr]) {
      let partial = "";
      stream.setEncoding("utf8");
      stream.on("data", (chunk: string) => {
        const lines = (partial + chunk).split("\n");
        partial = lines.pop()!;
        for (const line of lines) keep(line);
      });
      stream.on("end", () => partial && keep(partial));
    }
    const stopGroup = (why: NonNullable<HookRun["killed"]>) => {
      if (killed || child.exitCode !== null || child.pid === undefined) return;
      killed = why;
      const kill = (sig: NodeJS.Signals) => {
        try {
          process.kill(-child.pid!, sig);
        } catch {
          // the group is gone already
        }
      };
      kill("SIGTERM");
      setTimeout(() => kill("SIGKILL"), GRACE_MS).unref();
    };
    const timer = setTimeout(() => stopGroup("timeout"), options.timeoutMs);
    const onAbort = () => stopGroup("shutdown");
    options.signal?.addEventListener("abort", onAbort, { once: true });
    if (options.signal?.aborted) onAbort();
    let done = false;
    const finish = (code: number | null) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      options.signal?.removeEventListener("abort", onAbort);
      const why = spawnError
        ? `${spawnError.message}\n`
        : killed === "timeout"
          ? `stopped after ${options.timeoutMs / 1000}s (--on-archive-timeout)\n`
          : killed === "shutdown"
            ? "stopped: wopack was shutting down\n"
            : "";
      resolve({
        archive,
        command,
        ok: code === 0 && !killed && !spawnError,
        exitCode: code,
        output: (why + last.join("\n")).trim(),
        ...(killed ? { killed } : {}),
      });
    };
    child.on("error", (err) => {
      // could not start (no such program, not executable): there is no process to wait for
      spawnError = err;
      if (child.pid === undefined) finish(null);
    });
    child.on("close", finish);
  });
}
