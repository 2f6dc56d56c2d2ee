// watch --http's /metrics: Prometheus text format through prom-client, fed by watch's events (counters)
// and read from its status when scraped (gauges). A registry of its own: nothing global.
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from "prom-client";
import type { Problem } from "../core/errors.js";
import type { WatchEvent, WatchStatus } from "../core/types.js";
import { checkOfCode } from "../spec/findingWords.js";
import { waitingToRetry } from "./uploadWaits.js";

export class WatchMetrics {
  readonly registry = new Registry();
  private readonly photos: Counter;
  private readonly workOrders: Counter<"result">;
  private readonly archives: Counter;
  private readonly bytes: Counter;
  private readonly duration: Histogram;
  private readonly conversions: Counter<"format">;
  private readonly errors: Counter<"code">;
  private readonly photoChecks: Counter<"check" | "outcome">;
  /** /events clients dropped because they did not read, or refused because too many were connected */
  readonly eventClientsTurnedAway: Counter<"why">;
  /** the server tells how many /events clients it holds (read when scraped) */
  eventClients: () => number = () => 0;

  constructor(status: () => WatchStatus) {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry });
    this.photos = new Counter({ name: "wopack_photos_packed_total", help: "Photos packed into committed archives", registers });
    this.workOrders = new Counter({
      name: "wopack_work_orders_total",
      help: "Work orders packed or refused",
      labelNames: ["result"],
      registers,
    });
    this.workOrders.inc({ result: "packed" }, 0);
    this.workOrders.inc({ result: "refused" }, 0);
    this.archives = new Counter({ name: "wopack_archives_total", help: "Archives committed", registers });
    this.bytes = new Counter({ name: "wopack_bytes_written_total", help: "Bytes of committed archives", registers });
    this.duration = new Histogram({
      name: "wopack_archive_duration_seconds",
      help: "Time from an archive's first work order to its commit",
      buckets: [1, 5, 15, 60, 300, 900, 3600],
      registers,
    });
    this.conversions = new Counter({
      name: "wopack_conversions_total",
      help: "Photos converted to JPEG, by source format",
      labelNames: ["format"],
      registers,
    });
    this.errors = new Counter({ name: "wopack_errors_total", help: "Errors reported, by code", labelNames: ["code"], registers });
    this.photoChecks = new Counter({
      name: "wopack_photo_checks_total",
      help: "Photos judged by each photo check (SPEC §15): passed, warned of (packed with a W_PHOTO_* warning) or refused (E_PHOTO_*, one per problem)",
      labelNames: ["check", "outcome"],
      registers,
    });
    this.eventClientsTurnedAway = new Counter({
      name: "wopack_http_event_clients_turned_away_total",
      help: "Status-page event streams dropped (the client did not read) or refused (too many at once)",
      labelNames: ["why"],
      registers,
    });
    this.eventClientsTurnedAway.inc({ why: "not_reading" }, 0);
    this.eventClientsTurnedAway.inc({ why: "too_many" }, 0);
    const metrics = this;
    new Gauge({
      name: "wopack_http_event_clients",
      help: "Status-page event streams open now",
      registers,
      collect() {
        this.set(metrics.eventClients());
      },
    });
    const gauge = (name: string, help: string, read: (s: WatchStatus) => number | undefined) =>
      new Gauge({
        name,
        help,
        registers,
        collect() {
          const value = read(status());
          if (value !== undefined) this.set(value);
        },
      });
    gauge("wopack_queue_depth", "Work orders seen in staging and not ready yet", (s) => s.waiting.length);
    gauge("wopack_photos_in_progress", "Photos of the pass in progress not done yet", (s) =>
      s.inProgress ? s.inProgress.photosTotal - s.inProgress.photosDone : 0,
    );
    gauge("wopack_last_scan_timestamp_seconds", "When the staging folder was last scanned successfully", (s) =>
      s.lastScanAt ? Date.parse(s.lastScanAt) / 1000 : undefined,
    );
    gauge("wopack_up", "1 while passes succeed, 0 while they fail (e.g. the staging folder is unreachable)", (s) =>
      s.status === "error" ? 0 : 1,
    );
    new Gauge({
      name: "wopack_uploads",
      help: "Archives of this session uploaded, failed tries, queued for upload, and waiting to be tried again (with --upload): a failed one, or the one being sent while a request of it waits",
      labelNames: ["state"],
      registers,
      collect() {
        const uploads = status().uploads;
        if (!uploads) return;
        for (const state of ["uploaded", "failed", "queued"] as const) this.set({ state }, uploads[state]);
        this.set({ state: "retrying" }, waitingToRetry(uploads).length);
      },
    });
    gauge(
      "wopack_upload_paused_until_seconds",
      "Until when (Unix time) no upload is sent because the platform asked to wait (Retry-After); 0 when not paused (with --upload)",
      (s) => (s.uploads ? (s.uploads.pausedUntil ? Date.parse(s.uploads.pausedUntil) / 1000 : 0) : undefined),
    );
    gauge(
      "wopack_uploads_attention",
      "Archives that need a person (with --upload): the platform keeps a batch that may hold part of them and would not delete it; not sent until wopack upload <out> <archive> --attention-cleared",
      (s) => s.uploads?.attention.length,
    );
    gauge(
      "wopack_uploads_not_moved",
      "Archives uploaded and waiting in --out for the folder --uploaded-to names (with --upload): missing, an empty folder that is not the one earlier archives went into (a disk not mounted), a link there; moved once it is back",
      (s) => (s.uploads ? (s.uploads.notMoved?.length ?? 0) : undefined),
    );
  }

  onEvent(e: WatchEvent): void {
    if (e.event === "packed") {
      const photos = Number(e.photos ?? 0);
      this.photos.inc(photos);
      this.archives.inc();
      this.workOrders.inc({ result: "packed" }, (e.workOrders as unknown[] | undefined)?.length ?? 0);
      this.bytes.inc(Number(e.bytes ?? 0));
      if (typeof e.durationMs === "number") this.duration.observe(e.durationMs / 1000);
      for (const [format, n] of Object.entries((e.conversions as Record<string, number> | undefined) ?? {}))
        this.conversions.inc({ format }, n);
      const checks = (e.photoChecks as Record<string, { passed: number; warned: number }> | undefined) ?? {};
      for (const [check, { passed, warned }] of Object.entries(checks)) {
        this.photoChecks.inc({ check, outcome: "passed" }, passed);
        this.photoChecks.inc({ check, outcome: "warned" }, warned);
      }
    } else if (e.event === "refused") {
      this.workOrders.inc({ result: "refused" });
      for (const p of (e.problems as Problem[] | undefined) ?? []) {
        const check = p.code.startsWith("E_PHOTO_") ? checkOfCode(p.code) : undefined;
        if (check) this.photoChecks.inc({ check, outcome: "refused" });
      }
    } else if (e.event === "error") {
      this.errors.inc({ code: typeof e.code === "string" ? e.code : "E_UNKNOWN" });
    }
  }

  text(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}
