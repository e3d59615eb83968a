// Entry point of a worker process: loads the pool's app, then serves the
// requests the master hands over until told to stop or orphaned.
import { closeSync } from 'node:fs';
import { inspect } from 'node:util';
import { EXIT } from '../control/exit-codes.js';
import { DispatchChannel } from '../ipc/channel.js';
import { splitClient } from '../ipc/connection-from.js';
import { mapConnectionTable } from '../ipc/connection-table.js';
import { WORKER_SETTINGS_ENV, type MasterMessage, type WorkerMessage, type WorkerSettings } from '../ipc/protocol.js';
import { CHANNEL_FD, MasterRecord, TABLE_FD } from '../ipc/records.js';
import { findAppMetrics, loadApp, type LoadedApp, type MetricsSource } from './app-loader.js';
import { enableCompileCache } from './compile-cache.js';
import { WorkerServer } from './server.js';

/** How long an orphaned worker lets in-flight requests run before it exits. */
const ORPHAN_GRACE_MS = 1000;

// With a callback, a failed send (the master just died) is not an 'error' event.
const ignore = (): void => {};

function send(message: WorkerMessage, then?: () => void): void {
  if (!process.connected) return then?.();
  process.send!(message, undefined, {}, then ?? ignore);
}

function readSettings(): WorkerSettings {
  const raw = process.env[WORKER_SETTINGS_ENV];
  if (!raw || !process.send) {
    console.error('poold worker: must be started by the poold master');
    process.exit(EXIT.SOFTWARE);
  }
  // The app should see only the environment its pool configured.
  delete process.env[WORKER_SETTINGS_ENV];
  return JSON.parse(raw) as WorkerSettings;
}

async function main(): Promise<void> {
  const settings = readSettings();
  // Before the app loads: its modules are what the cache is for.
  if (settings.compileCache) enableCompileCache(settings.compileCache);
  // The master drives the lifecycle. Without a listener, SIGUSR1 would open the
  // inspector and SIGINT/SIGHUP from a terminal would kill workers mid-request.
  for (const signal of ['SIGINT', 'SIGHUP', 'SIGUSR1', 'SIGUSR2'] as const) process.on(signal, () => {});

  let server: WorkerServer | null = null;
  let app: LoadedApp | null = null;
  // Looked up at scrape time, not at start: finding the app's prom-client walks
  // its node_modules, and ondemand's first request waits for the start. (Until
  // found, each scrape looks again: the app may load prom-client late.)
  let appMetrics: MetricsSource | null = null;
  let stopRequested = false;
  const stop = (handBack: boolean, upgradedGraceMs = 0): void => {
    if (stopRequested) return;
    stopRequested = true;
    if (!server) process.exit(0);
    server
      .stop(handBack, upgradedGraceMs)
      .catch((err: unknown) => console.error('shutdown() failed:', err))
      .finally(() => process.exit(0));
  };
  process.on('SIGQUIT', () => stop(false));
  // What it reads at most per record: a request head and what came with it in the master's read.
  const capacity = settings.maxHeaderSize + 65536;
  const channel = new DispatchChannel(CHANNEL_FD, capacity, (type, id, fd, payload) => {
    if (type === MasterRecord.connection || type === MasterRecord.connectionFrom) {
      const { client, head } = type === MasterRecord.connectionFrom ? splitClient(payload!) : { client: null, head: payload };
      if (server) server.receive(fd, id, head, client);
      else if (fd >= 0) closeSync(fd);
    } else if (type === MasterRecord.watch) server?.watch(id === 1);
  });
  const table = mapConnectionTable(TABLE_FD);
  closeSync(TABLE_FD);
  process.on('message', (message: MasterMessage) => {
    if (message.t === 'stop') stop(message.handBack, message.upgradedGraceMs);
    else if (message.t === 'reopen') server?.reopenLogs();
    else if (message.t === 'metrics') {
      const id = message.id;
      if (app) appMetrics ??= findAppMetrics(settings.app, app.exports);
      void (appMetrics ? appMetrics.getMetricsAsJSON() : Promise.resolve(null))
        .catch(() => null)
        .then((data) => send({ t: 'appMetrics', id, data }));
    }
  });
  // The master is gone (even SIGKILLed): no orphan keeps serving.
  process.on('disconnect', () => {
    setTimeout(() => process.exit(1), ORPHAN_GRACE_MS).unref();
    stop(false);
  });

  try {
    const loaded = await loadApp(settings.app);
    app = loaded;
    server = await WorkerServer.start(loaded, settings, (message) => send(message), channel, table);
  } catch (err) {
    const error = err instanceof Error && err.stack ? err.stack : inspect(err);
    send({ t: 'fail', error }, () => process.exit(1));
    return;
  }
  if (stopRequested) process.exit(0);
  send({ t: 'ready' });
}

void main();
