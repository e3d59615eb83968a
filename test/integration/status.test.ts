// The status listener of a real daemon, over HTTP: every FPM format checked
// field by field against PHP-FPM 8.2's own lists (names and order, as
// php-src's fpm_status.c prints them), ping, every pool at `/`, answers while
// every worker is stuck, status.allowed_clients, and the `poold status` CLI.
import assert from 'node:assert/strict';
import { chmodSync, statSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { exchange } from '../helpers/clients.js';
import { runPoold } from '../helpers/cli.js';
import { runCommand } from '../helpers/run.js';
import {
  FIXTURES,
  cleanup,
  freePort,
  get,
  globalSection,
  poolSection,
  startPoold,
  type Response,
  type RunningPoold,
} from '../helpers/poold.js';
import { parseExposition, pollUntil, request, valueOf, type StatusTarget } from '../helpers/status.js';

const APP = path.join(FIXTURES, 'app.js');

// ---------------------------------------------------------------------------
// PHP-FPM 8.2, hard-coded from its real output (shared/reference/php-fpm.md §3).

/** Pool fields: text/html labels and json keys. */
const FPM_POOL_FIELDS = [
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
/** poold's own pool fields: after FPM's, never among them. */
const POOLD_POOL_FIELDS = ['max children', 'min spare servers', 'max spare servers', 'reading headers'];
const POOL_FIELDS = [...FPM_POOL_FIELDS, ...POOLD_POOL_FIELDS];

/** Per-process fields, text labels ("request URI"). */
const FPM_PROCESS_TEXT = [
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
/** Per-process fields, json keys and html headers ("request uri"). */
const FPM_PROCESS_JSON = FPM_PROCESS_TEXT.map((label) => (label === 'request URI' ? 'request uri' : label));
/** poold's own per-process fields: after FPM's, never among them. */
const POOLD_PROCESS_FIELDS = ['upgraded connections'];
const PROCESS_TEXT = [...FPM_PROCESS_TEXT, ...POOLD_PROCESS_FIELDS];
const PROCESS_JSON = [...FPM_PROCESS_JSON, ...POOLD_PROCESS_FIELDS];
/** XML tags: the json keys hyphenated. */
const xmlTags = (labels: string[]): string[] => labels.map((label) => label.replace(/ /g, '-'));

/** Which json values FPM prints as strings (the rest are bare numbers). */
const JSON_STRINGS = new Set(['pool', 'process manager', 'state', 'request method', 'request uri', 'user', 'script']);

/** FPM's openmetrics families, in order: name, type, HELP (TYPE comes first for listen_queue_length). */
const FPM_OPENMETRICS: [name: string, type: string, help: string][] = [
  ['phpfpm_up', 'gauge', 'Could pool %s using a %s PM on PHP-FPM be reached?'],
  ['phpfpm_start_since', 'counter', 'The number of seconds since FPM has started.'],
  ['phpfpm_accepted_connections', 'counter', 'The number of requests accepted by the pool.'],
  ['phpfpm_listen_queue', 'gauge', 'The number of requests in the queue of pending connections.'],
  [
    'phpfpm_max_listen_queue',
    'counter',
    'The maximum number of requests in the queue of pending connections since FPM has started.',
  ],
  ['phpfpm_listen_queue_length', 'gauge', 'The size of the socket queue of pending connections.'],
  ['phpfpm_idle_processes', 'gauge', 'The number of idle processes.'],
  ['phpfpm_active_processes', 'gauge', 'The number of active processes.'],
  ['phpfpm_total_processes', 'gauge', 'The number of idle + active processes.'],
  ['phpfpm_max_active_processes', 'counter', 'The maximum number of active processes since FPM has started.'],
  [
    'phpfpm_max_children_reached',
    'counter',
    "The number of times, the process limit has been reached, when pm tries to start more children (works only for pm 'dynamic' and 'ondemand').",
  ],
  ['phpfpm_slow_requests', 'counter', "The number of requests that exceeded your 'request_slowlog_timeout' value."],
];
const POOLD_OPENMETRICS = ['poold_max_children', 'poold_min_spare_servers', 'poold_max_spare_servers', 'poold_reading_headers'];

const CONTENT_TYPES = {
  text: 'text/plain;charset=UTF-8',
  json: 'application/json',
  xml: 'text/xml;charset=UTF-8',
  html: 'text/html;charset=UTF-8',
  openmetrics: 'application/openmetrics-text; version=1.0.0; charset=utf-8',
};

/** FPM's headers on every status and ping response. */
function assertFpmHeaders(response: Response, contentType: string, what: string): void {
  assert.equal(response.status, 200, `${what}: ${response.status} ${response.body}`);
  assert.equal(response.headers['content-type'], contentType, `${what}: Content-Type`);
  assert.equal(response.headers['expires'], 'Thu, 01 Jan 1970 00:00:00 GMT', `${what}: Expires`);
  assert.equal(response.headers['cache-control'], 'no-cache, no-store, must-revalidate, max-age=0', `${what}: Cache-Control`);
}

// ---------------------------------------------------------------------------
// Parsers for each format: [label, value] pairs in the order they appear.

type Pairs = [string, string][];

/** One text block (`label:` padded so that values start at column 23, as FPM prints them). */
function parseTextBlock(block: string, what: string): Pairs {
  const lines = block.split('\n').filter((line) => line !== '');
  return lines.map((line) => {
    const match = /^([a-zA-Z ]+):( +)(.*)$/.exec(line);
    assert.ok(match, `${what}: not a "label: value" line: ${JSON.stringify(line)}`);
    assert.equal(match[1]!.length + 1 + match[2]!.length, 22, `${what}: value of ${JSON.stringify(line)} starts at column 23`);
    return [match[1]!, match[3]!];
  });
}

const SEPARATOR = '\n************************\n';

/** A single pool's text page: its fields, then one block per process. */
function parseText(body: string, what: string): { pool: Pairs; processes: Pairs[] } {
  const [pool, ...processes] = body.split(SEPARATOR);
  return { pool: parseTextBlock(pool!, what), processes: processes.map((block) => parseTextBlock(block, what)) };
}

/** `<tag>value</tag>` elements of a string, in order. */
function xmlElements(text: string): Pairs {
  return [...text.matchAll(/<([a-z-]+)>([^<]*)<\/\1>/g)].map((m) => [m[1]!, m[2]!]);
}

/** One `<status>` element: the pool's elements and each `<process>`'s. */
function parseXmlStatus(status: string): { pool: Pairs; processes: Pairs[] } {
  const inner = /^<status>\n([\s\S]*)<\/status>$/.exec(status);
  assert.ok(inner, `a <status> element: ${status}`);
  const [poolPart, processesPart] = inner[1]!.split('<processes>\n');
  return {
    pool: xmlElements(poolPart!),
    processes: processesPart
      ? [...processesPart.matchAll(/<process>(.*?)<\/process>\n/g)].map((m) => xmlElements(m[1]!))
      : [],
  };
}

/** The html page's pool tables (`<tr><th>label</th><td>value</td></tr>`) and process tables. */
function parseHtml(body: string): { pools: Pairs[]; processTables: { header: string[]; rows: string[][] }[] } {
  const pools = [...body.matchAll(/<table>\n([\s\S]*?)<\/table>/g)].map((m) =>
    [...m[1]!.matchAll(/<tr><th>([^<]*)<\/th><td>([^<]*)<\/td><\/tr>\n/g)].map((r): [string, string] => [r[1]!, r[2]!]),
  );
  const processTables = [...body.matchAll(/<table border="1">\n([\s\S]*?)<\/table>/g)].map((m) => {
    const rows = [...m[1]!.matchAll(/<tr>(.*?)<\/tr>/g)].map((r) => r[1]!);
    return {
      header: [...rows[0]!.matchAll(/<th>([^<]*)<\/th>/g)].map((c) => c[1]!),
      rows: rows.slice(1).map((row) => [...row.matchAll(/<td>([^<]*)<\/td>/g)].map((c) => c[1]!)),
    };
  });
  return { pools, processTables };
}

const labelsOf = (pairs: Pairs): string[] => pairs.map(([label]) => label);
const asMap = (pairs: Pairs): Map<string, string> => new Map(pairs);

/** strftime("%d/%b/%Y:%H:%M:%S %z") back to epoch seconds. */
function parseStrftime(text: string): number {
  const m = /^(\d{2})\/([A-Z][a-z]{2})\/(\d{4}):(\d{2}):(\d{2}):(\d{2}) ([+-])(\d{2})(\d{2})$/.exec(text);
  assert.ok(m, `strftime %d/%b/%Y:%H:%M:%S %z: ${JSON.stringify(text)}`);
  const month = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'].indexOf(m[2]!);
  assert.ok(month >= 0, `month ${m[2]}`);
  const offset = (m[7] === '-' ? -1 : 1) * (Number(m[8]) * 60 + Number(m[9]));
  const utc = Date.UTC(Number(m[3]), month, Number(m[1]), Number(m[4]), Number(m[5]), Number(m[6]));
  return utc / 1000 - offset * 60;
}

// ---------------------------------------------------------------------------
// Daemons.

interface Daemon {
  poold: RunningPoold;
  status: StatusTarget;
  ports: { www: number; two: number };
}

const TWO_POOL = (port: number, statusPath = '/status2', pingPath = '/ping2') =>
  `[two]\nlisten = 127.0.0.1:${port}\napp = ${APP}\npm = dynamic\npm.max_children = 3\npm.start_servers = 1\n` +
  `pm.min_spare_servers = 1\npm.max_spare_servers = 2\npm.status_path = ${statusPath}\nping.path = ${pingPath}\n`;

/** www (static, 2 workers, /status, /ping) and optionally two (dynamic, 1..3, /status2, /ping2); TCP status listener. */
async function startDaemon(
  t: { after: (fn: () => Promise<void>) => void },
  options: { twoPools?: boolean; wwwExtra?: string; globalExtra?: string } = {}): Promise<Daemon> {
  const [statusPort, www, two] = [await freePort(), await freePort(), await freePort()];
  let poold: RunningPoold | undefined;
  t.after(() => cleanup(poold));
  poold = await startPoold(
    globalSection(`status.listen = 127.0.0.1:${statusPort}\n${options.globalExtra ?? ''}`) +
      poolSection('www', www, APP, `pm.status_path = /status\nping.path = /ping\n${options.wwwExtra ?? ''}`) +
      (options.twoPools ? TWO_POOL(two) : ''),
  );
  return { poold, status: { port: statusPort }, ports: { www, two } };
}

interface JsonStatus {
  [key: string]: unknown;
  processes?: Record<string, unknown>[];
}

async function jsonStatus(target: StatusTarget, urlPath: string): Promise<JsonStatus> {
  const response = await request(target, urlPath);
  assert.equal(response.status, 200, `${urlPath}: ${response.body}`);
  return JSON.parse(response.body) as JsonStatus;
}

/** Waits until every worker of www is idle and the pool counts `accepted` connections. */
async function settled(daemon: Daemon, accepted: number, workers = 2): Promise<JsonStatus> {
  return pollUntil(`www idle with ${accepted} accepted connections`, async () => {
    const status = await jsonStatus(daemon.status, '/status?json&full');
    const idle = status.processes!.filter((p) => p.state === 'Idle').length;
    return idle === workers && status['accepted conn'] === accepted && status['idle processes'] === workers && status;
  });
}

/** The values every format must show for www after `sent` requests, all idle. */
function checkWwwPool(values: Map<string, string>, sent: number, what: string): void {
  assert.equal(values.get('pool'), 'www', what);
  assert.equal(values.get('process manager'), 'static', what);
  assert.match(values.get('start since')!, /^\d+$/, what);
  assert.equal(values.get('accepted conn'), String(sent), `${what}: accepted conn`);
  assert.equal(values.get('listen queue'), '0', what);
  assert.equal(values.get('max listen queue'), '0', what);
  assert.equal(values.get('listen queue len'), '511', `${what}: listen.backlog's default`);
  assert.equal(values.get('idle processes'), '2', what);
  assert.equal(values.get('active processes'), '0', what);
  assert.equal(values.get('total processes'), '2', what);
  assert.ok(['1', '2'].includes(values.get('max active processes')!), `${what}: max active processes`);
  assert.equal(values.get('max children reached'), '0', what);
  assert.equal(values.get('slow requests'), '0', what);
  assert.equal(values.get('max children'), '2', what);
  assert.equal(values.get('min spare servers'), '0', what);
  assert.equal(values.get('max spare servers'), '0', what);
}

/** Per-process values for idle workers of www after `uris` were requested. */
function checkWwwProcesses(processes: Map<string, string>[], poold: RunningPoold, uris: string[], what: string): void {
  assert.deepEqual(
    processes.map((p) => Number(p.get('pid'))).sort(),
    poold.liveWorkerPids().sort(),
    `${what}: one entry per worker, with its pid`,
  );
  let requests = 0;
  for (const p of processes) {
    assert.equal(p.get('state'), 'Idle', what);
    assert.match(p.get('start since')!, /^\d+$/, what);
    assert.equal(p.get('content length'), '0', what);
    assert.equal(p.get('user'), '-', what);
    assert.equal(p.get('script'), APP, `${what}: script is the pool's app`);
    assert.match(p.get('last request cpu')!, /^\d+\.\d\d$/, `${what}: %.2f`);
    assert.match(p.get('last request memory')!, /^\d+$/, what);
    assert.match(p.get('request duration')!, /^\d+$/, what);
    const served = Number(p.get('requests'));
    requests += served;
    if (served > 0) {
      assert.equal(p.get('request method'), 'GET', what);
      assert.ok(uris.includes(p.get('request uri') ?? p.get('request URI')!), `${what}: the last URI it served`);
      assert.ok(Number(p.get('last request memory')) > 0, `${what}: an idle worker shows its memory`);
    } else {
      assert.equal(p.get('request method'), '-', what);
    }
  }
  assert.equal(requests, uris.length, `${what}: the workers' requests add up to those sent`);
}

const URIS = ['/?a=1', '/?b=2', '/?c=3'];

/**
 * One after another, each once the pool has settled: a worker publishes Idle
 * when its response has closed, which a fast client on a loaded machine can
 * beat with its next connection, and that connection would wait in the queue
 * (a true "max listen queue" of 1, not what these tests are about).
 */
async function sendRequests(daemon: Daemon): Promise<void> {
  for (const [i, uri] of URIS.entries()) {
    assert.equal((await get(daemon.ports.www, uri)).status, 200);
    await settled(daemon, i + 1);
  }
}

// ---------------------------------------------------------------------------

test("one pool's status page in FPM's five formats, field by field", async (t) => {
  // FPM's pages show query strings; poold's only when asked to.
  const daemon = await startDaemon(t, { globalExtra: 'status.show_query = yes' });
  await sendRequests(daemon);
  const reference = await settled(daemon, URIS.length);
  const startTime = reference['start time'] as number;
  assert.ok(Math.abs(startTime - Date.now() / 1000) < 120, `start time is an epoch in seconds: ${startTime}`);

  await t.test('text, and text&full', async () => {
    const plain = await request(daemon.status, '/status');
    assertFpmHeaders(plain, CONTENT_TYPES.text, 'text');
    const page = parseText(plain.body, 'text');
    assert.deepEqual(labelsOf(page.pool), POOL_FIELDS, "FPM's pool fields in order, then poold's");
    assert.equal(page.processes.length, 0, 'no processes without full');
    const values = asMap(page.pool);
    checkWwwPool(values, URIS.length, 'text');
    assert.equal(parseStrftime(values.get('start time')!), startTime, 'text start time: strftime of the same instant');

    const full = await request(daemon.status, '/status?full');
    assertFpmHeaders(full, CONTENT_TYPES.text, 'text&full');
    const fullPage = parseText(full.body, 'text&full');
    assert.deepEqual(labelsOf(fullPage.pool), POOL_FIELDS);
    assert.equal(fullPage.processes.length, 2, 'one block per worker');
    for (const block of fullPage.processes) assert.deepEqual(labelsOf(block), PROCESS_TEXT, "FPM's process fields in order, then poold's");
    checkWwwProcesses(fullPage.processes.map(asMap), daemon.poold, URIS, 'text&full');
    for (const block of fullPage.processes) parseStrftime(asMap(block).get('start time')!);
  });

  await t.test('json, and json&full', async () => {
    const plain = await request(daemon.status, '/status?json');
    assertFpmHeaders(plain, CONTENT_TYPES.json, 'json');
    const status = JSON.parse(plain.body) as JsonStatus;
    assert.deepEqual(Object.keys(status), POOL_FIELDS, "FPM's keys in order, then poold's");
    for (const [key, value] of Object.entries(status)) {
      assert.equal(typeof value, JSON_STRINGS.has(key) ? 'string' : 'number', `json "${key}" type`);
    }
    checkWwwPool(new Map(Object.entries(status).map(([k, v]) => [k, String(v)])), URIS.length, 'json');
    assert.equal(status['start time'], startTime, 'json start time: epoch seconds');

    const full = await request(daemon.status, '/status?json&full');
    assertFpmHeaders(full, CONTENT_TYPES.json, 'json&full');
    assert.ok(full.body.includes(',"slow requests":0,"max children":2,'), 'compact like FPM');
    assert.ok(full.body.includes(', "processes":[{'), `FPM appends ', "processes":[': ${full.body}`);
    const fullStatus = JSON.parse(full.body) as JsonStatus;
    assert.deepEqual(Object.keys(fullStatus), [...POOL_FIELDS, 'processes']);
    assert.equal(fullStatus.processes!.length, 2);
    for (const process of fullStatus.processes!) {
      assert.deepEqual(Object.keys(process), PROCESS_JSON, "FPM's process keys in order, then poold's");
      for (const [key, value] of Object.entries(process)) {
        assert.equal(typeof value, JSON_STRINGS.has(key) ? 'string' : 'number', `json process "${key}" type`);
      }
      assert.match(full.body, /"last request cpu":\d+\.\d\d,/, 'cpu printed with two decimals like %.2f');
    }
    // JSON.parse drops the trailing zeros of 0.00: the raw body was checked for %.2f above.
    const asText = (key: string, value: unknown): string =>
      key === 'last request cpu' ? (value as number).toFixed(2) : String(value);
    checkWwwProcesses(
      fullStatus.processes!.map((p) => new Map(Object.entries(p).map(([k, v]) => [k, asText(k, v)]))),
      daemon.poold,
      URIS,
      'json&full',
    );
  });

  await t.test('xml, and xml&full', async () => {
    const plain = await request(daemon.status, '/status?xml');
    assertFpmHeaders(plain, CONTENT_TYPES.xml, 'xml');
    assert.ok(plain.body.startsWith('<?xml version="1.0" ?>\n<status>\n'), plain.body);
    const status = parseXmlStatus(plain.body.slice('<?xml version="1.0" ?>\n'.length));
    assert.deepEqual(labelsOf(status.pool), xmlTags(POOL_FIELDS), "FPM's hyphenated tags in order, then poold's");
    assert.equal(status.processes.length, 0);
    const values = new Map(status.pool.map(([tag, value]) => [tag.replace(/-/g, ' '), value]));
    checkWwwPool(values, URIS.length, 'xml');
    assert.equal(Number(values.get('start time')), startTime, 'xml start time: epoch seconds');

    const full = await request(daemon.status, '/status?xml&full');
    assertFpmHeaders(full, CONTENT_TYPES.xml, 'xml&full');
    const fullStatus = parseXmlStatus(full.body.slice('<?xml version="1.0" ?>\n'.length));
    assert.deepEqual(labelsOf(fullStatus.pool), xmlTags(POOL_FIELDS));
    assert.equal(fullStatus.processes.length, 2, 'one <process> per worker');
    for (const process of fullStatus.processes) assert.deepEqual(labelsOf(process), xmlTags(PROCESS_JSON));
    checkWwwProcesses(
      fullStatus.processes.map((p) => new Map(p.map(([tag, value]) => [tag.replace(/-/g, ' '), value]))),
      daemon.poold,
      URIS,
      'xml&full',
    );
  });

  await t.test('html, and html&full', async () => {
    const plain = await request(daemon.status, '/status?html');
    assertFpmHeaders(plain, CONTENT_TYPES.html, 'html');
    assert.ok(
      plain.body.startsWith(
        '<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 Strict//EN" "http://www.w3.org/TR/xhtml1/DTD/xhtml1-strict.dtd">\n',
      ),
    );
    assert.ok(plain.body.includes('<head><title>PHP-FPM Status Page</title></head>'));
    assert.ok(plain.body.endsWith('</body></html>'), 'FPM ends the page with </body></html>');
    const page = parseHtml(plain.body);
    assert.equal(page.pools.length, 1);
    assert.deepEqual(labelsOf(page.pools[0]!), POOL_FIELDS, "FPM's rows in order, then poold's");
    assert.equal(page.processTables.length, 0);
    const values = asMap(page.pools[0]!);
    checkWwwPool(values, URIS.length, 'html');
    assert.equal(parseStrftime(values.get('start time')!), startTime, 'html start time: strftime');

    const full = await request(daemon.status, '/status?html&full');
    assertFpmHeaders(full, CONTENT_TYPES.html, 'html&full');
    assert.ok(full.body.endsWith('</table></body></html>'), "FPM's ending after the process table");
    const fullPage = parseHtml(full.body);
    assert.deepEqual(labelsOf(fullPage.pools[0]!), POOL_FIELDS);
    assert.equal(fullPage.processTables.length, 1);
    const table = fullPage.processTables[0]!;
    assert.deepEqual(table.header, PROCESS_JSON, "FPM's process columns in order, then poold's");
    assert.equal(table.rows.length, 2, 'one row per worker');
    checkWwwProcesses(
      table.rows.map((row) => new Map(row.map((cell, i) => [table.header[i]!, cell]))),
      daemon.poold,
      URIS,
      'html&full',
    );
  });

  await t.test('openmetrics (full ignored, as in FPM)', async () => {
    for (const query of ['?openmetrics', '?openmetrics&full']) {
      const response = await request(daemon.status, `/status${query}`);
      assertFpmHeaders(response, CONTENT_TYPES.openmetrics, query);
      assert.ok(response.body.endsWith('\n# EOF\n'), `${query}: ends with # EOF`);
      const exposition = parseExposition(response.body);
      assert.deepEqual(exposition.junk, [], `${query}: nothing but metadata and samples`);
      assert.equal(exposition.eofCount, 1);
      assert.deepEqual(
        exposition.families.map((f) => f.name),
        [...FPM_OPENMETRICS.map(([name]) => name), ...POOLD_OPENMETRICS],
        `${query}: FPM's families in order, then poold's`,
      );
      for (const [name, type, help] of FPM_OPENMETRICS) {
        const family = exposition.families.find((f) => f.name === name)!;
        assert.equal(family.type, type, `${name} TYPE`);
        assert.equal(family.help, help.replace('%s', 'www').replace('%s', 'static'), `${name} HELP`);
        assert.equal(family.firstMeta, name === 'phpfpm_listen_queue_length' ? 'TYPE' : 'HELP', `${name}: FPM's line order`);
        assert.equal(family.samples.length, 1, `${name}: one sample`);
        assert.deepEqual(family.samples[0]!.labels, {}, `${name}: no labels, as in FPM`);
        assert.equal(family.samples[0]!.name, name, `${name}: FPM's sample name (no _total)`);
      }
      assert.equal(valueOf(exposition, 'phpfpm_up'), 1);
      assert.equal(valueOf(exposition, 'phpfpm_accepted_connections'), URIS.length);
      assert.equal(valueOf(exposition, 'phpfpm_listen_queue_length'), 511);
      assert.equal(valueOf(exposition, 'phpfpm_idle_processes'), 2);
      assert.equal(valueOf(exposition, 'phpfpm_active_processes'), 0);
      assert.equal(valueOf(exposition, 'phpfpm_total_processes'), 2);
      assert.equal(valueOf(exposition, 'poold_max_children'), 2);
      assert.equal(exposition.samples.length, FPM_OPENMETRICS.length + POOLD_OPENMETRICS.length, 'no per-process samples');
    }
  });
});

test('`/` lists every pool in every format; each pool_status_path shows only its pool', async (t) => {
  const daemon = await startDaemon(t, { twoPools: true });
  await sendRequests(daemon);
  await settled(daemon, URIS.length);
  await pollUntil('pool two idle', async () => (await jsonStatus(daemon.status, '/status2?json'))['idle processes'] === 1);
  const names = ['www', 'two'];

  const json = await request(daemon.status, '/?json&full');
  assertFpmHeaders(json, CONTENT_TYPES.json, '/?json&full');
  const all = JSON.parse(json.body) as { pools: JsonStatus[] };
  assert.deepEqual(Object.keys(all), ['pools']);
  assert.deepEqual(all.pools.map((p) => p.pool), names, 'every pool, in config order');
  for (const pool of all.pools) {
    assert.deepEqual(Object.keys(pool), [...POOL_FIELDS, 'processes']);
    for (const process of pool.processes!) assert.deepEqual(Object.keys(process), PROCESS_JSON);
  }
  const two = all.pools[1]!;
  assert.equal(two['process manager'], 'dynamic');
  assert.equal(two['max children'], 3);
  assert.equal(two['min spare servers'], 1);
  assert.equal(two['max spare servers'], 2);
  assert.equal(two['accepted conn'], 0, "www's requests are not two's");
  assert.equal(all.pools[0]!.processes!.length, 2);
  assert.equal(two.processes!.length, two['total processes']);

  const text = await request(daemon.status, '/');
  assertFpmHeaders(text, CONTENT_TYPES.text, '/');
  const blocks = text.body.split('\n\n');
  assert.equal(blocks.length, 2, 'one text block per pool, separated by a blank line');
  assert.deepEqual(
    blocks.map((block) => asMap(parseTextBlock(block, '/')).get('pool')),
    names,
  );
  for (const block of blocks) assert.deepEqual(labelsOf(parseTextBlock(block, '/')), POOL_FIELDS);

  const xml = await request(daemon.status, '/?xml');
  assertFpmHeaders(xml, CONTENT_TYPES.xml, '/?xml');
  assert.ok(xml.body.startsWith('<?xml version="1.0" ?>\n<pools>\n') && xml.body.endsWith('</pools>'), xml.body);
  const statuses = [...xml.body.matchAll(/<status>\n[\s\S]*?<\/status>/g)].map((m) => parseXmlStatus(m[0]));
  assert.deepEqual(statuses.map((s) => asMap(s.pool).get('pool')), names);
  for (const status of statuses) assert.deepEqual(labelsOf(status.pool), xmlTags(POOL_FIELDS));

  const html = await request(daemon.status, '/?html&full');
  assertFpmHeaders(html, CONTENT_TYPES.html, '/?html&full');
  const page = parseHtml(html.body);
  assert.deepEqual(page.pools.map((p) => asMap(p).get('pool')), names);
  for (const pool of page.pools) assert.deepEqual(labelsOf(pool), POOL_FIELDS);
  assert.equal(page.processTables.length, 2, 'a process table per pool');
  for (const table of page.processTables) assert.deepEqual(table.header, PROCESS_JSON);

  const om = await request(daemon.status, '/?openmetrics');
  assertFpmHeaders(om, CONTENT_TYPES.openmetrics, '/?openmetrics');
  const exposition = parseExposition(om.body);
  assert.equal(exposition.eofCount, 1);
  assert.ok(om.body.endsWith('\n# EOF\n'));
  assert.deepEqual(exposition.junk, []);
  assert.deepEqual(
    exposition.families.map((f) => f.name),
    [...FPM_OPENMETRICS.map(([name]) => name), ...POOLD_OPENMETRICS],
    'each family once',
  );
  for (const family of exposition.families) {
    assert.deepEqual(
      family.samples.map((s) => s.labels.pool),
      names,
      `${family.name}: one sample per pool, with a pool label`,
    );
  }
  assert.equal(valueOf(exposition, 'phpfpm_accepted_connections', { pool: 'www' }), URIS.length);
  assert.equal(valueOf(exposition, 'phpfpm_accepted_connections', { pool: 'two' }), 0);
  assert.equal(valueOf(exposition, 'poold_max_children', { pool: 'two' }), 3);

  // Each pool's own page shows that pool only.
  assert.equal((await jsonStatus(daemon.status, '/status?json')).pool, 'www');
  assert.equal((await jsonStatus(daemon.status, '/status2?json')).pool, 'two');
  assert.equal((await request(daemon.status, '/nope')).status, 404);
});

test('ping: 200 text/plain with ping.response; HEAD sends headers only', async (t) => {
  const daemon = await startDaemon(t, { twoPools: true, wwwExtra: 'ping.response = I am alive' });
  const custom = await request(daemon.status, '/ping');
  assertFpmHeaders(custom, 'text/plain;charset=UTF-8', '/ping');
  assert.equal(custom.body, 'I am alive');
  const pong = await request(daemon.status, '/ping2');
  assertFpmHeaders(pong, 'text/plain;charset=UTF-8', '/ping2');
  assert.equal(pong.body, 'pong', "ping.response's default");

  const head = await request(daemon.status, '/ping', { method: 'HEAD' });
  assertFpmHeaders(head, 'text/plain;charset=UTF-8', 'HEAD /ping');
  assert.equal(head.headers['content-length'], String('I am alive'.length));
  // On the wire: the headers and nothing after them.
  const raw = await exchange(
    { port: (daemon.status as { port: number }).port },
    ['HEAD /ping HTTP/1.1\r\nHost: status\r\nConnection: close\r\n\r\n'],
  );
  assert.match(raw.data, /^HTTP\/1\.1 200 OK\r\n/);
  assert.ok(raw.data.endsWith('\r\n\r\n'), `no body after the headers: ${JSON.stringify(raw.data)}`);
  const statusHead = await exchange(
    { port: (daemon.status as { port: number }).port },
    ['HEAD /status?json HTTP/1.1\r\nHost: status\r\nConnection: close\r\n\r\n'],
  );
  assert.match(statusHead.data, /^HTTP\/1\.1 200 OK\r\n[\s\S]*Content-Type: application\/json\r\n/);
  assert.ok(statusHead.data.endsWith('\r\n\r\n'), `HEAD of a status page: headers only: ${JSON.stringify(statusHead.data)}`);

  const post = await request(daemon.status, '/ping', { method: 'POST' });
  assert.equal(post.status, 405);
  assert.equal(post.headers['allow'], 'GET, HEAD');
});

test('status pages and /metrics answer while every worker is blocked, showing them Running with the URI', async (t) => {
  const daemon = await startDaemon(t);
  const order: string[] = [];
  const BLOCK = '/block?ms=5000';
  // Both workers stuck in synchronous code, and one more request waiting for them.
  const blocked = [get(daemon.ports.www, BLOCK, 30_000), get(daemon.ports.www, BLOCK, 30_000)].map((p) =>
    p.then((response) => {
      order.push('blocked request');
      return response;
    }),
  );
  const running = await pollUntil(
    'both workers Running the blocked requests',
    async () => {
      const status = await jsonStatus(daemon.status, '/status?json&full');
      // status.show_query is off by default.
      const busy = status.processes!.filter((p) => p.state === 'Running' && p['request uri'] === '/block?...');
      return busy.length === 2 && status;
    },
    4000,
  );
  const queued = get(daemon.ports.www, '/?queued', 30_000).then((response) => {
    order.push('queued request');
    return response;
  });
  const withQueue = await pollUntil(
    'the third request queued',
    async () => {
      const status = await jsonStatus(daemon.status, '/status?json');
      return status['listen queue'] === 1 && status;
    },
    3000,
  );
  order.push('status');

  const text = await request(daemon.status, '/status?full');
  order.push('status');
  const metrics = await request(daemon.status, '/metrics');
  order.push('metrics');
  const all = await request(daemon.status, '/?json');
  order.push('status');

  await Promise.all([...blocked, queued]);
  assert.deepEqual(
    order.slice(0, 4),
    ['status', 'status', 'metrics', 'status'],
    `the master answered before any blocked request finished: ${order.join(', ')}`,
  );
  assert.deepEqual(order.slice(4).sort(), ['blocked request', 'blocked request', 'queued request']);

  assert.equal(running['active processes'], 2);
  assert.equal(running['idle processes'], 0);
  for (const process of running.processes!) {
    assert.equal(process['request method'], 'GET');
    assert.ok((process['request duration'] as number) >= 0);
  }
  assert.equal(withQueue['listen queue'], 1, 'FPM counts the waiting connection in listen queue');
  assert.equal(withQueue['active processes'], 2);

  assert.equal(text.status, 200);
  const page = parseText(text.body, 'text&full while blocked');
  assert.equal(asMap(page.pool).get('active processes'), '2');
  assert.equal(asMap(page.pool).get('listen queue'), '1');
  for (const block of page.processes) {
    const values = asMap(block);
    assert.equal(values.get('state'), 'Running');
    assert.equal(values.get('request URI'), '/block?...');
    assert.equal(values.get('last request cpu'), '0.00', 'FPM shows cpu only for idle processes');
    assert.equal(values.get('last request memory'), '0', 'FPM shows memory only for idle processes');
  }

  assert.equal(metrics.status, 200);
  const exposition = parseExposition(metrics.body);
  assert.equal(valueOf(exposition, 'poold_processes', { pool: 'www', state: 'running' }), 2);
  assert.equal(valueOf(exposition, 'poold_processes', { pool: 'www', state: 'idle' }), 0);
  assert.equal(valueOf(exposition, 'poold_listen_queue', { pool: 'www' }), 1);

  assert.equal(all.status, 200);
  assert.equal((JSON.parse(all.body) as { pools: JsonStatus[] }).pools[0]!['active processes'], 2);
});

test('status.allowed_clients: 403 for a client not listed; the default list lets 127.0.0.1 in; unix sockets are not filtered', async (t) => {
  const paths = ['/status', '/status?json', '/ping', '/metrics', '/'];

  // Only 127.0.0.2 may ask; the test connects from 127.0.0.1, then from 127.0.0.2.
  const restricted = await startDaemon(t, { globalExtra: 'status.allowed_clients = 127.0.0.2' });
  for (const urlPath of paths) {
    const refused = await request(restricted.status, urlPath);
    assert.equal(refused.status, 403, `${urlPath} from 127.0.0.1: ${refused.body}`);
    assert.equal(refused.body, '403 Forbidden\n');
    const allowed = await request(restricted.status, urlPath, { localAddress: '127.0.0.2' });
    assert.equal(allowed.status, 200, `${urlPath} from 127.0.0.2, which is listed`);
  }
  const refusedHead = await request(restricted.status, '/ping', { method: 'HEAD' });
  assert.equal(refusedHead.status, 403, 'HEAD too');

  // The default list: 127.0.0.1 and ::1.
  const open = await startDaemon(t);
  for (const urlPath of paths) {
    assert.equal((await request(open.status, urlPath)).status, 200, `${urlPath} from 127.0.0.1 with the default list`);
    assert.equal(
      (await request(open.status, urlPath, { localAddress: '127.0.0.2' })).status,
      403,
      `${urlPath} from 127.0.0.2, which the default list leaves out`,
    );
  }

  // A unix socket listener: the file's permissions decide, not the address list.
  const appPort = await freePort();
  let socketDaemon: RunningPoold | undefined;
  t.after(() => cleanup(socketDaemon));
  socketDaemon = await startPoold(
    globalSection('status.listen = @DIR@/status.sock\nstatus.allowed_clients = 127.0.0.2') +
      poolSection('www', appPort, APP, 'pm.status_path = /status\nping.path = /ping'),
  );
  const socketPath = path.join(socketDaemon.dir, 'status.sock');
  assert.equal((await request({ socketPath }, '/ping')).body, 'pong');
  assert.equal((await request({ socketPath }, '/status?json')).status, 200);
});

/** `GET /ping` on a unix socket as the user nobody: the status line, or the error code. */
async function pingAsNobody(socketPath: string): Promise<string> {
  const script =
    "const s = require('net').connect(process.argv[1], () => s.write('GET /ping HTTP/1.0\\r\\n\\r\\n'));" +
    "let r = ''; s.on('data', (d) => (r += d)); s.on('end', () => console.log(r.split('\\r\\n')[0]));" +
    's.on(\'error\', (e) => console.log(e.code));';
  const { stdout } = await runCommand(
    'setpriv',
    ['--reuid=nobody', '--regid=nogroup', '--clear-groups', process.execPath, '-e', script, socketPath],
    { timeoutMs: 10_000 },
  );
  return stdout.trim();
}

test('a unix status socket is closed to other users by default; status.listen.owner, .group and .mode open it to one', async (t) => {
  if (process.getuid?.() !== 0) return t.skip('needs root to run a client as another user and to chown the socket');
  const nobody = await runCommand('id', ['-u', 'nobody'], { timeoutMs: 10_000 });
  const daemons: (RunningPoold | undefined)[] = [];
  t.after(() => Promise.all(daemons.map((d) => cleanup(d))).then(() => undefined));
  const start = async (extra: string) => {
    const poold = await startPoold(
      globalSection(`status.listen = @DIR@/status.sock\n${extra}`) + poolSection('www', await freePort(), APP, 'ping.path = /ping'),
    );
    daemons.push(poold);
    // Only the socket's own permissions may keep nobody out.
    chmodSync(poold.dir, 0o755);
    return path.join(poold.dir, 'status.sock');
  };
  const closed = await start('');
  assert.equal(statSync(closed).mode & 0o777, 0o660);
  assert.equal(statSync(closed).uid, process.getuid!());
  assert.equal(await pingAsNobody(closed), 'EACCES');

  const opened = await start('status.listen.owner = nobody\nstatus.listen.group = nogroup\nstatus.listen.mode = 0600');
  const stat = statSync(opened);
  assert.equal(stat.mode & 0o777, 0o600);
  assert.equal(stat.uid, Number(nobody.stdout.trim()));
  assert.equal(await pingAsNobody(opened), 'HTTP/1.1 200 OK');
});

/** Whether this machine has an IPv6 loopback to listen on. */
function ipv6Loopback(): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once('error', () => resolve(false));
    server.listen(0, '::1', () => server.close(() => resolve(true)));
  });
}

