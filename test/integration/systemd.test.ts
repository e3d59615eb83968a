// The systemd integration: the shipped unit passes `systemd-analyze verify`
// with nothing on stderr, the example configuration is valid, and the master
// speaks the sd_notify protocol (READY, RELOADING, STOPPING, STATUS, WATCHDOG)
// to whatever socket NOTIFY_SOCKET names. That is tested end to end without
// systemd: a python3 datagram socket stands in for PID 1.
//
// systemd-analyze and systemd-notify come with Debian's `systemd` package;
// .ci/run installs it (and python3) when missing. Only a machine without them
// skips these tests, saying so.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { runPoold, waitExit, writeConfig } from '../helpers/cli.js';
import { findOnPath } from '../../src/pool/spawn-worker.js';
import { runCommand, type CommandResult } from '../helpers/run.js';
import {
  FIXTURES,
  POOLD_BIN,
  ROOT,
  cleanup,
  freePort,
  globalSection,
  poolSection,
  startPoold,
  tempDir,
  waitFor,
  type RunningPoold,
} from '../helpers/poold.js';

const UNIT = path.join(ROOT, 'systemd/poold.service');
const EXAMPLE_CONFIG = path.join(ROOT, 'systemd/poold.conf.example');
const APP = path.join(FIXTURES, 'app.js');

function onPath(command: string): boolean {
  return findOnPath(command) !== null;
}

/** `false` (run the test) or why it is skipped. */
function skipUnless(...commands: string[]): string | false {
  const missing = commands.filter((command) => !onPath(command));
  if (missing.length === 0) return false;
  return `${missing.join(', ')} not installed (Debian packages systemd / python3; .ci/run installs them)`;
}

/** systemd's own quoting for one Exec= word, so paths with spaces survive. */
function execWord(word: string): string {
  return `"${word.replaceAll('\\', '\\\\').replaceAll('"', '\\"')}"`;
}

/**
 * `systemd-analyze verify` fails (exit 1) when an Exec= binary does not exist
 * on this machine, and /usr/bin/poold exists only where poold is installed.
 * So the unit is verified as a copy whose ExecStart=/ExecReload= run this
 * checkout's build with this node instead: same arguments, an existing
 * executable. Nothing else in the unit is touched.
 */
function unitForThisMachine(unit: string): string {
  const exec = /^(Exec(?:Start|Reload)=)\/usr\/bin\/poold /gm;
  assert.equal(unit.match(exec)?.length, 2, 'ExecStart= and ExecReload= run /usr/bin/poold');
  return unit.replace(exec, `$1${execWord(process.execPath)} ${execWord(POOLD_BIN)} `);
}

/**
 * Verifies `text` as poold.service. verify exits 0 even for unknown keys and
 * unparsable values (it only warns, on stderr), so callers check stderr.
 * --man=no: it would otherwise look up man: Documentation= pages.
 */
