// The words people read for the photo checks (SPEC §15): the review page's badges and the status page's
// counts say the same thing for the same code or check.

/** Each finding's code (the warning W_PHOTO_*, or the refusal's E_PHOTO_* twin) as one word or two. */
const BY_CODE: Record<string, string> = {
  REUSED: "re-used",
  DUPLICATE: "duplicate",
  BLURRY: "blurry",
  DARK: "dark",
  OVEREXPOSED: "over-exposed",
  OLD: "old",
  FAR: "far",
};

/** The checks as the config names them (images.checks.<name>). */
const BY_CHECK: Record<string, string> = {
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
  return BY_CODE[CODE.exec(code)?.[1] ?? ""] ?? code;
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
  return Object.hasOwn(BY_CHECK, check) ? BY_CHECK[check]! : check;
}

/** Where a check ranks (the config's order, then the rest). */
export function checkRank(check: string): number {
  const i = Object.keys(BY_CHECK).indexOf(check);
  return i < 0 ? Object.keys(BY_CHECK).length : i;
}
