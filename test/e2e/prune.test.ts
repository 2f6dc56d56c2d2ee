// Issue 13: `wopack prune` — retention for what is done: a dry run by default; never anything not
// committed, never an archive not uploaded once the outbox uploads at all; recent work kept.
// Issue 21: nor the sources (processed/ folders) of an archive the platform has not confirmed.
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { appendFile, cp, mkdir, readdir, readFile, rename, rm, symlink, utimes, writeFile } from "node:fs/promises";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { appendUploads, type UploadRecord } from "../../src/commit/uploads.js";
import { parseConfig } from "../../src/config/load.js";
import { pack } from "../../src/run/pack.js";
import { prune } from "../../src/run/prune.js";
import { archivesIn, put, snapshot, solidJpeg, wopack, workspace } from "../helpers.js";

const DAY = 86_400_000;

describe("wopack prune", () => {
  it("says what would go, keeps what is not uploaded or not committed, and deletes only with --delete", async () => {
    const ws = await workspace();
    const processed = path.join(ws.dir, "processed");
    const config = parseConfig({});
    // two work orders committed 40 days ago, one archive each; one today
    await put(ws.staging, "WO_1/meter/a.jpg", solidJpeg());
    await put(ws.staging, "WO_2/meter/a.jpg", solidJpeg());
    const longAgo = new Date(Date.now() - 40 * DAY);
    await pack({ staging: ws.staging, out: ws.out, moveTo: processed, config, maxWorkOrders: 1, now: () => longAgo });
    await put(ws.staging, "WO_3/meter/a.jpg", solidJpeg());
    await pack({ staging: ws.staging, out: ws.out, moveTo: processed, config });
    const [old1, old2, recent] = await archivesIn(ws.out);
    expect(recent).toBeDefined();
    // a folder someone put in processed/ by hand: never committed from this outbox
    await mkdir(path.join(processed, "WO_stranger"));
    const before = await snapshot(ws.dir);

    const dry = await wopack(["prune", ws.out, "--older-than", "30d", "--processed", processed, "--json"]);
    expect(dry.code, dry.stderr).toBe(0);
    const planned = JSON.parse(dry.stdout);
    expect(planned.dryRun).toBe(true);
    expect(planned.pruned.map((p: { path: string }) => path.relative(ws.dir, p.path)).sort()).toEqual(
      [
        `out/${path.basename(old1!)}`,
        `out/${path.basename(old1!)}.report.json`,
        `out/${path.basename(old1!, ".zip")}.html`,
        `out/${path.basename(old2!)}`,
        `out/${path.basename(old2!)}.report.json`,
        `out/${path.basename(old2!, ".zip")}.html`,
        "processed/WO_1",
        "processed/WO_2",
      ].sort(),
    );
    expect(planned.kept).toEqual([
      { path: path.join(processed, "WO_stranger"), reason: expect.stringMatching(/never committed/) },
    ]);
    expect(await snapshot(ws.dir)).toEqual(before); // a dry run touches nothing

    // once the outbox uploads, an archive not uploaded yet stays
    await appendUploads(ws.out, [
      { type: "intent", archive: path.basename(old1!), sha256: "a".repeat(64), bytes: 1, at: new Date().toISOString() },
      { type: "uploaded", archive: path.basename(old1!), sha256: "a".repeat(64), batchId: "b1", at: new Date().toISOString() },
      { type: "intent", archive: path.basename(old2!), sha256: "b".repeat(64), bytes: 1, at: new Date().toISOString() },
    ]);
    const run = await wopack(["prune", ws.out, "--older-than", "30d", "--processed", processed, "--delete"]);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toContain(`kept  ${old2}  (not confirmed by the platform yet)`);
    // WO_2's folder is the only copy of the photos in old2, which the platform has not confirmed
    expect(run.stdout).toContain(`kept  ${path.join(processed, "WO_2")}  (the sources of ${path.basename(old2!)}, not confirmed`);
    expect(run.stdout).toMatch(/freed \d+\.\d MB \(4 items\)/);
    expect(existsSync(old1!)).toBe(false);
    expect(existsSync(`${old1}.report.json`)).toBe(false);
    expect(existsSync(old2!)).toBe(true);
    expect(existsSync(recent!)).toBe(true);
    expect((await readdir(processed)).sort()).toEqual(["WO_2", "WO_3", "WO_stranger"]);

    // the ledger keeps every commit (what makes a rerun skip a work order it has packed)
    const ledger = await readFile(path.join(ws.out, ".wopack", "ledger.jsonl"), "utf8");
    for (const id of ["WO_1", "WO_2", "WO_3"]) expect(ledger).toContain(`"id":"${id}"`);
  });

  it("needs an age it can read", async () => {
    const ws = await workspace();
    await mkdir(ws.out);
    const run = await wopack(["prune", ws.out, "--older-than", "a month"]);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/--older-than "a month": "a month" is not a duration; write a number and its unit: .*30d/);
  });
});

