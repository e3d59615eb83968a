// Prints the effective configuration in php-fpm.conf syntax (what `php-fpm -tt`
// shows), with every directive and its default; loading the output again
// gives the same configuration.
import { ENV_DIRECTIVE, GLOBAL_DIRECTIVES, POOL_DIRECTIVES, SUPPRESS_PATH_DIRECTIVE } from './schema.js';
import type { PooldConfig } from './types.js';
import type { ValueType } from './values.js';

export function dumpConfig(config: PooldConfig): string {
  const lines = [`; effective configuration of ${config.file}`, '[global]'];
  for (const d of GLOBAL_DIRECTIVES) {
    lines.push(line(d.name, formatField(d, config.global)));
  }
  for (const pool of config.pools) {
    lines.push('', `[${pool.name}]`);
    for (const d of POOL_DIRECTIVES) {
      lines.push(line(d.name, formatField(d, pool)));
    }
    for (const suppressed of pool.accessSuppressPath) {
      lines.push(line(`${SUPPRESS_PATH_DIRECTIVE}[]`, suppressed));
    }
    for (const [name, value] of Object.entries(pool.env)) {
      lines.push(line(`${ENV_DIRECTIVE}[${name}]`, value));
    }
  }
  return `${lines.join('\n')}\n`;
}

function formatField<C, K extends keyof C>(directive: { field: K; type: ValueType<C[K]> }, config: C): string {
  return directive.type.format(config[directive.field]);
}

function line(key: string, value: string): string {
  return value === '' ? `${key} =` : `${key} = ${quote(value)}`;
}

/**
 * Leaves plain values bare. Otherwise single-quotes them, as single quotes
 * keep `;`, `"`, `${...}` and edge spaces literal; a `'` itself is written as
 * `"'"` between two quoted runs, which the reader concatenates.
 */
function quote(value: string): string {
  if (!/[;"']|\$\{|^\s|\s$/.test(value)) return value;
  return `'${value.replaceAll("'", `'"'"'`)}'`;
}
