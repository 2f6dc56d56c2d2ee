import type { Progress } from "../core/types.js";

/** A one-line progress bar on a TTY: photos done / total, MB/s, ETA. */
export function progressBar(stream: NodeJS.WriteStream): { update(p: Progress): void; clear(): void; done(): void } {
  const started = Date.now();
  let last = 0;
  let shown = false;
  return {
    update(p) {
      const now = Date.now();
      if (now - last < 100 && p.photosDone < p.photosTotal) return;
      last = now;
      const seconds = Math.max(0.001, (now - started) / 1000);
      const rate = p.bytesDone / 1e6 / seconds;
      const perPhoto = seconds / Math.max(1, p.photosDone);
      const eta = Math.round(perPhoto * (p.photosTotal - p.photosDone));
      const width = 24;
      const filled = p.photosTotal ? Math.round((p.photosDone / p.photosTotal) * width) : 0;
      const bar = "#".repeat(filled) + "-".repeat(width - filled);
      stream.write(`\r[${bar}] ${p.photosDone}/${p.photosTotal} photos  ${rate.toFixed(1)} MB/s  ETA ${formatSeconds(eta)}  `);
      shown = true;
    },
    /** off the line, for a log line; the next update draws it again */
    clear() {
      if (shown) stream.write("\r\x1b[K");
      shown = false;
      last = 0;
    },
    done() {
      if (shown) stream.write("\r\x1b[K");
      shown = false;
    },
  };
}

function formatSeconds(s: number): string {
  return s >= 60 ? `${Math.floor(s / 60)}m${String(s % 60).padStart(2, "0")}s` : `${s}s`;
}

/** Upload progress on a TTY: bytes confirmed by the platform, rate, ETA. */
export function uploadBar(stream: NodeJS.WriteStream): {
  update(p: { archive: string; sent: number; total: number }): void;
  clear(): void;
  done(): void;
} {
  let started = Date.now();
  let from = 0;
  let archive = "";
  let shown = false;
  return {
    update(p) {
      if (p.archive !== archive) [archive, started, from] = [p.archive, Date.now(), p.sent];
      const seconds = Math.max(0.001, (Date.now() - started) / 1000);
      const rate = (p.sent - from) / seconds;
      const eta = rate > 0 ? Math.round((p.total - p.sent) / rate) : 0;
      const pct = p.total ? Math.floor((p.sent / p.total) * 100) : 100;
      stream.write(
        `\r${p.archive}  ${pct}%  ${(p.sent / 1e6).toFixed(1)}/${(p.total / 1e6).toFixed(1)} MB  ${(rate / 1e6).toFixed(1)} MB/s  ETA ${formatSeconds(eta)}  `,
      );
      shown = true;
    },
    clear() {
      if (shown) stream.write("\r\x1b[K");
      shown = false;
    },
    done() {
      if (shown) stream.write("\r\x1b[K");
      shown = false;
    },
  };
}
