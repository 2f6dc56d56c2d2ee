// --http's value, read without loading the server (the CLI checks it before anything starts).

/** `host:port`, `[v6]:port` or a port alone (then loopback). */
export function parseListen(value: string): { host: string; port: number } | undefined {
  const m = /^(?:(?:\[([0-9a-fA-F:.]+)\]|([^:[\]]+)):)?(\d{1,5})$/.exec(value.trim());
  if (!m) return undefined;
  const port = Number(m[3]);
  if (port > 65_535) return undefined;
  return { host: m[1] ?? m[2] ?? "127.0.0.1", port };
}
