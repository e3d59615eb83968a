// The Dispatcher alone, with fake workers and edges (no processes): who gets
// each request, in what order, and when a request is refused. Time is node:test's
// mock clock (setTimeout and Date), so deadlines are exact and nothing sleeps.
import assert from 'node:assert/strict';
import { describe, it, type TestContext } from 'node:test';
import { Dispatcher, type DispatchSettings, type DispatchTarget } from '../../src/pool/dispatcher.js';

/** A connection whose request head has arrived. */
interface Conn {
  name: string;
  since: number;
  closed: boolean;
}

/** Everything the dispatcher did, in order, across workers and edges. */
type Journal = string[];

class FakeWorker implements DispatchTarget<Conn> {
  accepting = true;
  load = 0;
  held = 0;
  upgraded = 0;
  lastFreeAt = 0;
  /** The load its next refreshLoads() reads (its scoreboard slot); null: leave `load` as it is. */
  slotLoad: number | null = null;
  /** hand() answers false (its channel is full) while set. */
  full = false;
  readonly handed: Conn[] = [];
  handCalls = 0;
  /** Every watch() call, in order. */
  readonly watches: boolean[] = [];

  constructor(
    readonly name: string,
    private readonly journal: Journal,
  ) {}

  /** The last thing it was told by watch(), false if never. */
  get watched(): boolean {
    return this.watches.at(-1) ?? false;
  }

  hand(connection: Conn): boolean {
    this.handCalls++;
    if (this.full) {
      this.journal.push(`refused-by:${this.name}:${connection.name}`);
      return false;
    }
    // As WorkerProcess does: a request handed over counts in its load at once.
    this.load++;
    this.held++;
    this.handed.push(connection);
    this.journal.push(`hand:${this.name}:${connection.name}`);
    return true;
  }

  watch(on: boolean): void {
    this.watches.push(on);
  }

  /** What it was last told of the oldest queued request's wait (the table's float); undefined if never. */
  queueSince: number | undefined = undefined;

  queueWaitingSince(since: number): void {
    this.queueSince = since;
  }

  /** A request it ran has ended. */
  finish(): void {
    this.load--;
  }
}

interface Harness {
  dispatcher: Dispatcher<Conn, FakeWorker>;
  workers: FakeWorker[];
  journal: Journal;
  refused: string[];
  /** Each refreshLoads() call: the names of the workers it was given. */
  refreshes: string[][];
  handedEvents: number[];
  queuedEvents: number[];
  /** A new connection, its head just read. */
  conn(name: string): Conn;
}

const SETTINGS: DispatchSettings = { maxConcurrency: 1, queueMax: 0, queueTimeout: 0 };

/**
 * A dispatcher over `names` workers, each idle. The mock clock starts at
 * 1_000_000 ms; `t.mock` restores the real timers after the test.
 */
function harness(t: TestContext, names: string[], settings: Partial<DispatchSettings> = {}): Harness {
  t.mock.timers.enable({ apis: ['setTimeout', 'Date'], now: 1_000_000 });
  const journal: Journal = [];
  const refused: string[] = [];
  const refreshes: string[][] = [];
  const workers = names.map((name) => new FakeWorker(name, journal));
  const dispatcher = new Dispatcher<Conn, FakeWorker>(
    { ...SETTINGS, ...settings },
    {
      refreshLoads(targets) {
        const seen: string[] = [];
        for (const worker of targets) {
          seen.push(worker.name);
          if (worker.slotLoad !== null) worker.load = worker.slotLoad;
        }
        refreshes.push(seen);
        journal.push('refresh');
      },
      refuse(connection) {
        refused.push(connection.name);
        journal.push(`refuse:${connection.name}`);
      },
    },
  );
  for (const worker of workers) dispatcher.add(worker);
  const handedEvents: number[] = [];
  const queuedEvents: number[] = [];
  dispatcher.on('handed', (waited) => handedEvents.push(waited));
  dispatcher.on('queued', (length) => queuedEvents.push(length));
  return {
    dispatcher,
    workers,
    journal,
    refused,
    refreshes,
    handedEvents,
    queuedEvents,
    // The head reader's `since` is its accept time; the dispatcher resets it when it queues.
    conn: (name) => ({ name, since: Date.now() - 5, closed: false }),
  };
}

