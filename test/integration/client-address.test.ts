// listen.trusted_proxies: the client behind a trusted proxy, from its PROXY
// protocol header (v1 and v2, TCP and unix sockets) or X-Forwarded-For, is
// what the app sees in req.socket.remoteAddress and what %R logs; untrusted
// peers' headers are ignored; listen.allowed_clients checks the real client.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { test } from 'node:test';
import { findOnPath } from '../../src/pool/spawn-worker.js';
import {
  cleanup,
  FIXTURES,
  freePort,
  globalSection,
  startPoold,
  tempDir,
  waitFor,
  type RunningPoold,
} from '../helpers/poold.js';

const APP = path.join(FIXTURES, 'client-app.js');

function pool(listen: string, extra: string): string {
  return (
    `[www]\nlisten = ${listen}\napp = ${APP}\npm = static\npm.max_children = 1\n` +
    `access.log = @DIR@/access.log\naccess.format = "%R %r %s"\n${extra}\n`
  );
}

/** Writes `chunks` (with a pause between them) on one connection and returns everything read until the server closes. */
function rawExchange(target: { port: number; localAddress?: string } | { path: string }, chunks: (string | Buffer)[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = 'path' in target ? net.connect(target.path) : net.connect({ host: '127.0.0.1', ...target });
    let received = '';
    socket.setTimeout(10_000, () => socket.destroy(new Error(`no answer; got ${JSON.stringify(received)}`)));
    socket.on('data', (chunk: Buffer) => (received += chunk.toString('latin1')));
    socket.on('error', (err: NodeJS.ErrnoException) => (err.code === 'ECONNRESET' ? resolve(received) : reject(err)));
    socket.on('close', () => resolve(received));
    socket.on('connect', async () => {
      for (const [index, chunk] of chunks.entries()) {
        if (index > 0) await new Promise((r) => setTimeout(r, 150));
        socket.write(chunk);
      }
    });
  });
}

const GET = (urlPath: string, extra = '') => `GET ${urlPath} HTTP/1.1\r\nHost: x\r\n${extra}Connection: close\r\n\r\n`;

function bodyOf(response: string): string {
  return response.slice(response.indexOf('\r\n\r\n') + 4).trim();
}

function proxyV2(client: string, port: number): Buffer {
  const header = Buffer.alloc(28);
  Buffer.from('0d0a0d0a000d0a515549540a', 'hex').copy(header, 0);
  header[12] = 0x21; // version 2, PROXY
  header[13] = 0x11; // TCP over IPv4
  header.writeUInt16BE(12, 14);
  client.split('.').forEach((part, i) => (header[16 + i] = Number(part)));
  [127, 0, 0, 1].forEach((part, i) => (header[20 + i] = part));
  header.writeUInt16BE(port, 24);
  header.writeUInt16BE(9000, 26);
  return header;
}

test('PROXY v1 and v2 from a trusted peer name the client; split headers too; %R logs it; others are not read', async (t) => {
  const port = await freePort();
  let poold: RunningPoold | undefined;
  t.after(() => cleanup(poold));
  poold = await startPoold(globalSection() + pool(`127.0.0.1:${port}`, 'listen.trusted_proxies = 127.0.0.1'));

  const v1 = await rawExchange({ port }, ['PROXY TCP4 192.0.2.7 127.0.0.1 56324 8080\r\n' + GET('/v1')]);
  assert.equal(bodyOf(v1), '192.0.2.7 56324 IPv4');
  const v2 = await rawExchange({ port }, [Buffer.concat([proxyV2('198.51.100.4', 4711), Buffer.from(GET('/v2'))])]);
  assert.equal(bodyOf(v2), '198.51.100.4 4711 IPv4');
  // The header and the request in pieces: the master reads until both are whole.
  const split = await rawExchange({ port }, ['PROXY TCP6 2001:db8::5 ::1 ', '1234 80\r\nGET /split HT', 'TP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n']);
  assert.equal(bodyOf(split), '2001:db8::5 1234 IPv6');
  // LOCAL (a proxy's health check): the peer is the client.
  const local = Buffer.from('0d0a0d0a000d0a515549540a20000000', 'hex');
  assert.match(bodyOf(await rawExchange({ port }, [Buffer.concat([local, Buffer.from(GET('/local'))])])), /^127\.0\.0\.1 \d+ IPv4$/);

  // An untrusted peer's PROXY line is not read: it reaches Node's HTTP parser as garbage.
  const untrusted = await rawExchange({ port, localAddress: '127.0.0.2' }, ['PROXY TCP4 192.0.2.7 127.0.0.1 1 2\r\n' + GET('/spoof')]);
  assert.match(untrusted, /^HTTP\/1\.1 400 /);
  // A broken header from a trusted peer closes the connection, logged.
  assert.equal(await rawExchange({ port }, ['PROXY TCP4 not-an-address 127.0.0.1 1 2\r\n' + GET('/broken')]), '');
  await poold.waitForLine(/\[pool www\] Connection from trusted proxy '127\.0\.0\.1' closed: it sent a malformed PROXY v1 header/);

  await waitFor('the access log', () => readAccess(poold!.dir).length >= 4);
  assert.deepEqual(readAccess(poold.dir).slice(0, 3), ['192.0.2.7 /v1 200', '198.51.100.4 /v2 200', '2001:db8::5 /split 200']);
});

