// Which config a run uses: the file --config names, else wopack.config.json in the current directory, else in
// the staging folder, else the defaults. zod and the schema (load.ts) are loaded only to check a file found.
import path from "node:path";
import { isGone, WopackError } from "../core/errors.js";
import { readRegularFile } from "../core/text.js";
import { CONFIG_FILE_NAME } from "../spec/ignore.js";
import { defaultConfig } from "./defaults.js";
import type { Config } from "./schema.js";

export interface LoadedConfig {
  config: Config;
  /** Absolute path of the file it came from; null when the defaults were used. */
  path: string | null;
}

/** Finds and validates the config (see above). */
export async function loadConfig(options: { configPath?: string; cwd?: string; staging?: string } = {}): Promise<LoadedConfig> {
  const cwd = options.cwd ?? process.cwd();
  const candidates = options.configPath
    ? [path.resolve(cwd, options.configPath)]
    : [path.resolve(cwd, CONFIG_FILE_NAME), ...(options.staging ? [path.resolve(cwd, options.staging, CONFIG_FILE_NAME)] : [])];
  for (const file of candidates) {
    let bytes: Buffer;
    try {
      bytes = await readRegularFile(file);
    } catch (err) {
      if (!options.configPath && isGone(err)) continue;
      throw new WopackError(
        "usage",
        "E_CONFIG_UNREADABLE",
        `cannot read config ${file}: ${(err as Error).message}`,
        "check the --config path",
      );
    }
    const { configFromBytes } = await import("./load.js");
    return { config: configFromBytes(bytes, file), path: file };
  }
  return { config: defaultConfig(), path: null };
}
