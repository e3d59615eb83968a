import { setTimeout as sleep } from 'node:timers/promises';
import type { Slot } from '../scoreboard/layout.js';
import type { ScoreboardSnapshot } from '../scoreboard/file.js';
import { runControlCommand } from './control-command.js';
import { EXIT } from '../control/exit-codes.js';
import type { TargetOptions } from './target.js';

export interface StatusOptions extends TargetOptions {
  pool?: string;
  json?: boolean;
  full?: boolean;
  watch?: boolean;
}

const CONTROL_TIMEOUT_MS = 5000;
const WATCH_INTERVAL_MS = 1000;

function megabytes(bytes: number): string {
  return `${(bytes / 1024 / 1024).toFixed(1)}M`;
}

function duration(slot: Slot, now: number): number {
  // A busy worker's slot holds when its request began: the duration grows while it is stuck.
  return slot.state === 'Running' || slot.state === 'Reading headers' ? now - slot.requestStart : slot.requestDuration / 1000;
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
          `${`${(duration(slot, now) / 1000).toFixed(3)}s`.padStart(11)}  ${megabytes(slot.lastRequestMemory).padStart(8)}  ${request}`,
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
        .map((slot) => ({ ...slot, currentDurationMs: duration(slot, now) })),
    })),
    null,
    2,
  );
}

/** The pools' scoreboards as the master reads them, or the exit code when it cannot be asked. */
async function askMaster(options: StatusOptions): Promise<ScoreboardSnapshot[] | number> {
  const { code, response } = await runControlCommand(options, { cmd: 'status' }, CONTROL_TIMEOUT_MS);
  return response ? (response.data as ScoreboardSnapshot[]) : code;
}

/**
 * Asks the master over the control socket, which only its user can use, so
 * the answer shows every request URI whole. The master reads the
 * scoreboards itself: it answers while every worker is stuck.
 */
export async function statusCommand(options: StatusOptions): Promise<number> {
  const render = async (): Promise<string | number> => {
    const answer = await askMaster(options);
    if (typeof answer === 'number') return answer;
    const snapshots = answer.filter((snapshot) => !options.pool || snapshot.header.pool === options.pool);
    if (options.pool && snapshots.length === 0) {
      process.stderr.write(`ERROR: no pool named '${options.pool}'\n`);
      return EXIT.USAGE;
    }
    const now = Date.now();
    return options.json ? asJson(snapshots, now) : renderTable(snapshots, options.full ?? false, now);
  };
  if (!options.watch) {
    const shown = await render();
    if (typeof shown === 'number') return shown;
    process.stdout.write(`${shown}\n`);
    return EXIT.OK;
  }
  let watching = true;
  process.once('SIGINT', () => (watching = false));
  while (watching) {
    // Asked again each time: a reload may have replaced the scoreboards.
    const shown = await render();
    if (typeof shown === 'number') return shown;
    process.stdout.write(`\x1b[H\x1b[2J${new Date().toISOString()}  (Ctrl-C to quit)\n\n${shown}\n`);
    await sleep(WATCH_INTERVAL_MS);
  }
  return EXIT.OK;
}
