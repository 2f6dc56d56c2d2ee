import type { Stats } from "node:fs";
import { stat } from "node:fs/promises";
import path from "node:path";
import type { Config } from "../config/schema.js";
import { ioError, WopackError } from "../core/errors.js";
import { type ValidationReport, validateArchive } from "../validate/archive.js";
import { requireFolder } from "./folders.js";
import { pack } from "./pack.js";

export type { ValidationReport } from "../validate/archive.js";

export interface ValidateOptions {
  config: Config;
  metadataFile?: string | undefined;
  allowIncomplete?: boolean;
  concurrency?: number;
  /** a staging folder's --out: what its ledger holds is checked too (ids packed before in another case) */
  out?: string | undefined;
}

/**
 * §4 validate: an archive is checked against §2 and the config; a staging folder is planned and every
 * image read, to report what `pack` would refuse. Nothing is written either way.
 */
export async function validate(target: string, options: ValidateOptions): Promise<ValidationReport> {
  const resolved = path.resolve(target);
  let st: Stats;
  try {
    st = await stat(resolved);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT")
      throw new WopackError(
        "usage",
        "E_TARGET_MISSING",
        `${resolved} does not exist`,
        "give a staging folder or an archive (.zip)",
      );
    throw ioError(err, `cannot read ${resolved}`);
  }
  if (!st.isDirectory() && !st.isFile()) {
    throw new WopackError(
      "usage",
      "E_TARGET_NOT_A_FILE",
      `${resolved} is neither a folder nor a regular file (a pipe, socket or device)`,
      "give a staging folder or an archive (.zip)",
    );
  }
  if (!st.isDirectory()) return validateArchive(resolved, options.config);
  // (a dry run takes a missing --out for one a real run would make; here it is the ledger to check against)
  if (options.out)
    await requireFolder(
      path.resolve(options.out),
      "E_OUT_MISSING",
      "the --out folder",
      "give the --out folder pack writes archives to (its ledger is checked), or leave --out out",
    );

  const result = await pack({
    staging: resolved,
    config: options.config,
    dryRun: true,
    ...(options.out ? { out: options.out } : {}),
    checkImages: true,
    metadataFile: options.metadataFile,
    allowIncomplete: options.allowIncomplete ?? false,
    ...(options.concurrency ? { concurrency: options.concurrency } : {}),
  });
  return {
    target: resolved,
    kind: "staging",
    workOrders: result.refused.length + (result.planned?.length ?? 0),
    problems: result.refused.flatMap((wo) => wo.problems),
    warnings: result.warnings,
  };
}
