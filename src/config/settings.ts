// The effective settings of a run: the config (file or defaults) with a caller's explicit overrides over it.
// One pure function, called by the library's pack() and watch() themselves, so that a script's
// `pack({ staging, out, config })` does what `wopack pack --config` does; the CLI passes its flags as
// overrides and --print-config prints the result (SPEC §10, §11).
import type { Config } from "./schema.js";

/** What a caller may set over the config; `undefined` leaves the config's value (or its default). */
export interface SettingsOverrides {
  maxImageSize?: number | undefined;
  maxDimension?: number | undefined;
  maxPixels?: number | undefined;
  stripGps?: boolean | undefined;
  maxArchiveSize?: number | undefined;
  maxWorkOrders?: number | undefined;
  /** a work order is ready once nothing in it changed for this long */
  settleMs?: number | undefined;
  readyMarker?: string | undefined;
  /** watch: collect work orders that become ready within this long into one archive */
  batchWindowMs?: number | undefined;
  /** watch: scan with stat every this many ms instead of file events (network shares) */
  pollMs?: number | undefined;
}

export interface Settings {
  /** the config with every override applied and the watch section resolved: what --print-config shows */
  config: Config;
  settleMs: number;
  readyMarker: string | undefined;
  maxArchiveSize: number | undefined;
  maxWorkOrders: number | undefined;
  batchWindowMs: number;
  /** undefined: file events */
  pollMs: number | undefined;
}

/** watch's settle time when neither the config nor the caller gives one and no ready marker says "done" */
export const WATCH_SETTLE_MS = 30_000;
/** `poll: true` in the config (and the bare --poll flag) */
export const DEFAULT_POLL_MS = 1_000;

export function settingsFor(command: "pack" | "watch", config: Config, o: SettingsOverrides = {}): Settings {
  const images = {
    ...config.images,
    ...defined({ maxImageSize: o.maxImageSize, maxDimension: o.maxDimension, maxPixels: o.maxPixels }),
    ...(o.stripGps ? { stripGps: true } : {}),
  };
  const archive = {
    ...config.archive,
    ...defined({ maxSize: o.maxArchiveSize, maxWorkOrders: o.maxWorkOrders }),
  };
  const readyMarker = o.readyMarker ?? config.watch.readyMarker;
  // pack: ready at once unless told to settle; watch: 30 s, or none when a ready marker says "done"
  const settleMs = o.settleMs ?? config.watch.settle ?? (command === "watch" && !readyMarker ? WATCH_SETTLE_MS : 0);
  const batchWindowMs = o.batchWindowMs ?? config.watch.batchWindow ?? 0;
  const poll = o.pollMs ?? config.watch.poll ?? false;
  const pollMs = poll === true ? DEFAULT_POLL_MS : poll === false ? undefined : poll;
  const watch =
    command === "watch"
      ? { settle: settleMs, readyMarker, batchWindow: batchWindowMs, poll: pollMs ?? false, prune: config.watch.prune }
      : { ...config.watch, settle: settleMs, readyMarker };
  return {
    config: { ...config, images, archive, watch: defined(watch) as Config["watch"] },
    settleMs,
    readyMarker,
    maxArchiveSize: archive.maxSize,
    maxWorkOrders: archive.maxWorkOrders,
    batchWindowMs,
    pollMs,
  };
}

function defined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
