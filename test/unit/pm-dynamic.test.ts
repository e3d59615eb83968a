import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { PoolConfig } from '../../src/config/types.js';
import { dynamicPm } from '../../src/pm/dynamic.js';
import { PROCESS_MANAGERS } from '../../src/pm/index.js';
import { ondemandPm } from '../../src/pm/ondemand.js';
import { INITIAL_PM_STATE, type PmActions, type PmState, type ProcessManager, type WorkerView } from '../../src/pm/types.js';
import {
  busy,
  idle,
  idleWithUpgraded,
  MAX_CHILDREN_WARNING,
  many,
  NOW,
  pmInput,
  poolConfig,
  starting,
  stopping,
} from '../helpers/pm-fixtures.js';

const dyn = (overrides: Partial<PoolConfig> = {}): PoolConfig =>
  poolConfig({ pm: 'dynamic', maxChildren: 10, startServers: 2, minSpareServers: 2, maxSpareServers: 4, ...overrides });

/**
 * Runs `ticks` ticks in which every worker spawned at once becomes busy (the
 * load keeps every worker occupied), and returns each tick's actions.
 */
function busyTicks(config: PoolConfig, initial: WorkerView[], ticks: number, state: PmState = INITIAL_PM_STATE) {
  const workers = [...initial];
  const log: PmActions[] = [];
  for (let i = 0; i < ticks; i++) {
    const actions = dynamicPm(pmInput({ config, workers, state, now: NOW + i * 1000 }));
    log.push(actions);
    state = actions.state;
    workers.push(...many(actions.spawn, busy));
  }
  return { log, workers, state };
}

describe('pm = dynamic, tick: spares in range', () => {
  it('is the manager registered for pm = dynamic', () => {
    assert.equal(PROCESS_MANAGERS.dynamic, dynamicPm);
  });

  it('does nothing when min_spare ≤ idle ≤ max_spare, and resets the spawn rate to 1', () => {
    const config = dyn({ minSpareServers: 2, maxSpareServers: 4 });
    for (const idleCount of [2, 3, 4]) {
      const actions = dynamicPm(
        pmInput({ config, workers: [...many(idleCount, idle), busy()], state: { spawnRate: 16, maxChildrenLatched: false } }),
      );
      assert.equal(actions.spawn, 0, `${idleCount} idle`);
      assert.deepEqual(actions.stop, [], `${idleCount} idle`);
      assert.equal(actions.state.spawnRate, 1, `${idleCount} idle`);
      assert.equal(actions.maxChildrenReached, false);
      assert.deepEqual(actions.warnings, []);
    }
  });

  it('counts starting workers as spares: no spawn while they are on their way', () => {
    const config = dyn({ minSpareServers: 3, maxSpareServers: 5 });
    const actions = dynamicPm(
      pmInput({ config, workers: [idle(), starting(), starting(), busy()], state: { spawnRate: 4, maxChildrenLatched: false } }),
    );
    assert.equal(actions.spawn, 0);
    assert.equal(actions.state.spawnRate, 1);
  });

  it('does not count busy or stopping workers as spares', () => {
    const config = dyn({ minSpareServers: 2, maxSpareServers: 4 });
    const actions = dynamicPm(pmInput({ config, workers: [idle(), busy(), busy(), stopping(NOW - 1)] }));
    assert.equal(actions.spawn, 1);
  });

  it('does not report max children reached when pm.max_children are running but spares suffice', () => {
    const config = dyn({ maxChildren: 4, minSpareServers: 2, maxSpareServers: 4 });
    const actions = dynamicPm(pmInput({ config, workers: [idle(), idle(), busy(), busy()] }));
    assert.equal(actions.spawn, 0);
    assert.equal(actions.maxChildrenReached, false);
    assert.deepEqual(actions.warnings, []);
    assert.equal(actions.state.maxChildrenLatched, false);
  });
});

