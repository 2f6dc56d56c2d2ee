// Issue 21 §13: the status server's Host check holds on every loopback listener (127.0.0.0/8, ::1,
// ::ffff:127.x, names resolving there), whatever the spelling of the Host; an address that is not
// loopback needs WOPACK_HTTP_TOKEN, and a token is then required (Bearer, 401 otherwise) on every path
// but /healthz. Real servers on loopback addresses, requests sent byte for byte over raw sockets.
import { connect } from "node:net";
import fc from "fast-check";
import { afterAll, describe, expect, it } from "vitest";
import { canonicalHost, checkListen, isLoopbackAddress, type StatusServer } from "../../src/serve/server.js";
import { wopack, workspace } from "../helpers.js";
import { quietStatus, serveStatus, Watcher } from "../watcher.js";

// a quiet watch's status, as the health file starts it (nothing packed, a scan just done)
const status = quietStatus();

const servers: StatusServer[] = [];
afterAll(async () => {
  await Promise.all(servers.map((s) => s.close()));
});

async function serve(host: string, token?: string): Promise<{ server: StatusServer; port: number; address: string }> {
  const server = await serveStatus(() => status, { host, ...(token ? { token } : {}) });
  servers.push(server);
  const url = new URL(server.url);
  return { server, port: Number(url.port), address: url.hostname.replace(/^\[|\]$/g, "") };
}

/** One request written as raw bytes (the Host header exactly as given, or none); the status code back. */
function rawGet(address: string, port: number, host: string | undefined, path = "/state.json", extra: string[] = []) {
  return new Promise<{ status: number; text: string }>((resolve, reject) => {
    const socket = connect({ host: address, port });
    let text = "";
    socket.on("data", (d) => (text += d));
    socket.on("end", () => resolve({ status: Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1] ?? 0), text }));
    socket.on("error", reject);
    const head = [`GET ${path} HTTP/1.1`, ...(host === undefined ? [] : [`Host: ${host}`]), ...extra, "Connection: close"];
    socket.write(`${head.join("\r\n")}\r\n\r\n`); // (the server closes: a half-close before an async answer would drop it)
  });
}

/** Spellings of 127.0.0.1 that a URL parser (and a browser) reads as 127.0.0.1. */
const ipv4Spelling = fc.constantFrom("127.0.0.1", "127.1", "127.0.1", "0x7f.0.0.1", "0177.0.0.1", "2130706433", "0x7f000001");
const localhostSpelling = fc
  .tuple(fc.array(fc.boolean(), { minLength: 9, maxLength: 9 }), fc.boolean())
  .map(([upper, dot]) => [..."localhost"].map((c, i) => (upper[i] ? c.toUpperCase() : c)).join("") + (dot ? "." : ""));
const ipv6Loopback = fc.constantFrom("[::1]", "[0:0:0:0:0:0:0:1]", "[0::1]", "[0000::0001]");
const withPort = (host: fc.Arbitrary<string>, port: number) =>
  fc.tuple(host, fc.boolean()).map(([h, p]) => (p ? `${h}:${port}` : h));
/** Names that are not the server's: DNS rebinding comes as one of these (or something malformed). */
const stranger = fc.oneof(
  fc.domain().filter((d) => canonicalHost(d) !== "localhost"),
  fc.constantFrom(
    "attacker.example",
    "127.0.0.1.nip.io",
    "localhost.attacker.example",
    "user@127.0.0.1",
    "127.0.0.1/x",
    "",
    "[::2]",
    "10.0.0.1",
    "0.0.0.0",
    "[::]",
    "127.0.0.1:80:80",
  ),
);

// every listener here is a loopback address; ::1 and ::ffff: only where the machine has IPv6
const listeners: { host: string; spellings: string[] }[] = [
  { host: "127.0.0.1", spellings: ["127.0.0.1", "127.1"] },
  { host: "127.1", spellings: ["127.1", "127.0.0.1", "0x7f.1"] },
  { host: "127.0.0.2", spellings: ["127.0.0.2", "127.2", "0x7f000002"] },
  { host: "localhost", spellings: ["localhost"] },
  { host: "::1", spellings: ["[::1]", "[0:0::1]"] },
  { host: "::ffff:127.0.0.1", spellings: ["[::ffff:127.0.0.1]", "[::ffff:7f00:1]"] },
];

