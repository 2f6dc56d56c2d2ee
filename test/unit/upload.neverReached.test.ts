// A batch creation that never reached the platform made no batch there, so it is no W_BATCH_MAYBE_MADE: a
// TLS handshake that failed (a certificate wopack does not trust: a proxy's, an expired one) sends no request.
// One whose request was read and then lost its answer may have made one (the control rows).
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { createServer as createHttpServer, type Server } from "node:http";
import { createServer as createHttpsServer } from "node:https";
import type { AddressInfo } from "node:net";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { httpApi } from "../../src/upload/protocol.js";
import { tempDir } from "../helpers.js";

async function listening(server: Server): Promise<string> {
  await new Promise<void>((ok) => server.listen(0, "127.0.0.1", ok));
  return String((server.address() as AddressInfo).port);
}

async function selfSigned(): Promise<{ key: Buffer; cert: Buffer }> {
  const dir = await tempDir();
  const [key, cert] = [path.join(dir, "key.pem"), path.join(dir, "cert.pem")];
  execFileSync(
    "openssl",
    ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=localhost", "-days", "1", "-keyout", key, "-out", cert],
    {
      stdio: "ignore",
    },
  );
  return { key: readFileSync(key), cert: readFileSync(cert) };
}

describe("a batch creation that failed: may the platform have made the batch?", () => {
  const rows: { what: string; serve: () => Promise<{ server: Server; base: string }>; lost: boolean }[] = [
    {
      what: "a certificate wopack does not trust (self-signed): the handshake failed, no request sent",
      serve: async () => {
        const server = createHttpsServer(await selfSigned(), (_, res) => res.end("{}"));
        return { server, base: `https://127.0.0.1:${await listening(server)}/v0.2` };
      },
      lost: false,
    },
    {
      what: "a certificate for another name: the same",
      serve: async () => {
        const server = createHttpsServer(await selfSigned(), (_, res) => res.end("{}"));
        return { server, base: `https://localhost:${await listening(server)}/v0.2` };
      },
      lost: false,
    },
    {
      what: "the request read, then the connection dropped: it may have made one",
      serve: async () => {
        const server = createHttpServer((req) => req.on("end", () => req.socket.destroy()).resume());
        return { server, base: `http://127.0.0.1:${await listening(server)}/v0.2` };
      },
      lost: true,
    },
    {
      what: "the request read, then a 500: it may have made one",
      serve: async () => {
        const server = createHttpServer((req, res) => req.on("end", () => res.writeHead(500).end()).resume());
        return { server, base: `http://127.0.0.1:${await listening(server)}/v0.2` };
      },
      lost: true,
    },
  ];
  it.for(rows.map((r) => [r.what, r] as const))("%s", async ([, row]) => {
    const { server, base } = await row.serve();
    try {
      const r = await httpApi(base, "wk_never_reached", { timeoutMs: 10_000 }).createBatch("batch-x");
      expect(r).toMatchObject({ ok: false, kind: "retry" });
      expect(!r.ok && r.kind === "retry" && r.lost === true, JSON.stringify(r)).toBe(row.lost);
    } finally {
      server.closeAllConnections?.();
      await new Promise((ok) => server.close(ok));
    }
  });
});