const names = (connections: Conn[]): string[] => connections.map((c) => c.name);

/** The entries of the journal that hand a request over (to whom, which). */
const hands = (journal: Journal): string[] => journal.filter((entry) => entry.startsWith('hand:'));

describe('Dispatcher: a request with a worker free', () => {
  it('goes straight to a worker with room when nothing is queued', (t) => {
    const h = harness(t, ['a', 'b']);
    h.workers[0]!.load = 1;
    h.dispatcher.offer(h.conn('c1'));
    assert.deepEqual(hands(h.journal), ['hand:b:c1']);
    assert.equal(h.dispatcher.queued, 0);
    assert.deepEqual(h.handedEvents, [0], "'handed' with no wait");
    assert.deepEqual(h.queuedEvents, [], 'never queued');
    assert.deepEqual(h.refused, []);
  });

  it('picks by load, then connections held, then free longest (selectWorker)', (t) => {
    const h = harness(t, ['a', 'b', 'c'], { maxConcurrency: 4 });
    const [a, b, c] = h.workers as [FakeWorker, FakeWorker, FakeWorker];
    a.load = 2;
    b.load = 1;
    b.held = 3;
    c.load = 1;
    c.held = 1;
    c.lastFreeAt = 50;
    h.dispatcher.offer(h.conn('c1'));
    assert.deepEqual(hands(h.journal), ['hand:c:c1'], 'c: as loaded as b, but holds fewer connections');
  });

  it('never goes to a worker at pm.max_concurrency, nor to one not accepting: it waits in the queue', (t) => {
    const h = harness(t, ['a', 'b', 'c'], { maxConcurrency: 2 });
    const [a, b, c] = h.workers as [FakeWorker, FakeWorker, FakeWorker];
    a.load = 2;
    b.load = 3; // above the limit (a worker may have begun more than it may run)
    c.accepting = false;
    h.dispatcher.offer(h.conn('c1'));
    assert.deepEqual(hands(h.journal), []);
    assert.equal(h.dispatcher.queued, 1);
    assert.deepEqual(h.queuedEvents, [1]);
    assert.deepEqual(h.handedEvents, []);
    // Nothing changed: a drain hands nothing either.
    h.dispatcher.drain();
    assert.deepEqual(hands(h.journal), []);
    assert.equal(h.dispatcher.queued, 1);
    // One below the limit: now it goes.
    a.load = 1;
    h.dispatcher.drain();
    assert.deepEqual(hands(h.journal), ['hand:a:c1']);
    assert.equal(a.load, 2);
  });

  it('reads the loads (refreshLoads) before it selects, and selects by what it read', (t) => {
    const h = harness(t, ['a']);
    const [a] = h.workers as [FakeWorker];
    // Its last reading says busy; its slot says free.
    a.load = 1;
    a.slotLoad = 0;
    h.dispatcher.offer(h.conn('c1'));
    assert.deepEqual(h.journal, ['refresh', 'hand:a:c1']);
    assert.deepEqual(h.refreshes, [['a']]);
    // Its last reading says free; its slot says busy: the request waits. The
    // loads are read once more after the workers are told of the queue.
    a.load = 0;
    a.slotLoad = 1;
    h.dispatcher.offer(h.conn('c2'));
    assert.deepEqual(h.journal, ['refresh', 'hand:a:c1', 'refresh', 'refresh']);
    assert.equal(h.dispatcher.queued, 1);
  });

  it('a worker freed while a request was being queued gets it: the loads are read again once the queue is told', (t) => {
    const h = harness(t, ['a']);
    const [a] = h.workers as [FakeWorker];
    a.slotLoad = 1;
    // The worker ends its request between the dispatcher's first reading and
    // the queue's news (it saw no queue, and sent no room report).
    const queueWaitingSince = a.queueWaitingSince.bind(a);
    a.queueWaitingSince = (since: number) => {
      queueWaitingSince(since);
      if (since !== 0) a.slotLoad = 0;
    };
    h.dispatcher.offer(h.conn('c1'));
    assert.deepEqual(h.journal, ['refresh', 'refresh', 'hand:a:c1']);
    assert.equal(h.dispatcher.queued, 0);
    assert.deepEqual(h.queuedEvents, [], 'never counted as queued');
  });

  it('a request whose worker cannot take it (hand() false) is queued, not lost', (t) => {
    const h = harness(t, ['a']);
    const [a] = h.workers as [FakeWorker];
    a.full = true;
    h.dispatcher.offer(h.conn('c1'));
    assert.equal(h.dispatcher.queued, 1);
    assert.deepEqual(h.queuedEvents, [1]);
    assert.deepEqual(h.refused, []);
    a.full = false;
    h.dispatcher.drain();
    assert.deepEqual(hands(h.journal), ['hand:a:c1']);
  });
});

