// Text into the review page's HTML: every user-controlled string goes through these.

const ESCAPES: Record<string, string> = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" };

/** Text for HTML content and attribute values (always double-quoted here). */
export function esc(text: unknown): string {
  return String(text).replace(/[&<>"']/g, (c) => ESCAPES[c]!);
}

/** A path as text that wraps only after "/" and "_", never inside a word. */
export function pathText(text: string): string {
  return esc(text).replace(/[/_]/g, "$&<wbr>");
}

/** An id attribute from user text: ids are letters, digits, _ and -, but refused ones may be anything. */
export function anchor(prefix: string, id: string): string {
  return `${prefix}-${Buffer.from(id).toString("hex")}`;
}