test('status.allowed_clients on an IPv6 listener: ::1 is in the default list, and left out when not listed', async (t) => {
  if (!(await ipv6Loopback())) return t.skip('no IPv6 loopback (::1) on this machine');
  const ports = [await freePort(), await freePort(), await freePort(), await freePort()];
  const daemons: (RunningPoold | undefined)[] = [];
  t.after(() => Promise.all(daemons.map((d) => cleanup(d))).then(() => undefined));
  const start = async (statusPort: number, appPort: number, extra: string) => {
    const poold = await startPoold(
      globalSection(`status.listen = [::1]:${statusPort}\n${extra}`) + poolSection('www', appPort, APP, 'ping.path = /ping'),
    );
    daemons.push(poold);
    return { port: statusPort, host: '::1' };
  };
  const open = await start(ports[0]!, ports[1]!, '');
  const ping = await request(open, '/ping');
  assert.equal(ping.status, 200, 'from ::1 with the default list');
  assert.equal(ping.body, 'pong');
  const v4only = await start(ports[2]!, ports[3]!, 'status.allowed_clients = 127.0.0.1');
  assert.equal((await request(v4only, '/ping')).status, 403, 'from ::1 when only 127.0.0.1 is listed');
  assert.equal((await request(v4only, '/metrics')).status, 403);
});

