// §13: an archive's review page, one self-contained HTML file (no script, no network: the thumbnails are
// data URIs). Rendered as a stream of strings so that a batch's thumbnails are never all held at once.
import { THUMB_EDGE } from "../convert/pixels.js";
import type { Problem } from "../core/errors.js";
import type { CapturedFrom, PhotoFinding, PhotoHandling } from "../core/types.js";
import { isFindingCode } from "../spec/findingWords.js";
import { countPhotos, describeCounts, parseEntryName, photoHandling } from "../spec/images.js";
import { codeUnitOrder } from "../spec/names.js";
import {
  badges,
  checksSummary,
  duplicateLine,
  type EarlierSource,
  earlierBox,
  earlierEntry,
  type FlaggedPhoto,
  findingsOf,
} from "./findings.js";
import { anchor, esc, pathText } from "./html.js";
import { PagePictures, type PictureBox } from "./sharedPictures.js";

export { esc, pathText } from "./html.js";

export interface ReviewPhoto {
  /** the entry's path in the archive: "<work order>/<task group>-<N>.jpg" */
  entry: string;
  /** unknown for a refused work order's photo */
  bytes?: number | undefined;
  source?: string | undefined;
  captured?: string | undefined;
  capturedFrom?: CapturedFrom | undefined;
  fileTime?: string | undefined;
  width?: number | undefined;
  height?: number | undefined;
  orientation?: number | undefined;
  /** undefined: copied byte for byte; unknown (an archive without its report): null */
  conversion?: string | null | undefined;
  handling?: PhotoHandling | undefined;
  /** what the photo checks found (SPEC §15) */
  checks?: PhotoFinding[] | undefined;
}

export interface ReviewWorkOrder {
  id: string;
  /** the archive's metadata.json; undefined when it has none */
  metadata?: Record<string, unknown> | undefined;
  photos: ReviewPhoto[];
  warnings: Problem[];
}

export interface ReviewRefused {
  id: string;
  problems: Problem[];
  photos: ReviewPhoto[];
}

export interface Review {
  archive: string;
  sha256: string;
  bytes: number;
  createdAt?: string | undefined;
  workOrders: ReviewWorkOrder[];
  refused: ReviewRefused[];
  warnings: Problem[];
  /** the configured metadata fields: which are required (marked), and so which are missing */
  fields: Record<string, { required: boolean }>;
  /** why there are no thumbnails, when there are none (images.verify: structure) */
  noThumbs?: string | undefined;
  /** the report was not found: sources and conversions are unknown */
  fromZipOnly?: boolean;
  generator: string;
}

/**
 * A photo's thumbnail (a small JPEG), or undefined when it has none (not decoded, or does not decode); with
 * the picture's size and orientation when the thumbnail was just made (an archive without its report). Or
 * the problem that kept it from being read (a photo above the size or pixel limits in someone's zip).
 */
export type ThumbSource = (
  photo: ReviewPhoto,
  workOrder: string,
) => Promise<{ jpeg: Buffer; width?: number; height?: number; orientation?: number } | { problem: Problem } | undefined>;

/** What every photo card needs: its sources, and where the other cards are (for links between them). */
interface Sheet {
  thumbOf: ThumbSource;
  earlierOf: EarlierSource | undefined;
  noThumbs: string | undefined;
  /** the archive's entries -> the number of their card (#card-N) */
  cardOf: Map<string, number>;
  /** the next card's number */
  n: number;
  pictures: PagePictures;
  /** the entries whose picture the page probably shows again: re-used, duplicated, or someone's earlier one */
  repeated: Set<string>;
}

/**
 * The page, as a stream. `earlierOf` gives the earlier picture of a re-used photo (its thumbnail from the
 * earlier archive, or why not); without it, a re-used photo names the earlier one without a picture.
 */
