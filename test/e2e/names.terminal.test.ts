// Hostile names in the staging folder (control characters, line breaks, an RTL override) never reach the
// terminal or the text log as themselves: they can neither drive the terminal nor forge a line.
import { describe, expect, it } from "vitest";
import { put, wopack, workspace } from "../helpers.js";

const UNSHOWABLE = /[\p{Cc}\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/u;
const NAMES = [
  "evil\x1b[31mRED\x1b[0m",
  "cr\rFAKE",
  "line\nerror E_FORGED: nothing was committed",
  "bell\x07",
  "csi\u009b2J",
  "rlo\u202egpj.exe",
  "del\x7f",
];

describe("names with control characters, in the terminal and the text log", () => {
  it("pack and validate print them escaped; every log line is one of wopack's", async () => {
    const ws = await workspace();
    for (const [i, name] of NAMES.entries()) {
      await put(ws.staging, `WO_${i}/meter/${name}.jpg`, "not a photo");
      await put(ws.staging, `${name}/meter/a.jpg`, "not a photo either");
    }
    for (const args of [
      ["pack", ws.staging, "--out", ws.out, "--verbose"],
      ["pack", ws.staging, "--out", ws.out, "--dry-run", "--verbose"],
      ["validate", ws.staging],
    ]) {
      const run = await wopack(args);
      expect(run.code, run.stderr).not.toBe(70);
      for (const stream of [run.stdout, run.stderr]) {
        expect(stream.replace(/[\t\n]/g, "")).not.toMatch(UNSHOWABLE);
        expect(stream).not.toMatch(/^error E_FORGED/m);
      }
      // each name is there, escaped
      expect(run.stdout + run.stderr).toContain("evil\\u001b[31mRED");
    }
  });
});
