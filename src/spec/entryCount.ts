// How many entries one archive may hold (SPEC §8): validate and review refuse a zip that lists more before
// they list one (a central directory of millions of tiny entries is a few
// hundred MB of headers, and each entry listed costs memory and a read).
import { type Problem, problem } from "../core/errors.js";

/**
 * 100,000: a whole night of a fleet's photos (docs/scale.md) is some 260 GB at 2.6 MB a photo, far past any
 * archive that is uploaded in one piece; listed, 100,000 entries take about 180 MB and half a minute to check.
 */
export const MAX_ARCHIVE_ENTRIES = 100_000;

export function tooManyEntries(file: string, entries: number): Problem {
  return problem(
    "E_ZIP_TOO_MANY_ENTRIES",
    `${file}: its central directory lists ${entries} entries, more than the ${MAX_ARCHIVE_ENTRIES} an archive may hold; none was read`,
    "split it into archives of fewer photos (pack: --max-work-orders or --max-archive-size)",
    file,
  );
}
