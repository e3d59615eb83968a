import net from 'node:net';
import type { ControlRequest, ControlResponse } from '../master/control.js';
import { controlSocketPath } from '../master/control-path.js';
import { EXIT } from './exit-codes.js';
import { findMaster, type TargetOptions } from './target.js';

/** Sends one request to the master's control socket and waits for its one-line answer. */
export function sendControl(socketPath: string, request: ControlRequest, timeoutMs: number): Promise<ControlResponse> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(socketPath);
    let answer = '';
    socket.setEncoding('utf8');
    socket.setTimeout(timeoutMs, () => socket.destroy(new Error(`no answer from the master within ${timeoutMs / 1000}s`)));
    socket.on('connect', () => socket.write(`${JSON.stringify(request)}\n`));
    socket.on('data', (chunk: string) => (answer += chunk));
    socket.on('error', reject);
    socket.on('end', () => {
      try {
        resolve(JSON.parse(answer) as ControlResponse);
      } catch {
        reject(new Error('the master closed the control connection without an answer'));
      }
    });
  });
}

/** Runs a control command against the master found through `options`, printing its answer. */
export async function runControlCommand(
  options: TargetOptions,
  request: ControlRequest,
  timeoutMs: number,
): Promise<{ code: number; response: ControlResponse | null }> {
  const target = findMaster(options);
  if (typeof target === 'number') return { code: target, response: null };
  const socketPath = controlSocketPath(target.pidFile);
  let response: ControlResponse;
  try {
    response = await sendControl(socketPath, request, timeoutMs);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EACCES') {
      process.stderr.write(`ERROR: permission denied: poold (pid ${target.pid}) runs as another user\n`);
      return { code: EXIT.NOPERM, response: null };
    }
    process.stderr.write(`ERROR: cannot reach poold (pid ${target.pid}) at ${socketPath}: ${(err as Error).message}\n`);
    return { code: EXIT.UNAVAILABLE, response: null };
  }
  for (const message of response.messages) process.stderr.write(`${response.ok ? 'NOTICE' : 'ERROR'}: ${message}\n`);
  return { code: response.code, response };
}
