#!/usr/bin/env bash
# Regenerates the committed HEIC fixtures in test/fixtures. Needs heif-enc (libheif-examples), exiftool,
# python3 and the project's node_modules (sharp). Run from the repo root.
set -euo pipefail
out=test/fixtures
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
node test/fixtures/quadrants.mjs "$tmp/quad.png" 640 480
heif-enc -q 92 -p chroma=444 -o "$out/quad.heic" "$tmp/quad.png"
exiftool -q -overwrite_original "-DateTimeOriginal=2024:03:04 05:06:07" -Make=Apple "$out/quad.heic"
cp "$out/quad.heic" "$out/quad-exif6.heic"
exiftool -q -overwrite_original "-Orientation#=6" "$out/quad-exif6.heic"
# An iPhone-like HEIC: Display P3 pixels with the ICC profile in a colr box
node test/fixtures/quadrants.mjs "$tmp/quad-p3.png" 640 480 p3
heif-enc -q 92 -p chroma=444 -o "$out/quad-p3.heic" "$tmp/quad-p3.png"
# A grid HEIC, as iPhones write them: the picture as 2x2 separately coded tiles
for t in 0 1 2 3; do
  node --input-type=module -e "
    import sharp from 'sharp';
    const [left, top] = [[0, 0], [320, 0], [0, 240], [320, 240]][$t];
    await sharp('$tmp/quad.png').extract({ left, top, width: 320, height: 240 }).png().toFile('$tmp/tile$t.png');"
  heif-enc -q 92 -p chroma=444 -o "$tmp/tile$t.heic" "$tmp/tile$t.png"
done
python3 scripts/heic-make-grid.py "$out/quad-grid.heic" 2 2 "$tmp"/tile{0,1,2,3}.heic
# As an iPhone writes a photo: Display P3, a grid of 4:2:0 tiles that overhangs the picture (cropped)
node test/fixtures/quadrants.mjs "$tmp/quad-p3-big.png" 1000 700 p3
node --input-type=module -e "
  import sharp from 'sharp';
  const padded = await sharp('$tmp/quad-p3-big.png').extend({ right: 24, bottom: 68, extendWith: 'copy' }).keepIccProfile().png().toBuffer();
  for (let r = 0; r < 3; r++) for (let c = 0; c < 4; c++)
    await sharp(padded).extract({ left: c * 256, top: r * 256, width: 256, height: 256 }).keepIccProfile().png().toFile('$tmp/ptile' + (r * 4 + c) + '.png');"
for t in $(seq 0 11); do heif-enc -q 90 -o "$tmp/ptile$t.heic" "$tmp/ptile$t.png"; done
python3 scripts/heic-make-grid.py "$out/quad-iphone.heic" 4 3 --size 1000x700 $(for t in $(seq 0 11); do echo "$tmp/ptile$t.heic"; done)
# Tagged with nclx code points instead of an ICC profile: Display P3 (12, sRGB transfer), and a BT.2020
# PQ one (HDR) that wopack packs unconverted, with warnings
node --input-type=module -e "
  import sharp from 'sharp';
  const { data, info } = await sharp('$tmp/quad-p3.png').keepIccProfile().raw().toBuffer({ resolveWithObject: true });
  const raw = { raw: { width: info.width, height: info.height, channels: info.channels } };
  for (let t = 0; t < 4; t++) {
    const [left, top] = [[0, 0], [320, 0], [0, 240], [320, 240]][t];
    await sharp(data, raw).extract({ left, top, width: 320, height: 240 }).png().toFile('$tmp/n' + t + '.png');
  }"
for t in 0 1 2 3; do heif-enc -q 92 -p chroma=444 -o "$tmp/n$t.heic" "$tmp/n$t.png"; done
python3 scripts/heic-make-grid.py "$out/quad-nclx-p3.heic" 2 2 --nclx 12,13,6,1 "$tmp"/n{0,1,2,3}.heic
python3 scripts/heic-make-grid.py "$out/quad-nclx-hdr.heic" 2 2 --nclx 9,16,6,1 "$tmp"/n{0,1,2,3}.heic
# A 12 MP HEIC that takes a while to decode (smooth, so the file stays small): the slow-photo test
node --input-type=module -e "
  import sharp from 'sharp';
  const [w, h] = [4000, 3000];
  const raw = Buffer.alloc(w * h * 3);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) raw.set([(x * 255) / w, (y * 255) / h, 128], (y * w + x) * 3);
  await sharp(raw, { raw: { width: w, height: h, channels: 3 } }).png({ compressionLevel: 1 }).toFile('$tmp/slow.png');"
heif-enc -q 40 -o "$out/slow-12mp.heic" "$tmp/slow.png"
python3 scripts/heic-add-irot.py "$out/quad.heic" "$out/quad-irot90.heic" 1
# Odd width (decoders pad such rows) and an alpha plane (the right half transparent: packed as white)
node test/fixtures/quadrants.mjs "$tmp/quad-odd.png" 321 241
heif-enc -q 92 -p chroma=444 -o "$out/quad-odd.heic" "$tmp/quad-odd.png"
node --input-type=module -e "
  import { quadrants } from './test/fixtures/quadrants.mjs';
  const alpha = Buffer.alloc(640 * 480);
  for (let y = 0; y < 480; y++) alpha.fill(255, y * 640, y * 640 + 320);
  await quadrants(640, 480).joinChannel(alpha, { raw: { width: 640, height: 480, channels: 1 } }).png().toFile('$tmp/quad-alpha.png');"
heif-enc -q 92 -p chroma=444 -o "$out/quad-alpha.heic" "$tmp/quad-alpha.png"
ls -la "$out"
