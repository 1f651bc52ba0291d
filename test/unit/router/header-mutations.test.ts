import * as assert from 'node:assert/strict';
import { ObjectHeaderMap } from '../../../sidecar/src/router/header-map';
import { compileHeaderValue } from '../../../sidecar/src/router/header-formatter';
import { fullMatchRegExp, RegexSubstitution } from '../../../sidecar/src/router/re2-regex';
import { request, routesYaml, tableFromYaml, vars } from './route-yaml';

function matched(yaml: string) {
  const m = tableFromYaml(yaml).match(request());
  assert.ok(m);
  return m.route;
}

describe('header mutations: append_action and keep_empty_value (Envoy HeaderParser::evaluateHeaders)', () => {
  type Case = [string, Record<string, string | string[]>, Record<string, string | string[]>];
  const cases: Case[] = [
    ['APPEND_IF_EXISTS_OR_ADD', { x: 'old' }, { x: ['old', 'new'] }],
    ['APPEND_IF_EXISTS_OR_ADD', {}, { x: 'new' }],
    ['ADD_IF_ABSENT', { x: 'old' }, { x: 'old' }],
    ['ADD_IF_ABSENT', {}, { x: 'new' }],
    ['OVERWRITE_IF_EXISTS_OR_ADD', { x: ['a', 'b'] }, { x: 'new' }],
    ['OVERWRITE_IF_EXISTS_OR_ADD', {}, { x: 'new' }],
    ['OVERWRITE_IF_EXISTS', { x: 'old' }, { x: 'new' }],
    ['OVERWRITE_IF_EXISTS', {}, {}],
  ];
  for (const [action, before, after] of cases) {
    it(`${action} on ${JSON.stringify(before)}`, () => {
      const r = matched(routesYaml(`  - match: { prefix: "/" }
    route: { cluster: c }
    request_headers_to_add: [{ header: { key: X, value: new }, append_action: ${action} }]
    response_headers_to_add: [{ header: { key: X, value: new }, append_action: ${action} }]`));
      for (const side of ['request', 'response'] as const) {
        const h = new ObjectHeaderMap({ ...before });
        if (side === 'request') r.applyRequestHeaders(h, vars(request()));
        else r.applyResponseHeaders(h, vars(request()));
        assert.deepEqual(h.object, after, side);
      }
    });
  }

  it('legacy append: false overwrites; append: true appends', () => {
    const r = matched(routesYaml(`  - match: { prefix: "/" }
    route: { cluster: c }
    request_headers_to_add: [{ header: { key: a, value: "1" }, append: false }, { header: { key: b, value: "2" }, append: true }]`));
    const h = new ObjectHeaderMap({ a: '0', b: '0' });
    r.applyRequestHeaders(h, vars(request()));
    assert.deepEqual(h.object, { a: '1', b: ['0', '2'] });
  });

  it('an empty value is skipped unless keep_empty_value; removals run before additions', () => {
    const r = matched(routesYaml(`  - match: { prefix: "/" }
    route: { cluster: c }
    request_headers_to_remove: [gone, x-kept]
    request_headers_to_add:
    - { header: { key: empty, value: "" } }
    - { header: { key: kept-empty, value: "" }, keep_empty_value: true }
    - { header: { key: missing-req, value: "%REQ(x-nope)%" } }
    - { header: { key: x-kept, value: "again" } }`));
    const h = new ObjectHeaderMap({ gone: '1', 'x-kept': 'old' });
    r.applyRequestHeaders(h, vars(request()));
    assert.deepEqual(h.object, { 'kept-empty': '', 'x-kept': 'again' });
  });

  it('formatters are evaluated against the map after this level removed headers, before it adds any', () => {
    const r = matched(routesYaml(`  - match: { prefix: "/" }
    route: { cluster: c }
    request_headers_to_remove: [x-b]
    request_headers_to_add:
    - { header: { key: x-a, value: "first" }, append_action: OVERWRITE_IF_EXISTS_OR_ADD }
    - { header: { key: copy-a, value: "%REQ(X-A)%" } }
    - { header: { key: copy-b, value: "%REQ(x-b)%" } }`));
    const h = new ObjectHeaderMap({ 'x-a': 'orig', 'x-b': 'b' });
    r.applyRequestHeaders(h, vars(request()));
    assert.deepEqual(h.object, { 'x-a': 'first', 'copy-a': 'orig' });
  });
});

