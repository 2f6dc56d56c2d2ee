// A file's or folder's name reaches the terminal and the text log: its control characters (ESC, CR, LF,
// BEL, C1) and the marks that reorder text (RTL override) are written as escapes (core/text.ts).
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { terminalText } from "../../src/core/text.js";

const UNSHOWABLE = /[\p{Cc}\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/u;
const hostile = fc.constantFrom("\x1b[31m", "\x1b]0;title\x07", "\r", "\n", "\u009b2J", "\u202e", "\u2067", "\x7f", "\0");
const text = fc.array(fc.oneof(fc.string({ unit: "grapheme" }), hostile)).map((parts) => parts.join(""));

describe("terminalText", () => {
  it("leaves no control character but a tab (and a kept line break), whatever the text holds (property)", () => {
    fc.assert(
      fc.property(text, (t) => {
        expect(terminalText(t).replace(/\t/g, "")).not.toMatch(UNSHOWABLE);
        expect(terminalText(t, true).replace(/[\t\n]/g, "")).not.toMatch(UNSHOWABLE);
        expect(terminalText(t, true).split("\n").length).toBe(t.split("\n").length);
      }),
      { numRuns: 300 },
    );
  });

  it("keeps ordinary text as it is, accents, CJK and emoji included", () => {
    for (const t of ["WO_1/meter/IMG_0001.HEIC", "Zählerstand é 写真 📷", "a\tb"]) expect(terminalText(t)).toBe(t);
    expect(terminalText("evil\x1b[31m\rFAKE\nerror E_FORGED")).toBe("evil\\u001b[31m\\rFAKE\\nerror E_FORGED");
  });
});
