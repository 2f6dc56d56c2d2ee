// SPEC §15: the photo checks' default thresholds, calibrated on real camera photos and degradations of
// them (bench/calibrate-checks.mjs; the measured rates are in docs/photo-checks.md). The config's
// images.checks.* take these as defaults; measures come from checks/measures.ts.

/**
 * Hashes at most this many bits apart are the same picture. Copies (resized to 25 %, JPEG quality 50,
 * cropped 2-5 % around, any EXIF orientation) measured <= 8 but for 5 of 2,000; the only distinct photos
 * this close were the same scene shot seconds apart (a re-shoot, HDR on and off).
 */
export const REUSE_MAX_DISTANCE = 10;

/**
 * Below this sharpness a picture is too blurred to be judged. No sharp original measured under 0.53 but a
 * blank one; a blur of sigma 0.5 % of the long edge (5 px at 1024 px) measured at most 0.37 on photos of
 * 1024 px or more, and of 1 % at most 0.46 on any.
 */
export const BLUR_MIN_SHARPNESS = 0.5;

/** Nearly black: at least this fraction of pixels at luma <= 16 (night shots measured up to 0.82). */
export const DARK_FRACTION = 0.9;

/**
 * Nearly black too: even the brightest 1 % of the picture is at or below this luma. Four stops under
 * (x0.05) measured at most 65; well-exposed photos, night and low-key ones included, 71 and up.
 */
export const DARK_MAX_HIGHLIGHT = 64;

/** Overexposed: at least this fraction of pixels at luma >= 240 (a white page with a logo measured 0.71). */
export const BRIGHT_FRACTION = 0.75;

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