/** Where an archive or a work order's folders stand after prune: listed as pruned, kept (with why), or neither. */
type Fate = "pruned" | "kept" | "untouched" | "away";
/**
 * An archive's upload as the journal tells it ("moved": uploaded, then moved by --uploaded-to; "moving": its move
 * begun and not finished; "rejected": uploaded, then `status --refresh` heard the platform fail its batch).
 */
type State = "none" | "uploaded" | "failed" | "sending" | "attention" | "moved" | "moving" | "rejected";
interface Submission {
  age: "old" | "recent";
  state: State;
  /** the archive's fate when the outbox uploads, and when it does not (no journal at all) */
  fate: [Fate, Fate];
  /**
   * its review page: beside it (default), none, or moved with it by --uploaded-to ("moved" state); one an older
   * wopack left in --out when it moved its archive is pruned with its archive's age (else kept for ever)
   */
  page?: "none" | "moved";
}
interface Row {
  id: string;
  submissions: Submission[];
  /** the work order's folders in processed/ (id, id.2, ...): when uploading, when not */
  folders: [Fate, Fate];
}

// Every way prune decides. Old = committed 40 days before "now", recent = 15 days; --older-than 30d.
const ROWS: Row[] = [
  { id: "WO_UP", submissions: [{ age: "old", state: "uploaded", fate: ["pruned", "pruned"] }], folders: ["pruned", "pruned"] },
  { id: "WO_NEVER", submissions: [{ age: "old", state: "none", fate: ["kept", "pruned"] }], folders: ["kept", "pruned"] },
  { id: "WO_FAILED", submissions: [{ age: "old", state: "failed", fate: ["kept", "pruned"] }], folders: ["kept", "pruned"] },
  { id: "WO_SENDING", submissions: [{ age: "old", state: "sending", fate: ["kept", "pruned"] }], folders: ["kept", "pruned"] },
  {
    id: "WO_ATTENTION",
    submissions: [{ age: "old", state: "attention", fate: ["kept", "pruned"] }],
    folders: ["kept", "pruned"],
  },
  { id: "WO_REJECTED", submissions: [{ age: "old", state: "rejected", fate: ["kept", "pruned"] }], folders: ["kept", "pruned"] },
  { id: "WO_MOVED", submissions: [{ age: "old", state: "moved", fate: ["away", "pruned"] }], folders: ["pruned", "pruned"] },
  {
    id: "WO_MOVED_PAGE",
    submissions: [{ age: "old", state: "moved", fate: ["away", "pruned"], page: "moved" }],
    folders: ["pruned", "pruned"],
  },
  {
    id: "WO_MOVED_NOPAGE",
    submissions: [{ age: "old", state: "moved", fate: ["away", "pruned"], page: "none" }],
    folders: ["pruned", "pruned"],
  },
  {
    id: "WO_UP_NOPAGE",
    submissions: [{ age: "old", state: "uploaded", fate: ["pruned", "pruned"], page: "none" }],
    folders: ["pruned", "pruned"],
  },
  {
    id: "WO_NEVER_NOPAGE",
    submissions: [{ age: "old", state: "none", fate: ["kept", "pruned"], page: "none" }],
    folders: ["kept", "pruned"],
  },
  // (an --uploaded-to move begun and cut short: the archive in --out is the copy the move is to keep)
  { id: "WO_MOVING", submissions: [{ age: "old", state: "moving", fate: ["kept", "pruned"] }], folders: ["kept", "pruned"] },
  {
    id: "WO_RECENT_UP",
    submissions: [{ age: "recent", state: "uploaded", fate: ["untouched", "untouched"] }],
    folders: ["untouched", "untouched"],
  },
  {
    id: "WO_RECENT",
    submissions: [{ age: "recent", state: "none", fate: ["untouched", "untouched"] }],
    folders: ["untouched", "untouched"],
  },
  {
    id: "WO_RESUB_UP",
    submissions: [
      { age: "old", state: "uploaded", fate: ["pruned", "pruned"] },
      { age: "old", state: "uploaded", fate: ["pruned", "pruned"] },
    ],
    folders: ["pruned", "pruned"],
  },
  {
    id: "WO_RESUB_LATE_FAILED",
    submissions: [
      { age: "old", state: "uploaded", fate: ["pruned", "pruned"] },
      { age: "old", state: "failed", fate: ["kept", "pruned"] },
    ],
    folders: ["kept", "pruned"],
  },
  {
    id: "WO_RESUB_EARLY_NEVER",
    submissions: [
      { age: "old", state: "none", fate: ["kept", "pruned"] },
      { age: "old", state: "uploaded", fate: ["pruned", "pruned"] },
    ],
    folders: ["kept", "pruned"],
  },
  {
    id: "WO_RESUB_RECENT",
    submissions: [
      { age: "old", state: "uploaded", fate: ["pruned", "pruned"] },
      { age: "recent", state: "uploaded", fate: ["untouched", "untouched"] },
    ],
    folders: ["kept", "kept"],
  },
];

