// User and group look-ups through NSS (getent), so names from LDAP, SSSD or
// systemd's DynamicUser resolve as they do for every other program.
import { execa } from 'execa';

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

/** One entry's fields (`name:x:uid:gid:...`), or null when the key is unknown. */
async function getent(database: 'passwd' | 'group', key: string): Promise<string[] | null> {
  // `--` keeps a key starting with '-' a key.
  const result = await execa('getent', [database, '--', key], { reject: false, stdin: 'ignore' });
  if (result.exitCode === NOT_FOUND) return null;
  if (result.failed) throw new Error(`getent ${database} failed: ${result.shortMessage}`);
  return result.stdout.split('\n')[0]!.split(':');
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
