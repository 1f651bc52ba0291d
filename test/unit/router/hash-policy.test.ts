import * as assert from 'node:assert/strict';
import type { HashPolicyConfig } from '../../../sidecar/src/config/route-config';
import { combineHash64, hash64Hex, xxHash64 } from '../../../sidecar/src/core/xxhash64';
import { computeRequestHash } from '../../../sidecar/src/router/hash-policy';
import { ObjectHeaderMap, type HeaderObject } from '../../../sidecar/src/router/header-map';
import type { RouteRequest } from '../../../sidecar/src/router/route-request';

const CONN = { remoteAddress: '192.168.1.7', remotePort: 40000, localAddress: '10.0.0.9', localPort: 15006 };

function request(headers: HeaderObject, path = '/'): RouteRequest {
  return { authority: 'svc', path, method: 'GET', headers: new ObjectHeaderMap(headers), isGrpc: false };
}

function hex(policies: HashPolicyConfig[], req: RouteRequest, conn = CONN): string | undefined {
  const h = computeRequestHash(policies, req, conn).hash;
  return h === undefined ? undefined : hash64Hex(h);
}

const header = (name: string, terminal = false): HashPolicyConfig => ({ kind: 'header', headerName: name, regexRewrite: null, terminal });

describe('computeRequestHash (Envoy hash_policy.cc, specs/load-balancing.md §1.5, §7.5)', () => {
  it('header: XXH64 of the value; absent -> no hash', () => {
    assert.equal(hex([header('x-user')], request({ 'x-user': 'alice' })), '0x73a3ea485f2e6049');
    assert.equal(hex([header('x-user')], request({})), undefined);
  });

  it('header: several values are sorted and hashed concatenated; a regex rewrite applies to each', () => {
    assert.equal(hex([header('x-user')], request({ 'x-user': ['bob', 'alice'] })), hash64Hex(xxHash64('alicebob')));
    const rewrite: HashPolicyConfig = { kind: 'header', headerName: 'x-user', regexRewrite: { regex: '^user-(\\d+)-.*$', substitution: '\\1' }, terminal: false };
    assert.equal(hex([rewrite], request({ 'x-user': 'user-123-session-9' })), hash64Hex(xxHash64('123')));
  });

  it('header :authority reads the pseudo-header', () => {
    assert.equal(hex([header(':authority')], request({})), hash64Hex(xxHash64('svc')));
  });

  it('source_ip: XXH64 of the IP without port (192.168.1.7 -> 0xaeb10a18da2bab38)', () => {
    assert.equal(hex([{ kind: 'source_ip', terminal: false }], request({})), '0xaeb10a18da2bab38');
  });

  it('query_parameter: the first value; absent -> none', () => {
    const q: HashPolicyConfig = { kind: 'query_parameter', name: 'user', terminal: false };
    assert.equal(hex([q], request({}, '/p?x=1&user=alice&user=bob')), '0x73a3ea485f2e6049');
    assert.equal(hex([q], request({}, '/p?x=1')), undefined);
  });

  it('cookie: the value (quotes stripped) is hashed; no Set-Cookie', () => {
    const c: HashPolicyConfig = { kind: 'cookie', name: 'sticky', ttlMs: 3_600_000, path: '/', terminal: false };
    const r = computeRequestHash([c], request({ cookie: 'a=1; sticky="alice"; b=2' }), CONN);
    assert.equal(hash64Hex(r.hash!), '0x73a3ea485f2e6049');
    assert.equal(r.setCookie, undefined);
  });

  it('cookie absent with a TTL: generated from remote+local addresses, hashed, and sent back with Set-Cookie', () => {
    const c: HashPolicyConfig = { kind: 'cookie', name: 'sticky', ttlMs: 3_600_000, path: '/app', terminal: false };
    const r = computeRequestHash([c], request({}), CONN);
    const g = xxHash64('192.168.1.7:4000010.0.0.9:15006');
    const value = hash64Hex(g).slice(2);
    assert.equal(r.setCookie, `sticky="${value}"; Max-Age=3600; Path=/app; HttpOnly`);
    assert.equal(hash64Hex(r.hash!), hash64Hex(xxHash64(value)));
    // The same connection facts give the same cookie, so a client that keeps it stays on one host.
    assert.equal(computeRequestHash([c], request({ cookie: `sticky=${value}` }), CONN).hash!.lo, r.hash!.lo);
  });

  it('cookie absent without a TTL: no hash, no cookie; ttl 0 -> a session cookie (no Max-Age)', () => {
    assert.equal(hex([{ kind: 'cookie', name: 's', ttlMs: null, path: '', terminal: false }], request({})), undefined);
    assert.match(computeRequestHash([{ kind: 'cookie', name: 's', ttlMs: 0, path: '', terminal: false }], request({}), CONN).setCookie!, /^s="[0-9a-f]{16}"; HttpOnly$/);
  });

  it('combination: two header policies -> rotl1(h1) ^ h2 (alice, tenant-7 -> 0x5c8d99378a8c456d)', () => {
    assert.equal(hex([header('x-user'), header('x-tenant')], request({ 'x-user': 'alice', 'x-tenant': 'tenant-7' })), '0x5c8d99378a8c456d');
    // A policy that yields nothing is skipped.
    assert.equal(hex([header('x-missing'), header('x-user')], request({ 'x-user': 'alice' })), '0x73a3ea485f2e6049');
  });

  it('terminal: stops once a hash exists; a terminal policy yielding nothing does not stop the walk', () => {
    const req = request({ 'x-user': 'alice', 'x-tenant': 'tenant-7' });
    assert.equal(hex([header('x-user', true), header('x-tenant')], req), '0x73a3ea485f2e6049');
    assert.equal(hex([header('x-missing', true), header('x-tenant')], req), hash64Hex(xxHash64('tenant-7')));
    // Terminal after an earlier hash also stops (Envoy checks the accumulated hash).
    const expected = hash64Hex(combineHash64(xxHash64('alice'), xxHash64('tenant-7')));
    assert.equal(hex([header('x-user'), header('x-tenant', true), { kind: 'source_ip', terminal: false }], req), expected);
  });

  it('filter_state is not supported: it yields no hash', () => {
    assert.equal(hex([{ kind: 'filter_state', key: 'io.istio.peer_principal', terminal: false }], request({})), undefined);
  });
});
