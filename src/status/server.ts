import http from 'node:http';
import type { GlobalConfig } from '../config/types.js';
import { clientFilter } from '../net/client-list.js';
import type { Pool } from '../pool/pool.js';
import { parseStatusQuery } from './query.js';
import { hideQueries } from './redact.js';
import { CONTENT_TYPES, STATUS_HEADERS, renderAllPools, renderPoolStatus, type PoolStatusInput } from './render.js';
import type { PooldMetrics } from './metrics.js';

const OPENMETRICS = 'application/openmetrics-text';

/**
 * The status listener, served by the master itself: FPM's status pages and
 * ping for every pool, all pools at `/`, and Prometheus `/metrics`. Busy or
 * stuck workers never delay it (FPM's status page is served by a worker).
 */
export class StatusServer {
  private readonly server: http.Server;
  /** status.allowed_clients as a filter, rebuilt when a reload changes the list. */
  private clients: { entries: readonly string[]; allowed: (address: string | undefined) => boolean } | null = null;

  constructor(
    /** The current [global] settings: a reload may change them. */
    private readonly settings: () => Pick<GlobalConfig, 'statusAllowedClients' | 'statusShowQuery'>,
    private readonly pools: () => readonly Pool[],
    private readonly metrics: PooldMetrics,
    private readonly onError: (message: string) => void,
  ) {
    this.server = http.createServer((req, res) => {
      this.handle(req, res).catch((err: unknown) => {
        this.onError(`status listener: ${(err as Error).stack ?? String(err)}`);
        if (!res.headersSent) this.reply(res, 500, 'text/plain', '500 Internal Server Error\n');
        else res.destroy();
      });
    });
    // Status clients are monitors: a slow one must not hold a connection open.
    this.server.headersTimeout = 10_000;
    this.server.requestTimeout = 30_000;
  }

  get httpServer(): http.Server {
    return this.server;
  }

  close(): void {
    this.server.close();
    this.server.closeAllConnections();
  }

  private allowed(req: http.IncomingMessage): boolean {
    const entries = this.settings().statusAllowedClients;
    if (this.clients?.entries !== entries) this.clients = { entries, allowed: clientFilter(entries) };
    return this.clients.allowed(req.socket.remoteAddress);
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    if (!this.allowed(req)) return this.reply(res, 403, 'text/plain', '403 Forbidden\n');
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.setHeader('Allow', 'GET, HEAD');
      return this.reply(res, 405, 'text/plain', '405 Method Not Allowed\n');
    }
    const url = new URL(req.url ?? '/', 'http://status');
    if (url.pathname === '/metrics') {
      const wantsOpenMetrics = (req.headers.accept ?? '').includes(OPENMETRICS);
      const { contentType, body } = await this.metrics.render(wantsOpenMetrics);
      return this.reply(res, 200, contentType, body);
    }
    const query = parseStatusQuery(url.search);
    const pools = this.pools();
    if (url.pathname === '/') {
      const { contentType, body } = renderAllPools(pools.map((pool) => this.input(pool)), query.format, query.full);
      return this.reply(res, 200, contentType, body, STATUS_HEADERS);
    }
    for (const pool of pools) {
      if (pool.config.pingPath === url.pathname) {
        return this.reply(res, 200, CONTENT_TYPES.text, pool.config.pingResponse, STATUS_HEADERS);
      }
      if (pool.config.statusPath === url.pathname) {
        const { contentType, body } = renderPoolStatus(this.input(pool), query.format, query.full);
        return this.reply(res, 200, contentType, body, STATUS_HEADERS);
      }
    }
    this.reply(res, 404, 'text/plain', '404 Not Found\n');
  }

  private input(pool: Pool): PoolStatusInput {
    const snapshot = pool.snapshot();
    if (!snapshot) throw new Error(`the scoreboard of pool ${pool.name} could not be read`);
    // Whoever may connect sees these pages: on loopback TCP, every local user.
    const slots = this.settings().statusShowQuery ? snapshot.slots : hideQueries(snapshot.slots);
    return { header: snapshot.header, slots, now: Date.now(), scriptName: pool.config.app };
  }

  private reply(
    res: http.ServerResponse,
    status: number,
    contentType: string,
    body: string,
    headers: Readonly<Record<string, string>> = {},
  ): void {
    res.writeHead(status, { ...headers, 'Content-Type': contentType, 'Content-Length': Buffer.byteLength(body) });
    res.end(res.req.method === 'HEAD' ? undefined : body);
  }
}