describe('pm = dynamic, tick: too many idle', () => {
  it('stops exactly one worker, the one idle longest (smallest idleSince), and resets the rate', () => {
    const config = dyn({ minSpareServers: 1, maxSpareServers: 2 });
    const a = idle(NOW - 5_000, NOW - 10);
    const longest = idle(NOW - 9_000, NOW - 1); // the most recently started, but idle longest
    const oldestStarted = idle(NOW - 7_000, NOW - 999_999);
    const workers = [
      a,
      busy(NOW - 2_000_000),
      oldestStarted,
      starting(NOW - 1_000_000), // no load, but not ready: never a victim
      longest,
      stopping(NOW - 2_000_000), // already going
    ];
    const actions = dynamicPm(pmInput({ config, workers, state: { spawnRate: 16, maxChildrenLatched: false } }));
    assert.deepEqual(actions.stop, [longest.id]);
    assert.equal(actions.spawn, 0);
    assert.equal(actions.state.spawnRate, 1);
    assert.equal(actions.maxChildrenReached, false);
    assert.deepEqual(actions.warnings, []);
  });

  it('stops only one per tick however far above max_spare it is', () => {
    const config = dyn({ minSpareServers: 1, maxSpareServers: 2 });
    const workers = Array.from({ length: 12 }, (_, i) => idle(NOW - 1_000 - i));
    const actions = dynamicPm(pmInput({ config, workers }));
    assert.equal(actions.stop.length, 1);
    assert.equal(actions.stop[0], workers[11]!.id);
  });

  it('never picks a worker that holds upgraded connections (WebSockets): the next idle longest, or none', () => {
    const config = dyn({ minSpareServers: 1, maxSpareServers: 2 });
    const holding = idleWithUpgraded(NOW - 9_000);
    const next = idle(NOW - 5_000);
    assert.deepEqual(dynamicPm(pmInput({ config, workers: [holding, next, idle(NOW - 1_000)] })).stop, [next.id]);
    const allHolding = many(4, () => idleWithUpgraded(NOW - 9_000));
    assert.deepEqual(dynamicPm(pmInput({ config, workers: allHolding })).stop, []);
  });

  it('stops none at exactly max_spare idle', () => {
    const config = dyn({ minSpareServers: 1, maxSpareServers: 3 });
    const actions = dynamicPm(pmInput({ config, workers: many(3, idle) }));
    assert.deepEqual(actions.stop, []);
  });

  it('does not count stopping workers as idle', () => {
    const config = dyn({ minSpareServers: 1, maxSpareServers: 2 });
    const actions = dynamicPm(pmInput({ config, workers: [idle(), idle(), stopping(), stopping(), stopping()] }));
    assert.deepEqual(actions.stop, []);
  });

  it('scales down one per tick, longest idle first', () => {
    const config = dyn({ maxChildren: 20, minSpareServers: 1, maxSpareServers: 2 });
    let workers: WorkerView[] = Array.from({ length: 6 }, (_, i) => idle(NOW - 10_000 + i * 100));
    const expected = workers.slice(0, 4).map((w) => w.id);
    const stopped: number[] = [];
    for (let tick = 0; tick < 6; tick++) {
      const actions = dynamicPm(pmInput({ config, workers, now: NOW + tick * 1000 }));
      assert.ok(actions.stop.length <= 1);
      stopped.push(...actions.stop);
      workers = workers.filter((w) => !actions.stop.includes(w.id)); // the stopped one exited
    }
    assert.deepEqual(stopped, expected);
    assert.equal(workers.length, 2);
  });
});

