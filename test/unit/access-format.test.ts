import assert from 'node:assert/strict';
import { Buffer } from 'node:buffer';
import { after, before, describe, it } from 'node:test';
import {
  ACCESS_LOG_BUFFER,
  ACCESS_LOG_TRUNCATED_NOTICE,
  AccessFormatError,
  compileAccessFormat,
  DEFAULT_ACCESS_FORMAT,
  DEFAULT_TIME_FORMAT,
  isSuppressed,
  type AccessRecord,
} from '../../src/log/access-format.js';

// Local time is part of the contract (%t, %T): pin the zone, per test where it matters.
const ORIGINAL_TZ = process.env.TZ;
function inZone<T>(tz: string, body: () => T): T {
  const saved = process.env.TZ;
  process.env.TZ = tz;
  try {
    return body();
  } finally {
    setZone(saved);
  }
}
function setZone(tz: string | undefined): void {
  if (tz === undefined) delete process.env.TZ;
  else process.env.TZ = tz;
}

// The request of FPM's OBSERVED line (php-fpm.md §5): received 21/Nov/2026:23:44:54 +0000.
const RECEIVED = Date.UTC(2026, 10, 21, 23, 44, 54, 321);

function record(overrides: Partial<AccessRecord> = {}): AccessRecord {
  return {
    remoteAddr: '127.0.0.1',
    user: '',
    receivedAt: RECEIVED,
    method: 'GET',
    uri: '/sleep.php',
    query: 's=3',
    status: 200,
    durationMs: 3000.285,
    contentLength: 0,
    memory: 2 * 1024 * 1024,
    cpu: { user: 0, system: 0 },
    script: '/srv/fpmtest/www/sleep.php',
    pid: 12432,
    masterPid: 12001,
    pool: 'dyn',
    requestHeaders: { host: 'example.test', 'user-agent': 'curl/8.5.0' },
    responseHeaders: { 'content-type': 'text/html; charset=UTF-8', 'content-length': 42 },
    env: { APP_ENV: 'prod' },
    ...overrides,
  };
}

const render = (format: string, overrides: Partial<AccessRecord> = {}, writtenAt?: number) =>
  compileAccessFormat(format)(record(overrides), writtenAt);

before(() => {
  process.env.TZ = 'UTC';
});
after(() => {
  setZone(ORIGINAL_TZ);
});

describe('FPM shapes', () => {
  it('keeps FPM default format', () => {
    assert.equal(DEFAULT_ACCESS_FORMAT, '%R - %u %t "%m %r" %s');
    assert.equal(DEFAULT_TIME_FORMAT, '%d/%b/%Y:%H:%M:%S %z');
  });

  it('renders the default format as FPM does: no user prints nothing, hence two spaces', () => {
    assert.equal(render(DEFAULT_ACCESS_FORMAT), '127.0.0.1 -  21/Nov/2026:23:44:54 +0000 "GET /sleep.php" 200');
    assert.equal(
      render(DEFAULT_ACCESS_FORMAT, { user: 'alice', method: 'POST', uri: '/', status: 201 }),
      '127.0.0.1 - alice 21/Nov/2026:23:44:54 +0000 "POST /" 201',
    );
  });

  it('reproduces the OBSERVED FPM line byte for byte', () => {
    const format = '%R - %u %t "%m %r%Q%q" %s %f %{mili}d %{kilo}M %C%% pid=%p pool=%n';
    assert.equal(
      render(format),
      '127.0.0.1 -  21/Nov/2026:23:44:54 +0000 "GET /sleep.php?s=3" 200 /srv/fpmtest/www/sleep.php 3000.285 2048 0.00% pid=12432 pool=dyn',
    );
  });

  it('prints no trailing newline and keeps literal text as is', () => {
    assert.equal(render('plain text, no codes'), 'plain text, no codes');
    assert.equal(render('[%s]\t{%n}'), '[200]\t{dyn}');
    assert.equal(render(''), '');
  });
});