function readAccess(dir: string): string[] {
  try {
    return readFileSync(path.join(dir, 'access.log'), 'utf8').split('\n').filter(Boolean);
  } catch {
    return [];
  }
}

test('PROXY v2 on a unix socket with unix: trusted; listen.allowed_clients checks the client it names', async (t) => {
  let poold: RunningPoold | undefined;
  t.after(() => cleanup(poold));
  poold = await startPoold(
    globalSection() + pool('@DIR@/www.sock', 'listen.trusted_proxies = unix:\nlisten.allowed_clients = 198.51.100.0/24'),
  );
  const socketPath = path.join(poold.dir, 'www.sock');
  const served = await rawExchange({ path: socketPath }, [Buffer.concat([proxyV2('198.51.100.4', 4711), Buffer.from(GET('/'))])]);
  assert.equal(bodyOf(served), '198.51.100.4 4711 IPv4');
  const dropped = await rawExchange({ path: socketPath }, [Buffer.concat([proxyV2('203.0.113.9', 4711), Buffer.from(GET('/'))])]);
  assert.equal(dropped, '');
  await poold.waitForLine(/\[pool www\] Connection disallowed: IP address '203\.0\.113\.9' has been dropped\./);
});

test('X-Forwarded-For from a trusted peer names the client of each request; an untrusted peer\'s is ignored', async (t) => {
  const port = await freePort();
  let poold: RunningPoold | undefined;
  t.after(() => cleanup(poold));
  poold = await startPoold(globalSection() + pool(`127.0.0.1:${port}`, 'listen.trusted_proxies = 127.0.0.1, 10.0.0.0/8'));
  const forwarded = await rawExchange({ port }, [GET('/', 'X-Forwarded-For: 10.9.9.9, 203.0.113.5, 10.0.0.2\r\n')]);
  assert.equal(bodyOf(forwarded), '203.0.113.5 undefined IPv4');
  const untrusted = await rawExchange({ port, localAddress: '127.0.0.2' }, [GET('/', 'X-Forwarded-For: 203.0.113.5\r\n')]);
  assert.match(bodyOf(untrusted), /^127\.0\.0\.2 \d+ IPv4$/);
});

// Debian puts nginx in /usr/sbin, which a non-root PATH may lack.
const NGINX = findOnPath('nginx') ?? (existsSync('/usr/sbin/nginx') ? '/usr/sbin/nginx' : null);

test('through a real nginx (proxy_pass to a unix socket, X-Forwarded-For): the app sees the client nginx saw', { skip: !NGINX && 'nginx not found: install Debian\'s nginx-light (.ci/run does)' }, async (t) => {
  let poold: RunningPoold | undefined;
  let nginx: ChildProcess | undefined;
  const dir = tempDir('poold-nginx-');
  t.after(async () => {
    if (nginx?.pid && nginx.exitCode === null) {
      nginx.kill('SIGQUIT');
      await new Promise((resolve) => nginx!.once('exit', resolve));
    }
    await cleanup(poold);
  });
  poold = await startPoold(globalSection() + pool('@DIR@/www.sock', 'listen.trusted_proxies = unix:'));
  const port = await freePort();
  writeFileSync(
    path.join(dir, 'nginx.conf'),
    `user root;\nworker_processes 1;\npid ${dir}/nginx.pid;\nerror_log stderr;\nevents {}\n` +
      `http {\n  access_log off;\n  client_body_temp_path ${dir};\n  proxy_temp_path ${dir};\n` +
      `  server {\n    listen 127.0.0.1:${port};\n    location / {\n` +
      `      proxy_pass http://unix:${path.join(poold.dir, 'www.sock')};\n` +
      `      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;\n    }\n  }\n}\n`,
  );
  nginx = spawn(NGINX!, ['-p', dir, '-c', path.join(dir, 'nginx.conf'), '-g', 'daemon off;'], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  nginx.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  // Until nginx listens, connections are refused: retry, bounded.
  const response = await waitForAsync('nginx to answer', async () => {
    try {
      return await rawExchange({ port, localAddress: '127.0.0.3' }, [GET('/')]);
    } catch {
      return undefined;
    }
  }, () => stderr);
  assert.match(response, /^HTTP\/1\.1 200 /);
  assert.equal(bodyOf(response), '127.0.0.3 undefined IPv4');
});

async function waitForAsync<T>(what: string, check: () => Promise<T | undefined>, context: () => string): Promise<T> {
  const deadline = Date.now() + 15_000;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}\n${context()}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
