import assert from 'node:assert/strict';
import net from 'node:net';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { readIni, type IniDocument } from '../../src/config/ini.js';
import { ConfigError } from '../../src/config/index.js';
import { Fixture, lineOf } from '../helpers/config-fixtures.js';

let fx: Fixture;
beforeEach(() => {
  fx = new Fixture();
});
afterEach(() => fx.cleanup());

/** The pool's entries as `key[sub]=value` strings, for compact assertions. */
function flat(doc: IniDocument, pool: string): string[] {
  const found = doc.pools.find((p) => p.name === pool);
  assert.ok(found, `pool ${pool} not found`);
  return found.entries.map((e) => `${e.key}${e.subkey === null ? '' : `[${e.subkey}]`}=${e.value}`);
}

function read(text: string, env: NodeJS.ProcessEnv = {}): IniDocument {
  return readIni(fx.write('poold.conf', text), env);
}

describe('INI sections and entries', () => {
  it('puts entries before any section and under [global] in the global section', () => {
    const doc = read('pid = a.pid\n[global]\nlog_level = debug\n');
    assert.deepEqual(
      doc.global.map((e) => [e.key, e.value, e.line]),
      [
        ['pid', 'a.pid', 1],
        ['log_level', 'debug', 3],
      ],
    );
    assert.deepEqual(doc.pools, []);
  });

  it('keeps each entry’s file and line', () => {
    const file = fx.path('poold.conf');
    const doc = read('[www]\n\n  listen = 9000\n');
    assert.deepEqual(doc.pools[0]!.entries[0], { key: 'listen', subkey: null, value: '9000', file, line: 3 });
    assert.deepEqual([doc.pools[0]!.file, doc.pools[0]!.line], [file, 1]);
  });

  it('reopens a pool by name, case-insensitively, keeping the first spelling', () => {
    const doc = read('[www]\na = 1\n[other]\nb = 2\n[WWW]\nc = 3\n[Global]\nd = 4\n');
    assert.deepEqual(
      doc.pools.map((p) => p.name),
      ['www', 'other'],
    );
    assert.deepEqual(flat(doc, 'www'), ['a=1', 'c=3']);
    assert.deepEqual(
      doc.global.map((e) => e.key),
      ['d'],
    );
  });

  it('lower-cases directive names but not array keys', () => {
    const doc = read('[www]\nPM.Max_Children = 5\nENV[Path] = /bin\n');
    assert.deepEqual(flat(doc, 'www'), ['pm.max_children=5', 'env[Path]=/bin']);
  });

  it('reads key[sub] arrays, trimming the key and leaving an empty key empty', () => {
    const doc = read('[www]\nenv[ A ] = 1\nenv[] = 2\n');
    assert.deepEqual(flat(doc, 'www'), ['env[A]=1', 'env[]=2']);
  });

  it('accepts CRLF line endings and a UTF-8 BOM', () => {
    const doc = read('\uFEFF[www]\r\nlisten = 9000\r\n');
    assert.deepEqual(flat(doc, 'www'), ['listen=9000']);
  });
});

