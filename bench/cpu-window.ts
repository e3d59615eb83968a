// CPU accounting over a measured window: the server's master and workers, the
// load generator (this process) and the rest of the machine. On a shared
// 2-core machine CPU per request is the most robust number a run gives, and
// "other" says whether the run competed with someone else.
import type { RunningServer } from './servers.js';
import { groupCpu, machineCpu, round, type CpuTimes } from './stats.js';

export interface CpuReport {
  windowSeconds: number;
  /** CPU of the master / primary, in % of one core. */
  masterPct: number;
  masterUserPct: number;
  masterSystemPct: number;
  workersPct: number;
  loadGeneratorPct: number;
  /** Everything else the machine did meanwhile (other users, kernel), % of one core. */
  otherPct: number;
  machineBusyPct: number;
}

export interface CpuSnapshot {
  at: number;
  master: CpuTimes | undefined;
  workers: number;
  self: NodeJS.CpuUsage;
  machine: { busy: number; total: number };
}

export function snapshot(server: RunningServer): CpuSnapshot {
  const cpu = groupCpu([server.masterPid, ...server.workerPids]);
  let workers = 0;
  for (const pid of server.workerPids) {
    const t = cpu.get(pid);
    if (t) workers += t.user + t.system;
  }
  return { at: performance.now(), master: cpu.get(server.masterPid), workers, self: process.cpuUsage(), machine: machineCpu() };
}

export function cpuBetween(a: CpuSnapshot, b: CpuSnapshot): CpuReport {
  const seconds = (b.at - a.at) / 1000;
  const pct = (s: number) => round((s / seconds) * 100, 1);
  const mu = (b.master?.user ?? 0) - (a.master?.user ?? 0);
  const ms = (b.master?.system ?? 0) - (a.master?.system ?? 0);
  const workers = b.workers - a.workers;
  const self = (b.self.user - a.self.user + b.self.system - a.self.system) / 1e6;
  const busy = b.machine.busy - a.machine.busy;
  return {
    windowSeconds: round(seconds, 3),
    masterPct: pct(mu + ms),
    masterUserPct: pct(mu),
    masterSystemPct: pct(ms),
    workersPct: pct(workers),
    loadGeneratorPct: pct(self),
    otherPct: pct(Math.max(0, busy - mu - ms - workers - self)),
    machineBusyPct: pct(busy),
  };
}
