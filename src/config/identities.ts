// Resolves the names a configuration gives to system accounts — `user`,
// `group`, `listen.owner`, `listen.group` — through NSS, with FPM's rules and
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

export interface PoolIdentities {
  /** null: the workers run as the master does. */
  runAs: RunAs | null;
  /** listen.owner and listen.group as ids; -1 leaves that one unchanged. */
  socketUid: number;
  socketGid: number;
}

export interface ResolvedIdentities {
  pools: Map<string, PoolIdentities>;
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
  const resolved: ResolvedIdentities = { pools: new Map(), issues: [], warnings: [], notices: [] };
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

  /** The passwd entry of `name`; reports it when `required` and missing. */
  const findUser = async (key: string, name: string, required: boolean): Promise<UserEntry | null> => {
    try {
      const entry = await lookup.user(name);
      if (entry === null && required) problem(key, `cannot get uid for user '${name}'`);
      return entry;
    } catch (err) {
      problem(key, `cannot get uid for user '${name}': ${(err as Error).message}`);
      return null;
    }
  };
  const findGid = async (key: string, name: string): Promise<number | null> => {
    if (isNumeric(name)) return Number(name);
    try {
      const entry = await lookup.group(name);
      if (entry === null) problem(key, `cannot get gid for group '${name}'`);
      return entry?.gid ?? null;
    } catch (err) {
      problem(key, `cannot get gid for group '${name}': ${(err as Error).message}`);
      return null;
    }
  };
  const findUid = async (key: string, name: string): Promise<number | null> =>
    isNumeric(name) ? Number(name) : ((await findUser(key, name, true))?.uid ?? null);

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
    const gid = pool.group === null ? null : await findGid('group', pool.group);
    if (pool.user !== null) {
      const entry = await findUser('user', pool.user, !isNumeric(pool.user));
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
  const socketUid = pool.listenOwner === null ? -1 : await findUid('listen.owner', pool.listenOwner);
  const socketGid = pool.listenGroup === null ? -1 : await findGid('listen.group', pool.listenGroup);
  if (result.issues.length === 0) result.identities = { runAs, socketUid: socketUid!, socketGid: socketGid! };
  return result;
}
