export { CONFIG_FILE_NAME, loadConfig, parseConfig } from "./config/load.js";
export type { Config, ConfigInput } from "./config/schema.js";
export type { Problem } from "./errors.js";
export { WopackError } from "./errors.js";
export type { ArchiveReport, Logger, PackedEntry, PackedWorkOrder, PackOptions, PackResult, Progress } from "./pack.js";
export { pack, silentLogger } from "./pack.js";
export type { Plan, PlanInput, PlannedPhoto, PlannedWorkOrder } from "./plan/plan.js";
export { planPack } from "./plan/plan.js";
