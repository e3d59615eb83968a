// Runs in a worker thread of each worker process when request_slowlog_timeout
// is set: watches the main thread's current request and writes its JavaScript
// stack to the slowlog once it runs too long.
import { appendFileSync, readSync } from 'node:fs';
import { Session } from 'node:inspector';
import { fileURLToPath } from 'node:url';
import { workerData } from 'node:worker_threads';
import { inheritedDescriptor, writeToDescriptor } from '../log/inherited-fd.js';
import { fpmTimestamp } from '../log/timestamp.js';
import { SLOT_SIZE, decodeSlot, readWhole, slotOffset } from '../scoreboard/layout.js';
import { REQUEST_START, type WatchdogData } from './slowlog-watchdog.js';

/** A stack not delivered by then is reported as a failed dump, like FPM's "+++ dump failed". */
const CAPTURE_TIMEOUT_MS = 2000;
/** The slot is re-read this often if its writer tears it; the slowlog entry then names no request. */
const CURRENT_REQUEST_ATTEMPTS = 10;

interface CallFrame {
  functionName: string;
  location: { scriptId: string; lineNumber: number; columnNumber?: number };
}

const data = workerData as WatchdogData;
const shared = new Float64Array(data.shared);

function where(url: string): string {
  return url.startsWith('file:') ? fileURLToPath(url) : url || '<anonymous>';
}

/**
 * Pauses the main thread just long enough to copy its call stack. The session
 * lives only for the capture: one left connected makes the process print
 * "Waiting for the debugger to disconnect..." when it exits.
 */
function captureStack(): Promise<string[] | null> {
  const session = new Session();
  session.connectToMainThread();
  // Call frames name scripts by id; enabling the debugger announces every script's URL.
  const scriptUrls = new Map<string, string>();
  session.on('Debugger.scriptParsed', ({ params }) => scriptUrls.set(params.scriptId, params.url));
  return new Promise<string[] | null>((resolve) => {
    const timer = setTimeout(() => resolve(null), CAPTURE_TIMEOUT_MS);
    session.once('Debugger.paused', (message) => {
      clearTimeout(timer);
      const frames = (message.params.callFrames as CallFrame[]).slice(0, data.traceDepth).map(
        (frame, index) =>
          `[frame ${index}] ${frame.functionName || '<anonymous>'}() ${where(scriptUrls.get(frame.location.scriptId) ?? '')}:` +
          `${frame.location.lineNumber + 1}:${(frame.location.columnNumber ?? 0) + 1}`,
      );
      session.post('Debugger.resume', () => resolve(frames));
    });
    session.post('Debugger.enable', () => session.post('Debugger.pause'));
  }).finally(() => session.disconnect());
}

function currentRequest(): string {
  const bytes = Buffer.alloc(SLOT_SIZE);
  const slot = readWhole(CURRENT_REQUEST_ATTEMPTS, () => {
    readSync(data.scoreboardFd, bytes, 0, SLOT_SIZE, slotOffset(data.slot));
    return decodeSlot(bytes, 0);
  });
  return slot ? `${slot.method} ${slot.uri}` : '-';
}

/** The start time of the request last logged: each request is logged once. */
let loggedStart = 0;
let capturing = false;

async function check(): Promise<void> {
  const startedAt = shared[REQUEST_START]!;
  if (capturing || startedAt <= 0 || startedAt === loggedStart || Date.now() - startedAt <= data.timeoutMs) return;
  capturing = true;
  loggedStart = startedAt;
  try {
    const request = currentRequest();
    const frames = await captureStack();
    const lines = [
      '',
      `[${fpmTimestamp()}]  [pool ${data.pool}] pid ${process.pid}`,
      `script_filename = ${data.app}`,
      `request = ${request}`,
      ...(frames ?? ['+++ dump failed']),
      '',
    ];
    const fd = inheritedDescriptor(data.slowlog);
    if (fd !== null) writeToDescriptor(fd, lines.join('\n'));
    // Opened per entry, so a log rotated by rename is followed without a reopen.
    else appendFileSync(data.slowlog, lines.join('\n'));
  } finally {
    capturing = false;
  }
}

// This interval also keeps the thread alive: the inspector session alone does not.
setInterval(() => void check(), Math.max(20, Math.min(250, data.timeoutMs / 4)));
