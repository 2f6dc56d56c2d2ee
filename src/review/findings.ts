// The photo checks' findings (SPEC §15) on the review page: a badge per code on the photo (text, its
// message shown on hover and focus and always there for a screen reader), the earlier picture beside a
// re-used one, a link to the other entry of a duplicate, and the summary at the top that links to them.
import type { PhotoFinding } from "../core/types.js";
import { findingRank, findingWord } from "../spec/findingWords.js";
import { esc, pathText } from "./html.js";

export type Earlier = NonNullable<PhotoFinding["earlier"]>;

/**
 * The earlier picture of a re-used photo: its thumbnail, or in words why there is none (naming the
 * archive); `page` links to that archive's review page when it sits beside this one.
 */
export type EarlierPicture = { jpeg: Buffer; page?: string | undefined } | { missing: string; page?: string | undefined };
export type EarlierSource = (earlier: Earlier) => Promise<EarlierPicture>;

/**
 * The findings of a photo as a report gives them, read defensively (`wopack review` reads anyone's report):
 * only those with a code and a message, an earlier picture only when all its names are text.
 */
export function findingsOf(value: unknown): PhotoFinding[] {
  if (!Array.isArray(value)) return [];
  const text = (v: unknown): v is string => typeof v === "string";
  const found: PhotoFinding[] = [];
  for (const f of value as Partial<Record<string, unknown>>[]) {
    if (typeof f !== "object" || f === null || !text(f.code) || !text(f.message)) continue;
    const e = f.earlier as Partial<Record<string, unknown>> | undefined;
    const earlier =
      typeof e === "object" && e !== null && text(e.workOrder) && text(e.entry) && text(e.archive)
        ? {
            workOrder: e.workOrder,
            entry: e.entry,
            archive: e.archive,
            distance: Number(e.distance) || 0,
            exact: e.exact === true,
          }
        : undefined;
    found.push({ code: f.code, message: f.message, ...(earlier ? { earlier } : {}) });
  }
  return found;
}

/** The earlier picture's path in its archive, "<work order>/<name>" (the index may keep the name alone). */
export function earlierEntry(e: Earlier): string {
  return e.entry.startsWith(`${e.workOrder}/`) ? e.entry : `${e.workOrder}/${e.entry}`;
}

/** Findings grouped by code, the known codes first in the summary's order. */
export function byCode(findings: readonly PhotoFinding[]): [string, PhotoFinding[]][] {
  const groups = new Map<string, PhotoFinding[]>();
  for (const f of findings) {
    const same = groups.get(f.code);
    if (same) same.push(f);
    else groups.set(f.code, [f]);
  }
  return [...groups].sort(([a], [b]) => findingRank(a) - findingRank(b) || (a < b ? -1 : a > b ? 1 : 0));
}

/** One badge per code; its message is text inside it, shown on hover and focus, read by a screen reader. */
export function badges(findings: readonly PhotoFinding[]): string {
  let html = `<ul class="flags" aria-label="Photo checks">`;
  for (const [code, same] of byCode(findings)) {
    const messages = same.map((f) => esc(f.message)).join("; ");
    html += `<li><span class="flag" tabindex="0"><span aria-hidden="true">⚠ </span>${esc(findingWord(code))}<span class="tip">: ${messages} <code>${esc(code)}</code></span></span></li>`;
  }
  return `${html}</ul>`;
}

/** A photo with findings, and the number of its card on the page. */
export interface FlaggedPhoto {
  entry: string;
  card: number;
  checks: readonly PhotoFinding[];
}

/** the links listed per code at the top (every photo has its badge anyway) */
const SUMMARY_LINKS = 100;

/** "3 photos need a look: 2 re-used, 1 blurry", then per code the links to those photos. */
export function checksSummary(flagged: readonly FlaggedPhoto[]): string {
  if (!flagged.length) return "";
  const perCode = new Map<string, FlaggedPhoto[]>();
  for (const [code] of byCode(flagged.flatMap((p) => p.checks)))
    perCode.set(
      code,
      flagged.filter((p) => p.checks.some((f) => f.code === code)),
    );
  const n = flagged.length;
  const counts = [...perCode].map(([code, photos]) => `${photos.length} ${findingWord(code)}`).join(", ");
  let html = `<h3 id="look">${n} photo${n === 1 ? " needs" : "s need"} a look: ${esc(counts)}</h3>\n<ul class="look">`;
  for (const [code, photos] of perCode) {
    const links = photos
      .slice(0, SUMMARY_LINKS)
      .map((p) => `<a href="#card-${p.card}">${pathText(p.entry)}</a>`)
      .join(", ");
    const more = photos.length > SUMMARY_LINKS ? `, and ${photos.length - SUMMARY_LINKS} more (each has its badge)` : "";
    html += `<li><span class="flag">${esc(findingWord(code))}</span> ${links}${more}</li>`;
  }
  return `${html}</ul>\n`;
}

/** The earlier picture of a re-used photo, beside it: its thumbnail (or why there is none) and its names. */
export function earlierBox(
  e: Earlier,
  picture: EarlierPicture,
  card: number | undefined,
  picturing: (jpeg: Buffer, alt: string) => string,
): string {
  const entry = earlierEntry(e);
  const name = entry.slice(entry.lastIndexOf("/") + 1);
  const names = `${name} of work order ${e.workOrder} in ${e.archive}`;
  const img =
    "jpeg" in picture
      ? picturing(picture.jpeg, `The earlier photo: ${names}`)
      : `<div class="nothumb" role="img" aria-label="${esc(`The earlier photo, not shown: ${names}`)}">not shown</div>`;
  const archive = picture.page
    ? `<a href="${esc(picture.page)}">${pathText(e.archive)}</a>`
    : `<span class="name">${pathText(e.archive)}</span>`;
  const how = e.exact ? "the same file" : "the same picture";
  let caption = `Earlier (${how}): <span class="name">${pathText(name)}</span> of work order <span class="name">${pathText(e.workOrder)}</span> in ${archive}`;
  if (card !== undefined) caption += ` (<a href="#card-${card}">on this page</a>)`;
  if ("missing" in picture) caption += `<br><span class="why">${esc(picture.missing)}</span>`;
  return `<figure class="earlier">${img}<figcaption>${caption}</figcaption></figure>`;
}

/** A duplicate within the work order: the other entry, linked on this page. */
export function duplicateLine(e: Earlier, card: number | undefined, workOrder: string): string {
  const entry = earlierEntry(e);
  const name = pathText(entry.slice(entry.lastIndexOf("/") + 1));
  const other = card !== undefined ? `<a href="#card-${card}">${name}</a>` : `<span class="name">${name}</span>`;
  const where = e.workOrder === workOrder ? "in this work order" : `of work order ${pathText(e.workOrder)}`;
  return `<p class="dup">The same picture as ${other} ${where}.</p>`;
}
