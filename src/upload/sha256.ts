// The running SHA-256 of the bytes an upload sends. With the native binding (native/sha256.c: the OpenSSL
// inside Node, as node:crypto uses), each update runs on libuv's pool: a chunk is hashed while the main
// thread feeds it to the socket, and its CRC-32C is kept in the same pass. Without it, node:crypto on the
// main thread (same SHA-256, same speed per byte, but the send waits while it hashes; no CRC-32C).
import { createHash, type Hash } from "node:crypto";
import { createRequire } from "node:module";

export interface RunningHash {
  /** A second hash that goes on from here; this one is left as it is. Not while an update is pending. */
  copy(): RunningHash;
  /** Adds `data`; neither this hash nor `data` may be used or changed until it resolves. */
  update(data: Uint8Array): Promise<RunningHash>;
  /** The hex digest of what was added so far (the hash can go on). */
  hex(): string;
  /** The CRC-32C of what was added so far, when it is kept (with the native binding). */
  crc32c(): number | undefined;
}

interface ShaBinding {
  stateBytes(): number;
  init(state: Uint8Array): void;
  update(state: Uint8Array, data: Uint8Array): Promise<void>;
  digest(state: Uint8Array): Uint8Array;
  crc32c(state: Uint8Array): number;
  hugePages(buffer: Uint8Array): boolean;
}

let binding: ShaBinding | null | undefined;
function native(): ShaBinding | null {
  if (binding === undefined) {
    try {
      binding = createRequire(import.meta.url)("../../native/build/Release/wopack_sha.node") as ShaBinding;
    } catch {
      binding = null;
    }
  }
  return binding;
}

class NativeHash implements RunningHash {
  constructor(
    private readonly b: ShaBinding,
    private readonly state: Uint8Array,
  ) {}
  copy(): RunningHash {
    return new NativeHash(this.b, this.state.slice());
  }
  async update(data: Uint8Array): Promise<RunningHash> {
    if (data.length) await this.b.update(this.state, data);
    return this;
  }
  hex(): string {
    return Buffer.from(this.b.digest(this.state)).toString("hex");
  }
  crc32c(): number {
    return this.b.crc32c(this.state);
  }
}

class NodeHash implements RunningHash {
  constructor(private readonly h: Hash) {}
  copy(): RunningHash {
    return new NodeHash(this.h.copy());
  }
  async update(data: Uint8Array): Promise<RunningHash> {
    this.h.update(data);
    return this;
  }
  hex(): string {
    return this.h.copy().digest("hex");
  }
  crc32c(): undefined {
    return undefined;
  }
}

/** An empty running SHA-256: on libuv's pool when the binding is built. */
export function runningSha256(choice: "native" | "node" | undefined = undefined): RunningHash {
  const b = choice === "node" ? null : native();
  if (choice === "native" && !b) throw new Error("the native SHA-256 is not available here");
  if (!b) return new NodeHash(createHash("sha256"));
  const state = new Uint8Array(b.stateBytes());
  b.init(state);
  return new NativeHash(b, state);
}

/**
 * A buffer of `size` bytes, not yet touched, backed by huge pages where the binding and the kernel allow
 * (perf on this project's 2-core VM: the first read into two 16 MiB chunk buffers took 8,192 page faults,
 * some 6 % of an upload's CPU).
 */
export function chunkBuffer(size: number): Buffer {
  const buffer = Buffer.allocUnsafeSlow(size);
  native()?.hugePages(buffer);
  return buffer;
}
