/**
 * The control socket lives next to the pid file, under a suffix of its own:
 * /run/poold.pid → /run/poold.control. Not `.sock`: that is what pool sockets
 * are called, and Debian's php-fpm names its pool socket after its pid file.
 */
export function controlSocketPath(pidFile: string): string {
  return `${pidFile.endsWith('.pid') ? pidFile.slice(0, -4) : pidFile}.control`;
}