test(
  "a fast request's last request cpu is a share of the CPUs (at most 100 × cores), in the status page and /metrics",
    async (t) => {
    const daemon = await startDaemon(t);
    const limit = 100 * os.cpus().length;
    const seen: number[] = [];
    // Each round: one fast request, then what the status page and /metrics say of the worker's last request.
    for (let round = 0; round < 30; round++) {
      assert.equal((await get(daemon.ports.www, `/?round=${round}`)).status, 200);
      const status = await jsonStatus(daemon.status, '/status?json&full');
      for (const p of status.processes!) if (p.state === 'Idle' && (p.requests as number) > 0) seen.push(p['last request cpu'] as number);
      const metrics = parseExposition((await request(daemon.status, '/metrics')).body);
      for (const sample of metrics.samples.filter((s) => s.name === 'poold_worker_last_request_cpu_ratio')) {
        seen.push(sample.value * 100);
      }
    }
    assert.ok(seen.length > 0);
    const absurd = seen.filter((cpu) => !(cpu >= 0 && cpu <= limit));
    assert.deepEqual(absurd, [], `cpu shares above ${limit} % (${os.cpus().length} cores) among ${seen.length} readings`);
  },
);

test('query strings are hidden on the status listener by default, in every format, and shown by poold status', async (t) => {
  const daemon = await startDaemon(t, { twoPools: true });
  const config = path.join(daemon.poold.dir, 'poold.conf');
  const SECRET = '/account?token=s3cret&session=42';
  assert.equal((await get(daemon.ports.www, SECRET)).status, 200);
  await settled(daemon, 1);
  const processes = (await jsonStatus(daemon.status, '/status?json&full')).processes!;
  assert.deepEqual(
    processes.filter((p) => p.requests === 1).map((p) => p['request uri']),
    ['/account?...'],
    'the path, and that there was a query',
  );
  for (const page of ['/status?full', '/status?full&json', '/status?full&xml', '/status?full&html', '/status?full&openmetrics', '/?full', '/?full&json', '/metrics']) {
    const response = await request(daemon.status, page);
    assert.equal(response.status, 200, page);
    assert.ok(!response.body.includes('s3cret'), `${page} shows no query string: ${response.body}`);
  }
  // The control socket is the master's user's only: the whole URI.
  const cli = await runPoold(['status', '-c', config, '--json', '--pool', 'www']);
  assert.equal(cli.code, 0, cli.stderr);
  const [www] = JSON.parse(cli.stdout) as { processes: { uri: string; requests: number }[] }[];
  assert.deepEqual(www!.processes.filter((p) => p.requests === 1).map((p) => p.uri), [SECRET]);
});

