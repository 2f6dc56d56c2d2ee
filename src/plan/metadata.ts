import type { Config, MetadataField } from "../config/schema.js";
import { type Problem, problem } from "../core/errors.js";
import { own, setOwn } from "../core/own.js";
import type { SidecarRow } from "../scan/sidecar.js";
import { nearest } from "../spec/names.js";
import { coerceValue, type MetadataValue } from "../spec/values.js";

export interface MetadataInput {
  id: string;
  /** EXIF DateTimeOriginal of each photo that has one */
  captureDates: readonly string[];
  photoCount: number;
  /** the run's clock, ISO 8601 */
  now: string;
  sidecar?: SidecarRow | undefined;
  /** the work order's own metadata.json */
  given: Record<string, unknown>;
  givenPath: string;
  allowIncomplete: boolean;
}

export interface ResolvedMetadata {
  values: Record<string, MetadataValue>;
  problems: Problem[];
  warnings: Problem[];
}

/** §6: defaults and `from`, then the sidecar row, then metadata.json (later wins), each coerced to its type. */
export function resolveMetadata(config: Config["metadata"], input: MetadataInput): ResolvedMetadata {
  const fields = Object.entries(config.fields);
  const result: ResolvedMetadata = { values: {}, problems: [], warnings: [] };
  // field names compared composed (NFC), as a metadata.json written on a Mac may hold them decomposed
  const nfcKeys = (o: Record<string, unknown>) => Object.fromEntries(Object.entries(o).map(([k, v]) => [k.normalize("NFC"), v]));
  const given = nfcKeys(input.given);
  const sidecarValues = input.sidecar ? nfcKeys(input.sidecar.values) : undefined;
  if (fields.length === 0) {
    const { [config.idColumn]: _id, ...fromSidecar } = input.sidecar?.values ?? {};
    result.values = { ...(fromSidecar as Record<string, MetadataValue>), ...(given as Record<string, MetadataValue>) };
    return result;
  }

  for (const [name, field] of fields) {
    let value: unknown;
    let source = "";
    const derived = field.from === undefined ? undefined : fromSource(field, input);
    if (derived !== undefined) [value, source] = [derived, `from ${field.from}`];
    else if (field.default !== undefined) [value, source] = [field.default, "the field's default"];
    const fromSidecar = own(sidecarValues, name.normalize("NFC"));
    if (input.sidecar && fromSidecar !== undefined) [value, source] = [fromSidecar, input.sidecar.where];
    const fromGiven = own(given, name.normalize("NFC"));
    if (fromGiven !== undefined && fromGiven !== null) [value, source] = [fromGiven, input.givenPath];

    if (value === undefined) {
      if (!field.required) continue;
      if (input.allowIncomplete) {
        setOwn(result.values, name, null);
        result.warnings.push(
          problem(
            "W_METADATA_INCOMPLETE",
            `work order ${input.id}: required field "${name}" has no value; written as null (--allow-incomplete)`,
            "the platform cannot analyse this work order until the field is filled in",
            input.givenPath,
          ),
        );
      } else {
        result.problems.push(
          problem(
            "E_METADATA_REQUIRED",
            `work order ${input.id}: required field "${name}" has no value`,
            `set "${name}" in ${input.givenPath} or in the --metadata sidecar, give the field a default, or pass --allow-incomplete`,
            input.givenPath,
          ),
        );
      }
      continue;
    }
    const coerced = coerceValue(value, field.type);
    if (coerced === undefined) {
      result.problems.push(
        problem(
          "E_METADATA_TYPE",
          `work order ${input.id}: field "${name}" is ${JSON.stringify(value)} (${source}), which is not a ${field.type}`,
          field.type === "boolean"
            ? "write true/false, yes/no or 1/0"
            : field.type === "number"
              ? "write a plain number such as 12 or 12.5 (no units, no thousands separators)"
              : "write it as text",
          input.givenPath,
        ),
      );
      continue;
    }
    setOwn(result.values, name, coerced);
  }

  const known = fields.map(([name]) => name);
  for (const key of Object.keys(given)) {
    if (fields.some(([name]) => name.normalize("NFC") === key)) continue;
    const near = nearest(key, known);
    result.warnings.push(
      problem(
        "W_METADATA_UNKNOWN_FIELD",
        `${input.givenPath}: "${key}" is not a configured metadata field; it was left out`,
        near
          ? `did you mean "${near}"? Otherwise add it to metadata.fields in the config`
          : "add it to metadata.fields in the config",
        input.givenPath,
      ),
    );
  }
  return result;
}

function fromSource(field: MetadataField, input: MetadataInput): string | number | undefined {
  switch (field.from) {
    case "workOrder":
      return input.id;
    case "count:photos":
      return input.photoCount;
    case "now":
      return input.now;
    case "exif:DateTimeOriginal": {
      const earliest = [...input.captureDates].sort()[0];
      return earliest?.replace(/^(\d{4}):(\d\d):(\d\d) /, "$1-$2-$3T");
    }
    default:
      return undefined;
  }
}
