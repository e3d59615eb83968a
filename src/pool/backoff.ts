/** Restart delays for workers that die before becoming ready. */
export const BACKOFF_BASE_MS = 100;
export const BACKOFF_MAX_MS = 30_000;
/**
 * Failed starts in a row after which a pool that has never served gives up
 * and `poold start` fails with the app's error: the first workers of a
 * static pool start together, so 3 of them failing is a broken app, not bad
 * luck; with one worker, the three attempts take about 0.3 s of backoff.
 */
export const START_FAILURE_LIMIT = 3;

/**
 * Delay before the next start after `failures` consecutive start failures:
 * doubling from 100 ms, capped at 30 s — a broken deploy keeps being retried
 * (it may be fixed on disk) without spinning the CPU.
 */
export function restartDelay(failures: number): number {
  if (failures <= 0) return 0;
  return Math.min(BACKOFF_MAX_MS, BACKOFF_BASE_MS * 2 ** Math.min(failures - 1, 30));
}
