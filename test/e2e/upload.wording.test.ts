// What upload, status and init say when they fail must be true: "nothing was committed" only ends the errors
// of the commands that commit (pack, watch), and a platform that never answers usably is E_PLATFORM_UNREACHABLE
// naming its URL (redacted), not "the platform refused" (E_UPLOAD_REFUSED is for a real refusal). Tables.
import { mkdir, readdir, writeFile } from "node:fs/promises";
import { createServer, type Server } from "node:net";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { committedOutbox, put, tempDir, wopack } from "../helpers.js";
import { UploadServer } from "../upload-server.js";

const KEY = "wk_wording_0123456789";
const SECRET = "s3cretTok3n";

describe("an I/O failure says 'nothing was committed' only where something could have been", () => {
  // each an I/O failure (exit 3), made with a file where a folder must be (chmod does not stop root)
  const table: {
    command: string;
    args: (ws: { staging: string; out: string; dir: string }) => Promise<string[]>;
    commits: boolean;
  }[] = [
    {
      command: "upload (its state folder is a file)",
      args: async (ws) => {
        await mkdir(ws.out);
        await writeFile(path.join(ws.out, ".wopack"), "");
        await writeFile(path.join(ws.out, "x.zip"), "");
        return ["upload", ws.out];
      },
      commits: false,
    },
    {
      command: "status (its journal is a folder)",
      args: async (ws) => {
        await mkdir(path.join(ws.out, ".wopack", "uploads.jsonl"), { recursive: true });
        return ["status", ws.out];
      },
      commits: false,
    },
    {
      command: "init (its config is a folder)",
      args: async (ws) => {
        await mkdir(path.join(ws.dir, "wopack.config.json"));
        return ["init", ws.dir, "--force"];
      },
      commits: false,
    },
    {
      command: "pack (its state folder is a file)",
      args: async (ws) => {
        await put(ws.staging, "WO_1/meter/p.jpg", "x");
        await mkdir(ws.out);
        await writeFile(path.join(ws.out, ".wopack"), "");
        return ["pack", ws.staging, "--out", ws.out];
      },
      commits: true,
    },
  ];
  for (const { command, args, commits } of table) {
    it(`${command}: ${commits ? "says" : "does not say"} it`, async () => {
      const dir = await tempDir();
      const ws = { dir, staging: path.join(dir, "staging"), out: path.join(dir, "out") };
      await mkdir(ws.staging);
      const r = await wopack(await args(ws), { env: { WOPACK_API_URL: "http://127.0.0.1:9/v0.2", WOPACK_API_KEY: KEY } });
      expect(r.code, r.stderr).toBe(3);
      if (commits) expect(r.stderr).toContain("nothing was committed");
      else expect(r.stderr).not.toMatch(/committed/);
    });
  }
});

describe("a platform that never answers usably is unreachable, not refusing", () => {
  let server: UploadServer;
  let closed: Server;
  let closedPort = 0;
  beforeEach(async () => {
    server = await new UploadServer(KEY).start();
    // a port that was just free: nothing listens there, so a connection is refused
    closed = createServer();
    await new Promise<void>((r) => closed.listen(0, "127.0.0.1", r));
    closedPort = (closed.address() as { port: number }).port;
    await new Promise<void>((r) => closed.close(() => r()));
  });
  afterEach(async () => {
    await server.stop();
  });
  const table: { what: string; url: () => string; faults?: UploadServer["faults"]; code: string }[] = [
    { what: "nothing listens", url: () => `http://127.0.0.1:${closedPort}/v0.2?token=${SECRET}`, code: "E_PLATFORM_UNREACHABLE" },
    {
      what: "every answer is 503",
      url: () => `${server.base}?token=${SECRET}`,
      faults: { unavailable: 99 },
      code: "E_PLATFORM_UNAVAILABLE",
    },
    {
      what: "every answer is 502 (a batch made each time)",
      url: () => `${server.base}?token=${SECRET}`,
      faults: { loseCreated: { count: 99, how: 502 } },
      code: "E_PLATFORM_UNAVAILABLE",
    },
    {
      what: "the platform refuses the batch (400)",
      url: () => `${server.base}?token=${SECRET}`,
      faults: { refuseFilename: "*" },
      code: "E_UPLOAD_REFUSED",
    },
  ];
  for (const { what, url, faults, code } of table) {
    it(`${what}: ${code}`, async () => {
      const ws = await committedOutbox(1);
      if (faults) server.faults = { ...faults };
      const [zip] = (await readdir(ws.out)).filter((n) => n.endsWith(".zip"));
      if (faults?.refuseFilename) server.faults.refuseFilename = zip!.replace(/\.zip$/, "");
      const r = await wopack(["upload", ws.out, "--json", "--upload-retries", "1"], {
        env: { WOPACK_API_URL: url(), WOPACK_API_KEY: KEY, WOPACK_TEST_TIME_SCALE: "0.1" }, // (its one retry waits a tenth)
      });
      expect(r.code, r.stderr).toBe(1);
      const [u] = JSON.parse(r.stdout).uploads;
      expect(u.problem.code, u.problem.message).toBe(code);
      expect(r.stdout + r.stderr).not.toContain(SECRET);
      if (code.startsWith("E_PLATFORM_")) {
        expect(u.problem.message).toMatch(/127\.0\.0\.1:\d+\/v0\.2/);
        expect(u.problem.message).not.toMatch(/refused creating/);
        // (an answer with a status is no unreachable platform, and no answer is no status)
        expect(u.problem.message).toMatch(
          code === "E_PLATFORM_UNAVAILABLE" ? /kept answering .* with HTTP 50[23]/ : /could not be reached/,
        );
      }
    });
  }
});
