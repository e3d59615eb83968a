import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import type { IncomingMessage, RequestListener } from 'node:http';
import type { Duplex } from 'node:stream';
import { adaptFramework, type FrameworkApp } from './frameworks.js';

/** What a pool's app module provides, normalised from the shapes the contract allows. */
export interface LoadedApp extends FrameworkApp {
  /** The module's default export as it is (it may also carry `metrics`). */
  exports: unknown;
  /** An Upgrade request (a WebSocket handshake): the connection is the app's from then on. */
  upgrade?: (req: IncomingMessage, socket: Duplex, head: Buffer) => unknown;
}

/** What poold needs of a prom-client Registry. */
export interface MetricsSource {
  getMetricsAsJSON(): Promise<unknown[]>;
}

function isMetricsSource(value: unknown): value is MetricsSource {
  return typeof (value as MetricsSource | undefined)?.getMetricsAsJSON === 'function';
}

/**
 * The app's prom-client registry: the module's `metrics` export when it has
 * one, else prom-client's global registry — but only if the app itself loaded
 * prom-client (resolved from the app's own directory), never loading it for it.
 */
export function findAppMetrics(modulePath: string, moduleExports: unknown): MetricsSource | null {
  const exported = (moduleExports as { metrics?: unknown } | undefined)?.metrics;
  if (isMetricsSource(exported)) return exported;
  const require = createRequire(modulePath);
  let resolved: string;
  try {
    resolved = require.resolve('prom-client');
  } catch {
    return null;
  }
  const loaded = require.cache[resolved]?.exports as { register?: unknown } | undefined;
  return isMetricsSource(loaded?.register) ? loaded.register : null;
}

/**
 * The module's default export (or CommonJS module.exports) is a request
 * listener (an Express or Connect app is one), `{ handler, init?, shutdown?, upgrade? }`,
 * or a framework's app as it is (frameworks.ts: Koa, Fastify, Hono or any
 * `{ fetch }`, an http.Server).
 */
export async function loadApp(modulePath: string): Promise<LoadedApp> {
  const mod: { default?: unknown } = await import(pathToFileURL(modulePath).href);
  const exported = mod.default;
  if (typeof exported === 'function') return { exports: exported, handler: exported as RequestListener };
  if (exported && typeof exported === 'object') {
    const { handler, init, shutdown, upgrade } = exported as Record<string, unknown>;
    if (handler === undefined) {
      const app = adaptFramework(exported);
      if (app) return { exports: exported, ...app };
    }
    if (typeof handler !== 'function') {
      throw new TypeError(`${modulePath}: the default export has no 'handler' function. ${EXPORT_SHAPES}`);
    }
    for (const [name, hook] of [['init', init], ['shutdown', shutdown], ['upgrade', upgrade]] as const) {
      if (hook !== undefined && typeof hook !== 'function') {
        throw new TypeError(`${modulePath}: '${name}' must be a function`);
      }
    }
    return {
      exports: exported,
      handler: handler as RequestListener,
      init: init as LoadedApp['init'],
      shutdown: shutdown as LoadedApp['shutdown'],
      upgrade: upgrade as LoadedApp['upgrade'],
    };
  }
  throw new TypeError(`${modulePath}: the default export is ${describe(exported)}. ${EXPORT_SHAPES}`);
}

const EXPORT_SHAPES =
  'Export a request listener (`export default app` for Express), `{ handler, init?, shutdown? }`, ' +
  'a Koa, Fastify or Hono app (`export default app`), an object with fetch(request), or an http.Server ' +
  '(docs/apps.md)';

function describe(value: unknown): string {
  if (value === undefined) return 'missing (does the module `export default` anything?)';
  if (value === null) return 'null';
  return `a ${typeof value}`;
}
