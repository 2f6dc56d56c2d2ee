export { loadConfig } from "./config/find.js";
export { initConfig } from "./config/init.js";
export { parseConfig } from "./config/load.js";
export type { Config, ConfigInput } from "./config/schema.js";
export type { Settings, SettingsOverrides } from "./config/settings.js";
export { settingsFor } from "./config/settings.js";
export type { Problem } from "./core/errors.js";
export { WopackError } from "./core/errors.js";
export type {
  ArchiveReport,
  Logger,
  PackedEntry,
  PackedWorkOrder,
  PackResult,
  Progress,
  UploadOutcome,
  UploadProgress,
} from "./core/types.js";
export { silentLogger } from "./core/types.js";
export type { Plan, PlanInput, PlannedPhoto, PlannedWorkOrder } from "./plan/plan.js";
export { planPack } from "./plan/plan.js";
export type { PackOptions } from "./run/options.js";
export { pack } from "./run/pack.js";
export type { PruneItem, PruneOptions, PruneResult } from "./run/prune.js";
export { prune } from "./run/prune.js";
export type { ArchiveState, ArchiveStatus, StatusOptions } from "./run/status.js";
export { status } from "./run/status.js";
export type { SendOptions, UploadOptions } from "./run/upload.js";
export { upload } from "./run/upload.js";
export type { ValidateOptions, ValidationReport } from "./run/validate.js";
export { validate } from "./run/validate.js";
export type { WatchEvent, WatchOptions, WatchSummary } from "./run/watch.js";
export { watch } from "./run/watch.js";
export { CONFIG_FILE_NAME } from "./spec/ignore.js";
export type { Shard } from "./spec/shard.js";
export { parseShard, shardOf } from "./spec/shard.js";
