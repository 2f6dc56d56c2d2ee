import { hasReadyMarker, packableOf, stabilitySignature, type WorkOrderGroup } from "./group.js";

interface Seen {
  signature: string;
  /** when we last saw it change (our clock, not the files' mtimes: copies may keep old mtimes) */
  since: number;
}

export interface ReadinessUpdate {
  /** work orders ready now, with the fingerprint they had when judged ready */
  ready: Map<string, string>;
  /** work orders seen but not ready yet, why, and (settling) when they will be if nothing changes */
  waiting: Map<string, { reason: string; readyAt?: number }>;
  /** when the next one becomes ready if nothing changes (ms since epoch), if any is waiting on time */
  nextCheck: number | undefined;
}

/**
 * Watch mode's readiness: a work order is ready once its files' names, sizes and modification times have
 * not changed for `settleMs` as seen by successive scans (file events are only hints to scan sooner), and,
 * with a ready marker, once its folder holds that file. Pure: scans and the clock come in.
 */
export class Readiness {
  private readonly seen = new Map<string, Seen>();
  /** fingerprints already handed to the pipeline, so the same content does not trigger it again */
  private readonly handled = new Map<string, string>();

  constructor(
    private readonly settleMs: number,
    private readonly readyMarker: string | undefined,
  ) {}

  update(groups: readonly WorkOrderGroup[], now: number): ReadinessUpdate {
    const result: ReadinessUpdate = { ready: new Map(), waiting: new Map(), nextCheck: undefined };
    const present = new Set<string>();
    for (const group of groups) {
      present.add(group.id);
      const signature = stabilitySignature(group);
      const before = this.seen.get(group.id);
      const since = before && before.signature === signature ? before.since : now;
      this.seen.set(group.id, { signature, since });

      const { members, fingerprint } = packableOf(group, this.readyMarker);
      if (members.length === 0) continue;
      if (this.handled.get(group.id) === fingerprint) continue;
      if (this.readyMarker && group.folder && !hasReadyMarker(group, this.readyMarker)) {
        result.waiting.set(group.id, { reason: `no ${this.readyMarker} marker yet` });
        continue;
      }
      if (now - since >= this.settleMs) {
        result.ready.set(group.id, fingerprint);
      } else {
        const at = since + this.settleMs;
        result.waiting.set(group.id, { reason: "settling", readyAt: at });
        result.nextCheck = result.nextCheck === undefined ? at : Math.min(result.nextCheck, at);
      }
    }
    for (const id of this.seen.keys()) if (!present.has(id)) this.seen.delete(id);
    for (const id of this.handled.keys()) if (!present.has(id)) this.handled.delete(id);
    return result;
  }

  /** The pipeline has seen this content (packed, refused, or found already packed): do not offer it again. */
  markHandled(id: string, fingerprint: string): void {
    this.handled.set(id, fingerprint);
  }
}