export async function* renderReview(given: Review, thumbOf: ThumbSource, earlierOf?: EarlierSource): AsyncGenerator<string> {
  const review: Review = {
    ...given,
    workOrders: given.workOrders.map((wo) => ({ ...wo, photos: processingOrder(wo.photos.map(photoFacts)) })),
    refused: given.refused.map((r) => ({ ...r, photos: processingOrder(r.photos.map(photoFacts)) })),
  };
  const page: Sheet = {
    thumbOf,
    earlierOf,
    noThumbs: review.noThumbs,
    cardOf: new Map(),
    n: 0,
    pictures: new PagePictures(),
    repeated: new Set(),
  };
  const flagged: FlaggedPhoto[] = [];
  // the cards are numbered in the order they are written: the packed work orders' photos first
  let n = 0;
  for (const wo of review.workOrders)
    for (const p of wo.photos) {
      page.cardOf.set(p.entry, ++n);
      const checks = findingsOf(p.checks);
      if (checks.length) flagged.push({ entry: p.entry, card: n, checks });
      for (const f of checks)
        if (f.earlier && (f.code.endsWith("_REUSED") || f.code.endsWith("_DUPLICATE")))
          page.repeated.add(p.entry).add(earlierEntry(f.earlier));
    }
  const onPhotos = new Set(flagged.flatMap((p) => p.checks.map((f) => `${f.code}\0${f.message}`)));
  yield head(review);
  yield summary(review, flagged, onPhotos);
  for (const wo of review.workOrders) {
    yield workOrderHead(wo, review.fields, onPhotos);
    yield* sheet(wo.id, wo.photos, page);
    yield "</section>\n";
  }
  if (review.refused.length) {
    yield `<section aria-labelledby="refused"><h2 id="refused">Refused work orders (${review.refused.length})</h2>\n`;
    yield `<p class="note">Not in this archive: each is left in staging (or moved to the failed folder) until it is fixed.</p>\n`;
    for (const r of review.refused) {
      yield `<article class="refused" id="${anchor("refused", r.id)}" aria-labelledby="${anchor("rh", r.id)}">`;
      yield `<h3 id="${anchor("rh", r.id)}">${esc(r.id)}</h3>\n${problemList(r.problems)}`;
      // a photo check that refused the work order: its badge on the photo it names
      const photos = r.photos.map((p) => {
        const checks = r.problems.filter((x) => x.path === p.entry && isFindingCode(x.code));
        return checks.length
          ? { ...p, checks: [...(p.checks ?? []), ...checks.map((x) => ({ code: x.code, message: x.message }))] }
          : p;
      });
      if (photos.length) yield* sheet(r.id, photos, page);
      yield "</article>\n";
    }
    yield "</section>\n";
  }
  yield `</main>\n<footer><p>Made by ${esc(review.generator)}. This page needs no network and runs no script.</p></footer>\n</body>\n</html>\n`;
}

/**
 * A photo's facts as the page uses them: a report beside someone else's zip is read as it is, so a field
 * of the wrong type (a width that is text, a date that is a list) is left out, never drawn as markup.
 */
function photoFacts(p: ReviewPhoto): ReviewPhoto {
  const text = (v: unknown) => (typeof v === "string" ? v : undefined);
  const count = (v: unknown) => (typeof v === "number" && Number.isSafeInteger(v) && v >= 0 ? v : undefined);
  const handling = text(p.handling);
  return {
    entry: p.entry,
    bytes: count(p.bytes),
    source: text(p.source),
    captured: text(p.captured),
    capturedFrom: (["exif", "file", "name"] as const).find((c) => c === p.capturedFrom),
    fileTime: text(p.fileTime),
    width: count(p.width),
    height: count(p.height),
    orientation: count(p.orientation),
    conversion: p.conversion === null ? null : text(p.conversion),
    handling: handling === "copied" || handling === "trimmed" || handling === "converted" ? handling : undefined,
    checks: p.checks,
  };
}

