// What a benchmark run measured on: the machine, and which poold build.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ROOT } from './servers.js';
import { round } from './stats.js';

export interface Machine {
  nproc: number;
  cpuModel: string;
  memoryGiB: number;
  node: string;
  os: string;
  loadAverageAtStart: number[];
}

export function machine(): Machine {
  return {
    nproc: os.availableParallelism(),
    cpuModel: os.cpus()[0]?.model ?? 'unknown',
    memoryGiB: round(os.totalmem() / 2 ** 30, 1),
    node: process.version,
    os: `${os.type()} ${os.release()}`,
    loadAverageAtStart: os.loadavg().map((v) => round(v, 2)),
  };
}

export interface SourceState {
  tree: string;
  commit: string;
  srcDirty: boolean;
  srcHash: string;
}

/**
 * Which poold was measured: the tree its dist/bin/poold.js was built from, that
 * tree's commit (when it is a git checkout), whether its src/ had local changes,
 * and a hash of its src/.
 */
export function sourceState(pooldBin: string | undefined): SourceState {
  const tree = pooldBin ? path.resolve(pooldBin, '../../..') : ROOT.replace(/\/$/, '');
  const git = (...a: string[]) => {
    try {
      return execFileSync('git', ['-C', tree, ...a], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    } catch {
      return '';
    }
  };
  const hash = createHash('sha256');
  const walk = (dir: string): void => {
    for (const entry of readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) walk(full);
      else if (entry.name.endsWith('.ts')) hash.update(path.relative(tree, full)).update(readFileSync(full));
    }
  };
  try {
    walk(path.join(tree, 'src'));
  } catch {
    // no src/ (installed package): the hash stays that of nothing
  }
  // Only when the tree is the top of its own checkout (not, say, a copy under /tmp).
  const isCheckout = git('rev-parse', '--show-toplevel') === tree;
  return {
    tree,
    commit: (isCheckout && git('rev-parse', '--short', 'HEAD')) || 'unknown (not a git checkout)',
    srcDirty: isCheckout && git('status', '--porcelain', '--', 'src') !== '',
    srcHash: hash.digest('hex').slice(0, 12),
  };
}
