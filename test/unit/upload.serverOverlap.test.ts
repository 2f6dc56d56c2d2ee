// The stand-in server keeps a session's bytes by offset, as the cloud storage does: a chunk that starts before
// what the session holds (a killed client's last request still being read while the rerun sends the next) is
// kept once, its overlap dropped; one that leaves a gap is a violation. What the upload tests' checks of the
// received bytes rest on.
import { createHash, randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { UploadServer } from "../upload-server.js";

const KEY = "wk_overlap";
const UNIT = 256 * 1024;
const server = new UploadServer(KEY);
beforeAll(() => server.start());
afterAll(() => server.stop());

async function session(): Promise<{ id: string; url: string }> {
  const res = await fetch(`${server.base}/batches/`, {
    method: "POST",
    headers: { authorization: `Token ${KEY}`, "content-type": "application/json" },
    body: JSON.stringify({ filename: "b" }),
  });
  const made = (await res.json()) as { batch_id: string; upload_url: string };
  return { id: made.batch_id, url: made.upload_url };
}

const put = (url: string, data: Buffer, from: number, total: number) =>
  fetch(url, {
    method: "PUT",
    headers: { "content-type": "application/octet-stream", "content-range": `bytes ${from}-${from + data.length - 1}/${total}` },
    body: new Uint8Array(data),
  });

describe("the stand-in server's session", () => {
  it("keeps bytes sent twice (a chunk overlapping what it holds) once, and says a gap is wrong", async () => {
    const bytes = randomBytes(3 * UNIT + 1000);
    const s = await session();
    expect((await put(s.url, bytes.subarray(0, 2 * UNIT), 0, bytes.length)).status).toBe(308);
    // from one unit in: its first unit is held already
    expect((await put(s.url, bytes.subarray(UNIT), UNIT, bytes.length)).status).toBe(201);
    expect(server.received(s.id).sha256).toBe(createHash("sha256").update(bytes).digest("hex"));
    expect(server.violations).toEqual([]);

    const gap = await session();
    await put(gap.url, bytes.subarray(UNIT, 2 * UNIT), UNIT, bytes.length);
    expect(server.violations.join("\n")).toMatch(/starts at 262144, the session holds 0/);
  });
});
