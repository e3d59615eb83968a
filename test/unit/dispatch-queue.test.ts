import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DispatchQueue } from '../../src/pool/dispatch-queue.js';

interface QueuedConnection {
  id: number;
  queuedAt: number;
}

const conn = (id: number): QueuedConnection => ({ id, queuedAt: 1_000 + id });
const ids = (items: readonly (QueuedConnection | undefined)[]): (number | undefined)[] => items.map((c) => c?.id);

/** The queue's backing array, to check that compaction bounds it. */
const backing = (queue: DispatchQueue<QueuedConnection>): unknown[] => (queue as unknown as { items: unknown[] }).items;

function shiftAll(queue: DispatchQueue<QueuedConnection>): number[] {
  const out: number[] = [];
  for (let c = queue.shift(); c; c = queue.shift()) out.push(c.id);
  return out;
}

describe('DispatchQueue', () => {
  it('starts empty', () => {
    const queue = new DispatchQueue<QueuedConnection>();
    assert.equal(queue.length, 0);
    assert.equal(queue.peek(), undefined);
    assert.equal(queue.shift(), undefined);
    assert.deepEqual(queue.drain(), []);
  });

  it('is FIFO and tracks its length', () => {
    const queue = new DispatchQueue<QueuedConnection>();
    for (let i = 1; i <= 5; i++) queue.push(conn(i));
    assert.equal(queue.length, 5);
    assert.equal(queue.shift()?.id, 1);
    assert.equal(queue.shift()?.id, 2);
    assert.equal(queue.length, 3);
    queue.push(conn(6));
    assert.deepEqual(shiftAll(queue), [3, 4, 5, 6]);
    assert.equal(queue.length, 0);
    assert.equal(queue.shift(), undefined);
  });

  it('peek returns the head without removing it', () => {
    const queue = new DispatchQueue<QueuedConnection>();
    queue.push(conn(1));
    queue.push(conn(2));
    assert.equal(queue.peek()?.id, 1);
    assert.equal(queue.peek()?.id, 1);
    assert.equal(queue.length, 2);
    queue.shift();
    assert.equal(queue.peek()?.id, 2);
    queue.shift();
    assert.equal(queue.peek(), undefined);
  });

  it('unshift puts a connection back at the head, keeping its turn', () => {
    const queue = new DispatchQueue<QueuedConnection>();
    for (let i = 1; i <= 3; i++) queue.push(conn(i));
    const first = queue.shift()!;
    queue.unshift(first);
    assert.equal(queue.length, 3);
    assert.equal(queue.peek(), first);
    // also on a queue that has never been shifted, and on an empty one
    const fresh = new DispatchQueue<QueuedConnection>();
    fresh.push(conn(2));
    fresh.unshift(conn(1));
    assert.deepEqual(shiftAll(fresh), [1, 2]);
    fresh.unshift(conn(9));
    assert.equal(fresh.length, 1);
    assert.deepEqual(shiftAll(fresh), [9]);
    assert.deepEqual(shiftAll(queue), [1, 2, 3]);
  });

  it('drain returns the waiting connections in order and empties the queue', () => {
    const queue = new DispatchQueue<QueuedConnection>();
    for (let i = 1; i <= 4; i++) queue.push(conn(i));
    queue.shift();
    assert.deepEqual(ids(queue.drain()), [2, 3, 4]);
    assert.equal(queue.length, 0);
    assert.equal(queue.peek(), undefined);
    assert.deepEqual(queue.drain(), []);
    queue.push(conn(5));
    assert.deepEqual(shiftAll(queue), [5]);
  });

  it('keeps FIFO order across compaction (more than 1024 shifts), with unshift and push interleaved', () => {
    const queue = new DispatchQueue<QueuedConnection>();
    let nextIn = 0;
    let nextOut = 0;
    for (let i = 0; i < 3_000; i++) queue.push(conn(nextIn++));
    for (let round = 0; round < 5_000; round++) {
      const head = queue.shift()!;
      assert.equal(head.id, nextOut, `round ${round}`);
      if (round % 7 === 0) queue.unshift(head); // handover failed: same connection is next again
      else nextOut++;
      if (round % 3 === 0) queue.push(conn(nextIn++));
      assert.equal(queue.length, nextIn - nextOut, `round ${round}`);
      assert.equal(queue.peek()?.id, nextOut, `round ${round}`);
    }
    assert.ok(backing(queue).length < nextIn, 'the backing array was compacted along the way');
    const rest = ids(queue.drain());
    assert.deepEqual(rest, Array.from({ length: nextIn - nextOut }, (_, i) => nextOut + i));
  });

  it('compacts its storage: a long-lived queue does not grow without bound', () => {
    const queue = new DispatchQueue<QueuedConnection>();
    for (let i = 0; i < 3; i++) queue.push(conn(i));
    let nextIn = 3;
    for (let i = 0; i < 100_000; i++) {
      queue.push(conn(nextIn++));
      assert.equal(queue.shift()?.id, i);
      assert.equal(queue.length, 3);
      const backed = backing(queue).length;
      assert.ok(backed <= 2_100, `step ${i}: backing array has ${backed} entries`);
    }
    assert.deepEqual(ids(queue.drain()), [100_000, 100_001, 100_002]);
  });
});
