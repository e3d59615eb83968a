import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { describe, it, mock } from 'node:test';
import { KILL_STEP_MS } from '../../src/pool/kill-ladder.js';
import { waitExited, waitReady } from '../../src/pool/rollout.js';
import type { WorkerExit, WorkerPhase } from '../../src/pool/worker-process.js';

class FakeWorker extends EventEmitter<{ ready: []; fail: [error: string]; exit: [exit: WorkerExit] }> {
  phase: WorkerPhase = 'starting';
  readonly signals: NodeJS.Signals[] = [];
  constructor(readonly pid: number) {
    super();
  }
  kill(signal: NodeJS.Signals): void {
    this.signals.push(signal);
  }
  exit(exit: Partial<WorkerExit> = {}): void {
    this.phase = 'exited';
    this.emit('exit', { code: 0, signal: null, beforeReady: false, uptimeMs: 1, spawnError: null, ...exit });
  }
}

describe('waitReady', () => {
  it('resolves null once every worker is ready', async () => {
    const workers = [new FakeWorker(1), new FakeWorker(2)];
    const ready = waitReady(workers, 10_000);
    workers[0]!.emit('ready');
    workers[1]!.emit('ready');
    assert.equal(await ready, null);
  });

  it('says which child exited before it was ready, with the first line of its error', async () => {
    const workers = [new FakeWorker(1), new FakeWorker(2)];
    const ready = waitReady(workers, 10_000);
    workers[0]!.emit('ready');
    workers[1]!.emit('fail', 'Error: cannot find module x\n    at load');
    workers[1]!.exit({ code: 1, beforeReady: true });
    assert.equal(await ready, 'child 2 exited with code 1 before it was ready: Error: cannot find module x');
  });

  it('gives up at the deadline', async () => {
    mock.timers.enable({ apis: ['setTimeout'] });
    try {
      const ready = waitReady([new FakeWorker(1)], 5_000);
      mock.timers.tick(5_000);
      assert.equal(await ready, 'the new workers were not ready within 5s');
    } finally {
      mock.timers.reset();
    }
  });

  it('fails at once with no worker', async () => {
    assert.equal(await waitReady([], 5_000), 'no worker could be started');
  });
});

describe('waitExited', () => {
  it('resolves once all have exited, without signalling those that went in time', async () => {
    mock.timers.enable({ apis: ['setTimeout'] });
    try {
      const workers = [new FakeWorker(1), new FakeWorker(2)];
      const exited = waitExited(workers, 3_000);
      workers[0]!.exit();
      workers[1]!.exit();
      await exited;
      mock.timers.tick(3_000 + KILL_STEP_MS);
      assert.deepEqual(workers.map((worker) => worker.signals), [[], []]);
    } finally {
      mock.timers.reset();
    }
  });

  it('escalates at the deadline: SIGTERM, then SIGKILL one step later', async () => {
    mock.timers.enable({ apis: ['setTimeout'] });
    try {
      const stuck = new FakeWorker(1);
      const exited = waitExited([stuck], 3_000);
      mock.timers.tick(2_999);
      assert.deepEqual(stuck.signals, []);
      mock.timers.tick(1);
      assert.deepEqual(stuck.signals, ['SIGTERM']);
      mock.timers.tick(KILL_STEP_MS);
      assert.deepEqual(stuck.signals, ['SIGTERM', 'SIGKILL']);
      stuck.exit({ signal: 'SIGKILL' });
      await exited;
    } finally {
      mock.timers.reset();
    }
  });

  it('skips workers already gone', async () => {
    const gone = new FakeWorker(1);
    gone.phase = 'exited';
    await waitExited([gone], 3_000);
    assert.deepEqual(gone.signals, []);
  });
});
