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

const DURATION_UNITS: Record<string, number> = { "": 1000, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** "30s" -> 30000, "10m" -> 600000, "250ms" -> 250, 5 -> 5000 (bare numbers are seconds). */
export function parseDuration(value: string | number): number | undefined {
  if (typeof value === "number") return Number.isFinite(value) && value >= 0 ? value * 1000 : undefined;
  const m = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|)\s*$/i.exec(value);
  const factor = m && DURATION_UNITS[m[2]!.toLowerCase()];
  return m && factor ? Math.round(Number(m[1]) * factor) : undefined;
}
