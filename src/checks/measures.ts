// The measures behind the photo checks (SPEC §15), taken from the photo's upright greyscale thumbnail
// raster (long edge <= 256 px). Pure and fast: it runs on every photo packed.
import type { PictureMeasures } from "./pictures.js";

/** PictureMeasures, whether the picture holds too little structure for its hash to identify it, and its highlights. */
export interface MeasuredPicture extends PictureMeasures {
  /** nearly uniform (a black frame, a grey wall): its hash is noise, so reuse and duplicate skip it */
  flat: boolean;
  exposure: PictureMeasures["exposure"] & {
    /** the luma (0-255) that 99 % of the pixels are at or below: low when even the brightest parts are dark */
    highlight: number;
  };
}

/** The side of the area-averaged square the hash is computed from. */
const HASH_GRID = 32;

/**
 * Below this, a picture is flat: the standard deviation (grey levels) of the part of the picture the
 * hash's 64 frequencies hold. Of 351 real pictures, the blank frames and pages measured 4.5 at most (a
 * near-uniform strip, 4.2, moved 22 bits on re-encoding); the least structured photo, 9.3.
 */
export const FLAT_MAX_STRUCTURE = 6;

export function measurePicture(gray: Uint8Array, width: number, height: number): MeasuredPicture {
  if (width < 1 || height < 1 || gray.length < width * height) throw new RangeError("measurePicture: raster too small");
  const { grid, exposure } = areaAverage(gray, width, height, HASH_GRID);
  const { hash, structure } = dctHash(grid);
  return { hash, sharpness: sharpness(gray, width, height), exposure, flat: structure < FLAT_MAX_STRUCTURE };
}

/** The number of bits in which two 64-bit hashes differ. */
export function hashDistance(a: bigint, b: bigint): number {
  const x = a ^ b;
  return bitCount(Number(x & 0xffffffffn)) + bitCount(Number((x >> 32n) & 0xffffffffn));
}

function bitCount(v: number): number {
  v -= (v >>> 1) & 0x55555555;
  v = (v & 0x33333333) + ((v >>> 2) & 0x33333333);
  return Math.imul((v + (v >>> 4)) & 0x0f0f0f0f, 0x01010101) >>> 24;
}

/**
 * The raster averaged over a size x size grid of equal areas (fractional pixels weighted exactly), and
 * its exposure, from one pass over the pixels.
 */
function areaAverage(gray: Uint8Array, width: number, height: number, size: number) {
  const n = size + 1;
  // a sum up to a fractional place of a piecewise-constant run is linear between integer places: exact
  const sample = (prefix: Float64Array, at: number, last: number, stride: number, offset: number) => {
    const i = Math.min(Math.floor(at), last - 1);
    const a = prefix[i * stride + offset]!;
    return a + (prefix[(i + 1) * stride + offset]! - a) * (at - i);
  };
  // columns[y * n + i]: the sum of the pixels of rows < y left of the grid's i-th vertical line
  const columns = new Float64Array((height + 1) * n);
  const row = new Float64Array(width + 1);
  const histogram = new Uint32Array(256);
  for (let y = 0; y < height; y++) {
    const from = y * width;
    let sum = 0;
    for (let x = 0; x < width; x++) {
      const v = gray[from + x]!;
      histogram[v]!++;
      sum += v;
      row[x + 1] = sum;
    }
    for (let i = 0; i < n; i++) columns[(y + 1) * n + i] = columns[y * n + i]! + sample(row, (i * width) / size, width, 1, 0);
  }
  const corners = new Float64Array(n * n);
  for (let j = 0; j < n; j++) for (let i = 0; i < n; i++) corners[j * n + i] = sample(columns, (j * height) / size, height, n, i);
  const grid = new Float64Array(size * size);
  const cell = (width * height) / (size * size);
  for (let j = 0; j < size; j++)
    for (let i = 0; i < size; i++) {
      const k = j * n + i;
      grid[j * size + i] = (corners[k + n + 1]! - corners[k + n]! - corners[k + 1]! + corners[k]!) / cell;
    }
  let dark = 0;
  let bright = 0;
  let total = 0;
  for (let v = 0; v < 256; v++) total += v * histogram[v]!;
  for (let v = 0; v <= 16; v++) dark += histogram[v]!;
  for (let v = 240; v < 256; v++) bright += histogram[v]!;
  const pixels = width * height;
  let highlight = 255;
  for (let above = histogram[255]!; above <= pixels / 100; above += histogram[highlight]!) highlight--;
  return { grid, exposure: { mean: total / pixels, dark: dark / pixels, bright: bright / pixels, highlight } };
}

/** The frequencies (u, v) the hash keeps: the 64 lowest after DC, by u + v then v. */
const HASH_FREQUENCIES: readonly [number, number][] = (() => {
  const all: [number, number][] = [];
  for (let u = 0; u < 12; u++) for (let v = 0; v < 12; v++) if (u + v > 0) all.push([u, v]);
  all.sort((a, b) => a[0] + a[1] - (b[0] + b[1]) || a[1] - b[1]);
  return all.slice(0, 64);
})();

