// A bounded load generator for the integration tests: N requests, at most C at
// a time, each on its own connection, every outcome recorded (never thrown).
import { get, type Response } from './poold.js';

export interface Outcome {
  path: string;
  status: number | null;
  body: string;
  error?: string;
}

/** Sends every path in `paths` with at most `concurrency` in flight; resolves with each outcome, in order. */
export async function load(port: number, paths: readonly string[], concurrency: number, timeoutMs = 15_000): Promise<Outcome[]> {
  const outcomes: Outcome[] = new Array(paths.length);
  let next = 0;
  const runner = async (): Promise<void> => {
    while (next < paths.length) {
      const index = next++;
      const path = paths[index]!;
      try {
        const response: Response = await get(port, path, timeoutMs);
        outcomes[index] = { path, status: response.status, body: response.body };
      } catch (err) {
        outcomes[index] = { path, status: null, body: '', error: (err as Error).message };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, paths.length) }, runner));
  return outcomes;
}

/** The outcomes that were not a 200, for an assertion message. */
export function failures(outcomes: readonly Outcome[]): Outcome[] {
  return outcomes.filter((outcome) => outcome.status !== 200);
}
