// Inputs for the process-manager unit tests: a complete PoolConfig and worker views.
import type { PoolConfig } from '../../src/config/types.js';
import { INITIAL_PM_STATE, type PmInput, type WorkerView } from '../../src/pm/types.js';

/** A pool with every PoolConfig field set (the compiler checks none is missing). */
export function poolConfig(overrides: Partial<PoolConfig> = {}): PoolConfig {
  return {
    name: 'www',
    prefix: null,
    user: null,
    group: null,
    listen: { kind: 'tcp', host: '127.0.0.1', port: 9000 },
    listenBacklog: 511,
    listenOwner: null,
    listenGroup: null,
    listenMode: 0o660,
    listenAllowedClients: ['any'],
    listenTrustedProxies: [],
    app: '/srv/app.js',
    processPriority: null,
    chdir: '/srv',
    pm: 'dynamic',
    maxChildren: 10,
    maxConcurrency: 1,
    startServers: 2,
    minSpareServers: 2,
    maxSpareServers: 4,
    maxSpawnRate: 32,
    processIdleTimeout: 10_000,
    maxRequests: 0,
    maxRequestsJitter: 0,
    maxMemory: 0,
    requestTerminateTimeout: 0,
    maxLoopBlock: 10_000,
    requestSlowlogTimeout: 0,
    requestSlowlogTraceDepth: 20,
    slowlog: null,
    listenQueueMax: 0,
    listenQueueTimeout: 0,
    httpHeadersTimeout: 60_000,
    httpRequestTimeout: 300_000,
    httpKeepaliveTimeout: 5_000,
    httpMaxHeaderSize: 16 * 1024,
    accessLog: null,
    accessFormat: '%R - %u %t "%m %r" %s',
    accessSuppressPath: [],
    catchWorkersOutput: true,
    decorateWorkersOutput: true,
    statusPath: null,
    pingPath: null,
    pingResponse: 'pong',
    env: {},
    clearEnv: true,
    rlimitFiles: 0,
    rlimitCore: 0,
    sources: {},
    ...overrides,
  };
}

export const NOW = 1_000_000;

let nextId = 1;

/** A ready worker with no load since `idleSince` (ms ago by default: 1 s). */
export function idle(idleSince = NOW - 1_000, startedAt = NOW - 60_000): WorkerView {
  return { id: nextId++, phase: 'ready', startedAt, idleSince, holdsUpgraded: false };
}

/** A ready worker with no load since `idleSince`, holding upgraded connections (WebSockets). */
export function idleWithUpgraded(idleSince = NOW - 1_000): WorkerView {
  return { ...idle(idleSince), holdsUpgraded: true };
}

/** A ready worker serving a request. */
export function busy(startedAt = NOW - 60_000): WorkerView {
  return { id: nextId++, phase: 'ready', startedAt, idleSince: null, holdsUpgraded: false };
}

/** A worker not ready yet (the pool reports idleSince for it too: it has no load). */
export function starting(idleSince: number | null = NOW - 100): WorkerView {
  return { id: nextId++, phase: 'starting', startedAt: NOW - 100, idleSince, holdsUpgraded: false };
}

/** A worker being stopped: still alive, still counts against pm.max_children. */
export function stopping(idleSince: number | null = NOW - 600_000): WorkerView {
  return { id: nextId++, phase: 'stopping', startedAt: NOW - 600_000, idleSince, holdsUpgraded: false };
}

export function many(count: number, make: () => WorkerView): WorkerView[] {
  return Array.from({ length: count }, make);
}

export function pmInput(overrides: Partial<PmInput> = {}): PmInput {
  return {
    config: poolConfig(),
    workers: [],
    queued: 0,
    now: NOW,
    reason: 'tick',
    state: INITIAL_PM_STATE,
    startsFailing: false,
    ...overrides,
  };
}

export const MAX_CHILDREN_WARNING = (n: number): string =>
  `server reached pm.max_children setting (${n}), consider raising it`;