describe("the Host check on every loopback listener", () => {
  for (const l of listeners) {
    it(`--http ${l.host}: its own names in any spelling are served, every other Host is 421`, async () => {
      let s: Awaited<ReturnType<typeof serve>>;
      try {
        s = await serve(l.host);
      } catch (err) {
        // (a machine without IPv6 cannot listen on ::1; the IPv4 rows still run)
        if (/EADDRNOTAVAIL|EAFNOSUPPORT/.test(String((err as Error).message))) return;
        throw err;
      }
      const { address, port } = s;
      const own = fc.oneof(ipv4Spelling, localhostSpelling, ipv6Loopback, fc.constantFrom(...l.spellings));
      await fc.assert(
        fc.asyncProperty(withPort(own, port), async (host) => {
          expect((await rawGet(address, port, host)).status, host).toBe(200);
        }),
        { numRuns: 40 },
      );
      await fc.assert(
        fc.asyncProperty(withPort(stranger, port), async (host) => {
          expect((await rawGet(address, port, host)).status, host).toBe(421);
        }),
        { numRuns: 40 },
      );
      expect((await rawGet(address, port, undefined)).status).toBe(400); // (HTTP/1.1 without Host: Node refuses it)
      for (const path of ["/", "/events", "/metrics", "/healthz", "/review/x.html"])
        expect((await rawGet(address, port, "attacker.example", path)).status, path).toBe(421);
    });
  }

  it("loopback is 127.0.0.0/8, ::1 and ::ffff:127.x in any spelling; nothing else", () => {
    for (const a of ["127.0.0.1", "127.255.255.254", "::1", "0:0:0:0:0:0:0:1", "::ffff:127.0.0.1", "::ffff:7f01:203"])
      expect(isLoopbackAddress(a), a).toBe(true);
    for (const a of ["0.0.0.0", "::", "10.0.0.1", "128.0.0.1", "::2", "::ffff:10.0.0.1", "localhost", "fe80::1"])
      expect(isLoopbackAddress(a), a).toBe(false);
  });
});

describe("an address that is not loopback needs WOPACK_HTTP_TOKEN", () => {
  it("checkListen refuses 0.0.0.0, ::, a LAN address without a token (exit-2 class, code and hint); loopback names pass", async () => {
    for (const host of ["0.0.0.0", "::", "10.1.2.3", "192.168.1.20"]) {
      const err = await checkListen({ host }).catch((e: unknown) => e);
      expect(err, host).toMatchObject({
        kind: "usage",
        code: "E_HTTP_TOKEN_MISSING",
        hint: expect.stringMatching(/WOPACK_HTTP_TOKEN/),
      });
      await expect(checkListen({ host, token: "t0k3n-long-enough" })).resolves.toBeUndefined();
    }
    for (const host of ["127.0.0.1", "127.9.9.9", "::1", "localhost"])
      await expect(checkListen({ host })).resolves.toBeUndefined();
    // a token too short to be a lock is refused wherever it is given (its value is not told)
    for (const host of ["0.0.0.0", "127.0.0.1"]) {
      const err = await checkListen({ host, token: "hunter2hunter2" }).catch((e: unknown) => e);
      expect(err).toMatchObject({ kind: "usage", code: "E_HTTP_TOKEN_WEAK" });
      expect(JSON.stringify(err) + String((err as Error).message)).not.toContain("hunter2");
    }
  });

  it("wopack watch --http 0.0.0.0:P without the token: exit 2 with the code and hint, before anything starts", async () => {
    const ws = await workspace();
    const r = await wopack(["watch", ws.staging, "--out", ws.out, "--http", "0.0.0.0:0"], { env: { WOPACK_HTTP_TOKEN: "" } });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/E_HTTP_TOKEN_MISSING[\s\S]*WOPACK_HTTP_TOKEN/);
  });

  it("with a token: every path but /healthz wants Authorization: Bearer <token> (401 with WWW-Authenticate otherwise); the token is in no output", async () => {
    const token = "s3cr3t-7b1f0c2e9a4d6e8f";
    const ws = await workspace();
    const w = new Watcher([ws.staging, "--out", ws.out, "--settle", "200ms", "--http", "127.0.0.1:0"], {
      WOPACK_HTTP_TOKEN: token,
    });
    try {
      await w.until("started", (x) => x.events.some((e) => e.event === "started"));
      const port = Number(new URL(String((w.events[0] as unknown as { url: string }).url)).port);
      const get = (path: string, auth?: string) =>
        rawGet("127.0.0.1", port, `127.0.0.1:${port}`, path, auth === undefined ? [] : [`Authorization: ${auth}`]);
      for (const path of ["/", "/state.json", "/events?x", "/metrics", "/status.js", "/review/a.html", "/nope"]) {
        for (const auth of [
          undefined,
          "Bearer",
          "Bearer wrong",
          `Basic ${token}`,
          `Bearer ${token}x`,
          `Bearer ${token.slice(0, -1)}`,
        ]) {
          const r = await get(path, auth);
          expect(r.status, `${path} ${auth}`).toBe(401);
          expect(r.text).toMatch(/WWW-Authenticate: Bearer/i);
          expect(r.text).not.toContain(token);
        }
      }
      expect((await get("/state.json", `Bearer ${token}`)).status).toBe(200);
      expect((await get("/state.json", `bearer   ${token}`)).status).toBe(200);
      const hz = await get("/healthz");
      expect(hz.status, hz.text).toBe(200);
      const state = await get("/state.json", `Bearer ${token}`);
      expect(state.text).not.toContain(token);
      const metrics = await get("/metrics", `Bearer ${token}`);
      expect(metrics.text).not.toContain(token);
    } finally {
      await w.stop();
    }
    expect(JSON.stringify(w.events) + w.stderr).not.toContain(token);
  });
});
