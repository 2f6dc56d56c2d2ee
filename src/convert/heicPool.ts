import { Worker } from "node:worker_threads";
import type { HeicConverted, HeicDecoder, HeicJob, HeicReply, HeicWorkerReply, HeicPoolReply as Reply } from "./heicTypes.js";
import { loadSharp } from "./onFirstUse.js";

interface Pending {
  job: HeicJob;
  resolve: (reply: Reply) => void;
  reject: (err: Error) => void;
}

/**
 * HEIC decoding is libheif compiled to wasm: it blocks the thread it runs on, so it runs on worker
 * threads, at most `size` at once. A worker that dies fails its job and is replaced.
 */
export class HeicPool implements HeicDecoder {
  readonly name = "libheif compiled to wasm (libheif-js)";
  private readonly idle: Worker[] = [];
  private readonly busy = new Map<Worker, Pending>();
  private readonly queue: Pending[] = [];
  private workers = 0;
  private nextId = 1;
  private closed = false;

  constructor(private readonly size: number) {}

  async decode(buffer: Uint8Array, maxPixels: number): Promise<HeicReply> {
    const reply = await this.run({ buffer, maxPixels });
    if (!reply.ok && reply.code === "E_HAS_ALPHA") throw new Error("a decode never refuses alpha");
    return reply as HeicReply;
  }

  /**
   * The wasm decoder's share of a conversion: decoded, colours converted on the worker; the encoding is
   * libvips', as for every other format (the native binding does all three in C).
   */
  async convert(
    buffer: Uint8Array,
    maxPixels: number,
    quality: number,
    _file: string,
    colour: Float32Array | undefined,
  ): Promise<HeicConverted | undefined> {
    const reply = await this.run({ buffer, maxPixels, convert: { colour } });
    if (!reply.ok) return reply.code === "E_HAS_ALPHA" ? undefined : reply;
    const { width, height, data } = reply;
    const sharp = await loadSharp();
    const jpeg = await sharp(data, { raw: { width, height, channels: 3 } })
      .jpeg({ quality })
      .toBuffer();
    return { ok: true, width, height, jpeg };
  }

  private run(job: Omit<HeicJob, "id">): Promise<Reply> {
    if (this.closed) return Promise.reject(new Error("HeicPool is closed"));
    return new Promise((resolve, reject) => {
      this.queue.push({ job: { id: this.nextId++, ...job }, resolve, reject });
      this.dispatch();
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const p of this.queue.splice(0)) p.reject(new Error("HeicPool closed"));
    const all = [...this.idle.splice(0), ...this.busy.keys()];
    await Promise.all(all.map((w) => w.terminate()));
  }

  private dispatch(): void {
    while (this.queue.length) {
      const worker = this.idle.pop() ?? (this.workers < this.size ? this.spawn() : undefined);
      if (!worker) return;
      const pending = this.queue.shift()!;
      this.busy.set(worker, pending);
      worker.postMessage(pending.job);
    }
  }

  private spawn(): Worker {
    const worker = new Worker(new URL("./heicWorker.js", import.meta.url));
    this.workers++;
    worker.on("message", ({ id: _, ...reply }: HeicWorkerReply) => {
      const pending = this.busy.get(worker);
      this.busy.delete(worker);
      this.idle.push(worker);
      pending?.resolve(reply);
      this.dispatch();
    });
    worker.on("error", (err) => this.retire(worker, err));
    worker.on("exit", (code) => this.retire(worker, new Error(`HEIC decoder worker exited with code ${code}`)));
    return worker;
  }

  private retire(worker: Worker, err: Error): void {
    const pending = this.busy.get(worker);
    const wasKnown = pending !== undefined || this.idle.includes(worker);
    this.busy.delete(worker);
    const at = this.idle.indexOf(worker);
    if (at >= 0) this.idle.splice(at, 1);
    if (wasKnown) this.workers--;
    pending?.reject(err);
    if (!this.closed) this.dispatch();
  }
}