describe('pm = dynamic, tick: too few idle', () => {
  it('spawns min(rate, min_spare − spares, max_children − running)', () => {
    // limited by the rate
    let actions = dynamicPm(
      pmInput({ config: dyn({ minSpareServers: 5, maxSpareServers: 8 }), workers: [busy()], state: { spawnRate: 2, maxChildrenLatched: false } }),
    );
    assert.equal(actions.spawn, 2);
    // limited by min_spare − (idle + starting)
    actions = dynamicPm(
      pmInput({
        config: dyn({ minSpareServers: 5, maxSpareServers: 8 }),
        workers: [idle(), starting(), busy()],
        state: { spawnRate: 32, maxChildrenLatched: false },
      }),
    );
    assert.equal(actions.spawn, 3);
    // limited by max_children − running (stopping workers are running)
    actions = dynamicPm(
      pmInput({
        config: dyn({ maxChildren: 6, minSpareServers: 5, maxSpareServers: 6 }),
        workers: [busy(), busy(), busy(), stopping()],
        state: { spawnRate: 32, maxChildrenLatched: false },
      }),
    );
    assert.equal(actions.spawn, 2);
    assert.equal(actions.maxChildrenReached, false, 'a spawn succeeded: no episode');
    assert.deepEqual(actions.stop, []);
  });

  it('doubles the rate 1, 2, 4, 8, 16, 32 and stays at pm.max_spawn_rate', () => {
    const config = dyn({ maxChildren: 10_000, minSpareServers: 5_000, maxSpareServers: 6_000, maxSpawnRate: 32 });
    const { log } = busyTicks(config, [busy()], 9);
    assert.deepEqual(
      log.map((a) => a.spawn),
      [1, 2, 4, 8, 16, 32, 32, 32, 32],
    );
    assert.deepEqual(
      log.map((a) => a.state.spawnRate),
      [2, 4, 8, 16, 32, 32, 32, 32, 32],
    );
  });

  it('checks pm.max_spawn_rate before doubling: a max of 5 lets the rate reach 8 (as FPM does)', () => {
    const config = dyn({ maxChildren: 10_000, minSpareServers: 5_000, maxSpareServers: 6_000, maxSpawnRate: 5 });
    const { log } = busyTicks(config, [busy()], 6);
    assert.deepEqual(
      log.map((a) => a.spawn),
      [1, 2, 4, 8, 8, 8],
    );
  });

  it('never doubles with pm.max_spawn_rate = 1', () => {
    const config = dyn({ maxChildren: 10_000, minSpareServers: 5_000, maxSpareServers: 6_000, maxSpawnRate: 1 });
    const { log } = busyTicks(config, [busy()], 4);
    assert.deepEqual(
      log.map((a) => a.spawn),
      [1, 1, 1, 1],
    );
  });

  it('with min_spare_servers = 1 forks exactly one per tick while the rate still doubles', () => {
    const config = dyn({ maxChildren: 100, minSpareServers: 1, maxSpareServers: 2 });
    const { log } = busyTicks(config, [busy()], 5);
    assert.deepEqual(
      log.map((a) => a.spawn),
      [1, 1, 1, 1, 1],
    );
    assert.deepEqual(
      log.map((a) => a.state.spawnRate),
      [2, 4, 8, 16, 32],
    );
    // FPM prints the rate, not the number forked
    assert.match(log[3]!.warnings[0] ?? '', /spawning 8 children/);
  });

  it('resets the rate to 1 once the spares are back in range', () => {
    const config = dyn({ maxChildren: 100, minSpareServers: 4, maxSpareServers: 8 });
    const grown = busyTicks(config, [busy()], 3); // rates 1, 2 spent; 4 next
    assert.equal(grown.state.spawnRate, 8);
    const workers = [...grown.workers, ...many(4, idle)];
    const calm = dynamicPm(pmInput({ config, workers, state: grown.state }));
    assert.equal(calm.spawn, 0);
    assert.equal(calm.state.spawnRate, 1);
    const again = dynamicPm(pmInput({ config, workers: grown.workers, state: calm.state }));
    assert.equal(again.spawn, 1);
  });

  it('warns "seems busy" with FPM\'s exact text once the rate is ≥ 8, not before', () => {
    const config = dyn({ maxChildren: 1_000, minSpareServers: 100, maxSpareServers: 200 });
    const before = dynamicPm(pmInput({ config, workers: [idle(), busy()], state: { spawnRate: 4, maxChildrenLatched: false } }));
    assert.equal(before.spawn, 4);
    assert.deepEqual(before.warnings, []);
    const workers = [idle(), busy(), busy(), busy(), busy(), stopping(null)];
    const at8 = dynamicPm(pmInput({ config, workers, state: { spawnRate: 8, maxChildrenLatched: false } }));
    assert.equal(at8.spawn, 8);
    assert.deepEqual(at8.warnings, [
      'seems busy (you may need to increase pm.start_servers, or pm.min/max_spare_servers), ' +
        'spawning 8 children, there are 1 idle, and 6 total children',
    ]);
    const at16 = dynamicPm(pmInput({ config, workers, state: { spawnRate: 16, maxChildrenLatched: false } }));
    assert.equal(at16.warnings.length, 1);
    assert.match(at16.warnings[0]!, /spawning 16 children, there are 1 idle, and 6 total children$/);
  });

  it('while starts fail, the rate does not double and "seems busy" never fires', () => {
    const config = dyn({ maxChildren: 1_000, minSpareServers: 100, maxSpareServers: 200 });
    let state = { spawnRate: 1, maxChildrenLatched: false };
    for (let tick = 0; tick < 8; tick++) {
      const actions = dynamicPm(pmInput({ config, workers: [busy()], state, startsFailing: true }));
      assert.equal(actions.spawn, 1);
      assert.deepEqual(actions.warnings, []);
      state = actions.state;
    }
    assert.equal(state.spawnRate, 1);
    // Once a start succeeds, FPM's ramp resumes from 1.
    assert.equal(dynamicPm(pmInput({ config, workers: [busy()], state })).state.spawnRate, 2);
  });

  it('replays FPM\'s observed ramp: 1, 2, 4, 8, 10, 5, then "server reached pm.max_children setting (40)"', () => {
    // max_children 40, min_spare 10, max_spare 20, start 10, all ten busy (45 concurrent slow requests)
    const config = dyn({ maxChildren: 40, startServers: 10, minSpareServers: 10, maxSpareServers: 20 });
    const { log, workers } = busyTicks(config, many(10, busy), 9);
    assert.deepEqual(
      log.map((a) => a.spawn),
      [1, 2, 4, 8, 10, 5, 0, 0, 0],
    );
    assert.equal(workers.length, 40);
    assert.deepEqual(
      log.map((a) => a.maxChildrenReached),
      [false, false, false, false, false, false, true, false, false],
    );
    assert.deepEqual(log[6]!.warnings, ['server reached pm.max_children setting (40), consider raising it']);
    assert.deepEqual(log[7]!.warnings, []);
    assert.match(log[3]!.warnings[0]!, /spawning 8 children, there are 0 idle, and 17 total children$/);
    assert.match(log[4]!.warnings[0]!, /spawning 16 children, there are 0 idle, and 25 total children$/);
    assert.match(log[5]!.warnings[0]!, /spawning 32 children, there are 0 idle, and 35 total children$/);
    assert.equal(log[6]!.state.spawnRate, 1, 'the max_children path resets the rate');
  });
});

