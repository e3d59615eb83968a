// node:http through require, not `import`. On Node >= 22 an ESM import of a
// builtin builds a facade that reads every export, and node:http's lazy
// WebSocket getter among them loads undici (about 40 ms of CPU, nodejs/node#57649):
// every worker would pay it before its app loads, and ondemand's first request with it.
import { createRequire } from 'node:module';
import type * as Http from 'node:http';

export const nodeHttp = createRequire(import.meta.url)('node:http') as typeof Http;
