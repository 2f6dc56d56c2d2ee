const SIZE_UNITS: Record<string, number> = {
  "": 1,
  b: 1,
  kb: 1e3,
  mb: 1e6,
  gb: 1e9,
  tb: 1e12,
  kib: 2 ** 10,
  mib: 2 ** 20,
  gib: 2 ** 30,
  tib: 2 ** 40,
};

/** "5MB" -> 5_000_000, "2GiB" -> 2147483648, 1024 -> 1024. Returns undefined when unreadable. */
export function parseSize(value: string | number): number | undefined {
  if (typeof value === "number") return Number.isFinite(value) && value >= 0 ? Math.floor(value) : undefined;
  const m = /^\s*(\d+(?:\.\d+)?)\s*([a-z]*)\s*$/i.exec(value);
  const factor = m && SIZE_UNITS[m[2]!.toLowerCase()];
  return m && factor ? Math.floor(Number(m[1]) * factor) : undefined;
}

const DURATION_UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

export type DurationUnit = "ms" | "s" | "m" | "h" | "d";

/**
 * A duration as text: a number and its unit (ms, s, m, h, d; any case), or 0 alone. In the JSON Schema
 * too, so character classes rather than a flag.
 */
export const DURATION_TEXT = /^\s*(0+(\.0+)?|\d+(\.\d+)?\s*([mM][sS]|[sSmMhHdD]))\s*$/;

/**
 * "30s" -> 30000, "10m" -> 600000, "250ms" -> 250, "30d" -> 2592000000, "0" -> 0. A number without a unit
 * (other than 0) is no duration: undefined, never read as some unit (see durationProblem).
 */
export function parseDuration(value: string | number): number | undefined {
  if (typeof value === "number") return value === 0 ? 0 : undefined;
  if (!DURATION_TEXT.test(value)) return undefined;
  const m = /^\s*(\d+(?:\.\d+)?)\s*([a-z]*)\s*$/i.exec(value)!;
  return Math.round(Number(m[1]) * (DURATION_UNITS[m[2]!.toLowerCase()] ?? 0));
}

/**
 * Why `value` is not a duration. A bare number gets the unit it probably meant (`likely`: days for a
 * retention age, seconds for a settle time), never a guess taken: `30: a duration needs a unit; did you
 * mean 30d?`.
 */
export function durationProblem(value: unknown, likely: DurationUnit): string {
  const bare =
    typeof value === "number"
      ? String(value)
      : typeof value === "string"
        ? /^\s*(\d+(?:\.\d+)?)\s*$/.exec(value)?.[1]
        : undefined;
  if (bare !== undefined) return `a duration needs a unit; did you mean ${bare}${likely}?`;
  return `${JSON.stringify(value)} is not a duration; write a number and its unit: 500ms, 30s, 10m, 2h or 30d`;
}