describe('pm = dynamic, tick: pm.max_children', () => {
  const config = dyn({ maxChildren: 4, minSpareServers: 2, maxSpareServers: 3 });
  const full = (): WorkerView[] => [busy(), busy(), busy(), busy()];

  it('counts an episode with FPM\'s warning, latched, and resets the rate', () => {
    const actions = dynamicPm(pmInput({ config, workers: full(), state: { spawnRate: 8, maxChildrenLatched: false } }));
    assert.equal(actions.spawn, 0);
    assert.equal(actions.maxChildrenReached, true);
    assert.deepEqual(actions.warnings, [MAX_CHILDREN_WARNING(4)]);
    assert.deepEqual(actions.warnings, ['server reached pm.max_children setting (4), consider raising it']);
    assert.deepEqual(actions.state, { spawnRate: 1, maxChildrenLatched: true });
  });

  it('counts the episode once while it lasts, on ticks and events alike', () => {
    let state: PmState = INITIAL_PM_STATE;
    const reached: boolean[] = [];
    for (const reason of ['tick', 'tick', 'event', 'tick', 'event', 'tick'] as const) {
      const actions = dynamicPm(pmInput({ config, reason, workers: full(), state }));
      reached.push(actions.maxChildrenReached);
      if (!actions.maxChildrenReached) assert.deepEqual(actions.warnings, []);
      state = actions.state;
    }
    assert.deepEqual(reached, [true, false, false, false, false, false]);
  });

  it('stays latched while spares are in range, until a spawn succeeds; then a new episode counts again', () => {
    let actions = dynamicPm(pmInput({ config, workers: full() }));
    assert.equal(actions.maxChildrenReached, true);
    // load drops: enough spares, still at max_children
    actions = dynamicPm(pmInput({ config, workers: [idle(), idle(), busy(), busy()], state: actions.state }));
    assert.equal(actions.state.maxChildrenLatched, true);
    // busy again: the same episode
    actions = dynamicPm(pmInput({ config, workers: full(), state: actions.state }));
    assert.equal(actions.maxChildrenReached, false);
    // a worker exited: the spawn succeeds and ends the episode
    actions = dynamicPm(pmInput({ config, workers: [busy(), busy(), busy()], state: actions.state }));
    assert.equal(actions.spawn, 1);
    assert.equal(actions.state.maxChildrenLatched, false);
    // full again: a new episode
    actions = dynamicPm(pmInput({ config, workers: full(), state: actions.state }));
    assert.equal(actions.maxChildrenReached, true);
    assert.deepEqual(actions.warnings, [MAX_CHILDREN_WARNING(4)]);
  });

  it('counts stopping workers against pm.max_children', () => {
    const actions = dynamicPm(pmInput({ config, workers: [idle(), busy(), stopping(), stopping()] }));
    assert.equal(actions.spawn, 0);
    assert.equal(actions.maxChildrenReached, true);
    assert.deepEqual(actions.warnings, [MAX_CHILDREN_WARNING(4)]);
  });
});

