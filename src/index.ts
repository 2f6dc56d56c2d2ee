export { pack, silentLogger } from "./pack.js";
export type { PackOptions, PackResult, ArchiveReport, PackedWorkOrder, PackedEntry, Logger, Progress } from "./pack.js";
export { loadConfig, parseConfig, CONFIG_FILE_NAME } from "./config/load.js";
export type { Config, ConfigInput } from "./config/schema.js";
export { planPack } from "./plan/plan.js";
export type { Plan, PlanInput, PlannedWorkOrder, PlannedPhoto } from "./plan/plan.js";
export { WopackError } from "./errors.js";
export type { Problem } from "./errors.js";
