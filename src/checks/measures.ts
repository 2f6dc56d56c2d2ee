// The measures behind the photo checks (SPEC §15), taken from the photo's upright greyscale thumbnail
// raster (long edge <= 256 px). Pure and fast: it runs on every photo packed.
import type { PictureMeasures } from "./pictures.js";

/** PictureMeasures, and whether the picture holds too little structure for its hash to identify it. */
export interface MeasuredPicture extends PictureMeasures {
  /** nearly uniform (a black frame, a grey wall): its hash is noise, so reuse and duplicate skip it */
  flat: boolean;
}

/** The side of the area-averaged square the hash is computed from. */
const HASH_GRID = 32;

/** Below this RMS of the hash's 64 coefficients (grey levels), a picture is flat. */
export const FLAT_MAX_STRUCTURE = 1.5;

export function measurePicture(gray: Uint8Array, width: number, height: number): MeasuredPicture {
  if (width < 1 || height < 1 || gray.length < width * height) throw new RangeError("measurePicture: raster too small");
  const grid = areaAverage(gray, width, height, HASH_GRID);
  const { hash, structure } = dctHash(grid);
  return {
    hash,
    sharpness: sharpness(gray, width, height),
    exposure: exposure(gray, width * height),
    flat: structure < FLAT_MAX_STRUCTURE,
  };
}

/** The number of bits in which two hashes differ. */
export function hashDistance(a: bigint, b: bigint): number {
  let x = (a ^ b) & 0xffffffffffffffffn;
  let n = 0;
  while (x) {
    x &= x - 1n;
    n++;
  }
  return n;
}

/** The raster averaged over a size x size grid of equal areas (fractional pixels weighted exactly). */
function areaAverage(gray: Uint8Array, width: number, height: number, size: number): Float64Array {
  // integral image: at[(y)*(w+1)+x] = sum of pixels above and left of (x, y)
  const w1 = width + 1;
  const integral = new Float64Array(w1 * (height + 1));
  for (let y = 0; y < height; y++) {
    let row = 0;
    for (let x = 0; x < width; x++) {
      row += gray[y * width + x]!;
      integral[(y + 1) * w1 + x + 1] = integral[y * w1 + x + 1]! + row;
    }
  }
  // the integral of a piecewise-constant raster is bilinear between integer points: exact at fractions
  const at = (x: number, y: number): number => {
    const x0 = Math.min(Math.floor(x), width - 1);
    const y0 = Math.min(Math.floor(y), height - 1);
    const fx = x - x0;
    const fy = y - y0;
    const a = integral[y0 * w1 + x0]!;
    const b = integral[y0 * w1 + x0 + 1]!;
    const c = integral[(y0 + 1) * w1 + x0]!;
    const d = integral[(y0 + 1) * w1 + x0 + 1]!;
    return a + (b - a) * fx + (c - a) * fy + (d - b - c + a) * fx * fy;
  };
  const out = new Float64Array(size * size);
  const sx = width / size;
  const sy = height / size;
  const cell = sx * sy;
  for (let j = 0; j < size; j++) {
    for (let i = 0; i < size; i++) {
      const x0 = i * sx;
      const x1 = (i + 1) * sx;
      const y0 = j * sy;
      const y1 = (j + 1) * sy;
      out[j * size + i] = (at(x1, y1) - at(x0, y1) - at(x1, y0) + at(x0, y0)) / cell;
    }
  }
  return out;
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
 * pHash: the grid's low DCT frequencies, one bit each for above their median. `structure` is their RMS
 * (normalised so it reads in grey levels): near 0, the bits are decided by noise.
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
  // an orthonormal DCT would scale each coefficient by 2/n
  return { hash, structure: (Math.sqrt(energy / 64) * 2) / n };
}

/**
 * Fine detail relative to the detail one octave coarser: the RMS Laplacian of the raster over the RMS
 * Laplacian of its 2x area-averaged half. Natural scenes hold about as much detail in each octave, so the
 * ratio hardly depends on the scene or its contrast; a blur empties the finest octave first and lowers it.
 */
function sharpness(gray: Uint8Array, width: number, height: number): number {
  const hw = width >> 1;
  const hh = height >> 1;
  if (hw < 3 || hh < 3) return 0;
  const half = new Float32Array(hw * hh);
  for (let y = 0; y < hh; y++)
    for (let x = 0; x < hw; x++) {
      const i = 2 * y * width + 2 * x;
      half[y * hw + x] = (gray[i]! + gray[i + 1]! + gray[i + width]! + gray[i + width + 1]!) / 4;
    }
  const fine = laplacianEnergy(gray, width, height);
  const coarse = laplacianEnergy(half, hw, hh);
  // (8-bit rounding alone gives a fine energy of about 20/12: a floor, so that a flat frame is not "sharp")
  return Math.sqrt(Math.max(0, fine - QUANTISATION_ENERGY) / (coarse + QUANTISATION_ENERGY));
}

const QUANTISATION_ENERGY = 20 / 12;

/** The mean squared 4-neighbour Laplacian over the raster's inside. */
function laplacianEnergy(pixels: Uint8Array | Float32Array, width: number, height: number): number {
  let sum = 0;
  for (let y = 1; y < height - 1; y++) {
    const row = y * width;
    for (let x = 1; x < width - 1; x++) {
      const i = row + x;
      const l = pixels[i - 1]! + pixels[i + 1]! + pixels[i - width]! + pixels[i + width]! - 4 * pixels[i]!;
      sum += l * l;
    }
  }
  return sum / ((width - 2) * (height - 2));
}

function exposure(gray: Uint8Array, pixels: number): PictureMeasures["exposure"] {
  let sum = 0;
  let dark = 0;
  let bright = 0;
  for (let i = 0; i < pixels; i++) {
    const v = gray[i]!;
    sum += v;
    if (v <= 16) dark++;
    else if (v >= 240) bright++;
  }
  return { mean: sum / pixels, dark: dark / pixels, bright: bright / pixels };
}
