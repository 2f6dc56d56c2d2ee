// A picture shown on many cards of a review page (a re-used photo's earlier picture, the same picture packed
// again and again) is written into the page once: its cards' <img>s name a class whose CSS `content` is the
// picture, defined in a <style> at the page's end (no script; the CSP's style-src allows inline styles).
import { createHash } from "node:crypto";

/** the pictures a page holds until its end, to write once (beyond them, a picture is written on its card) */
export const MAX_SHARED_PICTURES = 64;

export class PagePictures {
  /** digest -> class, of the pictures written at the end */
  #shared = new Map<string, { name: string; jpeg: Buffer }>();
  /** digests of the pictures written on their card: a second card makes them shared */
  #onCard = new Set<string>();

  /** An <img> showing `jpeg`; `likelyAgain`: the page will probably show it again (a re-used picture). */
  img(jpeg: Buffer, attributes: string, likelyAgain: boolean): string {
    const digest = createHash("sha1").update(jpeg).digest("base64");
    let shared = this.#shared.get(digest);
    if (!shared && (likelyAgain || this.#onCard.has(digest)) && this.#shared.size < MAX_SHARED_PICTURES) {
      shared = { name: `pic${this.#shared.size + 1}`, jpeg };
      this.#shared.set(digest, shared);
    }
    if (shared) return `<img class="${shared.name}"${attributes}>`;
    this.#onCard.add(digest);
    return `<img src="data:image/jpeg;base64,${jpeg.toString("base64")}"${attributes}>`;
  }

  /** The <style> that gives the shared pictures to their <img>s: after the last card. */
  definitions(): string {
    if (!this.#shared.size) return "";
    let css = "";
    for (const { name, jpeg } of this.#shared.values())
      css += `img.${name}{content:url(data:image/jpeg;base64,${jpeg.toString("base64")})}\n`;
    return `<style>\n${css}</style>\n`;
  }
}