const MAX_FREQUENCY = Math.max(...HASH_FREQUENCIES.flat()) + 1;

/** cos((2x + 1) u pi / 2N) for u < MAX_FREQUENCY, x < N */
const COSINES: Float64Array = (() => {
  const n = HASH_GRID;
  const table = new Float64Array(MAX_FREQUENCY * n);
  for (let u = 0; u < MAX_FREQUENCY; u++)
    for (let x = 0; x < n; x++) table[u * n + x] = Math.cos(((2 * x + 1) * u * Math.PI) / (2 * n));
  return table;
})();

/**
 * pHash: the grid's low DCT frequencies, one bit each for above their median. `structure` is the
 * standard deviation (grey levels) of what they hold: near 0, the bits are decided by noise.
 */
function dctHash(grid: Float64Array): { hash: bigint; structure: number } {
  const n = HASH_GRID;
  const k = MAX_FREQUENCY;
  // rows first: rowDct[y * k + u]
  const rowDct = new Float64Array(n * k);
  for (let y = 0; y < n; y++)
    for (let u = 0; u < k; u++) {
      let s = 0;
      for (let x = 0; x < n; x++) s += grid[y * n + x]! * COSINES[u * n + x]!;
      rowDct[y * k + u] = s;
    }
  const coeffs = HASH_FREQUENCIES.map(([u, v]) => {
    let s = 0;
    for (let y = 0; y < n; y++) s += rowDct[y * k + u]! * COSINES[v * n + y]!;
    return s;
  });
  const sorted = [...coeffs].sort((a, b) => a - b);
  const median = (sorted[31]! + sorted[32]!) / 2;
  let hash = 0n;
  let energy = 0;
  for (let i = 0; i < 64; i++) {
    if (coeffs[i]! > median) hash |= 1n << BigInt(i);
    energy += coeffs[i]! ** 2;
  }
  // (an orthonormal DCT scales these coefficients by 2/n; Parseval then spreads them over n * n pixels)
  return { hash, structure: (Math.sqrt(energy) * 2) / (n * n) };
}

/**
 * Fine detail relative to the detail one octave coarser, noise taken out: the RMS Laplacian of the raster
 * over the RMS Laplacian of its 2 x 2 average, each less what the picture's noise alone would give.
 * Natural scenes hold about as much detail in each octave, so the ratio hardly depends on the scene or
 * its contrast; a blur empties the finest octave first and lowers it. The noise (estimated from the
 * median response to a mask that ignores smooth shading, Immerkaer's) would otherwise pass for detail.
 */
function sharpness(gray: Uint8Array, width: number, height: number): number {
  const hw = width >> 1;
  const hh = height >> 1;
  if (hw < 3 || hh < 3) return 0;
  const half = new Uint16Array(hw * hh);
  for (let y = 0; y < hh; y++) {
    const top = 2 * y * width;
    const out = y * hw;
    for (let x = 0; x < hw; x++) {
      const i = top + 2 * x;
      half[out + x] = gray[i]! + gray[i + 1]! + gray[i + width]! + gray[i + width + 1]!;
    }
  }
  // (over every other pixel, in a checkerboard: half the work, the same means and median within noise)
  const responses = new Uint32Array(4081);
  let fine = 0;
  let samples = 0;
  for (let y = 1; y < height - 1; y++) {
    const row = y * width;
    for (let x = 1 + (y & 1); x < width - 1; x += 2, samples++) {
      const i = row + x;
      const c = gray[i]!;
      const edges = gray[i - 1]! + gray[i + 1]! + gray[i - width]! + gray[i + width]!;
      const corners = gray[i - width - 1]! + gray[i - width + 1]! + gray[i + width - 1]! + gray[i + width + 1]!;
      const laplacian = edges - 4 * c;
      fine += laplacian * laplacian;
      responses[Math.abs(corners - 2 * edges + 4 * c)]!++;
    }
  }
  fine /= samples;
  let median = 0;
  for (let seen = responses[0]!; seen < samples / 2; ) seen += responses[++median]!;
  // the mask's response to white noise of variance v has variance 36 v; 8-bit rounding adds 1/12
  const noise = (median / (0.6745 * 6)) ** 2 + 1 / 12;
  let coarse = 0;
  for (let y = 1; y < hh - 1; y++) {
    const row = y * hw;
    for (let x = 1; x < hw - 1; x++) {
      const i = row + x;
      const laplacian = half[i - 1]! + half[i + 1]! + half[i - hw]! + half[i + hw]! - 4 * half[i]!;
      coarse += laplacian * laplacian;
    }
  }
  coarse /= 16 * (hw - 2) * (hh - 2);
  // white noise of variance v gives a Laplacian energy of 20 v, and 20 v / 4 on the 2 x 2 average
  return Math.sqrt(Math.max(0, fine - 20 * noise) / (Math.max(coarse, 5 * noise) + 1));
}
