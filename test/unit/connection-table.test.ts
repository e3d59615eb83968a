import assert from 'node:assert/strict';
import { closeSync } from 'node:fs';
import { describe, it } from 'node:test';
import { createConnectionTable, mapConnectionTable, TableHeader } from '../../src/ipc/connection-table.js';

/** The master's and the worker's views of one table, as two mappings of its memfd. */
function twoSides(): { master: TableHeader; worker: TableHeader; bytes: { master: Uint8Array; worker: Uint8Array } } {
  const { fd, table } = createConnectionTable();
  const other = mapConnectionTable(fd);
  closeSync(fd);
  return { master: new TableHeader(table), worker: new TableHeader(other), bytes: { master: table, worker: other } };
}

describe('connection table header', () => {
  it('an offer counts while the worker has room; the worker sees the count', () => {
    const { master, worker } = twoSides();
    assert.equal(master.offer(), true);
    assert.equal(master.offer(), true);
    assert.equal(worker.offered(), 2);
    master.withdraw();
    assert.equal(worker.offered(), 1, 'a hand-over that was not sent is taken back');
  });

  it('once the worker says it is full, an offer is given up and not counted', () => {
    const { master, worker } = twoSides();
    master.offer();
    worker.setFull(true);
    assert.equal(master.offer(), false);
    assert.equal(worker.offered(), 1, 'only the offer made before');
    worker.setFull(false);
    assert.equal(master.offer(), true);
    assert.equal(worker.offered(), 2);
  });

  it('the queue\'s age travels in the first 8 bytes, apart from the connections\' entries', () => {
    const { master, worker, bytes } = twoSides();
    master.queueSince = 1_765_000_000_123.5;
    assert.equal(worker.queueSince, 1_765_000_000_123.5);
    master.offer();
    worker.setFull(true);
    bytes.worker[16] = 3;
    assert.equal(bytes.master[16], 3, 'entry 16 is the first connection\'s, shared');
    assert.equal(master.queueSince, 1_765_000_000_123.5, 'untouched by the words and entries');
    master.queueSince = 0;
    assert.equal(worker.queueSince, 0);
  });

  it('the worker asks whether requests wait in the queue; the question leaves the offers as they are', () => {
    const { master, worker } = twoSides();
    assert.equal(worker.queueWaits(), false);
    master.offer();
    master.queueSince = 1_765_000_000_000;
    assert.equal(worker.queueWaits(), true);
    assert.equal(worker.offered(), 1);
    master.queueSince = 0;
    assert.equal(worker.queueWaits(), false);
  });
});
