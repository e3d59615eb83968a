import type { ScoreboardSnapshot } from '../scoreboard/file.js';
import { runControlCommand } from './control-command.js';
import { EXIT } from '../control/exit-codes.js';
import type { TargetOptions } from './target.js';
import { watchCommand } from './watch.js';
import { requestDurationMs, type SortOrder } from './watch-view.js';

export interface StatusOptions extends TargetOptions {
  pool?: string;
  json?: boolean;
  full?: boolean;
  watch?: boolean;
  sort: SortOrder;
  /** Seconds between two readings while watching. */
  interval: number;
}

const CONTROL_TIMEOUT_MS = 5000;

function megabytes(bytes: number): string {
  return `${(bytes / 1024 / 1024).toFixed(1)}M`;
}

function renderTable(snapshots: ScoreboardSnapshot[], full: boolean, now: number): string {
  const lines: string[] = [];
  for (const { header, slots } of snapshots) {
    lines.push(
      `pool ${header.pool} (${header.pm}): processes idle ${header.idle}, active ${header.active}, total ${header.total}` +
        ` of max ${header.maxChildren}; queue ${header.listenQueue} (max ${header.maxListenQueue}); ` +
        `accepted ${header.acceptedConn}; max children reached ${header.maxChildrenReached}; slow ${header.slowRequests}`,
    );
    const processes = slots.filter((slot) => slot.state !== 'Free');
    if (!full && processes.length === 0) continue;
    lines.push(
      `  ${'PID'.padEnd(8)}${'STATE'.padEnd(17)}${'REQS'.padStart(7)}${'DURATION'.padStart(11)}  ${'RSS'.padStart(8)}  REQUEST`,
    );
    for (const slot of processes) {
      const request = slot.requests > 0 ? `${slot.method} ${slot.uri}` : '-';
      lines.push(
        `  ${String(slot.pid).padEnd(8)}${slot.state.padEnd(17)}${String(slot.requests).padStart(7)}` +
          `${`${(requestDurationMs(slot, now) / 1000).toFixed(3)}s`.padStart(11)}  ${megabytes(slot.lastRequestMemory).padStart(8)}  ${request}`,
      );
    }
    lines.push('');
  }
  return lines.join('\n');
}

function asJson(snapshots: ScoreboardSnapshot[], now: number): string {
  return JSON.stringify(
    snapshots.map(({ header, slots }) => ({
      ...header,
      processes: slots
        .filter((slot) => slot.state !== 'Free')
        .map((slot) => ({ ...slot, currentDurationMs: requestDurationMs(slot, now) })),
    })),
    null,
    2,
  );
}

/** The pools' scoreboards as the master reads them, or the exit code when it cannot be asked. */
async function askForStatus(options: StatusOptions): Promise<ScoreboardSnapshot[] | number> {
  const { code, response } = await runControlCommand(options, { cmd: 'status' }, CONTROL_TIMEOUT_MS);
  return response ? (response.data as ScoreboardSnapshot[]) : code;
}

/**
 * Asks the master over the control socket, which only its user can use, so
 * the answer shows every request URI whole. The master reads the
 * scoreboards itself: it answers while every worker is stuck.
 */
export async function statusCommand(options: StatusOptions): Promise<number> {
  if (options.watch) {
    if (options.json) {
      process.stderr.write('ERROR: --watch draws a view for people; for scripts, run --json at your own interval\n');
      return EXIT.USAGE;
    }
    return watchCommand({ ...options, intervalMs: options.interval * 1000 });
  }
  const answer = await askForStatus(options);
  if (typeof answer === 'number') return answer;
  const snapshots = answer.filter((snapshot) => !options.pool || snapshot.header.pool === options.pool);
  if (options.pool && snapshots.length === 0) {
    process.stderr.write(`ERROR: no pool named '${options.pool}'\n`);
    return EXIT.USAGE;
  }
  const now = Date.now();
  process.stdout.write(`${options.json ? asJson(snapshots, now) : renderTable(snapshots, options.full ?? false, now)}\n`);
  return EXIT.OK;
}
