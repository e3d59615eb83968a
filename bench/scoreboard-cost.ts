// What the scoreboard costs a worker per request: the slot writes a request
// makes (Reading headers on a new connection, Running, then Idle), measured in
// a loop against a real scoreboard file on tmpfs. Target: ≤ 5 µs on average.
//
//   node dist/bench/scoreboard-cost.js [--requests N]
import { mkdtempSync, rmSync } from 'node:fs';
import type { IncomingMessage } from 'node:http';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { Scoreboard, scoreboardDir } from '../src/scoreboard/file.js';
import { SlotWriter } from '../src/scoreboard/slot-writer.js';

const TARGET_US = 5;
const { values } = parseArgs({ options: { requests: { type: 'string', default: '200000' } } });
const requests = Number(values.requests);

const dir = mkdtempSync(path.join(scoreboardDir(), 'poold-bench-'));
try {
  const board = new Scoreboard(path.join(dir, 'bench.scoreboard'), 16);
  const slot = board.allocate()!;
  const writer = new SlotWriter(board.file, slot);
  const req = {
    method: 'GET',
    url: '/products/42?color=blue&size=m',
    headers: { host: 'example.com', 'content-length': '0', authorization: 'Basic Ym9iOnNlY3JldA==' },
  } as unknown as IncomingMessage;

  const run = (count: number, newConnection: boolean) => {
    const start = process.hrtime.bigint();
    for (let i = 0; i < count; i++) {
      if (newConnection) writer.readingHeaders();
      writer.end(writer.begin(req));
    }
    return Number(process.hrtime.bigint() - start) / 1000 / count;
  };
  run(Math.min(20_000, requests), true); // warm-up: JIT and page cache
  const keepAlive = run(requests, false);
  const newConnection = run(requests, true);
  const verdict = (us: number) => (us <= TARGET_US ? 'PASS' : 'FAIL');
  process.stdout.write(
    `scoreboard cost per request (${requests} requests, file on ${scoreboardDir()}):\n` +
      `  kept-alive connection (Running + Idle writes):                ${keepAlive.toFixed(2)} µs  ${verdict(keepAlive)} (≤ ${TARGET_US} µs)\n` +
      `  new connection (Reading headers + Running + Idle writes):     ${newConnection.toFixed(2)} µs  ${verdict(newConnection)} (≤ ${TARGET_US} µs)\n`,
  );
  board.close();
} finally {
  rmSync(dir, { recursive: true, force: true });
}