describe('header mutations: order across levels', () => {
  const yaml = (mostSpecificWins: boolean) => `
name: rc
most_specific_header_mutations_wins: ${mostSpecificWins}
request_headers_to_add: [{ header: { key: x-level, value: config }, append_action: OVERWRITE_IF_EXISTS_OR_ADD }, { header: { key: x-trail, value: config } }]
response_headers_to_add: [{ header: { key: x-level, value: config }, append_action: OVERWRITE_IF_EXISTS_OR_ADD }]
virtual_hosts:
- name: vh
  domains: ["*"]
  request_headers_to_add: [{ header: { key: x-level, value: vhost }, append_action: OVERWRITE_IF_EXISTS_OR_ADD }, { header: { key: x-trail, value: vhost } }]
  response_headers_to_add: [{ header: { key: x-level, value: vhost }, append_action: OVERWRITE_IF_EXISTS_OR_ADD }]
  routes:
  - match: { prefix: "/" }
    route: { weighted_clusters: { clusters: [{ name: a, weight: 1, request_headers_to_add: [{ header: { key: x-trail, value: cluster-a } }], response_headers_to_add: [{ header: { key: x-level, value: cluster-a }, append_action: OVERWRITE_IF_EXISTS_OR_ADD }] }] } }
    request_headers_to_add: [{ header: { key: x-level, value: route }, append_action: OVERWRITE_IF_EXISTS_OR_ADD }, { header: { key: x-trail, value: route } }]
    response_headers_to_add: [{ header: { key: x-level, value: route }, append_action: OVERWRITE_IF_EXISTS_OR_ADD }]
`;
  it('default: weighted cluster, route, virtual host, route config; the least specific wins', () => {
    const r = tableFromYaml(yaml(false)).match(request())?.route;
    assert.ok(r);
    const req = new ObjectHeaderMap({});
    r.applyRequestHeaders(req, vars(request()), 'a');
    assert.deepEqual(req.object, { 'x-trail': ['cluster-a', 'route', 'vhost', 'config'], 'x-level': 'config' });
    const res = new ObjectHeaderMap({});
    r.applyResponseHeaders(res, vars(request()), 'a');
    assert.deepEqual(res.object, { 'x-level': 'config' });
  });
  it('most_specific_header_mutations_wins: route config, virtual host, route (weighted cluster still first)', () => {
    const r = tableFromYaml(yaml(true)).match(request())?.route;
    assert.ok(r);
    const req = new ObjectHeaderMap({});
    r.applyRequestHeaders(req, vars(request()), 'a');
    assert.deepEqual(req.object, { 'x-trail': ['cluster-a', 'config', 'vhost', 'route'], 'x-level': 'route' });
    const res = new ObjectHeaderMap({});
    r.applyResponseHeaders(res, vars(request()));
    assert.deepEqual(res.object, { 'x-level': 'route' });
  });
});

