// SPEC §15: the photo checks' default thresholds, calibrated on real camera photos and degradations of
// them (bench/calibrate-checks.mjs; the measured rates are in docs/photo-checks.md). The config's
// images.checks.* take these as defaults; measures come from checks/measures.ts.

/**
 * Hashes at most this many bits apart are the same picture: 99.8 % of 4,485 copies of 345 real photos
 * (resized to 25 %, JPEG quality 50, cropped 2-5 % around, any EXIF orientation) were within it; no two
 * unrelated photos of 301 were (closest: 14); only re-shoots of one scene seconds apart and HDR on/off were.
 */
export const REUSE_MAX_DISTANCE = 10;

/**
 * Below this sharpness a picture is too blurred to be judged: it flagged every photo of 1024 px or more
 * blurred by sigma 0.5 % of its long edge (5 px at 1024 px), 99.4 % of 351 blurred by 1 %, and 3
 * originals (two blank frames, one blurred close-up). Not 0.5: the native decoder reads photos about 0.05
 * less sharp than libvips, and at 0.5 it flagged 6 of 125 originals where libvips flagged 4.
 */
export const BLUR_MIN_SHARPNESS = 0.45;

/** Nearly black: at least this fraction of pixels at luma <= 16 (night and low-key shots measured up to 0.85). */
export const DARK_FRACTION = 0.9;

/**
 * Nearly black too: even the brightest 1 % of the picture is at or below this luma. It flagged 97 % of 351
 * photos made 4.3 stops darker (x0.05) and, of the originals, only an underexposed interior and a dark
 * screenshot; night and low-key photos keep bright parts (71 and up).
 */
export const DARK_MAX_HIGHLIGHT = 64;

/**
 * Overexposed: at least this fraction of pixels at luma >= 240. Of the originals only a white page (0.99)
 * reached it; a product shot on white measured 0.75. It flagged 35 % of photos made 4.3 stops brighter.
 */
export const BRIGHT_FRACTION = 0.8;

export interface ExposureMeasure {
  /** fraction of pixels at luma <= 16 */
  dark: number;
  /** fraction of pixels at luma >= 240 */
  bright: number;
  /** the luma that 99 % of the pixels are at or below, when measured */
  highlight?: number;
}

export interface ExposureThresholds {
  darkFraction: number;
  darkMaxHighlight: number;
  brightFraction: number;
}

export const EXPOSURE_DEFAULTS: ExposureThresholds = {
  darkFraction: DARK_FRACTION,
  darkMaxHighlight: DARK_MAX_HIGHLIGHT,
  brightFraction: BRIGHT_FRACTION,
};

/** W_PHOTO_DARK: nearly black, or so under-exposed that nothing in it is brighter than a dark grey. */
export function isDark(e: ExposureMeasure, t: ExposureThresholds = EXPOSURE_DEFAULTS): boolean {
  return e.dark >= t.darkFraction || (e.highlight !== undefined && e.highlight <= t.darkMaxHighlight);
}

/** W_PHOTO_OVEREXPOSED: nearly white. */
export function isOverexposed(e: ExposureMeasure, t: ExposureThresholds = EXPOSURE_DEFAULTS): boolean {
  return e.bright >= t.brightFraction;
}

/** A photo captured more than this many days before the work order's date is old (images.checks.age). */
export const AGE_MAX_DAYS = 30;

/** A photo taken farther than this many metres from the site is far (images.checks.distance). */
export const DISTANCE_MAX_METRES = 1000;
