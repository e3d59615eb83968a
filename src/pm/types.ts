import type { PoolConfig } from '../config/types.js';

/** What a process manager sees of one worker. */
export interface WorkerView {
  id: number;
  /** Workers being stopped are still alive and still count against pm.max_children. */
  phase: 'starting' | 'ready' | 'stopping';
  startedAt: number;
  /** Since when it has had no load, or null while it has some. */
  idleSince: number | null;
  /**
   * It holds upgraded connections (WebSockets): not load, but in use, so it
   * is never stopped for being idle (that would cut its clients off).
   */
  holdsUpgraded: boolean;
}

/** What a process manager remembers between decisions (FPM keeps the same per pool). */
export interface PmState {
  /** dynamic: how many to spawn on the next tick that lacks spares (1, 2, 4 … max_spawn_rate). */
  spawnRate: number;
  /** Set once pm.max_children stopped a spawn, until a spawn succeeds: one episode is counted once. */
  maxChildrenLatched: boolean;
}

export const INITIAL_PM_STATE: PmState = { spawnRate: 1, maxChildrenLatched: false };

export interface PmInput {
  config: PoolConfig;
  workers: readonly WorkerView[];
  /** Connections waiting in the master's queue. */
  queued: number;
  now: number;
  /** 'tick' is the 1 s heartbeat; 'event' is a queued connection or a worker's exit. */
  reason: 'tick' | 'event';
  state: PmState;
  /** Workers have been failing to start: the pool starts one at a time, backing off. */
  startsFailing: boolean;
}

/** A process manager's decision, applied by the pool. */
export interface PmActions {
  spawn: number;
  stop: number[];
  state: PmState;
  /** A new "max children reached" episode began (FPM's counter). */
  maxChildrenReached: boolean;
  /** Lines for the log, FPM's wording, without the "[pool x] " prefix. */
  warnings: string[];
}

export type ProcessManager = (input: PmInput) => PmActions;