/** §2/§5: photos are processed in suffix order, those without a suffix after them (in name order). */
function processingOrder(photos: readonly ReviewPhoto[]): ReviewPhoto[] {
  // (each name parsed once, not at every comparison)
  const keyed = photos.map((p) => ({
    p,
    n: parseEntryName(p.entry.slice(p.entry.lastIndexOf("/") + 1))?.n ?? Number.POSITIVE_INFINITY,
  }));
  keyed.sort((a, b) => a.n - b.n || codeUnitOrder(a.p.entry, b.p.entry));
  return keyed.map((k) => k.p);
}

const ORIENTATION: Record<number, string> = {
  1: "upright",
  2: "mirrored",
  3: "upside down",
  4: "upside down, mirrored",
  5: "on its side, mirrored",
  6: "turned 90° clockwise to show",
  7: "on its side, mirrored",
  8: "turned 90° counter-clockwise to show",
};

function head(review: Review): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; img-src data:; style-src 'unsafe-inline'">
<meta name="color-scheme" content="light dark">
<title>Review of ${esc(review.archive)}</title>
<style>${STYLE}</style>
</head>
<body>
<a class="skip" href="#main">Skip to the work orders</a>
<header><h1>Review of <span class="name">${esc(review.archive)}</span></h1></header>
<main id="main" tabindex="-1">
`;
}

const HANDLING: Record<PhotoHandling, (conversion: string) => [string, string]> = {
  copied: () => ["Copied", "byte for byte"],
  trimmed: (c) => ["Trimmed", esc(c)],
  converted: (c) => ["Converted", esc(c)],
};

/** The photos by what was done to them; an archive without its report only has a number. */
function photoSummary(review: Review): string {
  const photos = review.workOrders.flatMap((wo) => wo.photos);
  if (review.fromZipOnly) return String(photos.length);
  return esc(describeCounts(countPhotos(photos)));
}

/**
 * The run's warnings that are not about this archive's work orders (a stray root file, a move elsewhere): noticed
 * in the staging folder, kept apart from the archive's own.
 */
export function stagingWarnings(review: Review): Problem[] {
  const own = new Set(review.workOrders.flatMap((wo) => wo.warnings.map((w) => `${w.code}\0${w.message}`)));
  return review.warnings.filter((w) => !own.has(`${w.code}\0${w.message}`));
}

/** The warnings that are not a photo check's finding already shown as a badge on its photo. */
function notOnPhotos(warnings: readonly Problem[], onPhotos: ReadonlySet<string>): Problem[] {
  return warnings.filter((w) => !onPhotos.has(`${w.code}\0${w.message}`));
}

function summary(review: Review, flagged: readonly FlaggedPhoto[], onPhotos: ReadonlySet<string>): string {
  const warnings = review.workOrders.flatMap((wo) => wo.warnings);
  const listed = notOnPhotos(warnings, onPhotos);
  const staging = notOnPhotos(stagingWarnings(review), onPhotos);
  const rows: [string, string][] = [
    ["Work orders", `${review.workOrders.length}${review.refused.length ? ` packed, ${review.refused.length} refused` : ""}`],
    ["Photos", photoSummary(review)],
    ["Size", `${esc(formatBytes(review.bytes))} (${groupDigits(review.bytes)} bytes)`],
    ["SHA-256", `<code>${esc(review.sha256)}</code>`],
  ];
  if (review.createdAt) rows.push(["Created", `<time datetime="${esc(review.createdAt)}">${esc(review.createdAt)}</time>`]);
  const badged = warnings.length - listed.length;
  rows.push([
    "Warnings",
    warnings.length
      ? `${warnings.length}${badged ? ` (${badged} shown on their photos: <a href="#look">photo checks</a>)` : ""}`
      : "none",
  ]);
  if (staging.length) rows.push(["Noticed in staging", String(staging.length)]);
  let html = `<section aria-labelledby="summary"><h2 id="summary">Summary</h2>\n<dl class="summary">`;
  for (const [k, v] of rows) html += `<dt>${k}</dt><dd>${v}</dd>`;
  html += "</dl>\n";
  if (review.fromZipOnly)
    html += `<p class="note">This archive's report was not found beside it: sources and conversions are not known.</p>\n`;
  if (review.noThumbs) html += `<p class="note">Some photos have no thumbnail: ${esc(review.noThumbs)}.</p>\n`;
  html += checksSummary(flagged);
  if (listed.length) html += `<h3>Warnings</h3>\n${problemList(listed)}`;
  if (staging.length)
    html += `<h3 id="staging">Noticed in the staging folder</h3>\n<p class="note">The run's warnings about files and folders that are not in this archive.</p>\n${problemList(staging)}`;
  if (review.workOrders.length) {
    html += `<nav aria-label="Work orders in this archive"><h3>Work orders</h3><ol class="toc">`;
    for (const wo of review.workOrders)
      html += `<li><a href="#${anchor("wo", wo.id)}">${esc(wo.id)}</a> <span class="muted">(${wo.photos.length} photo${wo.photos.length === 1 ? "" : "s"})</span></li>`;
    for (const r of review.refused)
      html += `<li><a href="#${anchor("refused", r.id)}">${esc(r.id)}</a> <span class="bad">(refused)</span></li>`;
    html += "</ol></nav>\n";
  }
  return `${html}</section>\n`;
}