describe('INI comments and quoting', () => {
  it('skips ; and # comment lines and strips ; trailing comments', () => {
    const doc = read('; comment\n# comment\n   ; indented\n[www] ; pool\na = 1 ; trailing\nb = x#y\nc =\n');
    assert.deepEqual(flat(doc, 'www'), ['a=1', 'b=x#y', 'c=']);
  });

  it('keeps ; and spaces inside double and single quotes', () => {
    const doc = read(`[www]\na = "x ; y"\nb = ' padded '\nc = "q" ; comment\nd = "say \\"hi\\" \\\\ ok"\n`);
    assert.deepEqual(flat(doc, 'www'), ['a=x ; y', 'b= padded ', 'c=q', 'd=say "hi" \\ ok']);
  });

  it('concatenates adjacent quoted and bare parts', () => {
    const doc = read(`[www]\na = 'it'"'"'s'\nb = pre"mid"post\n`);
    assert.deepEqual(flat(doc, 'www'), ["a=it's", 'b=premidpost']);
  });

  it('expands ${NAME} from the environment except inside single quotes', () => {
    const doc = read(`[www]\na = \${PORT}\nb = "\${PORT}x"\nc = '\${PORT}'\n`, { PORT: '9000' });
    assert.deepEqual(flat(doc, 'www'), ['a=9000', 'b=9000x', 'c=${PORT}']);
    assert.deepEqual(doc.warnings, []);
  });

  it('expands an unset ${NAME} to nothing, with a warning', () => {
    const file = fx.path('poold.conf');
    const doc = read('[www]\n\na = x${NOPE}y\n');
    assert.deepEqual(flat(doc, 'www'), ['a=xy']);
    assert.deepEqual(doc.warnings, [`[${file}:3] environment variable 'NOPE' is not set, using an empty value`]);
  });
});

describe('INI $pool', () => {
  it('expands every $pool in values inside a pool', () => {
    const doc = read("[api]\nslowlog = /var/log/$pool/$pool.log\nenv[NAME] = '$pool'\n");
    assert.deepEqual(flat(doc, 'api'), ['slowlog=/var/log/api/api.log', 'env[NAME]=api']);
  });

  it('rejects $pool outside a pool', () => {
    const file = fx.path('poold.conf');
    const doc = read('[global]\npid = /run/$pool.pid\n');
    assert.deepEqual(doc.issues, [
      {
        file,
        line: 2,
        key: 'pid',
        message: "unable to parse value for entry 'pid': Can't use '$pool' when the pool is not defined",
      },
    ]);
    assert.deepEqual(doc.global, []);
  });
});

describe('INI syntax errors', () => {
  it('reports each bad line with its file and line, and keeps reading', () => {
    const text = [
      '[www]',
      'just words',
      'bad key! = 1',
      'a = "open',
      "b = 'open",
      '[]',
      '[www',
      'c = 3',
    ].join('\n');
    const file = fx.path('poold.conf');
    const doc = read(text);
    assert.deepEqual(doc.issues, [
      { file, line: 2, message: "syntax error: expected 'key = value', '[section]' or a comment" },
      { file, line: 3, message: "syntax error: invalid key 'bad key!'" },
      { file, line: 4, message: 'syntax error: unterminated double-quoted value' },
      { file, line: 5, message: 'syntax error: unterminated single-quoted value' },
      { file, line: 6, message: 'syntax error: empty section name' },
      { file, line: 7, message: "syntax error: expected '[section]'" },
    ]);
    assert.deepEqual(flat(doc, 'www'), ['c=3']);
  });

  it('throws ConfigError when the main file cannot be read', () => {
    const missing = fx.path('missing.conf');
    assert.throws(
      () => readIni(missing, {}),
      (err: unknown) =>
        err instanceof ConfigError &&
        err.message === `failed to open configuration file '${missing}': No such file or directory`,
    );
    assert.throws(
      () => readIni(fx.dir, {}),
      (err: unknown) =>
        err instanceof ConfigError && err.message === `failed to open configuration file '${fx.dir}': Is a directory`,
    );
  });
});

