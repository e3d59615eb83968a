/**
 * emergency_restart_threshold / emergency_restart_interval, as in FPM: when
 * `threshold` workers crashed within `intervalMs`, the master reloads. A ring
 * of the last `threshold` crash times: the oldest of them decides.
 */
export class CrashWindow {
  private readonly times: number[] = [];

  constructor(
    private readonly threshold: number,
    private readonly intervalMs: number,
  ) {}

  /** Records a crash at `now`; true when it completes `threshold` crashes within the interval (the ring starts over). */
  record(now: number): boolean {
    if (this.threshold === 0 || this.intervalMs === 0) return false;
    this.times.push(now);
    if (this.times.length > this.threshold) this.times.shift();
    if (this.times.length < this.threshold || now - this.times[0]! > this.intervalMs) return false;
    this.times.length = 0;
    return true;
  }
}
