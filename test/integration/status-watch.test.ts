// `poold status --watch` in a real terminal: a tmux pane of a fixed size,
// read with capture-pane, while the master serves, stops and comes back.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import net from 'node:net';
import path from 'node:path';
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { test } from 'node:test';
import { isRunning, killAll, waitExit } from '../helpers/cli.js';
import { runCommand } from '../helpers/run.js';
import { pollUntil } from '../helpers/status.js';
import { cleanup, FIXTURES, freePort, POOLD_BIN, poolSection, startPoold, tempDir, type RunningPoold } from '../helpers/poold.js';

const HAS_TMUX = spawnSync('tmux', ['-V']).status === 0;
const BUSY_URI = '/sleep?ms=60000&watched=yes';
const WAIT_MS = 20_000;

/** A tmux server of its own (its own socket), running one session. */
class Tmux {
  readonly socket = `poold-watch-${process.pid}-${Date.now()}`;

  async run(...args: string[]): Promise<string> {
    const result = await runCommand('tmux', ['-L', this.socket, '-f', '/dev/null', ...args], { timeoutMs: 10_000 });
    assert.equal(result.code, 0, `tmux ${args.join(' ')}: ${result.stderr}`);
    return result.stdout;
  }

  /** The pane's lines, wrapped ones joined back (a wrapped line shows as one longer than the pane). */
  async screen(): Promise<string[]> {
    return (await this.run('capture-pane', '-p', '-J', '-t', 'watch')).split('\n').map((line) => line.trimEnd());
  }

  async waitScreen(what: string, check: (lines: string[]) => boolean): Promise<string[]> {
    let last: string[] = [];
    try {
      return await pollUntil(what, async () => {
        last = await this.screen();
        return check(last) && last;
      }, WAIT_MS);
    } catch (err) {
      throw new Error(`${(err as Error).message}\n--- the pane:\n${last.join('\n')}`);
    }
  }

  async pane(format: string): Promise<string> {
    return (await this.run('display-message', '-p', '-t', 'watch', format)).trim();
  }
}

/** A request that keeps its worker Running (the app sleeps without blocking) until the socket is destroyed. */
function busyRequest(port: number): net.Socket {
  const socket = net.connect(port, '127.0.0.1', () => socket.write(`GET ${BUSY_URI} HTTP/1.1\r\nHost: localhost\r\n\r\n`));
  socket.on('error', () => {});
  return socket;
}

function lineWith(lines: string[], pattern: RegExp): string | undefined {
  return lines.find((line) => pattern.test(line));
}