const T0 = Date.parse("2026-03-01T00:00:00.000Z");
const NOW = new Date(T0 + 40 * DAY);

/** Packs every row's submissions with the clock moved (oldest first), then writes the upload journal. */
async function outbox(uploading: boolean) {
  const ws = await workspace();
  const processed = path.join(ws.dir, "processed");
  const sent = path.join(ws.dir, "sent");
  const config = parseConfig({});
  const archives = new Map<Submission, string>();
  const order = ROWS.flatMap((row) => row.submissions.map((s, k) => ({ row, s, k })));
  order.sort((a, b) => (a.s.age === b.s.age ? a.k - b.k : a.s.age === "old" ? -1 : 1));
  for (const [i, { row, s, k }] of order.entries()) {
    await put(ws.staging, `${row.id}/meter/a.jpg`, solidJpeg(k ? "#a31" : "#357"));
    const at = new Date((s.age === "old" ? T0 : T0 + 25 * DAY) + i * 60_000);
    const result = await pack({ staging: ws.staging, out: ws.out, moveTo: processed, config, now: () => at });
    expect(result.archives.map((a) => a.workOrders.map((w) => w.id))).toEqual([[row.id]]);
    archives.set(s, result.archives[0]!.path);
    if (s.page === "none") await rm(result.archives[0]!.path.replace(/\.zip$/, ".html"));
  }
  await mkdir(path.join(processed, "WO_STRANGER"));
  // an archive (with a report) another tool put in --out: not in the ledger, never touched
  await put(ws.out, "batch-20250101T000000Z-1.zip", "PK\x05\x06" + "\0".repeat(18));
  await put(
    ws.out,
    "batch-20250101T000000Z-1.zip.report.json",
    JSON.stringify({ sha256: "0".repeat(64), bytes: 22, createdAt: "2025-01-01T00:00:00.000Z" }),
  );
  if (uploading) {
    for (const [s, file] of archives) {
      const archive = path.basename(file);
      const { sha256, bytes } = JSON.parse(await readFile(`${file}.report.json`, "utf8"));
      const at = new Date(T0 + 30 * DAY).toISOString();
      const batch = { archive, batchId: `b-${archive}`, at };
      const started: UploadRecord[] = [
        { type: "intent", archive, sha256, bytes, at },
        { ...batch, type: "batch", uploadUrl: "http://127.0.0.1:9/session" },
        { ...batch, type: "offset", confirmed: Math.floor(bytes / 2) },
      ];
      const records: Record<State, UploadRecord[]> = {
        none: [],
        uploaded: [...started, { ...batch, type: "uploaded", sha256 }],
        failed: [
          { type: "intent", archive, sha256, bytes, at },
          { type: "failed", archive, code: "E_UPLOAD_REFUSED", message: "no", at },
        ],
        sending: started,
        // (the record the sender writes for a partial batch the platform would not delete: wip/upload)
        attention: [...started, { ...batch, type: "attention", reason: "DELETE answered 500" } as unknown as UploadRecord],
        moved: [...started, { ...batch, type: "uploaded", sha256 }, { type: "moved", archive, to: sent, at }],
        moving: [...started, { ...batch, type: "uploaded", sha256 }, { type: "moving", archive, to: sent, at }],
        rejected: [...started, { ...batch, type: "uploaded", sha256 }, { ...batch, type: "status", status: "failed" }],
      };
      if (s.state === "moved") {
        await mkdir(sent, { recursive: true });
        const page = s.page === "moved" ? [file.replace(/\.zip$/, ".html")] : [];
        for (const f of [file, `${file}.report.json`, ...page]) await rename(f, path.join(sent, path.basename(f)));
      }
      await appendUploads(ws.out, records[s.state]);
    }
  }
  return { ws, processed, archives };
}

