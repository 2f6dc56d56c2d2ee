// doctor tells the truth about the config and the platform a service will use: a config that stops pack
// (exit 2) and an unreachable platform or a refused key (uploads that never arrive) are errors, not
// "nothing wrong". The platform is the test server on 127.0.0.1.
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type DoctorCheck, doctor } from "../../src/run/doctor.js";
import { put, tempDir, wopack } from "../helpers.js";
import { UploadServer } from "../upload-server.js";

const KEY = "doctor-canary-key-4f1c9e";
let server: UploadServer;
/** a port nothing listens on */
let closedPort: number;

beforeAll(async () => {
  server = await new UploadServer(KEY).start();
  const s = createServer();
  await new Promise<void>((resolve) => s.listen(0, "127.0.0.1", resolve));
  closedPort = (s.address() as AddressInfo).port;
  await new Promise<void>((resolve) => s.close(() => resolve()));
});
afterAll(() => server.stop());

type Case = {
  name: string;
  env: () => Record<string, string>;
  faults?: UploadServer["faults"];
  status: DoctorCheck["status"] | "absent";
  detail?: RegExp;
  fix?: RegExp;
};

const CASES: Case[] = [
  { name: "no platform configured: nothing to check", env: () => ({}), status: "absent" },
  {
    name: "the platform answers and accepts the key",
    env: () => ({ WOPACK_API_URL: server.base, WOPACK_API_KEY: KEY }),
    status: "ok",
    detail: /answers, and accepts the key/,
  },
  {
    name: "the platform answers with a trailing / in the URL",
    env: () => ({ WOPACK_API_URL: `${server.base}/`, WOPACK_API_KEY: KEY }),
    status: "ok",
    detail: /accepts the key/,
  },
  {
    name: "a wrong key",
    env: () => ({ WOPACK_API_URL: server.base, WOPACK_API_KEY: `${KEY}-old` }),
    status: "error",
    detail: /refused the key \(HTTP 401/,
    fix: /check WOPACK_API_KEY/,
  },
  {
    name: "a key the platform stopped accepting (403)",
    env: () => ({ WOPACK_API_URL: server.base, WOPACK_API_KEY: KEY }),
    faults: { refuseKey: true },
    status: "error",
    detail: /refused the key/,
  },
  {
    name: "nothing listens at the URL",
    env: () => ({ WOPACK_API_URL: `http://127.0.0.1:${closedPort}/v0.2`, WOPACK_API_KEY: KEY }),
    status: "error",
    detail: /cannot be reached, or is unavailable \(ECONNREFUSED\)/,
    fix: /check upload\.url/,
  },
  {
    name: "the platform is down (503)",
    env: () => ({ WOPACK_API_URL: server.base, WOPACK_API_KEY: KEY }),
    faults: { unavailable: 1000 },
    status: "error",
    detail: /cannot be reached, or is unavailable \(HTTP 503/,
  },
  {
    // (its 404 is no sign that the key was accepted: a made-up key gets the same)
    name: "a URL that is not the batch API (the server answers 404 to any key there)",
    env: () => ({ WOPACK_API_URL: `${server.base.replace(/\/v0\.2$/, "")}/v9`, WOPACK_API_KEY: KEY }),
    status: "warn",
    detail: /answers a made-up key as it answers yours \(HTTP 404.*\): it is not the batch API/,
    fix: /site's API base/,
  },
  {
    name: "no key",
    env: () => ({ WOPACK_API_URL: server.base }),
    status: "error",
    detail: /E_UPLOAD_NO_KEY/,
    fix: /WOPACK_API_KEY/,
  },
  {
    name: "a URL with a password in it",
    env: () => ({ WOPACK_API_URL: server.base.replace("http://", "http://ops:hunter2-pw@"), WOPACK_API_KEY: KEY }),
    status: "error",
    detail: /E_UPLOAD_URL: .*user name or password/,
  },
];

describe("wopack doctor: the platform", () => {
  for (const c of CASES) {
    it(c.name, async () => {
      server.faults = { ...c.faults };
      const env = c.env();
      const checks = await doctor({ env, configPath: undefined, timeoutMs: 5_000 });
      const check = checks.find((x) => x.what === "platform");
      if (c.status === "absent") return expect(check).toBeUndefined();
      expect(check?.status, check?.detail).toBe(c.status);
      expect(check?.detail).toMatch(c.detail!);
      if (c.fix) expect(check?.fix).toMatch(c.fix);
      // the key and a password in the URL are never part of what doctor says
      expect(JSON.stringify(checks)).not.toMatch(/doctor-canary-key|hunter2-pw/);
    });
  }
});

describe("wopack doctor: the config", () => {
  it("an invalid --config is an error with every problem listed (exit 1), where it said nothing wrong", async () => {
    const dir = await tempDir();
    const file = await put(dir, "bad.json", JSON.stringify({ images: { quality: 500 }, archive: { maxSiz: "2GiB" } }));
    const run = await wopack(["doctor", "--config", file]);
    expect(run.code, run.stdout + run.stderr).toBe(1);
    expect(run.stdout).toMatch(
      /ERROR config: E_CONFIG_INVALID: config .*bad\.json is invalid: images\.quality: must be at most 100 archive: Unrecognized key: "maxSiz"/,
    );
  });

  it("the config pack would find in the staging folder, named; the platform it names is asked", async () => {
    const dir = await tempDir();
    const staging = path.join(dir, "staging");
    await put(staging, "wopack.config.json", JSON.stringify({ upload: { url: server.base, keyFile: path.join(dir, "key") } }));
    await put(dir, "key", `${KEY}-wrong\n`);
    server.faults = {};
    const run = await wopack(["doctor", "--staging", staging], { cwd: dir });
    expect(run.stdout).toMatch(new RegExp(`ok {4}config: ${staging}/wopack.config.json`));
    expect(run.stdout).toMatch(/ERROR platform: .* refused the key/);
    expect(run.code).toBe(1);
    expect(run.stdout + run.stderr).not.toContain(KEY);
  });

  it("--print-config prints the config doctor would use, and runs nothing", async () => {
    const dir = await tempDir();
    const file = await put(dir, "c.json", JSON.stringify({ archive: { prefix: "night" } }));
    const run = await wopack(["doctor", "--config", file, "--print-config"]);
    expect(run.code, run.stderr).toBe(0);
    expect(JSON.parse(run.stdout).config.archive.prefix).toBe("night");
  });
});
