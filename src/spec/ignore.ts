/** wopack's config file: found in the working directory or at the staging folder's root, never packed. */
export const CONFIG_FILE_NAME = "wopack.config.json";

const JUNK = new Set([".ds_store", "thumbs.db", "desktop.ini", "__macosx"]);
const PARTIAL = /\.(tmp|part|crdownload)$/i;

/** §3: names that are never packed and never an error (hidden, OS junk, partial downloads). */
export function isIgnoredName(name: string): boolean {
  return name.startsWith(".") || name.startsWith("~$") || JUNK.has(name.toLowerCase()) || PARTIAL.test(name);
}
