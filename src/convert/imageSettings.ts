// How photos are normalized (SPEC §7): the config's `images` section as the conversion stages take it.
import type { PixelBudget } from "./pixelBudget.js";

export interface ImageSettings {
  quality: number;
  maxImageSize: number;
  maxDimension?: number | undefined;
  maxPixels: number;
  stripGps: boolean;
  /** "pixels": JPEGs and PNGs are decoded (convert/pixels.ts); "structure": judged by their bytes only */
  verify: "pixels" | "structure";
  /** the run's pixels converted at once (none: as many as come) */
  budget?: PixelBudget | undefined;
}