describe('Dispatcher: the queue', () => {
  it('drains in FIFO order as room appears one worker at a time', (t) => {
    const h = harness(t, ['a', 'b']);
    const [a, b] = h.workers as [FakeWorker, FakeWorker];
    a.load = 1;
    b.load = 1;
    for (const name of ['c1', 'c2', 'c3', 'c4', 'c5']) h.dispatcher.offer(h.conn(name));
    assert.deepEqual(h.queuedEvents, [1, 2, 3, 4, 5], "'queued' with the queue's length each time");
    assert.equal(h.dispatcher.queued, 5);

    b.finish();
    h.dispatcher.drain();
    a.finish();
    h.dispatcher.drain();
    // A drain without room hands nothing.
    h.dispatcher.drain();
    b.finish();
    h.dispatcher.drain();
    a.finish();
    h.dispatcher.drain();
    b.finish();
    h.dispatcher.drain();
    assert.deepEqual(hands(h.journal), ['hand:b:c1', 'hand:a:c2', 'hand:b:c3', 'hand:a:c4', 'hand:b:c5']);
    assert.equal(h.dispatcher.queued, 0);
  });

  it('one drain hands as many as there is room for, oldest first', (t) => {
    const h = harness(t, ['a', 'b', 'c'], { maxConcurrency: 2 });
    for (const worker of h.workers) worker.load = 2;
    for (const name of ['c1', 'c2', 'c3', 'c4', 'c5']) h.dispatcher.offer(h.conn(name));
    const [a, b, c] = h.workers as [FakeWorker, FakeWorker, FakeWorker];
    a.load = 0;
    b.load = 1;
    c.lastFreeAt = -1;
    h.dispatcher.drain();
    // Room for 3 (a: 2, b: 1): c1, c2, c3 in order; c4 and c5 keep waiting.
    assert.deepEqual(
      hands(h.journal).map((entry) => entry.split(':')[2]),
      ['c1', 'c2', 'c3'],
    );
    assert.equal(a.load, 2);
    assert.equal(b.load, 2);
    assert.equal(h.dispatcher.queued, 2);
    c.load = 0;
    h.dispatcher.drain();
    assert.deepEqual(hands(h.journal).slice(3), ['hand:c:c4', 'hand:c:c5']);
  });

  it('a new request queues behind those already queued, even if a worker has room at that instant', (t) => {
    const h = harness(t, ['a']);
    const [a] = h.workers as [FakeWorker];
    a.load = 1;
    h.dispatcher.offer(h.conn('c1'));
    h.dispatcher.offer(h.conn('c2'));
    // Room appears and, before the dispatcher hears of it ('free', then drain()), a request arrives.
    a.finish();
    h.dispatcher.offer(h.conn('c3'));
    assert.deepEqual(hands(h.journal), [], 'c3 did not overtake c1 and c2');
    assert.equal(h.dispatcher.queued, 3);
    assert.deepEqual(h.queuedEvents, [1, 2, 3]);
    h.dispatcher.drain();
    assert.deepEqual(hands(h.journal), ['hand:a:c1']);
    a.finish();
    h.dispatcher.drain();
    a.finish();
    h.dispatcher.drain();
    assert.deepEqual(hands(h.journal), ['hand:a:c1', 'hand:a:c2', 'hand:a:c3']);
  });

  it('reads the loads before each drain pass that has something to hand', (t) => {
    const h = harness(t, ['a', 'b']);
    const [a, b] = h.workers as [FakeWorker, FakeWorker];
    a.load = 1;
    b.load = 1;
    h.dispatcher.offer(h.conn('c1'));
    h.dispatcher.offer(h.conn('c2'));
    h.journal.length = 0;
    // Both slots now show room; the dispatcher learns it only from refreshLoads.
    a.slotLoad = 0;
    b.slotLoad = 0;
    h.dispatcher.drain();
    assert.equal(h.journal[0], 'refresh', 'loads read first');
    assert.deepEqual(h.journal.slice(1).sort(), ['hand:a:c1', 'hand:b:c2'].sort());
    assert.equal(h.journal.filter((entry) => entry === 'refresh').length, 1, 'once per pass');
    assert.deepEqual(h.refreshes.at(-1)!.sort(), ['a', 'b']);
  });

  it('gives the "handed" event the seconds the request waited in the queue', (t) => {
    const h = harness(t, ['a']);
    const [a] = h.workers as [FakeWorker];
    a.load = 1;
    h.dispatcher.offer(h.conn('c1'));
    t.mock.timers.tick(1500);
    h.dispatcher.offer(h.conn('c2'));
    t.mock.timers.tick(1000);
    a.finish();
    h.dispatcher.drain();
    assert.deepEqual(h.handedEvents, [2.5]);
    t.mock.timers.tick(250);
    a.finish();
    h.dispatcher.drain();
    assert.deepEqual(h.handedEvents, [2.5, 1.25]);
  });

  it('listen.queue_max: a request past it is refused (503) at once; those queued stay, in order', (t) => {
    const h = harness(t, ['a'], { queueMax: 2 });
    const [a] = h.workers as [FakeWorker];
    a.load = 1;
    h.dispatcher.offer(h.conn('c1'));
    h.dispatcher.offer(h.conn('c2'));
    h.dispatcher.offer(h.conn('c3'));
    assert.deepEqual(h.refused, ['c3']);
    assert.equal(h.dispatcher.queued, 2);
    assert.deepEqual(h.queuedEvents, [1, 2], 'the refused one was never queued');
    h.dispatcher.offer(h.conn('c4'));
    assert.deepEqual(h.refused, ['c3', 'c4']);
    a.finish();
    h.dispatcher.drain();
    // Room for one more in the queue again.
    h.dispatcher.offer(h.conn('c5'));
    assert.deepEqual(h.refused, ['c3', 'c4']);
    a.finish();
    h.dispatcher.drain();
    a.finish();
    h.dispatcher.drain();
    assert.deepEqual(hands(h.journal), ['hand:a:c1', 'hand:a:c2', 'hand:a:c5']);
  });

  it('listen.queue_max does not refuse a request that a worker can take at once', (t) => {
    const h = harness(t, ['a', 'b'], { queueMax: 1 });
    const [a] = h.workers as [FakeWorker, FakeWorker];
    a.load = 1;
    h.dispatcher.offer(h.conn('c1'));
    assert.deepEqual(hands(h.journal), ['hand:b:c1']);
    assert.deepEqual(h.refused, []);
  });

  it('listen.queue_timeout: the oldest are refused at their deadline, the younger ones kept', (t) => {
    const h = harness(t, ['a'], { queueTimeout: 1000 });
    const [a] = h.workers as [FakeWorker];
    a.load = 1;
    h.dispatcher.offer(h.conn('c1')); // t = 0
    t.mock.timers.tick(400);
    h.dispatcher.offer(h.conn('c2')); // t = 400
    h.dispatcher.offer(h.conn('c3')); // t = 400
    t.mock.timers.tick(500);
    h.dispatcher.offer(h.conn('c4')); // t = 900
    t.mock.timers.tick(99); // t = 999
    assert.deepEqual(h.refused, [], 'nothing before its deadline');
    t.mock.timers.tick(1); // t = 1000
    assert.deepEqual(h.refused, ['c1']);
    assert.equal(h.dispatcher.queued, 3);
    t.mock.timers.tick(399); // t = 1399
    assert.deepEqual(h.refused, ['c1']);
    t.mock.timers.tick(1); // t = 1400
    assert.deepEqual(h.refused, ['c1', 'c2', 'c3']);
    assert.equal(h.dispatcher.queued, 1);
    // c4 is served before its deadline, and is not refused after it.
    t.mock.timers.tick(100);
    a.finish();
    h.dispatcher.drain();
    assert.deepEqual(hands(h.journal), ['hand:a:c4']);
    t.mock.timers.tick(5000);
    assert.deepEqual(h.refused, ['c1', 'c2', 'c3']);
  });

  it('listen.queue_timeout counts from joining the queue, and a drained request never times out', (t) => {
    const h = harness(t, ['a'], { queueTimeout: 1000 });
    const [a] = h.workers as [FakeWorker];
    a.load = 1;
    // Its head took 30 s to arrive (since = its accept); the queue's clock starts now.
    h.dispatcher.offer({ name: 'c1', since: Date.now() - 30_000, closed: false });
    t.mock.timers.tick(999);
    assert.deepEqual(h.refused, []);
    a.finish();
    h.dispatcher.drain();
    assert.deepEqual(hands(h.journal), ['hand:a:c1']);
    // A later one gets its own full timeout, though the timer armed for c1 would have fired at 1000.
    h.dispatcher.offer(h.conn('c2')); // t = 999
    t.mock.timers.tick(1); // t = 1000
    assert.deepEqual(h.refused, []);
    t.mock.timers.tick(998); // t = 1998
    assert.deepEqual(h.refused, []);
    t.mock.timers.tick(1); // t = 1999
    assert.deepEqual(h.refused, ['c2']);
  });

  it('a worker whose hand() fails is not asked again in that drain pass; the request keeps its place', (t) => {
    const h = harness(t, ['a', 'b']);
    const [a, b] = h.workers as [FakeWorker, FakeWorker];
    a.load = 1;
    b.load = 1;
    for (const name of ['c1', 'c2', 'c3']) h.dispatcher.offer(h.conn(name));
    // a would be chosen first (free longest), but its channel is full.
    a.load = 0;
    a.lastFreeAt = 1;
    b.load = 0;
    b.lastFreeAt = 2;
    a.full = true;
    h.dispatcher.drain();
    assert.equal(a.handCalls, 1, 'a was asked once in this pass');
    assert.deepEqual(hands(h.journal), ['hand:b:c1'], 'c1, still first, went to b');
    assert.deepEqual(names(b.handed), ['c1']);
    assert.equal(h.dispatcher.queued, 2);
    // The next pass may ask a again: now it takes c2, the oldest left.
    a.full = false;
    h.dispatcher.drain();
    assert.deepEqual(hands(h.journal), ['hand:b:c1', 'hand:a:c2']);
    b.finish();
    h.dispatcher.drain();
    assert.deepEqual(hands(h.journal), ['hand:b:c1', 'hand:a:c2', 'hand:b:c3']);
  });

  it('with its only worker unable to take one, the queue is left as it was', (t) => {
    const h = harness(t, ['a']);
    const [a] = h.workers as [FakeWorker];
    a.load = 1;
    for (const name of ['c1', 'c2']) h.dispatcher.offer(h.conn(name));
    a.finish();
    a.full = true;
    h.dispatcher.drain();
    assert.equal(a.handCalls, 1);
    assert.equal(h.dispatcher.queued, 2);
    a.full = false;
    h.dispatcher.drain();
    a.finish();
    h.dispatcher.drain();
    assert.deepEqual(hands(h.journal), ['hand:a:c1', 'hand:a:c2'], 'still in order');
    assert.deepEqual(h.refused, []);
  });

  it('refuseAll answers every queued request (in order) and empties the queue; its timeout is disarmed', (t) => {
    const h = harness(t, ['a'], { queueTimeout: 1000 });
    const [a] = h.workers as [FakeWorker];
    a.load = 1;
    for (const name of ['c1', 'c2', 'c3']) h.dispatcher.offer(h.conn(name));
    h.dispatcher.refuseAll();
    assert.deepEqual(h.refused, ['c1', 'c2', 'c3']);
    assert.equal(h.dispatcher.queued, 0);
    t.mock.timers.tick(5000);
    assert.deepEqual(h.refused, ['c1', 'c2', 'c3'], 'none refused twice');
    a.finish();
    h.dispatcher.drain();
    assert.deepEqual(hands(h.journal), []);
  });
});

