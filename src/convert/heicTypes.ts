// What the HEIC decoders (native binding, wasm worker pool) and their callers exchange.

/** A photo the decoder could not take: too many pixels, or not decodable. */
export type HeicFailure = { ok: false; code: "E_IMAGE_TOO_LARGE" | "E_IMAGE_CORRUPT"; message: string };

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
  | HeicFailure;

export type HeicConverted =
  | {
      ok: true;
      width: number;
      height: number;
      jpeg: Buffer;
      /** its thumbnail with the photo checks' measures, made from the decoded picture, when asked for */
      thumbnail?: NativeThumbnail;
    }
  | HeicFailure;

/** Decodes a HEIC's primary image to upright 8-bit RGB(A) pixels. */
export interface HeicDecoder {
  readonly name: string;
  /** `file` (the photo's path) only names it for the crash guard; `room`: see HeicReply */
  decode(buffer: Uint8Array, maxPixels: number, file: string, room?: number): Promise<HeicReply>;
  /**
   * Where the decoder can, the whole conversion at once: decoded, colours converted by `colour`
   * (convert/colour.ts), encoded as a JPEG without metadata. Undefined when the photo needs `decode`
   * instead (it has alpha; the native decoder crashed on it before).
   */
  convert?(
    buffer: Uint8Array,
    maxPixels: number,
    quality: number,
    file: string,
    colour: Float32Array | undefined,
    /** the thumbnail wanted too (a decoder that cannot make it gives none) */
    thumbnail?: { edge: number; quality: number },
  ): Promise<HeicConverted | undefined>;
  close(): Promise<void>;
}

/** A job for the wasm worker, and its reply. */
export interface HeicJob {
  id: number;
  buffer: Uint8Array;
  maxPixels: number;
  /** a conversion: no alpha, and the colours converted by `colour` (convert/colour.ts) if given */
  convert?: { colour: Float32Array | undefined };
}

/** What the worker answers: a decode's reply, or that a conversion met alpha (it goes the general way). */
export type HeicPoolReply = HeicReply | { ok: false; code: "E_HAS_ALPHA"; message: string };

export type HeicWorkerReply = HeicPoolReply & { id: number };

/** A JPEG's thumbnail as the binding makes it (native/thumbnail.c) */
export interface NativeThumbnail {
  width: number;
  height: number;
  orientation: number;
  jpeg: ArrayBuffer;
  /** the thumbnail in greyscale, when asked for (absent from a binding built before it) */
  gray?: ArrayBuffer;
  grayWidth?: number;
  grayHeight?: number;
  /** its measures, when asked for (absent from a binding built before them) */
  measures?: PictureNumbers;
  warnings: string[];
}

/**
 * The photo checks' measures of a thumbnail's greyscale picture as the binding takes them on its own thread
 * (native/measures.c): checks/measures.ts' MeasuredPicture, the same definitions to the last bit.
 */
export interface PictureNumbers {
  hash: bigint;
  sharpness: number;
  flat: boolean;
  exposure: { mean: number; dark: number; bright: number; highlight: number };
}
