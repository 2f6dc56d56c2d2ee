import { parentPort } from "node:worker_threads";
import decode from "heic-decode";
import type { HeicJob, HeicWorkerReply } from "./heicTypes.js";

// libheif applies the irot/imir transforms while decoding, so the pixels that come back are upright.
parentPort!.on("message", async (job: HeicJob) => {
  let reply: HeicWorkerReply;
  let images: Awaited<ReturnType<typeof decode.all>> | undefined;
  try {
    images = await decode.all({ buffer: job.buffer });
    const primary = images[0]!;
    if (primary.width * primary.height > job.maxPixels) {
      reply = { id: job.id, ok: false, code: "E_IMAGE_TOO_LARGE", message: `${primary.width}x${primary.height} pixels` };
    } else {
      const { width, height, data } = await primary.decode();
      const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
      reply = { id: job.id, ok: true, width, height, channels: 4, data: bytes, room: 0 };
    }
  } catch (err) {
    reply = { id: job.id, ok: false, code: "E_IMAGE_CORRUPT", message: (err as Error)?.message ?? String(err) };
  } finally {
    images?.dispose();
  }
  parentPort!.postMessage(reply, reply.ok ? [reply.data.buffer as ArrayBuffer] : []);
});
