#!/usr/bin/env node
// libvips (sharp) and file reads share libuv's thread pool, 4 threads by default: give it one per core
// (plus room for reads) before anything uses it, so that conversions can run on every core.
import { availableParallelism } from "node:os";

process.env.UV_THREADPOOL_SIZE ??= String(Math.max(4, availableParallelism() + 2));
await import("../dist/cli-bundle/main.js");
