import type { GlobalConfig } from '../config/types.js';
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
