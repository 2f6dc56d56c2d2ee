import { compactPictures } from "../checks/pictureStore.js";
import { acquireLock } from "../commit/lock.js";
import { lockPath, tmpDir } from "../commit/paths.js";
import { recover } from "../commit/recovery.js";
import type { Clock } from "../core/clock.js";
import { ioError } from "../core/errors.js";
import type { Logger, Recovery } from "../core/types.js";

/**
 * Takes the lock on --out (exit 4 when another run has it) and repairs what an interrupted run left
 * (recover()). Watch mode holds this for its whole life; pack for one run.
 */
export async function openOutput(
  out: string,
  log: Logger,
  clock: Clock,
): Promise<{ recovery: Recovery; release(): Promise<void> }> {
  const lock = await acquireLock(lockPath(out), tmpDir(out), clock());
  try {
    const recovery = await recover(out, clock).catch((err) => {
      throw ioError(err, `cannot recover the state in ${out}`);
    });
    for (const a of recovery.adopted) log.info(`recovered: ${a} had been committed before an interruption`);
    for (const id of recovery.movesFinished) log.info(`recovered: finished moving ${id} to --move-to`);
    for (const p of recovery.skipped) log.warn(`${p.code}: ${p.message} (hint: ${p.hint})`);
    for (const f of recovery.leftBehind)
      log.warn(`recovered: ${f} was added or changed after its work order was packed; it stays in staging`);
    await compactPictures(out).catch((err) =>
      log.warn(
        `W_PICTURE_INDEX_NOT_COMPACTED: the index of packed pictures in ${out} could not be compacted (${(err as Error).message}); it stays as it was, and the next run tries again`,
      ),
    );
    return { recovery, release: () => lock.release() };
  } catch (err) {
    await lock.release();
    throw err;
  }
}
