import { ConfigError, formatIssue, type PooldConfig } from '../config/types.js';
import { loadConfig } from '../config/index.js';

/** The config path of a packaged install. */
export const DEFAULT_CONFIG = '/etc/poold/poold.conf';

/** Loads the config, or prints every problem FPM-style (warnings first) and returns null. */
export function loadConfigOrReport(file: string): { config: PooldConfig; warnings: string[] } | null {
  try {
    return loadConfig(file);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    printWarnings(err.warnings);
    for (const issue of err.issues) process.stderr.write(`ERROR: ${formatIssue(issue)}\n`);
    return null;
  }
}

export function printWarnings(warnings: readonly string[]): void {
  for (const warning of warnings) process.stderr.write(`WARNING: ${warning}\n`);
}
