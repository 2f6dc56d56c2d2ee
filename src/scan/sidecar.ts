import path from "node:path";
import { parse } from "csv-parse/sync";
import { WopackError } from "../core/errors.js";
import { decodeUtf8, readRegularFile } from "../core/text.js";

/** One row of the --metadata sidecar, and where it came from (for messages). */
export interface SidecarRow {
  values: Record<string, unknown>;
  /** "erp.csv line 12" */
  where: string;
  /** where another row for the same work order is, when there is one */
  duplicate?: string;
}

/**
 * Reads the --metadata sidecar: a CSV with a header (one column holds the work-order id, named by
 * `idColumn`; comma, semicolon or tab separated, as ERP exports come) or a JSON object keyed by id.
 * Empty CSV cells are absent values, so they never override a default. Anything unreadable stops the run.
 */
export async function loadSidecar(file: string, idColumn: string): Promise<Map<string, SidecarRow>> {
  let bytes: Buffer;
  try {
    bytes = await readRegularFile(file);
  } catch (err) {
    throw new WopackError(
      "usage",
      "E_SIDECAR_UNREADABLE",
      `cannot read the --metadata file ${file}: ${(err as Error).message}`,
      "check the path given to --metadata",
    );
  }
  const name = path.basename(file);
  const decoded = decodeUtf8(bytes);
  if ("error" in decoded) {
    throw new WopackError(
      "usage",
      "E_SIDECAR_INVALID",
      `${name} is ${decoded.error}`,
      "export it from the ERP as UTF-8 (in Excel: Save As > CSV UTF-8)",
    );
  }
  const text = decoded.text;
  return file.toLowerCase().endsWith(".json") ? fromJson(text, name) : fromCsv(text, name, idColumn);
}

function add(rows: Map<string, SidecarRow>, id: string, row: SidecarRow): void {
  const earlier = rows.get(id);
  if (earlier) earlier.duplicate ??= row.where;
  else rows.set(id, row);
}

function fromCsv(text: string, name: string, idColumn: string): Map<string, SidecarRow> {
  let records: { record: string[]; info: { lines: number } }[];
  try {
    records = parse(text, {
      bom: true,
      delimiter: [",", ";", "\t"],
      skip_empty_lines: true,
      trim: true,
      info: true,
    }) as unknown as typeof records;
  } catch (err) {
    throw new WopackError(
      "usage",
      "E_SIDECAR_INVALID",
      `${name} is not a readable CSV: ${(err as Error).message}`,
      "every row needs as many cells as the header; quote cells that hold the separator",
    );
  }
  const [head, ...rows] = records;
  const header = (head?.record ?? []).map((h) => h.normalize("NFC"));
  const idAt = header.indexOf(idColumn.normalize("NFC"));
  if (head && idAt < 0) {
    throw new WopackError(
      "usage",
      "E_SIDECAR_ID_COLUMN",
      `${name} has no "${idColumn}" column (it has: ${header.join(", ")})`,
      `name the id column "${idColumn}", or set metadata.idColumn in the config to the column that holds the work-order id`,
    );
  }
  const byId = new Map<string, SidecarRow>();
  for (const { record, info } of rows) {
    const id = record[idAt] ?? "";
    if (!id) continue;
    // (fromEntries defines own properties: a column named "__proto__" is a column like any other)
    const values = Object.fromEntries(header.flatMap((key, i) => (i === idAt || record[i] === "" ? [] : [[key, record[i]]])));
    add(byId, id, { values, where: `${name} line ${info.lines}` });
  }
  return byId;
}

function fromJson(text: string, name: string): Map<string, SidecarRow> {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new WopackError(
      "usage",
      "E_SIDECAR_INVALID",
      `${name} is not valid JSON: ${(err as Error).message}`,
      "fix the JSON syntax",
    );
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new WopackError(
      "usage",
      "E_SIDECAR_INVALID",
      `${name} must be a JSON object keyed by work-order id`,
      `write it as {"WO_1": {"field": value}, ...}`,
    );
  }
  const rows = new Map<string, SidecarRow>();
  for (const [id, fields] of Object.entries(value)) {
    if (typeof fields !== "object" || fields === null || Array.isArray(fields)) {
      throw new WopackError(
        "usage",
        "E_SIDECAR_INVALID",
        `${name}: the entry for "${id}" must be an object of fields`,
        `write it as "${id}": {"field": value}`,
      );
    }
    add(rows, id, { values: fields as Record<string, unknown>, where: `${name} entry "${id}"` });
  }
  return rows;
}
