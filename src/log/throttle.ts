/**
 * Lets a repeated log line through at most once per interval, and says how
 * many were held back since the last one: a condition that recurs on every
 * accept or every tick must not flood the error log.
 */
export class LogThrottle {
  private lastAt = -Infinity;
  private held = 0;

  constructor(private readonly intervalMs: number) {}

  /** The line to log now (with the count held back, if any), or null to hold it back. */
  pass(line: string, now = Date.now()): string | null {
    if (now - this.lastAt < this.intervalMs) {
      this.held++;
      return null;
    }
    this.lastAt = now;
    const held = this.held;
    this.held = 0;
    return held > 0 ? `${line} (${held} more since the last report)` : line;
  }
}
