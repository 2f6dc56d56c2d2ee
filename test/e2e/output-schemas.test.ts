// Issue 13: the --json output is documented by JSON Schemas shipped in schema/ (built from the types in
// src/cli/output.ts), each with a schemaVersion; real output of pack, validate and the log validates.
// Issue 21: every JSON line any command writes on stderr does, upload's progress lines included.
import { readFile } from "node:fs/promises";
import path from "node:path";
import { Ajv } from "ajv";
import sharp from "sharp";
import { describe, expect, it } from "vitest";
import { archivesIn, besidesPhotoChecks, photoChecksOff, put, ROOT, solidJpeg, wopack, workspace } from "../helpers.js";
import { UploadServer } from "../upload-server.js";
import { Watcher } from "../watcher.js";

const load = async (file: string) => JSON.parse(await readFile(path.join(ROOT, "schema", file), "utf8"));

async function validator(file: string) {
  const ajv = new Ajv({ strict: false, allErrors: true });
  const check = ajv.compile(await load(file));
  return (value: unknown) => {
    const ok = check(value);
    return ok ? "valid" : JSON.stringify(check.errors?.slice(0, 3));
  };
}

describe("honest counts and warnings (issue 22)", () => {
  it("copied, trimmed and converted photos are counted apart in --json, the report, the summary and the review page; work-order warnings reach the top level", async () => {
    const ws = await workspace();
    const jpeg = await solidJpeg();
    await put(ws.staging, "WO_1/meter/copied.jpg", jpeg);
    await put(ws.staging, "WO_1/meter/trimmed.jpg", Buffer.concat([jpeg, Buffer.from("motion photo video")]));
    await put(
      ws.staging,
      "WO_1/meter/converted.webp",
      sharp({ create: { width: 64, height: 48, channels: 3, background: "#753" } })
        .webp()
        .toBuffer(),
    );
    const frame = (c: string) =>
      sharp({ create: { width: 32, height: 24, channels: 3, background: c } })
        .png()
        .toBuffer();
    await put(
      ws.staging,
      "WO_2/meter/animated.gif",
      sharp([await frame("#f00"), await frame("#00f")], { join: { animated: true } })
        .gif()
        .toBuffer(),
    );
    const counts = { copied: 1, trimmed: 1, converted: 2 };

    const run = await wopack(["pack", ws.staging, "--out", ws.out, "--json"]);
    expect(run.code, run.stderr).toBe(0);
    const result = JSON.parse(run.stdout);
    expect((await validator("pack-output.schema.json"))(result)).toBe("valid");
    expect(result.photos).toEqual(counts);
    expect(besidesPhotoChecks(result.warnings as { code: string }[]).map((w) => w.code)).toEqual(["W_FIRST_PAGE_ONLY"]);
    expect(result.packed.find((w: { id: string }) => w.id === "WO_2").warnings[0].code).toBe("W_FIRST_PAGE_ONLY");
    const [zip] = await archivesIn(ws.out);
    const report = JSON.parse(await readFile(`${zip}.report.json`, "utf8"));
    expect(report.photos).toEqual(counts);
    const handling = Object.fromEntries(
      report.workOrders.flatMap((wo: { entries: { source: string; handling: string }[] }) =>
        wo.entries.map((e) => [path.basename(e.source), e.handling]),
      ),
    );
    expect(handling).toEqual({
      "copied.jpg": "copied",
      "trimmed.jpg": "trimmed",
      "converted.webp": "converted",
      "animated.gif": "converted",
    });
    const page = await readFile(zip!.replace(/\.zip$/, ".html"), "utf8");
    expect(page).toContain("4 (2 converted, 1 trimmed of data after the image&#39;s end, 1 copied as they were)");

    // (its plain pictures would also be flagged by the photo checks, which are not what this counts)
    const human = await wopack(["pack", ws.staging, "--out", `${ws.out}-2`, ...(await photoChecksOff(ws.dir))]);
    expect(human.stdout).toContain("photos: 4 (2 converted, 1 trimmed of data after the image's end, 1 copied as they were)");
    // the warning is told once, in the log; the summary counts it (one event, one line)
    expect(`${human.stdout}\n${human.stderr}`.match(/W_FIRST_PAGE_ONLY/g)).toHaveLength(1);
    expect(human.stdout).toMatch(/; 1 warning \(logged above\)/);
  });
});

