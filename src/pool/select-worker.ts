/** The part of a worker that dispatch looks at. */
export interface Candidate {
  accepting: boolean;
  load: number;
  lastFreeAt: number;
}

/**
 * The worker that should take the next connection: one with spare capacity
 * (load below pm.max_concurrency), the least loaded, and among equals the one
 * that has been free longest. None means the connection must wait.
 */
export function selectWorker<W extends Candidate>(workers: Iterable<W>, maxConcurrency: number): W | undefined {
  let best: W | undefined;
  for (const worker of workers) {
    if (!worker.accepting || worker.load >= maxConcurrency) continue;
    if (
      !best ||
      worker.load < best.load ||
      (worker.load === best.load && worker.lastFreeAt < best.lastFreeAt)
    ) {
      best = worker;
    }
  }
  return best;
}
