import { spawn, spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdir, readdir, readFile, stat, writeFile } from "node:fs/promises";
import path from "node:path";
import sharp from "sharp";
import { describe, expect, it } from "vitest";
import { BIN, put, ROOT, tempDir, waitFor } from "../helpers.js";
import { UploadServer } from "../upload-server.js";

const DEPLOY = path.join(ROOT, "deploy");

/** The unit file with the install paths pointed at this checkout's binary and a temp folder. */
async function localise(name: string, dir: string): Promise<string> {
  const text = (await readFile(path.join(DEPLOY, name), "utf8"))
    .replaceAll("/usr/bin/wopack", BIN)
    .replaceAll("/srv/wopack", dir);
  // the folders deploy/wopack.tmpfiles.conf makes at install (systemd-tmpfiles --create), and only those:
  // wopack creates no --uploaded-to folder itself
  for (const line of (await readFile(path.join(DEPLOY, "wopack.tmpfiles.conf"), "utf8")).split("\n")) {
    const [type, folder] = line.split(/\s+/);
    if (type === "d" && folder?.startsWith("/srv/wopack")) await mkdir(folder.replace("/srv/wopack", dir), { recursive: true });
  }
  const file = path.join(dir, name);
  await writeFile(file, text);
  return text;
}

function execStart(unit: string): string[] {
  const line = unit.split("\n").find((l) => l.startsWith("ExecStart="))!;
  return line.slice("ExecStart=".length).trim().split(/\s+/);
}

/**
 * Runs a watch unit's command line (settle shortened to 1 s) until it prints `event`, then stops it with
 * SIGTERM as systemd does; its exit code.
 */
async function runWatchUnitUntil(
  unit: string,
  dir: string,
  event: string,
  env: Record<string, string> = {},
  whileRunning: (stdout: string) => Promise<void> = async () => undefined,
) {
  const [bin, ...args] = execStart(unit);
  // (settle shortened; the status server on any free port, as several tests run at once)
  const child = spawn(
    bin!,
    args.map((a) => (a === "30s" ? "1s" : a === "127.0.0.1:9464" ? "127.0.0.1:0" : a)),
    { cwd: dir, stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, ...env } },
  );
  let stdout = "";
  child.stdout!.on("data", (d) => (stdout += d));
  const exited = new Promise<number | null>((r) => child.on("close", r));
  await waitFor(() => stdout.includes(`"event":"${event}"`), `the unit's watch to print ${event} (stdout: ${stdout})`);
  await whileRunning(stdout);
  child.kill("SIGTERM");
  return exited;
}

async function sampleStaging(dir: string) {
  await mkdir(path.join(dir, "staging"), { recursive: true });
  const jpeg = await sharp({ create: { width: 32, height: 32, channels: 3, background: "#357" } })
    .jpeg()
    .toBuffer();
  await put(dir, "staging/WO_1/meter/a.jpg", jpeg);
}

