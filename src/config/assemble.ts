// Turns INI entries into typed values using the schema: one draft per pool
// plus the global section. Cross-field rules and defaults that depend on
// other fields are validate.ts's job.
import path from 'node:path';
import type { IniDocument, IniEntry } from './ini.js';
import {
  defaultsOf,
  ENV_DIRECTIVE,
  SUPPRESS_PATH_DIRECTIVE,
  findDirective,
  GLOBAL_DIRECTIVES,
  PREFIX_DIRECTIVE,
  setField,
  type Directive,
  type PoolScalars,
} from './schema.js';
import { describeAnswer, fpmAnswer } from './fpm-answers.js';
import { formatIssue, type ConfigIssue, type GlobalConfig, type SourceLocation } from './types.js';
import { InvalidValue, optionalPath, type ValueType } from './values.js';

export interface PoolDraft {
  name: string;
  /** Where the pool's section was first opened; issues without a key point here. */
  file: string;
  line: number;
  /** Only the directives set in the file; defaults are applied by validate.ts. */
  values: Partial<PoolScalars>;
  env: Record<string, string>;
  suppressPaths: string[];
  sources: Record<string, SourceLocation>;
  /** Directive names whose value failed to parse (already reported). */
  invalid: Set<string>;
}

export interface Draft {
  global: GlobalConfig;
  /** Global directive name → where it was set. */
  globalSources: Record<string, SourceLocation>;
  pools: PoolDraft[];
  issues: ConfigIssue[];
  warnings: string[];
}

/** An issue about a pool's directive: at the line that set it, else at the pool's section header. */
export function poolIssue(draft: PoolDraft, key: string, message: string): ConfigIssue {
  return { ...(draft.sources[key] ?? { file: draft.file, line: draft.line }), pool: draft.name, key, message };
}

/** An issue about a global directive: at the line that set it, else at the main file. */
export function globalIssue(draft: Pick<Draft, 'globalSources'>, mainFile: string, key: string, message: string): ConfigIssue {
  return { ...(draft.globalSources[key] ?? { file: mainFile }), key, message };
}

export function assemble(doc: IniDocument, env: NodeJS.ProcessEnv): Draft {
  const issues: ConfigIssue[] = [];
  const warnings: string[] = [];

  const global = { ...defaultsOf(GLOBAL_DIRECTIVES) } as GlobalConfig; // every global directive has a default
  const globalSources: Record<string, SourceLocation> = {};
  for (const entry of doc.global) {
    if (entry.subkey !== null) {
      issues.push(at(entry, 'Array are not allowed in the global section'));
      continue;
    }
    const directive = lookup(entry, 'global', issues, warnings);
    if (directive?.section === 'global' && parseInto(global, directive, entry, issues)) {
      globalSources[directive.name] = { file: entry.file, line: entry.line };
    }
  }

  const pools = doc.pools.map((pool): PoolDraft => {
    const draft: PoolDraft = {
      name: pool.name,
      file: pool.file,
      line: pool.line,
      values: {},
      env: {},
      suppressPaths: [],
      sources: {},
      invalid: new Set(),
    };
    const poolIssues: ConfigIssue[] = [];
    const prefix = prefixOf(pool.entries);
    for (const entry of pool.entries) {
      if (entry.key === SUPPRESS_PATH_DIRECTIVE && entry.subkey !== null) {
        if (entry.value === '') poolIssues.push(at(entry, `empty value for '${entry.key}[]'`));
        else draft.suppressPaths.push(entry.value);
        continue;
      }
      if (entry.subkey !== null) {
        addEnv(draft, entry, env, poolIssues, warnings);
        continue;
      }
      const directive = lookup(entry, 'pool', poolIssues, warnings, pool.name);
      if (directive?.section !== 'pool') continue;
      const dir = prefix !== null && directive.name !== PREFIX_DIRECTIVE ? prefix : path.dirname(entry.file);
      if (parseInto(draft.values, directive, entry, poolIssues, dir)) {
        draft.sources[directive.name] = { file: entry.file, line: entry.line };
      } else {
        draft.invalid.add(directive.name);
      }
    }
    issues.push(...poolIssues.map((issue) => ({ ...issue, pool: pool.name })));
    return draft;
  });

  return { global, globalSources, pools, issues, warnings };
}

