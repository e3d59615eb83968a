import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { proxyFilter } from '../../src/net/client-list.js';
import { forwardedClient } from '../../src/net/forwarded.js';
import { parseProxyHeader } from '../../src/net/proxy-protocol.js';

const SIGNATURE = Buffer.from('0d0a0d0a000d0a515549540a', 'hex');

function v2(command: number, family: number, body: Buffer): Buffer {
  const fixed = Buffer.alloc(4);
  fixed[0] = 0x20 | command;
  fixed[1] = family;
  fixed.writeUInt16BE(body.length, 2);
  return Buffer.concat([SIGNATURE, fixed, body]);
}

describe('PROXY protocol headers', () => {
  it('reads version 1 for TCP4, TCP6 and UNKNOWN, and measures the header', () => {
    const line = 'PROXY TCP4 192.0.2.7 127.0.0.1 56324 8080\r\n';
    assert.deepEqual(parseProxyHeader(Buffer.from(`${line}GET / HTTP/1.1\r\n`)), {
      kind: 'header',
      length: line.length,
      client: { address: '192.0.2.7', port: 56324 },
    });
    const six = 'PROXY TCP6 2001:db8::1 ::1 4711 80\r\n';
    assert.deepEqual(parseProxyHeader(Buffer.from(six)), {
      kind: 'header',
      length: six.length,
      client: { address: '2001:db8::1', port: 4711 },
    });
    assert.deepEqual(parseProxyHeader(Buffer.from('PROXY UNKNOWN\r\n')), { kind: 'header', length: 15, client: null });
  });

  it('reads version 2 for IPv4 and IPv6, and LOCAL as no client', () => {
    const v4 = Buffer.from([192, 0, 2, 9, 127, 0, 0, 1, 0xdb, 0xf0, 0x1f, 0x90, 0xaa]); // a TLV byte after the addresses
    assert.deepEqual(parseProxyHeader(Buffer.concat([v2(1, 0x11, v4), Buffer.from('GET')])), {
      kind: 'header',
      length: 16 + v4.length,
      client: { address: '192.0.2.9', port: 0xdbf0 },
    });
    const v6 = Buffer.alloc(36);
    Buffer.from('20010db8000000000000000000000001', 'hex').copy(v6, 0);
    v6.writeUInt16BE(443, 32);
    assert.deepEqual(parseProxyHeader(v2(1, 0x21, v6)), { kind: 'header', length: 52, client: { address: '2001:db8::1', port: 443 } });
    assert.deepEqual(parseProxyHeader(v2(0, 0x00, Buffer.alloc(0))), { kind: 'header', length: 16, client: null });
  });

  it('asks for more bytes while a header may still be arriving, and says none for plain HTTP', () => {
    assert.deepEqual(parseProxyHeader(Buffer.alloc(0)), { kind: 'incomplete' });
    assert.deepEqual(parseProxyHeader(Buffer.from('PRO')), { kind: 'incomplete' });
    assert.deepEqual(parseProxyHeader(Buffer.from('PROXY TCP4 192.0.2.7')), { kind: 'incomplete' });
    assert.deepEqual(parseProxyHeader(SIGNATURE.subarray(0, 5)), { kind: 'incomplete' });
    assert.deepEqual(parseProxyHeader(v2(1, 0x11, Buffer.alloc(12)).subarray(0, 20)), { kind: 'incomplete' });
    assert.deepEqual(parseProxyHeader(Buffer.from('GET / HTTP/1.1\r\n')), { kind: 'none' });
    assert.deepEqual(parseProxyHeader(Buffer.from('\r\n\r\nxyz')), { kind: 'none' });
  });

  it('refuses malformed headers', () => {
    assert.equal(parseProxyHeader(Buffer.from('PROXY TCP4 nope 127.0.0.1 1 2\r\n')).kind, 'invalid');
    assert.equal(parseProxyHeader(Buffer.from('PROXY TCP4 192.0.2.7 127.0.0.1 99999 2\r\n')).kind, 'invalid');
    assert.equal(parseProxyHeader(Buffer.from(`PROXY ${'x'.repeat(120)}`)).kind, 'invalid');
    assert.equal(parseProxyHeader(Buffer.concat([SIGNATURE, Buffer.from([0x11, 0x11, 0, 0])])).kind, 'invalid');
  });
});

describe('the client behind proxies', () => {
  const trusted = (address: string) => address.startsWith('10.');

  it('takes the nearest address that is not a trusted proxy, reading X-Forwarded-For from the right', () => {
    assert.equal(forwardedClient({ 'x-forwarded-for': '203.0.113.5' }, trusted), '203.0.113.5');
    assert.equal(forwardedClient({ 'x-forwarded-for': '198.51.100.1, 203.0.113.5, 10.0.0.2' }, trusted), '203.0.113.5');
    // A client cannot hide behind addresses it wrote itself: they sit left of the one the proxy saw.
    assert.equal(forwardedClient({ 'x-forwarded-for': '10.9.9.9, 203.0.113.5' }, trusted), '203.0.113.5');
    assert.equal(forwardedClient({ 'x-forwarded-for': '10.0.0.9, 10.0.0.2' }, trusted), '10.0.0.9', 'all trusted: the farthest');
  });

  it('reads Forwarded when there is no X-Forwarded-For, and gives up on what is not an address', () => {
    assert.equal(forwardedClient({ forwarded: 'for=192.0.2.60;proto=http, for="[2001:db8::1]:4711"' }, trusted), '2001:db8::1');
    assert.equal(forwardedClient({ forwarded: 'for="_hidden"' }, trusted), null);
    assert.equal(forwardedClient({ 'x-forwarded-for': 'unknown' }, trusted), null);
    assert.equal(forwardedClient({}, trusted), null);
  });

  it('trusts listed peers, and unix socket peers only with unix:', () => {
    assert.equal(proxyFilter(['10.0.0.0/8'])('10.1.2.3'), true);
    assert.equal(proxyFilter(['10.0.0.0/8'])('192.0.2.1'), false);
    assert.equal(proxyFilter(['10.0.0.0/8'])(undefined), false);
    assert.equal(proxyFilter(['unix:'])(undefined), true);
    assert.equal(proxyFilter(['unix:'])('127.0.0.1'), false);
    assert.equal(proxyFilter([])('127.0.0.1'), false);
  });
});
