import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import { emptyDurations, freeSlot, type PoolHeader, type Slot } from '../../src/scoreboard/layout.js';
import { parseStatusQuery, type StatusFormat } from '../../src/status/query.js';
import { formatStrftime, renderAllPools, renderPoolStatus, type PoolStatusInput } from '../../src/status/render.js';

// FPM prints local time; the reference outputs were taken on a +0000 host.
process.env.TZ = 'UTC';

// ---------------------------------------------------------------------------
// FPM 8.2's lists, copied from the reference (php-fpm.md §3), not from src/.

const FPM_POOL_LABELS = [
  'pool',
  'process manager',
  'start time',
  'start since',
  'accepted conn',
  'listen queue',
  'max listen queue',
  'listen queue len',
  'idle processes',
  'active processes',
  'total processes',
  'max active processes',
  'max children reached',
  'slow requests',
];
const POOLD_POOL_LABELS = ['max children', 'min spare servers', 'max spare servers', 'reading headers'];
const FPM_PROCESS_TEXT_LABELS = [
  'pid',
  'state',
  'start time',
  'start since',
  'requests',
  'request duration',
  'request method',
  'request URI',
  'content length',
  'user',
  'script',
  'last request cpu',
  'last request memory',
];
/** json and html say "request uri". */
const FPM_PROCESS_LABELS = FPM_PROCESS_TEXT_LABELS.map((l) => (l === 'request URI' ? 'request uri' : l));
const POOLD_PROCESS_LABELS = ['upgraded connections'];
/** Every per-process field: FPM's, then poold's. */
const PROCESS_TEXT_LABELS = [...FPM_PROCESS_TEXT_LABELS, ...POOLD_PROCESS_LABELS];
const PROCESS_LABELS = [...FPM_PROCESS_LABELS, ...POOLD_PROCESS_LABELS];
const hyphen = (label: string): string => label.replace(/ /g, '-');
const FPM_OPENMETRICS_FAMILIES: Array<[string, 'gauge' | 'counter']> = [
  ['phpfpm_up', 'gauge'],
  ['phpfpm_start_since', 'counter'],
  ['phpfpm_accepted_connections', 'counter'],
  ['phpfpm_listen_queue', 'gauge'],
  ['phpfpm_max_listen_queue', 'counter'],
  ['phpfpm_listen_queue_length', 'gauge'],
  ['phpfpm_idle_processes', 'gauge'],
  ['phpfpm_active_processes', 'gauge'],
  ['phpfpm_total_processes', 'gauge'],
  ['phpfpm_max_active_processes', 'counter'],
  ['phpfpm_max_children_reached', 'counter'],
  ['phpfpm_slow_requests', 'counter'],
];
const POOLD_OPENMETRICS_FAMILIES = ['poold_max_children', 'poold_min_spare_servers', 'poold_max_spare_servers', 'poold_reading_headers'];

// ---------------------------------------------------------------------------
// Fixtures: the reference's pool "dyn" (start 21/Nov/2026:23:44:37 +0000).

const START = 1_795_304_677;
const START_MS = START * 1000;

function header(overrides: Partial<PoolHeader> = {}): PoolHeader {
  return {
    pool: 'dyn',
    pm: 'dynamic',
    startTime: START_MS,
    acceptedConn: 2,
    listenQueue: 0,
    maxListenQueue: 0,
    listenQueueLen: 64,
    idle: 1,
    active: 1,
    total: 2,
    maxActive: 1,
    maxChildrenReached: 0,
    slowRequests: 0,
    maxChildren: 5,
    minSpareServers: 1,
    maxSpareServers: 3,
    readingHeaders: 2,
    slotCount: 5,
    ...overrides,
  };
}

function slot(overrides: Partial<Slot> = {}): Slot {
  // The one request it has served (477 µs), as the worker counts it.
  const durations = emptyDurations();
  durations.sum = 0.000477;
  durations.counts[0] = 1;
  return {
    pid: 12431,
    state: 'Idle',
    active: 0,
    waiting: 0,
    accepted: 1,
    freeSince: START_MS + 1001,
    startTime: START_MS,
    requests: 1,
    requestStart: START_MS + 1000,
    requestDuration: 477,
    method: 'GET',
    uri: '/status',
    contentLength: 0,
    user: '-',
    lastRequestCpu: 0,
    lastRequestMemory: 2097152,
    durations,
    upgraded: 0,
    ...overrides,
  };
}

function input(overrides: Partial<PoolStatusInput> = {}): PoolStatusInput {
  return { header: header(), slots: [slot()], now: START_MS + 4000, ...overrides };
}

/** Three processes among five slots, two of them free. */
function mixed(): PoolStatusInput {
  const now = START_MS + 60_000;
  return input({
    now,
    slots: [
      slot({ pid: 101, state: 'Idle', lastRequestCpu: 3.5, lastRequestMemory: 1000 }),
      freeSlot(),
      slot({ pid: 102, state: 'Running', active: 1, freeSince: 0, requestStart: now - 1500, lastRequestCpu: 9, lastRequestMemory: 2000 }),
      freeSlot(),
      slot({ pid: 103, state: 'Reading headers', waiting: 1, accepted: 2, freeSince: 0, requestDuration: 250 }),
    ],
  });
}

const FORMATS: StatusFormat[] = ['text', 'json', 'xml', 'html', 'openmetrics'];

// ---------------------------------------------------------------------------
// Parsers for each format, written against the formats' shapes, not the code.

function textBlocks(body: string): Array<Array<[string, string]>> {
  return body
    .replace(/\n$/, '')
    .split('\n\n')
    .map((block) =>
      block
        .split('\n')
        .filter((line) => line !== '************************')
        .map((line) => {
          const m = /^([a-zA-Z ]+):( +)(.*)$/.exec(line);
          assert.ok(m, `not a "label: value" line: ${JSON.stringify(line)}`);
          assert.equal(m[1]!.length + 1 + m[2]!.length, 22, `value not in column 23: ${JSON.stringify(line)}`);
          return [m[1]!, m[3]!] as [string, string];
        }),
    );
}

