import type { Config } from "../config/schema.js";
import { type SettingsOverrides, settingsFor } from "../config/settings.js";
import type { Clock } from "../core/clock.js";
import type { Logger, Progress, WatchEvent } from "../core/types.js";
import type { Shard } from "../spec/shard.js";
import type { SendOptions } from "./upload.js";

/**
 * What a pack run is asked to do: the library's pack() options. The config (a file's, or the defaults) says
 * most; the overrides (SettingsOverrides: what the CLI's flags say) win over it, worked out by pack() itself.
 */
export interface PackOptions extends SettingsOverrides {
  staging: string;
  /** the output folder; a dry run may leave it out (nothing is then "already packed") */
  out?: string | undefined;
  config: Config;
  dryRun?: boolean;
  repack?: boolean;
  /** the --metadata sidecar (CSV or JSON keyed by work-order id) */
  metadataFile?: string | undefined;
  allowIncomplete?: boolean;
  /** with dryRun: also read and check every image (what `validate <staging>` does) */
  checkImages?: boolean;
  moveTo?: string | undefined;
  concurrency?: number;
  signal?: AbortSignal;
  logger?: Logger;
  onProgress?: (p: Progress) => void;
  /** --on-archive: run after each archive is committed, with its path as the last argument (no shell) */
  onArchive?: string[] | undefined;
  /** stop the --on-archive command (its whole process group) after this long; default 30 minutes */
  onArchiveTimeoutMs?: number | undefined;
  /** run a failed --on-archive command again this many times (default 0) */
  onArchiveRetries?: number | undefined;
  /** send each archive to the platform right after its commit, overlapped with packing the next (§12) */
  upload?: SendOptions | undefined;
  /** write each archive's review page beside it (default true; --no-review) */
  review?: boolean;
  /** told of each archive as it is committed (`packed`) and, at the end, of every warning */
  onEvent?: (event: WatchEvent) => void;
  /** the calendar clock (reports, ledger, archive names, readiness); tests set it */
  now?: Clock;
  /** --shard: pack only the work orders that fall to this shard (spec/shard.ts); archive names carry it */
  shard?: Shard | undefined;
}

/** The options with the effective settings worked out (settingsFor): the config as the run sees it. */
export function withSettings<T extends PackOptions>(command: "pack" | "watch", o: T) {
  const s = settingsFor(command, o.config, o);
  return {
    ...o,
    config: s.config,
    settleMs: s.settleMs,
    readyMarker: s.readyMarker,
    maxArchiveSize: s.maxArchiveSize,
    maxWorkOrders: s.maxWorkOrders,
    batchWindowMs: s.batchWindowMs,
    pollMs: s.pollMs,
  };
}

/**
 * watch's options: pack's, and when a work order is ready (settleMs default 30 s, or 0 with a ready marker;
 * batchWindowMs; pollMs for network shares), each over the config's `watch` section.
 */
export interface WatchOptions extends Omit<PackOptions, "checkImages"> {
  out: string;
  signal: AbortSignal;
  /** default: <staging>/../processed */
  moveTo?: string | undefined;
  /** default: <staging>/../failed */
  failedTo?: string | undefined;
  /** a JSON file rewritten at least every heartbeatMs, for monitoring; default <out>/.wopack/health.json */
  healthFile?: string | undefined;
  heartbeatMs?: number;
  onEvent?: (event: WatchEvent) => void;
  /** --http: serve the status page, /healthz and /metrics here (read-only); `token` (WOPACK_HTTP_TOKEN): a
   *  bearer token required on every path but /healthz, and needed to listen on an address not loopback */
  http?: { host: string; port: number; token?: string | undefined } | undefined;
}
