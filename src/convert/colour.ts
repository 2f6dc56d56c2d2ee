// Colour conversion of decoded HEIC pixels between two "matrix/TRC" ICC profiles (Display P3 -> sRGB, as
// iPhones tag their photos), done by the native binding with tables made here: per channel a tone curve
// to linear light, one 3x3 matrix, and the destination's curve back. That is all an ICC transform between
// two such profiles is (relative colorimetric; lcms, which libvips uses, does the same sums in its own
// precision), and it costs a table lookup and a few multiplications a pixel instead of a general transform.

/** A matrix/TRC ICC profile: its colorants (D50 XYZ of R, G, B) and the curves from value to linear light. */
export interface MatrixShaper {
  /** row-major 3x3: columns are the R, G and B colorants, rows X, Y, Z */
  toXyz: number[];
  curves: [Curve, Curve, Curve];
}

type Curve = (x: number) => number;

/** Floats in a colour table: 3 x 256 linearising, a 3x3 matrix, 65536 encoding (native/heif.c). */
export const COLOUR_FLOATS = 3 * 256 + 9 + 65536;

/**
 * The matrix/TRC model of an RGB ICC profile, or undefined when it has none or also carries lookup tables
 * (A2B0/A2B1/A2B2: an ICC transform would use those instead) or anything here cannot read.
 */
export function matrixShaper(icc: Buffer): MatrixShaper | undefined {
  if (icc.length < 132 || icc.toString("latin1", 16, 20) !== "RGB " || icc.toString("latin1", 20, 24) !== "XYZ ")
    return undefined;
  const tags = new Map<string, Buffer>();
  const count = icc.readUInt32BE(128);
  if (132 + count * 12 > icc.length) return undefined;
  for (let i = 0; i < count; i++) {
    const at = 132 + i * 12;
    const offset = icc.readUInt32BE(at + 4);
    const size = icc.readUInt32BE(at + 8);
    if (offset + size > icc.length || size < 8) return undefined;
    tags.set(icc.toString("latin1", at, at + 4), icc.subarray(offset, offset + size));
  }
  if (["A2B0", "A2B1", "A2B2"].some((t) => tags.has(t))) return undefined;
  const xyz = ["rXYZ", "gXYZ", "bXYZ"].map((t) => readXyz(tags.get(t)));
  const curves = ["rTRC", "gTRC", "bTRC"].map((t) => readCurve(tags.get(t)));
  if (xyz.some((c) => !c) || curves.some((c) => !c)) return undefined;
  const [r, g, b] = xyz as number[][];
  return {
    toXyz: [r![0]!, g![0]!, b![0]!, r![1]!, g![1]!, b![1]!, r![2]!, g![2]!, b![2]!],
    curves: curves as [Curve, Curve, Curve],
  };
}

function s15f16(b: Buffer, at: number): number {
  return b.readInt32BE(at) / 65536;
}

function readXyz(tag: Buffer | undefined): number[] | undefined {
  if (!tag || tag.length < 20 || tag.toString("latin1", 0, 4) !== "XYZ ") return undefined;
  return [s15f16(tag, 8), s15f16(tag, 12), s15f16(tag, 16)];
}

/** ICC `curv` (identity, a gamma, or a table) and `para` (the five parametric functions) tone curves. */
function readCurve(tag: Buffer | undefined): Curve | undefined {
  if (!tag || tag.length < 12) return undefined;
  const type = tag.toString("latin1", 0, 4);
  if (type === "curv") {
    const n = tag.readUInt32BE(8);
    if (tag.length < 12 + 2 * n) return undefined;
    if (n === 0) return (x) => x;
    if (n === 1) {
      const gamma = tag.readUInt16BE(12) / 256;
      return (x) => x ** gamma;
    }
    const table = Array.from({ length: n }, (_, i) => tag.readUInt16BE(12 + 2 * i) / 65535);
    return (x) => {
      const at = Math.min(Math.max(x, 0), 1) * (n - 1);
      const i = Math.min(Math.floor(at), n - 2);
      return table[i]! + (table[i + 1]! - table[i]!) * (at - i);
    };
  }
  if (type === "para") {
    const kind = tag.readUInt16BE(8);
    const needs = [1, 3, 4, 5, 7][kind];
    if (needs === undefined || tag.length < 12 + 4 * needs) return undefined;
    const [g, a, b, c, d, e, f] = Array.from({ length: 7 }, (_, i) => (i < needs ? s15f16(tag, 12 + 4 * i) : 0)) as number[];
    const pow = (v: number) => (v > 0 ? v ** g! : 0);
    switch (kind) {
      case 0:
        return (x) => pow(x);
      case 1:
        return (x) => (x >= -b! / a! ? pow(a! * x + b!) : 0);
      case 2:
        return (x) => (x >= -b! / a! ? pow(a! * x + b!) + c! : c!);
      case 3:
        return (x) => (x >= d! ? pow(a! * x + b!) : c! * x);
      default:
        return (x) => (x >= d! ? pow(a! * x + b!) + e! : c! * x + f!);
    }
  }
  return undefined;
}

