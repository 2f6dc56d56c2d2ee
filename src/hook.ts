import { execFile } from "node:child_process";
import { parseArgsStringToArgv } from "string-argv";

export interface HookRun {
  archive: string;
  command: string[];
  ok: boolean;
  exitCode: number | null;
  /** the last lines the hook printed (stdout and stderr), for the report */
  output: string;
}

/**
 * --on-archive: runs the command with the committed archive's path as its last argument. The command
 * string is split like a shell would split words (quotes group), but nothing is expanded or interpolated:
 * no shell runs, so a file name can never become code.
 */
export function splitCommand(command: string): string[] {
  return parseArgsStringToArgv(command);
}

export function runHook(command: string[], archive: string): Promise<HookRun> {
  const [program, ...args] = command;
  return new Promise((resolve) => {
    execFile(program!, [...args, archive], { maxBuffer: 4 * 1024 * 1024 }, (err, stdout, stderr) => {
      const output = `${stdout}${stderr}`.split("\n").slice(-20).join("\n").trim();
      const exitCode = err ? (typeof err.code === "number" ? err.code : null) : 0;
      const why = err && typeof err.code !== "number" ? `${err.message}\n` : "";
      resolve({ archive, command, ok: !err, exitCode, output: why + output });
    });
  });
}
