import type { PmActions, PmInput } from './types.js';

/** pm = static: always pm.max_children workers; a dead one is replaced. */
export function staticPm({ config, workers }: PmInput): PmActions {
  return { spawn: Math.max(0, config.maxChildren - workers.length), stop: [] };
}