async function verify(text: string): Promise<CommandResult> {
  const dir = tempDir('poold-unit-');
  try {
    const file = path.join(dir, 'poold.service');
    writeFileSync(file, text);
    return await runCommand('systemd-analyze', ['verify', '--man=no', file]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The unit's `Key=value` settings, every value of each key (comments dropped). */
function settings(unit: string): Map<string, string[]> {
  const map = new Map<string, string[]>();
  for (const line of unit.split('\n')) {
    const match = /^([A-Za-z]+)=(.*)$/.exec(line.trim());
    if (!match) continue;
    map.set(match[1]!, [...(map.get(match[1]!) ?? []), match[2]!]);
  }
  return map;
}

test('the unit keeps its contract with the master', () => {
  const unit = settings(readFileSync(UNIT, 'utf8'));
  const one = (key: string) => {
    const values = unit.get(key);
    assert.equal(values?.length, 1, `${key}= is set exactly once`);
    return values[0]!;
  };
  assert.equal(one('Type'), 'notify');
  assert.equal(one('NotifyAccess'), 'all');
  assert.equal(one('ExecStart'), '/usr/bin/poold start -c /etc/poold/poold.conf');
  assert.equal(one('ExecReload'), '/usr/bin/poold reload --wait -c /etc/poold/poold.conf');
  assert.equal(one('KillMode'), 'mixed');
  assert.equal(one('KillSignal'), 'SIGTERM');
  assert.equal(one('RuntimeDirectory'), 'poold');
  assert.equal(one('Restart'), 'on-failure');
  // process_control_timeout defaults to 10s: systemd must not SIGKILL first.
  const stopSec = /^(\d+)s?$/.exec(one('TimeoutStopSec'));
  assert.ok(stopSec && Number(stopSec[1]) > 10, 'TimeoutStopSec exceeds the default process_control_timeout');
  assert.ok(!unit.has('MemoryDenyWriteExecute'), 'V8 cannot run under MemoryDenyWriteExecute');
  // The example configuration names the pid file the unit's runtime directory holds.
  assert.match(readFileSync(EXAMPLE_CONFIG, 'utf8'), /^pid = \/run\/poold\/poold\.pid$/m);
});

test('the example configuration is valid (with an app that exists here)', async (t) => {
  const text = readFileSync(EXAMPLE_CONFIG, 'utf8')
    .replace(/^app = .*$/m, `app = ${APP}`)
    .replace(/^pid = .*$/m, 'pid = @DIR@/poold.pid');
  const { dir, file } = writeConfig(text);
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const result = await runPoold(['test', '-c', file]);
  assert.equal(result.code, 0, result.stderr);
  assert.match(result.stderr + result.stdout, /test is successful/);
});

test('systemd-analyze verify passes the unit with nothing on stderr', { skip: skipUnless('systemd-analyze') }, async () => {
  const result = await verify(unitForThisMachine(readFileSync(UNIT, 'utf8')));
  assert.equal(result.code, 0, result.stderr);
  assert.equal(result.stderr, '', 'systemd-analyze printed warnings');
});

test('the verify check can fail: a bad key or value only shows on stderr', { skip: skipUnless('systemd-analyze') }, async () => {
  const unit = unitForThisMachine(readFileSync(UNIT, 'utf8'));
  const broken = unit.replace(/^KillMode=mixed$/m, 'KillMode=mixed\nBogusKey=yes\nRestart=sometimes');
  const result = await verify(broken);
  // systemd 252 exits 0 all the same, which is why the test above insists on an empty stderr.
  assert.match(result.stderr, /Unknown key '?BogusKey'?/);
  assert.match(result.stderr, /Restart.*sometimes|sometimes.*Restart/i);
});

// --- the notify protocol ---------------------------------------------------

/**
 * A stand-in for systemd's notify socket: binds an AF_UNIX datagram socket,
 * prints {"ready": true} once bound, then one JSON line per datagram, and exits
 * after `seconds` whatever happens. The file descriptor systemd-notify passes
 * with BARRIER=1 is closed, which is the answer it waits for. The sender's
 * credentials (SO_PASSCRED) are recorded for the report, not asserted: whether
 * systemd-notify may fake the master's pid depends on privileges.
 */
const RECEIVER = `
import array, json, os, socket, sys, time
path, seconds = sys.argv[1], float(sys.argv[2])
sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
sock.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
sock.bind(path)
print(json.dumps({"ready": True}), flush=True)
deadline = time.monotonic() + seconds
while True:
    left = deadline - time.monotonic()
    if left <= 0:
        break
    sock.settimeout(left)
    try:
        data, ancillary, flags, address = sock.recvmsg(65536, socket.CMSG_SPACE(16 * 4) + socket.CMSG_SPACE(12))
    except socket.timeout:
        break
    pid = None
    for level, kind, payload in ancillary:
        if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
            fds = array.array("i")
            fds.frombytes(payload[: len(payload) - len(payload) % fds.itemsize])
            for fd in fds:
                os.close(fd)
        elif level == socket.SOL_SOCKET and kind == socket.SCM_CREDENTIALS:
            pid = array.array("i", payload[:4])[0]
    print(json.dumps({"message": data.decode("utf-8", "replace"), "pid": pid}), flush=True)
`;

interface Datagram {
  /** VAR=VALUE assignments, in order. */
  fields: Map<string, string>;
  raw: string;
  senderPid: number | null;
}

interface Receiver {
  socketPath: string;
  /** Everything received so far, BARRIER=1 round trips left out. */
  messages: Datagram[];
  stop(): void;
}

async function startReceiver(seconds: number): Promise<Receiver> {
  const dir = tempDir('poold-notify-');
  const socketPath = path.join(dir, 'notify.sock');
  const child: ChildProcess = spawn('python3', ['-c', RECEIVER, socketPath, String(seconds)], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let ready = false;
  let exited = false;
  let stderr = '';
  const messages: Datagram[] = [];
  let partial = '';
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
    partial += chunk;
    const lines = partial.split('\n');
    partial = lines.pop()!;
    for (const line of lines) {
      const record = JSON.parse(line) as { ready?: boolean; message?: string; pid?: number | null };
      if (record.ready) ready = true;
      if (record.message === undefined || record.message === 'BARRIER=1') continue;
      const fields = new Map<string, string>();
      for (const assignment of record.message.split('\n')) {
        const eq = assignment.indexOf('=');
        if (eq > 0) fields.set(assignment.slice(0, eq), assignment.slice(eq + 1));
      }
      messages.push({ fields, raw: record.message, senderPid: record.pid ?? null });
    }
  });
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  child.on('exit', () => (exited = true));
  const receiver: Receiver = {
    socketPath,
    messages,
    stop: () => {
      if (!exited && child.pid !== undefined) {
        try {
          process.kill(child.pid, 'SIGKILL');
        } catch {
          // already gone
        }
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
  try {
    // python3 can take a while to start (pyenv shims): wait for the bind.
    await waitFor(`the python3 receiver to bind ${socketPath}`, () => {
      if (exited) throw new Error(`the python3 receiver exited early:\n${stderr}`);
      return ready;
    }, 15_000);
  } catch (err) {
    receiver.stop();
    throw err;
  }
  return receiver;
}

type Kind = 'READY' | 'RELOADING' | 'STOPPING' | 'WATCHDOG' | 'STATUS';

function kindOf(message: Datagram): Kind {
  for (const kind of ['READY', 'RELOADING', 'STOPPING', 'WATCHDOG'] as const) {
    if (message.fields.get(kind) === '1') return kind;
  }
  return 'STATUS';
}

function describe(messages: readonly Datagram[]): string {
  return messages.map((message) => JSON.stringify(message.raw)).join('\n');
}

const FPM_STATUS = /^Processes active: \d+, idle: \d+, Requests: \d+, slow: \d+, Traffic: [\d.e+-]+req\/sec$/;

async function startWithNotify(t: { after: (fn: () => unknown) => void }, env: NodeJS.ProcessEnv = {}, globalExtra = '') {
  const receiver = await startReceiver(60);
  let poold: RunningPoold | undefined;
  t.after(async () => {
    await cleanup(poold);
    receiver.stop();
  });
  const port = await freePort();
  poold = await startPoold(globalSection(globalExtra) + poolSection('www', port, APP), {
    env: { NOTIFY_SOCKET: receiver.socketPath, ...env },
  });
  return { receiver, poold };
}

function count(receiver: Receiver, kind: Kind): number {
  return receiver.messages.filter((message) => kindOf(message) === kind).length;
}

test(
  'notify protocol: READY=1 with STATUS, then RELOADING=1 and READY=1 around a reload, then STOPPING=1',
  { skip: skipUnless('systemd-notify', 'python3') },
  async (t) => {
    const { receiver, poold } = await startWithNotify(t);
    await waitFor(`READY=1\n${describe(receiver.messages)}`, () => count(receiver, 'READY') === 1);

    const beforeReload = process.hrtime.bigint() / 1000n;
    const reload = await runPoold(['reload', '--wait', '-c', path.join(poold.dir, 'poold.conf')]);
    assert.equal(reload.code, 0, reload.stderr);
    // The master sends READY=1 once the rollout is done; systemd-notify may still be on its way.
    await waitFor(`READY=1 after the reload\n${describe(receiver.messages)}`, () => count(receiver, 'READY') === 2);
    const afterReload = process.hrtime.bigint() / 1000n;

    process.kill(poold.pid, 'SIGTERM');
    assert.equal(await waitExit(poold, 15_000), 0);
    await waitFor(`STOPPING=1\n${describe(receiver.messages)}`, () => count(receiver, 'STOPPING') === 1, 5000);

    const messages = receiver.messages;
    const lifecycle = messages.filter((message) => kindOf(message) !== 'STATUS' && kindOf(message) !== 'WATCHDOG');
    assert.deepEqual(lifecycle.map(kindOf), ['READY', 'RELOADING', 'READY', 'STOPPING'], describe(messages));
    const [ready, reloading, readyAgain, stopping] = lifecycle as [Datagram, Datagram, Datagram, Datagram];
    assert.equal(ready.fields.get('STATUS'), 'Ready to handle connections');
    assert.ok(reloading.fields.has('STATUS'));
    // Type=notify-reload needs the reload's CLOCK_MONOTONIC time, no earlier than the request.
    const stamp = BigInt(reloading.fields.get('MONOTONIC_USEC') ?? '0');
    assert.ok(stamp >= beforeReload && stamp <= afterReload, `MONOTONIC_USEC ${stamp} not within [${beforeReload}, ${afterReload}]`);
    // After a reload the STATUS is FPM's periodic line (the same text every 10 s).
    assert.match(readyAgain.fields.get('STATUS') ?? '', FPM_STATUS);
    assert.ok(stopping.fields.has('STATUS'));
    // systemd-notify --pid tells systemd which process is the service's main one.
    for (const message of messages) assert.equal(message.fields.get('MAINPID'), String(poold.pid), message.raw);
    assert.ok(!messages.some((message) => kindOf(message) === 'WATCHDOG'), 'no WATCHDOG=1 unless WATCHDOG_USEC is set');
    assert.ok(!poold.lines.some((line) => /systemd-notify/.test(line)), `no notify failures:\n${poold.lines.join('\n')}`);
  },
);

test(
  'notify protocol: a reload aborted by an invalid configuration still ends with READY=1 (Type=notify-reload waits for it)',
  { skip: skipUnless('systemd-notify', 'python3') },
  async (t) => {
    const { receiver, poold } = await startWithNotify(t);
    await waitFor(`READY=1\n${describe(receiver.messages)}`, () => count(receiver, 'READY') === 1);
    const file = path.join(poold.dir, 'poold.conf');
    writeFileSync(file, `${readFileSync(file, 'utf8')}\npm.max_children = nope\n`);
    process.kill(poold.pid, 'SIGHUP');
    await poold.waitForLine(/reload aborted: the configuration is invalid/);
    await waitFor(`READY=1 after the aborted reload\n${describe(receiver.messages)}`, () => count(receiver, 'READY') === 2);
    const lifecycle = receiver.messages.filter((message) => kindOf(message) !== 'STATUS').map(kindOf);
    assert.deepEqual(lifecycle, ['READY', 'RELOADING', 'READY'], describe(receiver.messages));
  },
);

test(
  'systemd_interval: the STATUS= line comes at that interval; 0 turns it off',
  { skip: skipUnless('systemd-notify', 'python3') },
  async (t) => {
    const fast = await startWithNotify(t, {}, 'systemd_interval = 1s');
    await fast.poold.waitForLine(/systemd monitor interval set to 1000ms/);
    await waitFor(`two periodic STATUS= lines\n${describe(fast.receiver.messages)}`, () =>
      fast.receiver.messages.filter((message) => kindOf(message) === 'STATUS' && FPM_STATUS.test(message.fields.get('STATUS') ?? '')).length >= 2,
    15_000);

    const off = await startWithNotify(t, {}, 'systemd_interval = 0');
    await off.poold.waitForLine(/systemd monitor disabled/);
  },
);

test(
  'notify protocol: an app that cannot load fails the start, and systemd never gets READY=1',
  { skip: skipUnless('systemd-notify', 'python3') },
  async (t) => {
    const receiver = await startReceiver(60);
    let poold: RunningPoold | undefined;
    t.after(async () => {
      await cleanup(poold);
      receiver.stop();
    });
    const port = await freePort();
    poold = await startPoold(globalSection() + poolSection('www', port, path.join(FIXTURES, 'throws-at-load.js')), {
      env: { NOTIFY_SOCKET: receiver.socketPath },
      noWait: true,
    });
    assert.equal(await waitExit(poold, 15_000), 70);
    await poold.waitForLine(/ALERT: poold initialization failed/);
    assert.equal(count(receiver, 'READY'), 0, describe(receiver.messages));
  },
);

test(
  'notify protocol: with WATCHDOG_USEC set, WATCHDOG=1 arrives at half the deadline, and stops with the master',
  { skip: skipUnless('systemd-notify', 'python3') },
  async (t) => {
    // 1 s deadline: a ping every 500 ms.
    const { receiver, poold } = await startWithNotify(t, { WATCHDOG_USEC: '1000000' });
    await waitFor(`two WATCHDOG=1\n${describe(receiver.messages)}`, () => count(receiver, 'WATCHDOG') >= 2, 10_000);

    process.kill(poold.pid, 'SIGTERM');
    assert.equal(await waitExit(poold, 15_000), 0);
    await waitFor(`STOPPING=1\n${describe(receiver.messages)}`, () => count(receiver, 'STOPPING') === 1, 5000);

    const kinds = receiver.messages.map(kindOf);
    assert.equal(kinds[0], 'READY', describe(receiver.messages));
    assert.ok(kinds.indexOf('WATCHDOG') > 0, 'the pings start once the pools serve');
    // (Whether the ping that was on its way when SIGTERM came arrives before or
    // after STOPPING=1 is up to the scheduler; no new ones start after it.)
    for (const message of receiver.messages) assert.equal(message.fields.get('MAINPID'), String(poold.pid));
  },
);

for (const queued of [false, true]) {
  test(
    `notify protocol: a slow systemd-notify still delivers STOPPING=1 after the master has exited (${queued ? 'queued behind a WATCHDOG=1' : 'on its way'})`,
    { skip: skipUnless('systemd-notify', 'python3') },
    async (t) => {
      // Every message takes 400 ms longer to go out, so when the master exits
      // (soon after SIGTERM: its workers are idle) STOPPING=1 is still on its
      // way. With a ping every 500 ms and 800 ms per message, the queue only
      // grows, so STOPPING=1 is still queued behind a WATCHDOG=1 instead.
      // Neither may be lost: the master's exit must not kill the
      // systemd-notify that runs, and must send what is queued.
      const dir = tempDir('poold-slow-notify-');
      t.after(() => rmSync(dir, { recursive: true, force: true }));
      const wrapper = path.join(dir, 'systemd-notify');
      writeFileSync(wrapper, `#!/bin/sh\nsleep ${queued ? '0.8' : '0.4'}\nexec ${path.resolve(findOnPath('systemd-notify')!)} "$@"\n`);
      chmodSync(wrapper, 0o755);
      const { receiver, poold } = await startWithNotify(t, {
        PATH: `${dir}:${process.env.PATH ?? ''}`,
        ...(queued ? { WATCHDOG_USEC: '1000000' } : {}),
      });
      const kind: Kind = queued ? 'WATCHDOG' : 'READY';
      await waitFor(`${kind}=1\n${describe(receiver.messages)}`, () => count(receiver, kind) >= 1, 10_000);

      process.kill(poold.pid, 'SIGTERM');
      assert.equal(await waitExit(poold, 15_000), 0);
      await waitFor(`STOPPING=1 after the exit\n${describe(receiver.messages)}`, () => count(receiver, 'STOPPING') === 1, 5000);
      assert.equal(receiver.messages.map(kindOf)[0], 'READY', describe(receiver.messages));
    },
  );
}
