// What the master believes of a worker's scoreboard slot. A slot is written by
// its worker, that is by the app, and every worker of the pool can write every
// slot: the master checks what it reads against what it knows itself before
// it acts on it (see docs/operations.md, "What an app can do to its neighbours").
import type { Slot, SlotLoad } from '../scoreboard/layout.js';

/**
 * How long a contradiction that a worker's own timing can explain may last
 * before it is one: a worker writes Finishing an instant before its retire
 * message reaches the master, and counts a connection it gives back an
 * instant after the master has taken it back.
 */
export const CONTRADICTION_GRACE_MS = 1000;

/** What the master itself knows of a worker, to check its slot against. */
export interface KnownWorker {
  pid: number;
  /** The master stopped it (or it asked to retire): its slot should say Finishing. */
  stopping: boolean;
  /** Connections the master has handed it and not had back: more than it can be busy with. */
  held: number;
  /** Since when its slot has said Finishing while it was not stopping (null: it has not). */
  finishingSince: number | null;
  /** Since when its slot has claimed more load than connections it holds (null: it has not). */
  excessSince: number | null;
}

/** What a slot said that the master knows to be false, for the log. */
export interface Contradiction {
  /** Each kind is logged on its own schedule: one kind repeated must not hide another. */
  kind: 'pid' | 'finishing' | 'excess';
  text: string;
}

export interface SlotJudgement {
  /** The reading to act on; null: keep the previous one (not written yet, or not its worker's). */
  load: SlotLoad | null;
  finishingSince: number | null;
  excessSince: number | null;
  contradictions: readonly Contradiction[];
}

/** Dispatch judges every worker's slot for every connection: the usual answer allocates nothing more. */
export const NO_CONTRADICTIONS: readonly Contradiction[] = Object.freeze([]);

/**
 * Checks a worker's slot (`reading`) against what the master knows: a slot
 * that names another pid is not this worker's; Finishing that the master
 * never caused or heard of, past the grace, is ignored (the worker would
 * otherwise get no connection ever again); a load above the connections it
 * holds is cut to them (each request and each waiting connection is one of
 * them); a freeSince in the future is now.
 */
export function judgeSlot(reading: SlotLoad, known: KnownWorker, now: number): SlotJudgement {
  const unchanged = { finishingSince: known.finishingSince, excessSince: known.excessSince };
  if (reading.pid === 0) return { load: null, ...unchanged, contradictions: NO_CONTRADICTIONS };
  if (reading.pid !== known.pid) {
    return { load: null, ...unchanged, contradictions: [{ kind: 'pid', text: `names pid ${reading.pid}, not its worker's` }] };
  }
  const contradictions: Contradiction[] = [];
  let finishing = reading.finishing;
  let finishingSince: number | null = null;
  if (finishing && !known.stopping) {
    finishingSince = known.finishingSince ?? now;
    if (now - finishingSince >= CONTRADICTION_GRACE_MS) {
      finishing = false;
      contradictions.push({
        kind: 'finishing',
        text: `has said Finishing for ${((now - finishingSince) / 1000).toFixed(1)}s though it was neither stopped nor retiring`,
      });
    }
  }
  let load = reading.load;
  let excessSince: number | null = null;
  if (load > known.held) {
    excessSince = known.excessSince ?? now;
    if (now - excessSince >= CONTRADICTION_GRACE_MS) {
      contradictions.push({
        kind: 'excess',
        text: `claims ${load} requests and waiting connections on the ${known.held} connections it holds`,
      });
    }
    load = known.held;
  }
  const freeSince = Math.min(reading.freeSince, now);
  const believed = finishing === reading.finishing && load === reading.load && freeSince === reading.freeSince;
  return {
    load: believed ? reading : { ...reading, finishing, load, freeSince },
    finishingSince,
    excessSince,
    contradictions: contradictions.length > 0 ? contradictions : NO_CONTRADICTIONS,
  };
}

/**
 * Whether a slot may be shown as its worker's on status pages: a slot that is
 * not Free belongs to the live worker the master gave it to, under that
 * worker's pid (0 until the worker first writes it).
 */
export function slotBelongs(slot: Slot, owner: { pid: number } | undefined): boolean {
  if (slot.state === 'Free') return true;
  return owner !== undefined && (slot.pid === 0 || slot.pid === owner.pid);
}

/** How often a pool logs that it ignored what a slot said: a worker that keeps lying must not flood the log. */
export const CONTRADICTION_LOG_INTERVAL_MS = 60_000;

/** Lets one line of each kind through per interval, and counts the ones it held back. */
export class LogLimiter<K> {
  private readonly kinds = new Map<K, { lastAt: number; held: number }>();

  constructor(private readonly intervalMs: number) {}

  /** The line to log now, with how many of its kind were held back before it, or null. */
  admit(kind: K, line: string, now: number): string | null {
    const seen = this.kinds.get(kind);
    if (seen && now - seen.lastAt < this.intervalMs) {
      seen.held++;
      return null;
    }
    const suffix = seen && seen.held > 0 ? ` (and ${seen.held} more since the last such line)` : '';
    this.kinds.set(kind, { lastAt: now, held: 0 });
    return line + suffix;
  }
}
