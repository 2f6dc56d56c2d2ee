// `npm ci` runs this (the package's install script): builds native/ (a small binding to the system's
// libheif and libjpeg) when their headers are installed (Debian: apt-get install libheif-dev libjpeg-dev). Without them,
// or if the build fails, wopack decodes HEIC with libheif compiled to wasm: same results, ~1.6x slower.
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, rmSync } from "node:fs";
import { fileURLToPath } from "node:url";

const native = fileURLToPath(new URL("../native/", import.meta.url));
const say = (line) => console.log(`wopack: ${line}`);
const wasmInstead = (why) => {
  say(`${why}:`);
  say("HEIC will be decoded by libheif compiled to wasm, about 1.6x slower");
  process.exit(0);
};

if (process.env.WOPACK_SKIP_NATIVE === "1") {
  rmSync(`${native}build`, { recursive: true, force: true });
  wasmInstead("WOPACK_SKIP_NATIVE=1");
}
try {
  execFileSync("pkg-config", ["--exists", "libheif >= 1.13"], { stdio: "ignore" });
  execFileSync("pkg-config", ["--exists", "libjpeg"], { stdio: "ignore" });
} catch {
  wasmInstead(
    "libheif's or libjpeg's headers not found (apt-get install libheif-dev libjpeg-dev pkg-config, then npm run install)",
  );
}
const gyp = process.env.npm_config_node_gyp;
const [cmd, args] = gyp && existsSync(gyp) ? [process.execPath, [gyp]] : ["node-gyp", []];
const run = spawnSync(cmd, [...args, "rebuild"], { cwd: native, encoding: "utf8" });
if (run.status === 0) {
  say("built the native HEIC decoder against the system's libheif");
} else {
  process.stdout.write(`${run.stdout ?? ""}${run.stderr ?? ""}`.split("\n").slice(-15).join("\n"));
  rmSync(`${native}build`, { recursive: true, force: true });
  wasmInstead(`building the native HEIC decoder failed (${run.error?.message ?? `exit ${run.status}`})`);
}