describe("wopack prune: every path, against a ledger and an upload journal (issue 21)", () => {
  it.for([
    [true, false],
    [true, true],
    [false, false],
    [false, true],
  ] as const)(
    "uploading %s, --delete %s: deletes exactly what is safe, keeps the sources of every unconfirmed archive",
    async ([uploading, remove]) => {
      const { ws, processed, archives } = await outbox(uploading);
      const col = uploading ? 0 : 1;
      const expected = { pruned: [] as string[], kept: [] as string[] };
      const untouched: string[] = [];
      for (const row of ROWS) {
        for (const s of row.submissions) {
          const file = archives.get(s)!;
          const fate = s.fate[col];
          const page = file.replace(/\.zip$/, ".html");
          if (fate === "pruned") expected.pruned.push(...[file, `${file}.report.json`, page].filter((f) => existsSync(f)));
          // (its archive went to --uploaded-to: a page left behind in --out goes, never kept for ever)
          if (s.page !== "moved") expect(existsSync(page), page).toBe(s.page === undefined);
          if (fate === "away") expected.pruned.push(...[page].filter((f) => existsSync(f)));
          if (fate === "kept") expected.kept.push(file);
          if (fate === "untouched") untouched.push(file);
        }
        const folders = row.submissions.map((_, k) => path.join(processed, k ? `${row.id}.${k + 1}` : row.id));
        for (const f of folders) expect(existsSync(f), f).toBe(true);
        const fate = row.folders[col];
        if (fate === "pruned") expected.pruned.push(...folders);
        if (fate === "kept") expected.kept.push(...folders);
        if (fate === "untouched") untouched.push(...folders);
      }
      expected.kept.push(path.join(processed, "WO_STRANGER"));
      const before = await snapshot(ws.dir);

      const result = await prune({ out: ws.out, olderThanMs: 30 * DAY, processed, delete: remove, env: {}, now: () => NOW });
      expect(result.dryRun).toBe(!remove);
      expect(result.pruned.map((p) => p.path).sort()).toEqual(expected.pruned.sort());
      expect(result.kept.map((k) => k.path).sort()).toEqual(expected.kept.sort());
      for (const k of result.kept) {
        const row = ROWS.find((r) => path.basename(k.path).replace(/\.\d+$/, "") === r.id);
        if (k.path.startsWith(processed) && row?.folders[col] === "kept") {
          // the reason names the archive that holds the folder back
          const holders = row.submissions.map((s) => path.basename(archives.get(s)!));
          expect(
            holders.some((h) => k.reason.includes(h)),
            k.reason,
          ).toBe(true);
        }
      }

      // the disk: a dry run changes nothing; --delete removes exactly what it listed, and nothing else
      const after = await snapshot(ws.dir);
      const gone = (rel: string) =>
        remove &&
        result.pruned.some((p) => [p.path, `${p.path}${path.sep}`].some((q) => `${path.join(ws.dir, rel)}/`.startsWith(q)));
      expect(after).toEqual(Object.fromEntries(Object.entries(before).filter(([rel]) => !gone(rel.replace(/\/$/, "")))));
      for (const f of [...expected.kept, ...untouched]) expect(existsSync(f), f).toBe(true);
      if (remove) for (const p of expected.pruned) expect(existsSync(p), p).toBe(false);
    },
  );

  it.for([
    ["upload.url in the config", { config: parseConfig({ upload: { url: "http://127.0.0.1:9/v0.2" } }), env: {} }],
    ["WOPACK_API_URL", { env: { WOPACK_API_URL: "http://127.0.0.1:9/v0.2" } }],
  ] as const)("a platform configured (%s) but nothing sent yet: nothing old goes, nor its sources", async ([, given]) => {
    const { ws, processed, archives } = await outbox(false);
    const before = await snapshot(ws.dir);
    const result = await prune({ out: ws.out, olderThanMs: 30 * DAY, processed, delete: true, ...given, now: () => NOW });
    expect(result.pruned).toEqual([]);
    const old = ROWS.flatMap((r) => r.submissions.filter((s) => s.age === "old").map((s) => archives.get(s)!));
    const keptFolders = ROWS.filter((r) => r.submissions.some((s) => s.age === "old")).flatMap((r) =>
      r.submissions.map((_, k) => path.join(processed, k ? `${r.id}.${k + 1}` : r.id)),
    );
    expect(result.kept.map((k) => k.path).sort()).toEqual([...old, ...keptFolders, path.join(processed, "WO_STRANGER")].sort());
    expect(await snapshot(ws.dir)).toEqual(before);
  });
});

