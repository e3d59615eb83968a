/** The control socket lives next to the pid file: /run/poold.pid → /run/poold.sock. */
export function controlSocketPath(pidFile: string): string {
  return pidFile.endsWith('.pid') ? `${pidFile.slice(0, -4)}.sock` : `${pidFile}.sock`;
}
