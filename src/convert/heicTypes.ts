// What the HEIC decoders (native binding, wasm worker pool) and their callers exchange.

export type HeicReply =
  | {
      ok: true;
      width: number;
      height: number;
      channels: 3 | 4;
      data: Uint8Array;
      /** bytes free in front of `data` in its buffer, for a file header (as asked, or 0) */
      room: number;
      /** decoded by the wasm decoder because the native one crashed on this file in an earlier run */
      afterCrash?: true;
    }
  | { ok: false; code: "E_IMAGE_TOO_LARGE" | "E_IMAGE_CORRUPT"; message: string };

/** Decodes a HEIC's primary image to upright 8-bit RGB(A) pixels. */
export interface HeicDecoder {
  readonly name: string;
  /** `file` (the photo's path) only names it for the crash guard; `room`: see HeicReply */
  decode(buffer: Uint8Array, maxPixels: number, file: string, room?: number): Promise<HeicReply>;
  close(): Promise<void>;
}

/** A job for the wasm worker, and its reply. */
export interface HeicJob {
  id: number;
  buffer: Uint8Array;
  maxPixels: number;
}

export type HeicWorkerReply = HeicReply & { id: number };
