// watch --http's /review/<page>.html (SPEC §13): a page is served only when it is a regular file in --out, whatever
// happens to it around the moment it is read. A page that disappeared between the server's check and its read
// answered 500 with the error's path, and one swapped for a link between the two served what the link named.
// The swaps are made deterministic by a seam over node:fs/promises: right after the server's first call on the
// page (its check, or its open) the page is changed.
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdirSync, renameSync, rmSync, symlinkSync, truncateSync, writeFileSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import type { StatusServer } from "../../src/serve/server.js";
import { tempDir } from "../helpers.js";
import { quietStatus, serveStatus } from "../watcher.js";

/** path -> what to do to it once the server has touched it */
const afterTouch = new Map<string, () => void>();

vi.mock("node:fs/promises", async (original) => {
  const fs = await original<typeof import("node:fs/promises")>();
  const touched = (file: unknown) => {
    const change = afterTouch.get(String(file));
    afterTouch.delete(String(file));
    change?.();
  };
  const wrap =
    <A extends unknown[], R>(f: (...a: A) => Promise<R>) =>
    async (...a: A): Promise<R> => {
      const r = await f(...a);
      touched(a[0]);
      return r;
    };
  const wrapped = { ...fs, lstat: wrap(fs.lstat), open: wrap(fs.open), stat: wrap(fs.stat) };
  return { ...wrapped, default: wrapped };
});

const PAGE = "<html><body>the review page</body></html>";
const SECRET = "secret-outside-the-outbox-7f3c";
let out: string;
let secret: string;
let server: StatusServer;

beforeAll(async () => {
  out = await tempDir();
  secret = path.join(await tempDir(), "secret.txt");
  writeFileSync(secret, SECRET);
  const status = quietStatus({ staging: "/", out });
  server = await serveStatus(() => status, { out });
});
afterAll(() => server.close());

async function ask(name: string): Promise<{ status: number; body: string }> {
  const res = await fetch(`${server.url}/review/${name}`, { signal: AbortSignal.timeout(10_000) });
  return { status: res.status, body: await res.text() };
}

/** A page that is not for the server (no body but "not found") leaks nothing. */
function expectNotFound(r: { status: number; body: string }, what: string) {
  expect(r, what).toEqual({ status: 404, body: "not found\n" });
}

describe("the review pages on the status server", () => {
  it("serves a page that is a regular file; anything else in its place is 404, and a link is never followed", async () => {
    writeFileSync(path.join(out, "batch-1.zip.html"), PAGE);
    expect(await ask("batch-1.zip.html")).toEqual({ status: 200, body: PAGE });
    const table: [string, (file: string) => void][] = [
      ["missing", () => undefined],
      ["a link to a file outside --out", (f) => symlinkSync(secret, f)],
      ["a link to a page inside --out", (f) => symlinkSync(path.join(out, "batch-1.zip.html"), f)],
      ["a dangling link", (f) => symlinkSync(path.join(out, "nothing"), f)],
      ["a folder", (f) => mkdirSync(f)],
      ["a FIFO (never waited on)", (f) => execFileSync("mkfifo", [f])],
    ];
    for (const [i, [what, make]] of table.entries()) {
      const name = `case-${i}.zip.html`;
      make(path.join(out, name));
      expectNotFound(await ask(name), what);
    }
  });

  it("a page changed right after the server first touched it: the page whole, or 404; never 500, a path or what a link names", async () => {
    const table: [string, (file: string) => void][] = [
      ["deleted", (f) => rmSync(f)],
      [
        "replaced by a link to a file outside --out",
        (f) => {
          rmSync(f);
          symlinkSync(secret, f);
        },
      ],
      [
        "replaced by a folder",
        (f) => {
          rmSync(f);
          mkdirSync(f);
        },
      ],
      [
        "replaced by a FIFO",
        (f) => {
          rmSync(f);
          execFileSync("mkfifo", [f]);
        },
      ],
      [
        "replaced by a newer page",
        (f) => {
          writeFileSync(`${f}.new`, `${PAGE} (newer)`);
          renameSync(`${f}.new`, f);
        },
      ],
    ];
    for (const [i, [what, change]] of table.entries()) {
      const name = `swap-${i}.zip.html`;
      const file = path.join(out, name);
      writeFileSync(file, PAGE);
      afterTouch.set(file, () => change(file));
      const r = await ask(name);
      expect(afterTouch.has(file), `${what}: the seam ran`).toBe(false);
      expect(r.body, what).not.toContain(out);
      expect(r.body, what).not.toContain(SECRET);
      if (r.status === 404) expectNotFound(r, what);
      else
        expect(r, what).toMatchObject({
          status: 200,
          body: expect.stringMatching(/^<html><body>the review page<\/body><\/html>( \(newer\))?$/),
        });
    }
  });

  it("a page of any size is streamed, never read whole: memory grows by far less than the page; HEAD and an empty page too (table)", async () => {
    const GiB = 1024 ** 3;
    const zero = Buffer.alloc(4 * 1024 * 1024);
    const table = [
      { what: "empty", size: 0, sparse: false },
      { what: "one byte", size: 1, sparse: false },
      { what: "just over a read buffer", size: 64 * 1024 + 1, sparse: false },
      { what: "a few MB", size: 5 * 1024 * 1024 + 7, sparse: false },
      { what: "512 MiB (sparse: no disk)", size: GiB / 2, sparse: true },
    ];
    for (const [i, row] of table.entries()) {
      const name = `big-${i}.zip.html`;
      const file = path.join(out, name);
      const bytes = row.sparse ? undefined : randomBytes(row.size);
      writeFileSync(file, bytes ?? "");
      if (!bytes) truncateSync(file, row.size);
      const peakBefore = process.resourceUsage().maxRSS;
      const head = await fetch(`${server.url}/review/${name}`, { method: "HEAD" });
      expect(head.status, row.what).toBe(200);
      expect(head.headers.get("content-length"), row.what).toBe(String(row.size));
      const res = await fetch(`${server.url}/review/${name}`, { signal: AbortSignal.timeout(60_000) });
      expect(res.status, row.what).toBe(200);
      let got = 0;
      let zeros = true;
      const firstBytes: Buffer[] = [];
      for await (const piece of res.body as AsyncIterable<Uint8Array>) {
        if (bytes) firstBytes.push(Buffer.from(piece));
        else if (zeros && !Buffer.from(piece.buffer, piece.byteOffset, piece.length).equals(zero.subarray(0, piece.length)))
          zeros = false;
        got += piece.length;
      }
      expect(got, row.what).toBe(row.size);
      if (bytes) expect(Buffer.concat(firstBytes).equals(bytes), row.what).toBe(true);
      else expect(zeros, row.what).toBe(true);
      // (maxRSS in KB: the peak of this process, the server's and the client's together)
      const grewMb = (process.resourceUsage().maxRSS - peakBefore) / 1024;
      expect(grewMb, `${row.what}: the peak grew by ${grewMb.toFixed(0)} MB`).toBeLessThan(256);
      rmSync(file);
    }
  }, 120_000);
});