describe('codes', () => {
  const cases: [format: string, overrides: Partial<AccessRecord>, expected: string][] = [
    ['%%', {}, '%'],
    ['100%% %s%%', {}, '100% 200%'],
    ['%f', {}, '/srv/fpmtest/www/sleep.php'],
    ['%f', { script: '' }, '-'],
    ['%l', { contentLength: 5120 }, '5120'],
    ['%l', {}, '0'],
    ['%m', { method: 'DELETE' }, 'DELETE'],
    ['%m', { method: '' }, '-'],
    ['%n', { pool: 'www' }, 'www'],
    ['%n', { pool: '' }, '-'],
    ['%p', { pid: 4242 }, '4242'],
    ['%P', { masterPid: 1 }, '1'],
    ['%q', {}, 's=3'],
    ['%q', { query: '' }, ''],
    ['%Q', {}, '?'],
    ['%Q', { query: '' }, ''],
    ['%r%Q%q', { uri: '/a/b', query: '' }, '/a/b'],
    ['%r%Q%q', { uri: '/a/b', query: 'x=1&y=2' }, '/a/b?x=1&y=2'],
    ['%R', { remoteAddr: '::1' }, '::1'],
    ['%R', { remoteAddr: '' }, '-'],
    ['%s', { status: 503 }, '503'],
    ['%u', { user: 'bob' }, 'bob'],
    ['%u', { user: '-' }, '-'],
    ['%u', { user: '' }, ''],
  ];
  for (const [format, overrides, expected] of cases) {
    it(`${format} with ${JSON.stringify(overrides)} → ${JSON.stringify(expected)}`, () => {
      assert.equal(render(format, overrides), expected);
    });
  }

  it('%C: total by default, user, system, case-insensitive, %.2f without the % sign', () => {
    const cpu = { user: 12.3456, system: 1.5 };
    assert.equal(render('%C', { cpu }), '13.85');
    assert.equal(render('%{total}C', { cpu }), '13.85');
    assert.equal(render('%{user}C', { cpu }), '12.35');
    assert.equal(render('%{system}C', { cpu }), '1.50');
    assert.equal(render('%{SYSTEM}C|%{User}C|%{}C', { cpu }), '1.50|12.35|13.85');
    assert.equal(render('%C%%', { cpu: { user: 100, system: 0 } }), '100.00%');
  });

  it('%C: prints 0.00 for a CPU share that is not a number (zero wall time)', () => {
    assert.equal(render('%C', { cpu: { user: NaN, system: 0 } }), '0.00');
    assert.equal(render('%C', { cpu: { user: Infinity, system: 0 } }), '0.00');
    assert.equal(render('%C', { cpu: { user: -1, system: 0 } }), '0.00');
  });

  it('%d: seconds by default (%.3f), every milli and micro spelling', () => {
    const durationMs = 1234.5678;
    assert.equal(render('%d', { durationMs }), '1.235');
    assert.equal(render('%{seconds}d', { durationMs }), '1.235');
    for (const milli of ['milliseconds', 'milli', 'miliseconds', 'mili', 'MILLI']) {
      assert.equal(render(`%{${milli}}d`, { durationMs }), '1234.568', milli);
    }
    for (const micro of ['microseconds', 'micro', 'Micro']) {
      assert.equal(render(`%{${micro}}d`, { durationMs }), '1234568', micro);
    }
    assert.equal(render('%d|%{micro}d', { durationMs: 0 }), '0.000|0');
    assert.equal(render('%{mili}d', { durationMs: 7 }), '7.000');
  });

  it('%M: bytes by default, kilo and mega rounded down like integer division', () => {
    const memory = 5 * 1024 * 1024 + 1000; // 5243880
    assert.equal(render('%M', { memory }), '5243880');
    assert.equal(render('%{bytes}M', { memory }), '5243880');
    assert.equal(render('%{kilobytes}M|%{kilo}M', { memory }), '5120|5120');
    assert.equal(render('%{megabytes}M|%{mega}M|%{MEGA}M', { memory }), '5|5|5');
    assert.equal(render('%{kilo}M', { memory: 1023 }), '0');
  });

  it('%{VAR}e: the env value, "-" when unset, "" when set empty', () => {
    assert.equal(render('%{APP_ENV}e'), 'prod');
    assert.equal(render('%{NOPE}e'), '-');
    assert.equal(render('%{EMPTY}e', { env: { EMPTY: '' } }), '');
    assert.equal(render('%{app_env}e'), '-', 'env names are case-sensitive');
    assert.equal(render('%{constructor}e|%{toString}e'), '-|-', 'inherited properties are not variables');
  });

  it('%{HTTP_*}e: falls back to the request header, env first', () => {
    assert.equal(render('%{HTTP_USER_AGENT}e|%{HTTP_HOST}e'), 'curl/8.5.0|example.test');
    assert.equal(render('%{HTTP_X_MISSING}e'), '-');
    assert.equal(render('%{HTTP_HOST}e', { env: { HTTP_HOST: 'from-env' } }), 'from-env');
    assert.equal(render('%{USER_AGENT}e'), '-', 'only HTTP_* names map to headers');
  });

  for (const [code, field] of [
    ['o', 'responseHeaders'],
    ['i', 'requestHeaders'],
  ] as const) {
    it(`%{Header}${code}: case-insensitive, "-" when missing or empty, lists joined`, () => {
      const headers = {
        'content-type': 'text/plain',
        'x-count': 3,
        'set-cookie': ['a=1', 'b=2'],
        'X-Upper': 'kept',
        'x-empty': '',
        'x-none': [],
      };
      const line = render(
        `%{Content-Type}${code}|%{CONTENT-TYPE}${code}|%{X-Count}${code}|%{Set-Cookie}${code}|%{x-upper}${code}|%{X-Missing}${code}|%{X-Empty}${code}|%{X-None}${code}|%{constructor}${code}`,
        { [field]: headers },
      );
      assert.equal(line, 'text/plain|text/plain|3|a=1, b=2|kept|-|-|-|-');
    });
  }

  it('%o and %i read their own header set', () => {
    const line = render('%{X-Side}i %{X-Side}o', {
      requestHeaders: { 'x-side': 'request' },
      responseHeaders: { 'x-side': 'response' },
    });
    assert.equal(line, 'request response');
  });
});

