import { countWorkers, spawnForQueue } from './demand.js';
import type { PmActions, PmInput } from './types.js';

/**
 * pm = ondemand: no worker until a connection waits for one; then one per
 * waiting connection. On each tick, every worker idle longer than
 * pm.process_idle_timeout is stopped (FPM stops only the oldest, one per tick),
 * unless it holds upgraded connections.
 */
export function ondemandPm(input: PmInput): PmActions {
  const actions = spawnForQueue(input, countWorkers(input));
  if (input.reason !== 'tick') return actions;
  const cutoff = input.now - input.config.processIdleTimeout;
  const stop = input.workers
    .filter((worker) => worker.phase === 'ready' && worker.idleSince !== null && worker.idleSince < cutoff && !worker.holdsUpgraded)
    .map((worker) => worker.id);
  return { ...actions, stop };
}
