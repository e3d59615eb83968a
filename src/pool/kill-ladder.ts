/** After SIGTERM, how long a worker gets before SIGKILL (FPM's 1 s step). */
export const KILL_STEP_MS = 1000;

export interface Killable {
  kill(signal: NodeJS.Signals): void;
}

/**
 * SIGTERM to each target after `delayMs`, SIGKILL one step later for any the
 * app kept alive. Returns a function that cancels what has not happened yet.
 */
export function killLadder(targets: readonly Killable[], delayMs = 0): () => void {
  const term = setTimeout(() => targets.forEach((target) => target.kill('SIGTERM')), delayMs);
  const kill = setTimeout(() => targets.forEach((target) => target.kill('SIGKILL')), delayMs + KILL_STEP_MS);
  term.unref();
  kill.unref();
  return () => {
    clearTimeout(term);
    clearTimeout(kill);
  };
}
