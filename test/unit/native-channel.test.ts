// The native helper's dispatch channel and shared memory, with real
// descriptors in one process. A channel's poll does not keep the event loop
// alive, so every wait here is waitFor(): a timer, and a bound.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, afterEach, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { nativeBinding, type Channel } from '../../src/native/binding.js';
import { waitFor } from '../helpers/poold.js';

const native = nativeBinding();
const O_CLOEXEC = 0o2000000;
const EBADF = -os.constants.errno.EBADF;

interface Received {
  type: number;
  id: number;
  fd: number;
  payload: Buffer | undefined;
}

/** True when `fd` is open with close-on-exec, as /proc/self/fdinfo tells. */
function closeOnExec(fd: number): boolean {
  const flags = /^flags:\s+([0-7]+)$/m.exec(fs.readFileSync(`/proc/self/fdinfo/${fd}`, 'utf8'))![1]!;
  return (parseInt(flags, 8) & O_CLOEXEC) !== 0;
}

describe('native dispatch channel', () => {
  let dir: string;
  // Everything a test opened, closed after it whatever happened.
  let channels: Channel[] = [];
  let fds: number[] = [];

  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'poold-channel-'));
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));
  afterEach(() => {
    for (const channel of channels) native.close(channel);
    for (const fd of fds) fs.closeSync(fd);
    channels = [];
    fds = [];
  });

  /** A channel opened on `fd` owns it from then on: close(channel) closes it. */
  function handOver(fd: number): void {
    fds = fds.filter((open) => open !== fd);
  }

  function pair(): [number, number] {
    const ends = native.socketpair();
    fds.push(...ends);
    return ends;
  }

  /** Opens `fd` as a channel that keeps what arrives; `onRecord` may act on each. */
  function receiver(fd: number, capacity = 256, onRecord?: (record: Received) => void) {
    const records: Received[] = [];
    handOver(fd);
    const channel = native.open(fd, capacity, (type, id, received, payload) => {
      const record = { type, id, fd: received, payload };
      records.push(record);
      if (received >= 0) fds.push(received);
      onRecord?.(record);
    });
    channels.push(channel);
    return { channel, records };
  }

  function sender(fd: number): Channel {
    handOver(fd);
    const channel = native.open(fd, 0, () => {});
    channels.push(channel);
    return channel;
  }

  function openFile(name: string): number {
    const fd = fs.openSync(path.join(dir, name), 'w+');
    fds.push(fd);
    return fd;
  }

  it('socketpair() gives two connected sockets, both close-on-exec', () => {
    const [a, b] = pair();
    assert.notEqual(a, b);
    for (const fd of [a, b]) {
      assert.ok(fs.fstatSync(fd).isSocket(), `${fd} is a socket`);
      assert.ok(closeOnExec(fd), `${fd} is close-on-exec`);
    }
    fs.writeSync(a, 'one record');
    const read = Buffer.alloc(64);
    assert.equal(read.toString('utf8', 0, fs.readSync(b, read)), 'one record');
  });

  it('a record with a payload and a descriptor arrives intact, and the descriptor is the same open file', async () => {
    const [a, b] = pair();
    const { records } = receiver(b);
    const file = openFile('passed');
    const payload = Buffer.from([0, 1, 2, 0xff, ...Buffer.from('GET / HTTP/1.1\r\n')]);
    assert.equal(native.send(sender(a), 200, 0xfffffffe, file, payload), true);

    const [record] = await waitFor('the record', () => records.length === 1 && records);
    assert.equal(record!.type, 200);
    assert.equal(record!.id, 0xfffffffe);
    assert.deepEqual(record!.payload, payload);
    assert.ok(record!.fd >= 0 && record!.fd !== file, `a new descriptor: ${record!.fd}`);
    assert.ok(closeOnExec(record!.fd), 'received close-on-exec');
    const [sent, got] = [fs.fstatSync(file), fs.fstatSync(record!.fd)];
    assert.deepEqual([got.dev, got.ino], [sent.dev, sent.ino]);
    fs.writeSync(record!.fd, 'written through the received descriptor');
    assert.equal(fs.readFileSync(path.join(dir, 'passed'), 'utf8'), 'written through the received descriptor');
  });

  it('records without a descriptor or a payload arrive with fd -1 and no payload', async () => {
    const [a, b] = pair();
    const { records } = receiver(b);
    const out = sender(a);
    assert.equal(native.send(out, 1, 0, -1), true);
    assert.equal(native.send(out, 2, 7, -1, Buffer.alloc(0)), true);
    assert.equal(native.send(out, 3, 8, -1, undefined), true);
    await waitFor('three records', () => records.length === 3);
    assert.deepEqual(records, [
      { type: 1, id: 0, fd: -1, payload: undefined },
      { type: 2, id: 7, fd: -1, payload: undefined },
      { type: 3, id: 8, fd: -1, payload: undefined },
    ]);
  });

  it('a burst of records, more than one wake-up reads, arrives complete and in order', async () => {
    const [a, b] = pair();
    const { records } = receiver(b);
    const out = sender(a);
    const count = 150;
    for (let i = 0; i < count; i++) {
      const payload = Buffer.alloc(4);
      payload.writeUInt32LE(i * 3);
      assert.equal(native.send(out, 5, i, -1, payload), true, `record ${i} sent`);
    }
    await waitFor(`${count} records`, () => records.length === count);
    assert.deepEqual(
      records.map((record) => [record.id, record.payload!.readUInt32LE()]),
      Array.from({ length: count }, (_, i) => [i, i * 3]),
    );
  });

  it('send() returns false once the peer stops reading, and the records wait for it', async () => {
    const [a, b] = pair();
    const out = sender(a);
    const payload = Buffer.alloc(64, 1);
    let sent = 0;
    while (sent < 100_000 && native.send(out, 4, sent, -1, payload)) sent++;
    assert.ok(sent > 0 && sent < 100_000, `full after ${sent} records`);
    assert.equal(native.send(out, 4, sent, -1, payload), false, 'still full');

    const { records } = receiver(b);
    await waitFor(`${sent} records`, () => records.length === sent);
    assert.deepEqual(
      records.map((record) => record.id),
      Array.from({ length: sent }, (_, i) => i),
    );
    assert.equal(native.send(out, 4, sent, -1, payload), true, 'room again once read');
  });

  it('the other end closing gives type 0 once, after the records it sent', async () => {
    const [a, b] = pair();
    const { records } = receiver(b);
    const out = sender(a);
    native.send(out, 9, 1, -1);
    native.send(out, 9, 2, -1);
    native.close(out);
    await waitFor('the end', () => records.length === 3);
    await sleep(100);
    assert.deepEqual(records, [
      { type: 9, id: 1, fd: -1, payload: undefined },
      { type: 9, id: 2, fd: -1, payload: undefined },
      { type: 0, id: 0, fd: -1, payload: undefined },
    ]);
  });

  it('a record longer than the capacity is dropped, and the descriptor it carried closed', async () => {
    const [a, b] = pair();
    const { records } = receiver(b, 16);
    const out = sender(a);
    const file = openFile('dropped');
    const open = () => fs.readdirSync('/proc/self/fd').length;
    const before = open();
    assert.equal(native.send(out, 1, 1, file, Buffer.alloc(17)), true);
    assert.equal(native.send(out, 1, 2, -1, Buffer.alloc(16, 2)), true);
    await waitFor('the record that fits', () => records.length === 1);
    assert.equal(records[0]!.id, 2);
    assert.deepEqual(records[0]!.payload, Buffer.alloc(16, 2));
    assert.equal(open(), before, 'no descriptor left open by the dropped record');
  });

  it('close() from inside the callback stops the records that follow', async () => {
    const [a, b] = pair();
    const out = sender(a);
    for (let id = 1; id <= 3; id++) native.send(out, 1, id, -1);
    const { channel, records } = receiver(b, 16, () => native.close(channel));
    await waitFor('the first record', () => records.length === 1);
    await sleep(50);
    assert.deepEqual(
      records.map((record) => record.id),
      [1],
    );
  });

  it('close() is idempotent, closes the descriptor, and a closed channel refuses to send', async () => {
    const [a, b] = pair();
    const { records } = receiver(b);
    const out = sender(a);
    native.close(out);
    await waitFor('the peer to see the end', () => records.length === 1);
    assert.equal(records[0]!.type, 0);
    // Again after the loop has released the handle, and once more.
    await sleep(10);
    native.close(out);
    native.close(out);
    assert.throws(() => native.send(out, 1, 1, -1), { code: 'EBADF', errno: EBADF, message: /^sendmsg: / });
  });

  it('a memfd sent through the channel maps the same memory at the other end', async () => {
    const [a, b] = pair();
    const { records } = receiver(b);
    const memory = native.anonymousMemory(4096);
    fds.push(memory);
    assert.ok(closeOnExec(memory), 'the memfd is close-on-exec');
    const mine = new Uint8Array(native.map(memory, 4096));
    mine.set([1, 2, 3], 4000);
    native.send(sender(a), 1, 1, memory);
    const [record] = await waitFor('the memfd', () => records.length === 1 && records);
    const theirs = new Uint8Array(native.map(record!.fd, 4096));
    assert.deepEqual([...theirs.subarray(4000, 4003)], [1, 2, 3]);
    theirs[0] = 42;
    assert.equal(mine[0], 42);
  });

  it('refuses wrong arguments with a TypeError', () => {
    const [a] = pair();
    const out = sender(a);
    const call = native as unknown as Record<string, (...args: unknown[]) => unknown>;
    for (const args of [['3', 16, () => {}], [a, 16, 'not a function'], [-1, 16, () => {}], [a, -1, () => {}], [a, 16]]) {
      assert.throws(() => call.open!(...args), { name: 'TypeError', message: 'open(fd, capacity, callback)' }, `open(${args})`);
    }
    for (const args of [[{}, 1, 1, -1], [out, 256, 1, -1], [out, -1, 1, -1], [out, 1, 1], [out, 1, 1, 'x']]) {
      assert.throws(() => call.send!(...args), { name: 'TypeError', message: 'send(channel, type, id, fd, payload?)' });
    }
    assert.throws(() => call.send!(out, 1, 1, -1, 'text'), { name: 'TypeError', message: /payload must be a Buffer/ });
    assert.throws(() => call.close!({}), { name: 'TypeError', message: 'close(channel)' });
    assert.throws(() => call.close!(), { name: 'TypeError' });
    assert.throws(() => call.anonymousMemory!(0), { name: 'TypeError' });
  });

  it('a failed system call throws with the errno name as code and the negative errno', () => {
    const [a] = pair();
    const closed = fs.openSync(path.join(dir, 'closed'), 'w+');
    fs.closeSync(closed);
    assert.throws(() => native.open(closed, 16, () => {}), { code: 'EBADF', errno: EBADF, message: 'fcntl: Bad file descriptor' });
    assert.throws(() => native.send(sender(a), 1, 1, closed), { code: 'EBADF', errno: EBADF, message: /^sendmsg: / });
    // A regular file cannot be polled.
    assert.throws(() => native.open(openFile('regular'), 16, () => {}), {
      code: 'EPERM',
      errno: -os.constants.errno.EPERM,
      message: /^uv_poll_init: /,
    });
  });

  it('poll() reads the records already waiting at once, in order, without waiting for the loop', () => {
    const [a, b] = pair();
    const out = sender(a);
    const { channel, records } = receiver(b);
    native.send(out, 1, 7, -1);
    native.send(out, 2, 8, -1, Buffer.from('x'));
    assert.equal(records.length, 0, 'nothing before the loop turns');
    native.poll(channel);
    assert.deepEqual(
      records.map((r) => [r.type, r.id, r.payload?.toString()]),
      [
        [1, 7, undefined],
        [2, 8, 'x'],
      ],
    );
    native.poll(channel);
    assert.equal(records.length, 2, 'nothing twice; an empty channel is no error');
  });

  it('peek() shows the bytes waiting on a socket without taking them: 0 when none, -1 once the peer closed', async () => {
    const [a, b] = pair();
    const into = Buffer.alloc(64);
    assert.equal(native.peek(b, into), 0);
    fs.writeSync(a, 'GET / HTTP/1.1\r\n\r\n');
    await waitFor('the bytes to arrive', () => native.peek(b, into) > 0);
    assert.equal(into.toString('latin1', 0, native.peek(b, into)), 'GET / HTTP/1.1\r\n\r\n');
    assert.equal(native.peek(b, into), 18, 'still there: nothing was taken');
    assert.equal(native.peek(b, Buffer.alloc(4)), 4, 'at most the buffer');
    const closed = fs.openSync(path.join(dir, 'peek-closed'), 'w+');
    fs.closeSync(closed);
    assert.throws(() => native.peek(closed, into), { code: 'EBADF' });
    const [c, d] = native.socketpair();
    fs.closeSync(c);
    assert.equal(native.peek(d, into), -1);
    fs.closeSync(d);
  });
});