function workOrderHead(wo: ReviewWorkOrder, fields: Review["fields"], onPhotos: ReadonlySet<string>): string {
  const id = anchor("wo", wo.id);
  let html = `<section class="wo" id="${id}" aria-labelledby="${id}-h"><h2 id="${id}-h">Work order ${esc(wo.id)}</h2>\n`;
  html += metadataTable(wo.metadata, fields);
  const listed = notOnPhotos(wo.warnings, onPhotos);
  if (listed.length) html += problemList(listed);
  return html;
}

function metadataTable(metadata: Record<string, unknown> | undefined, fields: Review["fields"]): string {
  const keys = [...new Set([...Object.keys(fields), ...Object.keys(metadata ?? {})])];
  if (!keys.length) return `<p class="muted">No metadata.</p>\n`;
  let html = `<table class="meta"><caption>Metadata${Object.values(fields).some((f) => f.required) ? ` <span class="muted">(<span aria-hidden="true">*</span> required)</span>` : ""}</caption><tbody>`;
  for (const k of keys) {
    const required = fields[k]?.required ?? false;
    // (--allow-incomplete writes null for a required field it did not have)
    const has = metadata !== undefined && Object.hasOwn(metadata, k) && metadata[k] !== null;
    const label = `${esc(k)}${required ? ' <abbr title="required" class="req">*</abbr>' : ""}`;
    const value = has ? esc(shown(metadata![k])) : required ? "<strong>missing</strong>" : "not given";
    html += `<tr${!has ? (required ? ' class="missing"' : ' class="absent"') : ""}><th scope="row">${label}</th><td>${value}</td></tr>`;
  }
  return `${html}</tbody></table>\n`;
}

/** A metadata value as a person reads it: text as it is, anything else as JSON. */
function shown(value: unknown): string {
  return typeof value === "string" ? value : JSON.stringify(value);
}

