// The index of packed pictures in memory: every committed picture of this outbox (and of the sibling
// outboxes, for shards) plus this run's, looked up by multi-index hashing. The 64-bit hash is cut into four
// 16-bit chunks, each with a table of the pictures by that chunk's value; two hashes within distance r agree
// within r/4 bits on at least one chunk (pigeonhole), so a lookup reads only the buckets that near the query's
// chunks, and checks each picture found there against the whole hash. Each table keeps the hashes in its own
// order too (8 bytes a picture a table: 32 MB at 1,000,000), so that a bucket is read in one sweep rather
// than a cache miss a picture: 1.7x faster lookups (docs/photo-checks.md, "The index").

import { readLedger } from "../commit/ledger.js";
import { ioError, type Problem, problem } from "../core/errors.js";
import { type Columns, SHA_BYTES, shaPrefix, splitHash, unpackEntry } from "./pictureFormat.js";
import { journalPath, readOutbox, repairPictures, siblingOutboxes, snapshotPath } from "./pictureStore.js";
import type { IndexedPicture, PictureIndex, PictureMatch } from "./pictures.js";

const CHUNKS = 4;
const CHUNK_VALUES = 1 << 16;
/**
 * This run's pictures are compared one by one up to this many (a sweep of 4096 costs about what probing
 * 428 buckets does), then looked up by chunk like the rest.
 */
export const SCAN_ADDED = 4096;

/**
 * Every 16-bit mask in order of the bits it sets, then of value: those within radius r are the first
 * WITHIN[r]. (Placed by a count of each popcount, not sorted: this runs as every pack starts.)
 */
const { MASKS, WITHIN } = (() => {
  const before = new Uint32Array(18); // before[b + 1]: the masks of b bits or fewer
  for (let m = 0; m < CHUNK_VALUES; m++) before[popcount(m) + 1]!++;
  for (let b = 1; b < 18; b++) before[b]! += before[b - 1]!;
  const next = before.slice(0, 17);
  const masks = new Uint16Array(CHUNK_VALUES);
  for (let m = 0; m < CHUNK_VALUES; m++) masks[next[popcount(m)]!++] = m;
  return { MASKS: masks, WITHIN: Array.from({ length: 17 }, (_, r) => before[r + 1]!) };
})();

function popcount(x: number): number {
  x -= (x >>> 1) & 0x55555555;
  x = (x & 0x33333333) + ((x >>> 2) & 0x33333333);
  return (Math.imul((x + (x >>> 4)) & 0x0f0f0f0f, 0x01010101) >>> 24) & 0xff;
}

function shaKey(sha: Uint8Array): string {
  return Buffer.from(sha.buffer, sha.byteOffset, sha.byteLength).toString("latin1");
}

function chunkOf(hi: number, lo: number, c: number): number {
  return c === 0 ? lo & 0xffff : c === 1 ? lo >>> 16 : c === 2 ? hi & 0xffff : hi >>> 16;
}

/**
 * The radius to search each chunk within, for distance r: with r = 4a + b, the first b + 1 chunks within a
 * and the others within a - 1 (if every chunk were further, the whole would be more than r apart).
 */
function chunkRadius(r: number, c: number): number {
  const a = Math.floor(r / CHUNKS);
  return Math.min(16, c <= r % CHUNKS ? a : a - 1);
}

interface Part {
  columns: Columns;
  out: string;
  /** its first picture's number among all loaded */
  start: number;
}

interface Added extends IndexedPicture {
  hi: number;
  lo: number;
  sha?: Uint8Array | undefined;
}

/** What opening the index skipped, for the run to tell. */
export interface PictureIndexStats {
  /** bytes at the ends of journals that are not a whole record: appends torn by a crash, never committed */
  tornBytes: number;
  /** journal records that did not check between good ones, and snapshots that did not check */
  damaged: number;
  /** journal records of archives never committed (or of an earlier attempt at the same name) */
  ignored: number;
}

export interface OpenedPictureIndex extends PictureIndex {
  stats: PictureIndexStats;
  /** damage found (W_PICTURE_INDEX_DAMAGED): the pictures it held are not compared */
  problems: Problem[];
}

