#!/usr/bin/env node
// Writes schema/wopack.config.schema.json (the JSON Schema of wopack.config.json, for editors) from the zod
// schema the loader validates with, so the two cannot drift. Runs as part of `npm run build`.
import { mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { z } from "zod";
import { configSchema } from "../dist/config/schema.js";

const root = path.resolve(import.meta.dirname, "..");
const schema = z.toJSONSchema(configSchema, { io: "input", unrepresentable: "any", target: "draft-7" });
schema.title = "wopack configuration (wopack.config.json)";
mkdirSync(path.join(root, "schema"), { recursive: true });
writeFileSync(path.join(root, "schema", "wopack.config.schema.json"), JSON.stringify(schema, null, 2) + "\n");

// and the JSON Schemas of what the commands print with --json (src/cli/output.ts)
const { outputSchemas } = await import("./build-output-schemas.mjs");
for (const [file, text] of Object.entries(outputSchemas())) writeFileSync(path.join(root, "schema", file), text);
