/** Restart delays for workers that die before becoming ready. */
export const BACKOFF_BASE_MS = 100;
export const BACKOFF_MAX_MS = 30_000;

/**
 * Delay before the next start after `failures` consecutive start failures:
 * doubling from 100 ms, capped at 30 s — a broken deploy keeps being retried
 * (it may be fixed on disk) without spinning the CPU.
 */
export function restartDelay(failures: number): number {
  if (failures <= 0) return 0;
  return Math.min(BACKOFF_MAX_MS, BACKOFF_BASE_MS * 2 ** Math.min(failures - 1, 30));
}
