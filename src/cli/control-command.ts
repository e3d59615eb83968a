import { sendControl } from '../control/client.js';
import { controlSocketPath } from '../control/control-path.js';
import { EXIT } from '../control/exit-codes.js';
import type { ControlRequest, ControlResponse } from '../control/protocol.js';
import { findMaster, type TargetOptions } from './target.js';

/** Asks the master at `pidFile` (pid `pid`): its answer, or why there is none (the message, and the exit code it calls for). */
export async function askMaster(
  { pidFile, pid }: { pidFile: string; pid: number },
  request: ControlRequest,
  timeoutMs: number,
): Promise<{ response: ControlResponse } | { code: number; message: string }> {
  const socketPath = controlSocketPath(pidFile);
  try {
    return { response: await sendControl(socketPath, request, timeoutMs) };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EACCES') {
      return { code: EXIT.NOPERM, message: `permission denied: poold (pid ${pid}) runs as another user` };
    }
    return { code: EXIT.UNAVAILABLE, message: `cannot reach poold (pid ${pid}) at ${socketPath}: ${(err as Error).message}` };
  }
}

/** Runs a control command against the master found through `options`, printing its answer. */
export async function runControlCommand(
  options: TargetOptions,
  request: ControlRequest,
  timeoutMs: number,
): Promise<{ code: number; response: ControlResponse | null }> {
  const target = findMaster(options);
  if (typeof target === 'number') return { code: target, response: null };
  const answer = await askMaster(target, request, timeoutMs);
  if ('message' in answer) {
    process.stderr.write(`ERROR: ${answer.message}\n`);
    return { code: answer.code, response: null };
  }
  const { response } = answer;
  for (const message of response.messages) process.stderr.write(`${response.ok ? 'NOTICE' : 'ERROR'}: ${message}\n`);
  return { code: response.code, response };
}
