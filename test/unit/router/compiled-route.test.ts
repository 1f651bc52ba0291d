import * as assert from 'node:assert/strict';
import type { CompiledRoute } from '../../../sidecar/src/router/compiled-route';
import { ObjectHeaderMap } from '../../../sidecar/src/router/header-map';
import { request, routesYaml, tableFromYaml, type RequestInit } from './route-yaml';

function route(routeYaml: string, vhostExtra = ''): CompiledRoute {
  const m = tableFromYaml(routesYaml(routeYaml, vhostExtra)).match(request({ path: '/api/x' }));
  assert.ok(m, 'route should match /api/x');
  return m.route;
}

describe('CompiledRoute: cluster selection', () => {
  const weighted = route(`  - match: { prefix: "/" }
    route: { weighted_clusters: { clusters: [{ name: a, weight: 10 }, { name: zero, weight: 0 }, { name: b, weight: 30 }, { name: c, weight: 60 }] } }`);

  it('weighted clusters: deterministic randoms at the interval boundaries', () => {
    const cases: [number, string][] = [
      [0, 'a'],
      [0.0999, 'a'],
      [0.1, 'b'],
      [0.3999, 'b'],
      [0.4, 'c'],
      [0.999999, 'c'],
    ];
    for (const [r, name] of cases) assert.equal(weighted.selectCluster(request(), r), name, String(r));
  });

  it('weighted clusters: within ±1% of the weights over 100k Math.random draws', () => {
    const counts = new Map<string, number>();
    const req = request();
    for (let i = 0; i < 100_000; i++) {
      const c = weighted.selectCluster(req, Math.random()) as string;
      counts.set(c, (counts.get(c) ?? 0) + 1);
    }
    assert.equal(counts.get('zero'), undefined);
    for (const [name, share] of [['a', 0.1], ['b', 0.3], ['c', 0.6]] as const) {
      assert.ok(Math.abs((counts.get(name) ?? 0) / 100_000 - share) < 0.01, `${name}: ${counts.get(name)}`);
    }
  });

  it('plain cluster and cluster_header (first value; missing or empty = undefined)', () => {
    assert.equal(route(`  - { match: { prefix: "/" }, route: { cluster: web } }`).selectCluster(request(), 0.5), 'web');
    const r = route(`  - { match: { prefix: "/" }, route: { cluster_header: X-Cluster } }`);
    assert.equal(r.selectCluster(request({ headers: { 'x-cluster': 'blue' } }), 0), 'blue');
    assert.equal(r.selectCluster(request({ headers: { 'x-cluster': ['blue', 'green'] } }), 0), 'blue');
    assert.equal(r.selectCluster(request({ headers: { 'x-cluster': '' } }), 0), undefined);
    assert.equal(r.selectCluster(request(), 0), undefined);
  });
});