describe("the --json output and its JSON Schemas", () => {
  it("pack --json (and --dry-run) validates against schema/pack-output.schema.json, with schemaVersion 1", async () => {
    const ws = await workspace();
    await put(ws.staging, "WO_1/meter/a.jpg", solidJpeg());
    await put(
      ws.staging,
      "WO_1/meter/b.webp",
      sharp({ create: { width: 64, height: 48, channels: 3, background: "#753" } })
        .webp()
        .toBuffer(),
    );
    await put(ws.staging, "WO_bad/meter/a.jpg", "not a photo");
    await put(ws.staging, "stray.txt", "x");
    const check = await validator("pack-output.schema.json");
    const dry = JSON.parse((await wopack(["pack", ws.staging, "--out", ws.out, "--dry-run", "--json"])).stdout);
    expect(dry.schemaVersion).toBe(1);
    expect(check(dry)).toBe("valid");
    const run = await wopack(["pack", ws.staging, "--out", ws.out, "--json"]);
    const result = JSON.parse(run.stdout);
    expect(result).toMatchObject({ schemaVersion: 1, refused: [{ id: "WO_bad" }] });
    expect(result.archives[0].workOrders[0].entries.length).toBe(2);
    expect(check(result)).toBe("valid");
    // the schema is not a blank cheque: a wrong field type fails it
    expect(check({ ...result, archives: "none" })).not.toBe("valid");

    // every log line of the same run validates against schema/log-line.schema.json
    const line = await validator("log-line.schema.json");
    const again = await wopack(["pack", ws.staging, "--out", `${ws.out}-2`, "--log-format", "json"]);
    const lines = again.stderr
      .split("\n")
      .filter(Boolean)
      .map((l) => JSON.parse(l));
    expect(lines.some((l) => l.event === "packed")).toBe(true);
    for (const l of lines) expect(line(l), JSON.stringify(l)).toBe("valid");

    // validate --json, of the staging folder and of the archive
    const report = await validator("validate-output.schema.json");
    for (const target of [ws.staging, (await archivesIn(ws.out))[0]!]) {
      const v = JSON.parse((await wopack(["validate", target, "--json"])).stdout);
      expect(v.schemaVersion).toBe(1);
      expect(report(v)).toBe("valid");
    }
  });

  it("watch --json lines validate against schema/log-line.schema.json", async () => {
    const ws = await workspace();
    await put(ws.staging, "WO_1/meter/a.jpg", solidJpeg());
    await put(ws.staging, "notes.txt", "x");
    const line = await validator("log-line.schema.json");
    const watcher = new Watcher([ws.staging, "--out", ws.out, "--settle", "1s"]);
    try {
      await watcher.until("packed", (w) => w.packedIds().includes("WO_1"));
    } finally {
      await watcher.stop();
    }
    expect(watcher.events.map((e) => e.event)).toEqual(
      expect.arrayContaining(["started", "warning", "ready", "packed", "stopped"]),
    );
    for (const e of watcher.events) expect(line(e), JSON.stringify(e)).toBe("valid");
  });
});

describe("every JSON line on stderr validates against schema/log-line.schema.json (issue 21, item 9a)", () => {
  it.for(["--json", "--log-format json"])("pack, watch, validate, upload, prune and status with %s", async (flags) => {
    const mode = flags.split(" ");
    const KEY = "wk_test_log_lines";
    const server = await new UploadServer(KEY).start();
    try {
      const line = await validator("log-line.schema.json");
      const ws = await workspace();
      const processed = path.join(ws.dir, "processed");
      await put(ws.staging, "WO_1/meter/a.jpg", solidJpeg());
      await put(ws.staging, "WO_2/meter/a.jpg", solidJpeg("#a31"));
      await put(ws.staging, "WO_bad/meter/a.jpg", "not a photo");
      await put(ws.staging, "stray.txt", "x");
      const env = { WOPACK_API_URL: server.base, WOPACK_API_KEY: KEY };
      const stderr: Record<string, string> = {};
      stderr.validate = (await wopack(["validate", ws.staging, ...mode])).stderr;
      const packed = await wopack([
        "pack",
        ws.staging,
        "--out",
        ws.out,
        "--move-to",
        processed,
        "--max-work-orders",
        "1",
        ...mode,
      ]);
      expect(packed.code, packed.stderr).toBe(1); // WO_bad refused
      stderr.pack = packed.stderr;
      const sent = await wopack(["upload", ws.out, ...mode], { env });
      expect(sent.code, sent.stderr).toBe(0);
      stderr.upload = sent.stderr;
      stderr.prune = (await wopack(["prune", ws.out, "--older-than", "30d", "--processed", processed, ...mode])).stderr;
      stderr.status = (await wopack(["status", ws.out, "--refresh", ...mode], { env })).stderr;
      // watch, briefly: started, then stopped by SIGTERM (its events on stdout, its errors on stderr)
      const staging2 = path.join(ws.dir, "staging2");
      await put(staging2, "stray.txt", "x");
      const watcher = new Watcher([staging2, "--out", path.join(ws.dir, "out2"), "--settle", "0", ...mode]);
      try {
        await watcher.until("started", (w) => w.events.some((e) => e.event === "started"));
      } finally {
        await watcher.stop();
      }
      stderr.watch = watcher.stderr;
      for (const e of watcher.events) expect(line(e), JSON.stringify(e)).toBe("valid");

      const lines = Object.entries(stderr).flatMap(([command, text]) =>
        text
          .split("\n")
          .filter(Boolean)
          .map((l) => ({ command, l })),
      );
      for (const { command, l } of lines) {
        let parsed: unknown;
        expect(() => (parsed = JSON.parse(l)), `${command}: not a JSON line: ${l}`).not.toThrow();
        expect(line(parsed), `${command}: ${l}`).toBe("valid");
      }
      // the lines are there to be checked: pack's packed events, upload's progress to 100 %
      const events = lines.map(({ command, l }) => ({
        command,
        ...(JSON.parse(l) as { event?: string; sent?: number; total?: number }),
      }));
      expect(events.filter((e) => e.command === "pack" && e.event === "packed")).toHaveLength(2);
      const progress = events.filter((e) => e.command === "upload" && e.event === "progress");
      expect(progress.filter((p) => p.sent === p.total && p.total! > 0)).toHaveLength(2);
    } finally {
      await server.stop();
    }
  });
});

