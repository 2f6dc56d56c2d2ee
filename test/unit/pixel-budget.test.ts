// The budget of pixels converted at once (convert/pixelBudget.ts): never over it, a photo larger than the
// whole budget alone, first come first served, every job run once.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { PixelBudget } from "../../src/convert/pixelBudget.js";

describe("PixelBudget", () => {
  it("keeps the pixels in flight within the budget; each job runs, in the order asked (generated)", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 50 }),
        fc.array(fc.record({ pixels: fc.integer({ min: 0, max: 120 }), finishAfter: fc.nat(5) }), {
          minLength: 1,
          maxLength: 25,
        }),
        async (capacity, jobs) => {
          const budget = new PixelBudget(capacity);
          let inFlight = 0;
          let most = 0;
          const started: number[] = [];
          const running = new Map<number, () => void>();
          const alone: boolean[] = [];
          const done = jobs.map((job, i) =>
            budget.run(job.pixels, async () => {
              started.push(i);
              inFlight += Math.max(1, Math.min(capacity, job.pixels));
              most = Math.max(most, inFlight);
              alone[i] = running.size === 0;
              await new Promise<void>((finish) => running.set(i, finish));
              inFlight -= Math.max(1, Math.min(capacity, job.pixels));
              return i;
            }),
          );
          // finish the running jobs, some in a different order than they started, until all are done
          for (let turn = 0, finished = 0; finished < jobs.length; turn++) {
            await new Promise((r) => setImmediate(r));
            const ids = [...running.keys()];
            if (!ids.length) throw new Error(`nothing runs, yet ${jobs.length - finished} jobs wait`);
            finished++;
            const pick = ids[(jobs[ids[0]!]!.finishAfter + turn) % ids.length]!;
            running.get(pick)!();
            running.delete(pick);
          }
          expect(await Promise.all(done)).toEqual(jobs.map((_, i) => i));
          expect(most).toBeLessThanOrEqual(capacity);
          expect(started).toEqual(jobs.map((_, i) => i)); // first come, first served
          jobs.forEach((job, i) => {
            if (job.pixels >= capacity) expect(alone[i], `job ${i} of ${job.pixels} pixels`).toBe(true);
          });
        },
      ),
      { numRuns: 200 },
    );
  });

  it("a job that throws gives its pixels back", async () => {
    const budget = new PixelBudget(10);
    await expect(budget.run(10, async () => Promise.reject(new Error("bad photo")))).rejects.toThrow("bad photo");
    await expect(budget.run(10, async () => "next")).resolves.toBe("next");
  });
});
