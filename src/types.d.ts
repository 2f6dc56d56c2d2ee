// libheif compiled to wasm, as libheif-js bundles it: the calls convert/heicWorker.ts makes.
declare module "libheif-js/wasm-bundle.js" {
  type Handle = unknown;
  interface Plane {
    id: number;
    width: number;
    height: number;
    stride: number;
    /** a view into the wasm heap: valid until the image is released */
    data: Uint8Array;
  }
  const libheif: {
    ready: Promise<void>;
    heif_error_code: { heif_error_Ok: number };
    heif_colorspace: { heif_colorspace_RGB: number };
    heif_chroma: { heif_chroma_interleaved_RGB: number; heif_chroma_interleaved_RGBA: number };
    heif_channel: { heif_channel_interleaved: number };
    heif_context_alloc(): Handle;
    heif_context_free(context: Handle): void;
    heif_context_read_from_memory(context: Handle, bytes: Uint8Array): { code: number; message: string };
    heif_js_context_get_primary_image_handle(context: Handle): Handle | { code: number };
    heif_image_handle_get_width(handle: Handle): number;
    heif_image_handle_get_height(handle: Handle): number;
    heif_image_handle_has_alpha_channel(handle: Handle): number;
    heif_image_handle_release(handle: Handle): void;
    heif_js_decode_image2(
      handle: Handle,
      colorspace: number,
      chroma: number,
    ): Promise<{ code?: number; message?: string; image: Handle; channels: Plane[] } | undefined>;
    heif_image_release(image: Handle): void;
  };
  export default libheif;
}
