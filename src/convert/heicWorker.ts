import { parentPort } from "node:worker_threads";
import libheif from "libheif-js/wasm-bundle.js";
import { convertColours } from "./colour.js";
import type { HeicJob, HeicWorkerReply } from "./heicTypes.js";

// libheif compiled to wasm (libheif-js), one photo at a time on this thread. libheif applies the grid,
// irot/imir and clap boxes while decoding, so the pixels that come back are upright. For a conversion
// (`job.convert`) the pixels are copied out of the wasm heap with their colours converted on the way, in
// one pass (the same table as the native binding's); a photo with alpha is answered "alpha".
parentPort!.on("message", async (job: HeicJob) => {
  const reply = await decode(job);
  parentPort!.postMessage(reply, "data" in reply ? [reply.data.buffer as ArrayBuffer] : []);
});

async function decode(job: HeicJob): Promise<HeicWorkerReply> {
  await libheif.ready;
  const context = libheif.heif_context_alloc();
  let image: unknown;
  let handle: unknown;
  try {
    const read = libheif.heif_context_read_from_memory(context, job.buffer);
    if (read.code !== libheif.heif_error_code.heif_error_Ok) return corrupt(job, read.message);
    handle = libheif.heif_js_context_get_primary_image_handle(context);
    if (!handle || (handle as { code?: number }).code) return corrupt(job, "no primary image");
    const [width, height] = [libheif.heif_image_handle_get_width(handle), libheif.heif_image_handle_get_height(handle)];
    if (width * height > job.maxPixels)
      return { id: job.id, ok: false, code: "E_IMAGE_TOO_LARGE", message: `${width}x${height} pixels` };
    const alpha = Boolean(libheif.heif_image_handle_has_alpha_channel(handle));
    if (alpha && job.convert) return { id: job.id, ok: false, code: "E_HAS_ALPHA", message: "the picture has an alpha channel" };
    const chroma = alpha ? libheif.heif_chroma.heif_chroma_interleaved_RGBA : libheif.heif_chroma.heif_chroma_interleaved_RGB;
    const decoded = await libheif.heif_js_decode_image2(handle, libheif.heif_colorspace.heif_colorspace_RGB, chroma);
    if (!decoded || decoded.code) return corrupt(job, decoded?.message ?? "cannot be decoded");
    image = decoded.image;
    const plane = decoded.channels.find((c) => c.id === libheif.heif_channel.heif_channel_interleaved);
    if (!plane) return corrupt(job, "libheif returned no RGB plane");
    const channels = alpha ? 4 : 3;
    const row = plane.width * channels;
    const data = new Uint8Array(row * plane.height);
    for (let y = 0; y < plane.height; y++) {
      const from = plane.data.subarray(y * plane.stride, y * plane.stride + row);
      if (job.convert?.colour) convertColours(from, data.subarray(y * row, (y + 1) * row), job.convert.colour);
      else data.set(from, y * row);
    }
    return { id: job.id, ok: true, width: plane.width, height: plane.height, channels, data, room: 0 };
  } catch (err) {
    return corrupt(job, (err as Error)?.message ?? String(err));
  } finally {
    if (image) libheif.heif_image_release(image);
    if (handle) libheif.heif_image_handle_release(handle);
    libheif.heif_context_free(context);
  }
}

function corrupt(job: HeicJob, message: string): HeicWorkerReply {
  return { id: job.id, ok: false, code: "E_IMAGE_CORRUPT", message };
}