describe('%t and %T', () => {
  it('%t: FPM default time format, local time, in several zones', () => {
    assert.equal(render('%t'), '21/Nov/2026:23:44:54 +0000');
    assert.equal(render('%{}t'), '21/Nov/2026:23:44:54 +0000');
    inZone('Asia/Kolkata', () => assert.equal(render('%t'), '22/Nov/2026:05:14:54 +0530'));
    inZone('America/New_York', () => {
      assert.equal(render('%t'), '21/Nov/2026:18:44:54 -0500');
      assert.equal(render('%t', { receivedAt: Date.UTC(2026, 6, 4, 12, 0, 0) }), '04/Jul/2026:08:00:00 -0400');
    });
    inZone('America/St_Johns', () => assert.equal(render('%t'), '21/Nov/2026:20:14:54 -0330'));
  });

  it('%{strftime}t: ISO 8601 as FPM documents it', () => {
    assert.equal(render('%{%Y-%m-%dT%H:%M:%S%z}t'), '2026-11-21T23:44:54+0000');
  });

  it('%{strftime}t: every supported conversion, C locale', () => {
    // Monday 5 Jan 2026, 09:03:07 UTC: day 5 of the year, ISO week 2, week 1 counted from the first Sunday or Monday.
    const receivedAt = Date.UTC(2026, 0, 5, 9, 3, 7, 999);
    const cases: [string, string][] = [
      ['%a', 'Mon'],
      ['%A', 'Monday'],
      ['%b', 'Jan'],
      ['%h', 'Jan'],
      ['%B', 'January'],
      ['%C', '20'],
      ['%d', '05'],
      ['%e', ' 5'],
      ['%H', '09'],
      ['%I', '09'],
      ['%j', '005'],
      ['%k', ' 9'],
      ['%l', ' 9'],
      ['%m', '01'],
      ['%M', '03'],
      ['%n', '\n'],
      ['%p', 'AM'],
      ['%P', 'am'],
      ['%s', String(Math.floor(receivedAt / 1000))],
      ['%S', '07'],
      ['%t', '\t'],
      ['%u', '1'],
      ['%w', '1'],
      ['%U', '01'],
      ['%W', '01'],
      ['%V', '02'],
      ['%G', '2026'],
      ['%g', '26'],
      ['%y', '26'],
      ['%Y', '2026'],
      ['%z', '+0000'],
      ['%Z', 'UTC'],
      ['%%', '%'],
      ['%c', 'Mon Jan  5 09:03:07 2026'],
      ['%D', '01/05/26'],
      ['%F', '2026-01-05'],
      ['%r', '09:03:07 AM'],
      ['%R', '09:03'],
      ['%T', '09:03:07'],
      ['%x', '01/05/26'],
      ['%X', '09:03:07'],
      ['%Ey %Od', '26 05'],
    ];
    for (const [conversion, expected] of cases) {
      assert.equal(render(`%{${conversion}}t`, { receivedAt }), expected, conversion);
    }
  });

  it('%{strftime}t: 12-hour clock, Sunday, week 53 and ISO year boundaries', () => {
    // Sunday 3 Jan 2027, 00:30 UTC: ISO week 53 of 2026; day 3; week 1 by Sunday, 0 by Monday.
    const sunday = Date.UTC(2027, 0, 3, 0, 30, 0);
    assert.equal(render('%{%I %l %p %u %w %U %W %V %G %j}t', { receivedAt: sunday }), '12 12 AM 7 0 01 00 53 2026 003');
    // Wednesday 31 Dec 2025, 23:00 UTC: belongs to ISO week 1 of 2026.
    const eve = Date.UTC(2025, 11, 31, 23, 0, 0);
    assert.equal(render('%{%I%p %V %G %g %j}t', { receivedAt: eve }), '11PM 01 2026 26 365');
  });

  it('%{strftime}t: unknown conversions and a trailing % are kept as written, as glibc does', () => {
    assert.equal(render('%{%Q %-d %Y%}t'), '%Q %-d 2026%');
  });

  it('%T is the write time, defaulting to now; %t stays the receive time', () => {
    const writtenAt = Date.UTC(2030, 0, 2, 3, 4, 5);
    assert.equal(render('%t|%T', {}, writtenAt), '21/Nov/2026:23:44:54 +0000|02/Jan/2030:03:04:05 +0000');
    assert.equal(render('%{%s}T', {}, writtenAt), String(writtenAt / 1000));

    const before = Math.floor(Date.now() / 1000);
    const now = Number(render('%{%s}T'));
    const afterNow = Math.floor(Date.now() / 1000);
    assert.ok(now >= before && now <= afterNow, `${before} <= ${now} <= ${afterNow}`);
  });

  it('reuses a rendered second but never across seconds', () => {
    const format = compileAccessFormat('%{%H:%M:%S}t');
    const at = (ms: number) => format(record({ receivedAt: ms }));
    const second = Date.UTC(2026, 0, 1, 10, 0, 0);
    assert.equal(at(second), '10:00:00');
    assert.equal(at(second + 999), '10:00:00');
    assert.equal(at(second + 1000), '10:00:01');
    assert.equal(at(second), '10:00:00');
    assert.equal(at(second - 1), '09:59:59');
  });

  it('prints "-" for a time that is not a number', () => {
    assert.equal(render('%t', { receivedAt: NaN }), '-');
  });
});

