// SPEC §15: the photo checks' default thresholds, calibrated on real camera photos and degradations of
// them (bench/calibrate-checks.mjs; the measured rates are in docs/photo-checks.md). The config's
// images.checks.* take these as defaults.

/** Hashes at most this many bits apart are the same picture (first version: pHash's usual; to calibrate). */
export const REUSE_MAX_DISTANCE = 10;

/** A picture with sharpness below this is too blurred to be judged (first version: to calibrate). */
export const BLUR_MIN_SHARPNESS = 0.5;

/** A picture with at least this fraction of nearly black pixels (luma <= 16) is too dark to be judged. */
export const DARK_FRACTION = 0.85;

/** A picture with at least this fraction of nearly white pixels (luma >= 240) is overexposed. */
export const BRIGHT_FRACTION = 0.85;

/** A photo captured more than this many days before the work order's date is old (images.checks.age). */
export const AGE_MAX_DAYS = 30;

/** A photo taken farther than this many metres from the site is far (images.checks.distance). */
export const DISTANCE_MAX_METRES = 1000;
