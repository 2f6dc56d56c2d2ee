// Generated photos for the photo checks' tests: distinct seeds are distinct pictures to the checks (as two
// real photos are), the same seed the same picture.
import sharp from "sharp";

/** A scene of random shapes (seeded): distinct seeds are distinct pictures to the checks, as real photos are. */
export function scene(seed: number): Promise<Buffer> {
  let x = (2463534242 + seed * 7919) >>> 0;
  const next = () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 2 ** 32;
  };
  const colour = () => `rgb(${Math.floor(next() * 256)},${Math.floor(next() * 256)},${Math.floor(next() * 256)})`;
  let shapes = "";
  for (let i = 0; i < 14; i++) {
    const [cx, cy, r] = [next() * 640, next() * 480, 20 + next() * 120];
    shapes +=
      i % 2
        ? `<circle cx="${cx}" cy="${cy}" r="${r}" fill="${colour()}"/>`
        : `<rect x="${cx - r}" y="${cy - r / 2}" width="${r * 2}" height="${r}" fill="${colour()}"/>`;
  }
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="640" height="480"><rect width="640" height="480" fill="${colour()}"/>${shapes}</svg>`;
  return sharp(Buffer.from(svg)).jpeg({ quality: 88 }).toBuffer();
}