describe('Dispatcher: the workers it routes to', () => {
  it('replaceWorkers: routes only to the new set, and tells the old ones watch(false)', (t) => {
    const h = harness(t, ['old1', 'old2']);
    const [old1, old2] = h.workers as [FakeWorker, FakeWorker];
    old1.load = 1;
    old2.load = 1;
    h.dispatcher.offer(h.conn('c1'));
    assert.ok(old1.watched && old2.watched, 'watched while a request is queued');
    const fresh = [new FakeWorker('new1', h.journal), new FakeWorker('new2', h.journal)];
    for (const worker of fresh) worker.load = 1;
    h.dispatcher.replaceWorkers(fresh);
    assert.equal(old1.watched, false);
    assert.equal(old2.watched, false);
    // The old ones have room now; the queued request still waits for a new one.
    old1.load = 0;
    old2.load = 0;
    h.dispatcher.drain();
    assert.deepEqual(hands(h.journal), []);
    assert.ok(fresh.every((worker) => worker.watched), 'the new ones are watched while it waits');
    assert.ok(!old1.watched && !old2.watched, 'the old ones are not watched again');
    fresh[1]!.load = 0;
    h.dispatcher.drain();
    assert.deepEqual(hands(h.journal), ['hand:new2:c1']);
    // New requests too.
    fresh[0]!.load = 0;
    h.dispatcher.offer(h.conn('c2'));
    assert.deepEqual(hands(h.journal), ['hand:new2:c1', 'hand:new1:c2']);
    assert.ok(h.refreshes.at(-1)!.every((name) => name.startsWith('new')), 'loads read for the new set only');
    assert.equal(old1.handCalls + old2.handCalls, 0);
  });

  it('remove(): a worker removed gets nothing more', (t) => {
    const h = harness(t, ['a', 'b']);
    const [a, b] = h.workers as [FakeWorker, FakeWorker];
    b.load = 1;
    h.dispatcher.remove(a);
    h.dispatcher.offer(h.conn('c1'));
    assert.deepEqual(hands(h.journal), []);
    b.finish();
    h.dispatcher.drain();
    assert.deepEqual(hands(h.journal), ['hand:b:c1']);
  });
});

