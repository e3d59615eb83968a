// The comparison's command line (bench/run.ts).
import path from 'node:path';
import { parseArgs } from 'node:util';
import { SCENARIO_NAMES, type ScenarioName } from './scenarios.js';

export const USAGE =
  'usage: node dist/bench/run.js [--only SCENARIO,...] [--rounds N] [--duration S] [--warmup S]\n' +
  '                              [--workers N] [--connections N] [--block-ms MS] [--diagnose]\n' +
  '                              [--poold OTHER/dist/bin/poold.js] [--pool-extra "pm.foo = bar" ...]\n' +
  '                              [--no-cgroup]\n' +
  `  scenarios: ${SCENARIO_NAMES.join(', ')} (default: all)\n` +
  '  --rounds N        rounds per scenario, the systems\' order rotating each round (3)\n' +
  '  --duration S      measured window of each run (10); --warmup S before it (10)\n' +
  '  --workers N       workers in poold and in cluster (8)\n' +
  '  --connections N   connections of the hello scenarios, newconn and keepalive (32)\n' +
  '  --block-ms MS     time the blocking route blocks its worker (200)\n' +
  '  --diagnose        then profile the master/primary once per scenario and system\n' +
  '  --poold FILE      measure another build of poold\n' +
  '  --pool-extra LINE append a directive to poold\'s pool section (repeatable)\n' +
  '  --no-cgroup       do not put the servers and the load generator in cpu cgroups\n';

export interface Options {
  only: ScenarioName[];
  rounds: number;
  durationMs: number;
  warmupMs: number;
  workers: number;
  connections: number;
  blockMs: number;
  diagnose: boolean;
  /** Another build's dist/bin/poold.js; the one in this tree when undefined. */
  pooldBin: string | undefined;
  poolExtra: string[];
  cgroup: boolean;
}

/** A command line that cannot be run; its message says why. */
export class UsageError extends Error {}

const isScenario = (name: string): name is ScenarioName => (SCENARIO_NAMES as readonly string[]).includes(name);

function number(name: string, value: string, { integer = false, zero = false } = {}): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n) || n < 0 || (n === 0 && !zero) || (integer && !Number.isInteger(n))) {
    throw new UsageError(`--${name} must be a ${integer ? 'whole number' : 'number'} ${zero ? '>= 0' : '> 0'}, not '${value}'`);
  }
  return n;
}

/** The options of `argv` (without node and the script), or 'help'. Throws UsageError. */
export function parseOptions(argv: string[]): Options | 'help' {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        only: { type: 'string' },
        rounds: { type: 'string', default: '3' },
        duration: { type: 'string', default: '10' },
        warmup: { type: 'string', default: '10' },
        workers: { type: 'string', default: '8' },
        connections: { type: 'string', default: '32' },
        'block-ms': { type: 'string', default: '200' },
        diagnose: { type: 'boolean', default: false },
        poold: { type: 'string' },
        'pool-extra': { type: 'string', multiple: true, default: [] },
        'no-cgroup': { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
    }));
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  if (values.help) return 'help';
  const only = values.only === undefined ? [...SCENARIO_NAMES] : [...new Set(values.only.split(',').map((s) => s.trim()))];
  for (const name of only) {
    if (!isScenario(name)) throw new UsageError(`unknown scenario '${name}' (known: ${SCENARIO_NAMES.join(', ')})`);
  }
  return {
    only: only as ScenarioName[],
    rounds: number('rounds', values.rounds, { integer: true }),
    durationMs: number('duration', values.duration) * 1000,
    warmupMs: number('warmup', values.warmup, { zero: true }) * 1000,
    workers: number('workers', values.workers, { integer: true }),
    connections: number('connections', values.connections, { integer: true }),
    blockMs: number('block-ms', values['block-ms'], { integer: true }),
    diagnose: values.diagnose,
    pooldBin: values.poold === undefined ? undefined : path.resolve(values.poold),
    poolExtra: values['pool-extra'],
    cgroup: !values['no-cgroup'],
  };
}
