import type { PmActions, PmInput } from './types.js';

export interface Counts {
  /** Alive workers, stopping ones included: all count against pm.max_children. */
  running: number;
  starting: number;
  /** Ready workers with no load. */
  idle: number;
}

export function countWorkers({ workers }: PmInput): Counts {
  let starting = 0;
  let idle = 0;
  for (const worker of workers) {
    if (worker.phase === 'starting') starting++;
    else if (worker.phase === 'ready' && worker.idleSince !== null) idle++;
  }
  return { running: workers.length, starting, idle };
}

export function maxChildrenWarning(input: PmInput): string {
  return `server reached pm.max_children setting (${input.config.maxChildren}), consider raising it`;
}

/**
 * Spawns for connections already waiting, at once and one worker per waiting
 * connection (FPM forks one per event, bug #69724, and dynamic waits for its
 * tick), up to pm.max_children. Starting workers are already on their way.
 */
export function spawnForQueue(input: PmInput, counts: Counts): PmActions {
  const { config, queued, state } = input;
  const wanted = Math.max(0, queued - counts.starting);
  const room = Math.max(0, config.maxChildren - counts.running);
  const spawn = Math.min(wanted, room);
  const blocked = wanted > spawn;
  const newEpisode = blocked && !state.maxChildrenLatched;
  return {
    spawn,
    stop: [],
    state: { ...state, maxChildrenLatched: blocked ? true : spawn > 0 ? false : state.maxChildrenLatched },
    maxChildrenReached: newEpisode,
    warnings: newEpisode ? [maxChildrenWarning(input)] : [],
  };
}