describe('Dispatcher: watch (room reports while requests wait)', () => {
  it('is off while nothing waits', (t) => {
    const h = harness(t, ['a', 'b']);
    h.dispatcher.offer(h.conn('c1'));
    h.dispatcher.offer(h.conn('c2'));
    h.dispatcher.drain();
    h.dispatcher.syncWatch();
    for (const worker of h.workers) assert.ok(!worker.watches.includes(true), `${worker.name}: ${worker.watches}`);
  });

  it('turns on for every worker when a request is queued, stays on while it waits', (t) => {
    const h = harness(t, ['a', 'b']);
    for (const worker of h.workers) worker.load = 1;
    h.dispatcher.offer(h.conn('c1'));
    for (const worker of h.workers) assert.equal(worker.watched, true, worker.name);
    // The pool's 1 s tick calls syncWatch(); drains without room come and go.
    for (let i = 0; i < 5; i++) {
      t.mock.timers.tick(1000);
      h.dispatcher.syncWatch();
      h.dispatcher.drain();
      for (const worker of h.workers) assert.equal(worker.watched, true, `${worker.name} after ${i + 1} s`);
    }
  });

  it('lingers about 100 ms after a short wait ends, then turns off', (t) => {
    const h = harness(t, ['a']);
    const [a] = h.workers as [FakeWorker];
    a.load = 1;
    h.dispatcher.offer(h.conn('c1'));
    assert.equal(a.watched, true);
    t.mock.timers.tick(30);
    a.finish();
    h.dispatcher.drain(); // the queue is empty from here on
    assert.equal(a.watched, true, 'still on right after the queue emptied');
    t.mock.timers.tick(40);
    h.dispatcher.syncWatch();
    assert.equal(a.watched, true, 'still on 40 ms after');
    t.mock.timers.tick(200);
    h.dispatcher.syncWatch();
    assert.equal(a.watched, false, 'off once the linger is over');
  });

  it('lingers about 100 ms after the queue empties, however long requests waited before', (t) => {
    const h = harness(t, ['a']);
    const [a] = h.workers as [FakeWorker];
    a.load = 1;
    h.dispatcher.offer(h.conn('c1'));
    // Requests wait 2.5 s; the pool's tick (syncWatch every second) runs meanwhile.
    for (let i = 0; i < 2; i++) {
      t.mock.timers.tick(1000);
      h.dispatcher.syncWatch();
    }
    t.mock.timers.tick(500);
    a.finish();
    h.dispatcher.drain(); // the queue empties now
    assert.equal(a.watched, true, 'still on right after the queue emptied (it lingers ~100 ms from here)');
    t.mock.timers.tick(40);
    h.dispatcher.syncWatch();
    assert.equal(a.watched, true, 'still on 40 ms after the queue emptied');
    t.mock.timers.tick(200);
    h.dispatcher.syncWatch();
    assert.equal(a.watched, false, 'off once the linger is over');
  });

  it('a request queued during the linger keeps it on', (t) => {
    const h = harness(t, ['a']);
    const [a] = h.workers as [FakeWorker];
    a.load = 1;
    h.dispatcher.offer(h.conn('c1'));
    t.mock.timers.tick(10);
    a.finish();
    h.dispatcher.drain();
    t.mock.timers.tick(50);
    h.dispatcher.offer(h.conn('c2'));
    t.mock.timers.tick(90);
    h.dispatcher.syncWatch();
    assert.equal(a.watched, true, 'c2 still waits');
    assert.ok(!a.watches.includes(false), `never turned off meanwhile: ${a.watches}`);
  });
});

