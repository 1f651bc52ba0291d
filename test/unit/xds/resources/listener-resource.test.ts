import * as assert from 'node:assert/strict';
import { istioHttpFilters, opaqueAny, rdsHttpConnectionManager, typedStruct } from '../../../fixtures/istio-config';
import { listenerResource } from '../../../../sidecar/src/xds/resources/listener-resource';
import { context, decodeVia, expectErrors, expectValid, hasError, schema } from './decode-helpers';

const E = 'envoy.extensions.';
const router = { name: 'envoy.filters.http.router', typed_config: schema.packAny(`${E}filters.http.router.v3.Router`, {}) };

function hcm(httpFilters: Record<string, unknown>[], extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    name: 'envoy.filters.network.http_connection_manager',
    typed_config: schema.packAny(`${E}filters.network.http_connection_manager.v3.HttpConnectionManager`, {
      stat_prefix: 'test',
      rds: { route_config_name: 'r', config_source: { ads: {} } },
      http_filters: httpFilters,
      ...extra,
    }),
  };
}

function listener(filters: Record<string, unknown>[], extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { name: 'l', address: { socket_address: { address: '127.0.0.1', port_value: 8080 } }, filter_chains: [{ filters }], ...extra };
}

describe('listenerResource', () => {
  it('applies Envoy defaults to a minimal HTTP listener', () => {
    const l = expectValid(decodeVia(listenerResource, listener([hcm([router])])).result);
    assert.equal(l.bindToPort, true);
    assert.equal(l.useOriginalDst, false);
    assert.equal(l.listenerFiltersTimeoutMs, 15_000);
    assert.equal(l.perConnectionBufferLimitBytes, 1024 * 1024);
    const net = l.filterChains[0]?.network;
    assert.ok(net?.kind === 'http');
    assert.equal(net.codec, 'AUTO');
    assert.equal(net.streamIdleTimeoutMs, 300_000);
    assert.equal(net.requestTimeoutMs, 0);
    assert.equal(net.idleTimeoutMs, 3_600_000);
    assert.equal(net.maxRequestHeadersKb, 60);
    assert.equal(net.serverName, 'envoy');
    assert.equal(net.useRemoteAddress, false);
    assert.equal(net.http2.initialStreamWindowSize, 268_435_456);
    assert.deepEqual(net.routeSource, { kind: 'rds', name: 'r', initialFetchTimeoutMs: 15_000 });
    assert.equal(net.tracing, null);
  });

  it('classifies go-control-plane-style names by type URL (http-connection-manager, http-router)', () => {
    const gcpRouter = { name: 'http-router', typed_config: router.typed_config };
    const gcpHcm = { ...hcm([gcpRouter]), name: 'http-connection-manager' };
    const l = expectValid(decodeVia(listenerResource, listener([gcpHcm])).result);
    const net = l.filterChains[0]?.network;
    assert.ok(net?.kind === 'http');
    assert.deepEqual(net.httpFilters.map((f) => [f.name, f.kind]), [['http-router', 'router']]);
    // And a filter *named* like the router but configured as something else is not a router.
    const fake = { name: 'envoy.filters.http.router', typed_config: schema.packAny(`${E}filters.http.cors.v3.Cors`, {}) };
    const errs = expectErrors(decodeVia(listenerResource, listener([hcm([fake])])).result);
    assert.ok(hasError(errs, 'filter_chains[0].filters[0].typed_config.http_filters', 'must end with the router'), JSON.stringify(errs));
  });

  it('accepts RDS over an api_config_source naming the bootstrap ADS cluster, rejects others', () => {
    const apiSource = (cluster: string): Record<string, unknown> => ({ api_config_source: { api_type: 'GRPC', grpc_services: [{ envoy_grpc: { cluster_name: cluster } }] } });
    const ok = listener([hcm([router], { rds: { route_config_name: 'local_route', config_source: apiSource('xds_cluster') } })]);
    expectValid(decodeVia(listenerResource, ok, context(['xds_cluster'])).result);
    const errs = expectErrors(decodeVia(listenerResource, ok, context(['other'])).result);
    assert.ok(hasError(errs, 'filter_chains[0].filters[0].typed_config.rds.config_source.api_config_source', 'ADS'), JSON.stringify(errs));
    const rest = listener([hcm([router], { rds: { route_config_name: 'r', config_source: { api_config_source: { api_type: 'REST', cluster_names: ['xds_cluster'] } } } })]);
    const restErrs = expectErrors(decodeVia(listenerResource, rest, context(['xds_cluster'])).result);
    assert.ok(hasError(restErrs, 'filter_chains[0].filters[0].typed_config.rds.config_source.api_config_source.api_type', 'REST'));
    const path = listener([hcm([router], { rds: { route_config_name: 'r', config_source: { path: '/etc/routes.yaml' } } })]);
    assert.ok(hasError(expectErrors(decodeVia(listenerResource, path).result), 'filter_chains[0].filters[0].typed_config.rds.config_source.path', 'filesystem'));
    const self = listener([hcm([router], { rds: { route_config_name: 'r', config_source: { self: {} } } })]);
    expectValid(decodeVia(listenerResource, self).result);
  });

  it('refuses security filters even when optional', () => {
    const rbac = { name: 'envoy.filters.http.rbac', is_optional: true, typed_config: schema.packAny(`${E}filters.http.rbac.v3.RBAC`, {}) };
    const errs = expectErrors(decodeVia(listenerResource, listener([hcm([rbac, router])])).result);
    assert.ok(hasError(errs, 'filter_chains[0].filters[0].typed_config.http_filters[0].typed_config', 'security filter envoy.filters.http.rbac'), JSON.stringify(errs));
    assert.ok(errs.some((e) => e.message.includes('refusing to fail open')));
    const jwt = { name: 'jwt', typed_config: opaqueAny('type.googleapis.com/envoy.extensions.filters.http.jwt_authn.v3.JwtAuthentication') };
    assert.ok(expectErrors(decodeVia(listenerResource, listener([hcm([jwt, router])])).result).some((e) => e.message.includes('refusing to fail open')));
    const netRbac = { name: 'envoy.filters.network.rbac', typed_config: schema.packAny(`${E}filters.network.rbac.v3.RBAC`, { stat_prefix: 'x' }) };
    const netErrs = expectErrors(decodeVia(listenerResource, listener([netRbac, hcm([router])])).result);
    assert.ok(hasError(netErrs, 'filter_chains[0].filters[0].typed_config', 'security filter envoy.filters.network.rbac'));
  });

  it('rejects an unknown non-optional filter naming its type URL, ignores an optional one', () => {
    const unknown = { name: 'acme.thing', typed_config: opaqueAny('type.googleapis.com/acme.Thing') };
    const errs = expectErrors(decodeVia(listenerResource, listener([hcm([unknown, router])])).result);
    assert.ok(hasError(errs, 'filter_chains[0].filters[0].typed_config.http_filters[0].typed_config', 'type.googleapis.com/acme.Thing'));
    const ctx = context();
    const l = expectValid(decodeVia(listenerResource, listener([hcm([{ ...unknown, is_optional: true }, router])]), ctx).result);
    const net = l.filterChains[0]?.network;
    assert.ok(net?.kind === 'http');
    assert.deepEqual(net.httpFilters.map((f) => f.kind), ['ignored', 'router']);
    assert.deepEqual(ctx.ignored, [{ typeUrl: 'type.googleapis.com/acme.Thing', where: 'http_filter' }]);
    const noConfig = { name: 'envoy.filters.http.router' };
    assert.ok(hasError(expectErrors(decodeVia(listenerResource, listener([hcm([noConfig])])).result), 'filter_chains[0].filters[0].typed_config.http_filters[0].typed_config', 'no typed_config'));
  });

  it('classifies TypedStruct (udpa and xds) by the inner type URL', () => {
    const ts = { name: 'x', typed_config: typedStruct(schema, 'type.googleapis.com/acme.Thing', {}, 'xds.type.v3.TypedStruct') };
    assert.ok(expectErrors(decodeVia(listenerResource, listener([hcm([ts, router])])).result).some((e) => e.message.includes('acme.Thing')));
    const rbacTs = { name: 'x', typed_config: typedStruct(schema, 'type.googleapis.com/envoy.extensions.filters.http.rbac.v3.RBAC', {}) };
    assert.ok(expectErrors(decodeVia(listenerResource, listener([hcm([rbacTs, router])])).result).some((e) => e.message.includes('refusing to fail open')));
  });

  it('requires the router last and present', () => {
    const cors = { name: 'cors', typed_config: schema.packAny(`${E}filters.http.cors.v3.Cors`, {}) };
    const errs = expectErrors(decodeVia(listenerResource, listener([hcm([router, cors])])).result);
    assert.ok(hasError(errs, 'filter_chains[0].filters[0].typed_config.http_filters[0]', 'must be the last'));
    assert.ok(hasError(expectErrors(decodeVia(listenerResource, listener([hcm([cors])])).result), 'filter_chains[0].filters[0].typed_config.http_filters', 'must end with the router'));
  });

  it('requires the terminal network filter last', () => {
    const tcp = { name: 't', typed_config: schema.packAny(`${E}filters.network.tcp_proxy.v3.TcpProxy`, { stat_prefix: 's', cluster: 'c' }) };
    const errs = expectErrors(decodeVia(listenerResource, listener([tcp, hcm([router])])).result);
    assert.ok(hasError(errs, 'filter_chains[0].filters[0]', 'must be the last filter'));
    assert.ok(hasError(expectErrors(decodeVia(listenerResource, listener([])).result), 'filter_chains[0].filters', 'no terminal network filter'));
  });

  it('rejects duplicate filter chain matches, including overlapping list entries', () => {
    const tcp = (c: string): Record<string, unknown> => ({ name: 't', typed_config: schema.packAny(`${E}filters.network.tcp_proxy.v3.TcpProxy`, { stat_prefix: 's', cluster: c }) });
    const l = {
      name: 'l',
      address: { socket_address: { address: '0.0.0.0', port_value: 443 } },
      filter_chains: [
        { filter_chain_match: { server_names: ['a.example', 'b.example'] }, filters: [tcp('a')] },
        { filter_chain_match: { server_names: ['c.example'] }, filters: [tcp('c')] },
        { filter_chain_match: { server_names: ['b.example'] }, filters: [tcp('b')] },
      ],
    };
    const errs = expectErrors(decodeVia(listenerResource, l).result);
    assert.ok(hasError(errs, 'filter_chains[2]', 'multiple filter chains with the same matching rules'), JSON.stringify(errs));
    assert.equal(errs.length, 1);
  });

  it('fails without filter chains, and reports PGV violations with paths', () => {
    const errs = expectErrors(decodeVia(listenerResource, { name: '', address: { socket_address: { address: '0.0.0.0', port_value: 70000 } } }).result);
    assert.ok(hasError(errs, 'filter_chains', 'no filter chains'));
    assert.ok(hasError(errs, 'address.socket_address.port_value', 'less than or equal to 65535'), JSON.stringify(errs));
  });

  it('keeps the full filter_chain_match and HCM options', () => {
    const l = expectValid(
      decodeVia(
        listenerResource,
        listener([hcm([router], { codec_type: 'HTTP2', use_remote_address: { value: true }, xff_num_trusted_hops: 2, skip_xff_append: true, request_timeout: { seconds: 3 }, merge_slashes: true, max_request_headers_kb: { value: 96 }, server_name: 'meshlet', upgrade_configs: [{ upgrade_type: 'WebSocket', enabled: { value: false } }] })]),
      ).result,
    );
    const net = l.filterChains[0]?.network;
    assert.ok(net?.kind === 'http');
    assert.equal(net.codec, 'HTTP2');
    assert.equal(net.useRemoteAddress, true);
    assert.equal(net.xffNumTrustedHops, 2);
    assert.equal(net.skipXffAppend, true);
    assert.equal(net.requestTimeoutMs, 3000);
    assert.equal(net.mergeSlashes, true);
    assert.equal(net.maxRequestHeadersKb, 96);
    assert.equal(net.serverName, 'meshlet');
    assert.deepEqual(net.upgradeConfigs, [{ upgradeType: 'websocket', enabled: false }]);
    const withMatch = {
      name: 'm',
      address: { socket_address: { address: '0.0.0.0', port_value: 15006 } },
      filter_chains: [
        {
          filter_chain_match: {
            destination_port: { value: 9080 },
            prefix_ranges: [{ address_prefix: '10.0.0.0', prefix_len: { value: 8 } }],
            source_prefix_ranges: [{ address_prefix: '::1', prefix_len: { value: 128 } }],
            source_ports: [1234],
            source_type: 'SAME_IP_OR_LOOPBACK',
            server_names: ['Foo.Example'],
            transport_protocol: 'tls',
            application_protocols: ['istio-h2'],
          },
          filters: [hcm([router])],
        },
      ],
    };
    const m = expectValid(decodeVia(listenerResource, withMatch).result).filterChains[0]?.match;
    assert.deepEqual(m, {
      destinationPort: 9080,
      prefixRanges: [{ addressPrefix: '10.0.0.0', prefixLen: 8 }],
      directSourcePrefixRanges: [],
      sourceType: 'SAME_IP_OR_LOOPBACK',
      sourcePrefixRanges: [{ addressPrefix: '::1', prefixLen: 128 }],
      sourcePorts: [1234],
      serverNames: ['foo.example'],
      transportProtocol: 'tls',
      applicationProtocols: ['istio-h2'],
    });
  });

  it('decodes the Istio HCM with raw (non-TypedStruct) istio.stats too', () => {
    const l = listener([rdsHttpConnectionManager(schema, '9080', istioHttpFilters(schema, { statsAsTypedStruct: false }))]);
    expectValid(decodeVia(listenerResource, l).result);
  });

  it('dependencies: one RDS group per distinct rds.config_source initial_fetch_timeout (0 = forever, unset = 15 s)', () => {
    const rds = (name: string, timeout?: object) => hcm([router], { rds: { route_config_name: name, config_source: { ads: {}, ...(timeout !== undefined ? { initial_fetch_timeout: timeout } : {}) } } });
    const chain = (port: number, filter: Record<string, unknown>) => ({ filter_chain_match: { destination_port: { value: port } }, filters: [filter] });
    const l = expectValid(
      decodeVia(listenerResource, listener([], {
        filter_chains: [chain(1, rds('a', { seconds: 0 })), chain(2, rds('b', { seconds: 5 })), chain(3, rds('c')), chain(4, rds('a', { seconds: 0 })), chain(5, rds('d', { seconds: 0 }))],
      })).result,
    );
    assert.deepEqual(listenerResource.dependencies(l), [
      { typeUrl: 'type.googleapis.com/envoy.config.route.v3.RouteConfiguration', names: ['a', 'd'], initialFetchTimeoutMs: 0 },
      { typeUrl: 'type.googleapis.com/envoy.config.route.v3.RouteConfiguration', names: ['b'], initialFetchTimeoutMs: 5_000 },
      { typeUrl: 'type.googleapis.com/envoy.config.route.v3.RouteConfiguration', names: ['c'], initialFetchTimeoutMs: 15_000 },
    ]);
  });

  it('never throws: garbage input becomes an error with the name kept', () => {
    const decoded = listenerResource.decode(context(), { name: 'weird', filter_chains: 'nope' });
    assert.equal(decoded.name, 'weird');
    assert.equal(decoded.result.ok, false);
    assert.equal(listenerResource.decode(context(), null).result.ok, false);
  });
});