/** Checks that every tag is closed in order and that no bare `<` or `&` is left in text. */
function assertWellFormed(markup: string): void {
  const body = markup
    .replace(/^<\?xml version="1\.0" \?>\n/, '')
    .replace(/^<!DOCTYPE [^>]*>\n/, '');
  const stack: string[] = [];
  const tag = /<(\/?)([a-zA-Z][\w-]*)((?:\s+[\w:-]+="[^"<>]*")*)\s*>/g;
  let last = 0;
  for (let m = tag.exec(body); m; m = tag.exec(body)) {
    const text = body.slice(last, m.index);
    assert.doesNotMatch(text, /[<>]/, `stray angle bracket in ${JSON.stringify(text)}`);
    assert.doesNotMatch(text, /&(?!(amp|lt|gt|quot);)/, `bare ampersand in ${JSON.stringify(text)}`);
    last = tag.lastIndex;
    if (m[1] === '/') assert.equal(stack.pop(), m[2], `</${m[2]}> closes the wrong element`);
    else stack.push(m[2]!);
  }
  assert.doesNotMatch(body.slice(last), /[<>&]/);
  assert.deepEqual(stack, [], 'unclosed elements');
}

/** Child element names of the first `<parent>` (direct children, no attributes). */
function xmlChildren(xml: string, parent: string): Array<[string, string]> {
  const start = xml.indexOf(`<${parent}>`);
  assert.notEqual(start, -1, `no <${parent}>`);
  const out: Array<[string, string]> = [];
  let i = start + parent.length + 2;
  while (true) {
    while (xml[i] === '\n') i++;
    if (xml.startsWith(`</${parent}>`, i)) return out;
    const open = /^<([\w-]+)>/.exec(xml.slice(i));
    assert.ok(open, `expected a child of <${parent}> at ${JSON.stringify(xml.slice(i, i + 40))}`);
    const name = open[1]!;
    // the matching close, counting nested same-name elements
    let depth = 0;
    let j = i;
    const re = new RegExp(`<(/?)${name}>`, 'g');
    re.lastIndex = i;
    for (let m = re.exec(xml); m; m = re.exec(xml)) {
      depth += m[1] ? -1 : 1;
      if (depth === 0) {
        j = m.index;
        break;
      }
    }
    out.push([name, xml.slice(i + open[0].length, j)]);
    i = j + name.length + 3;
  }
}

function htmlTables(html: string): string[] {
  return [...html.matchAll(/<table[^>]*>([\s\S]*?)<\/table>/g)].map((m) => m[1]!);
}

interface Exposition {
  families: Array<{ name: string; help: string; type: string; samples: string[]; order: string[] }>;
  eof: boolean;
}

function parseOpenMetrics(body: string): Exposition {
  const lines = body.split('\n');
  assert.equal(lines.pop(), '', 'the exposition must end with a newline');
  const families: Exposition['families'] = [];
  const byName = new Map<string, Exposition['families'][number]>();
  let eof = false;
  for (const line of lines) {
    assert.ok(!eof, 'nothing may follow # EOF');
    if (line === '# EOF') {
      eof = true;
      continue;
    }
    const meta = /^# (HELP|TYPE) ([a-zA-Z_:][\w:]*) (.*)$/.exec(line);
    if (meta) {
      let family = byName.get(meta[2]!);
      if (!family) {
        family = { name: meta[2]!, help: '', type: '', samples: [], order: [] };
        families.push(family);
        byName.set(family.name, family);
      }
      assert.equal(family.samples.length, 0, `${meta[1]} after samples for ${family.name}`);
      family.order.push(meta[1]!);
      if (meta[1] === 'HELP') family.help = meta[3]!;
      else family.type = meta[3]!;
      continue;
    }
    const sample = /^([a-zA-Z_:][\w:]*)(\{(?:[a-zA-Z_]\w*="(?:[^"\\\n]|\\["\\n])*",?)*\})? (-?\d+(?:\.\d+)?)$/.exec(line);
    assert.ok(sample, `not a sample line: ${JSON.stringify(line)}`);
    const family = byName.get(sample[1]!);
    assert.ok(family, `sample ${sample[1]} has no HELP/TYPE before it`);
    assert.equal(family, families.at(-1), `sample ${sample[1]} outside its family`);
    family.samples.push(line);
  }
  return { families, eof };
}

// ---------------------------------------------------------------------------

describe('status query', () => {
  it('defaults to text without full', () => {
    assert.deepEqual(parseStatusQuery(''), { format: 'text', full: false });
    assert.deepEqual(parseStatusQuery('?'), { format: 'text', full: false });
    assert.deepEqual(parseStatusQuery('?foo=bar'), { format: 'text', full: false });
  });

  it('picks each format by the presence of its key, with or without "?"', () => {
    for (const format of ['json', 'xml', 'html', 'openmetrics'] as const) {
      assert.equal(parseStatusQuery(`?${format}`).format, format);
      assert.equal(parseStatusQuery(format).format, format);
      assert.equal(parseStatusQuery(`?a=1&${format}=0`).format, format, 'any value, even 0');
    }
  });

  it("follows FPM's precedence: html, xml, json, openmetrics", () => {
    assert.equal(parseStatusQuery('?openmetrics&json&xml&html').format, 'html');
    assert.equal(parseStatusQuery('?openmetrics&json&xml').format, 'xml');
    assert.equal(parseStatusQuery('?openmetrics&json').format, 'json');
    assert.equal(parseStatusQuery('?json&html').format, 'html');
  });

  it('reads full, and drops it for openmetrics as FPM ignores it there', () => {
    assert.deepEqual(parseStatusQuery('?full'), { format: 'text', full: true });
    assert.deepEqual(parseStatusQuery('?json&full'), { format: 'json', full: true });
    assert.deepEqual(parseStatusQuery('?full=1&xml'), { format: 'xml', full: true });
    assert.deepEqual(parseStatusQuery('?openmetrics&full'), { format: 'openmetrics', full: false });
  });

  it('matches keys the way PHP registers them in $_GET', () => {
    assert.equal(parseStatusQuery('?js%6Fn').format, 'json', 'percent-decoded');
    assert.equal(parseStatusQuery('?+json').format, 'json', 'leading space dropped');
    assert.equal(parseStatusQuery('?json[]=1').format, 'json', 'array syntax');
    assert.equal(parseStatusQuery('?JSON').format, 'text', 'case-sensitive');
    assert.equal(parseStatusQuery('?jsonp').format, 'text', 'whole key only');
    assert.equal(parseStatusQuery('?format=json').format, 'text', 'a value is not a key');
    assert.equal(parseStatusQuery('?fullness').full, false);
  });
});

describe('status render: FPM 8.2 reference outputs, byte for byte', () => {
  /** The body with poold's three extra pool lines removed (they must be right after "slow requests"). */
  function withoutPooldText(body: string): string {
    const extra = 'max children:         5\nmin spare servers:    1\nmax spare servers:    3\nreading headers:      2\n';
    const at = body.indexOf('slow requests:');
    const after = body.indexOf('\n', at) + 1;
    assert.equal(body.slice(after, after + extra.length), extra, 'poold fields right after slow requests');
    return body.slice(0, after) + body.slice(after + extra.length);
  }

  it('text', () => {
    const { contentType, body } = renderPoolStatus(input(), 'text', false);
    assert.equal(contentType, 'text/plain;charset=UTF-8');
    assert.equal(
      withoutPooldText(body),
      'pool:                 dyn\n' +
        'process manager:      dynamic\n' +
        'start time:           21/Nov/2026:23:44:37 +0000\n' +
        'start since:          4\n' +
        'accepted conn:        2\n' +
        'listen queue:         0\n' +
        'max listen queue:     0\n' +
        'listen queue len:     64\n' +
        'idle processes:       1\n' +
        'active processes:     1\n' +
        'total processes:      2\n' +
        'max active processes: 1\n' +
        'max children reached: 0\n' +
        'slow requests:        0\n',
    );
  });

  it('text full', () => {
    const { body } = renderPoolStatus(input({ now: START_MS + 5000 }), 'text', true);
    const block =
      '\n' +
      '************************\n' +
      'pid:                  12431\n' +
      'state:                Idle\n' +
      'start time:           21/Nov/2026:23:44:37 +0000\n' +
      'start since:          5\n' +
      'requests:             1\n' +
      'request duration:     477\n' +
      'request method:       GET\n' +
      'request URI:          /status\n' +
      'content length:       0\n' +
      'user:                 -\n' +
      'script:               -\n' +
      'last request cpu:     0.00\n' +
      'last request memory:  2097152\n' +
      'upgraded connections: 0\n';
    assert.ok(body.endsWith('reading headers:      2\n' + block), body);
  });

  it('json full', () => {
    const now = START_MS + 7000;
    const { contentType, body } = renderPoolStatus(
      input({
        now,
        header: header({ acceptedConn: 5 }),
        slots: [
          slot({ requests: 2, requestDuration: 367, uri: '/status?json' }),
          freeSlot(),
          slot({
            pid: 12432,
            state: 'Running',
            active: 1,
            requests: 3,
            requestStart: now - 0.277,
            uri: '/status?json&full',
            lastRequestCpu: 5,
            lastRequestMemory: 4096,
            upgraded: 3,
          }),
        ],
      }),
      'json',
      true,
    );
    assert.equal(contentType, 'application/json');
    assert.equal(
      body,
      '{"pool":"dyn","process manager":"dynamic","start time":1795304677,"start since":7,"accepted conn":5,"listen queue":0,"max listen queue":0,"listen queue len":64,"idle processes":1,"active processes":1,"total processes":2,"max active processes":1,"max children reached":0,"slow requests":0,' +
        '"max children":5,"min spare servers":1,"max spare servers":3,"reading headers":2' +
        ', "processes":[{"pid":12431,"state":"Idle","start time":1795304677,"start since":7,"requests":2,"request duration":367,"request method":"GET","request uri":"\\/status?json","content length":0,"user":"-","script":"-","last request cpu":0.00,"last request memory":2097152,"upgraded connections":0},{"pid":12432,"state":"Running","start time":1795304677,"start since":7,"requests":3,"request duration":277,"request method":"GET","request uri":"\\/status?json&full","content length":0,"user":"-","script":"-","last request cpu":0.00,"last request memory":0,"upgraded connections":3}]}',
    );
  });

  it('json without full closes after the pool fields', () => {
    const { body } = renderPoolStatus(input(), 'json', false);
    assert.ok(body.endsWith('"slow requests":0,"max children":5,"min spare servers":1,"max spare servers":3,"reading headers":2}'), body);
  });

  it('xml full', () => {
    const { contentType, body } = renderPoolStatus(
      input({
        now: START_MS + 7000,
        header: header({ acceptedConn: 7 }),
        slots: [slot({ requests: 3, requestDuration: 381, uri: '/status?xml' })],
      }),
      'xml',
      true,
    );
    assert.equal(contentType, 'text/xml;charset=UTF-8');
    assert.equal(
      body,
      '<?xml version="1.0" ?>\n' +
        '<status>\n' +
        '<pool>dyn</pool>\n' +
        '<process-manager>dynamic</process-manager>\n' +
        '<start-time>1795304677</start-time>\n' +
        '<start-since>7</start-since>\n' +
        '<accepted-conn>7</accepted-conn>\n' +
        '<listen-queue>0</listen-queue>\n' +
        '<max-listen-queue>0</max-listen-queue>\n' +
        '<listen-queue-len>64</listen-queue-len>\n' +
        '<idle-processes>1</idle-processes>\n' +
        '<active-processes>1</active-processes>\n' +
        '<total-processes>2</total-processes>\n' +
        '<max-active-processes>1</max-active-processes>\n' +
        '<max-children-reached>0</max-children-reached>\n' +
        '<slow-requests>0</slow-requests>\n' +
        '<max-children>5</max-children>\n' +
        '<min-spare-servers>1</min-spare-servers>\n' +
        '<max-spare-servers>3</max-spare-servers>\n' +
        '<reading-headers>2</reading-headers>\n' +
        '<processes>\n' +
        '<process><pid>12431</pid><state>Idle</state><start-time>1795304677</start-time><start-since>7</start-since><requests>3</requests><request-duration>381</request-duration><request-method>GET</request-method><request-uri>/status?xml</request-uri><content-length>0</content-length><user>-</user><script>-</script><last-request-cpu>0.00</last-request-cpu><last-request-memory>2097152</last-request-memory><upgraded-connections>0</upgraded-connections></process>\n' +
        '</processes>\n' +
        '</status>',
    );
  });

  it('xml without full', () => {
    const { body } = renderPoolStatus(input(), 'xml', false);
    assert.ok(body.endsWith('<reading-headers>2</reading-headers>\n</status>'), body);
    assert.ok(!body.includes('<processes>'));
  });

  it('html full', () => {
    const { contentType, body } = renderPoolStatus(
      input({ now: START_MS + 9000, slots: [slot({ requests: 4, requestDuration: 123, uri: '/status?html' })] }),
      'html',
      true,
    );
    assert.equal(contentType, 'text/html;charset=UTF-8');
    const row = (th: string, td: string | number): string => `<tr><th>${th}</th><td>${td}</td></tr>\n`;
    assert.equal(
      body,
      '<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 Strict//EN" "http://www.w3.org/TR/xhtml1/DTD/xhtml1-strict.dtd">\n' +
        '<html xmlns="http://www.w3.org/1999/xhtml" xml:lang="en" lang="en">\n' +
        '<head><title>PHP-FPM Status Page</title></head>\n' +
        '<body>\n' +
        '<table>\n' +
        row('pool', 'dyn') +
        row('process manager', 'dynamic') +
        row('start time', '21/Nov/2026:23:44:37 +0000') +
        row('start since', 9) +
        row('accepted conn', 2) +
        row('listen queue', 0) +
        row('max listen queue', 0) +
        row('listen queue len', 64) +
        row('idle processes', 1) +
        row('active processes', 1) +
        row('total processes', 2) +
        row('max active processes', 1) +
        row('max children reached', 0) +
        row('slow requests', 0) +
        row('max children', 5) +
        row('min spare servers', 1) +
        row('max spare servers', 3) +
        row('reading headers', 2) +
        '</table>\n' +
        '<table border="1">\n' +
        '<tr><th>pid</th><th>state</th><th>start time</th><th>start since</th><th>requests</th><th>request duration</th><th>request method</th><th>request uri</th><th>content length</th><th>user</th><th>script</th><th>last request cpu</th><th>last request memory</th><th>upgraded connections</th></tr>\n' +
        '<tr><td>12431</td><td>Idle</td><td>21/Nov/2026:23:44:37 +0000</td><td>9</td><td>4</td><td>123</td><td>GET</td><td>/status?html</td><td>0</td><td>-</td><td>-</td><td>0.00</td><td>2097152</td><td>0</td></tr>\n' +
        '</table></body></html>',
    );
  });

  it('html without full', () => {
    const { body } = renderPoolStatus(input(), 'html', false);
    assert.ok(body.endsWith('<tr><th>reading headers</th><td>2</td></tr>\n</table>\n</body></html>'), body);
    assert.equal(htmlTables(body).length, 1);
  });

  it('openmetrics', () => {
    const { contentType, body } = renderPoolStatus(
      input({ now: START_MS + 9000, header: header({ acceptedConn: 10 }) }),
      'openmetrics',
      false,
    );
    assert.equal(contentType, 'application/openmetrics-text; version=1.0.0; charset=utf-8');
    const fpm =
      '# HELP phpfpm_up Could pool dyn using a dynamic PM on PHP-FPM be reached?\n' +
      '# TYPE phpfpm_up gauge\n' +
      'phpfpm_up 1\n' +
      '# HELP phpfpm_start_since The number of seconds since FPM has started.\n' +
      '# TYPE phpfpm_start_since counter\n' +
      'phpfpm_start_since 9\n' +
      '# HELP phpfpm_accepted_connections The number of requests accepted by the pool.\n' +
      '# TYPE phpfpm_accepted_connections counter\n' +
      'phpfpm_accepted_connections 10\n' +
      '# HELP phpfpm_listen_queue The number of requests in the queue of pending connections.\n' +
      '# TYPE phpfpm_listen_queue gauge\n' +
      'phpfpm_listen_queue 0\n' +
      '# HELP phpfpm_max_listen_queue The maximum number of requests in the queue of pending connections since FPM has started.\n' +
      '# TYPE phpfpm_max_listen_queue counter\n' +
      'phpfpm_max_listen_queue 0\n' +
      '# TYPE phpfpm_listen_queue_length gauge\n' +
      '# HELP phpfpm_listen_queue_length The size of the socket queue of pending connections.\n' +
      'phpfpm_listen_queue_length 64\n' +
      '# HELP phpfpm_idle_processes The number of idle processes.\n' +
      '# TYPE phpfpm_idle_processes gauge\n' +
      'phpfpm_idle_processes 1\n' +
      '# HELP phpfpm_active_processes The number of active processes.\n' +
      '# TYPE phpfpm_active_processes gauge\n' +
      'phpfpm_active_processes 1\n' +
      '# HELP phpfpm_total_processes The number of idle + active processes.\n' +
      '# TYPE phpfpm_total_processes gauge\n' +
      'phpfpm_total_processes 2\n' +
      '# HELP phpfpm_max_active_processes The maximum number of active processes since FPM has started.\n' +
      '# TYPE phpfpm_max_active_processes counter\n' +
      'phpfpm_max_active_processes 1\n' +
      "# HELP phpfpm_max_children_reached The number of times, the process limit has been reached, when pm tries to start more children (works only for pm 'dynamic' and 'ondemand').\n" +
      '# TYPE phpfpm_max_children_reached counter\n' +
      'phpfpm_max_children_reached 0\n' +
      "# HELP phpfpm_slow_requests The number of requests that exceeded your 'request_slowlog_timeout' value.\n" +
      '# TYPE phpfpm_slow_requests counter\n' +
      'phpfpm_slow_requests 0\n';
    assert.ok(body.startsWith(fpm), body);
    assert.ok(body.endsWith('# EOF\n'));
    // Only poold's families between FPM's and # EOF.
    const extra = parseOpenMetrics(body.slice(fpm.length));
    assert.deepEqual(
      extra.families.map((f) => [f.name, f.type, f.samples]),
      [
        ['poold_max_children', 'gauge', ['poold_max_children 5']],
        ['poold_min_spare_servers', 'gauge', ['poold_min_spare_servers 1']],
        ['poold_max_spare_servers', 'gauge', ['poold_max_spare_servers 3']],
        ['poold_reading_headers', 'gauge', ['poold_reading_headers 2']],
      ],
    );
  });
});

describe('status render: field names and order', () => {
  it('text: FPM pool fields, then poold fields; each process block has FPM process fields, then poold fields', () => {
    const blocks = textBlocks(renderPoolStatus(mixed(), 'text', true).body);
    assert.deepEqual(
      blocks[0]!.map(([label]) => label),
      [...FPM_POOL_LABELS, ...POOLD_POOL_LABELS],
    );
    assert.equal(blocks.length, 1 + 3);
    for (const block of blocks.slice(1)) assert.deepEqual(block.map(([label]) => label), PROCESS_TEXT_LABELS);
  });

  it('json: FPM keys, then poold keys, then "processes" with FPM process keys, then poold process keys', () => {
    const parsed = JSON.parse(renderPoolStatus(mixed(), 'json', true).body) as Record<string, unknown> & {
      processes: Array<Record<string, unknown>>;
    };
    assert.deepEqual(Object.keys(parsed), [...FPM_POOL_LABELS, ...POOLD_POOL_LABELS, 'processes']);
    assert.equal(parsed.processes.length, 3);
    for (const proc of parsed.processes) assert.deepEqual(Object.keys(proc), PROCESS_LABELS);
  });

  it('xml: hyphenated FPM tags, then poold tags, then <processes>', () => {
    const xml = renderPoolStatus(mixed(), 'xml', true).body;
    assert.ok(xml.startsWith('<?xml version="1.0" ?>\n<status>\n'));
    const children = xmlChildren(xml, 'status');
    assert.deepEqual(
      children.map(([name]) => name),
      [...FPM_POOL_LABELS, ...POOLD_POOL_LABELS, 'processes'].map(hyphen),
    );
    const procs = xmlChildren(xml, 'processes');
    assert.equal(procs.length, 3);
    for (const [name, inner] of procs) {
      assert.equal(name, 'process');
      const fields = xmlChildren(`<process>${inner}</process>`, 'process');
      assert.deepEqual(
        fields.map(([tag]) => tag),
        PROCESS_LABELS.map(hyphen),
      );
    }
  });

  it('html: FPM rows, then poold rows; the process table has FPM columns, then poold columns', () => {
    const tables = htmlTables(renderPoolStatus(mixed(), 'html', true).body);
    assert.equal(tables.length, 2);
    const rows = [...tables[0]!.matchAll(/<tr><th>([^<]*)<\/th><td>[^<]*<\/td><\/tr>/g)].map((m) => m[1]);
    assert.deepEqual(rows, [...FPM_POOL_LABELS, ...POOLD_POOL_LABELS]);
    const [head, ...procRows] = tables[1]!.trim().split('\n');
    assert.deepEqual([...head!.matchAll(/<th>([^<]*)<\/th>/g)].map((m) => m[1]), PROCESS_LABELS);
    assert.equal(procRows.length, 3);
    for (const r of procRows) assert.equal([...r.matchAll(/<td>/g)].length, PROCESS_LABELS.length);
  });

  it("openmetrics: FPM's families and types in order, then poold's", () => {
    const parsed = parseOpenMetrics(renderPoolStatus(mixed(), 'openmetrics', true).body);
    assert.deepEqual(
      parsed.families.map((f) => [f.name, f.type]),
      [...FPM_OPENMETRICS_FAMILIES, ...POOLD_OPENMETRICS_FAMILIES.map((n) => [n, 'gauge'])],
    );
    for (const f of parsed.families) {
      assert.equal(f.samples.length, 1, f.name);
      assert.deepEqual(f.order, f.name === 'phpfpm_listen_queue_length' ? ['TYPE', 'HELP'] : ['HELP', 'TYPE'], f.name);
    }
  });
});

describe('status render: values', () => {
  afterEach(() => {
    process.env.TZ = 'UTC';
  });

  it('start time: strftime %d/%b/%Y:%H:%M:%S %z in local time for text and html, epoch seconds for json and xml', () => {
    const at = input({ header: header({ startTime: Date.UTC(2024, 0, 5, 3, 4, 5, 999) }), now: Date.UTC(2024, 0, 5, 3, 5, 0) });
    const epoch = Date.UTC(2024, 0, 5, 3, 4, 5) / 1000;
    assert.match(renderPoolStatus(at, 'text', false).body, /^start time: {11}05\/Jan\/2024:03:04:05 \+0000$/m);
    assert.match(renderPoolStatus(at, 'html', false).body, /<th>start time<\/th><td>05\/Jan\/2024:03:04:05 \+0000<\/td>/);
    assert.equal((JSON.parse(renderPoolStatus(at, 'json', false).body) as Record<string, unknown>)['start time'], epoch);
    assert.match(renderPoolStatus(at, 'xml', false).body, new RegExp(`<start-time>${epoch}</start-time>`));
    // start since counts whole seconds like FPM's time(NULL) − start_epoch: 05.999 → 60.000 is 55.
    assert.match(renderPoolStatus(at, 'text', false).body, /^start since: {10}55$/m);
  });

  it('start time: the %z offset follows the local zone, half hours and negative ones included', () => {
    process.env.TZ = 'Asia/Kolkata';
    assert.equal(formatStrftime(START), '22/Nov/2026:05:14:37 +0530');
    process.env.TZ = 'America/St_Johns';
    assert.equal(formatStrftime(START), '21/Nov/2026:20:14:37 -0330');
    process.env.TZ = 'UTC';
    assert.equal(formatStrftime(Date.UTC(2025, 6, 9, 0, 0, 7) / 1000), '09/Jul/2025:00:00:07 +0000');
  });

  it('request duration in µs: the last one when idle, now − request start while running', () => {
    const procs = (JSON.parse(renderPoolStatus(mixed(), 'json', true).body) as { processes: Array<Record<string, unknown>> })
      .processes;
    assert.equal(procs[0]!['request duration'], 477);
    assert.equal(procs[1]!['request duration'], 1_500_000);
    assert.equal(procs[2]!['request duration'], 250);
    assert.ok(procs.every((p) => Number.isInteger(p['request duration'])));
  });

  it('last request cpu (%.2f) and memory only for idle processes', () => {
    const text = renderPoolStatus(mixed(), 'text', true).body;
    const blocks = textBlocks(text).slice(1).map((b) => Object.fromEntries(b));
    assert.deepEqual(
      blocks.map((b) => [b['state'], b['last request cpu'], b['last request memory']]),
      [
        ['Idle', '3.50', '1000'],
        ['Running', '0.00', '0'],
        ['Reading headers', '0.00', '0'],
      ],
    );
    // json prints the number unquoted with two decimals, as FPM does.
    assert.match(renderPoolStatus(mixed(), 'json', true).body, /"last request cpu":3\.50,/);
  });

  it('last request cpu rounds like C printf: float precision, ties to even', () => {
    const cpu = (value: number): string =>
      /<last-request-cpu>([^<]*)</.exec(renderPoolStatus(input({ slots: [slot({ lastRequestCpu: value })] }), 'xml', true).body)![1]!;
    assert.equal(cpu(12.3456), '12.35');
    assert.equal(cpu(7), '7.00');
    assert.equal(cpu(0.125), '0.12');
    assert.equal(cpu(0.375), '0.38');
    assert.equal(cpu(150.625), '150.62');
    // 0.045 is 0.04499999999999999833 as a double but 0.04500000178813934326 as a float.
    assert.equal(cpu(0.045), '0.05');
    assert.equal(cpu(0.055), '0.05');
    assert.equal(cpu(Number.NaN), '0.00');
  });

  it('maps states: every non-free slot is a process, Starting shows as "Starting"', () => {
    const text = renderPoolStatus(
      input({
        slots: [
          slot({ state: 'Starting', pid: 0, startTime: 0 }),
          slot({ state: 'Finishing', pid: 7 }),
          freeSlot(),
          slot({ state: 'Free', pid: 9 }),
        ],
      }),
      'text',
      true,
    ).body;
    const blocks = textBlocks(text).slice(1).map((b) => Object.fromEntries(b));
    assert.deepEqual(
      blocks.map((b) => [b['pid'], b['state'], b['start since']]),
      [
        ['0', 'Starting', '0'],
        ['7', 'Finishing', '4'],
      ],
    );
  });

  it('script is the app path when given, "-" otherwise; empty strings print "-"', () => {
    const withApp = renderPoolStatus(input({ scriptName: '/srv/app/server.js', slots: [slot({ method: '', uri: '', user: '' })] }), 'json', true);
    const proc = (JSON.parse(withApp.body) as { processes: Array<Record<string, unknown>> }).processes[0]!;
    assert.equal(proc['script'], '/srv/app/server.js');
    assert.match(withApp.body, /"script":"\\\/srv\\\/app\\\/server\.js"/, 'slashes escaped like json_encode');
    assert.deepEqual([proc['request method'], proc['request uri'], proc['user']], ['-', '-', '-']);
    assert.match(renderPoolStatus(input(), 'text', true).body, /^script: {15}-$/m);
  });

  it('numbers are plain integers, even for counters past 2^32', () => {
    const big = input({ header: header({ acceptedConn: 2 ** 40 + 7, slowRequests: 2 ** 33 + 1 }) });
    const json = JSON.parse(renderPoolStatus(big, 'json', false).body) as Record<string, unknown>;
    assert.equal(json['accepted conn'], 2 ** 40 + 7);
    assert.match(renderPoolStatus(big, 'openmetrics', false).body, /^phpfpm_slow_requests 8589934593$/m);
  });
});

describe('status render: full', () => {
  it('adds exactly one entry per process (non-free slot) in every format but openmetrics', () => {
    const count: Record<Exclude<StatusFormat, 'openmetrics'>, (body: string) => number> = {
      text: (b) => b.split('************************').length - 1,
      json: (b) => ((JSON.parse(b) as { processes?: unknown[] }).processes ?? []).length,
      xml: (b) => [...b.matchAll(/<process>/g)].length,
      html: (b) => (htmlTables(b)[1] ?? '').split('\n').filter((l) => l.startsWith('<tr><td>')).length,
    };
    for (const format of ['text', 'json', 'xml', 'html'] as const) {
      assert.equal(count[format](renderPoolStatus(mixed(), format, true).body), 3, format);
      assert.equal(count[format](renderPoolStatus(mixed(), format, false).body), 0, format);
      assert.equal(count[format](renderPoolStatus(input({ slots: [] }), format, true).body), 0, format);
    }
  });

  it('is ignored for openmetrics', () => {
    assert.equal(renderPoolStatus(mixed(), 'openmetrics', true).body, renderPoolStatus(mixed(), 'openmetrics', false).body);
  });

  it('with no process, json still has an empty list and xml an empty <processes>', () => {
    const none = input({ slots: [freeSlot(), freeSlot()] });
    assert.deepEqual((JSON.parse(renderPoolStatus(none, 'json', true).body) as { processes: unknown[] }).processes, []);
    assert.match(renderPoolStatus(none, 'xml', true).body, /<processes>\n<\/processes>\n<\/status>$/);
  });
});

describe('status render: well-formed output', () => {
  it('json is valid JSON in every case', () => {
    for (const full of [false, true]) {
      JSON.parse(renderPoolStatus(mixed(), 'json', full).body);
      JSON.parse(renderAllPools([mixed(), input({ header: header({ pool: 'b' }) })], 'json', full).body);
    }
  });

  it('xml and html have balanced tags', () => {
    for (const full of [false, true]) {
      for (const format of ['xml', 'html'] as const) {
        assertWellFormed(renderPoolStatus(mixed(), format, full).body);
        assertWellFormed(renderAllPools([mixed(), input({ header: header({ pool: 'b' }) })], format, full).body);
      }
    }
  });

  it('openmetrics ends with # EOF and every sample has HELP and TYPE', () => {
    for (const body of [
      renderPoolStatus(mixed(), 'openmetrics', false).body,
      renderAllPools([mixed(), input({ header: header({ pool: 'b' }) })], 'openmetrics', false).body,
      renderAllPools([], 'openmetrics', false).body,
    ]) {
      assert.ok(body.endsWith('\n# EOF\n') || body === '# EOF\n');
      const parsed = parseOpenMetrics(body);
      assert.ok(parsed.eof);
      for (const f of parsed.families) {
        assert.ok(f.help.length > 0, `${f.name} has no HELP`);
        assert.match(f.type, /^(gauge|counter)$/, `${f.name} has no TYPE`);
      }
    }
  });
});

describe('status render: hostile values', () => {
  const HOSTILE_URI = '/x?a="q"&b=<script>alert(1)</script>&c=\'s\'\nstate: Idle\r\n\u0000\u001b]</request-uri>';
  const HOSTILE_USER = 'ev"il\n</user><pid>1</pid>&amp;';
  const hostile = (): PoolStatusInput =>
    input({
      header: header({ pool: 'p"o<o>l&\n' }),
      slots: [slot({ uri: HOSTILE_URI, user: HOSTILE_USER, method: 'GET' }), slot({ pid: 2, state: 'Running', active: 1 })],
    });

  it('json: round-trips through JSON.parse, control characters percent-encoded', () => {
    const parsed = JSON.parse(renderPoolStatus(hostile(), 'json', true).body) as Record<string, unknown> & {
      processes: Array<Record<string, unknown>>;
    };
    assert.equal(parsed['pool'], 'p"o<o>l&%0A');
    assert.equal(parsed.processes.length, 2);
    assert.equal(
      parsed.processes[0]!['request uri'],
      '/x?a="q"&b=<script>alert(1)</script>&c=\'s\'%0Astate: Idle%0D%0A%00%1B]</request-uri>',
    );
    assert.equal(parsed.processes[0]!['user'], 'ev"il%0A</user><pid>1</pid>&amp;');
    assert.deepEqual(Object.keys(parsed.processes[0]!), PROCESS_LABELS);
  });

  it('json escapes like PHP json_encode: \\/ and \\uXXXX for non-ASCII', () => {
    const body = renderPoolStatus(input({ slots: [slot({ uri: '/é/😀' })] }), 'json', true).body;
    assert.ok(body.includes('"request uri":"\\/\\u00e9\\/\\ud83d\\ude00"'), body);
    assert.equal((JSON.parse(body) as { processes: Array<Record<string, unknown>> }).processes[0]!['request uri'], '/é/😀');
  });

  it('xml: escaped, well-formed, and the field list is unchanged', () => {
    const xml = renderPoolStatus(hostile(), 'xml', true).body;
    assertWellFormed(xml);
    assert.ok(!xml.includes('<script>alert'));
    assert.ok(xml.includes('<request-uri>/x?a=&quot;q&quot;&amp;b=&lt;script&gt;alert(1)&lt;/script&gt;&amp;c=\'s\'%0Astate: Idle%0D%0A%00%1B]&lt;/request-uri&gt;</request-uri>'));
    assert.ok(xml.includes('<pool>p&quot;o&lt;o&gt;l&amp;%0A</pool>'));
    assert.ok(!/[\u0000-\u0008\u000b\u000c\u000e-\u001f]/.test(xml), 'no character XML 1.0 forbids');
    const procs = xmlChildren(xml, 'processes');
    assert.equal(procs.length, 2);
    assert.deepEqual(
      xmlChildren(`<process>${procs[0]![1]}</process>`, 'process').map(([t]) => t),
      PROCESS_LABELS.map(hyphen),
    );
  });

  it('html: escaped, well-formed, one row per process', () => {
    const html = renderPoolStatus(hostile(), 'html', true).body;
    assertWellFormed(html);
    assert.ok(!html.includes('<script>alert'));
    assert.ok(html.includes('<td>ev&quot;il%0A&lt;/user&gt;&lt;pid&gt;1&lt;/pid&gt;&amp;amp;</td>'));
    assert.equal(htmlTables(html)[1]!.trim().split('\n').length, 1 + 2);
  });

  it('text: no extra lines, every line still "label: value"', () => {
    const body = renderPoolStatus(hostile(), 'text', true).body;
    const blocks = textBlocks(body);
    assert.equal(blocks.length, 3);
    assert.deepEqual(blocks[1]!.map(([l]) => l), PROCESS_TEXT_LABELS);
    assert.equal(Object.fromEntries(blocks[1]!)['user'], 'ev"il%0A</user><pid>1</pid>&amp;');
    assert.ok(!/[\r\u0000\u001b]/.test(body));
  });

  it('openmetrics: the pool name cannot break HELP or labels', () => {
    const single = renderPoolStatus(hostile(), 'openmetrics', false).body;
    assert.match(single, /^# HELP phpfpm_up Could pool p\\"o<o>l&%0A using a dynamic PM on PHP-FPM be reached\?$/m);
    parseOpenMetrics(single);
    const all = renderAllPools([hostile(), input({ header: header({ pool: 'a\\b' }) })], 'openmetrics', false).body;
    const parsed = parseOpenMetrics(all);
    assert.deepEqual(parsed.families.find((f) => f.name === 'phpfpm_idle_processes')!.samples, [
      'phpfpm_idle_processes{pool="p\\"o<o>l&%0A"} 1',
      'phpfpm_idle_processes{pool="a\\\\b"} 1',
    ]);
  });
});

describe('status render: all pools', () => {
  const a = (): PoolStatusInput => mixed();
  const b = (): PoolStatusInput =>
    input({ header: header({ pool: 'b', pm: 'ondemand', acceptedConn: 42, idle: 0, active: 0, total: 0 }), slots: [] });

  it('uses the same content types as one pool', () => {
    for (const format of FORMATS) {
      assert.equal(renderAllPools([a(), b()], format, false).contentType, renderPoolStatus(a(), format, false).contentType);
    }
  });

  it('text: each pool block as rendered alone, separated by a blank line', () => {
    for (const full of [false, true]) {
      const body = renderAllPools([a(), b()], 'text', full).body;
      assert.equal(body, renderPoolStatus(a(), 'text', full).body + '\n' + renderPoolStatus(b(), 'text', full).body);
    }
    const blocks = renderAllPools([a(), b()], 'text', false).body.split('\n\n');
    assert.equal(blocks.length, 2);
    assert.ok(blocks[1]!.startsWith('pool:                 b\n'));
  });

  it('json: {"pools":[…]}, each the single-pool object', () => {
    const parsed = JSON.parse(renderAllPools([a(), b()], 'json', true).body) as { pools: Array<Record<string, unknown>> };
    assert.deepEqual(Object.keys(parsed), ['pools']);
    assert.deepEqual(
      parsed.pools.map((p) => [p['pool'], p['accepted conn'], (p['processes'] as unknown[]).length]),
      [
        ['dyn', 2, 3],
        ['b', 42, 0],
      ],
    );
    assert.deepEqual(parsed.pools[0], JSON.parse(renderPoolStatus(a(), 'json', true).body));
    assert.deepEqual(JSON.parse(renderAllPools([], 'json', false).body), { pools: [] });
  });

  it('xml: one <status> per pool inside <pools>', () => {
    const xml = renderAllPools([a(), b()], 'xml', false).body;
    assert.ok(xml.startsWith('<?xml version="1.0" ?>\n<pools>\n<status>\n'));
    const statuses = xmlChildren(xml, 'pools');
    assert.deepEqual(
      statuses.map(([tag]) => tag),
      ['status', 'status'],
    );
    assert.deepEqual(
      statuses.map(([, inner]) => /<pool>([^<]*)<\/pool>/.exec(inner)![1]),
      ['dyn', 'b'],
    );
  });

  it('html: one page, one table per pool (two with full)', () => {
    const plain = renderAllPools([a(), b()], 'html', false).body;
    assert.equal([...plain.matchAll(/<!DOCTYPE/g)].length, 1);
    assert.equal(htmlTables(plain).length, 2);
    const full = renderAllPools([a(), b()], 'html', true).body;
    assert.equal(htmlTables(full).length, 4);
    assert.ok(full.endsWith('</table>\n</body></html>'));
  });

  it('openmetrics: one family per metric, one sample per pool with a pool label', () => {
    const parsed = parseOpenMetrics(renderAllPools([a(), b()], 'openmetrics', true).body);
    assert.deepEqual(
      parsed.families.map((f) => f.name),
      [...FPM_OPENMETRICS_FAMILIES.map(([n]) => n), ...POOLD_OPENMETRICS_FAMILIES],
    );
    for (const f of parsed.families) {
      assert.equal(f.samples.length, 2, f.name);
      assert.match(f.samples[0]!, /\{pool="dyn"[,}]/);
      assert.match(f.samples[1]!, /\{pool="b"[,}]/);
    }
    const up = parsed.families[0]!.samples;
    assert.deepEqual(up, ['phpfpm_up{pool="dyn",pm="dynamic"} 1', 'phpfpm_up{pool="b",pm="ondemand"} 1']);
    assert.deepEqual(parsed.families.find((f) => f.name === 'phpfpm_accepted_connections')!.samples, [
      'phpfpm_accepted_connections{pool="dyn"} 2',
      'phpfpm_accepted_connections{pool="b"} 42',
    ]);
  });
});
