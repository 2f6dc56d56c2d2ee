import { type ChildProcessWithoutNullStreams, spawn, spawnSync } from "node:child_process";
import { afterAll } from "vitest";

export const haveExiftool = spawnSync("exiftool", ["-ver"]).status === 0;

/**
 * One exiftool for a test file's commands (`-stay_open`: each command's arguments read from stdin, its output
 * ended by "{readyN}"), closed after the file: exiftool is Perl, and each start cost ~0.3 s of CPU, ~100 of
 * them in one file. Call at a file's top level.
 */
export function exiftoolSession(): (args: string[]) => Promise<{ stdout: string; stderr: string }> {
  let child: ChildProcessWithoutNullStreams | undefined;
  let stdout = "";
  let stderr = "";
  let next = 0;
  const waiting = new Map<number, { resolve: (out: { stdout: string; stderr: string }) => void; reject: (e: Error) => void }>();
  afterAll(async () => {
    if (!child) return;
    const closed = new Promise((resolve) => child!.on("close", resolve));
    child.stdin.end("-stay_open\nFalse\n");
    await closed;
  });
  const start = (): ChildProcessWithoutNullStreams => {
    const c = spawn("exiftool", ["-stay_open", "True", "-@", "-"]);
    c.stdout.setEncoding("utf8");
    c.stderr.setEncoding("utf8");
    c.stderr.on("data", (d: string) => (stderr += d));
    c.stdout.on("data", (d: string) => {
      stdout += d;
      for (let m = /\{ready(\d+)\}\n/.exec(stdout); m; m = /\{ready(\d+)\}\n/.exec(stdout)) {
        const done = waiting.get(Number(m[1]));
        waiting.delete(Number(m[1]));
        // (stderr is whatever came before this command's end: commands run one at a time)
        done?.resolve({ stdout: stdout.slice(0, m.index), stderr });
        stdout = stdout.slice(m.index + m[0].length);
        stderr = "";
      }
    });
    // (an exiftool that ends while commands wait fails them at once, not at the test's timeout)
    c.on("close", (code) => {
      for (const { reject } of waiting.values()) reject(new Error(`exiftool ended (exit ${code}): ${stderr}`));
      waiting.clear();
    });
    return c;
  };
  return (args) => {
    if (args.some((a) => a.includes("\n"))) throw new Error("an exiftool argument holds a line break");
    child ??= start();
    const n = ++next;
    const done = new Promise<{ stdout: string; stderr: string }>((resolve, reject) => waiting.set(n, { resolve, reject }));
    child.stdin.write(`${[...args, `-execute${n}`].join("\n")}\n`);
    return done;
  };
}
