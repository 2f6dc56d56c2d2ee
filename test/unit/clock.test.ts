// One clock seam (PackOptions.now): every time wopack writes down — the archive's name, its report, the
// ledger's records, recovery's records — comes from it, so a test sets the time instead of sleeping.
import { readFile, rm } from "node:fs/promises";
import path from "node:path";
import sharp from "sharp";
import { expect, it } from "vitest";
import { ledgerPath } from "../../src/commit/ledger.js";
import { parseConfig } from "../../src/config/load.js";
import { pack } from "../../src/run/pack.js";
import { put, workspace } from "../helpers.js";

const jpeg = () =>
  sharp({ create: { width: 16, height: 16, channels: 3, background: "#369" } })
    .jpeg()
    .toBuffer();
const ledgerTimes = async (out: string) =>
  (await readFile(ledgerPath(out), "utf8"))
    .trim()
    .split("\n")
    .map((line) => JSON.parse(line).at as string);

it("names, reports and ledger records carry the injected time, recovery's too", async () => {
  const ws = await workspace();
  const moveTo = path.join(ws.dir, "processed");
  await put(ws.staging, "WO_1/meter/a.jpg", await jpeg());
  const t1 = new Date("2031-05-06T07:08:09.000Z");
  const first = await pack({ staging: ws.staging, out: ws.out, moveTo, config: parseConfig({}), now: () => t1 });
  const [archive] = first.archives;
  expect(archive!.archive).toMatch(/-20310506T070809Z-1\.zip$/);
  expect(archive!.createdAt).toBe(t1.toISOString());
  expect(await ledgerTimes(ws.out)).toEqual([t1.toISOString(), t1.toISOString()]); // commit, then moved

  // a crash between the archive's rename and its ledger record, as recovery sees it: the ledger lost it
  await rm(ledgerPath(ws.out));
  const t2 = new Date("2032-01-02T03:04:05.000Z");
  const second = await pack({ staging: ws.staging, out: ws.out, config: parseConfig({}), now: () => t2 });
  expect(second.recovery?.adopted).toEqual([archive!.archive]);
  // the adopted commit, then its move to --move-to recorded as finished (its files are already there)
  expect(await ledgerTimes(ws.out)).toEqual([t2.toISOString(), t2.toISOString()]);
});
