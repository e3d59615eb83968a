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
  /** A file poold must create (the pid file) cannot be. */
  CANTCREAT: 73,
  /** The master belongs to another user: signalling or reaching it is not allowed. */
  NOPERM: 77,
  CONFIG: 78,
} as const;
