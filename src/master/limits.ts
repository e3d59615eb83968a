import { readFileSync } from 'node:fs';
import type { GlobalConfig, PoolConfig } from '../config/types.js';
import { coreLimit } from '../config/values.js';
import { nativeBinding, type LimitedResource } from '../native/binding.js';

/** FPM's names for the master's limits, as its messages say them. */
const WHAT: Record<LimitedResource, string> = { files: 'max open files', core: 'max core size' };

/**
 * [global] rlimit_files and rlimit_core: the master's own limits, soft and
 * hard, as FPM sets them (its workers inherit them unless their pool sets
 * its own). 0 leaves a limit as poold was started with it. Throws with
 * FPM's message when the system refuses (raising a hard limit needs
 * CAP_SYS_RESOURCE).
 */
export function applyMasterLimits(global: Pick<GlobalConfig, 'rlimitFiles' | 'rlimitCore'>): void {
  const wanted: [LimitedResource, number][] = [
    ['files', global.rlimitFiles],
    ['core', global.rlimitCore],
  ];
  for (const [resource, limit] of wanted) {
    if (limit === 0) continue;
    try {
      nativeBinding().setrlimit(resource, limit, limit);
    } catch (err) {
      throw new Error(`failed to set ${WHAT[resource]} limit to ${coreLimit.format(limit)}: ${(err as Error).message}`);
    }
  }
}

/** Bit of CAP_SYS_RESOURCE (linux/capability.h): raising a hard limit needs it. */
const CAP_SYS_RESOURCE = 24n;

function canRaiseHardLimits(): boolean {
  const match = /^CapEff:\s*([0-9a-f]+)$/m.exec(readFileSync('/proc/self/status', 'utf8'));
  return match !== null && ((BigInt(`0x${match[1]}`) >> CAP_SYS_RESOURCE) & 1n) === 1n;
}

/**
 * Why pools' rlimit_files / rlimit_core cannot be given to their workers:
 * above the master's hard limit, which only CAP_SYS_RESOURCE may exceed.
 * Checked before any worker starts, so that the start (or reload) fails
 * with this rather than with workers that exit before becoming ready.
 */
export function workerLimitProblems(pools: readonly Pick<PoolConfig, 'name' | 'rlimitFiles' | 'rlimitCore'>[]): string[] {
  const problems: string[] = [];
  const canRaise = canRaiseHardLimits();
  for (const pool of pools) {
    const wanted: [LimitedResource, number, string][] = [
      ['files', pool.rlimitFiles, 'rlimit_files'],
      ['core', pool.rlimitCore, 'rlimit_core'],
    ];
    for (const [resource, limit, directive] of wanted) {
      const { hard } = nativeBinding().getrlimit(resource);
      if (limit === 0 || limit <= hard || canRaise) continue;
      problems.push(
        `[pool ${pool.name}] ${directive} = ${coreLimit.format(limit)} is above the master's hard limit ` +
          `(${coreLimit.format(hard)}), which only root (CAP_SYS_RESOURCE) may raise`,
      );
    }
  }
  return problems;
}