describe('Dispatcher: a request given back, a client gone', () => {
  it('a request a worker gave back goes first in line, ahead of those queued since', (t) => {
    const h = harness(t, ['a']);
    h.workers[0]!.load = 1;
    h.dispatcher.offer(h.conn('c1'));
    h.dispatcher.offer(h.conn('c2'));
    const back = h.conn('back');
    h.dispatcher.retry(back);
    assert.equal(h.dispatcher.queued, 3);
    h.workers[0]!.finish();
    h.dispatcher.drain();
    assert.deepEqual(hands(h.journal), ['hand:a:back']);
  });

  it('a request given back is handed at once when a worker has room', (t) => {
    const h = harness(t, ['a', 'b']);
    h.workers[0]!.load = 1;
    h.dispatcher.retry(h.conn('back'));
    assert.deepEqual(hands(h.journal), ['hand:b:back']);
    assert.equal(h.dispatcher.queued, 0);
  });

  it('skips a request whose client is gone, now or while it waited', (t) => {
    const h = harness(t, ['a']);
    h.dispatcher.offer({ ...h.conn('gone'), closed: true });
    assert.deepEqual(hands(h.journal), []);
    assert.equal(h.dispatcher.queued, 0);
    h.workers[0]!.load = 1;
    const waiting = h.conn('left');
    h.dispatcher.offer(waiting);
    h.dispatcher.offer(h.conn('stayed'));
    waiting.closed = true;
    h.workers[0]!.finish();
    h.dispatcher.drain();
    assert.deepEqual(hands(h.journal), ['hand:a:stayed']);
  });
});

