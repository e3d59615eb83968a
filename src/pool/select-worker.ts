/** The part of a worker that dispatch looks at. */
export interface Candidate {
  accepting: boolean;
  /** Requests in flight (as its slot last showed them, plus those handed over since). */
  load: number;
  /** Client connections it holds, idle kept-alive ones included. */
  held: number;
  /** Upgraded connections (WebSockets) it holds: not requests, but they share its event loop for as long as they last. */
  upgraded: number;
  lastFreeAt: number;
}

/**
 * The worker that should take the next request: one with room (load below
 * pm.max_concurrency); the least loaded; among equals the one holding the
 * fewest connections (each may bring a request at any moment, and one held
 * beyond its room is handed back, which costs a move); then the one holding
 * the fewest upgraded connections (their messages compete with requests for
 * its event loop); then the one free the longest. None means the request must wait.
 */
export function selectWorker<W extends Candidate>(workers: Iterable<W>, maxConcurrency: number): W | undefined {
  let best: W | undefined;
  for (const worker of workers) {
    if (!worker.accepting || worker.load >= maxConcurrency) continue;
    if (
      !best ||
      worker.load < best.load ||
      (worker.load === best.load &&
        (worker.held < best.held ||
          (worker.held === best.held &&
            (worker.upgraded < best.upgraded ||
              (worker.upgraded === best.upgraded && worker.lastFreeAt < best.lastFreeAt)))))
    ) {
      best = worker;
    }
  }
  return best;
}
