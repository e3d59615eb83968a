// Reading a running pool's scoreboard from a test, the way `poold status` does:
// the file is found by the master's pid and the pool's name.
import { existsSync } from 'node:fs';
import { readScoreboard, scoreboardPath, type ScoreboardSnapshot } from '../../src/scoreboard/file.js';
import type { Slot } from '../../src/scoreboard/layout.js';
import type { RunningPoold } from './poold.js';

/** `/dev/shm/poold-<masterpid>-<pool>.scoreboard` (or under $RUNTIME_DIRECTORY, as the master does). */
export function scoreboardFile(poold: RunningPoold, pool = 'www'): string {
  return scoreboardPath(poold.pid, pool);
}

/** The pool's scoreboard now, or null while the file does not exist or cannot be read consistently. */
export function board(poold: RunningPoold, pool = 'www'): ScoreboardSnapshot | null {
  const file = scoreboardFile(poold, pool);
  if (!existsSync(file)) return null;
  try {
    return readScoreboard(file);
  } catch {
    return null;
  }
}

/** Slots owned by a worker (neither free nor merely reserved for one that is starting). */
export function workerSlots(snapshot: ScoreboardSnapshot | null): Slot[] {
  return (snapshot?.slots ?? []).filter((slot) => slot.state !== 'Free' && slot.pid > 0);
}

export function slotsIn(snapshot: ScoreboardSnapshot | null, state: Slot['state']): Slot[] {
  return workerSlots(snapshot).filter((slot) => slot.state === state);
}
