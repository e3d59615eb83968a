import type { PmMode } from '../config/types.js';
import { staticPm } from './static.js';
import type { ProcessManager } from './types.js';

export function processManagerFor(mode: PmMode): ProcessManager {
  switch (mode) {
    case 'static':
      return staticPm;
    case 'dynamic':
    case 'ondemand':
      throw new Error(`pm = ${mode} is not implemented yet`);
  }
}
