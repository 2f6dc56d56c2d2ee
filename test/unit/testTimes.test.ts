// WOPACK_TEST_TIME_SCALE (src/core/testTimes.ts): read once, 0.05..1 or ignored; a wait scaled never under 200 ms
// (nor over itself); unset, every wait is as written.
import { afterEach, describe, expect, it, vi } from "vitest";

const saved = process.env.WOPACK_TEST_TIME_SCALE;
afterEach(() => {
  if (saved === undefined) delete process.env.WOPACK_TEST_TIME_SCALE;
  else process.env.WOPACK_TEST_TIME_SCALE = saved;
});

async function ownWaitUnder(scale: string | undefined): Promise<(ms: number) => number> {
  vi.resetModules();
  if (scale === undefined) delete process.env.WOPACK_TEST_TIME_SCALE;
  else process.env.WOPACK_TEST_TIME_SCALE = scale;
  return (await import("../../src/core/testTimes.js")).ownWait;
}

describe("WOPACK_TEST_TIME_SCALE (table)", () => {
  const table: { scale: string | undefined; ms: number; wait: number }[] = [
    { scale: undefined, ms: 10_000, wait: 10_000 },
    { scale: "0.1", ms: 10_000, wait: 1_000 },
    { scale: "0.3", ms: 10_000, wait: 3_000 },
    { scale: "0.05", ms: 60_000, wait: 3_000 },
    { scale: "0.1", ms: 1_000, wait: 200 }, // the floor
    { scale: "0.1", ms: 150, wait: 150 }, // never longer than written
    { scale: "1", ms: 5_000, wait: 5_000 },
    { scale: "0.01", ms: 5_000, wait: 5_000 }, // below 0.05: ignored
    { scale: "0", ms: 5_000, wait: 5_000 },
    { scale: "2", ms: 5_000, wait: 5_000 }, // never longer
    { scale: "-1", ms: 5_000, wait: 5_000 },
    { scale: "fast", ms: 5_000, wait: 5_000 },
    { scale: "", ms: 5_000, wait: 5_000 },
  ];
  for (const { scale, ms, wait } of table)
    it(`${scale ?? "unset"}: ${ms} ms waits ${wait} ms`, async () => {
      expect((await ownWaitUnder(scale))(ms)).toBe(wait);
    });
});
