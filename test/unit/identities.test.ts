import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { resolveIdentities, type IdentityContext } from '../../src/config/identities.js';
import type { PoolConfig, PooldConfig } from '../../src/config/types.js';
import { accountEnv, setprivCredentials } from '../../src/pool/run-as.js';
import type { AccountLookup } from '../../src/system/nss.js';
import { poolConfig } from '../helpers/pm-fixtures.js';

const FILE = '/etc/poold/pool.d/www.conf';
const ROOT: IdentityContext = { isRoot: true, hasSetpriv: true };
const NOT_ROOT: IdentityContext = { isRoot: false, hasSetpriv: true };

/** NSS as a table: www-data (33:33) and root; the group 'web' is 1000. */
const lookup: AccountLookup = {
  user: async (key) =>
    ({
      'www-data': { name: 'www-data', uid: 33, gid: 33, home: '/var/www' },
      '33': { name: 'www-data', uid: 33, gid: 33, home: '/var/www' },
      root: { name: 'root', uid: 0, gid: 0, home: '/root' },
    })[key] ?? null,
  group: async (key) => ({ 'www-data': { name: 'www-data', gid: 33 }, web: { name: 'web', gid: 1000 } })[key] ?? null,
};

/** A pool with these directives, each set at its own line of FILE. */
function config(directives: Partial<Record<'user' | 'group' | 'listen.owner' | 'listen.group', string>>): PooldConfig {
  const fields = { user: 'user', group: 'group', 'listen.owner': 'listenOwner', 'listen.group': 'listenGroup' } as const;
  const pool: PoolConfig = poolConfig();
  Object.entries(directives).forEach(([key, value], index) => {
    (pool as unknown as Record<string, string>)[fields[key as keyof typeof fields]] = value;
    pool.sources[key] = { file: FILE, line: index + 2 };
  });
  const global = { statusListenOwner: null, statusListenGroup: null } as unknown as PooldConfig['global'];
  return { file: FILE, global, pools: [pool] };
}

async function resolve(directives: Parameters<typeof config>[0], context = ROOT) {
  const result = await resolveIdentities(config(directives), context, lookup);
  return { ...result, identities: result.pools.get('www') };
}

describe('the status socket\'s owner and group', () => {
  it('resolves names through NSS, numbers as they are, and reports unknown names under their directive', async () => {
    const named = config({});
    Object.assign(named.global, { statusListenOwner: 'www-data', statusListenGroup: '4242' });
    assert.deepEqual((await resolveIdentities(named, ROOT, lookup)).statusSocket, { socketUid: 33, socketGid: 4242 });
    const unknown = config({});
    Object.assign(unknown.global, { statusListenOwner: 'nobody-here', statusListenGroup: 'no-group' });
    assert.deepEqual((await resolveIdentities(unknown, ROOT, lookup)).issues, [
      { file: FILE, key: 'status.listen.owner', message: "cannot get uid for user 'nobody-here'" },
      { file: FILE, key: 'status.listen.group', message: "cannot get gid for group 'no-group'" },
    ]);
  });
});

