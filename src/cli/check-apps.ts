import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import type { PoolConfig } from '../config/types.js';
import { workerEnvironment } from '../pool/spawn-worker.js';

const CHECK_APP = fileURLToPath(new URL('../worker/check-app.js', import.meta.url));

/** How long an app may take to load before the check gives up on it (its module's top level may connect somewhere). */
const LOAD_TIMEOUT_MS = 10_000;

export interface AppCheck {
  errors: string[];
  warnings: string[];
}

/** Loads one pool's app as its workers would, in a child process: null when its export is usable, else why not. */
async function checkApp(pool: PoolConfig): Promise<{ error?: string; warning?: string }> {
  const result = await execa(process.execPath, [CHECK_APP, pool.app], {
    env: workerEnvironment(pool.env, pool.clearEnv, null),
    extendEnv: false,
    timeout: LOAD_TIMEOUT_MS,
    killSignal: 'SIGKILL',
    reject: false,
    stdin: 'ignore',
  });
  if (!result.failed) return {};
  const prefix = `[pool ${pool.name}] the app ${pool.app}`;
  if (result.timedOut) return { warning: `${prefix} did not load within ${LOAD_TIMEOUT_MS / 1000}s; not checked` };
  const reason = String(result.stderr).trim().split('\n')[0] || result.shortMessage;
  return { error: `${prefix} cannot be loaded: ${reason}` };
}

/**
 * `poold test`'s check of every pool's app: each one is loaded in a child
 * process (its top level runs; its init() does not) and its default export
 * checked, all at once.
 */
export async function checkApps(pools: readonly PoolConfig[]): Promise<AppCheck> {
  const results = await Promise.all(pools.map(checkApp));
  return {
    errors: results.flatMap((result) => (result.error ? [result.error] : [])),
    warnings: results.flatMap((result) => (result.warning ? [result.warning] : [])),
  };
}
