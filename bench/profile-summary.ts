// Diagnostics only: summarises a V8 .cpuprofile (node --cpu-prof) by self time,
// per function and per source file, to show where a master's CPU goes.
import { readFileSync } from 'node:fs';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}

interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

export interface ProfileEntry {
  name: string;
  selfMs: number;
  /** Share of the non-idle sampled time. */
  share: number;
}

export interface ProfileSummary {
  /** Wall time the profile covers. */
  totalMs: number;
  idleMs: number;
  byFunction: ProfileEntry[];
  byFile: ProfileEntry[];
}

function shortUrl(url: string): string {
  if (!url) return '(native)';
  const dist = url.lastIndexOf('/dist/');
  if (dist >= 0) return url.slice(dist + 1);
  const nm = url.lastIndexOf('/node_modules/');
  if (nm >= 0) return url.slice(nm + 1);
  return url.replace(/^file:\/\//, '');
}

export function summarizeProfile(file: string, top = 20): ProfileSummary {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as Profile;
  const nodes = new Map(profile.nodes.map((node) => [node.id, node]));
  const selfUs = new Map<number, number>();
  for (let i = 0; i < profile.samples.length; i++) {
    const id = profile.samples[i]!;
    // timeDeltas[i] is the time before sample i; attribute the next delta to it.
    const delta = profile.timeDeltas[i + 1] ?? 0;
    selfUs.set(id, (selfUs.get(id) ?? 0) + delta);
  }
  const fnTotals = new Map<string, number>();
  const fileTotals = new Map<string, number>();
  let idleUs = 0;
  let busyUs = 0;
  for (const [id, us] of selfUs) {
    const frame = nodes.get(id)!.callFrame;
    if (frame.functionName === '(idle)') {
      idleUs += us;
      continue;
    }
    busyUs += us;
    const url = shortUrl(frame.url);
    const fn = `${frame.functionName || '(anonymous)'} ${frame.url ? `${url}:${frame.lineNumber + 1}` : ''}`.trim();
    fnTotals.set(fn, (fnTotals.get(fn) ?? 0) + us);
    const fileKey = frame.url ? url : frame.functionName;
    fileTotals.set(fileKey, (fileTotals.get(fileKey) ?? 0) + us);
  }
  const rank = (totals: Map<string, number>) =>
    [...totals.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([name, us]) => ({ name, selfMs: us / 1000, share: busyUs > 0 ? us / busyUs : 0 }));
  return {
    totalMs: (profile.endTime - profile.startTime) / 1000,
    idleMs: idleUs / 1000,
    byFunction: rank(fnTotals),
    byFile: rank(fileTotals),
  };
}
