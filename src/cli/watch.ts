// `poold status --watch`: asks the master every interval and redraws the
// view, on the terminal's alternate screen when it is one. The master going
// away is part of the view, not an error: the watch waits for it and
// reconnects, and only the operator ends it.
import { setTimeout as sleep } from 'node:timers/promises';
import type { PoolReading } from '../master/status-answer.js';
import { newStats } from '../pool/accounting.js';
import { askMaster } from './control-command.js';
import { EXIT } from '../control/exit-codes.js';
import { masterOf, targetPidFile, type TargetOptions } from './target.js';
import { renderView, SORT_KEYS, type Answer, type SortOrder } from './watch-view.js';

export interface WatchOptions extends TargetOptions {
  pool?: string;
  sort: SortOrder;
  intervalMs: number;
}

const ANSWER_TIMEOUT_MS = 5000;
/** While the master is away it is looked for at least this often, whatever the refresh interval. */
const LOOK_AGAIN_MS = 1000;
const CTRL_C = '\x03';

const ENTER_SCREEN = '\x1b[?1049h\x1b[?25l';
const LEAVE_SCREEN = '\x1b[?25h\x1b[?1049l';
const HOME = '\x1b[H';
const CLEAR_LINE_END = '\x1b[K';
const CLEAR_BELOW = '\x1b[J';

/**
 * A master of an earlier version answers without its workers' usage and its
 * counters: the view shows those as unknown.
 */
function complete(pool: PoolReading): PoolReading {
  const none = newStats();
  return {
    ...pool,
    workers: pool.workers ?? pool.slots.map((_, index) => ({ index, usage: null })),
    masterResponses: pool.masterResponses ?? none.masterResponses,
    restarts: pool.restarts ?? none.restarts,
    readAt: pool.readAt ?? Date.now(),
  };
}

/** What the master at `pidFile` says now, or why it says nothing; never throws. */
async function poll(pidFile: string, pool: string | undefined): Promise<Answer> {
  try {
    const master = masterOf(pidFile);
    if ('message' in master) return { kind: 'waiting', why: 'not running', reason: master.message };
    const answer = await askMaster({ pidFile, pid: master.pid }, { cmd: 'status' }, ANSWER_TIMEOUT_MS);
    if ('message' in answer) return { kind: 'waiting', why: 'not answering', reason: answer.message };
    const { response } = answer;
    if (!response.ok) return { kind: 'waiting', why: 'not answering', reason: response.messages.join('; ') };
    const pools = (response.data as PoolReading[]).map(complete).filter((reading) => !pool || reading.header.pool === pool);
    if (pool && pools.length === 0) return { kind: 'waiting', why: 'no such pool', reason: `no pool named '${pool}'` };
    return { kind: 'pools', masterPid: master.pid, pools };
  } catch (err) {
    return { kind: 'waiting', why: 'not answering', reason: (err as Error).message };
  }
}

/** The terminal: the alternate screen and keys when it is one, plain frames one after another when it is not. */
class Screen {
  private readonly tty = Boolean(process.stdout.isTTY);
  private readonly keys = Boolean(process.stdin.isTTY);
  private open = false;

  get width(): number {
    return process.stdout.columns ?? 80;
  }

  get height(): number {
    return this.tty ? (process.stdout.rows ?? 24) : Number.MAX_SAFE_INTEGER;
  }

  enter(onKey: (key: string) => void): void {
    this.open = true;
    if (this.tty) process.stdout.write(ENTER_SCREEN);
    if (this.keys) {
      // Raw: keys arrive one by one, unechoed; Ctrl-C arrives as a key, not SIGINT.
      process.stdin.setRawMode(true);
      process.stdin.setEncoding('utf8');
      process.stdin.on('data', (chunk: string) => [...chunk].forEach(onKey));
      process.stdin.resume();
    }
  }

  draw(lines: string[]): void {
    if (!this.open) return;
    // Each line overwrites the last frame's, so the screen never flashes blank.
    const frame = this.tty ? `${HOME}${lines.join(`${CLEAR_LINE_END}\r\n`)}${CLEAR_LINE_END}${CLEAR_BELOW}` : `${lines.join('\n')}\n\n`;
    process.stdout.write(frame);
  }

  /** Gives the terminal back as it was; safe to call twice. */
  leave(): void {
    if (!this.open) return;
    this.open = false;
    if (this.keys) {
      process.stdin.setRawMode(false);
      process.stdin.pause();
    }
    if (this.tty) process.stdout.write(LEAVE_SCREEN);
  }
}

export async function watchCommand(options: WatchOptions): Promise<number> {
  const named = targetPidFile(options);
  if (typeof named === 'number') return named;
  const screen = new Screen();
  let sort = options.sort;
  let answer: Answer | null = null;
  let previous: PoolReading[] | null = null;
  let lastAnswerAt: number | null = null;
  const quit = new AbortController();

  const draw = () => {
    if (!answer) return;
    const { width, height } = screen;
    screen.draw(renderView({ answer, previous, lastAnswerAt, width, height, sort, intervalMs: options.intervalMs, now: Date.now() }));
  };
  const onKey = (key: string) => {
    if (key === CTRL_C || key === 'q') return quit.abort();
    if (Object.hasOwn(SORT_KEYS, key)) {
      sort = SORT_KEYS[key]!;
      draw();
    }
  };
  const stop = () => quit.abort();
  const signals = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;
  for (const signal of signals) process.on(signal, stop);
  // A closed terminal or pipe ends the watch.
  process.stdout.on('error', stop);
  process.stdout.on('resize', draw);
  const stopped = new Promise<null>((resolve) => quit.signal.addEventListener('abort', () => resolve(null)));
  try {
    screen.enter(onKey);
    while (!quit.signal.aborted) {
      const next = await Promise.race([poll(named.pidFile, options.pool), stopped]);
      if (!next) break;
      if (answer?.kind === 'pools') previous = answer.pools;
      answer = next;
      if (next.kind === 'pools') lastAnswerAt = Date.now();
      draw();
      const wait = next.kind === 'pools' ? options.intervalMs : Math.min(options.intervalMs, LOOK_AGAIN_MS);
      await sleep(wait, undefined, { signal: quit.signal }).catch(() => undefined);
    }
  } finally {
    screen.leave();
    for (const signal of signals) process.off(signal, stop);
    process.stdout.off('error', stop);
    process.stdout.off('resize', draw);
  }
  return EXIT.OK;
}