describe('INI include', () => {
  it('includes matching files in sorted order, relative to the including file', () => {
    fx.write('conf/pool.d/b.conf', '[b]\nx = 2\n');
    fx.write('conf/pool.d/a.conf', '[a]\nx = 1\n');
    fx.write('conf/pool.d/skip.txt', '[skip]\n');
    fx.write('conf/pool.d/dir.conf/inner.conf', '[inner]\n');
    const main = fx.write('conf/poold.conf', '[global]\ninclude = pool.d/*.conf\n');
    const doc = readIni(main, {});
    assert.deepEqual(
      doc.pools.map((p) => [p.name, p.file]),
      [
        ['a', fx.path('conf/pool.d/a.conf')],
        ['b', fx.path('conf/pool.d/b.conf')],
      ],
    );
    assert.deepEqual(doc.issues, []);
  });

  it('resolves nested includes against each included file’s own directory', () => {
    fx.write('one/inc.conf', 'include = two/*.conf\n');
    fx.write('one/two/pool.conf', '[deep]\nlisten = 9000\n');
    const doc = read('include = one/inc.conf\n');
    assert.deepEqual(flat(doc, 'deep'), ['listen=9000']);
    assert.equal(doc.pools[0]!.entries[0]!.file, fx.path('one/two/pool.conf'));
  });

  it('accepts an absolute include pattern and wildcards in directories', () => {
    fx.write('sites/a/pool.conf', '[a]\n');
    fx.write('sites/b/pool.conf', '[b]\n');
    const doc = read(`include = ${fx.path('sites')}/?/*.conf\n`);
    assert.deepEqual(
      doc.pools.map((p) => p.name),
      ['a', 'b'],
    );
  });

  it('warns, php-fpm style, when nothing matches', () => {
    const text = '[global]\n\ninclude = pool.d/*.conf\n';
    const main = fx.write('poold.conf', text);
    const doc = readIni(main, {});
    assert.deepEqual(doc.warnings, [
      `Nothing matches the include pattern '${fx.path('pool.d/*.conf')}' from ${main} at line 3.`,
    ]);
    assert.deepEqual(doc.issues, []);
  });

  it('carries the current section into and out of included files, as php-fpm does', () => {
    fx.write('inc.conf', 'b = 2\n[other]\nc = 3\n');
    const doc = read('[www]\na = 1\ninclude = inc.conf\nd = 4\n');
    assert.deepEqual(flat(doc, 'www'), ['a=1', 'b=2']);
    assert.deepEqual(flat(doc, 'other'), ['c=3', 'd=4']);
  });

  it('expands $pool in an include inside a pool', () => {
    fx.write('www.extra', 'extra = yes\n');
    const doc = read('[www]\ninclude = $pool.extra\n');
    assert.deepEqual(flat(doc, 'www'), ['extra=yes']);
  });

  it('allows five files deep and fails at the sixth, at the include line', () => {
    // poold.conf -> 1.conf -> 2.conf -> 3.conf -> 4.conf is five files.
    fx.write('1.conf', 'include = 2.conf\n');
    fx.write('2.conf', 'include = 3.conf\n');
    fx.write('3.conf', 'include = 4.conf\n');
    const four = fx.write('4.conf', '[deep]\nok = 1\n\ninclude = 5.conf\n');
    fx.write('5.conf', 'too_deep = 1\n');
    const doc = read('include = 1.conf\n');
    assert.deepEqual(flat(doc, 'deep'), ['ok=1']);
    assert.deepEqual(doc.issues, [
      { file: four, line: 4, key: 'include', message: 'failed to include more than 5 files recursively' },
    ]);
  });

  it('stops an include cycle at the depth limit', () => {
    const loop = fx.write('loop.conf', 'include = loop.conf\n');
    const doc = readIni(loop, {});
    assert.equal(doc.issues.length, 1);
    assert.equal(doc.issues[0]!.message, 'failed to include more than 5 files recursively');
  });

  it('reports an included file that cannot be opened at the include line', async () => {
    // Opening a unix socket fails (ENXIO) even for root, unlike a chmod 000 file.
    const socketPath = fx.path('sock.conf');
    const server = net.createServer();
    await new Promise<void>((resolve) => server.listen(socketPath, resolve));
    try {
      const text = '[www]\n\ninclude = sock.conf\n';
      const main = fx.write('poold.conf', text);
      const doc = readIni(main, {});
      assert.deepEqual(doc.issues, [
        {
          file: main,
          line: lineOf(text, 'include'),
          key: 'include',
          message: `failed to open configuration file '${socketPath}': No such device or address`,
        },
      ]);
    } finally {
      server.close();
    }
  });
});
