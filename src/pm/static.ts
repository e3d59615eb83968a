import type { PmActions, PmInput } from './types.js';

/** pm = static: always pm.max_children workers; a dead one is replaced at once. */
export function staticPm({ config, workers, state }: PmInput): PmActions {
  return {
    spawn: Math.max(0, config.maxChildren - workers.length),
    stop: [],
    state,
    maxChildrenReached: false,
    warnings: [],
  };
}
