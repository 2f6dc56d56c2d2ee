#!/usr/bin/env node
// The floor of a default pack (issue 25): what the same machine needs at least for the work wopack does by
// default on photos copied as is: `zip -0 -r` of the folder, and at the same time one scaled decode of every
// JPEG (the native binding's thumbnail(), the pixel check's own call, `cores` at a time). No checks of ends,
// no reports, no read-back: wopack's time over this is its overhead.
//   node bench/floor.mjs <staging> <out.zip>
import { spawn } from "node:child_process";
import { readdirSync } from "node:fs";
import { createRequire } from "node:module";
import { availableParallelism } from "node:os";
import path from "node:path";

const [dir, zipOut] = process.argv.slice(2);
const binding = createRequire(import.meta.url)("../native/build/Release/wopack_heif.node");
const files = readdirSync(dir, { recursive: true })
  .filter((f) => /\.jpe?g$/i.test(f))
  .map((f) => path.join(dir, f));
const zip = new Promise((resolve, reject) => {
  const child = spawn("zip", ["-0", "-r", "-q", path.resolve(zipOut), "."], { cwd: dir, stdio: "inherit" });
  child.on("error", reject);
  child.on("exit", (code) => (code === 0 ? resolve() : reject(new Error(`zip exited ${code}`))));
});
let next = 0;
const decode = async () => {
  while (next < files.length) await binding.thumbnail(files[next++], 256, 60, 1e9);
};
await Promise.all([zip, ...Array.from({ length: availableParallelism() }, decode)]);