/**
 * FPM's pool `prefix`: the pool's other relative paths start there, wherever in
 * the section it is set (the last one counts). A relative prefix starts at its file.
 */
function prefixOf(entries: readonly IniEntry[]): string | null {
  const entry = entries.filter((e) => e.key === PREFIX_DIRECTIVE && e.subkey === null).at(-1);
  return entry ? optionalPath.parse(entry.value, { dir: path.dirname(entry.file) }) : null;
}

/** Finds the entry's directive; reports unknown names and names used in the wrong section. */
function lookup(
  entry: IniEntry,
  section: 'global' | 'pool',
  issues: ConfigIssue[],
  warnings: string[],
  pool?: string,
): Directive | undefined {
  const directive = findDirective(entry.key, section);
  if (!directive) {
    unknown(entry, issues, warnings, pool);
  } else if (directive.section !== section) {
    issues.push(
      at(
        entry,
        directive.section === 'pool'
          ? `'${entry.key}' is a pool directive, it is not allowed in the global section`
          : `'${entry.key}' is a global directive, it is not allowed in a pool section`,
      ),
    );
    return undefined;
  }
  return directive;
}

/** Parses the entry's value into `target`; returns false (and reports) if it is invalid. */
function parseInto<C>(
  target: Partial<C>,
  directive: { name: string; field: keyof C; type: ValueType<C[keyof C]> },
  entry: IniEntry,
  issues: ConfigIssue[],
  dir = path.dirname(entry.file),
): boolean {
  try {
    setField(target, directive.field, directive.type.parse(entry.value, { dir }));
    return true;
  } catch (err) {
    if (!(err instanceof InvalidValue)) throw err;
    issues.push(at(entry, `unable to parse value for entry '${directive.name}': ${err.message}`));
    return false;
  }
}

/** `env[NAME] = value`; a value starting with '$' is copied from the master's environment, as in php-fpm. */
function addEnv(
  draft: PoolDraft,
  entry: IniEntry,
  env: NodeJS.ProcessEnv,
  issues: ConfigIssue[],
  warnings: string[],
): void {
  const field = `${entry.key}[${entry.subkey}]`;
  if (entry.key !== ENV_DIRECTIVE) {
    unknown(entry, issues, warnings, draft.name);
  } else if (entry.subkey === '') {
    issues.push(at(entry, `You must provide a key for field '${entry.key}'`));
  } else if (entry.value === '') {
    issues.push(at(entry, `empty value for '${field}'`));
  } else {
    let value = entry.value;
    if (value.startsWith('$')) {
      const name = value.slice(1);
      value = env[name] ?? '';
      if (env[name] === undefined) {
        warnings.push(
          formatIssue({
            ...at(entry, `${field}: environment variable '${name}' is not set, using an empty value`),
            pool: draft.name,
          }),
        );
      }
    }
    draft.env[entry.subkey!] = value;
    draft.sources[field] = { file: entry.file, line: entry.line };
  }
}

/** A directive poold does not implement: FPM's own are answered, anything else is unknown. */
function unknown(entry: IniEntry, issues: ConfigIssue[], warnings: string[], pool?: string): void {
  const answer = fpmAnswer(entry.key, entry.subkey);
  if (!answer) {
    issues.push(at(entry, `unknown entry '${entry.key}'`));
  } else if (answer.kind === 'refused') {
    issues.push(at(entry, describeAnswer(entry.key, entry.subkey, answer)));
  } else {
    warnings.push(formatIssue({ ...at(entry, describeAnswer(entry.key, entry.subkey, answer)), pool }));
  }
}

function at(entry: IniEntry, message: string): ConfigIssue {
  return { file: entry.file, line: entry.line, key: entry.key, message };
}
