// The flags more than one command takes, in the groups help shows them in. Declarations only (no code
// runs here): main.ts loads this for --help, before any command's code.

/** Help's groups, in the order a command shows them (its own options first, the global ones last). */
export const GROUP = {
  own: "Options:",
  readiness: "When a work order is ready:",
  metadata: "Metadata:",
  images: "Images:",
  archives: "Archives:",
  after: "After each commit:",
  output: "Output:",
  global: "Global options:",
} as const;

export const READINESS_FLAGS = {
  settle: {
    type: "string",
    describe: "ready once nothing in a work order changed for this long (e.g. 10m; pack: 0, watch: 30s)",
  },
  "ready-marker": { type: "string", describe: "ready once its folder holds this file (e.g. .ready); never packed" },
} as const;

export const METADATA_FLAGS = {
  metadata: { type: "string", describe: "metadata sidecar: CSV with a header, or JSON keyed by work-order id" },
  "allow-incomplete": { type: "boolean", default: false, describe: "write null for missing required metadata (with a warning)" },
} as const;

export const IMAGE_FLAGS = {
  "max-image-size": { type: "string", describe: "re-encode images larger than this (default 5MB)" },
  "max-dimension": { type: "number", describe: "downscale images wider or taller than this many pixels" },
  "max-pixels": { type: "number", describe: "refuse images above this many pixels (default 100000000)" },
  "strip-gps": { type: "boolean", describe: "remove location data from every packed image (re-encoding where needed)" },
} as const;

export const ARCHIVE_FLAGS = {
  "max-archive-size": { type: "string", describe: "split archives at this size (e.g. 500MB, 2GiB)" },
  "max-work-orders": { type: "number", describe: "at most this many work orders per archive" },
  shard: {
    type: "string",
    describe: "pack only the work orders of shard i of n (e.g. 0/3, by a hash of the id); each shard its own --out",
  },
  review: {
    type: "boolean",
    default: true,
    describe: "write a review page (<archive>.html) beside each archive; --no-review leaves it out",
  },
} as const;

export const HOOK_FLAGS = {
  "on-archive": { type: "string", describe: "run this command after each committed archive, its path last (no shell)" },
  "on-archive-timeout": {
    type: "string",
    alias: "hook-timeout",
    describe: "stop the --on-archive command after this long (default 30m); the archive is kept",
  },
  "on-archive-retries": { type: "number", describe: "run a failed --on-archive command again this many times (default 0)" },
} as const;

export const SEND_FLAGS = {
  "uploaded-to": { type: "string", describe: "move each archive and its report here once the platform has it" },
  "upload-rate": { type: "string", describe: "at most this many bytes per second (e.g. 2MB)" },
  "upload-retries": { type: "number", describe: "retries of one request in a row (default 20)" },
} as const;

export const UPLOAD_FLAGS = {
  upload: {
    type: "boolean",
    default: false,
    describe: "send each archive to the platform once committed, while the next is packed (key: WOPACK_API_KEY)",
  },
  ...SEND_FLAGS,
} as const;

/** `wopack upload`'s own switches (its builder and cli/quick.ts, which must know every name upload reads). */
export const RESEND_FLAGS = {
  hooks: {
    type: "boolean",
    default: false,
    describe: "also run --on-archive again for every archive whose command failed (or never succeeded)",
  },
  "attention-cleared": {
    type: "boolean",
    default: false,
    describe: "send the named archives that need attention again: you dealt with their old batch on the platform",
  },
} as const;

/** `wopack pack`'s own options (its builder and cli/quick.ts, which must know every name pack reads). */
export const PACK_OWN_FLAGS = {
  out: { type: "string", demandOption: true, describe: "folder that receives the archives and reports" },
  "dry-run": { type: "boolean", default: false, describe: "plan and report what would be packed; write nothing" },
  repack: { type: "boolean", default: false, describe: "pack work orders again even if the ledger has them" },
  "move-to": { type: "string", describe: "move packed work orders here once committed" },
} as const;

/** The flags pack and watch share, by group (each command adds its own to the first two). */
export const PACKING_GROUPS = {
  [GROUP.metadata]: METADATA_FLAGS,
  [GROUP.images]: IMAGE_FLAGS,
  [GROUP.archives]: ARCHIVE_FLAGS,
} as const;

export const PACKING_FLAGS = { ...METADATA_FLAGS, ...IMAGE_FLAGS, ...ARCHIVE_FLAGS, ...HOOK_FLAGS, ...UPLOAD_FLAGS } as const;

export const OUTPUT_FLAGS = {
  json: { type: "boolean", default: false, describe: "machine-readable result on stdout; logs on stderr" },
  quiet: { type: "boolean", default: false, describe: "print only problems" },
  verbose: { type: "boolean", default: false, describe: "say more, with stack traces for errors" },
  "log-format": {
    choices: ["text", "json"],
    describe: "log lines as text with a time, or JSON (time, level, event, pid, version, fields); default json with --json",
  },
  "log-level": {
    choices: ["debug", "info", "warn", "error"],
    describe: "the least important lines logged (default info; --quiet is warn, --verbose debug)",
  },
  "print-config": {
    type: "boolean",
    default: false,
    describe: "print the effective settings (config file, defaults and flags) as JSON and exit; runs nothing",
  },
} as const;

export const GLOBAL_FLAGS = {
  config: { type: "string", describe: "config file (default: ./wopack.config.json, then <staging>/wopack.config.json)" },
  concurrency: { type: "number", describe: "photos converted at once (default: number of cores)" },
} as const;

/** The flags whose values are numbers: a value that is not one is named as typed in the error. */
export const NUMBER_FLAGS: readonly string[] = Object.entries({ ...PACKING_FLAGS, ...GLOBAL_FLAGS })
  .filter(([, o]) => (o as { type?: string }).type === "number")
  .map(([k]) => k);