test('poold status --watch in a 100x30 terminal: fits it, shows a busy worker\'s request and RSS, waits for a stopped master, comes back with it, Ctrl-C exits 0', { skip: !HAS_TMUX && "tmux not found: install Debian's tmux (.ci/run does)" }, async (t) => {
  const port = await freePort();
  const pidDir = tempDir();
  // A directory of its own, as systemd's RuntimeDirectory= makes (and removes when the master stops).
  const runDir = path.join(pidDir, 'run');
  mkdirSync(runDir);
  const pidFile = path.join(runDir, 'poold.pid');
  const config = `[global]\npid = ${pidFile}\nprocess_control_timeout = 3s\n${poolSection('www', port, path.join(FIXTURES, 'app.js'))}`;
  const tmux = new Tmux();
  let first: RunningPoold | undefined;
  let second: RunningPoold | undefined;
  /** The shell tmux runs in the pane, and the watch it runs. */
  let shell = 0;
  let watcher = 0;
  let busy: net.Socket | undefined;
  t.after(async () => {
    busy?.destroy();
    await runCommand('tmux', ['-L', tmux.socket, 'kill-server'], { timeoutMs: 10_000 }).catch(() => undefined);
    killAll([watcher, shell].filter((pid) => pid > 0 && isRunning(pid)));
    await cleanup(first);
    await cleanup(second);
    rmSync(pidDir, { recursive: true, force: true });
  });

  first = await startPoold(config);
  busy = busyRequest(port);
  // The shell records the exit status: tmux's own (#{pane_dead_status}) is
  // sometimes never set, when tmux does not reap the pane's process.
  const exitFile = path.join(pidDir, 'watch.exit');
  await tmux.run('new-session', '-d', '-s', 'watch', '-x', '100', '-y', '30', `'${process.execPath}' '${POOLD_BIN}' status -c '${path.join(first.dir, 'poold.conf')}' --watch; echo $? > '${exitFile}'`);
  // Kept after it exits, to read what it left on the terminal.
  await tmux.run('set-option', '-w', '-t', 'watch', 'remain-on-exit', 'on');
  shell = Number(await tmux.pane('#{pane_pid}'));
  watcher = await pollUntil('the watch to start', async () => {
    const children = readFileSync(`/proc/${shell}/task/${shell}/children`, 'utf8').trim();
    return children ? Number(children.split(' ')[0]) : undefined;
  }, WAIT_MS);

  // The busy worker, with its request, its non-zero RSS, and a CPU % once two readings were taken.
  const busyRow = new RegExp(`^\\s*\\d+\\s+(\\d+)\\s+Running\\s+(\\d+\\.\\d)\\s+(\\S+)\\s+1\\s+0\\s+\\S+ GET ${BUSY_URI.replace(/[?]/g, '\\?')}$`);
  let lines = await tmux.waitScreen('the busy worker with a CPU %', (screen) => Boolean(lineWith(screen, busyRow)));
  assert.ok(lineWith(lines, new RegExp(`^poold \\(pid ${first.pid}\\)`)), 'the master named');
  assert.ok(lineWith(lines, /^pool www \(static\)\s+req\/s \S+\s+active 1\s+idle 1\s+total 2\/2\s+queue 0\/\d+\s+5xx 0/), 'the pool line');
  assert.ok(lineWith(lines, /^SLOT\s+PID STATE\s+CPU%\s+RSS\s+REQS\s+WS\s+DUR REQUEST$/), 'every column, at 100 columns');
  const [, pid, , rss] = busyRow.exec(lineWith(lines, busyRow)!)!;
  assert.ok(first.liveWorkerPids().includes(Number(pid)), `${pid} is a worker`);
  assert.match(rss!, /^\d+(\.\d)?[MG]$/, 'RSS of the busy worker');
  assert.ok(parseFloat(rss!) > 0, `non-zero RSS: ${rss}`);
  for (const line of lines) assert.ok(line.length <= 100, `wider than the pane: '${line}'`);

  // Narrower: redrawn to fit, the request cut first.
  await tmux.run('resize-window', '-t', 'watch', '-x', '60', '-y', '30');
  lines = await tmux.waitScreen('the view redrawn at 60 columns', (screen) =>
    screen.some((line) => /Running .* GET \/sl.*…$/.test(line) && line.length === 60),
  );
  for (const line of lines) assert.ok(line.length <= 60, `wider than the pane: '${line}'`);
  await tmux.run('resize-window', '-t', 'watch', '-x', '100', '-y', '30');

  // The master stops: the view says so and keeps waiting.
  busy.destroy();
  process.kill(first.pid, 'SIGTERM');
  assert.equal(await waitExit(first, WAIT_MS), 0);
  lines = await tmux.waitScreen('the waiting message', (screen) => Boolean(lineWith(screen, /^master not running — waiting…$/)));
  assert.ok(lineWith(lines, new RegExp(`no pid file at ${pidFile}`)), 'why');
  assert.ok(isRunning(watcher) && !existsSync(exitFile), 'the watch is alive');

  // A one-shot status says it in one line, without a stack trace.
  const once = await runCommand(process.execPath, [POOLD_BIN, 'status', '--pid', pidFile]);
  assert.equal(once.code, 69);
  assert.equal(once.stderr, `ERROR: poold is not running (no pid file at ${pidFile})\n`);

  // The pid file's directory goes too: still waiting.
  rmSync(runDir, { recursive: true });
  const drawn = (await tmux.screen())[0];
  await tmux.waitScreen('a later frame', (screen) => screen[0] !== drawn && Boolean(lineWith(screen, /^master not running — waiting…$/)));
  assert.ok(isRunning(watcher) && !existsSync(exitFile), 'the watch is alive');
  mkdirSync(runDir);

  // It comes back: so does the view.
  second = await startPoold(config);
  const workers = second.liveWorkerPids();
  assert.equal(workers.length, 2);
  // Its workers may still be Starting in the first frames: the pid file is written before they are ready.
  await tmux.waitScreen('the view of the new master and its workers', (screen) =>
    Boolean(lineWith(screen, new RegExp(`^poold \\(pid ${second!.pid}\\)`))) &&
    Boolean(lineWith(screen, /^pool www/)) &&
    workers.every((workerPid) => lineWith(screen, new RegExp(`\\b${workerPid}\\s+Idle\\b`))),
  );
  assert.ok(isRunning(watcher) && !existsSync(exitFile), 'the watch is alive');

  await tmux.run('send-keys', '-t', 'watch', 'C-c');
  const status = await pollUntil('the watch to exit', async () => existsSync(exitFile) && readFileSync(exitFile, 'utf8'), WAIT_MS);
  assert.equal(status, '0\n', 'Ctrl-C exits 0');
  // The alternate screen is left: what was on the terminal before is back (here, nothing).
  await tmux.waitScreen('the terminal as it was', (screen) => !screen.some((line) => /poold|pool www/.test(line)));
});
