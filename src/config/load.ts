import path from "node:path";
import { type ParseError, parse as parseJsonc, printParseErrorCode } from "jsonc-parser";
import type { z } from "zod";
import { isGone, WopackError } from "../core/errors.js";
import { decodeUtf8, readRegularFile } from "../core/text.js";
import { CONFIG_FILE_NAME } from "../spec/ignore.js";
import { nearest } from "../spec/names.js";
import { type Config, configSchema } from "./schema.js";

export interface LoadedConfig {
  config: Config;
  /** Absolute path of the file it came from; null when the defaults were used. */
  path: string | null;
}

/**
 * "images.quality: Too big: expected number to be <=100" — one line per issue, every issue; an unknown key
 * gets the nearest known one ("did you mean").
 */
export function formatConfigIssues(issues: readonly z.core.$ZodIssue[]): string[] {
  return issues.map((issue) => {
    let line = `${issue.path.length ? issue.path.join(".") : "(root)"}: ${issue.message}`;
    if (issue.code === "unrecognized_keys") {
      const known = keysAt(issue.path);
      const near = issue.keys.map((k) => nearest(k, known)).filter((k): k is string => k !== undefined);
      if (near.length) line += ` (did you mean ${near.map((k) => JSON.stringify(k)).join(", ")}?)`;
    }
    return line;
  });
}

/** The keys the config schema knows at a path (through its defaults and optionals). */
function keysAt(at: readonly PropertyKey[]): string[] {
  type Node = { shape?: Record<string, Node>; def?: { innerType?: Node } } | undefined;
  const unwrap = (n: Node): Node => (n && !n.shape && n.def?.innerType ? unwrap(n.def.innerType) : n);
  let node = unwrap(configSchema as unknown as Node);
  for (const key of at) node = unwrap(node?.shape?.[String(key)]);
  return Object.keys(node?.shape ?? {});
}

export function parseConfig(raw: unknown, source = "config"): Config {
  const result = configSchema.safeParse(raw);
  if (!result.success) {
    const lines = formatConfigIssues(result.error.issues);
    throw new WopackError(
      "usage",
      "E_CONFIG_INVALID",
      `${source} is invalid:`,
      "fix every line above; `wopack init` writes a commented starter config",
      { lines },
    );
  }
  return result.data;
}

/** JSON, with line and block comments and trailing commas allowed (the starter config is commented). */
export function parseJsonWithComments(text: string, source: string): unknown {
  const errors: ParseError[] = [];
  const value = parseJsonc(text, errors, { allowTrailingComma: true });
  if (errors.length) {
    const lines = errors.map((e) => {
      const before = text.slice(0, e.offset).split("\n");
      return `line ${before.length}, column ${before[before.length - 1]!.length + 1}: ${printParseErrorCode(e.error)}`;
    });
    throw new WopackError(
      "usage",
      "E_CONFIG_INVALID",
      `${source} is not valid JSON:\n  ${lines.join("\n  ")}`,
      "fix the JSON syntax (a missing quote or comma is the usual cause)",
    );
  }
  return value;
}

/**
 * Finds and validates the config: the explicit path, else wopack.config.json in the current directory,
 * else in the staging folder, else the defaults.
 */
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
    const source = `config ${file}`;
    const decoded = decodeUtf8(bytes);
    if ("error" in decoded) {
      throw new WopackError("usage", "E_CONFIG_INVALID", `${source} is ${decoded.error}`, "save the config as UTF-8");
    }
    const text = decoded.text;
    return { config: parseConfig(parseJsonWithComments(text, source), source), path: file };
  }
  return { config: parseConfig({}), path: null };
}
