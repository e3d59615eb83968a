import type { PmMode } from '../config/types.js';
import { dynamicPm } from './dynamic.js';
import { ondemandPm } from './ondemand.js';
import { staticPm } from './static.js';
import type { ProcessManager } from './types.js';

export const PROCESS_MANAGERS: Record<PmMode, ProcessManager> = {
  static: staticPm,
  dynamic: dynamicPm,
  ondemand: ondemandPm,
};
