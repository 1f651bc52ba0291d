import * as assert from 'node:assert/strict';
import { routeConfigurationResource } from '../../../../sidecar/src/xds/resources/route-configuration-resource';
import { decodeVia, expectErrors, expectValid, hasError } from './decode-helpers';

function rc(routes: Record<string, unknown>[], extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { name: 'r', virtual_hosts: [{ name: 'vh', domains: ['*'], routes }], ...extra };
}

describe('routeConfigurationResource', () => {
  it('applies defaults: 15 s timeout, retry policy with 1 retry and 25/250 ms back-off', () => {
    const r = expectValid(decodeVia(routeConfigurationResource, rc([{ match: { prefix: '/' }, route: { cluster: 'c', retry_policy: { retry_on: '5xx' } } }])).result);
    const route = r.virtualHosts[0]?.routes[0];
    assert.ok(route?.action.kind === 'route');
    assert.equal(route.action.timeoutMs, 15_000);
    assert.equal(route.action.retryPolicy?.numRetries, 1);
    assert.deepEqual(route.action.retryPolicy?.retryBackOff, { baseIntervalMs: 25, maxIntervalMs: 250 });
    assert.equal(route.action.retryPolicy?.hostSelectionRetryMaxAttempts, 1);
    assert.equal(route.match.caseSensitive, true);
    assert.equal(r.maxDirectResponseBodySizeBytes, 4096);
    assert.equal(r.validateClusters, null);
  });

  it('rejects duplicate domains across virtual hosts', () => {
    const errs = expectErrors(
      decodeVia(routeConfigurationResource, {
        name: 'r',
        virtual_hosts: [
          { name: 'a', domains: ['a.example', '*'], routes: [] },
          { name: 'b', domains: ['A.example'], routes: [] },
        ],
      }).result,
    );
    assert.ok(hasError(errs, 'virtual_hosts[1].domains[0]', 'only unique values for domains'), JSON.stringify(errs));
  });

  it('decodes matches, weighted clusters, rewrites, hash policies', () => {
    const r = expectValid(
      decodeVia(
        routeConfigurationResource,
        rc([
          {
            name: 'w',
            match: {
              safe_regex: { regex: '^/api/v[0-9]+/.*' },
              case_sensitive: { value: false },
              headers: [
                { name: 'X-Env', string_match: { exact: 'prod', ignore_case: true } },
                { name: 'x-debug', present_match: true, invert_match: true },
                { name: 'x-n', range_match: { start: 1, end: 10 } },
                { name: 'x-legacy', prefix_match: 'ab' },
              ],
              query_parameters: [{ name: 'q', string_match: { suffix: 'z' } }, { name: 'p', present_match: true }],
              grpc: {},
            },
            route: {
              weighted_clusters: { clusters: [{ name: 'a', weight: { value: 80 } }, { name: 'b', weight: { value: 20 }, host_rewrite_literal: 'b.internal' }] },
              regex_rewrite: { pattern: { regex: '^/api' }, substitution: '' },
              auto_host_rewrite: { value: true },
              idle_timeout: { seconds: 2 },
              hash_policy: [{ header: { header_name: 'X-User' } }, { connection_properties: { source_ip: true }, terminal: true }],
              max_grpc_timeout: { seconds: 5 },
              grpc_timeout_offset: { nanos: 50_000_000 },
            },
            request_headers_to_add: [{ header: { key: 'X-A', value: '1' }, append: { value: false } }],
            response_headers_to_remove: ['x-b'],
          },
          { match: { path_separated_prefix: '/v2' }, route: { cluster_header: 'X-Cluster', prefix_rewrite: '/' } },
        ]),
      ).result,
    );
    const [w, h] = r.virtualHosts[0]?.routes ?? [];
    assert.ok(w && h && w.action.kind === 'route' && h.action.kind === 'route');
    assert.deepEqual(w.match.path, { kind: 'safe_regex', regex: '^/api/v[0-9]+/.*' });
    assert.equal(w.match.caseSensitive, false);
    assert.equal(w.match.grpc, true);
    assert.deepEqual(w.match.headers.map((x) => [x.name, x.match.kind, x.invert]), [['x-env', 'exact', false], ['x-debug', 'present', true], ['x-n', 'range', false], ['x-legacy', 'prefix', false]]);
    assert.deepEqual(w.match.queryParameters, [{ name: 'q', match: { kind: 'suffix', value: 'z', ignoreCase: false } }, { name: 'p', match: { kind: 'present' } }]);
    assert.equal(w.action.cluster.kind, 'weighted');
    assert.ok(w.action.cluster.kind === 'weighted' && w.action.cluster.totalWeight === 100 && w.action.cluster.clusters[1]?.hostRewriteLiteral === 'b.internal');
    assert.deepEqual(w.action.regexRewrite, { regex: '^/api', substitution: '' });
    assert.deepEqual(w.action.hostRewrite, { kind: 'auto' });
    assert.equal(w.action.idleTimeoutMs, 2000);
    assert.deepEqual(w.action.hashPolicies, [{ kind: 'header', headerName: 'x-user', regexRewrite: null, terminal: false }, { kind: 'source_ip', terminal: true }]);
    assert.equal(w.action.maxGrpcTimeoutMs, 5000);
    assert.equal(w.action.grpcTimeoutOffsetMs, 50);
    assert.deepEqual(w.requestHeadersToAdd, [{ key: 'x-a', value: '1', appendAction: 'OVERWRITE_IF_EXISTS_OR_ADD', keepEmptyValue: false }]);
    assert.deepEqual(w.responseHeadersToRemove, ['x-b']);
    assert.deepEqual(h.match.path, { kind: 'path_separated_prefix', value: '/v2' });
    assert.deepEqual(h.action.cluster, { kind: 'cluster_header', header: 'x-cluster' });
    assert.equal(h.action.prefixRewrite, '/');
  });

  it('decodes direct responses and redirects', () => {
    const r = expectValid(
      decodeVia(
        routeConfigurationResource,
        rc([
          { match: { path: '/health' }, direct_response: { status: 200, body: { inline_string: 'ok' } } },
          { match: { prefix: '/old' }, redirect: { https_redirect: true, prefix_rewrite: '/new', response_code: 'PERMANENT_REDIRECT', strip_query: true } },
        ]),
      ).result,
    );
    assert.deepEqual(r.virtualHosts[0]?.routes[0]?.action, { kind: 'direct_response', status: 200, body: 'ok' });
    assert.deepEqual(r.virtualHosts[0]?.routes[1]?.action, { kind: 'redirect', scheme: 'https', host: null, port: null, path: { kind: 'prefix', value: '/new' }, responseCode: 308, stripQuery: true });
    const big = expectErrors(decodeVia(routeConfigurationResource, rc([{ match: { prefix: '/' }, direct_response: { status: 200, body: { inline_string: 'x'.repeat(5000) } } }])).result);
    assert.ok(hasError(big, 'virtual_hosts[0].routes[0].direct_response.body', 'maximum is 4096'));
  });

  it('collects every error with its path', () => {
    const errs = expectErrors(
      decodeVia(
        routeConfigurationResource,
        rc([
          { match: { safe_regex: { regex: '(' } }, route: { cluster: 'c' } },
          { match: { prefix: '/' }, route: { weighted_clusters: { clusters: [{ name: 'a', weight: { value: 0 } }] } } },
          { match: { prefix: '/' }, route: { cluster: 'c', prefix_rewrite: '/x', regex_rewrite: { pattern: { regex: 'a' }, substitution: 'b' } } },
          { match: { prefix: '/' }, route: { cluster: 'c' }, request_headers_to_add: [{ header: { key: ':path', value: '/' } }] },
          { match: { prefix: '/' }, route: {} },
          { match: { prefix: '/' }, route: { cluster: 'c', retry_policy: { retry_back_off: { base_interval: { seconds: 1 }, max_interval: { nanos: 1000000 } } } } },
        ]),
      ).result,
    );
    const p = 'virtual_hosts[0].routes';
    assert.ok(hasError(errs, `${p}[0].match.safe_regex.regex`, 'invalid regex'), JSON.stringify(errs, null, 1));
    assert.ok(hasError(errs, `${p}[1].route.weighted_clusters.clusters`, 'greater than 0'));
    assert.ok(hasError(errs, `${p}[2].route.regex_rewrite`, 'both prefix_rewrite and regex_rewrite'));
    assert.ok(hasError(errs, `${p}[3].request_headers_to_add[0].header.key`, 'cannot be modified'));
    assert.ok(hasError(errs, `${p}[4].route.cluster_specifier`, 'exactly one of'));
    assert.ok(hasError(errs, `${p}[5].route.retry_policy.retry_back_off.max_interval`, 'base_interval'));
  });

  it('has no dependencies', () => {
    const r = expectValid(decodeVia(routeConfigurationResource, rc([])).result);
    assert.deepEqual(routeConfigurationResource.dependencies(r), []);
  });
});