test('poold status: table, --json, --pool, and while every worker is blocked', async (t) => {
  const daemon = await startDaemon(t, { twoPools: true });
  const config = path.join(daemon.poold.dir, 'poold.conf');
  await sendRequests(daemon);
  await settled(daemon, URIS.length);
  const pids = daemon.poold.liveWorkerPids();
  const wwwPids = (await jsonStatus(daemon.status, '/status?json&full')).processes!.map((p) => p.pid as number);

  const table = await runPoold(['status', '-c', config, '--full']);
  assert.equal(table.code, 0, table.stderr);
  assert.match(table.stdout, /pool www \(static\)/);
  assert.match(table.stdout, /pool two \(dynamic\)/);
  for (const pid of pids) assert.match(table.stdout, new RegExp(`^\\s+${pid}\\s+Idle\\b`, 'm'), `worker ${pid} listed`);

  const json = await runPoold(['status', '-c', config, '--json']);
  assert.equal(json.code, 0, json.stderr);
  const pools = JSON.parse(json.stdout) as { pool: string; processes: { pid: number; state: string; requests: number }[] }[];
  assert.deepEqual(pools.map((p) => p.pool), ['www', 'two']);
  assert.deepEqual(pools[0]!.processes.map((p) => p.pid).sort(), [...wwwPids].sort());
  for (const process of pools[0]!.processes) assert.equal(process.state, 'Idle');
  assert.equal(pools[0]!.processes.reduce((sum, p) => sum + p.requests, 0), URIS.length);

  const one = await runPoold(['status', '-c', config, '--json', '--pool', 'two']);
  assert.equal(one.code, 0, one.stderr);
  assert.deepEqual((JSON.parse(one.stdout) as { pool: string }[]).map((p) => p.pool), ['two']);

  const nope = await runPoold(['status', '-c', config, '--pool', 'nope']);
  assert.equal(nope.code, 64, `--pool nope: exit 64 (usage), got ${nope.code}: ${nope.stderr}`);
  assert.match(nope.stderr, /nope/);
  assert.equal(nope.stdout, '');

  // Every www worker stuck: the master reads the scoreboard, not the workers.
  const BLOCK = '/block?ms=8000';
  const order: string[] = [];
  const blocked = [get(daemon.ports.www, BLOCK, 30_000), get(daemon.ports.www, BLOCK, 30_000)].map((p) =>
    p.then(() => order.push('blocked request')),
  );
  await pollUntil(
    'both www workers Running',
    async () =>
      (await jsonStatus(daemon.status, '/status?json&full')).processes!.filter((p) => p.state === 'Running').length === 2,
    5000,
  );
  const stuck = await runPoold(['status', '-c', config, '--json', '--pool', 'www']);
  order.push('cli --json');
  const stuckTable = await runPoold(['status', '-c', config, '--pool', 'www']);
  order.push('cli');
  await Promise.all(blocked);
  assert.deepEqual(order, ['cli --json', 'cli', 'blocked request', 'blocked request'], 'the CLI answered while they were stuck');
  assert.equal(stuck.code, 0, stuck.stderr);
  const [www] = JSON.parse(stuck.stdout) as { processes: { state: string; uri: string; method: string }[] }[];
  assert.equal(www!.processes.length, 2);
  for (const process of www!.processes) {
    assert.equal(process.state, 'Running');
    assert.equal(process.uri, BLOCK);
    assert.equal(process.method, 'GET');
  }
  assert.equal(stuckTable.code, 0, stuckTable.stderr);
  assert.equal((stuckTable.stdout.match(new RegExp(`Running.*GET ${BLOCK.replace(/[?]/g, '\\?')}`, 'g')) ?? []).length, 2);
});
