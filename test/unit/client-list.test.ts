import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { clientEntryProblem, clientFilter } from '../../src/net/client-list.js';

describe('client lists', () => {
  it('matches addresses and subnets of both families, and IPv4-mapped clients against IPv4 entries', () => {
    const allowed = clientFilter(['127.0.0.1', '10.1.0.0/16', '::1', 'fd00::/8']);
    assert.equal(allowed('127.0.0.1'), true);
    assert.equal(allowed('::ffff:127.0.0.1'), true);
    assert.equal(allowed('127.0.0.2'), false);
    assert.equal(allowed('10.1.255.3'), true);
    assert.equal(allowed('10.2.0.1'), false);
    assert.equal(allowed('::1'), true);
    assert.equal(allowed('fd12::5'), true);
    assert.equal(allowed('fe80::1'), false);
  });

  it('lets everyone in with any, and unix socket peers (no address) always', () => {
    assert.equal(clientFilter(['any'])('192.0.2.1'), true);
    assert.equal(clientFilter(['127.0.0.1'])(undefined), true);
  });

  it('says what is wrong with an entry', () => {
    assert.equal(clientEntryProblem('127.0.0.1'), null);
    assert.equal(clientEntryProblem('::/0'), null);
    assert.equal(clientEntryProblem('localhost'), "'localhost' is not an IP address, a subnet (address/prefix) or 'any'");
    assert.equal(clientEntryProblem('10.0.0.0/33'), "'10.0.0.0/33': the prefix length must be a number from 0 to 32");
    assert.equal(clientEntryProblem('::1/x'), "'::1/x': the prefix length must be a number from 0 to 128");
  });
});
