import { type ChildProcess, spawn } from "node:child_process";
import type { WatchStatus } from "../src/core/types.js";
import { HealthFile } from "../src/run/health.js";
import { WatchMetrics } from "../src/serve/metrics.js";
import { type StatusServer, type StatusServerOptions, startStatusServer } from "../src/serve/server.js";
import { BIN, waitFor } from "./helpers.js";

/** A quiet watch's status, as the health file starts it (nothing packed, a scan just done), for the status server. */
/** The status server alone on 127.0.0.1 (no watch behind it), serving `status` as it is at each request. */
export function serveStatus(status: () => WatchStatus, options: Partial<StatusServerOptions> = {}): Promise<StatusServer> {
  return startStatusServer({
    host: "127.0.0.1",
    port: 0,
    out: "/nonexistent",
    status,
    subscribe: () => () => undefined,
    metrics: new WatchMetrics(status),
    staleAfterMs: 180_000,
    ...options,
  });
}

/** A status server over a status the test changes: set() shows the next one on every live page at once. */
export async function serveLiveStatus<S extends object = WatchStatus>(
  first: S,
): Promise<{ server: StatusServer; set(next: S): void }> {
  let status = first;
  const listeners = new Set<() => void>();
  const server = await serveStatus(() => status as unknown as WatchStatus, {
    subscribe: (l) => {
      listeners.add(l);
      return () => listeners.delete(l);
    },
  });
  return {
    server,
    set(next) {
      status = next;
      for (const l of listeners) l();
    },
  };
}

export function quietStatus(folders = { staging: "/", out: "/" }): WatchStatus {
  return {
    ...new HealthFile(
      undefined,
      { ...folders, failedTo: null },
      () => new Date(),
      () => undefined,
    ).state,
    status: "idle",
    lastScanAt: new Date().toISOString(),
  };
}

export interface Event {
  event: string;
  message: string;
  workOrder?: string;
  workOrders?: string[];
  archive?: string;
  movedTo?: string;
}

/** A running `wopack watch --json`, its events parsed as they come. */
export class Watcher {
  readonly events: Event[] = [];
  readonly child: ChildProcess;
  stderr = "";
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;

  constructor(args: string[], env: Record<string, string> = {}) {
    this.child = spawn(process.execPath, [BIN, "watch", ...args, "--json"], {
      env: { ...process.env, NO_COLOR: "1", ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let buffer = "";
    this.child.stdout!.on("data", (d) => {
      buffer += d;
      for (let nl = buffer.indexOf("\n"); nl >= 0; nl = buffer.indexOf("\n")) {
        this.events.push(JSON.parse(buffer.slice(0, nl)) as Event);
        buffer = buffer.slice(nl + 1);
      }
    });
    this.child.stderr!.on("data", (d) => (this.stderr += d));
    this.exited = new Promise((resolve) => this.child.on("close", (code, signal) => resolve({ code, signal })));
  }

  /** The status server's address (watch run with --http), once watch said it started. */
  async serving(): Promise<string> {
    await this.until("started", (w) => w.events.some((e) => e.event === "started"));
    return String((this.events.find((e) => e.event === "started") as Event & { url: string }).url);
  }

  /** GET `route` on its status server: /state.json, /healthz as JSON. */
  async json<T>(route: string): Promise<T> {
    return (await (await fetch(`${await this.serving()}${route}`)).json()) as T;
  }

  /** A gauge of its /metrics, by name (NaN when it is not there). */
  async gauge(name: string): Promise<number> {
    const text = await (await fetch(`${await this.serving()}/metrics`)).text();
    return Number(new RegExp(`^${name} (\\d+)$`, "m").exec(text)?.[1]);
  }

  packedIds(): string[] {
    return this.events.filter((e) => e.event === "packed").flatMap((e) => e.workOrders ?? []);
  }

  async until(what: string, check: (w: Watcher) => boolean, deadlineMs = 60_000): Promise<void> {
    await waitFor(
      () => check(this),
      `${what}; events so far: ${this.events.map((e) => e.message).join(" | ")}; stderr: ${this.stderr}`,
      deadlineMs,
    );
  }

  /** Stops it; a watch that has not exited 30 s after the signal is killed, and that is a failure that says what it did. */
  async stop(signal: NodeJS.Signals = "SIGTERM") {
    this.child.kill(signal);
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<"late">((resolve) => {
      timer = setTimeout(() => resolve("late"), 30_000);
    });
    const ended = await Promise.race([this.exited, late]);
    clearTimeout(timer);
    if (ended !== "late") return ended;
    this.child.kill("SIGKILL");
    await this.exited;
    throw new Error(
      `watch did not exit within 30 s of ${signal}; events: ${this.events.map((e) => e.message).join(" | ")}; stderr: ${this.stderr}`,
    );
  }
}
