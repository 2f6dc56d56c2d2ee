// `wopack review`: (re)makes the review page of archives, ours or not, from the zip (and its report).
import { readdir, stat } from "node:fs/promises";
import path from "node:path";
import { ZipRefused } from "../archive/readZip.js";
import { exists } from "../commit/files.js";
import { tmpDir } from "../commit/paths.js";
import type { Config } from "../config/schema.js";
import type { Problem } from "../core/errors.js";
import { problem, WopackError } from "../core/errors.js";
import { VERSION } from "../core/version.js";
import { reviewOfArchive, writeReview } from "../review/writeReview.js";
import { codeUnitOrder, reviewPath } from "../spec/names.js";

export interface ReviewResult {
  /** the pages written, each beside its archive */
  written: { archive: string; page: string; workOrders: number; photos: number }[];
  problems: Problem[];
}

/** Each target is an archive (.zip) or a folder whose archives all get a page. */
export async function review(targets: readonly string[], config: Config | undefined): Promise<ReviewResult> {
  const result: ReviewResult = { written: [], problems: [] };
  for (const zip of await archivesOf(targets)) {
    try {
      const { review, thumbOf, earlierOf, close } = await reviewOfArchive(zip, config, `wopack ${VERSION}`);
      try {
        const page = reviewPath(zip);
        const folder = path.dirname(zip);
        const tmp = (await exists(tmpDir(folder))) ? tmpDir(folder) : folder;
        await writeReview(page, review, thumbOf, tmp, earlierOf);
        const photos = review.workOrders.reduce((n, wo) => n + wo.photos.length, 0);
        result.written.push({ archive: zip, page, workOrders: review.workOrders.length, photos });
      } finally {
        close();
      }
    } catch (err) {
      result.problems.push(
        err instanceof ZipRefused
          ? err.problem
          : problem(
              "E_REVIEW_FAILED",
              `${zip}: no review page was made (${(err as Error).message})`,
              "check that it is a readable zip (wopack validate) and that its folder is writable",
              zip,
            ),
      );
    }
  }
  return result;
}

async function archivesOf(targets: readonly string[]): Promise<string[]> {
  const zips: string[] = [];
  for (const t of targets) {
    const s = await stat(t).catch(() => undefined);
    if (!s) {
      throw new WopackError(
        "usage",
        "E_REVIEW_TARGET",
        `${t}: no such archive or folder`,
        "give an archive (.zip) or the --out folder",
      );
    }
    if (!s.isDirectory()) zips.push(t);
    else
      zips.push(
        ...(await readdir(t))
          .filter((f) => f.toLowerCase().endsWith(".zip"))
          .sort(codeUnitOrder)
          .map((f) => path.join(t, f)),
      );
  }
  return zips;
}