describe('CompiledRoute: path and host rewrites', () => {
  it('prefix_rewrite replaces the matched prefix and keeps the query', () => {
    const cases: [string, string, string][] = [
      ['{ prefix: "/api/" }', '/api/x?q=1', '/v2/x?q=1'],
      ['{ prefix: "/API/", case_sensitive: false }', '/api/x?q=1', '/v2/x?q=1'],
      ['{ path: "/api/x" }', '/api/x?q=1', '/v2/?q=1'],
      ['{ path_separated_prefix: "/api" }', '/api/x?q=1', '/v2//x?q=1'],
      ['{ safe_regex: { regex: "/api/.*" } }', '/api/x?q=1', '/v2/?q=1'],
    ];
    for (const [match, path, expected] of cases) {
      const r = route(`  - { match: ${match}, route: { cluster: c, prefix_rewrite: "/v2/" } }`);
      assert.equal(r.rewritePath(path), expected, match);
    }
  });

  it('regex_rewrite substitutes every match with \\N groups, literal $, query preserved', () => {
    const cases: [string, string, string, string][] = [
      ['^/api/(\\\\w+)$', '/svc/\\\\1', '/api/x?q=/api/y', '/svc/x?q=/api/y'],
      ['x', 'y', '/api/x?x=x', '/api/y?x=x'],
      ['a', '$1\\\\\\\\', '/api/x', '/$1\\pi/x'],
      ['^/(\\\\w+)/(\\\\w+)', '/\\\\2/\\\\1/\\\\0', '/api/x', '/x/api//api/x'],
      ['(\\\\w+)', '[\\\\1\\\\9]', '/api/x', '/[api]/[x]'],
    ];
    for (const [regex, sub, path, expected] of cases) {
      const r = route(`  - { match: { prefix: "/" }, route: { cluster: c, regex_rewrite: { pattern: { regex: "${regex}" }, substitution: "${sub}" } } }`);
      assert.equal(r.rewritePath(path), expected, `${regex} -> ${sub}`);
    }
    assert.equal(route(`  - { match: { prefix: "/" }, route: { cluster: c } }`).rewritePath('/a?b'), '/a?b');
  });

  it('host rewrite: literal, header (first non-empty value), path regex, auto flag, weighted cluster literal', () => {
    const req = (init: RequestInit) => request({ path: '/api/x', ...init });
    assert.equal(route(`  - { match: { prefix: "/" }, route: { cluster: c, host_rewrite_literal: "up.internal" } }`).hostRewrite(req({})), 'up.internal');
    const byHeader = route(`  - { match: { prefix: "/" }, route: { cluster: c, host_rewrite_header: X-Host } }`);
    assert.equal(byHeader.hostRewrite(req({ headers: { 'x-host': ['h1', 'h2'] } })), 'h1');
    assert.equal(byHeader.hostRewrite(req({ headers: { 'x-host': '' } })), undefined);
    assert.equal(byHeader.hostRewrite(req({})), undefined);
    const byPath = route(`  - { match: { prefix: "/" }, route: { cluster: c, host_rewrite_path_regex: { pattern: { regex: "^/(\\\\w+)/.*$" }, substitution: "\\\\1.svc" } } }`);
    assert.equal(byPath.hostRewrite(req({ path: '/api/x?y=1' })), 'api.svc');
    const auto = route(`  - { match: { prefix: "/" }, route: { cluster: c, auto_host_rewrite: true } }`);
    assert.equal(auto.autoHostRewrite, true);
    assert.equal(auto.hostRewrite(req({})), undefined);
    const w = route(`  - match: { prefix: "/" }
    route: { weighted_clusters: { clusters: [{ name: a, weight: 1, host_rewrite_literal: a.internal }, { name: b, weight: 1 }] } }`);
    assert.equal(w.hostRewrite(req({}), 'a'), 'a.internal');
    assert.equal(w.hostRewrite(req({}), 'b'), undefined);
  });
});

describe('CompiledRoute: redirect and direct response', () => {
  const cases: [string, RequestInit, number, string][] = [
    ['{ https_redirect: true }', { authority: 'a.com', path: '/p?q=1' }, 301, 'https://a.com/p?q=1'],
    ['{ https_redirect: true }', { authority: 'a.com:80', path: '/p' }, 301, 'https://a.com/p'],
    ['{ https_redirect: true }', { authority: 'a.com:8080', path: '/p' }, 301, 'https://a.com:8080/p'],
    ['{ scheme_redirect: "HTTP" }', { authority: 'a.com:443', path: '/p', scheme: 'https' }, 301, 'http://a.com/p'],
    ['{ host_redirect: "b.com", response_code: FOUND }', { authority: 'a.com:8080', path: '/p' }, 302, 'http://b.com/p'],
    ['{ port_redirect: 8443, response_code: SEE_OTHER }', { authority: 'a.com:8080', path: '/p' }, 303, 'http://a.com:8443/p'],
    ['{ port_redirect: 8443 }', { authority: '[::1]:8080', path: '/p' }, 301, 'http://[::1]:8443/p'],
    ['{ path_redirect: "/new", response_code: TEMPORARY_REDIRECT }', { path: '/api/x?q=1' }, 307, 'http://example.com/new?q=1'],
    ['{ path_redirect: "/new?own=1", strip_query: true }', { path: '/api/x?q=1' }, 301, 'http://example.com/new?own=1'],
    ['{ path_redirect: "new", strip_query: true, response_code: PERMANENT_REDIRECT }', { path: '/api/x?q=1' }, 308, 'http://example.com/new'],
    ['{ prefix_rewrite: "/v2/" }', { path: '/api/x?q=1' }, 301, 'http://example.com/v2/x?q=1'],
    ['{ regex_rewrite: { pattern: { regex: "x" }, substitution: "y" }, strip_query: true }', { path: '/api/x?q=x' }, 301, 'http://example.com/api/y'],
    ['{ strip_query: true }', { path: '/api/x?q=1', headers: { 'x-forwarded-proto': 'https' } }, 301, 'https://example.com/api/x'],
  ];
  for (const [redirect, init, status, location] of cases) {
    it(`${redirect} ${JSON.stringify(init)} -> ${status} ${location}`, () => {
      const r = tableFromYaml(routesYaml(`  - { match: { prefix: "/api/" }, redirect: ${redirect} }\n  - { match: { prefix: "/" }, redirect: ${redirect} }`)).match(request(init))?.route;
      assert.ok(r);
      assert.equal(r.action.kind, 'redirect');
      assert.deepEqual(r.redirect(request(init)), { status, location });
    });
  }

  it('direct_response: status and body (none = empty)', () => {
    assert.deepEqual(route(`  - { match: { prefix: "/" }, direct_response: { status: 503, body: { inline_string: "down" } } }`).directResponse(), { status: 503, body: 'down' });
    const r = route(`  - { match: { prefix: "/" }, direct_response: { status: 204 } }`);
    assert.equal(r.action.kind, 'direct_response');
    assert.deepEqual(r.directResponse(), { status: 204, body: '' });
    assert.throws(() => r.redirect(request()), TypeError);
    assert.equal(r.selectCluster(request(), 0), undefined);
  });
});