class Lookup implements OpenedPictureIndex {
  private readonly loaded: number;
  /** per chunk: where each value's pictures start in ids (CSR), and the pictures */
  private readonly starts: Uint32Array[] = [];
  private readonly ids: Uint32Array[] = [];
  /** per chunk: the hashes in the order of ids, so that a bucket's are read in one sweep */
  private readonly chi: Uint32Array[] = [];
  private readonly clo: Uint32Array[] = [];
  private readonly added: Added[] = [];
  /**
   * this run's pictures by chunk value, once there are more than SCAN_ADDED of them: until then a lookup
   * compares them one by one, which costs less than probing 428 buckets (and a pack of a few hundred photos
   * does not build four tables of 65,536 buckets)
   */
  private addedBuckets: (number[] | undefined)[][] | undefined;
  /** this run's hashes, in the order of added (a scan reads them in one sweep) */
  private addedHi = new Uint32Array(256);
  private addedLo = new Uint32Array(256);
  /** this run's pictures by their SHA-256 prefix, so that a sweep need not weigh each one's SHA-256 */
  private readonly addedBySha = new Map<string, number[]>();
  /**
   * the loaded pictures' archive times never go down from one picture to the next (the snapshot, then the
   * journal, of an outbox whose clock was not set back; shards' outboxes interleave): then the first loaded
   * picture found at distance 0, as exact as can be, is the match
   */
  private readonly ordered: boolean;

  constructor(
    private readonly parts: Part[],
    readonly stats: PictureIndexStats,
    readonly problems: Problem[],
  ) {
    const n = parts.reduce((s, p) => s + p.columns.n, 0);
    this.loaded = n;
    let last = Number.NEGATIVE_INFINITY;
    let ordered = true;
    for (const { columns: c } of parts) {
      for (const a of c.arch) {
        ordered &&= c.archAt[a]! >= last;
        last = c.archAt[a]!;
      }
    }
    this.ordered = ordered;
    const hi = parts.length === 1 ? parts[0]!.columns.hi : new Uint32Array(n);
    const lo = parts.length === 1 ? parts[0]!.columns.lo : new Uint32Array(n);
    if (parts.length !== 1) {
      for (const p of parts) {
        hi.set(p.columns.hi, p.start);
        lo.set(p.columns.lo, p.start);
      }
    }
    for (let c = 0; c < (n ? CHUNKS : 0); c++) {
      const starts = new Uint32Array(CHUNK_VALUES + 1);
      for (let i = 0; i < n; i++) starts[chunkOf(hi[i]!, lo[i]!, c) + 1]!++;
      for (let v = 0; v < CHUNK_VALUES; v++) starts[v + 1]! += starts[v]!;
      const fill = starts.slice(0, CHUNK_VALUES);
      const ids = new Uint32Array(n);
      const chi = new Uint32Array(n);
      const clo = new Uint32Array(n);
      for (let i = 0; i < n; i++) {
        const k = fill[chunkOf(hi[i]!, lo[i]!, c)]!++;
        ids[k] = i;
        chi[k] = hi[i]!;
        clo[k] = lo[i]!;
      }
      this.starts.push(starts);
      this.ids.push(ids);
      this.chi.push(chi);
      this.clo.push(clo);
    }
  }

  /** work orders of this run left out of every archive: their added pictures are not found */
  private readonly dropped = new Set<string>();

  get size(): number {
    return this.loaded + this.added.length;
  }

  add(pictures: readonly IndexedPicture[]): void {
    for (const p of pictures) {
      const { hi, lo } = splitHash(p.hash);
      const sha = shaPrefix(p.sha256);
      const j = this.added.push({ ...p, hi, lo, sha }) - 1;
      if (sha) {
        const key = shaKey(sha);
        const same = this.addedBySha.get(key);
        if (same) same.push(j);
        else this.addedBySha.set(key, [j]);
      }
      if (j === this.addedHi.length) {
        for (const half of ["addedHi", "addedLo"] as const) {
          const grown = new Uint32Array(2 * j);
          grown.set(this[half]);
          this[half] = grown;
        }
      }
      this.addedHi[j] = hi;
      this.addedLo[j] = lo;
      if (this.addedBuckets) this.bucket(j);
      else if (this.added.length > SCAN_ADDED) {
        this.addedBuckets = Array.from({ length: CHUNKS }, () => new Array<number[] | undefined>(CHUNK_VALUES).fill(undefined));
        for (let k = 0; k <= j; k++) this.bucket(k);
      }
    }
  }

  drop(workOrder: string): void {
    this.dropped.add(workOrder);
  }

  private bucket(j: number): void {
    const { hi, lo } = this.added[j]!;
    for (let c = 0; c < CHUNKS; c++) {
      const buckets = this.addedBuckets![c]!;
      const v = chunkOf(hi, lo, c);
      const bucket = buckets[v];
      if (bucket) bucket.push(j);
      else buckets[v] = [j];
    }
  }

