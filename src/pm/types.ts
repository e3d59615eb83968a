import type { PoolConfig } from '../config/types.js';

/** What a process manager sees of one worker. */
export interface WorkerView {
  id: number;
  /** Workers being stopped are still alive and still count against pm.max_children. */
  phase: 'starting' | 'ready' | 'stopping';
  startedAt: number;
  /** Since when it has had no load, or null while it has some. */
  idleSince: number | null;
}

export interface PmInput {
  config: PoolConfig;
  workers: readonly WorkerView[];
  /** Connections waiting in the master's queue. */
  queued: number;
  now: number;
}

/** A process manager's decision: how many to start, which to stop. Applied by the pool. */
export interface PmActions {
  spawn: number;
  stop: number[];
}

export type ProcessManager = (input: PmInput) => PmActions;
