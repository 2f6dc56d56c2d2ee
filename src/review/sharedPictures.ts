// A picture shown on many cards of a review page (a re-used photo's earlier picture, the same picture packed
// again and again) is written into the page once, on the first card that shows it, as an inline SVG whose
// <image> has an id; every later card draws it with <use>, a reference back to a card already written, so
// the page stays a stream and holds nothing for its end. SVG 1.1 <use> of an <image> is drawn, and printed,
// by every browser of the last decade (CSS `content: url()` on an <img> is drawn by Chromium only, and
// background images are not printed by default).
//
// xlink:href, not SVG2's href: href is known to Chrome 50+, Firefox 51+ and Safari 12.1+ only, and office
// iPads stuck on iOS 12.0 or older would draw nothing; SVG2 keeps xlink:href for every browser to read, and
// the HTML parser puts it in the xlink namespace without a declaration. (Both would write the picture twice.)
import { createHash } from "node:crypto";
import { jpegDimensions } from "../spec/images.js";
import { esc } from "./html.js";

/** The box a picture is laid out in (its <img>'s width and height attributes); none: its own size. */
export interface PictureBox {
  width: number;
  height: number;
}

export class PagePictures {
  /** digest -> the id of the <image> that holds it, on a card already written */
  #written = new Map<string, string>();
  /** digests of the pictures written as an <img> on their card: a second card makes them shared */
  #onCard = new Set<string>();

  /** `jpeg` as its card shows it; `likelyAgain`: the page will probably show it again (a re-used picture). */
  picture(jpeg: Buffer, alt: string, likelyAgain: boolean, box?: PictureBox): string {
    const digest = createHash("sha1").update(jpeg).digest("base64");
    const id = this.#written.get(digest);
    const shared = id !== undefined || likelyAgain || this.#onCard.has(digest);
    // (its size read only for an SVG: most pictures of a page are shown once)
    const size = shared ? jpegDimensions(jpeg) : undefined;
    if (!size) {
      this.#onCard.add(digest);
      const attributes = box ? ` width="${box.width}" height="${box.height}"` : "";
      return `<img src="data:image/jpeg;base64,${jpeg.toString("base64")}" alt="${esc(alt)}"${attributes}>`;
    }
    // (the viewBox is the picture's own size: the SVG keeps its shape in any box, as an <img> does; without a
    // box, "natural" gives it CSS width auto, so that it shrinks as an <img> of its own size does)
    const { width, height } = box ?? size;
    const svg = `<svg class="pic${box ? "" : " natural"}" width="${width}" height="${height}" viewBox="0 0 ${size.width} ${size.height}" role="img" aria-label="${esc(alt)}">`;
    if (id !== undefined) return `${svg}<use xlink:href="#${id}"/></svg>`;
    const made = `pic-${this.#written.size + 1}`;
    this.#written.set(digest, made);
    return `${svg}<image id="${made}" xlink:href="data:image/jpeg;base64,${jpeg.toString("base64")}" width="${size.width}" height="${size.height}"/></svg>`;
  }
}