describe('CompiledRoute: retry policy (innermost wins, no merging)', () => {
  const vhostRetry = `  retry_policy: { retry_on: "5xx,connect-failure", num_retries: 3, per_try_timeout: 1s }`;
  it('the route policy replaces the virtual host policy whole', () => {
    const r = route(`  - { match: { prefix: "/" }, route: { cluster: c, retry_policy: { retry_on: "reset" } } }`, vhostRetry);
    assert.deepEqual(r.retryPolicy?.retryOn, ['reset']);
    assert.equal(r.retryPolicy?.numRetries, 1);
    assert.equal(r.retryPolicy?.perTryTimeoutMs, null);
  });
  it('without a route policy the virtual host policy applies; without either, none', () => {
    const r = route(`  - { match: { prefix: "/" }, route: { cluster: c } }`, vhostRetry);
    assert.deepEqual(r.retryPolicy?.retryOn, ['5xx', 'connect-failure']);
    assert.equal(r.retryPolicy?.numRetries, 3);
    assert.equal(route(`  - { match: { prefix: "/" }, route: { cluster: c } }`).retryPolicy, null);
  });
});

describe('CompiledRoute: timeouts (Envoy finalTimeout)', () => {
  const grpc = { 'content-type': 'application/grpc' };
  type Case = [string, string, Record<string, string>, number, number?];
  const cases: Case[] = [
    ['default 15 s', '{ cluster: c }', {}, 15_000],
    ['timeout 0 disables', '{ cluster: c, timeout: 0s }', {}, 0],
    ['route timeout', '{ cluster: c, timeout: 2.5s }', {}, 2500],
    ['x-envoy-upstream-rq-timeout-ms overrides', '{ cluster: c, timeout: 2s }', { 'x-envoy-upstream-rq-timeout-ms': '300' }, 300],
    ['unparsable header ignored', '{ cluster: c, timeout: 2s }', { 'x-envoy-upstream-rq-timeout-ms': '3s' }, 2000],
    ['header 0 = none', '{ cluster: c }', { 'x-envoy-upstream-rq-timeout-ms': '0' }, 0],
    ['grpc-timeout ignored without max_grpc_timeout', '{ cluster: c, timeout: 2s }', { ...grpc, 'grpc-timeout': '1S' }, 2000],
    ['max_grpc_timeout 0: grpc-timeout uncapped', '{ cluster: c, max_grpc_timeout: 0s }', { ...grpc, 'grpc-timeout': '1H' }, 3_600_000],
    ['max_grpc_timeout 0, no grpc-timeout: infinite', '{ cluster: c, timeout: 2s, max_grpc_timeout: 0s }', grpc, 0],
    ['capped', '{ cluster: c, max_grpc_timeout: 10s }', { ...grpc, 'grpc-timeout': '2M' }, 10_000],
    ['absent header takes the cap', '{ cluster: c, max_grpc_timeout: 10s }', grpc, 10_000],
    ['unit S', '{ cluster: c, max_grpc_timeout: 0s }', { ...grpc, 'grpc-timeout': '3S' }, 3000],
    ['unit m', '{ cluster: c, max_grpc_timeout: 0s }', { ...grpc, 'grpc-timeout': '250m' }, 250],
    ['unit u rounds up', '{ cluster: c, max_grpc_timeout: 0s }', { ...grpc, 'grpc-timeout': '1500u' }, 2],
    ['unit n rounds up', '{ cluster: c, max_grpc_timeout: 0s }', { ...grpc, 'grpc-timeout': '1n' }, 1],
    ['unit M', '{ cluster: c, max_grpc_timeout: 0s }', { ...grpc, 'grpc-timeout': '2M' }, 120_000],
    ['malformed = absent', '{ cluster: c, max_grpc_timeout: 5s }', { ...grpc, 'grpc-timeout': '123456789m' }, 5000],
    ['offset subtracted', '{ cluster: c, max_grpc_timeout: 0s, grpc_timeout_offset: 0.1s }', { ...grpc, 'grpc-timeout': '1S' }, 900],
    ['offset not applied when >= timeout', '{ cluster: c, max_grpc_timeout: 0s, grpc_timeout_offset: 2s }', { ...grpc, 'grpc-timeout': '1S' }, 1000],
    ['non-gRPC request on a max_grpc_timeout route', '{ cluster: c, timeout: 2s, max_grpc_timeout: 0s }', { 'grpc-timeout': '1S' }, 2000],
    ['header beats grpc-timeout', '{ cluster: c, max_grpc_timeout: 0s }', { ...grpc, 'grpc-timeout': '1S', 'x-envoy-upstream-rq-timeout-ms': '50' }, 50],
    ['max_stream_duration: new timeouts, global 0', '{ cluster: c, timeout: 2s, max_stream_duration: { max_stream_duration: 1s } }', {}, 0],
    ['per-try from the retry policy', '{ cluster: c, timeout: 2s, retry_policy: { retry_on: 5xx, per_try_timeout: 0.5s } }', {}, 2000, 500],
    ['per-try >= global dropped', '{ cluster: c, timeout: 2s, retry_policy: { retry_on: 5xx, per_try_timeout: 3s } }', {}, 2000, 0],
    ['per-try header', '{ cluster: c, timeout: 2s }', { 'x-envoy-upstream-rq-per-try-timeout-ms': '100' }, 2000, 100],
  ];
  for (const [label, action, headers, globalMs, perTryMs] of cases) {
    it(label, () => {
      const r = route(`  - { match: { prefix: "/" }, route: ${action} }`);
      const req = request({ headers });
      assert.equal(r.effectiveTimeoutMs(req), globalMs);
      if (perTryMs !== undefined) assert.equal(r.finalTimeout(req).perTryMs, perTryMs);
    });
  }

  it('x-envoy-expected-rq-timeout-ms only with respect_expected_rq_timeout', () => {
    const r = route(`  - { match: { prefix: "/" }, route: { cluster: c, timeout: 2s } }`);
    const req = request({ headers: { 'x-envoy-expected-rq-timeout-ms': '70', 'x-envoy-upstream-rq-timeout-ms': '80' } });
    assert.equal(r.finalTimeout(req).globalMs, 80);
    assert.equal(r.finalTimeout(req, true).globalMs, 70);
  });

  it('setTimeoutHeaders: strips the x-envoy timeout headers, sets expected timeout and rewrites grpc-timeout', () => {
    const r = route(`  - { match: { prefix: "/" }, route: { cluster: c, max_grpc_timeout: 0s, retry_policy: { retry_on: 5xx, per_try_timeout: 0.3s } } }`);
    const req = request({ headers: { ...grpc, 'grpc-timeout': '200000S', 'x-envoy-upstream-rq-per-try-timeout-ms': '150000000' } });
    const t = r.finalTimeout(req);
    assert.deepEqual(t, { globalMs: 200_000_000, perTryMs: 150_000_000, perTryIdleMs: 0 });
    r.setTimeoutHeaders(req.headers, t, true, true);
    assert.deepEqual(req.headers.object, { ...grpc, 'grpc-timeout': '150000S', 'x-envoy-expected-rq-timeout-ms': '150000000' });
    const plain = route(`  - { match: { prefix: "/" }, route: { cluster: c, timeout: 0s } }`);
    const h = new ObjectHeaderMap({ 'x-envoy-upstream-rq-timeout-ms': '0' });
    plain.setTimeoutHeaders(h, plain.finalTimeout(request({ headers: { 'x-envoy-upstream-rq-timeout-ms': '0' } })), false, true);
    assert.deepEqual(h.object, {});
  });

  it('idle timeout and policy fields are exposed as configured', () => {
    const r = route(`  - { match: { prefix: "/" }, route: { cluster: c, idle_timeout: 5s, max_grpc_timeout: 3s, grpc_timeout_offset: 0.01s, hash_policy: [{ header: { header_name: x-user } }] } }`);
    assert.equal(r.idleTimeoutMs, 5000);
    assert.equal(r.maxGrpcTimeoutMs, 3000);
    assert.equal(r.grpcTimeoutOffsetMs, 10);
    assert.equal(r.hashPolicies.length, 1);
    assert.equal(route(`  - { match: { prefix: "/" }, route: { cluster: c } }`).idleTimeoutMs, null);
  });
});
