import { ConfigError, formatIssue, type PooldConfig } from '../config/types.js';
import { loadConfig } from '../config/index.js';

/** The config path of a packaged install. */
export const DEFAULT_CONFIG = '/etc/poold/poold.conf';

/** Loads the config, or prints every problem FPM-style and returns null. */
export function loadConfigOrReport(file: string): { config: PooldConfig; warnings: string[] } | null {
  try {
    return loadConfig(file);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    for (const issue of err.issues) process.stderr.write(`ERROR: ${formatIssue(issue)}\n`);
    return null;
  }
}
