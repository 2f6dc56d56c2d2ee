// pack --repack of a work order whose archive's upload needs attention (the platform keeps a batch that may
// hold part of it, and would not delete it) is refused: the repack would make the same archive under a new
// name, which the next upload would send, a second copy on the platform. Once the operator has dealt with
// the old batch and sent the archive again (--attention-cleared), --repack packs it as usual.
import { readdir } from "node:fs/promises";
import { describe, expect, it } from "vitest";
import { readUploads } from "../../src/commit/uploads.js";
import { committedOutbox, noiseJpeg, wopack } from "../helpers.js";
import type { UploadServer } from "../upload-server.js";
import { useUploadServer } from "../useUploadServer.js";

const KEY = "wk_repack";
let server: UploadServer;
useUploadServer(KEY, (s) => (server = s));
const env = () => ({ WOPACK_API_URL: server.base, WOPACK_API_KEY: KEY });
const zips = async (out: string) => (await readdir(out)).filter((n) => n.endsWith(".zip")).sort();

describe("pack --repack of an archive whose upload needs attention", () => {
  it("is refused (naming the archive, hinting --attention-cleared), and nothing reaches the platform twice", async () => {
    const ws = await committedOutbox(2, 2, await noiseJpeg(500, 400, 5, 100));
    const [first, second] = await zips(ws.out);
    // the platform stores a wrong byte of the first archive and will not delete its batch: attention
    server.faults = { corruptAt: 100, objectDigests: "crc32c", refuseDelete: 405 };
    const sent = await wopack(["upload", ws.out, first!, "--json"], { env: env() });
    expect(sent.code, sent.stderr).toBe(1);
    expect(JSON.parse(sent.stdout).uploads).toMatchObject([{ result: "attention", problem: { code: "E_UPLOAD_ATTENTION" } }]);
    server.faults = {};
    const batch = (await readUploads(ws.out)).archives.get(first!)?.attention?.batchId;
    expect(batch).toBeDefined();
    const batches = server.batches.size;

    const repack = await wopack(["pack", ws.staging, "--out", ws.out, "--repack", "--json"]);
    expect(repack.code, repack.stderr).toBe(1);
    const report = JSON.parse(repack.stdout);
    expect(report.refused).toMatchObject([{ id: "WO_0", problems: [{ code: "E_REPACK_UPLOAD_ATTENTION" }] }]);
    const [problem] = report.refused[0].problems;
    expect(problem.message).toContain(first);
    expect(problem.message).toContain(batch);
    expect(problem.hint).toContain(`wopack upload <out> ${first} --attention-cleared`);
    // WO_1, whose archive needs no attention, is packed again as asked
    expect(report.packed.map((p: { id: string }) => p.id)).toEqual(["WO_1"]);
    const third = (await zips(ws.out)).filter((n) => n !== first && n !== second);
    expect(third).toHaveLength(1);

    // the backlog: the attention archive is not sent, WO_1's goes once (its repack is the same bytes: not
    // sent again), and no new batch holds WO_0
    const upload = await wopack(["upload", ws.out], { env: env() });
    expect(upload.code, upload.stderr).toBe(1);
    expect(upload.stdout).toContain(`attention ${first}`);
    expect(upload.stdout).toContain(`uploaded  ${second}`);
    expect(server.batches.size, "one new batch: WO_1's").toBe(batches + 1);
    expect((await wopack(["pack", ws.staging, "--out", ws.out, "--repack", "--dry-run"])).stdout).toMatch(
      /E_REPACK_UPLOAD_ATTENTION/,
    );

    // the operator deletes the old batch and sends the archive again: then --repack packs WO_0 too
    for (const b of server.batches.values()) if (b.id === batch) b.deleted = true;
    const cleared = await wopack(["upload", ws.out, first!, "--attention-cleared"], { env: env() });
    expect(cleared.code, cleared.stderr).toBe(0);
    const again = await wopack(["pack", ws.staging, "--out", ws.out, "--repack", "--json"]);
    expect(again.code, again.stderr).toBe(0);
    expect(
      JSON.parse(again.stdout)
        .packed.map((p: { id: string }) => p.id)
        .sort(),
    ).toEqual(["WO_0", "WO_1"]);
  }, 120_000);
});