/** A work order's photo cards, `photos` in processing order. */
async function* sheet(workOrder: string, photos: readonly ReviewPhoto[], page: Sheet): AsyncGenerator<string> {
  yield `<ol class="sheet" aria-label="Photos of ${esc(workOrder)} in processing order">\n`;
  for (const photo of photos) {
    const name = photo.entry.slice(photo.entry.lastIndexOf("/") + 1);
    const given = await page.thumbOf(photo, workOrder);
    const refused = given && "problem" in given ? given.problem : undefined;
    const made = given && "jpeg" in given ? given : undefined;
    const thumb = made?.jpeg;
    const p: ReviewPhoto = { ...photo, width: photo.width ?? made?.width, height: photo.height ?? made?.height };
    p.orientation ??= made?.orientation;
    const shown = p.orientation && p.orientation >= 5 ? { w: p.height, h: p.width } : { w: p.width, h: p.height };
    const alt = `${name}${p.source ? `, from ${p.source}` : ""}`;
    const n = ++page.n;
    // the larger view is this card at :target, its thumbnail shown up to twice its size (no second image)
    let img = thumb
      ? `<a class="close" href="#card-${n}">Close the larger view</a><a class="zoom" href="#photo-${n}" title="Larger view">${page.pictures.picture(thumb, alt, page.repeated.has(photo.entry), box(shown.w, shown.h))}</a>`
      : `<div class="nothumb" role="img" aria-label="${esc(`${alt} (no thumbnail)`)}">${refused ? "not read" : page.noThumbs ? "not decoded" : "does not decode"}</div>`;
    const checks = findingsOf(p.checks);
    // a re-used photo: the earlier picture beside it
    const earlier: string[] = [];
    for (const f of checks)
      if (f.earlier && f.code.endsWith("_REUSED")) {
        const picture = page.earlierOf ? await page.earlierOf(f.earlier) : { missing: "The earlier archive was not looked for." };
        const img = (jpeg: Buffer, alt: string) => page.pictures.picture(jpeg, alt, true);
        earlier.push(earlierBox(f.earlier, picture, page.cardOf.get(earlierEntry(f.earlier)), img));
      }
    if (earlier.length) img = `<div class="pair"><div class="this">${img}</div>${earlier.join("")}</div>`;
    const duplicates = checks
      .filter((f) => f.earlier && f.code.endsWith("_DUPLICATE"))
      .map((f) => duplicateLine(f.earlier!, page.cardOf.get(earlierEntry(f.earlier!)), workOrder))
      .join("");
    const facts: [string, string][] = [];
    if (p.source) facts.push(["Source", pathText(p.source)]);
    const when = capturedText(p);
    if (when) facts.push(["Captured", when]);
    if (p.width && p.height) facts.push(["Pixels", `${p.width} × ${p.height}`]);
    if (p.bytes !== undefined) facts.push(["Size", esc(formatBytes(p.bytes))]);
    if (p.conversion !== null) facts.push(HANDLING[photoHandling(p)](p.conversion ?? ""));
    if (p.orientation && p.orientation !== 1)
      facts.push(["Orientation", `${p.orientation}: ${esc(ORIENTATION[p.orientation] ?? "unknown")}`]);
    const flags = checks.length ? badges(checks) : "";
    yield `<li id="photo-${n}"><figure id="card-${n}"${checks.length ? ' class="flagged"' : ""}>${img}<figcaption><span class="entry">${pathText(name)}</span>${flags}${duplicates}<dl>${facts.map(([k, v]) => `<dt>${k}</dt><dd>${v}</dd>`).join("")}</dl>${refused ? problemList([refused]) : ""}</figcaption></figure></li>\n`;
  }
  yield "</ol>\n";
}

/** When the photo was taken and where that time comes from (what put it in capture order, §5). */
function capturedText(p: ReviewPhoto): string | undefined {
  const from = (source: string) => ` <span class="muted">(${source})</span>`;
  if (p.captured) return esc(p.captured.replace(/^(\d{4}):(\d\d):(\d\d) /, "$1-$2-$3 ")) + from("EXIF");
  if (p.capturedFrom === "file" && p.fileTime)
    return `${esc(p.fileTime.replace("T", " ").replace(/\.\d+Z$|Z$/, ""))} UTC${from("file time")}`;
  // (an explicit -N in its name, or no time at all: the name put it where it is)
  if (p.capturedFrom === "name") return `not known${from("ordered by its name")}`;
  return undefined;
}

