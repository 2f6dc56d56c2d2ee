// glibc's allocator set for converting large pictures on many threads (native/malloc.c says why): called
// once, at the start of a pack, before libvips' and the decoders' threads exist. Without the binding (not
// built, or not glibc) nothing changes; MALLOC_ARENA_MAX in the environment then does part of it.
import { createRequire } from "node:module";

let tuned = false;

export function tuneAllocator(): void {
  if (tuned) return;
  tuned = true;
  if (process.env.WOPACK_MALLOC === "default") return;
  try {
    const b = createRequire(import.meta.url)("../../native/build/Release/wopack_malloc.node") as { tune(): boolean };
    b.tune();
  } catch {
    // not built: glibc's defaults
  }
}
