// Clients and parsers for the status listener tests: requests with any
// method, headers, source address or unix socket; the Prometheus text and
// OpenMetrics expositions parsed into families and samples; promtool.
import { spawnSync } from 'node:child_process';
import http from 'node:http';
import type { Response } from './poold.js';
import { runCommand } from './run.js';

export type StatusTarget = { port: number; host?: string } | { socketPath: string };

export interface RequestOptions {
  method?: string;
  headers?: Record<string, string>;
  /** The client's source address (a loopback one, e.g. 127.0.0.2). */
  localAddress?: string;
  timeoutMs?: number;
}

/** One request on a fresh connection, bounded in time. */
export function request(target: StatusTarget, urlPath: string, options: RequestOptions = {}): Promise<Response> {
  const timeoutMs = options.timeoutMs ?? 10_000;
  const where =
    'socketPath' in target ? { socketPath: target.socketPath } : { host: target.host ?? '127.0.0.1', port: target.port };
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        ...where,
        path: urlPath,
        method: options.method ?? 'GET',
        headers: options.headers,
        localAddress: options.localAddress,
        agent: false,
        timeout: timeoutMs,
      },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (body += chunk));
        res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body }));
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`${options.method ?? 'GET'} ${urlPath} timed out after ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end();
  });
}

/** Calls `check` every 50 ms until it resolves to something other than undefined/false; bounded. */
export async function pollUntil<T>(what: string, check: () => Promise<T | undefined | false>, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value !== undefined && value !== false) return value;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? ` (last error: ${String(last)})` : ''}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

// ---------------------------------------------------------------------------
// Expositions.

export interface Sample {
  /** The sample's own name (`x_total`, `x_bucket`...). */
  name: string;
  labels: Record<string, string>;
  value: number;
}

export interface Family {
  name: string;
  type?: string;
  help?: string;
  /** Which metadata line came first for this family. */
  firstMeta: 'HELP' | 'TYPE';
  samples: Sample[];
}

export interface Exposition {
  /** In order of appearance. */
  families: Family[];
  samples: Sample[];
  /** Lines that are neither metadata, samples, blank, nor `# EOF`. */
  junk: string[];
  eofCount: number;
}

function parseLabels(text: string): Record<string, string> {
  const labels: Record<string, string> = {};
  const pattern = /\s*([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"\s*,?/gy;
  for (const match of text.matchAll(pattern)) {
    labels[match[1]!] = match[2]!.replace(/\\(.)/g, (_, ch: string) => (ch === 'n' ? '\n' : ch));
  }
  return labels;
}

/**
 * Parses Prometheus text or OpenMetrics. A sample belongs to the most recent
 * family whose name is a prefix of it (OpenMetrics counters: family `x`, sample `x_total`).
 */
export function parseExposition(body: string): Exposition {
  const families: Family[] = [];
  const samples: Sample[] = [];
  const junk: string[] = [];
  let eofCount = 0;
  const family = (name: string, meta: 'HELP' | 'TYPE'): Family => {
    let found = families.at(-1)?.name === name ? families.at(-1) : undefined;
    if (!found) {
      found = { name, firstMeta: meta, samples: [] };
      families.push(found);
    }
    return found;
  };
  for (const line of body.split('\n')) {
    if (line === '') continue;
    if (line === '# EOF') {
      eofCount++;
      continue;
    }
    const meta = /^# (HELP|TYPE) ([a-zA-Z_:][a-zA-Z0-9_:]*) ?(.*)$/.exec(line);
    if (meta) {
      const f = family(meta[2]!, meta[1] as 'HELP' | 'TYPE');
      if (meta[1] === 'HELP') f.help = meta[3];
      else f.type = meta[3];
      continue;
    }
    const sample = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)(?: \S+)?$/.exec(line);
    if (!sample) {
      junk.push(line);
      continue;
    }
    const value = sample[3] === '+Inf' ? Infinity : sample[3] === '-Inf' ? -Infinity : Number(sample[3]);
    const parsed: Sample = { name: sample[1]!, labels: parseLabels(sample[2] ?? ''), value };
    samples.push(parsed);
    const owner = families.at(-1);
    if (owner && parsed.name.startsWith(owner.name)) owner.samples.push(parsed);
    else junk.push(line);
  }
  return { families, samples, junk, eofCount };
}

/** Samples named `name` whose labels include `labels`. */
export function samplesOf(exposition: Exposition, name: string, labels: Record<string, string> = {}): Sample[] {
  return exposition.samples.filter(
    (sample) => sample.name === name && Object.entries(labels).every(([key, value]) => sample.labels[key] === value),
  );
}

/** The one sample named `name` with exactly these labels (beyond none); throws if absent or ambiguous. */
export function valueOf(exposition: Exposition, name: string, labels: Record<string, string> = {}): number {
  const found = samplesOf(exposition, name, labels).filter(
    (sample) => Object.keys(sample.labels).length === Object.keys(labels).length,
  );
  if (found.length !== 1) {
    throw new Error(`expected one sample ${name}${JSON.stringify(labels)}, found ${found.length}`);
  }
  return found[0]!.value;
}

/** Sum of the samples named `name` whose labels include `labels`. */
export function sumOf(exposition: Exposition, name: string, labels: Record<string, string> = {}): number {
  return samplesOf(exposition, name, labels).reduce((sum, sample) => sum + sample.value, 0);
}

// ---------------------------------------------------------------------------
// promtool (Debian's `prometheus` package; .ci/run installs it).

export function hasPromtool(): boolean {
  const probe = spawnSync('promtool', ['--version'], { stdio: 'ignore', timeout: 10_000 });
  return !probe.error && probe.status === 0;
}

export interface PromtoolResult {
  code: number | string;
  output: string;
}

/** `promtool check metrics` with `body` on its stdin. */
export async function promtoolCheckMetrics(body: string, timeoutMs = 30_000): Promise<PromtoolResult> {
  const { code, stdout, stderr } = await runCommand('promtool', ['check', 'metrics'], { timeoutMs, input: body });
  return { code, output: stdout + stderr };
}
