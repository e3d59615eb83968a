// Resolves the names a configuration gives to system accounts — `user`,
// `group`, `listen.owner`, `listen.group`, `status.listen.owner`, `status.listen.group` — through NSS, with FPM's rules and
// messages. Run by `poold test`, at start and at reload: the answer depends on
// the system and on who runs poold, not on the file alone.
import { nss, type AccountLookup, type UserEntry } from '../system/nss.js';
import { formatIssue, type ConfigIssue, type PoolConfig, type PooldConfig } from './types.js';

/** Whom a pool's workers run as: what setpriv sets before node starts. */
export interface RunAs {
  /** null: the master's (only `group` is set). */
  uid: number | null;
  gid: number;
  /** Supplementary groups: the user's (initgroups), none, or the master's. */
  groups: 'init' | 'clear' | 'keep';
  /** The user's name and home, for the workers' USER and HOME (null: no passwd entry). */
  user: string | null;
  home: string | null;
}

/** A unix socket's owner and group as ids; -1 leaves that one unchanged. */
export interface SocketIds {
  socketUid: number;
  socketGid: number;
}

export interface PoolIdentities extends SocketIds {
  /** null: the workers run as the master does. */
  runAs: RunAs | null;
}

export interface ResolvedIdentities {
  pools: Map<string, PoolIdentities>;
  /** status.listen.owner and status.listen.group, for a unix status socket. */
  statusSocket: SocketIds;
  issues: ConfigIssue[];
  warnings: string[];
  notices: string[];
}

export interface IdentityContext {
  /** poold runs as root: only then do `user` and `group` apply, as in FPM. */
  isRoot: boolean;
  /** setpriv (util-linux) is there to start workers as another user. */
  hasSetpriv: boolean;
}

const isNumeric = (value: string): boolean => /^\d+$/.test(value);

export async function resolveIdentities(
  config: PooldConfig,
  context: IdentityContext,
  lookup: AccountLookup = nss,
): Promise<ResolvedIdentities> {
  const issues: ConfigIssue[] = [];
  const statusSocket = await socketOwner(
    lookup,
    (key, message) => void issues.push({ file: config.file, key, message }),
    ['status.listen.owner', config.global.statusListenOwner],
    ['status.listen.group', config.global.statusListenGroup],
  );
  const resolved: ResolvedIdentities = { pools: new Map(), statusSocket, issues, warnings: [], notices: [] };
  const results = await Promise.all(config.pools.map((pool) => resolvePool(pool, context, lookup)));
  for (const [index, pool] of config.pools.entries()) {
    const result = results[index]!;
    resolved.issues.push(...result.issues);
    resolved.warnings.push(...result.warnings);
    resolved.notices.push(...result.notices);
    if (result.identities) resolved.pools.set(pool.name, result.identities);
  }
  return resolved;
}

interface PoolResult {
  identities: PoolIdentities | null;
  issues: ConfigIssue[];
  warnings: string[];
  notices: string[];
}

async function resolvePool(pool: PoolConfig, context: IdentityContext, lookup: AccountLookup): Promise<PoolResult> {
  const result: PoolResult = { identities: null, issues: [], warnings: [], notices: [] };
  // A directive left unset has no line: the message names the pool only.
  const at = (key: string, message: string): ConfigIssue => ({ ...pool.sources[key], pool: pool.name, key, message });
  const problem = (key: string, message: string): void => void result.issues.push(at(key, message));

  let runAs: RunAs | null = null;
  if (!context.isRoot) {
    for (const key of ['user', 'group'] as const) {
      if (pool[key] !== null) {
        result.notices.push(formatIssue(at(key, `'${key}' directive is ignored when poold is not running as root`)));
      }
    }
  } else {
    // FPM's rules: a user's primary group unless `group` says otherwise; a bare
    // uid may have no passwd entry, and then no groups to initialise.
    const gid = pool.group === null ? null : await gidOf(lookup, problem, 'group', pool.group);
    if (pool.user !== null) {
      const entry = await userEntry(lookup, problem, 'user', pool.user, !isNumeric(pool.user));
      if (entry !== null) {
        runAs = { uid: entry.uid, gid: gid ?? entry.gid, groups: 'init', user: entry.name, home: entry.home };
      } else if (isNumeric(pool.user) && gid !== null) {
        runAs = { uid: Number(pool.user), gid, groups: 'clear', user: null, home: null };
      } else if (isNumeric(pool.user) && pool.group === null) {
        problem('user', `user '${pool.user}' has no passwd entry: set 'group' too`);
      }
    } else if (gid !== null) {
      runAs = { uid: null, gid, groups: 'keep', user: null, home: null };
    }
    if (runAs !== null && !context.hasSetpriv) {
      problem('user', 'setpriv (util-linux) is needed to start workers as another user or group');
    }
    if (result.issues.length === 0 && (runAs?.uid ?? 0) === 0) {
      // FPM refuses to start here; poold starts, so that quick starts and containers keep working.
      const unset = pool.user === null ? " ('user' is not set)" : '';
      result.warnings.push(formatIssue(at('user', `the workers of this pool run as root${unset}`)));
    }
  }
  const socket = await socketOwner(lookup, problem, ['listen.owner', pool.listenOwner], ['listen.group', pool.listenGroup]);
  if (result.issues.length === 0) result.identities = { runAs, ...socket };
  return result;
}

type Report = (key: string, message: string) => void;

/** The passwd entry of `name`; reported when `required` and missing. */
async function userEntry(lookup: AccountLookup, report: Report, key: string, name: string, required: boolean): Promise<UserEntry | null> {
  try {
    const entry = await lookup.user(name);
    if (entry === null && required) report(key, `cannot get uid for user '${name}'`);
    return entry;
  } catch (err) {
    report(key, `cannot get uid for user '${name}': ${(err as Error).message}`);
    return null;
  }
}

/** A group's id: as written when numeric, else through NSS; reported when unknown. */
async function gidOf(lookup: AccountLookup, report: Report, key: string, name: string): Promise<number | null> {
  if (isNumeric(name)) return Number(name);
  try {
    const entry = await lookup.group(name);
    if (entry === null) report(key, `cannot get gid for group '${name}'`);
    return entry?.gid ?? null;
  } catch (err) {
    report(key, `cannot get gid for group '${name}': ${(err as Error).message}`);
    return null;
  }
}

/** A unix socket's owner and group, each a [directive, name] (null name: unchanged, -1). */
async function socketOwner(
  lookup: AccountLookup,
  report: Report,
  [ownerKey, owner]: [string, string | null],
  [groupKey, group]: [string, string | null],
): Promise<SocketIds> {
  const uid = owner === null ? -1 : isNumeric(owner) ? Number(owner) : (await userEntry(lookup, report, ownerKey, owner, true))?.uid;
  const gid = group === null ? -1 : await gidOf(lookup, report, groupKey, group);
  return { socketUid: uid ?? -1, socketGid: gid ?? -1 };
}