describe('invalid formats', () => {
  const cases: [format: string, reason: string][] = [
    ['%x', 'Invalid token in the access.format (%x)'],
    ['%R %Z', 'Invalid token in the access.format (%Z)'],
    ['%{abc', 'missing closing embrace in the access.format'],
    ['%{', 'missing closing embrace in the access.format'],
    ['%R %{abc}', 'missing closing embrace in the access.format'],
    ['%{x}{y}t', 'Invalid token in the access.format (%{)'],
    ['%{foo}C', "only 'total', 'user' or 'system' are allowed as a modifier for %C ('foo')"],
    ['%{hours}d', "only 'seconds', 'milli', 'milliseconds', 'micro' or 'microseconds' are allowed as a modifier for %d ('hours')"],
    ['%{giga}M', "only 'bytes', 'kilo', 'kilobytes', 'mega' or 'megabytes' are allowed as a modifier for %M ('giga')"],
    ['%e', 'the name of the environment variable must be set between embraces for %e'],
    ['%{}e', 'the name of the environment variable must be set between embraces for %e'],
    ['%o', 'the name of the header must be set between embraces for %o'],
    ['%i', 'the name of the header must be set between embraces for %i'],
    ['%{x}s', 'embrace is not allowed for modifier %s'],
    ['%{x}%', 'embrace is not allowed for modifier %%'],
    ['%{x}r', 'embrace is not allowed for modifier %r'],
  ];
  for (const [format, reason] of cases) {
    it(`rejects ${JSON.stringify(format)}`, () => {
      assert.throws(
        () => compileAccessFormat(format),
        (err: unknown) => {
          assert.ok(err instanceof AccessFormatError);
          assert.ok(err instanceof Error);
          assert.equal(err.name, 'AccessFormatError');
          assert.equal(err.format, format);
          assert.equal(err.reason, reason);
          assert.equal(err.message, `wrong format for access.format '${format}': ${reason}`);
          return true;
        },
      );
    });
  }

  it("starts its message with FPM's exact error", () => {
    assert.throws(() => compileAccessFormat('"%m %r" %y'), {
      message: /^wrong format for access\.format '"%m %r" %y'/,
    });
  });

  it('accepts what FPM accepts: a trailing %, empty braces', () => {
    assert.equal(render('%s %'), '200 ');
    assert.equal(render('%{}s %{}p'), '200 12432');
  });
});

