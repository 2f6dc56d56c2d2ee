// §6 metadata values: the types a field may have and how text from a CSV becomes one of them.

export type FieldType = "text" | "number" | "boolean";
export type MetadataValue = string | number | boolean | null;

const TRUE = new Set(["true", "yes", "1"]);
const FALSE = new Set(["false", "no", "0"]);
const NUMBER = /^[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i;

/** §6 coercion: CSV text "12" -> 12, "yes" -> true, ... Undefined when the value cannot be that type. */
export function coerceValue(value: unknown, type: FieldType): string | number | boolean | undefined {
  switch (type) {
    case "text":
      return typeof value === "string"
        ? value
        : typeof value === "number" || typeof value === "boolean"
          ? String(value)
          : undefined;
    case "number":
      if (typeof value === "number") return Number.isFinite(value) ? value : undefined;
      return typeof value === "string" && NUMBER.test(value.trim()) ? Number(value.trim()) : undefined;
    case "boolean": {
      if (typeof value === "boolean") return value;
      if (value === 1 || value === 0) return value === 1;
      const text = typeof value === "string" ? value.trim().toLowerCase() : undefined;
      return text === undefined ? undefined : TRUE.has(text) ? true : FALSE.has(text) ? false : undefined;
    }
  }
}
