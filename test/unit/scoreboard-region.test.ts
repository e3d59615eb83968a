import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { findOnPath } from '../../src/pool/spawn-worker.js';
import { nativeMapFile, nativeMapProblem, ScoreboardRegion } from '../../src/scoreboard/region.js';

const SIZE = 3 * 4096;

// npm install builds the helper wherever node-gyp's tools are; such a machine
// must not silently fall back to system calls.
const canBuild = ['python3', 'make', 'g++'].every((command) => findOnPath(command) !== null);

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

  it('has the native mapping helper on a machine that can build it', { skip: !canBuild && 'no python3, make and g++ here' }, () => {
    assert.equal(nativeMapProblem, null);
    assert.equal(typeof nativeMapFile, 'function');
  });

  const modes = [
    { name: 'mapped', mapFile: nativeMapFile },
    { name: 'system calls', mapFile: null },
  ] as const;

  for (const { name, mapFile } of modes) {
    describe(name, { skip: name === 'mapped' && !mapFile && 'the native helper is not built' }, () => {
      it('writes what a plain pread() sees and reads what a plain pwrite() wrote', () => {
        const region = new ScoreboardRegion(fd, SIZE, mapFile);
        const written = Buffer.alloc(512, name.length);
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
        const region = new ScoreboardRegion(fd, SIZE, mapFile);
        fs.writeSync(fd, Buffer.alloc(16, 1), 0, 16, 0);
        region.write(Buffer.alloc(16, 2), 8, 0);
        const seen = Buffer.alloc(16);
        fs.readSync(fd, seen, 0, 16, 0);
        assert.deepEqual(seen, Buffer.concat([Buffer.alloc(8, 2), Buffer.alloc(8, 1)]));
      });
    });
  }

  it('a mapped writer and a system-call reader share the bytes, both ways', { skip: !nativeMapFile && 'the native helper is not built' }, () => {
    const mapped = new ScoreboardRegion(fd, SIZE);
    const plain = new ScoreboardRegion(fd, SIZE, null);
    const out = Buffer.alloc(64);
    mapped.write(Buffer.alloc(64, 7), 64, 2048);
    plain.read(out, 64, 2048);
    assert.deepEqual(out, Buffer.alloc(64, 7));
    plain.write(Buffer.alloc(64, 9), 64, 2048);
    mapped.read(out, 64, 2048);
    assert.deepEqual(out, Buffer.alloc(64, 9));
  });

  it('the helper refuses a bad descriptor or length with a message', { skip: !nativeMapFile && 'the native helper is not built' }, () => {
    const map = nativeMapFile!;
    assert.throws(() => map(-1, SIZE), { name: 'TypeError', message: /an open file descriptor and a positive length/ });
    assert.throws(() => map(fd, 0), { name: 'TypeError' });
    const closed = fs.openSync(path.join(dir, 'closed'), 'w+');
    fs.closeSync(closed);
    assert.throws(() => map(closed, SIZE), { message: /mmap of the scoreboard failed: Bad file descriptor/ });
  });
});
