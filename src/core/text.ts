import { constants } from "node:fs";
import { type FileHandle, open } from "node:fs/promises";

/**
 * Reads a file the user named (config, --metadata, metadata.json). A FIFO, device or folder is refused at
 * once (opened non-blocking, then checked), where a plain read would wait for a writer for ever. With
 * `followLinks: false` a symbolic link is refused too (ELOOP), and what is checked is what is read: nothing
 * can swap the file between the two.
 */
export async function readRegularFile(file: string, options: { followLinks?: boolean } = {}): Promise<Buffer> {
  const { handle } = await openRegularFile(file, options);
  try {
    return await handle.readFile();
  } finally {
    await handle.close();
  }
}

/** readRegularFile's open and check, for a caller that streams the file: the open handle and its size. */
export async function openRegularFile(
  file: string,
  options: { followLinks?: boolean } = {},
): Promise<{ handle: FileHandle; size: number }> {
  const noFollow = options.followLinks === false ? constants.O_NOFOLLOW : 0;
  const handle = await open(file, constants.O_RDONLY | constants.O_NONBLOCK | noFollow);
  try {
    const st = await handle.stat();
    if (!st.isFile()) {
      const what = st.isDirectory() ? "a folder" : st.isFIFO() ? "a named pipe (FIFO)" : "a device or socket";
      throw Object.assign(new Error(`${file} is ${what}, not a regular file`), { code: "ENOTREG" });
    }
    return { handle, size: st.size };
  } catch (err) {
    await handle.close();
    throw err;
  }
}

const REPLACEMENT = "\uFFFD";

/**
 * The bytes as UTF-8 text, a leading byte-order mark dropped. Text in another encoding (a Latin-1 export)
 * is never turned into U+FFFD silently: the first byte that is not UTF-8 is named, by line and offset.
 */
export function decodeUtf8(bytes: Buffer): { text: string } | { error: string } {
  const text = new TextDecoder("utf-8", { ignoreBOM: false }).decode(bytes);
  const bom = bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf ? 3 : 0;
  for (let at = text.indexOf(REPLACEMENT); at >= 0; at = text.indexOf(REPLACEMENT, at + 1)) {
    const offset = bom + Buffer.byteLength(text.slice(0, at));
    // a U+FFFD really written in the file is text like any other
    if (bytes[offset] === 0xef && bytes[offset + 1] === 0xbf && bytes[offset + 2] === 0xbd) continue;
    const line = text.slice(0, at).split("\n").length;
    const byte = bytes[offset]!.toString(16).toUpperCase().padStart(2, "0");
    return {
      error: `not UTF-8 text: byte 0x${byte} at line ${line} (offset ${offset}); save the file as UTF-8`,
    };
  }
  return { text };
}

/** JSON nested deeper than this is refused: nothing real needs it, and deeper values overflow the stack later. */
export const MAX_JSON_DEPTH = 64;

/** Whether a parsed JSON value nests arrays/objects deeper than `max` (iterative: safe at any depth). */
export function jsonDeeperThan(value: unknown, max: number): boolean {
  const stack: [unknown, number][] = [[value, 1]];
  while (stack.length) {
    const [v, depth] = stack.pop()!;
    if (typeof v !== "object" || v === null) continue;
    if (depth > max) return true;
    for (const child of Object.values(v)) stack.push([child, depth + 1]);
  }
  return false;
}

/** UTF-8 JSON (BOM accepted), at most MAX_JSON_DEPTH deep: the value, or why it cannot be used. */
export function parseJsonText(bytes: Buffer): { value: unknown } | { error: string } {
  const decoded = decodeUtf8(bytes);
  if ("error" in decoded) return decoded;
  let value: unknown;
  try {
    value = JSON.parse(decoded.text);
  } catch (err) {
    return { error: (err as Error).message };
  }
  return jsonDeeperThan(value, MAX_JSON_DEPTH) ? { error: `nested more than ${MAX_JSON_DEPTH} levels deep` } : { value };
}

const UNSHOWABLE = /[\p{Cc}\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/gu;

/**
 * Text for a terminal or a text log: control characters (ESC, CR, BEL, C1; line breaks unless kept) and the
 * marks that reorder what a reader sees (RTL override) written as escapes, so that a file's or folder's name
 * can neither drive the terminal nor forge a line of output.
 */
export function terminalText(text: string, keepNewlines = false): string {
  return text.replace(UNSHOWABLE, (c) => {
    if (c === "\t" || (keepNewlines && c === "\n")) return c;
    if (c === "\n") return "\\n";
    if (c === "\r") return "\\r";
    return `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`;
  });
}
