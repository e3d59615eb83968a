// The config layer's entry point: read, type, validate, and report every
// problem at once.
import path from 'node:path';
import { assemble } from './assemble.js';
import { readIni } from './ini.js';
import { ConfigError, type PooldConfig } from './types.js';
import { pathCollisions, processMaxIssues, validatePools } from './validate.js';
import { runtimeIssues } from './validate-runtime.js';

export interface LoadedConfig {
  config: PooldConfig;
  /** Problems that don't stop poold (php-fpm logs them as WARNING). */
  warnings: string[];
}

/**
 * Loads `file` (relative paths resolve against the process's cwd) and
 * everything it includes. `env` feeds `${NAME}` and `env[X] = $NAME`.
 * Throws ConfigError listing every issue found (and the warnings, which print either way).
 */
export function loadConfig(file: string, env: NodeJS.ProcessEnv = process.env): LoadedConfig {
  const mainFile = path.resolve(file);
  const doc = readIni(mainFile, env);
  const draft = assemble(doc, env);
  const { pools, issues } = validatePools(draft.pools, mainFile);
  const all = [
    ...doc.issues,
    ...draft.issues,
    ...issues,
    ...pathCollisions(draft.global, draft.globalSources, draft.pools, mainFile),
    ...processMaxIssues(draft.global, pools),
    ...runtimeIssues(draft.global, draft.globalSources, draft.pools, mainFile),
  ];
  const warnings = [...doc.warnings, ...draft.warnings];
  if (all.length > 0) throw new ConfigError(all, warnings);
  return { config: { file: mainFile, global: draft.global, pools }, warnings };
}
