import { strftime } from './strftime.js';

const FPM_TIMESTAMP = strftime('%d-%b-%Y %H:%M:%S');

/** FPM's log timestamp: `22-Nov-2026 01:02:03`, local time. */
export function fpmTimestamp(date = new Date()): string {
  return FPM_TIMESTAMP(date);
}
