// The words people read for the photo checks (SPEC §15): the review page's badges and the status page's
// counts say the same thing for the same code or check.

/** The checks, as the config names them (images.checks.<name>). */
export type PhotoCheck = "reuse" | "duplicate" | "blur" | "exposure" | "age" | "distance";

/**
 * Each finding's code (the warning W_PHOTO_*, or the refusal's E_PHOTO_* twin): its words, one or two, and
 * the check it comes from.
 */
const BY_CODE: Record<string, { word: string; check: PhotoCheck }> = {
  REUSED: { word: "re-used", check: "reuse" },
  DUPLICATE: { word: "duplicate", check: "duplicate" },
  BLURRY: { word: "blurry", check: "blur" },
  DARK: { word: "dark", check: "exposure" },
  OVEREXPOSED: { word: "over-exposed", check: "exposure" },
  OLD: { word: "old", check: "age" },
  FAR: { word: "far", check: "distance" },
};

/** The checks as the config names them (images.checks.<name>). */
const BY_CHECK: Record<PhotoCheck, string> = {
  reuse: "re-used",
  duplicate: "duplicate",
  blur: "blurry",
  exposure: "dark or over-exposed",
  age: "old",
  distance: "far",
};

const CODE = /^[EW]_PHOTO_([A-Z]+)$/;

/** A finding's word ("W_PHOTO_REUSED" -> "re-used"); a code it does not know, as it is. */
export function findingWord(code: string): string {
  return BY_CODE[CODE.exec(code)?.[1] ?? ""]?.word ?? code;
}

/** The check a W_PHOTO_* or E_PHOTO_* code comes from (for counting), or undefined for any other code. */
export function checkOfCode(code: string): PhotoCheck | undefined {
  return BY_CODE[CODE.exec(code)?.[1] ?? ""]?.check;
}

/** Whether a code is one of the photo checks' findings. */
export function isFindingCode(code: string): boolean {
  return (CODE.exec(code)?.[1] ?? "") in BY_CODE;
}

/** Where a finding's word ranks (the known ones in the order above, then the rest). */
export function findingRank(code: string): number {
  const i = Object.keys(BY_CODE).indexOf(CODE.exec(code)?.[1] ?? "");
  return i < 0 ? Object.keys(BY_CODE).length : i;
}

/** A check's word ("blur" -> "blurry"); a name it does not know, as it is. */
export function checkWord(check: string): string {
  return Object.hasOwn(BY_CHECK, check) ? BY_CHECK[check as PhotoCheck] : check;
}

/** Where a check ranks (the config's order, then the rest). */
export function checkRank(check: string): number {
  const i = Object.keys(BY_CHECK).indexOf(check);
  return i < 0 ? Object.keys(BY_CHECK).length : i;
}
