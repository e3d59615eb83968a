import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { nativeBinding } from '../../src/native/binding.js';
import { ScoreboardRegion } from '../../src/scoreboard/region.js';

const SIZE = 3 * 4096;

describe('scoreboard region', () => {
  let dir: string;
  let fd: number;
  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'poold-region-'));
    fd = fs.openSync(path.join(dir, 'region.scoreboard'), 'w+');
    fs.ftruncateSync(fd, SIZE);
  });
  after(() => {
    fs.closeSync(fd);
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('writes what a plain pread() sees and reads what a plain pwrite() wrote', () => {
    const region = new ScoreboardRegion(fd, SIZE);
    const written = Buffer.alloc(512, 3);
    region.write(written, 512, 4096 + 512);
    const seen = Buffer.alloc(512);
    fs.readSync(fd, seen, 0, 512, 4096 + 512);
    assert.deepEqual(seen, written);

    const other = Buffer.alloc(100, 0xab);
    fs.writeSync(fd, other, 0, 100, 8000);
    const read = Buffer.alloc(100);
    region.read(read, 100, 8000);
    assert.deepEqual(read, other);
  });

  it('writes only the first `length` bytes of the buffer given', () => {
    const region = new ScoreboardRegion(fd, SIZE);
    fs.writeSync(fd, Buffer.alloc(16, 1), 0, 16, 0);
    region.write(Buffer.alloc(16, 2), 8, 0);
    const seen = Buffer.alloc(16);
    fs.readSync(fd, seen, 0, 16, 0);
    assert.deepEqual(seen, Buffer.concat([Buffer.alloc(8, 2), Buffer.alloc(8, 1)]));
  });

  it('anonymous memory has a sealed size, its pages allocated, and the name given (default: poold)', () => {
    const { anonymousMemory } = nativeBinding();
    const named = anonymousMemory(SIZE, 'poold-scoreboard:www');
    const unnamed = anonymousMemory(SIZE);
    try {
      assert.equal(fs.readlinkSync(`/proc/self/fd/${named}`), '/memfd:poold-scoreboard:www (deleted)');
      assert.equal(fs.readlinkSync(`/proc/self/fd/${unnamed}`), '/memfd:poold (deleted)');
      for (const size of [0, SIZE - 1, SIZE + 4096]) {
        assert.throws(() => fs.ftruncateSync(unnamed, size), { code: 'EPERM' }, `ftruncate to ${size}`);
      }
      const stat = fs.fstatSync(named);
      assert.equal(stat.size, SIZE);
      assert.equal(stat.blocks * 512, SIZE, 'allocated at creation');
    } finally {
      fs.closeSync(named);
      fs.closeSync(unnamed);
    }
    const call = anonymousMemory as unknown as (...args: unknown[]) => number;
    for (const args of [[0], [SIZE, 42], [SIZE, {}]]) {
      assert.throws(() => call(...args), { name: 'TypeError', message: 'anonymousMemory(length, name?): a positive length and a string' });
    }
  });

  it('the helper refuses a bad descriptor or length with a message and the errno', () => {
    const { map } = nativeBinding();
    assert.throws(() => map(-1, SIZE), { name: 'TypeError', message: /an open file descriptor and a positive length/ });
    assert.throws(() => map(fd, 0), { name: 'TypeError' });
    const closed = fs.openSync(path.join(dir, 'closed'), 'w+');
    fs.closeSync(closed);
    assert.throws(() => map(closed, SIZE), { code: 'EBADF', message: /mmap: Bad file descriptor/ });
  });
});
