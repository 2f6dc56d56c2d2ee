// Sharding (--shard <i>/<n>): which worker packs which work order. The rule must give the same answer on
// every run, every machine and every Node version, so it is a SHA-256 of the id, not a runtime hash.
import { createHash } from "node:crypto";

/** This process packs the work orders whose id falls to `index` of `count` shards. */
export interface Shard {
  index: number;
  count: number;
}

/** "1/3" -> { index: 1, count: 3 }; undefined when it is not <i>/<n> with 0 <= i < n <= 1000. */
export function parseShard(text: string): Shard | undefined {
  const m = /^(\d{1,4})\/(\d{1,4})$/.exec(text.trim());
  if (!m) return undefined;
  const [index, count] = [Number(m[1]), Number(m[2])];
  return count >= 1 && count <= 1000 && index < count ? { index, count } : undefined;
}

/** The shard a work-order id falls to: the first 4 bytes of the SHA-256 of its UTF-8, modulo `count`. */
export function shardOf(id: string, count: number): number {
  return createHash("sha256").update(id, "utf8").digest().readUInt32BE(0) % count;
}

/** What archive names carry so that shards sharing an outbox never pick the same name: "s1of3". */
export function shardTag(shard: Shard): string {
  return `s${shard.index}of${shard.count}`;
}