describe('the 1024-byte cap', () => {
  it('is FPM_LOG_BUFFER, and FPM notice names it', () => {
    assert.equal(ACCESS_LOG_BUFFER, 1024);
    assert.equal(ACCESS_LOG_TRUNCATED_NOTICE, 'the log buffer is full (1024). The access log request has been truncated.');
  });

  it('keeps a line of exactly 1024 bytes and cuts a longer one to 1024', () => {
    let truncated = 0;
    const format = compileAccessFormat('%r', { onTruncated: () => truncated++ });
    const exact = '/' + 'a'.repeat(1023);
    assert.equal(format(record({ uri: exact })), exact);
    assert.equal(truncated, 0);

    const long = '/' + 'b'.repeat(5000);
    const line = format(record({ uri: long }));
    assert.equal(line, long.slice(0, 1024));
    assert.equal(truncated, 1);
  });

  it('cuts the whole line, literals included, after the codes are expanded', () => {
    const line = render('%R "%m %r" %s', { uri: '/' + 'x'.repeat(2000) });
    assert.equal(Buffer.byteLength(line), 1024);
    assert.ok(line.startsWith('127.0.0.1 "GET /xxx'));
    assert.ok(!line.endsWith('200'));
  });

  it('counts UTF-8 bytes and never cuts inside a character', () => {
    // 1023 ASCII bytes, then 'é' (2 bytes): the cut at 1024 would split it.
    const split = compileAccessFormat('%r')(record({ uri: 'a'.repeat(1023) + 'é' + 'z' }));
    assert.equal(split, 'a'.repeat(1023));
    // 'é' × 512 = 1024 bytes in 512 characters: fits exactly.
    const fits = 'é'.repeat(512);
    assert.equal(compileAccessFormat('%r')(record({ uri: fits })), fits);
    // 4-byte characters: 256 fit, the 257th would cross the limit.
    const emoji = compileAccessFormat('%r')(record({ uri: '😀'.repeat(300) }));
    assert.equal(emoji, '😀'.repeat(256));
    assert.ok(!emoji.includes('\uFFFD'));
    // 1022 bytes then a 3-byte character: only 1022 remain.
    const euro = compileAccessFormat('%r')(record({ uri: 'a'.repeat(1022) + '€' }));
    assert.equal(Buffer.byteLength(euro), 1022);
  });
});