describe("watch.prune: a running watch keeps its outbox trimmed (issue 21)", () => {
  it("prunes between passes under the lock it holds, by prune's rules: old and confirmed (or not uploading) go, the rest stays", async () => {
    const { watch } = await import("../../src/run/watch.js");
    const { waitFor } = await import("../helpers.js");
    const table = [
      { what: "an outbox that does not upload", upload: {}, gone: true },
      { what: "an outbox that uploads, nothing confirmed", upload: { url: "http://127.0.0.1:9/v0.2" }, gone: false },
    ];
    for (const row of table) {
      const ws = await workspace();
      const processed = path.join(ws.dir, "processed");
      await put(ws.staging, "WO_1/meter/a.jpg", solidJpeg());
      await put(ws.staging, "WO_2/meter/a.jpg", solidJpeg());
      const config = parseConfig({ upload: row.upload, watch: { prune: { olderThan: "30d", processed } } });
      await pack({
        staging: ws.staging,
        out: ws.out,
        moveTo: processed,
        config,
        maxWorkOrders: 1,
        now: () => new Date(Date.now() - 40 * DAY),
      });
      await put(ws.staging, "WO_3/meter/a.jpg", solidJpeg());
      await pack({ staging: ws.staging, out: ws.out, moveTo: processed, config });
      const [old1, old2, recent] = await archivesIn(ws.out);
      // a pack beside the watch: refused (exit 4), as before; the watch prunes instead
      const stop = new AbortController();
      let url = "";
      const running = watch({
        staging: ws.staging,
        out: ws.out,
        moveTo: processed,
        config,
        signal: stop.signal,
        http: { host: "127.0.0.1", port: 0 },
        onEvent: (e) => {
          if (e.event === "started") url = String(e.url);
        },
      });
      const health = path.join(ws.out, ".wopack", "health.json");
      const state = async () => JSON.parse(await readFile(health, "utf8").catch(() => "{}"));
      await waitFor(async () => Boolean((await state()).prune?.last), `${row.what}: the first prune`);
      expect((await wopack(["prune", ws.out, "--older-than", "30d"])).code, "prune beside a watch").toBe(4);
      // the status server says what it did and when the next is due
      const seen = (await (await fetch(`${url}/state.json`)).json()) as { prune: { last: unknown; nextAt: string } };
      expect(seen.prune.last, row.what).toEqual((await state()).prune.last);
      expect(await (await fetch(`${url}/status.js`)).text()).toContain("prune-section");
      stop.abort();
      await running;
      const { prune: p } = await state();
      expect(p, row.what).toMatchObject({
        olderThanMs: 30 * DAY,
        everyMs: DAY,
        lastAt: expect.any(String),
        nextAt: expect.any(String),
      });
      expect(Date.parse(p.nextAt) - Date.parse(p.lastAt), row.what).toBe(DAY);
      expect(existsSync(recent!), `${row.what}: the recent archive`).toBe(true);
      expect(existsSync(path.join(processed, "WO_3")), `${row.what}: the recent work order`).toBe(true);
      for (const old of [old1!, old2!]) expect(existsSync(old), `${row.what}: ${old}`).toBe(!row.gone);
      for (const id of ["WO_1", "WO_2"]) expect(existsSync(path.join(processed, id)), `${row.what}: ${id}`).toBe(!row.gone);
      expect(p.last, row.what).toMatchObject(row.gone ? { kept: 0, failed: 0 } : { pruned: 0, kept: 4, failed: 0 }); // 2 archives, their 2 folders
      if (row.gone) expect(p.last.pruned).toBeGreaterThanOrEqual(6); // 2 archives, their reports, review pages; 2 folders
    }
  });
});