  find(hash: bigint, sha256: string | undefined, maxDistance: number, workOrder: string): PictureMatch | undefined {
    const r = Math.max(0, Math.min(64, Math.floor(maxDistance)));
    const { hi: qhi, lo: qlo } = splitHash(hash);
    const qsha = shaPrefix(sha256);
    // the best so far: (exact first, then the smallest distance, then the earliest)
    let best = -1;
    let bestExact = false;
    let bestDistance = 65;
    let bestAt = Number.POSITIVE_INFINITY;
    const consider = (g: number, distance: number) => {
      if (g >= this.loaded && this.dropped.has(this.added[g - this.loaded]!.workOrder)) return;
      const exact = qsha !== undefined && this.shaEquals(g, qsha);
      if (best >= 0) {
        if (bestExact !== exact) {
          if (bestExact) return;
        } else if (distance !== bestDistance) {
          if (distance > bestDistance) return;
        } else {
          const at = this.at(g);
          if (at > bestAt || (at === bestAt && g > best)) return;
        }
      }
      if (this.workOrderOf(g) === workOrder) return;
      [best, bestExact, bestDistance, bestAt] = [g, exact, distance, this.at(g)];
    };
    if (!this.addedBuckets) {
      const [hi, lo, n] = [this.addedHi, this.addedLo, this.added.length];
      // this run's exact matches first; then, in the sweep, a later picture at no smaller a distance cannot
      // win: a night of one picture would otherwise weigh every earlier one, each time (quadratic)
      for (const j of qsha ? (this.addedBySha.get(shaKey(qsha)) ?? []) : []) {
        const d = popcount(hi[j]! ^ qhi) + popcount(lo[j]! ^ qlo);
        if (d <= r && (!bestExact || d < bestDistance)) consider(this.loaded + j, d);
      }
      for (let j = 0; j < n; j++) {
        const d = popcount(hi[j]! ^ qhi) + popcount(lo[j]! ^ qlo);
        if (d <= r && d < bestDistance) consider(this.loaded + j, d);
      }
    }
    // Nothing beats a match at distance 0 that is as exact as can be once every loaded picture that could tie
    // with it was weighed: those all sit in chunk 0's own bucket, read first, in the order of their archive
    // times when the index is ordered, and any picture of this run comes after a loaded one. Without this, a
    // night of one picture repeated (a placeholder image) weighed every earlier copy at each lookup: quadratic.
    const settled = () => bestDistance === 0 && (bestExact || qsha === undefined) && (best >= this.loaded || this.ordered);
    const found = () => (best < 0 ? undefined : { picture: this.picture(best), distance: bestDistance, exact: bestExact });
    for (let c = 0; c < CHUNKS && (this.loaded || this.addedBuckets); c++) {
      const radius = chunkRadius(r, c);
      if (radius < 0) continue;
      const v = chunkOf(qhi, qlo, c);
      const starts = this.starts[c];
      const ids = this.ids[c]!;
      const hi = this.chi[c]!;
      const lo = this.clo[c]!;
      const buckets = this.addedBuckets?.[c];
      const probes = WITHIN[radius]!;
      for (let m = 0; m < probes; m++) {
        const probe = v ^ MASKS[m]!;
        if (starts) {
          const end = starts[probe + 1]!;
          for (let k = starts[probe]!; k < end; k++) {
            const d = popcount(hi[k]! ^ qhi) + popcount(lo[k]! ^ qlo);
            if (d <= r) consider(ids[k]!, d);
            if (best >= 0 && best < this.loaded && settled()) return found();
          }
        }
        // (past chunk 0's own bucket of loaded pictures: a match of this run can be settled too)
        if (best >= 0 && settled()) return found();
        const bucket = buckets?.[probe];
        if (bucket === undefined) continue;
        for (const j of bucket) {
          const a = this.added[j]!;
          const d = popcount(a.hi ^ qhi) + popcount(a.lo ^ qlo);
          if (d <= r) consider(this.loaded + j, d);
          if (best >= 0 && settled()) return found();
        }
      }
    }
    return found();
  }

  private part(g: number): { part: Part; i: number } {
    let k = this.parts.length - 1;
    while (this.parts[k]!.start > g) k--;
    return { part: this.parts[k]!, i: g - this.parts[k]!.start };
  }

  /** When its archive was recorded (this run's pictures: after every committed one). */
  private at(g: number): number {
    if (g >= this.loaded) return Number.POSITIVE_INFINITY;
    const { part, i } = this.part(g);
    return part.columns.archAt[part.columns.arch[i]!]!;
  }

  private workOrderOf(g: number): string {
    if (g >= this.loaded) return this.added[g - this.loaded]!.workOrder;
    const { part, i } = this.part(g);
    return part.columns.strings.get(part.columns.wo[i]!);
  }

