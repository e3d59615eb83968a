import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { PROCESS_MANAGERS } from '../../src/pm/index.js';
import { staticPm } from '../../src/pm/static.js';
import { INITIAL_PM_STATE, type PmState } from '../../src/pm/types.js';
import { busy, idle, many, NOW, pmInput, poolConfig, starting, stopping } from '../helpers/pm-fixtures.js';

const config = poolConfig({ pm: 'static', maxChildren: 4, minSpareServers: 0, maxSpareServers: 0, startServers: 0 });

describe('pm = static', () => {
  it('is the manager registered for pm = static', () => {
    assert.equal(PROCESS_MANAGERS.static, staticPm);
  });

  it('spawns pm.max_children workers when there are none', () => {
    const actions = staticPm(pmInput({ config, workers: [] }));
    assert.equal(actions.spawn, 4);
    assert.deepEqual(actions.stop, []);
    assert.equal(actions.maxChildrenReached, false);
    assert.deepEqual(actions.warnings, []);
  });

  it('replaces exactly the missing workers, on a tick and on an event', () => {
    for (const reason of ['tick', 'event'] as const) {
      assert.equal(staticPm(pmInput({ config, reason, workers: [busy()] })).spawn, 3, reason);
      assert.equal(staticPm(pmInput({ config, reason, workers: [busy(), idle(), starting()] })).spawn, 1, reason);
      assert.equal(staticPm(pmInput({ config, reason, workers: many(4, busy) })).spawn, 0, reason);
    }
  });

  it('counts starting and stopping workers as present (a stopping one is replaced when it exits)', () => {
    const actions = staticPm(pmInput({ config, workers: [starting(), starting(), stopping(), idle()] }));
    assert.equal(actions.spawn, 0);
    assert.equal(staticPm(pmInput({ config, workers: [stopping(), stopping()] })).spawn, 2);
  });

  it('never spawns a negative count nor stops anything when there are more workers than pm.max_children', () => {
    const actions = staticPm(pmInput({ config, workers: many(6, () => idle(NOW - 3_600_000)) }));
    assert.equal(actions.spawn, 0);
    assert.deepEqual(actions.stop, []);
  });

  it('never stops idle workers, however long they have been idle', () => {
    const workers = many(4, () => idle(0));
    for (const reason of ['tick', 'event'] as const) {
      const actions = staticPm(pmInput({ config, reason, workers, now: NOW + 86_400_000 }));
      assert.deepEqual(actions.stop, [], reason);
      assert.equal(actions.spawn, 0, reason);
    }
  });

  it('never counts "max children reached", even with all workers busy and connections waiting', () => {
    let state: PmState = INITIAL_PM_STATE;
    for (let i = 0; i < 5; i++) {
      for (const reason of ['tick', 'event'] as const) {
        const actions = staticPm(pmInput({ config, reason, workers: many(4, busy), queued: 100, state }));
        assert.equal(actions.maxChildrenReached, false);
        assert.deepEqual(actions.warnings, []);
        assert.equal(actions.spawn, 0);
        assert.equal(actions.state.maxChildrenLatched, false);
        state = actions.state;
      }
    }
  });

  it('does not spawn for the queue beyond pm.max_children, nor use the spawn rate', () => {
    const state: PmState = { spawnRate: 8, maxChildrenLatched: false };
    const actions = staticPm(pmInput({ config, workers: [busy()], queued: 50, state }));
    assert.equal(actions.spawn, 3);
    assert.deepEqual(actions.state, state);
  });
});
