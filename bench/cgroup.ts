// Equal CPU scheduling for the two servers under test.
//
// poold starts every worker in its own session (detached: true → setsid). With
// the kernel's autogroup scheduling (kernel.sched_autogroup_enabled = 1, the
// default; it applies to tasks in the root cpu cgroup), each session is a
// scheduling group with the weight of a whole process: poold's 8 workers then
// get 8 shares of the CPU while cluster's 8 workers, sharing the benchmark's
// session, get 1 — against other users' processes, and against the load
// generator and the master. On a shared 2-core machine that alone can swing
// results by 2x.
//
// When it can (root, a writable cpu cgroup hierarchy), the benchmark avoids this
// the way a systemd service would: it creates
//   <cpu cgroup root>/poold-bench-PID/loadgen   the benchmark process itself
//   <cpu cgroup root>/poold-bench-PID/server    each server, master and workers
// Tasks in a non-root cpu cgroup are not autogrouped, so both servers are
// scheduled alike, and the load generator and the server under test get at
// least half of the benchmark's share each, as if on separate machines. The
// whole benchmark counts as one group against other users (cpu.shares 1024).
// Everything is removed at the end.
import { existsSync, mkdirSync, readdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';

export interface CpuGroups {
  root: string;
  /** cgroup.procs file a server's first process writes its pid into. */
  serverProcs: string;
  description: string;
  /** Moves this process back out and removes the groups (best effort). */
  remove(): void;
}

function cpuHierarchy(): { base: string; v2: boolean } | null {
  if (existsSync('/sys/fs/cgroup/cpu/cgroup.procs')) return { base: '/sys/fs/cgroup/cpu', v2: false };
  try {
    const controllers = readFileSync('/sys/fs/cgroup/cgroup.controllers', 'utf8');
    if (controllers.split(/\s+/).includes('cpu')) return { base: '/sys/fs/cgroup', v2: true };
  } catch {
    // no cgroup v2 either
  }
  return null;
}

/** Removes empty groups left by an earlier run that was SIGKILLed. */
function removeStale(base: string): void {
  for (const name of readdirSync(base)) {
    const match = /^poold-bench-(\d+)$/.exec(name);
    if (!match) continue;
    try {
      process.kill(Number(match[1]), 0);
      continue; // that benchmark still runs
    } catch {
      // gone
    }
    try {
      for (const sub of ['loadgen', 'server', '']) rmdirSync(path.join(base, name, sub));
    } catch {
      // not empty, or already gone: leave it
    }
  }
}

/** Puts this process into its own cpu cgroup; an error message when not possible. */
export function setUpCpuGroups(): CpuGroups | { error: string } {
  if (process.platform !== 'linux') return { error: 'not Linux' };
  const hierarchy = cpuHierarchy();
  if (!hierarchy) return { error: 'no cpu cgroup controller found' };
  try {
    removeStale(hierarchy.base);
  } catch {
    // not readable: setting up will fail below with a reason
  }
  const root = path.join(hierarchy.base, `poold-bench-${process.pid}`);
  const loadgen = path.join(root, 'loadgen');
  const server = path.join(root, 'server');
  try {
    mkdirSync(root);
    // cgroup v2: children need the cpu controller enabled in their parent.
    if (hierarchy.v2) writeFileSync(path.join(root, 'cgroup.subtree_control'), '+cpu');
    mkdirSync(loadgen);
    mkdirSync(server);
    writeFileSync(path.join(loadgen, 'cgroup.procs'), String(process.pid));
  } catch (err) {
    for (const dir of [loadgen, server, root]) {
      try {
        rmdirSync(dir);
      } catch {
        // not created
      }
    }
    return { error: `cannot create ${root}: ${(err as NodeJS.ErrnoException).code ?? String(err)}` };
  }
  let removed = false;
  return {
    root,
    serverProcs: path.join(server, 'cgroup.procs'),
    description: `${root}/{loadgen,server}`,
    remove() {
      if (removed) return;
      try {
        writeFileSync(path.join(hierarchy.base, 'cgroup.procs'), String(process.pid));
      } catch {
        // keep going: the directories may still be removable
      }
      try {
        for (const dir of [loadgen, server, root]) rmdirSync(dir);
        removed = true;
      } catch {
        // a process is still inside: left for the 'exit' handler's retry
      }
    },
  };
}
