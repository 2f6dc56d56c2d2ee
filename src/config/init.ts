import { access, copyFile, stat, writeFile } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { ioError, WopackError } from "../core/errors.js";
import { CONFIG_FILE_NAME } from "../spec/ignore.js";
import {
  AGE_MAX_DAYS,
  BLUR_MIN_SHARPNESS,
  BRIGHT_FRACTION,
  DARK_FRACTION,
  DARK_MAX_HIGHLIGHT,
  DISTANCE_MAX_METRES,
  REUSE_MAX_DISTANCE,
} from "../spec/photoChecks.js";

/** The JSON Schema shipped in the package (written by `npm run build`). */
export const SCHEMA_PATH = fileURLToPath(new URL("../../schema/wopack.config.schema.json", import.meta.url));

export function starterConfig(schemaRef: string): string {
  return `{
  // wopack configuration. Comments are allowed. Every key is optional; flags override this file.
  // As written, it changes nothing: every value below is the default. Edit what your site needs.
  // Reference: the README, and the JSON Schema beside this file (editors use it for completion, checks
  // and help on hover; \`wopack init --force\` writes both again for this version of wopack).
  "$schema": ${JSON.stringify(schemaRef)},

  // Task groups the platform knows. When set, any other group refuses its work order (with the nearest
  // name suggested). Uncomment and list yours:
  // "taskGroups": ["meter_reading", "cabinet_front", "cabinet_inside"],

  // Human folder or file names mapped to task groups.
  "aliases": {
    // "Meter photos": "meter_reading"
  },

  // Task group for loose photos whose file name is no usable group (e.g. "IMG 0042.jpg"):
  // "defaultTaskGroup": "general",

  // How loose photos at the staging root name their work order, when not "<id>__<group>[-N].<ext>":
  // "rootFilePattern": "^(?<workOrder>WO_\\\\d+)-(?<taskGroup>[a-z_]+)(?:-(?<n>\\\\d+))?\\\\.",

  "metadata": {
    // The fields of each work order's metadata.json. type: text | number | boolean.
    // required: refuse the work order without it (or --allow-incomplete). default: used when no other value.
    // from: workOrder | exif:DateTimeOriginal (earliest photo) | count:photos | now.
    // Values merge: default/from, then the --metadata sidecar (CSV or JSON), then the work order's own
    // metadata.json; later wins.
    // Without fields, each metadata.json holds every value given (the work order's own, the sidecar's),
    // as they are. With fields, it holds exactly these, typed. Uncomment and adapt:
    "fields": {
      // "work_order_id": { "type": "text", "from": "workOrder" },
      // "photo_count": { "type": "number", "from": "count:photos" },
      // "captured_at": { "type": "text", "from": "exif:DateTimeOriginal" },
      // "customer_id": { "type": "text", "required": true },
      // "meter_replaced": { "type": "boolean", "default": false }
    },
    // The sidecar CSV column that holds the work-order id.
    "idColumn": "work_order",
    // Leave metadata.json out of a work order when it would be {}.
    "omitWhenEmpty": false
  },

  "images": {
    "quality": 90, // JPEG quality of converted images
    "maxImageSize": "5MB", // larger images are re-encoded (then downscaled) until they fit
    // "maxDimension": 4096, // downscale images wider or taller than this
    "maxPixels": 100000000, // refuse images above this (decompression bombs)
    "stripGps": false, // remove location data from every packed image
    "verify": "pixels", // decode every JPEG and PNG to find damaged picture data ("structure": headers only, faster)
    // Photo checks on that decode (docs/photo-checks.md). action: off | warn (packed, with a warning) |
    // refuse (the work order is refused).
    "checks": {
      "reuse": { "action": "warn", "maxDistance": ${REUSE_MAX_DISTANCE} }, // already packed for another work order (hash bits apart)
      "duplicate": { "action": "warn", "maxDistance": ${REUSE_MAX_DISTANCE} }, // the same picture twice in one work order
      "blur": { "action": "warn", "minSharpness": ${BLUR_MIN_SHARPNESS} }, // too little detail to be judged
      "exposure": { "action": "warn", "darkFraction": ${DARK_FRACTION}, "darkMaxHighlight": ${DARK_MAX_HIGHLIGHT}, "brightFraction": ${BRIGHT_FRACTION} }, // nearly black / white
      // captured long before the work order's date (a metadata field, ISO 8601), else the packing time:
      "age": { "action": "off", "maxAge": "${AGE_MAX_DAYS}d" /* , "dateField": "visit_date" */ },
      // GPS farther than maxDistance from the site, whose position two metadata fields hold:
      "distance": { "action": "off", "maxDistance": "${DISTANCE_MAX_METRES / 1000}km", "latitudeField": "latitude", "longitudeField": "longitude" }
    }
  },

  "archive": {
    "prefix": "batch" // archives are named <prefix>-<UTC time>-<seq>.zip
    // "maxSize": "2GiB", // split archives at this size
    // "maxWorkOrders": 500 // at most this many work orders per archive
  },

  "watch": {
    // "settle": "30s", // a work order is ready once nothing in it changed for this long
    // "readyMarker": ".ready" // or: only when this file is in its folder
  }
}
`;
}

/**
 * init writes into a folder that exists: a mistyped or missing one is a usage error (exit 2), never made
 * (a typo would leave a config where no run looks) and never blamed on the disk. Other errors are I/O.
 */
async function requireTargetFolder(dir: string): Promise<void> {
  const st = await stat(dir).catch((err: NodeJS.ErrnoException) => {
    if (err.code === "ENOENT" || err.code === "ENOTDIR") return undefined;
    throw ioError(err, `cannot read the folder ${dir}`);
  });
  if (st?.isDirectory()) return;
  throw new WopackError(
    "usage",
    "E_INIT_FOLDER_MISSING",
    `${dir} ${st ? "is not a folder" : "does not exist"}; nothing was written`,
    st
      ? "give the folder to write wopack.config.json in (wopack init <dir>)"
      : `check the path, or create the folder first (mkdir -p ${dir}) and run wopack init again`,
  );
}

/** The JSON Schema's name beside the config: the config points at it, so the two travel together. */
export const SCHEMA_FILE_NAME = "wopack.config.schema.json";

/**
 * §4 init: writes a commented starter config into `dir`, and the JSON Schema beside it (a path into
 * wherever wopack is installed would break once the config is copied to the server); never overwrites a
 * config unless `force`. A dry run checks the same and writes nothing. Returns the files and the config.
 */
export async function initConfig(
  dir: string,
  options: { force?: boolean; dryRun?: boolean } = {},
): Promise<{ file: string; schema: string; content: string }> {
  await requireTargetFolder(path.resolve(dir));
  const file = path.resolve(dir, CONFIG_FILE_NAME);
  if (!options.force) {
    const taken = await access(file).then(
      () => true,
      () => false,
    );
    if (taken) {
      throw new WopackError(
        "usage",
        "E_CONFIG_EXISTS",
        `${file} already exists`,
        "edit it, or pass --force to replace it with the starter config",
      );
    }
  }
  const schema = path.join(path.dirname(file), SCHEMA_FILE_NAME);
  const content = starterConfig(`./${SCHEMA_FILE_NAME}`);
  if (options.dryRun) return { file, schema, content };
  try {
    await copyFile(SCHEMA_PATH, schema);
    await writeFile(file, content);
  } catch (err) {
    throw ioError(err, `cannot write ${file}`);
  }
  return { file, schema, content };
}
