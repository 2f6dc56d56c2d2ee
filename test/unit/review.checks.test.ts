// Issue 26 item 4: the photo checks' findings on the review page, rendered in memory (no build, no
// browser): a badge per code with its message as text, the summary at the top linking to the photos, the
// earlier picture beside a re-used one (or in words why not), the other entry of a duplicate linked, and
// every name from a report escaped. The browser test (test/browser/review.checks.test.ts) sees them drawn.
import fc from "fast-check";
import sharp from "sharp";
import { describe, expect, it } from "vitest";
import type { PhotoFinding } from "../../src/core/types.js";
import type { EarlierSource } from "../../src/review/findings.js";
import { type Review, type ReviewPhoto, renderReview, type ThumbSource } from "../../src/review/render.js";

const JPEG = Buffer.from("not really a jpeg, but the page only base64s it");
const thumbOf: ThumbSource = async () => ({ jpeg: JPEG });

function reviewOf(photos: ReviewPhoto[], workOrder = "WO_1", warnings: Review["warnings"] = []): Review {
  return {
    archive: "batch-20260101T000000Z-0002.zip",
    sha256: "ab".repeat(32),
    bytes: 1000,
    workOrders: [{ id: workOrder, photos, warnings }],
    refused: [],
    warnings,
    fields: {},
    generator: "wopack test",
  };
}

async function render(review: Review, earlierOf?: EarlierSource): Promise<string> {
  let html = "";
  for await (const chunk of renderReview(review, thumbOf, earlierOf)) html += chunk;
  return html;
}

/** The badges of the card whose entry is `entry`: [word, message] of each. */
function badgesOf(html: string, name: string): [string, string][] {
  const card = html.split("<li id=").find((c) => c.includes(`<span class="entry">${name}</span>`)) ?? "";
  return [
    ...card.matchAll(/<span class="flag" tabindex="0"><span aria-hidden="true">⚠ <\/span>(.*?)<span class="tip">: (.*?) <code>/g),
  ].map((m) => [m[1]!, m[2]!]);
}

const CODES: [string, string][] = [
  ["W_PHOTO_REUSED", "re-used"],
  ["W_PHOTO_DUPLICATE", "duplicate"],
  ["W_PHOTO_BLURRY", "blurry"],
  ["W_PHOTO_DARK", "dark"],
  ["W_PHOTO_OVEREXPOSED", "over-exposed"],
  ["W_PHOTO_OLD", "old"],
  ["W_PHOTO_FAR", "far"],
];

