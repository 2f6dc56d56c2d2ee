/** §2: work-order ids are letters, digits, _ and -, 1 to 128 characters. */
export function isWorkOrderId(id: string): boolean {
  return /^[A-Za-z0-9_-]{1,128}$/.test(id);
}

/**
 * Ids that differ from an earlier one only in letter case (`WO-1A` after `WO-1a`, in code-unit order):
 * each with the earlier id. Their archive folders would be one folder on Windows and macOS, whose unzip
 * ignores case, and their photos would overwrite each other; SPEC is silent, so the later one is refused.
 */
export function caseTwins(ids: Iterable<string>): Map<string, string> {
  const first = new Map<string, string>();
  const twins = new Map<string, string>();
  for (const id of [...new Set(ids)].sort(codeUnitOrder)) {
    const key = id.toLowerCase();
    const earlier = first.get(key);
    if (earlier === undefined) first.set(key, id);
    else twins.set(id, earlier);
  }
  return twins;
}

/**
 * §5: letters, digits, _ (and -), never ending in -<digits>, which would read as an order suffix. One
 * pattern, so that the config's JSON Schema says what the code checks.
 */
export const TASK_GROUP_PATTERN = /^(?![\s\S]*-[0-9]+$)[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,126}[A-Za-z0-9_])?$/;

export function isTaskGroupName(name: string): boolean {
  return TASK_GROUP_PATTERN.test(name);
}

/** The largest order number: -N has at most 9 digits, in staging names and in archive entries alike. */
export const MAX_ORDER = 999_999_999;

/** "cabinet_front-3" -> { base: "cabinet_front", n: 3 }; "cabinet_front" -> { base, n: undefined }. */
export function splitOrderSuffix(stem: string): { base: string; n: number | undefined } {
  const m = /^(.*[^-])-(\d{1,9})$/.exec(stem);
  return m ? { base: m[1]!, n: Number(m[2]) } : { base: stem, n: undefined };
}

export function stemOf(fileName: string): string {
  const dot = fileName.lastIndexOf(".");
  return dot > 0 ? fileName.slice(0, dot) : fileName;
}

// made on first use: setting up ICU's collation costs ~15 ms, which `wopack --help` need not pay
let collator: Intl.Collator | undefined;

/** Natural sort ("IMG_2" before "IMG_10"), with a byte-order tie-break so the order is total. */
export function naturalCompare(a: string, b: string): number {
  collator ??= new Intl.Collator("en", { numeric: true, sensitivity: "variant" });
  return collator.compare(a, b) || codeUnitOrder(a, b);
}

/** Plain code-unit order: for ids and entry names, whose order must not depend on a locale. */
export function codeUnitOrder(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Levenshtein distance, for "did you mean" hints. */
export function editDistance(a: string, b: string): number {
  const prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let diag = prev[0]!;
    prev[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const next = Math.min(prev[j]! + 1, prev[j - 1]! + 1, diag + (a[i - 1] === b[j - 1] ? 0 : 1));
      diag = prev[j]!;
      prev[j] = next;
    }
  }
  return prev[b.length]!;
}

/** The candidate closest to `name`, when it is close enough to be a likely typo. */
export function nearest(name: string, candidates: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Math.max(2, Math.floor(name.length / 3)) + 1;
  for (const c of candidates) {
    const d = editDistance(name.toLowerCase(), c.toLowerCase());
    if (d < bestDistance) [best, bestDistance] = [c, d];
  }
  return best;
}

/** An archive's review page: `batch-….zip` -> `batch-….html`, beside it (it leaves --out with its archive). */
export function reviewPath(archive: string): string {
  return archive.replace(/\.zip$/i, "") + ".html";
}
