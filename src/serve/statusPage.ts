// watch --http's status page: a static shell, its stylesheet and a small script that draws the status
// from /events (server-sent events) with DOM text nodes only, so nothing from a file name can become
// markup. Served from 'self' under a CSP without inline code.

export const STATUS_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="light dark">
<title>wopack watch</title>
<link rel="stylesheet" href="/status.css">
<script src="/status.js" defer></script>
</head>
<body>
<header>
<h1>wopack watch <span id="status" class="badge" role="status" aria-live="polite">connecting…</span></h1>
<p id="folders" class="muted"></p>
</header>
<main>
<section aria-labelledby="h-error" id="error-section" hidden><h2 id="h-error">Last error</h2><p id="error"></p></section>
<section aria-labelledby="h-progress"><h2 id="h-progress">In progress</h2><div id="progress"><p class="muted">Nothing is being packed.</p></div></section>
<section aria-labelledby="h-uploads" id="uploads-section" hidden><h2 id="h-uploads">Uploads</h2><div id="uploads"></div></section>
<section aria-labelledby="h-prune" id="prune-section" hidden><h2 id="h-prune">Retention</h2><p id="prune"></p></section>
<section aria-labelledby="h-waiting"><h2 id="h-waiting">Waiting</h2><div id="waiting"></div></section>
<section aria-labelledby="h-archives"><h2 id="h-archives">Recent archives</h2><div id="archives"></div></section>
<section aria-labelledby="h-refused"><h2 id="h-refused">Refused work orders</h2><p id="failed-to" class="muted" hidden></p><div id="refused"></div></section>
<section aria-labelledby="h-checks" id="checks-section" hidden><h2 id="h-checks">Photo checks</h2><div id="checks"></div></section>
<section aria-labelledby="h-warnings" id="warnings-section" hidden><h2 id="h-warnings">Staging warnings</h2><div id="warnings"></div></section>
</main>
<footer><p class="muted"><span id="totals"></span> · <a href="/metrics">metrics</a> · <a href="/healthz">health</a> · <a href="/state.json">state as JSON</a> · updated <span id="updated">never</span></p>
<noscript><p>This page updates itself with a small script; without it, read <a href="/state.json">/state.json</a>.</p></noscript></footer>
</body>
</html>
`;

export const STATUS_CSS = `
:root{--bg:#fff;--fg:#1b1b1b;--muted:#595959;--line:#c8c8c8;--card:#f4f4f4;--ok:#1d6b2a;--bad:#a4000f;--busy:#7a4d00;--link:#0050a0;--focus:#1a73e8}
@media (prefers-color-scheme:dark){:root{--bg:#161616;--fg:#ececec;--muted:#b0b0b0;--line:#4a4a4a;--card:#242424;--ok:#7fd48b;--bad:#ff9aa4;--busy:#ffc46b;--link:#8cc4ff;--focus:#8cc4ff}}
body{margin:0 auto;max-width:72rem;padding:1rem 1.5rem;font:1rem/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;background:var(--bg);color:var(--fg)}
a{color:var(--link)}a:focus-visible{outline:3px solid var(--focus);outline-offset:2px}
h1{font-size:1.5rem}h2{font-size:1.2rem;margin-top:1.5rem;border-bottom:1px solid var(--line)}
.muted{color:var(--muted)}#folders{overflow-wrap:anywhere}
.badge{display:inline-block;font-size:1rem;padding:.1rem .6rem;border-radius:1rem;border:2px solid currentColor;vertical-align:middle}
.s-idle{color:var(--ok)}.s-packing,.s-starting,.s-settling,.s-waiting,.s-uploading{color:var(--busy)}.s-error,.s-stopping,.s-stopped{color:var(--bad)}
.wide{overflow-x:auto}
table{border-collapse:collapse;width:100%}th,td{text-align:left;padding:.3rem .5rem;border-bottom:1px solid var(--line);vertical-align:top}
th,td.nowrap{white-space:nowrap}td ul{margin:0;padding-left:1.1rem}
th{font-weight:600}
progress{width:100%;height:1.2rem}
#error,.bad{color:var(--bad)}
code{font-size:.9em}
.flag{display:inline-block;border:2px solid currentColor;color:var(--busy);border-radius:1rem;padding:0 .5rem;font-size:.875rem;font-weight:700;white-space:nowrap}
td.num,th.num{text-align:right}
`;

/** The status page's script (no framework): one EventSource, DOM built with text nodes only. */
export const STATUS_JS = `"use strict";
const $ = (id) => document.getElementById(id);
let state = null;
function el(tag, text, cls) { const e = document.createElement(tag); if (text !== undefined) e.textContent = String(text); if (cls) e.className = cls; return e; }
// ids and paths wrap after "/", "_" and "-" only, never inside a word
function breakable(text) { const f = document.createDocumentFragment(); for (const part of String(text).split(/(?<=[/_-])/)) { if (f.childNodes.length) f.append(el("wbr")); f.append(document.createTextNode(part)); } return f; }
function size(bytes) { return bytes < 1e6 ? Math.max(1, Math.round(bytes / 1e3)) + " kB" : (bytes / 1e6).toFixed(1) + " MB"; }
// a duration as a person says it: minutes under 2 h, hours under 2 days, then days
function span(ms) { const m = Math.round(ms / 60000); return m < 120 ? plural(m, "minute") : m < 2880 ? plural(Math.round(m / 60), "hour") : plural(Math.round(m / 1440), "day"); }
function plural(n, one, many) { return n + " " + (n === 1 ? one : many || one + "s"); }
function table(head, rows, nowrap) {
  const t = el("table"); const tr = el("tr"); for (const h of head) { const th = el("th", h); th.scope = "col"; tr.append(th); }
  const thead = el("thead"); thead.append(tr); const tbody = el("tbody");
  for (const r of rows) { const row = el("tr"); r.forEach((c, i) => { const td = el("td"); if (nowrap && nowrap.includes(i)) td.className = "nowrap"; td.append(c instanceof Node ? c : document.createTextNode(String(c))); row.append(td); }); tbody.append(row); }
  t.append(thead, tbody); const box = el("div", undefined, "wide"); box.append(t); return box;
}
function ago(iso) { if (!iso) return "never"; const s = Math.round((Date.now() - Date.parse(iso)) / 1000); return s < 60 ? s + " s ago" : s < 3600 ? Math.round(s / 60) + " min ago" : new Date(iso).toLocaleString(); }
function until(iso) { if (!iso) return "—"; const s = Math.max(0, Math.round((Date.parse(iso) - Date.now()) / 1000)); return s === 0 ? "now" : s < 120 ? "in " + s + " s" : s < 7200 ? "in " + Math.round(s / 60) + " min" : "in " + Math.floor(Math.round(s / 60) / 60) + " h " + (Math.round(s / 60) % 60) + " min"; }
function render() {
  if (!state) return;
  const badge = $("status"); badge.textContent = state.status; badge.className = "badge s-" + state.status;
  $("folders").textContent = "staging " + state.staging + " → " + state.out + " · pid " + state.pid + " · wopack " + state.version + (state.nextScanAt ? " · next scan " + until(state.nextScanAt) + " (last " + ago(state.lastScanAt) + ")" : "");
  const err = state.lastError; $("error-section").hidden = !err;
  if (err) $("error").textContent = err.code + " (" + new Date(err.at).toLocaleString() + "): " + err.message;
  const p = state.inProgress; const progress = $("progress"); progress.replaceChildren();
  if (p) {
    progress.append(el("p", p.workOrders.join(", ") + ": " + p.photosDone + " of " + p.photosTotal + " photos" + (p.lastPhoto ? " (last: " + p.lastPhoto + ")" : "")));
    const bar = el("progress"); bar.max = Math.max(1, p.photosTotal); bar.value = p.photosDone; bar.setAttribute("aria-label", "photos packed"); progress.append(bar);
  } else progress.append(el("p", "Nothing is being packed.", "muted"));
  const u = state.uploads; $("uploads-section").hidden = !u;
  if (u) {
    const box = $("uploads"); box.replaceChildren();
    if (u.stopped) box.append(el("p", "Sending stopped: " + u.stopped.code + " (" + new Date(u.stopped.at).toLocaleString() + "): " + u.stopped.message, "bad"));
    box.append(el("p", u.sending ? "Sending " + u.sending.archive + " since " + ago(u.sending.since) + " (last confirmed bytes " + ago(u.sending.lastProgressAt) + ")" : "Nothing is being sent.", u.sending ? undefined : "muted"));
    if (u.sending && u.sending.waiting) box.append(el("p", "A request failed (" + u.sending.waiting.reason + "): trying again " + until(u.sending.waiting.nextTryAt) + " (" + new Date(u.sending.waiting.nextTryAt).toLocaleString() + ").", "bad"));
    if (u.pausedUntil) box.append(el("p", "The platform asked wopack to wait (Retry-After): nothing is sent until " + new Date(u.pausedUntil).toLocaleString() + " (" + until(u.pausedUntil) + ").", "bad"));
    if (u.attention.length) box.append(el("p", "Needs a person: the platform keeps a batch that may hold part of each archive below and would not delete it. Look at the batch on the platform and delete it there, then run wopack upload <out> <archive> --attention-cleared.", "bad"), table(["Archive needing attention", "Batch", "Since", "Why"], u.attention.map((x) => [x.archive, x.batchId, new Date(x.at).toLocaleString(), x.reason])));
    if (u.notMoved && u.notMoved.length) box.append(el("p", "Uploaded, not moved: each archive below waits in the output folder for the folder --uploaded-to names. Mount the disk (or make the folder, free space on it, remove the link or the other file under that name there): the watch moves them within seconds.", "bad"), table(["Archive not moved", "To", "Since", "Why"], u.notMoved.map((x) => [x.archive, x.to, new Date(x.at).toLocaleString(), x.code ? x.code + ": " + x.reason : x.reason])));
    if (u.retrying.length) box.append(table(["Archive waiting to retry", "Tries", "Next try", "Last error"], u.retrying.map((x) => [x.archive, x.attempts, until(x.nextAttemptAt) + " (" + new Date(x.nextAttemptAt).toLocaleString() + ")" + (x.platformAsked ? ", as the platform asked (Retry-After)" : ""), x.lastError.code + ": " + x.lastError.message])));
  }
  const pr = state.prune; $("prune-section").hidden = !pr;
  if (pr) {
    const l = pr.last; const did = l ? [l.pruned ? plural(l.pruned, "item") + " deleted (" + size(l.bytes) + ")" : "nothing deleted"].concat(l.kept ? [l.kept + " kept (not confirmed by the platform)"] : [], l.failed ? [l.failed + " could not be deleted"] : []) : [];
    $("prune").textContent = "Deletes what was committed over " + span(pr.olderThanMs) + " ago and is safe to delete, every " + span(pr.everyMs) + ". " + (pr.lastError ? "Last (" + ago(pr.lastAt) + ") failed: " + pr.lastError.code + ": " + pr.lastError.message + (/[.]$/.test(pr.lastError.message) ? "" : ".") : l ? "Last (" + ago(pr.lastAt) + "): " + did.join(", ") + "." : "Not run yet.") + (pr.nextAt ? " Next " + until(pr.nextAt) + "." : "");
  }
  const w = $("waiting"); w.replaceChildren(state.waiting.length ? table(["Work order", "Waiting for", "Ready"], state.waiting.map((x) => [breakable(x.id), x.reason, until(x.readyAt)]), [2]) : el("p", "No work order is waiting.", "muted"));
  if (state.moreWaiting) w.append(el("p", "… and " + state.moreWaiting + " more (see /state.json).", "muted"));
  const a = $("archives"); a.replaceChildren(state.recentArchives.length ? table(["Archive", "Committed", "Work orders", "Photos", "Size"], state.recentArchives.map((x) => {
    let name = breakable(x.archive);
    if (x.review) { const link = el("a"); link.append(name); link.href = "/review/" + encodeURIComponent(x.review); name = link; }
    const ids = document.createDocumentFragment(); x.workOrders.forEach((id, i) => ids.append(...(i ? [", "] : []), breakable(id)));
    return [name, ago(x.at), ids, x.photos, size(x.bytes)];
  }), [1, 3, 4]) : el("p", "No archive yet.", "muted"));
  const r = $("refused"); r.replaceChildren(state.recentRefused.length ? table(["Work order", "When", "Problems", "Errors file"], state.recentRefused.map((x) => {
    const list = el("ul"); for (const pr of x.problems) { const li = el("li"); li.append(el("code", pr.code), document.createTextNode(" " + pr.message + " — " + pr.hint)); list.append(li); }
    if (x.moreProblems) list.append(el("li", "… and " + x.moreProblems + " more (see /state.json or its errors.json)", "muted"));
    const where = x.errors ? breakable(x.errors) : el("span", "not moved: still in staging", "muted");
    return [breakable(x.id), ago(x.at), list, where];
  }), [1]) : el("p", "None recently.", "muted"));
  const f = $("failed-to"); f.hidden = !state.failedTo;
  if (state.failedTo) { f.replaceChildren("Refused folders are moved to ", el("code", state.failedTo), ", each with its <id>.errors.json beside it."); }
  const c = state.photoChecks; $("checks-section").hidden = !c;
  if (c) {
    const box = $("checks"); box.replaceChildren();
    box.append(el("p", "Since watch started: " + plural(c.total.warned, "photo") + " warned of, " + plural(c.total.refused, "work order") + " refused; in the last pass: " + c.lastPass.warned + " warned of, " + c.lastPass.refused + " refused."));
    if (c.rows.length) box.append(table(["Check (findings)", "Warned since start", "Refused since start", "Warned last pass", "Refused last pass"], c.rows.map((r) => [r.word + " (" + r.check + ")", r.total.warned, r.total.refused, r.lastPass.warned, r.lastPass.refused]), [1, 2, 3, 4]));
    const reviews = new Map(state.recentArchives.filter((x) => x.review).map((x) => [x.archive, x.review]));
    box.append(el("h3", "Latest findings"));
    box.append(c.recent.length ? table(["Finding", "When", "Work order", "Archive", "What"], c.recent.map((f) => {
      const what = document.createDocumentFragment(); what.append(el("span", f.word, "flag"), " ", el("code", f.code), " " + (f.outcome === "refused" ? "refused" : "warned"));
      let archive = f.archive ? breakable(f.archive) : el("span", f.outcome === "refused" ? "not packed" : "—", "muted");
      if (f.archive && reviews.has(f.archive)) { const link = el("a"); link.append(archive); link.href = "/review/" + encodeURIComponent(reviews.get(f.archive)); archive = link; }
      const wo = document.createDocumentFragment(); wo.append(breakable(f.workOrder)); if (f.entry) wo.append(el("br"), breakable(f.entry));
      return [what, ago(f.at), wo, archive, f.message];
    }), [1]) : el("p", "No photo was flagged yet.", "muted"));
    if (c.moreRecent) box.append(el("p", "… and " + c.moreRecent + " more (see /state.json).", "muted"));
  }
  const ws = state.warnings || []; $("warnings-section").hidden = !ws.length;
  $("warnings").replaceChildren(table(["Warning", "File", "What", "Since"], ws.map((x) => [el("code", x.code), x.path ? breakable(x.path) : "—", x.message + " — " + x.hint, ago(x.at)]), [0, 3]));
  $("totals").textContent = "this session: " + plural(state.packed, "work order") + " packed, " + state.refused + " refused, " + plural(state.archives, "archive") + (state.uploads ? ", " + state.uploads.uploaded + " uploaded" : "");
  $("updated").textContent = new Date().toLocaleTimeString();
}
const events = new EventSource("/events");
events.onmessage = (e) => { state = JSON.parse(e.data); render(); };
events.onerror = () => { const b = $("status"); b.textContent = "disconnected"; b.className = "badge s-error"; };
setInterval(render, 1000);
`;