describe("a photo check's finding on the review page", () => {
  for (const [code, word] of CODES) {
    it(`${code}: a badge "${word}" with its message as text, and the summary links to the photo`, async () => {
      const finding: PhotoFinding = { code, message: `meter-2.jpg: what ${word} means here` };
      const html = await render(
        reviewOf([
          { entry: "WO_1/meter-1.jpg", bytes: 10 },
          { entry: "WO_1/meter-2.jpg", bytes: 10, checks: [finding] },
        ]),
      );
      expect(badgesOf(html, "meter-2.jpg")).toEqual([[word, `meter-2.jpg: what ${word} means here`]]);
      expect(badgesOf(html, "meter-1.jpg")).toEqual([]);
      expect(html).toContain(`<h3 id="look">1 photo needs a look: 1 ${word}</h3>`);
      // the summary's link goes to the card of meter-2.jpg (the second card)
      expect(html).toMatch(new RegExp(`<span class="flag">${word}</span> <a href="#card-2">WO_<wbr>1/<wbr>meter-2.jpg</a>`));
      expect(html).toContain(`<figure id="card-2" class="flagged">`);
    });
  }

  it("counts photos once and codes per photo: 3 photos need a look: 2 re-used, 1 blurry", async () => {
    const reused = (n: number): PhotoFinding => ({
      code: "W_PHOTO_REUSED",
      message: `re-used ${n}`,
      earlier: {
        workOrder: "WO_0",
        entry: "WO_0/meter-1.jpg",
        archive: "batch-20251231T000000Z-0001.zip",
        distance: 3,
        exact: false,
      },
    });
    const html = await render(
      reviewOf([
        { entry: "WO_1/a-1.jpg", checks: [reused(1), { code: "W_PHOTO_BLURRY", message: "soft" }] },
        { entry: "WO_1/a-2.jpg", checks: [reused(2)] },
        { entry: "WO_1/a-3.jpg", checks: [{ code: "W_PHOTO_BLURRY", message: "soft too" }] },
        { entry: "WO_1/a-4.jpg" },
      ]),
    );
    expect(html).toContain(`<h3 id="look">3 photos need a look: 2 re-used, 2 blurry</h3>`);
    expect(badgesOf(html, "a-1.jpg").map(([w]) => w)).toEqual(["re-used", "blurry"]);
  });

  it("puts the earlier picture beside a re-used photo with its names, or says plainly why it is not there", async () => {
    const earlier = {
      workOrder: "WO_0",
      entry: "WO_0/meter-1.jpg",
      archive: "batch-20251231T000000Z-0001.zip",
      distance: 0,
      exact: true,
    };
    const photos = [{ entry: "WO_1/meter-1.jpg", checks: [{ code: "W_PHOTO_REUSED", message: "re-used", earlier }] }];
    const jpeg = await sharp({ create: { width: 4, height: 3, channels: 3, background: "red" } })
      .jpeg()
      .toBuffer();
    const shown = await render(reviewOf(photos), async () => ({
      jpeg,
      page: "batch-20251231T000000Z-0001.html",
    }));
    const box = /<figure class="earlier">(.*?)<\/figure>/.exec(shown)?.[1] ?? "";
    // (a re-used picture is drawn as an SVG whose <image> later cards can <use>, at its own size)
    const alt = "The earlier photo: meter-1.jpg of work order WO_0 in batch-20251231T000000Z-0001.zip";
    const data = `data:image/jpeg;base64,${jpeg.toString("base64")}`;
    expect(shown.split(data)).toHaveLength(2);
    expect(box).toContain(
      `<svg class="pic natural" width="4" height="3" viewBox="0 0 4 3" role="img" aria-label="${alt}"><image id="pic-1" xlink:href="${data}" width="4" height="3"/></svg>`,
    );
    expect(box).toContain('<a href="batch-20251231T000000Z-0001.html">');
    expect(box).toContain("(the same file)");

    const gone = await render(reviewOf(photos), async () => ({ missing: "batch-20251231T000000Z-0001.zip was pruned." }));
    const goneBox = /<figure class="earlier">(.*?)<\/figure>/.exec(gone)?.[1] ?? "";
    expect(goneBox).toContain('role="img" aria-label="The earlier photo, not shown: meter-1.jpg of work order WO_0');
    expect(goneBox).toContain(`<span class="why">batch-20251231T000000Z-0001.zip was pruned.</span>`);
    // without a source at all (a library caller), the names still show
    expect(await render(reviewOf(photos))).toContain("The earlier archive was not looked for.");
  });

  it("links a duplicate to the other entry of the work order on the same page", async () => {
    const earlier = {
      workOrder: "WO_1",
      entry: "WO_1/meter-1.jpg",
      archive: "batch-20260101T000000Z-0002.zip",
      distance: 2,
      exact: false,
    };
    const html = await render(
      reviewOf([
        { entry: "WO_1/meter-1.jpg" },
        { entry: "WO_1/meter-2.jpg", checks: [{ code: "W_PHOTO_DUPLICATE", message: "dup", earlier }] },
      ]),
    );
    expect(html).toContain(`<p class="dup">The same picture as <a href="#card-1">meter-1.jpg</a> in this work order.</p>`);
  });

  it("shows a finding as its badge, not once more in the warning lists", async () => {
    const finding = { code: "W_PHOTO_DARK", message: "WO_1/meter-1.jpg: nearly black" };
    const other = { code: "W_SOMETHING", message: "something else", hint: "h" };
    const html = await render(
      reviewOf([{ entry: "WO_1/meter-1.jpg", checks: [finding] }], "WO_1", [{ ...finding, hint: "look" }, other]),
    );
    const lists = [...html.matchAll(/<ul class="problems">(.*?)<\/ul>/g)].map((m) => m[1]).join("");
    expect(lists).toContain("something else");
    expect(lists).not.toContain("nearly black");
    expect(html).toContain('<dt>Warnings</dt><dd>2 (1 shown on their photos: <a href="#look">photo checks</a>)</dd>');
  });

  it("escapes every name and message a report carries (a property over hostile strings)", async () => {
    const hostile = fc
      .tuple(
        fc.string({ maxLength: 8 }),
        fc.constantFrom(`<x-evil a="1">`, `"><x-evil>`, `'><x-evil '`),
        fc.string({ maxLength: 8 }),
      )
      .map(([a, b, c]) => a + b + c);
    await fc.assert(
      fc.asyncProperty(hostile, hostile, hostile, hostile, async (wo, name, archive, message) => {
        const earlier = { workOrder: wo, entry: `${wo}/${name}`, archive, distance: 1, exact: false };
        const photos: ReviewPhoto[] = [
          { entry: `${wo}/${name}`, checks: [{ code: "W_PHOTO_REUSED", message, earlier }] },
          {
            entry: `${wo}/x-2.jpg`,
            checks: [
              { code: "W_PHOTO_DUPLICATE", message, earlier },
              { code: message, message },
            ],
          },
        ];
        const html = await render(reviewOf(photos, wo), async () => ({ missing: `${archive} is gone`, page: archive }));
        expect(html).not.toContain("<x-evil");
      }),
      { numRuns: 60 },
    );
  });
});

