// Upgraded connections (WebSockets, with the `ws` package) through a real
// daemon: they are not requests (no load, no request timeout, no slowlog),
// status and /metrics count them, a reload closes them through the app's
// shutdown() with 1001, and a worker that dies just closes them.
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { test, type TestContext } from 'node:test';
import { WebSocket } from 'ws';
import { FIXTURES, cleanup, freePort, get, globalSection, startPoold, waitFor, type RunningPoold } from '../helpers/poold.js';
import { parseExposition, pollUntil, request, sumOf, valueOf, type StatusTarget } from '../helpers/status.js';

const APP = path.join(FIXTURES, 'websocket-app.js');

function config(port: number, extra = '', global = '', app = APP): string {
  return (
    globalSection(global) +
    `[www]\nlisten = 127.0.0.1:${port}\napp = ${app}\npm = static\npm.max_children = 1\npm.status_path = /status\n${extra}\n`
  );
}

const statusOf = (poold: RunningPoold): StatusTarget => ({ socketPath: path.join(poold.dir, 'status.sock') });
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A WebSocket client that records what it receives and how it closed. */
class Client {
  readonly messages: string[] = [];
  closed: { code: number; reason: string } | null = null;
  readonly errors: Error[] = [];

  private constructor(readonly ws: WebSocket) {
    ws.on('message', (data) => this.messages.push(String(data)));
    ws.on('close', (code, reason) => (this.closed = { code, reason: String(reason) }));
    ws.on('error', (err) => this.errors.push(err));
  }

  /** Connects and waits for the worker's greeting. */
  static async open(port: number): Promise<Client> {
    const client = new Client(new WebSocket(`ws://127.0.0.1:${port}/`));
    await waitFor('the greeting', () => client.messages[0] ?? (client.closed ? 'closed' : undefined));
    assert.match(client.messages[0] ?? '', /^hello \d+$/, `greeted (errors: ${client.errors.join('; ')})`);
    return client;
  }

  /** The pid of the worker that holds it. */
  get pid(): number {
    return Number(this.messages[0]!.split(' ')[1]);
  }

  async echo(text: string): Promise<void> {
    this.ws.send(text);
    await waitFor(`echo ${text}`, () => this.messages.includes(`echo ${text}`) || this.closed !== null);
    assert.equal(this.closed, null, `still open when echoing ${text}`);
  }

  close(): void {
    this.ws.terminate();
  }
}

/**
 * A daemon for this test on a port of its own, and a way to open clients:
 * after the test every client opened is closed and the daemon stopped.
 */
async function daemon(
  t: TestContext,
  extra = '',
  global = '',
  app = APP,
): Promise<{ poold: RunningPoold; port: number; open(): Promise<Client> }> {
  const port = await freePort();
  let poold: RunningPoold | undefined;
  const clients: Client[] = [];
  t.after(async () => {
    for (const client of clients) client.close();
    await cleanup(poold);
  });
  poold = await startPoold(config(port, extra, global, app));
  const open = async (): Promise<Client> => {
    const client = await Client.open(port);
    clients.push(client);
    return client;
  };
  return { poold, port, open };
}

async function upgradedShown(poold: RunningPoold): Promise<{ status: number; pool: number; worker: number }> {
  const status = JSON.parse((await request(statusOf(poold), '/status?json&full')).body) as {
    processes: Record<string, number>[];
  };
  const metrics = parseExposition((await request(statusOf(poold), '/metrics')).body);
  return {
    status: status.processes[0]!['upgraded connections']!,
    pool: valueOf(metrics, 'poold_upgraded_connections', { pool: 'www' }),
    worker: sumOf(metrics, 'poold_worker_upgraded_connections', { pool: 'www' }),
  };
}

for (const attach of ['server', 'upgrade']) {
  test(`echo through the daemon (${attach === 'server' ? 'ws attached to the server init() gets' : 'an upgrade() export'}); the socket is no request, status and /metrics count it`, async (t) => {
    const { poold, port, open } = await daemon(t, `env[WS_ATTACH] = ${attach}`);
    const client = await open();
    await client.echo('one');
    await client.echo('two');

    // One worker, pm.max_concurrency = 1: an open socket takes none of its room.
    const plain = await get(port, '/');
    assert.equal(plain.status, 200);
    assert.equal(Number(plain.body), client.pid);
    // Not busy, the plain GET its only request (once its end is written: just after the client read it).
    await pollUntil('the worker idle after its one request', async () => {
      const status = JSON.parse((await request(statusOf(poold), '/status?json&full')).body) as Record<string, unknown> & {
        processes: Record<string, unknown>[];
      };
      const [worker] = status.processes;
      return status['active processes'] === 0 && worker!['state'] === 'Idle' && worker!['requests'] === 1;
    });
    assert.deepEqual(await upgradedShown(poold), { status: 1, pool: 1, worker: 1 });
    const text = (await request(statusOf(poold), '/status?full')).body;
    assert.match(text, /\nupgraded connections: 1\n/);

    client.close();
    await pollUntil('the closed socket uncounted', async () => (await upgradedShown(poold)).status === 0);
    assert.deepEqual(await upgradedShown(poold), { status: 0, pool: 0, worker: 0 });
  });
}

