/** sysexits(3) codes, as FPM uses them. */
export const EXIT = {
  OK: 0,
  USAGE: 64,
  /**
   * Something poold needs is missing or taken: a support file (the native
   * helper, for `start` and `test`), a listen address, a master not running.
   */
  UNAVAILABLE: 69,
  SOFTWARE: 70,
  CONFIG: 78,
} as const;
