// The native helper's parking thread (native/parking.c), with real
// descriptors in one process: a socketpair stands for the dispatch channel,
// others for client connections. Waits are bounded; the grace periods only
// ever make a record later, never earlier, so a slow machine cannot fail them.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { afterEach, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { nativeBinding, type Channel, type Parking } from '../../src/native/binding.js';
import { waitFor } from '../helpers/poold.js';

const native = nativeBinding();
const TAKEN = 17;

describe('native parking', () => {
  let parkings: Parking[] = [];
  let channels: Channel[] = [];
  let fds: number[] = [];

  afterEach(() => {
    for (const parking of parkings) native.closeParking(parking);
    for (const channel of channels) native.close(channel);
    for (const fd of fds) fs.closeSync(fd);
    parkings = [];
    channels = [];
    fds = [];
  });

  /** A parking whose records arrive in `records` (type and id). */
  function parkingWithChannel(graceMs: number): { parking: Parking; channel: Channel; records: { type: number; id: number }[] } {
    const [workerEnd, masterEnd] = native.socketpair();
    fds.push(workerEnd);
    const records: { type: number; id: number }[] = [];
    const channel = native.open(masterEnd, 64, (type, id) => records.push({ type, id }));
    channels.push(channel);
    const parking = native.openParking(workerEnd, 64, graceMs);
    parkings.push(parking);
    return { parking, channel, records };
  }

  /** A connection: [the worker's end, the client's end]. */
  function connection(): [number, number] {
    const ends = native.socketpair();
    fds.push(...ends);
    return ends;
  }

  it('a parked connection with nothing to read stays parked, and its worker has it back', async () => {
    const { parking, records } = parkingWithChannel(5);
    const [worker] = connection();
    native.park(parking, 3, worker, TAKEN);
    await sleep(60);
    assert.equal(native.unpark(parking, 3), true);
    assert.deepEqual(records, []);
  });

  it('one whose next request arrives is given to the master after the grace period, with the record its parking named', async () => {
    const { parking, records } = parkingWithChannel(5);
    const [worker, client] = connection();
    const parkedAt = Date.now();
    native.park(parking, 7, worker, TAKEN);
    fs.writeSync(client, 'GET / HTTP/1.1\r\n');
    await waitFor('the record', () => records.length === 1);
    assert.ok(Date.now() - parkedAt >= 5, 'not before the grace period');
    assert.deepEqual(records, [{ type: TAKEN, id: 7 }]);
    assert.equal(native.unpark(parking, 7), false, 'the worker no longer has it');
    // The bytes are still unread: the master reads them.
    const read = Buffer.alloc(64);
    assert.equal(read.toString('utf8', 0, fs.readSync(worker, read)), 'GET / HTTP/1.1\r\n');
  });

  it('a peer that closes counts as arriving: the master sees the end', async () => {
    const { parking, records } = parkingWithChannel(5);
    const [worker, client] = connection();
    native.park(parking, 1, worker, 19);
    fs.closeSync(client);
    fds = fds.filter((fd) => fd !== client);
    await waitFor('the record', () => records.length === 1);
    assert.deepEqual(records, [{ type: 19, id: 1 }]);
    assert.equal(native.unpark(parking, 1), false);
  });

  it('unparked within the grace period, a connection with a request waiting is the worker’s, and no record follows', async () => {
    const { parking, records } = parkingWithChannel(300);
    const [worker, client] = connection();
    native.park(parking, 2, worker, TAKEN);
    fs.writeSync(client, 'x');
    assert.equal(native.unpark(parking, 2), true);
    await sleep(400);
    assert.deepEqual(records, []);
  });

  it('a second parking of the same entry starts its own grace period', async () => {
    const graceMs = 150;
    const { parking, records } = parkingWithChannel(graceMs);
    const [worker, client] = connection();
    fs.writeSync(client, 'x');
    native.park(parking, 4, worker, TAKEN);
    await sleep(graceMs / 2);
    assert.equal(native.unpark(parking, 4), true);
    const parkedAgainAt = Date.now();
    native.park(parking, 4, worker, TAKEN);
    await waitFor('the record', () => records.length === 1);
    assert.ok(Date.now() - parkedAgainAt >= graceMs, 'the first parking’s time does not count');
    assert.equal(native.unpark(parking, 4), false);
  });

  it('many parked at once: only those with a request waiting are taken', async () => {
    const { parking, records } = parkingWithChannel(5);
    const connections = Array.from({ length: 20 }, () => connection());
    connections.forEach(([worker], entry) => native.park(parking, entry, worker, TAKEN));
    for (let entry = 0; entry < 20; entry += 3) fs.writeSync(connections[entry]![1], 'x');
    const expected = [0, 3, 6, 9, 12, 15, 18];
    await waitFor('the records', () => records.length === expected.length);
    assert.deepEqual(records.map((record) => record.id).sort((a, b) => a - b), expected);
    for (let entry = 0; entry < 20; entry++) assert.equal(native.unpark(parking, entry), !expected.includes(entry), `entry ${entry}`);
  });

  it('refuses what is not a parking or an entry, parking twice, unparking what is not parked, and use after close', () => {
    const { parking, channel } = parkingWithChannel(5);
    const [worker] = connection();
    assert.throws(() => native.openParking(-1, 64, 5), TypeError);
    assert.throws(() => native.openParking(worker, 64, 0), TypeError);
    assert.throws(() => native.park(parking, 64, worker, TAKEN), TypeError);
    assert.throws(() => native.park(parking, 0, worker, 0), TypeError);
    assert.throws(() => native.park({} as Parking, 0, worker, TAKEN), TypeError);
    // The helper's objects are tagged: one is never taken for the other.
    assert.throws(() => native.park(channel as unknown as Parking, 0, worker, TAKEN), TypeError);
    assert.throws(() => native.send(parking as unknown as Channel, 1, 0, -1), TypeError);
    native.park(parking, 0, worker, TAKEN);
    assert.throws(() => native.park(parking, 0, worker, TAKEN), { code: 'EEXIST' });
    assert.equal(native.unpark(parking, 0), true);
    assert.throws(() => native.unpark(parking, 0), /not parked/);
    native.closeParking(parking);
    native.closeParking(parking);
    assert.throws(() => native.park(parking, 0, worker, TAKEN), { code: 'EBADF' });
  });
});
