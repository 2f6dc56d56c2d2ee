#!/usr/bin/env node
// libvips (sharp) and file reads share libuv's thread pool, 4 threads by default: give it one per core
// (plus room for reads) before anything uses it, so that conversions can run on every core.
import { availableParallelism } from "node:os";
import { setFlagsFromString } from "node:v8";

process.env.UV_THREADPOOL_SIZE ??= String(Math.max(4, availableParallelism() + 2));
// A run is seconds long and its JavaScript is glue around native decoders: V8's optimising compiler spent
// ~0.4 s of CPU in a pack of 1,000 small photos, on the cores the decodes need. It optimises a function
// after 8x V8's default budget of bytecode run (the hot loops of a long run still get there):
// docs/benchmarks-log.md, "Small photos: V8's optimising compiler and the scan's head reads".
setFlagsFromString("--interrupt-budget=540672");
await import("../dist/cli-bundle/main.js");