describe('header value formatters', () => {
  const req = request({ authority: 'svc:8080', path: '/p?q', method: 'PUT', headers: { 'x-user': 'ann', 'x-multi': ['1', '2'] } });
  const cases: [string, string][] = [
    ['%DOWNSTREAM_REMOTE_ADDRESS%', '10.0.0.7:51234'],
    ['%DOWNSTREAM_REMOTE_ADDRESS_WITHOUT_PORT%', '10.0.0.7'],
    ['%DOWNSTREAM_LOCAL_ADDRESS%', '10.0.0.1:15001'],
    ['%UPSTREAM_HOST%', '10.1.1.1:80'],
    ['%PROTOCOL%', 'HTTP/1.1'],
    ['%START_TIME%', '2024-01-02T03:04:05.678Z'],
    ['%START_TIME(%s)%', '1704164645'],
    ['%START_TIME(%Y/%m/%d %H:%M:%E3S)%', '2024/01/02 03:04:05.678'],
    ['%REQ(X-User)%', 'ann'],
    ['%REQ(x-multi)%', '1,2'],
    ['%REQ(x-none?x-user)%', 'ann'],
    ['%REQ(x-user):2%', 'an'],
    ['%REQ(:authority)% %REQ(:METHOD)% %REQ(:path)%', 'svc:8080 PUT /p?q'],
    ['100%% sure', '100% sure'],
    ['user=%REQ(x-user)%;ip=%DOWNSTREAM_REMOTE_ADDRESS_WITHOUT_PORT%', 'user=ann;ip=10.0.0.7'],
    ['%UNKNOWN_THING% and 50% off', '%UNKNOWN_THING% and 50% off'],
    ['%REQ()%', '%REQ()%'],
    ['plain', 'plain'],
  ];
  for (const [format, expected] of cases) {
    it(`${format} -> ${expected}`, () => {
      const f = compileHeaderValue(format);
      const out = typeof f === 'string' ? f : f(vars(req, { upstreamHost: '10.1.1.1:80' }), null);
      assert.equal(out, expected);
    });
  }
  it('IPv6 addresses are bracketed with a port', () => {
    const f = compileHeaderValue('%DOWNSTREAM_REMOTE_ADDRESS%');
    assert.ok(typeof f !== 'string');
    assert.equal(f(vars(req, { downstreamRemoteIp: '::1', downstreamRemotePort: 9 }), null), '[::1]:9');
  });
  it('%UPSTREAM_HOST% before an upstream is picked is empty (so not added without keep_empty_value)', () => {
    const r = matched(routesYaml(`  - match: { prefix: "/" }
    route: { cluster: c }
    request_headers_to_add: [{ header: { key: x-up, value: "%UPSTREAM_HOST%" } }]
    response_headers_to_add: [{ header: { key: x-up, value: "%UPSTREAM_HOST%" } }, { header: { key: x-req, value: "%REQ(x-user)%" } }]`));
    const h = new ObjectHeaderMap({});
    r.applyRequestHeaders(h, vars(req));
    assert.deepEqual(h.object, {});
    r.applyResponseHeaders(h, vars(req, { upstreamHost: '10.1.1.1:80' }));
    assert.deepEqual(h.object, { 'x-up': '10.1.1.1:80', 'x-req': 'ann' });
  });
});

describe('ObjectHeaderMap and RE2 translation', () => {
  it('get joins with ",", getAll, has, set, append, remove', () => {
    const h = new ObjectHeaderMap({ a: '1', m: ['x', 'y'], e: [] });
    assert.equal(h.get('a'), '1');
    assert.equal(h.get('m'), 'x,y');
    assert.equal(h.get('e'), undefined);
    assert.equal(h.has('e'), false);
    assert.deepEqual(h.getAll('m'), ['x', 'y']);
    assert.deepEqual(h.getAll('none'), []);
    h.append('a', '2');
    h.append('n', '3');
    h.set('m', 'z');
    h.remove('e');
    assert.deepEqual(h.object, { a: ['1', '2'], m: 'z', n: '3' });
  });
  it('RE2 named groups, \\z and a leading (?i) become JS', () => {
    assert.ok(fullMatchRegExp('(?P<v>v[0-9])/x\\z').test('v1/x'));
    assert.ok(fullMatchRegExp('(?i)/API').test('/api'));
    assert.equal(new RegexSubstitution('(?P<w>[a-z]+)', '<\\1>').replaceAll('ab-cd'), '<ab>-<cd>');
  });
});