/** The table native/heif.c converts with: `from`'s values to `to`'s, through D50 XYZ in linear light. */
export function colourTable(from: MatrixShaper, to: MatrixShaper): Float32Array {
  const table = new Float32Array(COLOUR_FLOATS);
  for (let c = 0; c < 3; c++) for (let v = 0; v < 256; v++) table[c * 256 + v] = from.curves[c]!(v / 255);
  table.set(multiply(invert(to.toXyz), from.toXyz), 768);
  // encoding: the 8-bit value whose decoded light is nearest in the encoded scale, i.e. the destination's
  // curve inverted and rounded, found through the light at each half step
  // (one encoding table: the destination, sRGB, has one curve for all three channels)
  const enc = 777;
  let k = 0;
  let next = to.curves[0]!((k + 0.5) / 255);
  for (let i = 0; i < 65536; i++) {
    const light = i / 65535;
    while (k < 255 && light >= next) next = to.curves[0]!((++k + 0.5) / 255);
    table[enc + i] = k;
  }
  return table;
}

function multiply(a: number[], b: number[]): number[] {
  const out: number[] = [];
  for (let r = 0; r < 3; r++)
    for (let c = 0; c < 3; c++) out.push(a[r * 3]! * b[c]! + a[r * 3 + 1]! * b[3 + c]! + a[r * 3 + 2]! * b[6 + c]!);
  return out;
}

function invert(m: number[]): number[] {
  const [a, b, c, d, e, f, g, h, i] = m as [number, number, number, number, number, number, number, number, number];
  const A = e * i - f * h;
  const B = -(d * i - f * g);
  const C = d * h - e * g;
  const det = a * A + b * B + c * C;
  return [A, -(b * i - c * h), b * f - c * e, B, a * i - c * g, -(a * f - c * d), C, -(a * h - b * g), a * e - b * d].map(
    (v) => v / det,
  );
}

const encodings = new WeakMap<Float32Array, Uint8Array>();

/**
 * `from` (8-bit RGB) into `to` with its colours converted by a colour table: the native binding's sums
 * (native/heif.c), for the wasm decoder's pixels. (Fixed-point sums of looked-up products were measured
 * no faster here.)
 */
export function convertColours(from: Uint8Array, to: Uint8Array, table: Float32Array): void {
  let encode = encodings.get(table);
  if (!encode) {
    encode = Uint8Array.from(table.subarray(777));
    encodings.set(table, encode);
  }
  const [m0, m1, m2, m3, m4, m5, m6, m7, m8] = table.subarray(768, 777) as unknown as number[];
  for (let p = 0; p < from.length; p += 3) {
    const r = table[from[p]!]!;
    const g = table[256 + from[p + 1]!]!;
    const b = table[512 + from[p + 2]!]!;
    const x = m0! * r + m1! * g + m2! * b;
    const y = m3! * r + m4! * g + m5! * b;
    const z = m6! * r + m7! * g + m8! * b;
    to[p] = encode[(Math.min(Math.max(x, 0), 1) * 65535 + 0.5) | 0]!;
    to[p + 1] = encode[(Math.min(Math.max(y, 0), 1) * 65535 + 0.5) | 0]!;
    to[p + 2] = encode[(Math.min(Math.max(z, 0), 1) * 65535 + 0.5) | 0]!;
  }
}
