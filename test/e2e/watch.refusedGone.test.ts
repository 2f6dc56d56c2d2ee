// watch moves a refused work order to --failed-to with <id>.errors.json beside it, the errors written first.
// Moved away by the operator in between, it could not be moved; the errors.json stayed behind in --failed-to,
// naming a folder that is not there. The moment is made exact by a seam over node:fs/promises: the move away
// happens right after the errors.json is written.
import { existsSync, mkdirSync, renameSync } from "node:fs";
import { readdir } from "node:fs/promises";
import path from "node:path";
import { describe, expect, it, vi } from "vitest";
import { parseConfig } from "../../src/config/load.js";
import type { WatchEvent } from "../../src/core/types.js";
import { watch } from "../../src/index.js";
import { put, workspace } from "../helpers.js";

let afterErrorsJson: (() => void) | undefined;

vi.mock("node:fs/promises", async (original) => {
  const fs = await original<typeof import("node:fs/promises")>();
  const writeFile = async (...a: Parameters<typeof fs.writeFile>) => {
    await fs.writeFile(...a);
    const act = afterErrorsJson;
    if (act && String(a[0]).endsWith(".errors.json")) {
      afterErrorsJson = undefined;
      act();
    }
  };
  const wrapped = { ...fs, writeFile };
  return { ...wrapped, default: wrapped };
});

/** One watch over the workspace until WO_BAD is refused or its move fails; the events it told. */
async function watchUntilWoBad(ws: { dir: string; staging: string; out: string }, failedTo: string): Promise<WatchEvent[]> {
  const controller = new AbortController();
  const events: WatchEvent[] = [];
  await watch({
    staging: ws.staging,
    out: ws.out,
    failedTo,
    moveTo: path.join(ws.dir, "done"),
    config: parseConfig({}),
    settleMs: 0,
    signal: controller.signal,
    onEvent: (e) => {
      events.push(e);
      if (e.workOrder === "WO_BAD" && (e.event === "refused" || e.event === "error")) controller.abort();
    },
  });
  return events;
}

describe("a refused work order moved away before watch moves it to --failed-to", () => {
  for (const [what, rel, gone] of [
    ["its folder", "WO_BAD/meter/a.jpg", "WO_BAD"],
    ["its only (root) file", "WO_BAD__meter.jpg", "WO_BAD__meter.jpg"],
  ] as const)
    it(`${what}: no errors.json nor empty folder is left in --failed-to; E_MOVE_FAILED is told`, async () => {
      const ws = await workspace();
      await put(ws.staging, rel, "not a photo at all");
      const failedTo = path.join(ws.dir, "failed");
      const away = path.join(ws.dir, "away");
      afterErrorsJson = () => {
        mkdirSync(away);
        renameSync(path.join(ws.staging, gone), path.join(away, gone));
      };
      const events = await watchUntilWoBad(ws, failedTo);
      expect(afterErrorsJson, "the seam moved it").toBeUndefined();
      expect(existsSync(path.join(away, gone))).toBe(true);
      expect(await readdir(failedTo).catch(() => [])).toEqual([]);
      expect(events.filter((e) => e.event === "error").map((e) => e.code)).toEqual(["E_MOVE_FAILED"]);
    }, 60_000);

  it("one of its parts (a root file beside its folder): what moved keeps its errors.json, and the message says what stayed", async () => {
    const ws = await workspace();
    await put(ws.staging, "WO_BAD/meter/a.jpg", "not a photo at all");
    await put(ws.staging, "WO_BAD__cabinet.jpg", "not a photo either");
    const failedTo = path.join(ws.dir, "failed");
    const away = path.join(ws.dir, "away");
    afterErrorsJson = () => {
      mkdirSync(away);
      renameSync(path.join(ws.staging, "WO_BAD__cabinet.jpg"), path.join(away, "WO_BAD__cabinet.jpg"));
    };
    const events = await watchUntilWoBad(ws, failedTo);
    expect(afterErrorsJson, "the seam moved it").toBeUndefined();
    expect((await readdir(failedTo)).sort()).toEqual(["WO_BAD", "WO_BAD.errors.json"]);
    const error = events.find((e) => e.event === "error");
    expect(error?.code).toBe("E_MOVE_FAILED");
    expect(error?.message).toMatch(/part of it is in .*WO_BAD, beside its errors.json; the rest stays in staging/);
  }, 60_000);
});
