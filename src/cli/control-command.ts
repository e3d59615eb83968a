import { sendControl } from '../control/client.js';
import { controlSocketPath } from '../control/control-path.js';
import { EXIT } from '../control/exit-codes.js';
import type { ControlRequest, ControlResponse } from '../control/protocol.js';
import { findMaster, type TargetOptions } from './target.js';

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