describe("findings from someone else's report", () => {
  it("never break the page: whatever a report's checks hold, the page is written whole", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.anything(),
        fc.array(fc.record({ code: fc.anything(), message: fc.anything(), earlier: fc.anything() })),
        async (odd, near) => {
          for (const checks of [odd, near]) {
            const html = await render(reviewOf([{ entry: "WO_1/a-1.jpg", checks: checks as PhotoFinding[] }]));
            expect(html).toContain("</html>");
          }
        },
      ),
      { numRuns: 200 },
    );
  });
});

describe("a photo's facts from someone else's report (wopack review foreign.zip)", () => {
  it("whatever each field holds, the page is written whole and carries no markup of the report's", async () => {
    const hostile = fc.constantFrom(`<x-evil a="1">`, `"><x-evil>`, `'><x-evil '`, "7<x-evil>");
    const odd = fc.oneof(hostile, fc.anything(), fc.integer(), fc.constant(undefined));
    const facts = fc.record({
      source: odd,
      captured: odd,
      capturedFrom: fc.oneof(fc.constantFrom("exif", "file", "name"), odd),
      fileTime: odd,
      width: odd,
      height: odd,
      orientation: odd,
      bytes: odd,
      conversion: odd,
      handling: fc.oneof(fc.constantFrom("copied", "trimmed", "converted"), odd),
    });
    await fc.assert(
      fc.asyncProperty(facts, async (f) => {
        const photo = { entry: "WO_1/a-1.jpg", ...f } as unknown as ReviewPhoto;
        const html = await render(reviewOf([photo]));
        expect(html).toContain("</html>");
        expect(html).not.toContain("<x-evil");
      }),
      { numRuns: 300 },
    );
  });
});

describe("a work order a photo check refused", () => {
  it("shows the check's badge on the photo its refusal names", async () => {
    const review = reviewOf([]);
    review.workOrders = [];
    review.refused = [
      {
        id: "WO_9",
        problems: [
          { code: "E_PHOTO_REUSED", message: "WO_9/pole.jpg: packed before", hint: "check it", path: "WO_9/pole.jpg" },
          { code: "E_METADATA_MISSING", message: "WO_9: no site", hint: "add it", path: "WO_9/metadata.json" },
        ],
        photos: [{ entry: "WO_9/pole.jpg", source: "WO_9/pole.jpg", conversion: null }],
      },
    ];
    const html = await render(review);
    expect(badgesOf(html, "pole.jpg")).toEqual([["re-used", "WO_9/pole.jpg: packed before"]]);
    // (the refusal itself is listed, with its hint)
    expect(html).toContain(`<code class="code">E_PHOTO_REUSED</code> WO_9/pole.jpg: packed before`);
  });
});
