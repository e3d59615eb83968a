// Diagnostics: what one IPC exchange costs the parent (the poold master), in
// CPU time, which unlike throughput hardly depends on what else the machine runs.
//
//   node dist/bench/ipc-cost.js [ROUNDS [REPEATS]]
//
// 1. Message ping-pong: the parent sends {t:'go'}, the child answers {t:'f'},
//    one at a time (as a worker's 's'/'f' arrive one by one), through
//    (a) execa 9 with ipc: true, buffer: false — how poold spawns workers —, and
//    (b) child_process.spawn with an 'ipc' stdio slot.
// 2. Connection hand-over: the parent accepts a loopback connection (paused)
//    and sends it to the child, which answers 'f' once it has it; with
//    keepOpen true (poold keeps a copy until 's') or false (cluster).
//    The parent also runs the client side of each connection; that part is
//    the same in every variant.
import { spawn, type ChildProcess } from 'node:child_process';
import net from 'node:net';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';

const SELF = fileURLToPath(import.meta.url);

// ---------------------------------------------------------------------------
// child side

function child(): void {
  process.on('message', (message: { t: string }, handle?: net.Socket) => {
    if (message.t === 'go') process.send!({ t: 'f' });
    else if (message.t === 'conn') {
      handle?.destroy();
      process.send!({ t: 'f' });
    } else if (message.t === 'exit') process.exit(0);
  });
  process.send!({ t: 'ready' });
}

// ---------------------------------------------------------------------------
// parent side

type Spawner = () => ChildProcess;

const viaExeca: Spawner = () => {
  const subprocess = execa(process.execPath, [SELF, 'child'], {
    ipc: true,
    serialization: 'json',
    buffer: false,
    stdin: 'ignore',
    stdout: 'inherit',
    stderr: 'inherit',
    reject: false,
  });
  subprocess.catch(() => {});
  return subprocess as unknown as ChildProcess;
};

const viaSpawn: Spawner = () =>
  spawn(process.execPath, [SELF, 'child'], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'], serialization: 'json' });

function ready(cp: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    const onMessage = (m: { t: string }) => {
      if (m.t === 'ready') {
        cp.off('message', onMessage);
        resolve();
      }
    };
    cp.on('message', onMessage);
  });
}

function stop(cp: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    cp.once('exit', () => resolve());
    cp.send({ t: 'exit' });
    setTimeout(() => cp.kill('SIGKILL'), 3000).unref();
  });
}

interface Cost {
  /** Parent CPU per round, µs. */
  parentUs: number;
  /** Wall time per round, µs. */
  wallUs: number;
}

async function measure(rounds: number, body: (done: () => void) => void): Promise<Cost> {
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  await new Promise<void>((resolve) => {
    let left = rounds;
    const next = () => (--left === 0 ? resolve() : body(next));
    body(next);
  });
  const cpu = process.cpuUsage(cpu0);
  return { parentUs: (cpu.user + cpu.system) / rounds, wallUs: ((performance.now() - t0) * 1000) / rounds };
}

async function pingPong(spawner: Spawner, rounds: number): Promise<Cost> {
  const cp = spawner();
  await ready(cp);
  let onF: () => void = () => {};
  cp.on('message', (m: { t: string }) => m.t === 'f' && onF());
  const run = (n: number) =>
    measure(n, (done) => {
      onF = done;
      cp.send({ t: 'go' });
    });
  await run(Math.min(2000, rounds)); // warm-up
  const cost = await run(rounds);
  await stop(cp);
  return cost;
}

/** The client-and-accept part alone (no child involved), to subtract from the hand-over rows. */
async function connectOnly(rounds: number): Promise<Cost> {
  const server = net.createServer({ pauseOnConnect: true });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  let onAccepted: (socket: net.Socket) => void = () => {};
  server.on('connection', (socket: net.Socket) => onAccepted(socket));
  const run = (n: number) =>
    measure(n, (done) => {
      const client = net.connect({ host: '127.0.0.1', port });
      client.on('error', () => {});
      onAccepted = (socket) => {
        // Like the child's answer, the close happens on a later tick.
        setImmediate(() => {
          socket.destroy();
          client.destroy();
          done();
        });
      };
    });
  await run(Math.min(1000, rounds));
  const cost = await run(rounds);
  server.close();
  return cost;
}

async function handOver(spawner: Spawner, rounds: number, keepOpen: boolean): Promise<Cost> {
  const cp = spawner();
  await ready(cp);
  const server = net.createServer({ pauseOnConnect: true });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  let onF: () => void = () => {};
  cp.on('message', (m: { t: string }) => m.t === 'f' && onF());
  let client: net.Socket | null = null;
  let copy: net.Socket | null = null;
  server.on('connection', (socket: net.Socket) => {
    socket.on('error', () => {});
    copy = keepOpen ? socket : null;
    cp.send({ t: 'conn' }, socket, { keepOpen });
  });
  const run = (n: number) =>
    measure(n, (done) => {
      onF = () => {
        copy?.destroy();
        client?.destroy();
        done();
      };
      client = net.connect({ host: '127.0.0.1', port });
      client.on('error', () => {});
    });
  await run(Math.min(1000, rounds));
  const cost = await run(rounds);
  server.close();
  await stop(cp);
  return cost;
}

const median = (values: number[]) => {
  const s = [...values].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

async function main(): Promise<void> {
  const rounds = Number(process.argv[2] ?? 3000);
  const repeats = Number(process.argv[3] ?? 5);
  const cases: [string, () => Promise<Cost>][] = [
    ['message ping-pong, execa ipc', () => pingPong(viaExeca, rounds)],
    ['message ping-pong, child_process ipc', () => pingPong(viaSpawn, rounds)],
    ['connect + accept + close only (no child)', () => connectOnly(rounds)],
    ['hand-over keepOpen:true + f, execa', () => handOver(viaExeca, rounds, true)],
    ['hand-over keepOpen:true + f, child_process', () => handOver(viaSpawn, rounds, true)],
    ['hand-over keepOpen:false + f, child_process', () => handOver(viaSpawn, rounds, false)],
  ];
  const results = new Map<string, Cost[]>(cases.map(([name]) => [name, []]));
  // Interleaved repeats, so a burst of load elsewhere on the machine hits every case alike.
  for (let r = 0; r < repeats; r++) {
    for (const [name, run] of cases) results.get(name)!.push(await run());
  }
  process.stdout.write(`${rounds} rounds x ${repeats} repeats; median parent CPU and wall time per round (min-max CPU)\n`);
  for (const [name, costs] of results) {
    const cpu = costs.map((c) => c.parentUs);
    process.stdout.write(
      `${name.padEnd(44)} parent CPU ${median(cpu).toFixed(1).padStart(6)} µs ` +
        `(${Math.min(...cpu).toFixed(0)}-${Math.max(...cpu).toFixed(0)})   wall ${median(costs.map((c) => c.wallUs)).toFixed(1).padStart(6)} µs\n`,
    );
  }
}

if (process.argv[2] === 'child') child();
else void main();