describe('isSuppressed', () => {
  const paths = ['/ping', '/status'];

  it('matches %r exactly', () => {
    assert.equal(isSuppressed('/ping', paths), true);
    assert.equal(isSuppressed('/status', paths), true);
  });

  it('does not match prefixes, suffixes, other cases or other paths', () => {
    for (const uri of ['/ping/', '/pin', '/ping2', '/PING', 'ping', '/status/full', '/', '']) {
      assert.equal(isSuppressed(uri, paths), false, uri);
    }
  });

  it('suppresses nothing without paths', () => {
    assert.equal(isSuppressed('/ping', []), false);
  });
});

describe('cost per request', () => {
  const format = '%R - %u %t "%m %r%Q%q" %s %f %{mili}d %{kilo}M %C%% pid=%p pool=%n %{User-Agent}i %{Content-Type}o';

  it('does no string searching nor regex work once compiled', () => {
    const formatter = compileAccessFormat(format);
    const rec = record();
    const calls: string[] = [];
    const spied = [
      [String.prototype, 'indexOf'],
      [String.prototype, 'slice'],
      [String.prototype, 'split'],
      [String.prototype, 'replace'],
      [String.prototype, 'replaceAll'],
      [String.prototype, 'match'],
      [String.prototype, 'toLowerCase'],
      [RegExp.prototype, 'exec'],
    ] as const;
    const originals = spied.map(([proto, name]) => (proto as unknown as Record<string, unknown>)[name]);
    spied.forEach(([proto, name], k) => {
      const original = originals[k] as (...args: unknown[]) => unknown;
      (proto as unknown as Record<string, unknown>)[name] = function (this: unknown, ...args: unknown[]) {
        calls.push(name);
        return original.apply(this, args);
      };
    });
    let line: string;
    try {
      for (let i = 0; i < 100; i++) line = formatter({ ...rec, receivedAt: rec.receivedAt + i * 10 });
    } finally {
      spied.forEach(([proto, name], k) => {
        (proto as unknown as Record<string, unknown>)[name] = originals[k];
      });
    }
    assert.deepEqual(calls, []);
    assert.ok(line!.endsWith('pool=dyn curl/8.5.0 text/html; charset=UTF-8'), line!);
  });

  it('formats 100k lines in well under a second of CPU', () => {
    const formatter = compileAccessFormat(format);
    const rec = record();
    let bytes = 0;
    const start = process.cpuUsage();
    for (let i = 0; i < 100_000; i++) {
      rec.receivedAt += 7; // a new second every ~143 lines
      bytes += formatter(rec).length;
    }
    const used = process.cpuUsage(start);
    const ms = (used.user + used.system) / 1000;
    assert.ok(bytes > 100_000 * 100);
    // About 70 ms on a loaded 2-core box; the bound only catches a per-call parse or a regression of that order.
    assert.ok(ms < 1000, `${ms.toFixed(0)} ms of CPU for 100k lines`);
  });
});
