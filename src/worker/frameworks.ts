// The natural default exports of Node web frameworks, turned into what poold
// runs: a request listener and, where the framework has them, its start and
// stop steps. An app then needs no wrapper: `export default app` works for
// Express (a listener already), Koa, Fastify, Hono (or anything with a
// fetch(request) method), and an http.Server.
import type { IncomingMessage, RequestListener, Server, ServerResponse } from 'node:http';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { nodeHttp } from './node-http.js';

/** What serves an app's requests, and its start and stop steps (app-loader.ts's LoadedApp adds the rest). */
export interface FrameworkApp {
  handler: RequestListener;
  /** `server`: the worker's http.Server, for the app's WebSocket server to attach to. It never listens. */
  init?: (context: { server: Server }) => unknown;
  shutdown?: () => unknown;
}

type Fetch = (request: Request, env?: unknown) => Response | Promise<Response>;

interface KoaLike {
  callback(): RequestListener;
  use: unknown;
  context: unknown;
}

interface FastifyLike {
  routing(req: IncomingMessage, res: ServerResponse): void;
  ready(): Promise<unknown>;
  close(): Promise<unknown>;
}

function isKoa(value: object): value is KoaLike {
  const app = value as Partial<KoaLike>;
  return typeof app.callback === 'function' && typeof app.use === 'function' && typeof app.context === 'object';
}

function isFastify(value: object): value is FastifyLike {
  const app = value as Partial<FastifyLike>;
  return typeof app.routing === 'function' && typeof app.ready === 'function' && typeof app.close === 'function';
}

/** The export as a framework app poold can run, or null when it is none of those it knows. */
export function adaptFramework(exported: object): FrameworkApp | null {
  if (isKoa(exported)) return { handler: exported.callback() };
  if (isFastify(exported)) {
    return {
      // Fastify's own server never listens: its router serves the requests of the worker's.
      handler: (req, res) => exported.routing(req, res),
      init: () => exported.ready(),
      shutdown: () => exported.close(),
    };
  }
  if (exported instanceof nodeHttp.Server) {
    return {
      handler: (req, res) => exported.emit('request', req, res),
      // A WebSocket server attached to it (ws, socket.io) listens there: the worker's upgrades go to it.
      init: ({ server }) => {
        if (exported.listenerCount('upgrade') > 0) {
          server.on('upgrade', (req, socket, head) => exported.emit('upgrade', req, socket, head));
        }
      },
    };
  }
  const { fetch } = exported as { fetch?: unknown };
  if (typeof fetch === 'function') return { handler: fetchListener((fetch as Fetch).bind(exported)) };
  return null;
}

/**
 * A Fetch API handler (Hono's app.fetch, or any `{ fetch(request) }`) as a
 * request listener: the request and the response bodies stream both ways.
 * The second argument is what @hono/node-server passes as `env`, so Hono
 * helpers that look for the Node objects there find them.
 */
export function fetchListener(fetch: Fetch): RequestListener {
  return (req, res) => respond(fetch, req, res);
}

async function respond(fetch: Fetch, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const headers = new Headers();
  for (let i = 0; i < req.rawHeaders.length; i += 2) headers.append(req.rawHeaders[i]!, req.rawHeaders[i + 1]!);
  const aborted = new AbortController();
  res.once('close', () => {
    if (!res.writableFinished) aborted.abort();
  });
  const hasBody = req.method !== 'GET' && req.method !== 'HEAD';
  const request = new Request(new URL(req.url ?? '/', `http://${req.headers.host ?? 'localhost'}`), {
    method: req.method,
    headers,
    body: hasBody ? (Readable.toWeb(req) as ReadableStream<Uint8Array>) : undefined,
    signal: aborted.signal,
    // Node's fetch types lack `duplex`, which a streamed body requires.
    ...({ duplex: 'half' } as object),
  });
  const response = await fetch(request, { incoming: req, outgoing: res });
  const outgoing: Record<string, string | string[]> = {};
  response.headers.forEach((value, name) => {
    if (name !== 'set-cookie') outgoing[name] = value;
  });
  const cookies = response.headers.getSetCookie();
  if (cookies.length > 0) outgoing['set-cookie'] = cookies;
  res.writeHead(response.status, response.statusText, outgoing);
  if (!response.body || req.method === 'HEAD') {
    res.end();
    return;
  }
  await pipeline(Readable.fromWeb(response.body as import('node:stream/web').ReadableStream), res);
}
