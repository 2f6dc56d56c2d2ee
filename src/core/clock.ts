/**
 * The calendar clock: report and ledger times, archive names, readiness. One seam, so that tests can set
 * the time without sleeping. (Timer delays are real elapsed time and use performance.now().)
 */
export type Clock = () => Date;

export const systemClock: Clock = () => new Date();
