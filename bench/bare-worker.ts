// The bare worker of bench/worker-cost.ts: the app behind a plain http server
// that is handed its sockets over IPC, as poold's workers are, with the same
// http options and slow-client checks, but none of poold's bookkeeping.
// Started with the app's path in POOLD_BENCH_APP.
import http from 'node:http';
import type { Socket } from 'node:net';
import { pathToFileURL } from 'node:url';

const mod = (await import(pathToFileURL(process.env.POOLD_BENCH_APP!).href)) as { default: unknown };
const exported = mod.default as http.RequestListener | { handler: http.RequestListener };
// poold's defaults for a pool: 60 s headers, 300 s request, 5 s keep-alive, checked every second.
const server = http.createServer({ connectionsCheckingInterval: 1000 }, typeof exported === 'function' ? exported : exported.handler);
// Arms Node's timeout checks, as poold's worker does (neither server listens).
server.emit('listening');
process.on('message', (_message: unknown, socket?: Socket) => socket && server.emit('connection', socket));
process.send!({ t: 'ready' });