/** What happened to a work order's folder in processed/ after its pack (issue 21: prune deleted photos never packed). */
interface FolderRow {
  what: string;
  /** done to processed/WO_T after the pack; returns the files it made or changed (they must survive) */
  tamper: (folder: string) => Promise<string[]>;
  /** why each of them is kept */
  reason: RegExp;
}

const LATER = new Date(T0 + 39 * DAY);
const FOLDER_ROWS: FolderRow[] = [
  {
    what: "a photo added since (the tester's LATE.jpg)",
    tamper: async (f) => [await put(f, "meter/LATE.jpg", solidJpeg("#f00"))],
    reason: /not packed/,
  },
  {
    what: "a file added at the folder's root",
    tamper: async (f) => [await put(f, "notes.txt", "call the customer")],
    reason: /not packed/,
  },
  {
    what: "a packed photo changed in size",
    tamper: async (f) => {
      await appendFile(path.join(f, "meter/a.jpg"), "more");
      return [path.join(f, "meter/a.jpg")];
    },
    reason: /changed since it was packed: \d+ bytes, the ledger recorded \d+/,
  },
  {
    what: "a packed photo replaced by one of the same size",
    tamper: async (f) => {
      const file = path.join(f, "meter/a.jpg");
      const bytes = await readFile(file);
      await writeFile(file, Buffer.from(bytes.map((b, i) => (i === bytes.length - 3 ? b ^ 1 : b))));
      await utimes(file, LATER, LATER);
      return [file];
    },
    reason: /replaced since it was packed/,
  },
  {
    what: "a packed photo replaced by a link",
    tamper: async (f) => {
      const file = path.join(f, "meter/a.jpg");
      await rm(file);
      await symlink("/etc/hostname", file);
      return [file];
    },
    reason: /link/,
  },
];