describe('pm = dynamic, event', () => {
  it('does not top up spares nor stop idle workers between ticks, and keeps its state', () => {
    const config = dyn({ minSpareServers: 3, maxSpareServers: 4 });
    const state: PmState = { spawnRate: 4, maxChildrenLatched: true };
    const short = dynamicPm(pmInput({ config, reason: 'event', workers: [busy(), busy()], state }));
    assert.equal(short.spawn, 0);
    assert.deepEqual(short.state, state);
    assert.deepEqual(short.warnings, []);
    const many9 = dynamicPm(pmInput({ config, reason: 'event', workers: many(9, idle), state }));
    assert.deepEqual(many9.stop, []);
    assert.deepEqual(many9.state, state);
  });

  it('spawns only for the queue', () => {
    const config = dyn({ minSpareServers: 5, maxSpareServers: 6 });
    const actions = dynamicPm(pmInput({ config, reason: 'event', workers: [busy(), busy()], queued: 2 }));
    assert.equal(actions.spawn, 2);
    assert.equal(actions.state.spawnRate, 1, 'queue spawns do not touch the rate');
  });

  it('on a tick, adds the spare top-up to the queue spawns (queue spawns count as spares)', () => {
    const config = dyn({ minSpareServers: 3, maxSpareServers: 5 });
    const actions = dynamicPm(pmInput({ config, workers: [busy(), busy()], queued: 2 }));
    assert.equal(actions.spawn, 3); // 2 for the queue + min(rate 1, 3 − 2)
    assert.equal(actions.state.spawnRate, 2);
  });

  it('counts one episode when the queue and the spares are both blocked on the same tick', () => {
    const config = dyn({ maxChildren: 2, minSpareServers: 1, maxSpareServers: 2 });
    const actions = dynamicPm(pmInput({ config, workers: [busy(), busy()], queued: 3 }));
    assert.equal(actions.spawn, 0);
    assert.equal(actions.maxChildrenReached, true);
    assert.deepEqual(actions.warnings, [MAX_CHILDREN_WARNING(2)]);
  });
});

