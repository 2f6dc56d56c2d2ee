// A picture on many cards of a review page is written once: the first card that shows it holds it in an SVG
// <image>, later cards <use> it, always a reference back to a card already written (the page is a stream).
// In memory, with small real JPEGs; test/browser/review.shared.test.ts sees the pictures drawn.
import sharp from "sharp";
import { describe, expect, it } from "vitest";
import { PagePictures } from "../../src/review/sharedPictures.js";
import { jpegDimensions } from "../../src/spec/images.js";

const jpegOf = (width: number, height: number, background = "red", progressive = false) =>
  sharp({ create: { width, height, channels: 3, background } })
    .jpeg({ progressive })
    .toBuffer();

/** The ids the page's <image>s hold and the ids its <use>s name, in page order. */
function references(html: string): { held: string[]; used: string[]; order: string[] } {
  const order = [...html.matchAll(/<image id="([^"]+)"|<use xlink:href="#([^"]+)"/g)].map((m) => (m[1] ? `+${m[1]}` : m[2]!));
  return {
    held: order.filter((x) => x.startsWith("+")).map((x) => x.slice(1)),
    used: order.filter((x) => !x.startsWith("+")),
    order,
  };
}

describe("the pictures of a review page", () => {
  it("writes a picture shown again once, and refers back to it from every later card", async () => {
    const [a, b] = [await jpegOf(8, 6, "red"), await jpegOf(6, 8, "blue")];
    const pictures = new PagePictures();
    // a re-used picture (likely again), a picture seen twice without a warning, and a picture seen once
    const cards = [
      pictures.picture(a, "a one", true),
      pictures.picture(b, "b one", false),
      pictures.picture(a, "a two", false, { width: 80, height: 60 }),
      pictures.picture(b, "b two", false),
      pictures.picture(b, "b three", true),
      pictures.picture(a, "a three", true),
      pictures.picture(await jpegOf(5, 5, "green"), "c", false),
    ];
    const html = cards.join("\n");
    const uri = (jpeg: Buffer) => `data:image/jpeg;base64,${jpeg.toString("base64")}`;
    expect(html.split(uri(a))).toHaveLength(2);
    // b was first seen without a warning: its <img>, then once more to be shared
    expect(html.split(uri(b))).toHaveLength(3);
    expect(cards[1]).toMatch(/^<img src="data:/);
    const { held, used, order } = references(html);
    expect(held).toEqual(["pic-1", "pic-2"]);
    expect(used).toEqual(["pic-1", "pic-2", "pic-1"]);
    for (const [i, id] of order.entries()) if (!id.startsWith("+")) expect(order.slice(0, i)).toContain(`+${id}`);
    // each in its box (or at its own size), with the picture's own viewBox and its text
    expect(cards[2]).toBe(
      '<svg class="pic" width="80" height="60" viewBox="0 0 8 6" role="img" aria-label="a two"><use xlink:href="#pic-1"/></svg>',
    );
    expect(cards[4]).toBe(
      '<svg class="pic natural" width="6" height="8" viewBox="0 0 6 8" role="img" aria-label="b three"><use xlink:href="#pic-2"/></svg>',
    );
    expect(cards[6]).toMatch(/^<img src="data:image\/jpeg;base64,[^"]+" alt="c">$/);
  });

  it("draws a picture whose size it cannot read as an <img>, on each card", () => {
    const pictures = new PagePictures();
    const odd = Buffer.from("not a JPEG");
    const cards = [pictures.picture(odd, "x", true), pictures.picture(odd, "y", true)];
    for (const card of cards) expect(card).toMatch(/^<img src="data:image\/jpeg;base64,/);
  });

  it("escapes the text it is given", async () => {
    const card = new PagePictures().picture(await jpegOf(2, 2), '<b>"x"</b>', true);
    expect(card).toContain('aria-label="&lt;b&gt;&quot;x&quot;&lt;/b&gt;"');
  });
});

describe("a JPEG's size, from its frame header", () => {
  it.each([
    [1, 1, false],
    [8, 6, false],
    [300, 7, true],
    [257, 4099, false],
  ])("%d × %d (progressive: %s)", async (width, height, progressive) => {
    const plain = await jpegOf(width, height, "red", progressive);
    expect(jpegDimensions(plain)).toEqual({ width, height });
    // behind EXIF and ICC segments
    const tagged = await sharp(plain).withMetadata({ orientation: 1 }).withIccProfile("srgb").jpeg({ progressive }).toBuffer();
    expect(jpegDimensions(tagged)).toEqual({ width, height });
  });

  it("has none for bytes that are not a JPEG's head", async () => {
    const jpeg = await jpegOf(8, 6);
    for (const bytes of [
      Buffer.alloc(0),
      Buffer.from("not a JPEG"),
      jpeg.subarray(0, 12),
      Buffer.from([0xff, 0xd8, 0xff, 0xda, 0, 2]),
    ])
      expect(jpegDimensions(bytes)).toBeUndefined();
  });
});
