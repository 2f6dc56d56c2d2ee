import { type ParseError, parse as parseJsonc, printParseErrorCode } from "jsonc-parser";
import type { z } from "zod";
import { WopackError } from "../core/errors.js";
import { decodeUtf8 } from "../core/text.js";
import { nearest } from "../spec/names.js";
import { type Config, configSchema } from "./schema.js";

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
      `${source} is not valid JSON:`,
      "fix the JSON syntax (a missing quote or comma is the usual cause)",
      { lines },
    );
  }
  return value;
}

/** A config file's bytes, checked: UTF-8, JSON with comments, the schema. */
export function configFromBytes(bytes: Buffer, file: string): Config {
  const source = `config ${file}`;
  const decoded = decodeUtf8(bytes);
  if ("error" in decoded) {
    throw new WopackError("usage", "E_CONFIG_INVALID", `${source} is ${decoded.error}`, "save the config as UTF-8");
  }
  return parseConfig(parseJsonWithComments(decoded.text, source), source);
}