// Shared by dynamic and ondemand: connections waiting in the master's queue.
const QUEUE_MANAGERS: [string, ProcessManager, Partial<PoolConfig>][] = [
  ['dynamic', dynamicPm, { pm: 'dynamic', minSpareServers: 1, maxSpareServers: 2, startServers: 1 }],
  ['ondemand', ondemandPm, { pm: 'ondemand', minSpareServers: 0, maxSpareServers: 0, startServers: 0 }],
];

for (const [name, pm, base] of QUEUE_MANAGERS) {
  for (const reason of ['tick', 'event'] as const) {
    describe(`queue-driven spawns: ${name}, ${reason}`, () => {
      const config = poolConfig({ ...base, maxChildren: 6 });

      it('spawns one worker per waiting connection, minus those already starting', () => {
        assert.equal(pm(pmInput({ config, reason, workers: [busy()], queued: 3 })).spawn, 3);
        assert.equal(pm(pmInput({ config, reason, workers: [busy(), starting()], queued: 3 })).spawn, 2);
        assert.equal(pm(pmInput({ config, reason, workers: [busy(), starting(), starting()], queued: 1 })).spawn, 0);
        assert.equal(pm(pmInput({ config, reason, workers: [busy()], queued: 0 })).spawn, name === 'dynamic' && reason === 'tick' ? 1 : 0);
      });

      it('stops at pm.max_children (stopping workers count) and counts the episode once', () => {
        const workers = [busy(), busy(), stopping(), busy()];
        let actions = pm(pmInput({ config, reason, workers, queued: 5 }));
        assert.equal(actions.spawn, 2);
        assert.equal(actions.maxChildrenReached, true);
        assert.deepEqual(actions.warnings, ['server reached pm.max_children setting (6), consider raising it']);
        assert.equal(actions.state.maxChildrenLatched, true);

        const fullWorkers = [...workers, starting(), starting()];
        actions = pm(pmInput({ config, reason, workers: fullWorkers, queued: 5, state: actions.state }));
        assert.equal(actions.spawn, 0);
        assert.equal(actions.maxChildrenReached, false, 'same episode');
        assert.deepEqual(actions.warnings, []);
        assert.equal(actions.state.maxChildrenLatched, true);

        // one worker exited: the spawn succeeds and ends the episode
        actions = pm(pmInput({ config, reason, workers: fullWorkers.slice(1), queued: 3, state: actions.state }));
        assert.equal(actions.spawn, 1);
        assert.equal(actions.maxChildrenReached, false);
        assert.equal(actions.state.maxChildrenLatched, false);

        actions = pm(pmInput({ config, reason, workers: fullWorkers, queued: 5, state: actions.state }));
        assert.equal(actions.maxChildrenReached, true, 'a new episode');
      });

      it('counts an episode when already at pm.max_children with connections waiting', () => {
        const actions = pm(pmInput({ config, reason, workers: many(6, busy), queued: 1 }));
        assert.equal(actions.spawn, 0);
        assert.equal(actions.maxChildrenReached, true);
        assert.equal(actions.warnings.length, 1);
      });

      it('does not count an episode at pm.max_children with nothing waiting', () => {
        const actions = pm(pmInput({ config, reason, workers: [...many(5, busy), idle()], queued: 0 }));
        assert.equal(actions.maxChildrenReached, false);
        assert.deepEqual(actions.warnings, []);
      });
    });
  }
}
