import { pathToFileURL } from 'node:url';
import type { RequestListener } from 'node:http';

/** What a pool's app module provides, normalised from the shapes the contract allows. */
export interface LoadedApp {
  handler: RequestListener;
  init?: () => unknown;
  shutdown?: () => unknown;
}

/**
 * The module's default export (or CommonJS module.exports) is either a request
 * listener — an Express or Connect app is one — or `{ handler, init?, shutdown? }`.
 */
export async function loadApp(modulePath: string): Promise<LoadedApp> {
  const mod: { default?: unknown } = await import(pathToFileURL(modulePath).href);
  const exported = mod.default;
  if (typeof exported === 'function') return { handler: exported as RequestListener };
  if (exported && typeof exported === 'object') {
    const { handler, init, shutdown } = exported as Record<string, unknown>;
    if (typeof handler !== 'function') {
      throw new TypeError(`${modulePath}: the default export has no 'handler' function`);
    }
    for (const [name, hook] of [['init', init], ['shutdown', shutdown]] as const) {
      if (hook !== undefined && typeof hook !== 'function') {
        throw new TypeError(`${modulePath}: '${name}' must be a function`);
      }
    }
    return {
      handler: handler as RequestListener,
      init: init as LoadedApp['init'],
      shutdown: shutdown as LoadedApp['shutdown'],
    };
  }
  throw new TypeError(
    `${modulePath}: the default export must be a request listener (req, res) or { handler, init?, shutdown? }`,
  );
}