describe('Dispatcher: since when requests wait, as workers see it', () => {
  it('tells every worker when the oldest queued request began to wait, and 0 once the queue empties, without the watch\'s linger', (t) => {
    const h = harness(t, ['a', 'b']);
    assert.deepEqual(h.workers.map((w) => w.queueSince), [0, 0], 'told on joining');
    h.workers.forEach((w) => (w.load = 1));
    h.dispatcher.offer(h.conn('c1'));
    const queuedAt = Date.now();
    t.mock.timers.tick(3);
    h.dispatcher.offer(h.conn('c2'));
    assert.deepEqual(h.workers.map((w) => w.queueSince), [queuedAt, queuedAt], 'the oldest one');
    h.workers[0]!.finish();
    h.dispatcher.drain();
    assert.deepEqual(h.workers.map((w) => w.queueSince), [queuedAt + 3, queuedAt + 3], 'c2 is now the oldest');
    h.workers[0]!.finish();
    h.dispatcher.drain();
    assert.equal(h.dispatcher.queued, 0);
    assert.deepEqual(h.workers.map((w) => w.queueSince), [0, 0], 'at once');
    assert.equal(h.workers[1]!.watched, true, 'while the watch lingers');
  });

  it('a worker added while requests wait is told so', (t) => {
    const h = harness(t, ['a']);
    h.workers[0]!.load = 1;
    h.dispatcher.offer(h.conn('c1'));
    const late = new FakeWorker('late', h.journal);
    late.accepting = false;
    h.dispatcher.add(late);
    assert.equal(late.queueSince, Date.now());
  });
});
