import os from 'node:os';

/**
 * Sets a process's nice value; null when done, else why not (lowering it
 * below the current value needs root or CAP_SYS_NICE).
 */
export function setProcessPriority(pid: number, priority: number): string | null {
  try {
    os.setPriority(pid, priority);
    return null;
  } catch (err) {
    const { code, message } = err as NodeJS.ErrnoException;
    return code === 'EACCES' || code === 'EPERM' ? `${code}: raising a process's priority needs root` : message;
  }
}