test('an http.Server exported as it is, with ws attached to it: its WebSocket server gets the upgrades', async (t) => {
  const { poold, port, open } = await daemon(t, '', '', path.join(FIXTURES, 'websocket-server-export.js'));
  const client = await open();
  await client.echo('through the exported server');
  assert.equal((await get(port, '/')).body, `${client.pid}\n`);
  assert.equal((await upgradedShown(poold)).status, 1);
});

test('requests an app serves from its own request listener (as socket.io does) are counted like any other', async (t) => {
  const { poold, port } = await daemon(t, 'env[WS_TAKE_REQUESTS] = 1');
  for (let i = 0; i < 3; i++) assert.equal((await get(port, '/own')).body, 'own\n');
  // One worker with room for one request: had a request above gone uncounted, its load would never end.
  const plain = await get(port, '/');
  assert.equal(plain.status, 200);
  // The worker writes a request's end when its response closes, which may be just after the client has read it.
  await pollUntil('4 requests counted and the worker idle', async () => {
    const status = JSON.parse((await request(statusOf(poold), '/status?json&full')).body) as { processes: Record<string, unknown>[] };
    return status.processes[0]!['requests'] === 4 && status.processes[0]!['state'] === 'Idle';
  });
});

test('request_terminate_timeout = 3s and the slowlog leave a 10 s WebSocket alone: it echoes throughout, the worker stays', async (t) => {
  const { poold, open } = await daemon(t, 'request_terminate_timeout = 3s\nrequest_slowlog_timeout = 1s\nslowlog = @DIR@/slow.log');
  const [worker] = poold.workerPids();
  const client = await open();
  assert.equal(client.pid, worker);
  const openedAt = Date.now();
  for (let i = 0; Date.now() - openedAt < 10_000; i++) {
    await client.echo(`#${i}`);
    await sleep(250);
  }
  assert.equal(client.closed, null);
  assert.deepEqual(poold.liveWorkerPids(), [worker], 'the worker was not replaced');
  assert.equal(poold.lines.filter((line) => /timed out|too slow/.test(line)).length, 0, poold.lines.join('\n'));
  const slowlog = path.join(poold.dir, 'slow.log');
  assert.equal(existsSync(slowlog) ? readFileSync(slowlog, 'utf8') : '', '', 'nothing in the slowlog');
});

test('a reload closes the socket with 1001 through shutdown(), before the drain deadline; the client reconnects to the new generation', async (t) => {
  // A deadline far beyond the test's waits: the socket must close because the app closed it.
  const { poold, open } = await daemon(t, '', 'process_control_timeout = 60s');
  const old = await open();
  process.kill(poold.pid, 'SIGUSR2');
  await waitFor('the old socket closed', () => old.closed ?? undefined, 20_000);
  assert.deepEqual(old.closed, { code: 1001, reason: 'going away' });
  const fresh = await open();
  assert.notEqual(fresh.pid, old.pid, 'a worker of the new generation');
  await fresh.echo('again');
  // The old worker stopped by itself once the app had closed its socket.
  await poold.waitForLine(new RegExp(`child ${old.pid} exited with code 0`), 20_000);
});

test('a graceful stop closes the sockets the app leaves open at the drain deadline: the worker and the master exit', async (t) => {
  const { poold, open } = await daemon(t, 'env[WS_KEEP_OPEN] = 1', 'process_control_timeout = 2s');
  const client = await open();
  process.kill(poold.pid, 'SIGQUIT');
  assert.equal(await Promise.race([poold.exited, sleep(20_000).then(() => 'still running')]), 0);
  await waitFor('the socket closed', () => client.closed ?? undefined);
});

test('a worker that dies holding a WebSocket: the master closes it, no HTTP answer is written into it and nothing is dispatched again', async (t) => {
  const { poold, port, open } = await daemon(t);
  const client = await open();
  const crashed = client.pid;
  await get(port, '/crash').catch(() => undefined);
  await waitFor('the socket closed', () => client.closed ?? undefined);
  assert.equal(client.closed!.code, 1006, 'closed without a close frame');
  assert.deepEqual(client.errors, [], 'no bytes other than WebSocket frames reached the client');
  assert.deepEqual(client.messages, [`hello ${crashed}`]);
  await poold.waitForLine(new RegExp(`child ${crashed} exited on signal`));
  const next = await open();
  assert.notEqual(next.pid, crashed);
});
