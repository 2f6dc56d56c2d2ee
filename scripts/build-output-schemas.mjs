#!/usr/bin/env node
// The JSON Schemas of what the commands print with --json (schema/*.schema.json), from the types in
// src/cli/output.ts; written by `npm run build` (scripts/build-schema.mjs) and shipped in the package.
import path from "node:path";
import { createGenerator } from "ts-json-schema-generator";

const root = path.resolve(import.meta.dirname, "..");

export const OUTPUT_SCHEMAS = {
  PackOutput: "pack-output.schema.json",
  ValidateOutput: "validate-output.schema.json",
  LogLine: "log-line.schema.json",
};

export function outputSchemas() {
  const generator = createGenerator({
    path: path.join(root, "src/cli/output.ts"),
    tsconfig: path.join(root, "tsconfig.json"),
    type: "*",
    skipTypeCheck: true,
    expose: "export",
    topRef: true,
    jsDoc: "extended",
  });
  return Object.fromEntries(
    Object.entries(OUTPUT_SCHEMAS).map(([type, file]) => [file, JSON.stringify(generator.createSchema(type), null, 2) + "\n"]),
  );
}
