/**
 * A record's own value for a key that came from the user (a file, folder, field or column name): never
 * one inherited from Object.prototype, so "toString" or "constructor" are ordinary names.
 */
export function own<V>(record: Readonly<Record<string, V>> | undefined, key: string): V | undefined {
  return record !== undefined && Object.hasOwn(record, key) ? record[key] : undefined;
}

/** Sets a record's own property, even for a key such as "__proto__" (plain assignment would not). */
export function setOwn<V>(record: Record<string, V>, key: string, value: V): void {
  Object.defineProperty(record, key, { value, enumerable: true, writable: true, configurable: true });
}
