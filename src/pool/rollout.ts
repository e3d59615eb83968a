// The waits of a generation's life: its start (all ready, or why not) and
// its drain (all exited, escalating at a deadline). The pool decides what to
// start and when to switch; these only watch.
import { killLadder, type Killable } from './kill-ladder.js';
import { describeExit, type WorkerExit, type WorkerPhase } from './worker-process.js';

/** What the waits need of a worker. */
export interface Watched extends Killable {
  readonly pid: number;
  readonly phase: WorkerPhase;
  once(event: 'ready', listener: () => void): unknown;
  once(event: 'fail', listener: (error: string) => void): unknown;
  once(event: 'exit', listener: (exit: WorkerExit) => void): unknown;
}

/** Null once all are ready; otherwise why not (one failed, or the time ran out). */
export function waitReady(workers: readonly Watched[], timeoutMs: number): Promise<string | null> {
  return new Promise((resolve) => {
    let pending = workers.length;
    let lastError = '';
    const timer = setTimeout(() => resolve(`the new workers were not ready within ${timeoutMs / 1000}s`), timeoutMs);
    const settle = (result: string | null) => {
      clearTimeout(timer);
      resolve(result);
    };
    if (pending === 0) settle('no worker could be started');
    for (const worker of workers) {
      let ready = false;
      worker.once('fail', (error) => (lastError = error.split('\n')[0] ?? error));
      worker.once('ready', () => {
        ready = true;
        if (--pending === 0) settle(null);
      });
      // Any exit before ready counts, including one a stop asked for.
      worker.once('exit', (exit) => {
        if (ready) return;
        if (exit.spawnError !== null) settle(`a child could not be started: ${exit.spawnError.message}`);
        else settle(`child ${worker.pid} ${describeExit(exit)} before it was ready${lastError ? `: ${lastError}` : ''}`);
      });
    }
  });
}

/** Resolves once these workers have exited; after `timeoutMs` they get SIGTERM, then SIGKILL. */
export function waitExited(workers: readonly Watched[], timeoutMs: number): Promise<void> {
  const alive = workers.filter((worker) => worker.phase !== 'exited');
  if (alive.length === 0) return Promise.resolve();
  const cancel = killLadder(alive, timeoutMs);
  return Promise.all(alive.map((worker) => new Promise((resolve) => worker.once('exit', resolve)))).then(cancel);
}