describe("deploy/: systemd units and the cron line", () => {
  it("tmpfiles.d creates the folders the units use, owned by wopack, in a temp root", async (ctx) => {
    if (spawnSync("systemd-tmpfiles", ["--version"]).status !== 0) ctx.skip();
    const root = await tempDir("wopack-root-");
    await put(root, "etc/passwd", "root:x:0:0::/root:/bin/sh\nwopack:x:990:990::/srv/wopack:/usr/sbin/nologin\n");
    await put(root, "etc/group", "root:x:0:\nwopack:x:990:\n");
    const run = spawnSync("systemd-tmpfiles", ["--create", `--root=${root}`, path.join(DEPLOY, "wopack.tmpfiles.conf")], {
      encoding: "utf8",
    });
    expect(run.status, run.stderr).toBe(0);
    // every folder a unit or the cron line names (ReadWritePaths, --out, --move-to, ..., the log) exists
    const named = new Set<string>();
    // (the files of the systemd install; deploy/kubernetes/ has folders of its own, in its pods)
    for (const f of (await readdir(DEPLOY, { withFileTypes: true })).filter((e) => e.isFile()).map((e) => e.name)) {
      const text = await readFile(path.join(DEPLOY, f), "utf8");
      for (const m of text.matchAll(/(\/srv\/wopack(?:\/[a-z]+)?|\/var\/log\/wopack)(?=[\s/]|$)/g)) named.add(m[1]!);
    }
    for (const dir of named) {
      const s = await stat(path.join(root, dir)).catch(() => undefined);
      expect(s?.isDirectory(), dir).toBe(true);
      expect(s!.uid, dir).toBe(990);
    }
    expect((await stat(path.join(root, "srv/wopack/staging"))).mode & 0o7777).toBe(0o2770);
  });

  it("install.sh, the README's service steps as one script, sets up a temp root: folders, units, rotation, config", async (ctx) => {
    if (spawnSync("systemd-tmpfiles", ["--version"]).status !== 0) ctx.skip();
    const root = await tempDir("wopack-root-");
    await put(root, "etc/passwd", "root:x:0:0::/root:/bin/sh\nwopack:x:990:990::/srv/wopack:/usr/sbin/nologin\n");
    await put(root, "etc/group", "root:x:0:\nwopack:x:990:\n");
    const install = () =>
      spawnSync("sh", [path.join(DEPLOY, "install.sh")], {
        encoding: "utf8",
        env: { ...process.env, ROOT: root, WOPACK_BIN: BIN },
      });
    const first = install();
    expect(first.status, first.stderr).toBe(0);
    for (const dir of ["srv/wopack/staging", "srv/wopack/outbox", "srv/wopack/processed", "var/log/wopack"])
      expect((await stat(path.join(root, dir))).uid, dir).toBe(990);
    for (const unit of ["wopack-watch.service", "wopack-watch-upload.service", "wopack-pack.service"]) {
      const text = await readFile(path.join(root, "etc/systemd/system", unit), "utf8");
      expect(execStart(text)[0], unit).toBe(BIN);
      expect(text).toContain("OnFailure=wopack-alert@%n.service");
    }
    expect(existsSync(path.join(root, "etc/systemd/system/wopack-alert@.service"))).toBe(true);
    expect(existsSync(path.join(root, "etc/logrotate.d/wopack"))).toBe(true);
    const config = path.join(root, "srv/wopack/wopack.config.json");
    expect((await stat(config)).uid).toBe(990);
    expect(existsSync(path.join(root, "srv/wopack/wopack.config.schema.json"))).toBe(true);
    // the units run in /srv/wopack: wopack finds the config there
    const run = spawnSync(BIN, ["pack", "staging", "--out", "outbox", "--verbose"], {
      cwd: path.join(root, "srv/wopack"),
      encoding: "utf8",
    });
    expect(run.status, run.stderr).toBe(0);
    expect(run.stderr).toContain(`config: ${config}`);
    // run again: an edited config is kept
    await writeFile(config, '{ "archive": { "prefix": "site7" } }');
    expect(install().status).toBe(0);
    expect(await readFile(config, "utf8")).toContain("site7");
  });

  it("the logrotate file for the cron log parses (logrotate -d)", async (ctx) => {
    if (spawnSync("logrotate", ["--version"]).status !== 0) ctx.skip();
    const dir = await tempDir();
    const conf = (await readFile(path.join(DEPLOY, "wopack.logrotate"), "utf8"))
      .replaceAll("/var/log/wopack", dir)
      .replace(/su wopack wopack/, "su root root");
    await put(dir, "wopack.logrotate", conf);
    await put(dir, "pack.log", "a night\n");
    const run = spawnSync("logrotate", ["-d", "-s", path.join(dir, "state"), path.join(dir, "wopack.logrotate")], {
      encoding: "utf8",
    });
    expect(run.status, run.stderr).toBe(0);
    expect(run.stderr).toMatch(/considering log .*pack\.log/);
    expect(run.stderr).not.toMatch(/error/i);
    expect(await readFile(path.join(DEPLOY, "wopack.cron"), "utf8")).toContain(">> /var/log/wopack/pack.log");
  });

  it("the units parse (systemd-analyze verify) once pointed at a real binary", async (ctx) => {
    if (spawnSync("systemd-analyze", ["--version"]).status !== 0) ctx.skip();
    const dir = await tempDir();
    const all = ["wopack-watch.service", "wopack-watch-upload.service", "wopack-pack.service", "wopack-pack.timer"];
    for (const unit of [...all, "wopack-alert@.service"]) await localise(unit, dir);
    // each names the alert unit on failure, which must parse too (as an instance)
    for (const unit of all.filter((u) => u.endsWith(".service")))
      expect(await readFile(path.join(dir, unit), "utf8")).toContain("OnFailure=wopack-alert@%n.service");
    await writeFile(
      path.join(dir, "wopack-alert@wopack-watch.service.service"),
      await readFile(path.join(dir, "wopack-alert@.service")),
    );
    for (const units of [
      ["wopack-watch.service", "wopack-alert@wopack-watch.service.service"],
      ["wopack-watch-upload.service"],
      ["wopack-pack.service", "wopack-pack.timer"],
    ]) {
      const run = spawnSync("systemd-analyze", ["verify", ...units.map((u) => path.join(dir, u))], { encoding: "utf8" });
      expect(run.stderr).toBe("");
      expect(run.status).toBe(0);
    }
    // and it does complain about what it should: the shipped path does not exist on this machine
    const raw = spawnSync("systemd-analyze", ["verify", path.join(DEPLOY, "wopack-watch.service")], { encoding: "utf8" });
    expect(raw.stderr).toContain("/usr/bin/wopack");
  });

  it("the services are hardened: systemd-analyze security rates each 2.0 or better (it rated them 9.2)", async (ctx) => {
    if (spawnSync("systemd-analyze", ["--version"]).status !== 0) ctx.skip();
    const dir = await tempDir();
    for (const unit of ["wopack-watch.service", "wopack-watch-upload.service", "wopack-pack.service"]) {
      await localise(unit, dir);
      const run = spawnSync("systemd-analyze", ["security", "--offline=true", path.join(dir, unit)], { encoding: "utf8" });
      const level = /Overall exposure level for \S+: (\d+\.\d)/.exec(run.stdout + run.stderr);
      expect(level, run.stdout + run.stderr).not.toBeNull();
      expect(Number(level![1]), unit).toBeLessThanOrEqual(2.0);
    }
  });

  it("a config error is not restarted for ever, and the nightly run cannot hang every later night", async () => {
    for (const unit of ["wopack-watch.service", "wopack-watch-upload.service"]) {
      const text = await readFile(path.join(DEPLOY, unit), "utf8");
      expect(text).toMatch(/^RestartPreventExitStatus=2\b/m);
      expect(text).toMatch(/^StartLimitBurst=\d+/m);
    }
    const nightly = await readFile(path.join(DEPLOY, "wopack-pack.service"), "utf8");
    expect(nightly).toMatch(/^TimeoutStartSec=\S+/m);
    expect(await readFile(path.join(DEPLOY, "wopack.cron"), "utf8")).not.toMatch(/flock -n \/tmp\//);
  });

  it("the watch unit's command line runs: it packs and stops cleanly on SIGTERM, as systemd stops it", async () => {
    const dir = await tempDir();
    await sampleStaging(dir);
    const unit = await localise("wopack-watch.service", dir);
    expect(execStart(unit)[0]).toBe(BIN);
    expect(execStart(unit)).toContain("--http");
    const healthz = async (stdout: string) => {
      const url = /"url":"(http:[^"]+)"/.exec(stdout)?.[1];
      expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      expect((await fetch(`${url}/healthz`)).status).toBe(200);
    };
    expect(await runWatchUnitUntil(unit, dir, "packed", {}, healthz)).toBe(0);
    expect(await readdir(path.join(dir, "processed"))).toEqual(["WO_1"]);
  });

  it("the upload unit's command line runs: its key from systemd's credential, each archive sent once", async () => {
    const server = await new UploadServer("deploy-key-0123").start();
    try {
      const dir = await tempDir();
      await sampleStaging(dir);
      const unit = await localise("wopack-watch-upload.service", dir);
      const credentials = path.join(dir, "credentials");
      await put(credentials, "wopack-api-key", "deploy-key-0123\n");
      expect(unit).toContain("LoadCredential=wopack-api-key:");
      // what systemd sets: Environment= lines (the URL pointed at the test server) and the credential
      const env = { WOPACK_API_KEY: "", WOPACK_API_URL: server.base, CREDENTIALS_DIRECTORY: credentials };
      expect(await runWatchUnitUntil(unit, dir, "uploaded", env)).toBe(0);
      expect([...server.accepted().values()].flat()).toHaveLength(1);
      expect((await readdir(path.join(dir, "sent"))).sort()).toEqual([
        expect.stringMatching(/\.html$/), // (the review page moves with its archive)
        expect.stringMatching(/\.zip$/),
        expect.stringMatching(/\.zip\.report\.json$/),
      ]);
      expect(server.violations).toEqual([]);
    } finally {
      await server.stop();
    }
  });

  it("the nightly unit's command line runs", async () => {
    const dir = await tempDir();
    await sampleStaging(dir);
    const [bin, ...args] = execStart(await localise("wopack-pack.service", dir));
    const run = spawnSync(
      bin!,
      args.map((a) => (a === "10m" ? "0s" : a)),
      { cwd: dir, encoding: "utf8" },
    );
    expect(run.status).toBe(0);
    expect((await readdir(path.join(dir, "outbox"))).filter((n) => n.endsWith(".zip"))).toHaveLength(1);
  });

  it("the cron line has a valid schedule and user, and its command runs", async () => {
    const text = await readFile(path.join(DEPLOY, "wopack.cron"), "utf8");
    const line = text.split("\n").find((l) => l.trim() && !l.startsWith("#"))!;
    const [minute, hour, dom, month, dow, user, ...command] = line.split(/\s+/);
    expect([minute, hour, dom, month, dow]).toEqual(["0", "2", "*", "*", "*"]);
    expect(user).toBe("wopack");
    const dir = await tempDir();
    await sampleStaging(dir);
    await mkdir(path.join(dir, "log"));
    const shell = command
      .join(" ")
      .replaceAll("/usr/bin/wopack", BIN)
      .replaceAll("/srv/wopack", dir)
      .replace("/var/log/wopack", path.join(dir, "log"))
      .replace("/tmp/wopack.cron.lock", path.join(dir, "cron.lock"))
      .replace("--settle 10m", "--settle 0s");
    const run = spawnSync("sh", ["-c", shell], { encoding: "utf8" });
    expect(run.status, await readFile(path.join(dir, "log", "pack.log"), "utf8").catch(() => "")).toBe(0);
    expect((await readdir(path.join(dir, "outbox"))).filter((n) => n.endsWith(".zip"))).toHaveLength(1);
  });
});