  private shaEquals(g: number, q: Uint8Array): boolean {
    if (g >= this.loaded) {
      const s = this.added[g - this.loaded]!.sha;
      return s !== undefined && Buffer.compare(s, q) === 0;
    }
    const { part, i } = this.part(g);
    const s = part.columns.sha;
    for (let k = 0; k < SHA_BYTES; k++) if (s[i * SHA_BYTES + k] !== q[k]) return false;
    return true;
  }

  private picture(g: number): IndexedPicture {
    if (g >= this.loaded) {
      const { hi: _hi, lo: _lo, sha: _sha, ...picture } = this.added[g - this.loaded]!;
      return picture;
    }
    const { part, i } = this.part(g);
    const c = part.columns;
    const workOrder = c.strings.get(c.wo[i]!);
    const sha = Buffer.from(c.sha.subarray(i * SHA_BYTES, (i + 1) * SHA_BYTES));
    // (a committed picture's sha256 is the prefix the index keeps: its first 16 bytes, 32 hex digits)
    return {
      hash: (BigInt(c.hi[i]!) << 32n) | BigInt(c.lo[i]!),
      ...(sha.some((b) => b !== 0) ? { sha256: sha.toString("hex") } : {}),
      workOrder,
      entry: unpackEntry(workOrder, c.strings.get(c.entry[i]!)),
      archive: c.strings.get(c.archName[c.arch[i]!]!),
      out: part.out,
    };
  }
}

/**
 * The index of the pictures packed so far: those of `out` whose archives `ledger` holds as committed, and
 * with `siblings` (--shard) those of the outboxes beside it, each against its own ledger. Only reads.
 */
export async function openPictureIndex(
  out: string,
  options: { siblings: boolean; ledger: { archives: ReadonlySet<string> } },
): Promise<OpenedPictureIndex> {
  const stats: PictureIndexStats = { tornBytes: 0, damaged: 0, ignored: 0 };
  const problems: Problem[] = [];
  const parts: Part[] = [];
  const outboxes: { out: string; archives: ReadonlySet<string> }[] = [{ out, archives: options.ledger.archives }];
  if (options.siblings) {
    for (const sibling of await siblingOutboxes(out)) {
      const ledger = await readLedger(sibling).catch(() => undefined);
      if (ledger) outboxes.push({ out: sibling, archives: ledger.archives });
    }
  }
  let start = 0;
  for (const box of outboxes) {
    const read = await readOutbox(box.out, box.archives).catch((err) => {
      if (box.out === out) throw ioError(err, `cannot read the index of packed pictures in ${out}`);
      problems.push(unreadable(box.out, err));
      return undefined;
    });
    if (!read) continue;
    stats.tornBytes += read.tornBytes;
    stats.ignored += read.ignored;
    stats.damaged += read.damaged + (read.snapshotDamaged ? 1 : 0);
    if (read.snapshotDamaged) problems.push(damaged(snapshotPath(box.out), "does not check"));
    if (read.damaged)
      problems.push(
        damaged(
          journalPath(box.out),
          read.damaged === 1 ? "has 1 record that does not check" : `has ${read.damaged} records that do not check`,
        ),
      );
    for (const columns of read.parts) {
      parts.push({ columns, out: box.out, start });
      start += columns.n;
    }
    if (box.out === out && (read.damaged || read.snapshotDamaged)) {
      const failed = await repairPictures(out);
      if (failed) problems.push(notCompacted(out, failed));
    }
  }
  return new Lookup(parts, stats, problems);
}

function damaged(file: string, what: string): Problem {
  return problem(
    "W_PICTURE_INDEX_DAMAGED",
    `${file} ${what} (damage, not a crash: appends are checked and fsynced); the pictures it held are not compared with new photos`,
    "check that disk; the index is compacted without what could not be read (by this run, unless it is a dry run)",
    file,
  );
}

function notCompacted(out: string, why: string): Problem {
  return problem(
    "W_PICTURE_INDEX_NOT_COMPACTED",
    `the index of packed pictures in ${out} could not be compacted (${why}); it stays as it was, and the next run tries again`,
    "check that the output folder is writable and has room",
    out,
  );
}

function unreadable(out: string, err: unknown): Problem {
  return problem(
    "W_PICTURE_INDEX_UNREADABLE",
    `the index of packed pictures in ${out} cannot be read (${(err as Error)?.message ?? String(err)}); its pictures are not compared with new photos`,
    "give this run read access to that outbox's .wopack folder",
    out,
  );
}
