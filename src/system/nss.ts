// User and group look-ups through NSS (getent), so names from LDAP, SSSD or
// systemd's DynamicUser resolve as they do for every other program.
import { execFile } from 'node:child_process';

export interface UserEntry {
  name: string;
  uid: number;
  /** The user's primary group. */
  gid: number;
  home: string;
}

export interface GroupEntry {
  name: string;
  gid: number;
}

export interface AccountLookup {
  /** A user by name or uid; null when NSS knows none. */
  user(key: string): Promise<UserEntry | null>;
  /** A group by name or gid; null when NSS knows none. */
  group(key: string): Promise<GroupEntry | null>;
}

/** getent's exit status for "no such key". */
const NOT_FOUND = 2;

/**
 * One entry's fields (`name:x:uid:gid:...`), or null when the key is unknown.
 * Node's execFile, not execa: the master looks names up at every reload, and
 * at its open-file limit execa's failed spawn would take the master down
 * (spawn-worker.ts).
 */
function getent(database: 'passwd' | 'group', key: string): Promise<string[] | null> {
  return new Promise((resolve, reject) => {
    // `--` keeps a key starting with '-' a key.
    execFile('getent', [database, '--', key], { timeout: 10_000 }, (error, stdout) => {
      if (!error) return resolve(stdout.split('\n')[0]!.split(':'));
      if (error.code === NOT_FOUND) return resolve(null);
      reject(new Error(`getent ${database} failed: ${error.message.split('\n')[0]}`));
    });
  });
}

export const nss: AccountLookup = {
  async user(key) {
    const fields = await getent('passwd', key);
    return fields && { name: fields[0]!, uid: Number(fields[2]), gid: Number(fields[3]), home: fields[5] ?? '' };
  },
  async group(key) {
    const fields = await getent('group', key);
    return fields && { name: fields[0]!, gid: Number(fields[2]) };
  },
};