describe("every JSON line on stderr validates, on the failing and waiting paths too (issue 21, item 9: audit)", () => {
  it.for(["--json", "--log-format json"])(
    "upload's retries, refusals, refused key, gone session, needs attention, digests that differ; pack/watch --upload; review; init; doctor, with %s --verbose",
    { timeout: 240_000 },
    async (flags) => {
      const mode = [...flags.split(" "), "--verbose"];
      const KEY = "wk_test_log_lines_2";
      const server = await new UploadServer(KEY).start();
      try {
        const line = await validator("log-line.schema.json");
        // (the retry backoff a tenth as long; the Retry-After as sent)
        const env = { WOPACK_API_URL: server.base, WOPACK_API_KEY: KEY, WOPACK_TEST_TIME_SCALE: "0.1" };
        const stderr: string[] = [];
        const run = async (args: string[], faults: UploadServer["faults"], codes: number[]) => {
          server.faults = faults;
          const r = await wopack([...args, ...mode], { env });
          expect(codes, `${args.join(" ")} ${JSON.stringify(faults)}: exit ${r.code}: ${r.stderr}`).toContain(r.code);
          stderr.push(r.stderr);
          return r;
        };
        const outbox = async () => {
          const ws = await workspace();
          await put(ws.staging, "WO_1/meter/a.jpg", solidJpeg());
          expect((await wopack(["pack", ws.staging, "--out", ws.out])).code).toBe(0);
          return ws;
        };
        let ws = await outbox();
        const name = path.basename((await archivesIn(ws.out))[0]!, ".zip");
        await run(["upload", ws.out], { refuseFilename: name }, [1]); // E_UPLOAD_REFUSED
        await run(["upload", ws.out], { refuseKey: true }, [5]); // E_UPLOAD_CREDENTIALS
        await run(["upload", ws.out], { unavailable: 1, tooMany: { count: 1, retryAfter: 1 } }, [0]); // retries: a 503 (backoff), a 429 (Retry-After)
        ws = await outbox();
        await run(["upload", ws.out], { expireAtBytes: 1 }, [0]); // a gone session: batch deleted, a new one
        ws = await outbox();
        await run(["upload", ws.out], { objectDigests: "both", corruptAt: 0 }, [1]); // E_UPLOAD_ATTENTION
        await run(["status", ws.out], {}, [0, 1]);
        // pack --upload and a review of its archive; init; doctor
        const ws2 = await workspace();
        await put(ws2.staging, "WO_2/meter/a.jpg", solidJpeg("#a31"));
        await run(["pack", ws2.staging, "--out", ws2.out, "--upload"], { unavailable: 1 }, [0]);
        await run(["review", ws2.out], {}, [0]);
        await run(["init", ws2.dir], {}, [0]);
        await run(["doctor"], {}, [0, 1]);
        // watch --upload while the platform refuses: the retry it schedules is logged
        const ws3 = await workspace();
        await put(ws3.staging, "WO_3/meter/a.jpg", solidJpeg("#3a1"));
        server.faults = { refuseKey: false, unavailable: 1000 };
        const watcher = new Watcher(
          [ws3.staging, "--out", ws3.out, "--settle", "0s", "--upload", "--upload-retries", "0", ...mode],
          env,
        );
        try {
          await watcher.until("an upload failed", (w) => w.stderr.includes("E_PLATFORM_UNAVAILABLE"));
        } finally {
          await watcher.stop();
        }
        stderr.push(watcher.stderr);
        for (const e of watcher.events) expect(line(e), JSON.stringify(e)).toBe("valid");
        const lines = stderr.join("\n").split("\n").filter(Boolean);
        for (const l of lines) {
          let parsed: unknown;
          expect(() => (parsed = JSON.parse(l)), `not a JSON line: ${l}`).not.toThrow();
          expect(line(parsed), l).toBe("valid");
        }
        // the paths were taken: each of these codes was said in a line
        const said = lines.join("\n");
        for (const code of ["E_UPLOAD_CREDENTIALS", "E_UPLOAD_ATTENTION", "E_PLATFORM_UNAVAILABLE"])
          expect(said, code).toContain(code);
        expect(said).toMatch(/trying again in/);
        expect(said).toMatch(/a new batch is made/);
      } finally {
        await server.stop();
      }
    },
  );
});