describe('resolveIdentities as root', () => {
  it("runs the workers as the user, in its primary group, with its groups initialised", async () => {
    const { identities, issues, warnings } = await resolve({ user: 'www-data' });
    assert.deepEqual(issues, []);
    assert.deepEqual(warnings, []);
    assert.deepEqual(identities?.runAs, { uid: 33, gid: 33, groups: 'init', user: 'www-data', home: '/var/www' });
  });

  it('takes `group` over the primary group, by name or number', async () => {
    assert.equal((await resolve({ user: 'www-data', group: 'web' })).identities?.runAs?.gid, 1000);
    assert.equal((await resolve({ user: 'www-data', group: '7' })).identities?.runAs?.gid, 7);
  });

  it('takes a uid without a passwd entry only with a group, and then without supplementary groups', async () => {
    const { identities } = await resolve({ user: '4242', group: 'web' });
    assert.deepEqual(identities?.runAs, { uid: 4242, gid: 1000, groups: 'clear', user: null, home: null });
    const alone = await resolve({ user: '4242' });
    assert.deepEqual(alone.issues, [
      { file: FILE, line: 2, pool: 'www', key: 'user', message: "user '4242' has no passwd entry: set 'group' too" },
    ]);
  });

  it('with only `group`, changes the group and keeps the rest, with the root warning', async () => {
    const { identities, warnings } = await resolve({ group: 'web' });
    assert.deepEqual(identities?.runAs, { uid: null, gid: 1000, groups: 'keep', user: null, home: null });
    assert.deepEqual(warnings, ["[pool www] the workers of this pool run as root ('user' is not set)"]);
  });

  it('warns, and does not refuse, when the workers would run as root', async () => {
    const unset = await resolve({});
    assert.equal(unset.identities?.runAs, null);
    assert.deepEqual(unset.warnings, ["[pool www] the workers of this pool run as root ('user' is not set)"]);
    const root = await resolve({ user: 'root' });
    assert.deepEqual(root.warnings, [`[${FILE}:2] [pool www] the workers of this pool run as root`]);
  });

  it("reports names NSS does not know with FPM's messages, at their lines, all at once", async () => {
    const { issues, identities } = await resolve({ user: 'nobody-here', group: 'nogroup-here', 'listen.owner': 'x', 'listen.group': 'y' });
    assert.equal(identities, undefined);
    assert.deepEqual(
      issues.map((issue) => [issue.line, issue.key, issue.message]),
      [
        [3, 'group', "cannot get gid for group 'nogroup-here'"],
        [2, 'user', "cannot get uid for user 'nobody-here'"],
        [4, 'listen.owner', "cannot get uid for user 'x'"],
        [5, 'listen.group', "cannot get gid for group 'y'"],
      ],
    );
  });

  it('reports a failing look-up with its reason', async () => {
    const broken: AccountLookup = { user: () => Promise.reject(new Error('getent: not found')), group: lookup.group };
    const result = await resolveIdentities(config({ user: 'www-data' }), ROOT, broken);
    assert.deepEqual(result.issues.map((issue) => issue.message), ["cannot get uid for user 'www-data': getent: not found"]);
  });

  it('refuses another user without setpriv', async () => {
    const result = await resolveIdentities(config({ user: 'www-data' }), { isRoot: true, hasSetpriv: false }, lookup);
    assert.deepEqual(result.issues.map((issue) => issue.message), [
      'setpriv (util-linux) is needed to start workers as another user or group',
    ]);
  });
});

describe('resolveIdentities not as root', () => {
  it("ignores user and group with FPM's notice, and looks nothing up for them", async () => {
    const { identities, issues, warnings, notices } = await resolve({ user: 'nobody-here', group: 'web' }, NOT_ROOT);
    assert.deepEqual(issues, []);
    assert.deepEqual(warnings, []);
    assert.equal(identities?.runAs, null);
    assert.deepEqual(notices, [
      `[${FILE}:2] [pool www] 'user' directive is ignored when poold is not running as root`,
      `[${FILE}:3] [pool www] 'group' directive is ignored when poold is not running as root`,
    ]);
  });

  it('still resolves listen.owner and listen.group, numbers as they are', async () => {
    const { identities } = await resolve({ 'listen.owner': 'www-data', 'listen.group': '44' }, NOT_ROOT);
    assert.deepEqual(identities, { runAs: null, socketUid: 33, socketGid: 44 });
    assert.deepEqual((await resolve({}, NOT_ROOT)).identities, { runAs: null, socketUid: -1, socketGid: -1 });
  });
});

describe('setpriv options and environment', () => {
  it('sets uid, gid and groups; nothing for the master\'s own user', () => {
    assert.deepEqual(setprivCredentials(null), []);
    assert.deepEqual(setprivCredentials({ uid: 33, gid: 33, groups: 'init', user: 'www-data', home: '/var/www' }), [
      '--reuid', '33', '--regid', '33', '--init-groups',
    ]);
    assert.deepEqual(setprivCredentials({ uid: null, gid: 7, groups: 'keep', user: null, home: null }), ['--regid', '7', '--keep-groups']);
  });

  it("gives USER and HOME of the pool's user", () => {
    assert.deepEqual(accountEnv({ uid: 33, gid: 33, groups: 'init', user: 'www-data', home: '/var/www' }), {
      USER: 'www-data',
      HOME: '/var/www',
    });
    assert.deepEqual(accountEnv({ uid: 4242, gid: 1, groups: 'clear', user: null, home: null }), {});
    assert.deepEqual(accountEnv(null), {});
  });
});
