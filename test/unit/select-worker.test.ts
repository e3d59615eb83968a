import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { selectWorker, type Candidate } from '../../src/pool/select-worker.js';

interface W extends Candidate {
  name: string;
}
const w = (name: string, load: number, lastFreeAt: number, accepting = true, held = load, upgraded = 0): W => ({
  name,
  load,
  lastFreeAt,
  accepting,
  held,
  upgraded,
});

describe('selectWorker', () => {
  it('returns undefined with no workers', () => {
    assert.equal(selectWorker([], 1), undefined);
  });

  it('skips workers that are not accepting', () => {
    assert.equal(selectWorker([w('a', 0, 1, false)], 1), undefined);
    assert.equal(selectWorker([w('a', 0, 1, false), w('b', 0, 5)], 1)?.name, 'b');
  });

  it('skips workers at pm.max_concurrency (or above)', () => {
    assert.equal(selectWorker([w('a', 1, 1), w('b', 1, 2)], 1), undefined);
    assert.equal(selectWorker([w('a', 4, 1), w('b', 5, 2)], 4), undefined);
    assert.equal(selectWorker([w('a', 4, 1), w('b', 3, 2)], 4)?.name, 'b');
  });

  it('picks the least loaded', () => {
    const workers = [w('a', 3, 1), w('b', 1, 9), w('c', 2, 0), w('d', 1, 10)];
    assert.equal(selectWorker(workers, 4)?.name, 'b');
    assert.equal(selectWorker([w('a', 2, 1), w('b', 0, 100)], 4)?.name, 'b');
  });

  it('breaks ties by the oldest lastFreeAt, wherever it is in the list', () => {
    assert.equal(selectWorker([w('a', 0, 30), w('b', 0, 10), w('c', 0, 20)], 1)?.name, 'b');
    assert.equal(selectWorker([w('a', 0, 10), w('b', 0, 30), w('c', 0, 20)], 1)?.name, 'a');
    assert.equal(selectWorker([w('a', 0, 30), w('b', 0, 20), w('c', 0, 10)], 1)?.name, 'c');
    // a lower load beats an older lastFreeAt
    assert.equal(selectWorker([w('a', 1, 0), w('b', 0, 50)], 2)?.name, 'b');
  });

  it('among equal loads, prefers the one holding fewer connections, then the one free longest', () => {
    // b holds an idle kept-alive connection: a request sent to it would make it hand that one back.
    assert.equal(selectWorker([w('a', 0, 50, true, 0), w('b', 0, 10, true, 1)], 1)?.name, 'a');
    assert.equal(selectWorker([w('a', 0, 50, true, 2), w('b', 0, 10, true, 1), w('c', 0, 5, true, 1)], 1)?.name, 'c');
    // a lower load still comes first
    assert.equal(selectWorker([w('a', 1, 0, true, 0), w('b', 0, 50, true, 3)], 2)?.name, 'b');
  });

  it('among equal loads and connections, prefers the one holding fewer upgraded connections, then the one free longest', () => {
    assert.equal(selectWorker([w('a', 0, 10, true, 0, 2), w('b', 0, 50, true, 0, 1)], 1)?.name, 'b');
    assert.equal(selectWorker([w('a', 0, 50, true, 0, 1), w('b', 0, 10, true, 0, 1)], 1)?.name, 'b');
    // load and connections that may bring a request come first
    assert.equal(selectWorker([w('a', 1, 0, true, 1, 0), w('b', 0, 50, true, 0, 5)], 2)?.name, 'b');
    assert.equal(selectWorker([w('a', 0, 0, true, 1, 0), w('b', 0, 50, true, 0, 5)], 2)?.name, 'b');
  });

  it('with everything equal, keeps the first in order (a stable choice)', () => {
    const workers = [w('a', 1, 10, true, 2), w('b', 1, 10, true, 2), w('c', 1, 10, true, 2)];
    assert.equal(selectWorker(workers, 2)?.name, 'a');
    assert.equal(selectWorker(workers.slice(1), 2)?.name, 'b');
  });

  it('accepts any iterable, e.g. a Map\'s values', () => {
    const map = new Map([
      [1, w('a', 1, 5)],
      [2, w('b', 0, 7)],
    ]);
    assert.equal(selectWorker(map.values(), 2)?.name, 'b');
  });

  it('returns the worker object itself', () => {
    const only = w('x', 0, 0);
    assert.equal(selectWorker([only], 1), only);
  });
});
