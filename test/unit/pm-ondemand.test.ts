import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { PoolConfig } from '../../src/config/types.js';
import { PROCESS_MANAGERS } from '../../src/pm/index.js';
import { ondemandPm } from '../../src/pm/ondemand.js';
import { INITIAL_PM_STATE, type PmState } from '../../src/pm/types.js';
import { busy, idle, idleWithUpgraded, MAX_CHILDREN_WARNING, many, NOW, pmInput, poolConfig, starting, stopping } from '../helpers/pm-fixtures.js';

const od = (overrides: Partial<PoolConfig> = {}): PoolConfig =>
  poolConfig({
    pm: 'ondemand',
    maxChildren: 10,
    startServers: 0,
    minSpareServers: 0,
    maxSpareServers: 0,
    processIdleTimeout: 10_000,
    ...overrides,
  });

describe('pm = ondemand: spawning', () => {
  it('is the manager registered for pm = ondemand', () => {
    assert.equal(PROCESS_MANAGERS.ondemand, ondemandPm);
  });

  it('keeps no worker while nothing waits', () => {
    for (const reason of ['tick', 'event'] as const) {
      const actions = ondemandPm(pmInput({ config: od(), reason, workers: [] }));
      assert.equal(actions.spawn, 0, reason);
      assert.deepEqual(actions.stop, [], reason);
      assert.equal(actions.maxChildrenReached, false);
    }
  });

  it('spawns N workers at once for a burst of N connections (not 1 like FPM bug #69724)', () => {
    for (const reason of ['event', 'tick'] as const) {
      const actions = ondemandPm(pmInput({ config: od({ maxChildren: 4 }), reason, workers: [], queued: 4 }));
      assert.equal(actions.spawn, 4, reason);
      assert.equal(actions.maxChildrenReached, false);
      assert.deepEqual(actions.warnings, []);
    }
  });

  it('does not spawn again for connections whose workers are already starting', () => {
    const workers = many(4, () => starting(null));
    assert.equal(ondemandPm(pmInput({ config: od(), reason: 'event', workers, queued: 4 })).spawn, 0);
    assert.equal(ondemandPm(pmInput({ config: od(), reason: 'event', workers, queued: 6 })).spawn, 2);
  });

  it('caps a burst at pm.max_children and counts one episode with the pm.max_children warning', () => {
    let state: PmState = INITIAL_PM_STATE;
    let actions = ondemandPm(pmInput({ config: od({ maxChildren: 3 }), reason: 'event', workers: [], queued: 5, state }));
    assert.equal(actions.spawn, 3);
    assert.equal(actions.maxChildrenReached, true);
    assert.deepEqual(actions.warnings, [MAX_CHILDREN_WARNING(3)]);
    state = actions.state;
    actions = ondemandPm(pmInput({ config: od({ maxChildren: 3 }), reason: 'event', workers: many(3, busy), queued: 2, state }));
    assert.equal(actions.spawn, 0);
    assert.equal(actions.maxChildrenReached, false);
    assert.deepEqual(actions.warnings, []);
  });

  it('never uses the spawn rate', () => {
    const state: PmState = { spawnRate: 1, maxChildrenLatched: false };
    const actions = ondemandPm(pmInput({ config: od({ maxSpawnRate: 1 }), workers: [], queued: 7, state }));
    assert.equal(actions.spawn, 7);
    assert.equal(actions.state.spawnRate, 1);
  });
});

describe('pm = ondemand: idle timeout', () => {
  const config = od({ processIdleTimeout: 10_000 });

  it('on a tick stops every ready worker idle longer than pm.process_idle_timeout, not just the oldest', () => {
    const old1 = idle(NOW - 60_000, NOW - 1);
    const old2 = idle(NOW - 10_001, NOW - 999_999);
    const old3 = idle(NOW - 30_000);
    const fresh = idle(NOW - 9_999);
    const actions = ondemandPm(pmInput({ config, workers: [old1, fresh, busy(0), old2, old3] }));
    assert.deepEqual([...actions.stop].sort((a, b) => a - b), [old1.id, old2.id, old3.id].sort((a, b) => a - b));
    assert.equal(actions.spawn, 0);
  });

  it('never stops busy, starting or already stopping workers', () => {
    const workers = [busy(0), starting(0), stopping(0), busy(NOW - 3_600_000)];
    const actions = ondemandPm(pmInput({ config, workers, now: NOW + 3_600_000 }));
    assert.deepEqual(actions.stop, []);
  });

  it('never stops a worker that holds upgraded connections (WebSockets), however long it has had no request', () => {
    const holding = idleWithUpgraded(NOW - 60_000);
    const plain = idle(NOW - 60_000);
    const actions = ondemandPm(pmInput({ config, workers: [holding, plain] }));
    assert.deepEqual(actions.stop, [plain.id]);
  });

  it('stops nothing on an event, only on the tick', () => {
    const actions = ondemandPm(pmInput({ config, reason: 'event', workers: many(3, () => idle(0)) }));
    assert.deepEqual(actions.stop, []);
  });

  it('stops nothing while every worker has been idle for less than the timeout', () => {
    const actions = ondemandPm(pmInput({ config, workers: [idle(NOW - 5_000), idle(NOW - 1), idle(NOW)] }));
    assert.deepEqual(actions.stop, []);
  });

  it(
    'does not stop a worker idle for exactly pm.process_idle_timeout (only "longer than", as FPM\'s strict <)',
    () => {
      const actions = ondemandPm(pmInput({ config, workers: [idle(NOW - 10_000)] }));
      assert.deepEqual(actions.stop, []);
    },
  );

  it('stops idle workers and spawns for the queue on the same tick', () => {
    const stale = idle(NOW - 20_000);
    const actions = ondemandPm(pmInput({ config, workers: [stale, busy()], queued: 2 }));
    assert.deepEqual(actions.stop, [stale.id]);
    assert.equal(actions.spawn, 2);
  });
});