/** The size that keeps the page from jumping as thumbnails load (the photo's, scaled to the thumb box). */
function box(w: number | undefined, h: number | undefined): PictureBox | undefined {
  if (!w || !h) return undefined;
  const scale = Math.min(1, THUMB_EDGE / Math.max(w, h));
  return { width: Math.max(1, Math.round(w * scale)), height: Math.max(1, Math.round(h * scale)) };
}

function problemList(problems: readonly Problem[]): string {
  let html = `<ul class="problems">`;
  for (const p of problems) {
    html += `<li><code class="code">${esc(p.code)}</code> ${esc(p.message)}`;
    if (p.hint) html += `<br><span class="hint">Fix: ${esc(p.hint)}</span>`;
    html += "</li>";
  }
  return `${html}</ul>\n`;
}

/**
 * A whole number with its thousands set apart by commas, as `toLocaleString("en")` writes it: without ICU,
 * whose number formatting costs 50-90 ms to set up on a page's first (and only) number.
 */
export function groupDigits(n: number): string {
  return String(n).replace(/\B(?=(\d{3})+$)/g, ",");
}

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ["KiB", "MiB", "GiB", "TiB"];
  let v = n / 1024;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v.toFixed(v < 10 ? 1 : 0)} ${units[i]}`;
}

const STYLE = `
:root{--bg:#fff;--fg:#1b1b1b;--muted:#595959;--card:#f4f4f4;--line:#c8c8c8;--bad:#a4000f;--badbg:#fde8ea;--link:#0050a0;--focus:#1a73e8;--warn:#6b4400;--warnbg:#fff3d6}
@media (prefers-color-scheme:dark){:root{--bg:#161616;--fg:#ececec;--muted:#b0b0b0;--card:#242424;--line:#4a4a4a;--bad:#ff9aa4;--badbg:#3d1519;--link:#8cc4ff;--focus:#8cc4ff;--warn:#ffc46b;--warnbg:#33260a}}
*{box-sizing:border-box}
body{margin:0 auto;max-width:96rem;padding:1rem 1.5rem;font:1rem/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;background:var(--bg);color:var(--fg)}
a{color:var(--link)}
a:focus-visible,main:focus-visible,[tabindex]:focus-visible{outline:3px solid var(--focus);outline-offset:2px}
.skip{position:absolute;left:-999rem}.skip:focus{left:1rem;top:1rem;background:var(--bg);padding:.5rem;z-index:1}
h1{font-size:1.5rem;margin:.5rem 0 1rem;overflow-wrap:anywhere}h2{font-size:1.3rem;margin:2rem 0 .5rem;border-bottom:1px solid var(--line);overflow-wrap:anywhere}h3{font-size:1.1rem;overflow-wrap:anywhere}
.summary{display:grid;grid-template-columns:max-content 1fr;gap:.25rem 1rem;margin:0}.summary dt{font-weight:600}.summary dd{margin:0;overflow-wrap:anywhere}
.muted,.note{color:var(--muted)}.bad{color:var(--bad)}
.toc{columns:16rem;padding-left:1.5rem}
table.meta{border-collapse:collapse;margin:.5rem 0 1rem;min-width:20rem;max-width:100%}
table.meta caption{text-align:left;font-weight:600;padding:.25rem 0}
table.meta th,table.meta td{border:1px solid var(--line);padding:.25rem .5rem;text-align:left;vertical-align:top;overflow-wrap:anywhere}
table.meta th{font-weight:600;background:var(--card)}
tr.missing td,tr.missing th{background:var(--badbg);color:var(--bad)}
tr.absent td{color:var(--muted)}
.req{color:var(--bad);text-decoration:none}
.sheet{list-style:none;padding:0;margin:0;display:grid;grid-template-columns:repeat(auto-fill,minmax(min(20rem,100%),1fr));gap:1rem}
.sheet figure{margin:0;background:var(--card);border:1px solid var(--line);border-radius:6px;padding:.5rem;height:100%}
.sheet img,.sheet .pic,.nothumb{display:block;margin:0 auto .5rem;max-width:100%;height:auto;max-height:16rem;object-fit:contain}
.pic.natural{width:auto}
.nothumb{height:8rem;display:flex;align-items:center;justify-content:center;border:2px dashed var(--line);color:var(--muted)}
.entry{font-weight:700;overflow-wrap:break-word}
figcaption dl{display:grid;grid-template-columns:max-content 1fr;gap:0 .5rem;margin:.25rem 0 0;font-size:.875rem}
figcaption dt{color:var(--muted)}figcaption dd{margin:0;overflow-wrap:break-word;min-width:0}
.zoom{display:block;cursor:zoom-in}.close{display:none}
.sheet li:target{position:fixed;inset:0;z-index:2;margin:0;padding:1rem;overflow:auto;background:rgb(0 0 0/.85)}
.sheet li:target figure{max-width:min(100%,40rem);height:auto;margin:0 auto}
.sheet li:target .zoom{cursor:default}
.sheet li:target .zoom img,.sheet li:target .zoom .pic{width:min(100%,512px);height:min(70vh,512px);max-height:none;object-fit:contain}
.sheet li:target .close{display:block;text-align:right;margin-bottom:.5rem;font-weight:600}
.sheet li:target .pair{flex-direction:column}
figure.flagged{border:2px solid var(--warn)}
.flags{position:relative;list-style:none;display:flex;flex-wrap:wrap;gap:.25rem;padding:0;margin:.25rem 0}
.flag{display:inline-block;border:2px solid var(--warn);color:var(--warn);background:var(--warnbg);border-radius:1rem;padding:0 .5rem;font-size:.875rem;font-weight:700}
.tip{position:absolute;width:1px;height:1px;overflow:hidden;clip-path:inset(50%);white-space:nowrap}
.flag:hover .tip,.flag:focus .tip{left:0;top:calc(100% + .25rem);z-index:3;width:max-content;max-width:100%;height:auto;overflow:visible;clip-path:none;white-space:normal;overflow-wrap:anywhere;background:var(--bg);color:var(--fg);border:1px solid var(--line);border-radius:4px;padding:.25rem .5rem;font-weight:400;box-shadow:0 2px 6px rgb(0 0 0/.35)}
.pair{display:flex;gap:.5rem;align-items:flex-start}.pair>*{flex:1 1 0;min-width:0}
.earlier{margin:0;font-size:.875rem;overflow-wrap:break-word}.earlier img,.earlier .pic,.earlier .nothumb{max-height:10rem}
.why{color:var(--muted)}.dup{margin:.25rem 0;font-size:.875rem}
.look{padding-left:1.25rem}.look li{margin:.25rem 0;overflow-wrap:anywhere}
.problems{padding-left:1.25rem}.problems li{margin:.25rem 0;overflow-wrap:anywhere}
.code{color:var(--bad);font-weight:600}.hint{color:var(--muted)}
.refused{border-left:4px solid var(--bad);padding-left:1rem;margin:1rem 0}
footer{margin-top:3rem;color:var(--muted);font-size:.875rem}
@media print{:root{--bg:#fff;--fg:#000;--muted:#333;--card:#fff;--line:#999;--bad:#900;--badbg:#fff}
nav,.skip,.close{display:none}body{max-width:none;padding:0;font-size:10pt}
.sheet{grid-template-columns:repeat(4,1fr);gap:.4rem}.sheet li,.refused,table.meta{break-inside:avoid}
.wo{break-before:page}a{color:inherit;text-decoration:none}.tip{position:static;width:auto;height:auto;clip-path:none;white-space:normal}.sheet li:target{position:static;padding:0;background:none}}
`;
