import assert from 'node:assert/strict';
import fs from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { globSync } from '../../src/config/glob.js';
import { Fixture } from '../helpers/config-fixtures.js';

describe('globSync', () => {
  const fx = new Fixture();
  const rel = (files: string[]): string[] => files.map((f) => f.slice(fx.dir.length + 1));

  before(() => {
    for (const file of ['b.conf', 'a.conf', 'c.ini', 'ab.conf', '.hidden.conf', 'x]y.conf', 'star*.conf']) {
      fx.write(`d/${file}`, '');
    }
    fs.mkdirSync(fx.path('d/dir.conf'));
    fx.write('p1/sub/one.conf', '');
    fx.write('p2/sub/two.conf', '');
    fx.write('q/sub/three.conf', '');
  });
  after(() => fx.cleanup());

  it('matches * in sorted order, skipping directories and dotfiles', () => {
    assert.deepEqual(rel(globSync(fx.path('d/*.conf'))), [
      'd/a.conf',
      'd/ab.conf',
      'd/b.conf',
      'd/star*.conf',
      'd/x]y.conf',
    ]);
  });

  it('matches a leading dot only when the pattern spells it', () => {
    assert.deepEqual(rel(globSync(fx.path('d/.*.conf'))), ['d/.hidden.conf']);
  });

  it('matches ? as exactly one character', () => {
    assert.deepEqual(rel(globSync(fx.path('d/?.conf'))), ['d/a.conf', 'd/b.conf']);
  });

  it('matches bracket classes, ranges and negation', () => {
    assert.deepEqual(rel(globSync(fx.path('d/[ab].conf'))), ['d/a.conf', 'd/b.conf']);
    assert.deepEqual(rel(globSync(fx.path('d/[a-b]?.conf'))), ['d/ab.conf']);
    assert.deepEqual(rel(globSync(fx.path('d/[!a].conf'))), ['d/b.conf']);
    assert.deepEqual(rel(globSync(fx.path('d/[^a].conf'))), ['d/b.conf']);
    assert.deepEqual(rel(globSync(fx.path('d/x[]]y.conf'))), ['d/x]y.conf']);
  });

  it('treats an escaped wildcard as a literal character', () => {
    assert.deepEqual(rel(globSync(fx.path('d/star\\*.conf'))), ['d/star*.conf']);
  });

  it('expands wildcards in directory segments', () => {
    assert.deepEqual(rel(globSync(fx.path('p*/sub/*.conf'))), ['p1/sub/one.conf', 'p2/sub/two.conf']);
  });

  it('returns a literal path only if it exists and is not a directory', () => {
    assert.deepEqual(rel(globSync(fx.path('d/a.conf'))), ['d/a.conf']);
    assert.deepEqual(globSync(fx.path('d/missing.conf')), []);
    assert.deepEqual(globSync(fx.path('d/dir.conf')), []);
  });

  it('returns nothing for a missing directory or an invalid range', () => {
    assert.deepEqual(globSync(fx.path('nope/*.conf')), []);
    assert.deepEqual(globSync(fx.path('d/[z-a].conf')), []);
  });

  it('rejects a relative pattern', () => {
    assert.throws(() => globSync('d/*.conf'), /must be absolute/);
  });
});
