// `wopack status` after an upload run that did not get the archive there says what is true: nothing is "uploading"
// once no run sends it, and the last failure (its code, its time) is kept until a later try gets further - a
// refused key, an unreachable or busy platform, a refused archive, an interruption; after nothing, an earlier
// failure, or part of the archive confirmed by the platform.
import { spawn } from "node:child_process";
import { cp } from "node:fs/promises";
import { describe, expect, it } from "vitest";
import { formatStatus } from "../../src/cli/format.js";
import { parseConfig } from "../../src/config/load.js";
import { status } from "../../src/run/status.js";
import { upload } from "../../src/run/upload.js";
import { BIN, committedOutbox, ROOT, waitFor, wopack } from "../helpers.js";
import { UploadServer } from "../upload-server.js";

const KEY = "wk_live_status_after_failure_5b2e";
/** the CLI's retry backoff a tenth as long (an unreachable or busy platform is tried again once) */
const FAST = { WOPACK_TEST_TIME_SCALE: "0.1" };

interface Line {
  archive: string;
  state: string;
  since: string;
  problem?: { code: string; message: string };
}

/** Runs `wopack upload` and kills it (SIGKILL) once the server holds the request numbered `at`. */
async function killedAt(out: string, server: UploadServer, at: number): Promise<void> {
  server.faults.hold = { at, apply: true };
  const child = spawn(process.execPath, [BIN, "upload", out], {
    cwd: ROOT,
    env: { ...process.env, NO_COLOR: "1", WOPACK_API_URL: server.base, WOPACK_API_KEY: KEY },
    stdio: "ignore",
  });
  const exited = new Promise((resolve) => child.on("close", resolve));
  await waitFor(() => server.log.some((l) => l.url === "held"), "the held request");
  child.kill("SIGKILL");
  await exited;
  server.faults = {};
}

/** The one archive's name without .zip: the file name its batch is created with. */
async function batchName(out: string): Promise<string> {
  return (JSON.parse((await wopack(["status", out, "--json"])).stdout).archives[0].archive as string).replace(/\.zip$/, "");
}

type Before = "nothing" | "an earlier failure" | "part confirmed";
type Outcome = "key refused" | "unreachable" | "unavailable" | "archive refused" | "interrupted";

describe("status after an upload run that did not finish", () => {
  const befores: Before[] = ["nothing", "an earlier failure", "part confirmed"];
  const outcomes: Outcome[] = ["key refused", "unreachable", "unavailable", "archive refused", "interrupted"];
  it("(table) outcome x what came before: never 'uploading' with no run sending; the last failure and its time", async () => {
    const seen: string[] = [];
    // one outbox packed once; each cell starts from a copy of it (a pack a cell took a fifth of the table's time)
    const packed = await committedOutbox(1, 3);
    const filename = await batchName(packed.out);
    let cells = 0;
    for (const before of befores)
      for (const outcome of outcomes) {
        const cell = `${outcome} after ${before}`;
        const server = await new UploadServer(KEY).start();
        let stopped = false;
        try {
          const ws = { out: `${packed.out}-${cells++}` };
          await cp(packed.out, ws.out, { recursive: true });
          const env = { ...FAST, WOPACK_API_URL: server.base, WOPACK_API_KEY: KEY };
          if (before === "an earlier failure") {
            // (in this process: a setup, not what is checked; the CLI's status after a refusal is the first row's)
            server.faults.refuseFilename = filename;
            const refused = await upload({ out: ws.out, config: parseConfig({}), env });
            expect(
              refused.map((o) => [o.result, o.problem?.code]),
              cell,
            ).toEqual([["failed", "E_UPLOAD_REFUSED"]]);
            server.faults = {};
          } else if (before === "part confirmed") {
            await killedAt(ws.out, server, 2); // (0: the batch made, 1: its session asked, 2: the first chunk)
          }
          const beforeRun = new Date().toISOString();
          const args = ["upload", ws.out, "--upload-retries", "1"];
          let run: { code: number | null } | undefined;
          if (outcome === "key refused") {
            // (a resumed session is not asked for the key: its session expired, the batch's status is asked)
            for (const b of server.batches.values()) b.sessionGone = true;
            run = await wopack(args, { env: { ...env, WOPACK_API_KEY: "wrongkey" } });
          } else if (outcome === "unreachable") {
            await server.stop();
            stopped = true;
            run = await wopack(args, { env });
          } else if (outcome === "unavailable") {
            server.faults.unavailable = 1_000;
            run = await wopack(args, { env });
          } else if (outcome === "archive refused") {
            server.faults.refuseSession = 1_000;
            server.faults.refuseFilename = filename;
            run = await wopack(args, { env });
          } else {
            server.requests = 0;
            server.log.length = 0;
            await killedAt(ws.out, server, 0);
          }
          if (run) expect.soft(run.code, cell).not.toBe(0);
          // status: the CLI's (JSON and text) after each outcome on its own; after something came before, the
          // same functions in this process (two CLI runs a cell were half of the table's time)
          let line: Line | undefined;
          let text: string;
          if (before === "nothing") {
            const r = await wopack(["status", ws.out, "--json"]);
            expect.soft(r.stderr, cell).toBe("");
            [line] = JSON.parse(r.stdout).archives as Line[];
            text = (await wopack(["status", ws.out])).stdout;
          } else {
            const lines = await status(ws.out);
            [line] = JSON.parse(JSON.stringify(lines)) as Line[];
            text = formatStatus(lines, []);
          }
          seen.push(`${cell}: ${line!.state} ${line!.problem?.code ?? ""}`);
          expect.soft(line!.state, cell).not.toBe("uploading");
          expect.soft(text, cell).not.toMatch(/ {2}uploading /);
          if (outcome === "interrupted" && before === "nothing") {
            expect.soft(line!.state, cell).toBe("committed");
            continue;
          }
          // (a batch that may hold part of it, which the platform would not delete, needs a person: not "failed")
          const attention = outcome === "archive refused" && before === "part confirmed";
          expect.soft(line!.state, cell).toBe(attention ? "attention" : "failed");
          const code = line!.problem?.code;
          const expected: Record<Outcome, string[]> = {
            "key refused": ["E_UPLOAD_CREDENTIALS"],
            unreachable: ["E_PLATFORM_UNREACHABLE"],
            unavailable: ["E_PLATFORM_UNAVAILABLE"],
            "archive refused": attention ? ["E_UPLOAD_ATTENTION"] : ["E_UPLOAD_REFUSED"],
            // the run left nothing of its own: what came before stands
            interrupted: before === "an earlier failure" ? ["E_UPLOAD_REFUSED"] : ["E_UPLOAD_STOPPED"],
          };
          expect.soft(expected[outcome], `${cell}: ${code}`).toContain(code);
          // when: the failure's own time (an interrupted run's leaves the earlier one's)
          if (outcome !== "interrupted") expect.soft(line!.since >= beforeRun, `${cell}: ${line!.since}`).toBe(true);
          else expect.soft(line!.since < beforeRun, `${cell}: ${line!.since}`).toBe(true);
          expect.soft(text, cell).toContain(line!.since);
        } finally {
          if (!stopped) await server.stop();
        }
      }
    expect(seen).toHaveLength(befores.length * outcomes.length);
  }, 240_000);
});