describe("wopack prune --processed: only the files the ledger recorded as moved there go (issue 21)", () => {
  /** One work order packed 40 days ago with --move-to processed/ (not uploading: it is due). */
  async function packedOld() {
    const ws = await workspace();
    const processed = path.join(ws.dir, "processed");
    await put(ws.staging, "WO_T/meter/a.jpg", solidJpeg());
    await put(ws.staging, "WO_T/meter/b.jpg", solidJpeg("#a31"));
    await pack({ staging: ws.staging, out: ws.out, moveTo: processed, config: parseConfig({}), now: () => new Date(T0) });
    return { ws, processed, folder: path.join(processed, "WO_T") };
  }

  it("a folder as it was moved goes whole (the control row)", async () => {
    const { ws, processed, folder } = await packedOld();
    const result = await prune({ out: ws.out, olderThanMs: 30 * DAY, processed, delete: true, env: {}, now: () => NOW });
    expect(result.pruned.map((p) => p.path)).toContain(folder);
    expect(result.kept).toEqual([]);
    expect(existsSync(folder)).toBe(false);
  });

  it.for(FOLDER_ROWS.flatMap((row) => [false, true].map((remove) => [row.what, remove] as const)))(
    "%s, --delete %s: what was packed unchanged goes, the rest stays, with why",
    async ([what, remove]) => {
      const row = FOLDER_ROWS.find((r) => r.what === what)!;
      const { ws, processed, folder } = await packedOld();
      const touched = await row.tamper(folder);
      const before = await snapshot(folder);
      const result = await prune({ out: ws.out, olderThanMs: 30 * DAY, processed, delete: remove, env: {}, now: () => NOW });
      // the folder is not listed as going; b.jpg (packed, untouched) is, and a.jpg only when untouched
      const packed = ["meter/a.jpg", "meter/b.jpg"].map((rel) => path.join(folder, rel)).filter((f) => !touched.includes(f));
      expect(result.pruned.map((p) => p.path).filter((p) => p.startsWith(processed))).toEqual(packed);
      expect(result.kept.map((k) => k.path)).toEqual(touched);
      for (const k of result.kept) expect(k.reason).toMatch(row.reason);
      const after = await snapshot(folder);
      for (const f of touched) {
        const rel = path.relative(folder, f);
        expect(after[rel], `${rel} kept as it was`).toEqual(before[rel]);
      }
      for (const f of packed) expect(existsSync(f), f).toBe(!remove);
    },
  );

  it("a folder moved to another disk (a tmpfs) goes whole too: the copy keeps each file's time to the millisecond", async (ctx) => {
    const ws = await workspace();
    const processed = path.join(ws.dir, "processed");
    await mkdir(processed);
    if (spawnSync("mount", ["-t", "tmpfs", "-o", "size=16m", "tmpfs", processed]).status !== 0) return ctx.skip();
    try {
      await put(ws.staging, "WO_X/meter/a.jpg", solidJpeg());
      await put(ws.staging, "WO_X/meter/b.jpg", solidJpeg("#a31"));
      await put(ws.staging, "WO_X/.DS_Store", "junk");
      await pack({ staging: ws.staging, out: ws.out, moveTo: processed, config: parseConfig({}), now: () => new Date(T0) });
      const folder = path.join(processed, "WO_X");
      expect(existsSync(path.join(folder, "meter/b.jpg"))).toBe(true);
      const result = await prune({ out: ws.out, olderThanMs: 30 * DAY, processed, delete: true, env: {}, now: () => NOW });
      expect(result.kept).toEqual([]);
      expect(result.pruned.map((p) => p.path)).toContain(folder);
      expect(existsSync(folder)).toBe(false);
    } finally {
      spawnSync("umount", [processed]);
    }
  });

  it("a staging folder given as --processed (packed without --move-to): nothing in it goes", async () => {
    const ws = await workspace();
    await put(ws.staging, "WO_P1/meter/a.jpg", solidJpeg());
    await pack({ staging: ws.staging, out: ws.out, config: parseConfig({}), now: () => new Date(T0) });
    await put(ws.staging, "WO_P1/meter/NEW.jpg", solidJpeg("#0f0")); // never packed
    const before = await snapshot(ws.staging);
    const result = await prune({
      out: ws.out,
      olderThanMs: 30 * DAY,
      processed: ws.staging,
      delete: true,
      env: {},
      now: () => NOW,
    });
    expect(result.pruned.filter((p) => p.path.startsWith(ws.staging))).toEqual([]);
    expect(result.kept).toEqual([
      { path: path.join(ws.staging, "WO_P1"), reason: expect.stringMatching(/ledger records no files moved here/) },
    ]);
    expect(await snapshot(ws.staging)).toEqual(before);
  });
});

describe("wopack prune: an archive journaled as moved (--uploaded-to) but still in --out (issue 21, finding 4)", () => {
  it("is kept, with why: what an older wopack journaled when a link to it stood in the destination", async () => {
    const ws = await workspace();
    const sent = path.join(ws.dir, "sent");
    await put(ws.staging, "WO_L/meter/a.jpg", solidJpeg());
    await pack({ staging: ws.staging, out: ws.out, config: parseConfig({}), now: () => new Date(T0) });
    const [file] = await archivesIn(ws.out);
    const archive = path.basename(file!);
    const { sha256, bytes } = JSON.parse(await readFile(`${file}.report.json`, "utf8"));
    await mkdir(sent);
    for (const f of [archive, `${archive}.report.json`]) await symlink(path.join(ws.out, f), path.join(sent, f));
    const at = new Date(T0 + DAY).toISOString();
    await appendUploads(ws.out, [
      { type: "intent", archive, sha256, bytes, at },
      { type: "uploaded", archive, sha256, batchId: "b1", at },
      { type: "moving", archive, to: sent, at },
      { type: "moved", archive, to: sent, at },
    ]);
    const result = await prune({ out: ws.out, olderThanMs: 30 * DAY, delete: true, env: {}, now: () => NOW });
    expect(result.pruned).toEqual([]);
    expect(result.kept).toEqual([{ path: file, reason: expect.stringMatching(/journaled as moved to .*sent.*only copy/) }]);
    expect(existsSync(file!)).toBe(true);
    expect(existsSync(path.join(sent, archive)), "the link still leads to it").toBe(true);
  });
});

