import { countWorkers, maxChildrenWarning, spawnForQueue } from './demand.js';
import type { PmActions, PmInput, WorkerView } from './types.js';

/** FPM warns once the spawn rate has doubled this far. */
const BUSY_WARNING_RATE = 8;

function idleLongest(workers: readonly WorkerView[]): WorkerView | undefined {
  let best: WorkerView | undefined;
  for (const worker of workers) {
    if (worker.phase !== 'ready' || worker.idleSince === null || worker.holdsUpgraded) continue;
    if (!best || worker.idleSince < best.idleSince!) best = worker;
  }
  return best;
}

/**
 * pm = dynamic, FPM's algorithm on each 1 s tick: above max_spare idle, stop
 * one (the one idle longest that holds no upgraded connection; FPM takes the
 * oldest-started); below min_spare,
 * spawn min(rate, min_spare − idle, max_children − running) with the rate
 * doubling up to pm.max_spawn_rate while spares stay short. Beyond FPM: waiting
 * connections spawn workers at once, on any event, without waiting for the tick;
 * and workers still starting count as spares, so a slow start does not overshoot.
 */
export function dynamicPm(input: PmInput): PmActions {
  const counts = countWorkers(input);
  const forQueue = spawnForQueue(input, counts);
  if (input.reason !== 'tick') return forQueue;

  const { config } = input;
  const running = counts.running + forQueue.spawn;
  const spares = counts.idle + counts.starting + forQueue.spawn;
  const state = { ...forQueue.state };
  const warnings = [...forQueue.warnings];
  let maxChildrenReached = forQueue.maxChildrenReached;

  if (counts.idle > config.maxSpareServers) {
    const victim = idleLongest(input.workers);
    return { ...forQueue, stop: victim ? [victim.id] : [], state: { ...state, spawnRate: 1 } };
  }
  if (spares >= config.minSpareServers) {
    return { ...forQueue, state: { ...state, spawnRate: 1 } };
  }
  const toSpawn = Math.min(state.spawnRate, config.minSpareServers - spares, config.maxChildren - running);
  if (toSpawn <= 0) {
    if (!state.maxChildrenLatched) {
      maxChildrenReached = true;
      warnings.push(maxChildrenWarning(input));
    }
    return { ...forQueue, warnings, maxChildrenReached, state: { ...state, maxChildrenLatched: true, spawnRate: 1 } };
  }
  // The pool probes one worker at a time while starts fail: a doubled rate
  // would only announce children that are not started.
  if (input.startsFailing) {
    return { ...forQueue, spawn: forQueue.spawn + toSpawn, warnings, maxChildrenReached, state: { ...state, spawnRate: 1 } };
  }
  if (state.spawnRate >= BUSY_WARNING_RATE) {
    warnings.push(
      `seems busy (you may need to increase pm.start_servers, or pm.min/max_spare_servers), ` +
        `spawning ${state.spawnRate} children, there are ${counts.idle} idle, and ${counts.running} total children`,
    );
  }
  return {
    spawn: forQueue.spawn + toSpawn,
    stop: [],
    warnings,
    maxChildrenReached,
    state: {
      maxChildrenLatched: false,
      spawnRate: state.spawnRate < config.maxSpawnRate ? state.spawnRate * 2 : state.spawnRate,
    },
  };
}
