import { readdirSync, readFileSync } from "node:fs";
const { checkPixels } = await import("/work/wt/checkwire/dist/convert/pixels.js");
const { measurePicture, hashDistance } = await import("/work/wt/measures/dist/checks/measures.js");
const files = ["/work/corpus/mei", "/work/corpus/cartridge", "/work/corpus/exif-py"].flatMap((d) => readdirSync(d).map((f) => d + "/" + f)).filter((_, i) => i % 5 === 0);
const rows = [];
for (const f of files) {
  const buf = readFileSync(f);
  delete process.env.WOPACK_PIXEL_DECODER;
  const a = await checkPixels("x", buf).catch(() => undefined);
  process.env.WOPACK_PIXEL_DECODER = "sharp";
  const b = await checkPixels("x", buf).catch(() => undefined);
  const ga = a?.thumb?.gray, gb = b?.thumb?.gray;
  if (!ga || !gb) continue;
  const ma = measurePicture(ga.data, ga.width, ga.height), mb = measurePicture(gb.data, gb.width, gb.height);
  rows.push([hashDistance(ma.hash, mb.hash), ma.sharpness, mb.sharpness, ga.width + "x" + ga.height, gb.width + "x" + gb.height, f.split("/").pop()]);
}
const q = (xs, p) => [...xs].sort((x, y) => x - y)[Math.floor(p * (xs.length - 1))];
console.log("photos", rows.length, "native vs libvips hash distance p50", q(rows.map((r) => r[0]), 0.5), "p95", q(rows.map((r) => r[0]), 0.95), "max", Math.max(...rows.map((r) => r[0])));
const dif = rows.map((r) => Math.abs(r[1] - r[2]));
console.log("sharpness |native - libvips| p50", q(dif, 0.5).toFixed(3), "p95", q(dif, 0.95).toFixed(3), "max", Math.max(...dif).toFixed(3));
console.log("size mismatches", rows.filter((r) => r[3] !== r[4]).length);
for (const r of rows.filter((r) => r[0] > 4 || Math.abs(r[1] - r[2]) > 0.1).slice(0, 8)) console.log(r.map((x) => (typeof x === "number" ? +x.toFixed(2) : x)).join(" "));