/** A processed folder that is a link, made after the pack (issue 21, finding 1): prune never deletes through it. */
const LINK_ROWS: { what: string; target: (folder: string, elsewhere: string) => string }[] = [
  { what: "an absolute link", target: (_, e) => e },
  { what: "a relative link", target: (f, e) => path.relative(path.dirname(f), e) },
  { what: "a link by a roundabout path", target: (_, e) => path.join(e, "meter", "..") },
  { what: "a link to a link", target: (_, e) => `${e}.hop` },
];

describe("wopack prune --processed: a processed folder that is a link is never deleted through (issue 21, finding 1)", () => {
  it.for([false, true])(
    "--processed itself a link, to a copy made with its times (--delete %s): nothing deleted through it",
    async (remove) => {
      const ws = await workspace();
      const processed = path.join(ws.dir, "processed");
      await put(ws.staging, "WO_T/meter/a.jpg", solidJpeg());
      await pack({ staging: ws.staging, out: ws.out, moveTo: processed, config: parseConfig({}), now: () => new Date(T0) });
      // (a backup made with cp -a keeps every size and time the ledger recorded; the link is then turned to it)
      const copy = path.join(ws.dir, "backup");
      await cp(processed, copy, { recursive: true, preserveTimestamps: true });
      await rename(processed, path.join(ws.dir, "real"));
      await symlink(copy, processed);
      const before = await snapshot(copy);
      const result = await prune({ out: ws.out, olderThanMs: 30 * DAY, processed, delete: remove, env: {}, now: () => NOW });
      expect(result.pruned.filter((p) => p.path.startsWith(processed))).toEqual([]);
      expect(result.kept).toEqual([{ path: processed, reason: expect.stringMatching(/a link .*not deleted through/) }]);
      expect(await snapshot(copy)).toEqual(before);
    },
  );

  it.for(LINK_ROWS.flatMap((row) => [false, true].map((remove) => [row.what, remove] as const)))(
    "%s to the folder moved elsewhere, --delete %s: kept, with why; nothing it leads to goes",
    async ([what, remove]) => {
      const row = LINK_ROWS.find((r) => r.what === what)!;
      const ws = await workspace();
      const processed = path.join(ws.dir, "processed");
      const elsewhere = path.join(ws.dir, "elsewhere", "WO_T");
      await mkdir(path.dirname(elsewhere));
      await put(ws.staging, "WO_T/meter/a.jpg", solidJpeg());
      await pack({ staging: ws.staging, out: ws.out, moveTo: processed, config: parseConfig({}), now: () => new Date(T0) });
      const folder = path.join(processed, "WO_T");
      await rename(folder, elsewhere);
      await symlink(row.target(folder, elsewhere), folder);
      if (row.what === "a link to a link") await symlink(elsewhere, `${elsewhere}.hop`);
      const before = await snapshot(path.dirname(elsewhere));
      const result = await prune({ out: ws.out, olderThanMs: 30 * DAY, processed, delete: remove, env: {}, now: () => NOW });
      expect(result.pruned.filter((p) => p.path.startsWith(processed))).toEqual([]);
      expect(result.kept).toEqual([{ path: folder, reason: expect.stringMatching(/a link .*not deleted through/) }]);
      expect(await snapshot(path.dirname(elsewhere))).toEqual(before);
      expect(existsSync(path.join(folder, "meter/a.jpg")), "the link still leads to it").toBe(true);
    },
  );
});
