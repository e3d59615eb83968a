/**
 * Writes a repeated log line at most once per interval, saying how many were
 * held back since the last one: a condition that recurs on every accept or
 * every tick must not flood the error log.
 */
export class ThrottledLog {
  private lastAt = -Infinity;
  private held = 0;

  constructor(
    private readonly intervalMs: number,
    private readonly write: (line: string) => void,
  ) {}

  report(line: string, now = Date.now()): void {
    if (now - this.lastAt < this.intervalMs) {
      this.held++;
      return;
    }
    this.lastAt = now;
    this.write(this.held > 0 ? `${line} (${this.held} more since the last report)` : line);
    this.held = 0;
  }
}
