// Small numeric helpers for the benchmark: percentiles and CPU accounting from /proc.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

export interface LatencySummary {
  count: number;
  p50: number;
  p90: number;
  p99: number;
  p999: number;
  max: number;
  mean: number;
}

/** Nearest-rank percentiles of latencies in milliseconds (sorted in place). */
export function summarize(latenciesMs: number[]): LatencySummary {
  const sorted = latenciesMs.sort((a, b) => a - b);
  const n = sorted.length;
  const at = (p: number) => (n === 0 ? NaN : sorted[Math.min(n - 1, Math.max(0, Math.ceil((p / 100) * n) - 1))]!);
  let sum = 0;
  for (const v of sorted) sum += v;
  return {
    count: n,
    p50: at(50),
    p90: at(90),
    p99: at(99),
    p999: at(99.9),
    max: n === 0 ? NaN : sorted[n - 1]!,
    mean: n === 0 ? NaN : sum / n,
  };
}

let clockTicks: number | undefined;
/** Kernel clock ticks per second (USER_HZ) for /proc CPU times. */
function ticksPerSecond(): number {
  if (clockTicks === undefined) {
    try {
      clockTicks = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch {
      clockTicks = 100;
    }
  }
  return clockTicks;
}

export interface CpuTimes {
  /** User-mode CPU seconds. */
  user: number;
  /** Kernel-mode CPU seconds. */
  system: number;
}

/** CPU seconds a process has used so far, or null when it is gone. */
export function processCpu(pid: number): CpuTimes | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after "(comm)": state is field 3, utime field 14, stime field 15.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const hz = ticksPerSecond();
    return { user: Number(fields[11]) / hz, system: Number(fields[12]) / hz };
  } catch {
    return null;
  }
}

/** Sums the CPU seconds of a set of processes (missing ones count as zero). */
export function groupCpu(pids: number[]): Map<number, CpuTimes> {
  const result = new Map<number, CpuTimes>();
  for (const pid of pids) {
    const cpu = processCpu(pid);
    if (cpu) result.set(pid, cpu);
  }
  return result;
}

/** Busy and total CPU seconds of the whole machine, summed over all cores. */
export function machineCpu(): { busy: number; total: number } {
  const line = readFileSync('/proc/stat', 'utf8').split('\n')[0]!;
  const values = line.trim().split(/\s+/).slice(1).map(Number);
  // user nice system idle iowait irq softirq steal (guest* are already in user).
  const [user, nice, system, idle, iowait, irq, softirq, steal] = values as [
    number, number, number, number, number, number, number, number,
  ];
  const hz = ticksPerSecond();
  const busy = user + nice + system + irq + softirq + steal;
  return { busy: busy / hz, total: (busy + idle + iowait) / hz };
}

export function round(value: number, digits = 2): number {
  if (!Number.isFinite(value)) return value;
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}
