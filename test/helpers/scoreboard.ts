// Reading a running pool's scoreboard from a test. It is a memfd the master
// holds, not a file: the test (the master's user) reaches it through
// /proc/<master pid>/fd, as only its user and root can.
import { closeSync, fstatSync, openSync, readdirSync, readlinkSync, readSync } from 'node:fs';
import { readSlots, type ScoreboardSnapshot } from '../../src/scoreboard/file.js';
import { HEADER_SIZE, decodeHeader, type PoolHeader, type Slot } from '../../src/scoreboard/layout.js';
import type { RunningPoold } from './poold.js';

/** What /proc/PID/fd/N links to for a pool's scoreboard (native/map.c names its memfds). */
export function scoreboardLink(pool: string): string {
  return `/memfd:poold-scoreboard:${pool} (deleted)`;
}

/** The master's descriptors of `pool`'s scoreboards, as /proc paths (more than one during a reload that grew it). */
export function scoreboardFds(masterPid: number, pool: string): string[] {
  const dir = `/proc/${masterPid}/fd`;
  const found: string[] = [];
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  for (const name of names) {
    try {
      if (readlinkSync(`${dir}/${name}`) === scoreboardLink(pool)) found.push(`${dir}/${name}`);
    } catch {
      // closed meanwhile
    }
  }
  return found;
}

/** The pool's current scoreboard: the largest, when a reload that grew it left the old one open. */
export function scoreboardFile(poold: RunningPoold, pool = 'www'): string | null {
  let best: { file: string; size: number } | null = null;
  for (const file of scoreboardFds(poold.pid, pool)) {
    try {
      const fd = openSync(file, 'r');
      const size = fstatSync(fd).size;
      closeSync(fd);
      if (!best || size > best.size) best = { file, size };
    } catch {
      // closed meanwhile
    }
  }
  return best?.file ?? null;
}

/** The header as written into the scoreboard (null: torn or never written), and every slot. */
export function readScoreboard(file: string): ScoreboardSnapshot | null {
  const fd = openSync(file, 'r');
  try {
    const head = Buffer.alloc(HEADER_SIZE);
    let header: PoolHeader | null = null;
    for (let attempt = 0; attempt < 50 && !header; attempt++) {
      readSync(fd, head, 0, HEADER_SIZE, 0);
      header = decodeHeader(head);
    }
    return header && { header, slots: readSlots(fd, header.slotCount) };
  } finally {
    closeSync(fd);
  }
}

/** The pool's scoreboard now, or null while it does not exist or cannot be read consistently. */
export function board(poold: RunningPoold, pool = 'www'): ScoreboardSnapshot | null {
  const file = scoreboardFile(poold, pool);
  if (!file) return null;
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
