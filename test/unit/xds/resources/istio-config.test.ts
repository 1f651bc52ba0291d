import * as assert from 'node:assert/strict';
import { istioConfig, RATINGS_CLUSTER, REVIEWS_CLUSTER } from '../../../fixtures/istio-config';
import { clusterLoadAssignmentResource } from '../../../../sidecar/src/xds/resources/cluster-load-assignment-resource';
import { clusterResource } from '../../../../sidecar/src/xds/resources/cluster-resource';
import { listenerResource } from '../../../../sidecar/src/xds/resources/listener-resource';
import { routeConfigurationResource } from '../../../../sidecar/src/xds/resources/route-configuration-resource';
import { resourceTypes } from '../../../../sidecar/src/xds/resources/resource-types';
import { CLUSTER_LOAD_ASSIGNMENT_TYPE_URL, ROUTE_CONFIGURATION_TYPE_URL } from '../../../../sidecar/src/xds/resources/resource-type';
import { context, decodeVia, expectValid } from './decode-helpers';

describe('Istio-shaped config through the resource decoders', () => {
  const config = istioConfig();

  it('decodes every listener, route, cluster and endpoint resource with no errors', () => {
    const ctx = context();
    for (const [type, list] of [
      [listenerResource, config.listeners],
      [routeConfigurationResource, config.routes],
      [clusterResource, config.clusters],
      [clusterLoadAssignmentResource, config.endpoints],
    ] as const) {
      for (const object of list) {
        const decoded = decodeVia<unknown>(type as never, object, ctx);
        assert.ok(decoded.name !== '', 'name filled');
        expectValid(decoded.result);
      }
    }
  });

  it('logs each ignored telemetry filter type once, and keeps them in the HCM filter list', () => {
    const ctx = context();
    const listener = expectValid(decodeVia(listenerResource, config.listeners[1] as object, ctx).result);
    expectValid(decodeVia(listenerResource, config.listeners[2] as object, ctx).result);
    const urls = ctx.ignored.map((i) => i.typeUrl);
    assert.equal(new Set(urls).size, urls.length, 'each type URL reported once');
    for (const u of ['io.istio.http.peer_metadata.Config', 'istio.envoy.config.filter.http.alpn.v2alpha1.FilterConfig', 'stats.PluginConfig', 'grpc_stats.v3.FilterConfig', 'cors.v3.Cors', 'fault.v3.HTTPFault', 'envoy.tcp.metadataexchange.config.MetadataExchange']) {
      assert.ok(urls.some((x) => x.endsWith(u)), `${u} reported`);
    }
    const chain = listener.filterChains[0];
    assert.ok(chain !== undefined && chain.network.kind === 'http');
    assert.deepEqual(chain.network.httpFilters.map((f) => f.kind), ['ignored', 'ignored', 'ignored', 'ignored', 'ignored', 'ignored', 'router']);
  });

  it('carries the listener shape later work needs', () => {
    const [outbound, l9080, inbound] = config.listeners.map((l) => expectValid(decodeVia(listenerResource, l as object).result));
    assert.ok(outbound && l9080 && inbound);
    assert.equal(outbound.useOriginalDst, true);
    assert.deepEqual(outbound.address, { kind: 'socket', host: '0.0.0.0', port: 15001, protocol: 'TCP' });
    assert.deepEqual(outbound.filterChains[0]?.network, { kind: 'tcp_proxy', statPrefix: 'PassthroughCluster', cluster: { kind: 'cluster', name: 'PassthroughCluster' }, idleTimeoutMs: 3_600_000, maxConnectAttempts: 1, maxDownstreamConnectionDurationMs: null });
    assert.equal(l9080.bindToPort, false);
    assert.deepEqual(l9080.listenerFilters.map((f) => f.kind), ['tls_inspector', 'http_inspector']);
    const hcm = l9080.filterChains[0]?.network;
    assert.ok(hcm?.kind === 'http');
    assert.deepEqual(hcm.routeSource, { kind: 'rds', name: '9080', initialFetchTimeoutMs: 0 });
    assert.equal(hcm.streamIdleTimeoutMs, 0);
    assert.equal(hcm.tracing?.randomSamplingPercent, 1);
    assert.equal(hcm.normalizePath, true);
    assert.deepEqual(l9080.filterChains[0]?.match.applicationProtocols, ['http/1.1', 'h2c']);
    assert.equal(l9080.defaultFilterChain?.name, 'PassthroughFilterChain');
    assert.deepEqual(inbound.listenerFilters.map((f) => f.kind), ['original_dst', 'tls_inspector', 'http_inspector']);
    const inboundHcm = inbound.filterChains[1]?.network;
    assert.ok(inboundHcm?.kind === 'http' && inboundHcm.routeSource.kind === 'inline');
    assert.equal(inboundHcm.routeSource.route.virtualHosts[0]?.routes[0]?.action.kind, 'route');
  });

  it('dependencies: listeners name their RDS routes, EDS clusters their service names, with istiod\'s 0s initial fetch timeout', () => {
    const l9080 = expectValid(decodeVia(listenerResource, config.listeners[1] as object).result);
    assert.deepEqual(listenerResource.dependencies(l9080), [{ typeUrl: ROUTE_CONFIGURATION_TYPE_URL, names: ['9080'], initialFetchTimeoutMs: 0 }]);
    const outbound = expectValid(decodeVia(listenerResource, config.listeners[0] as object).result);
    assert.deepEqual(listenerResource.dependencies(outbound), []);
    const reviews = expectValid(decodeVia(clusterResource, config.clusters[0] as object).result);
    assert.deepEqual(clusterResource.dependencies(reviews), [{ typeUrl: CLUSTER_LOAD_ASSIGNMENT_TYPE_URL, names: [REVIEWS_CLUSTER], initialFetchTimeoutMs: 0 }]);
    const passthrough = expectValid(decodeVia(clusterResource, config.clusters[2] as object).result);
    assert.deepEqual(clusterResource.dependencies(passthrough), []);
  });

  it('clusters: LEAST_REQUEST, outlier detection, breakers, protocol options, transport socket matches', () => {
    const reviews = expectValid(decodeVia(clusterResource, config.clusters[0] as object).result);
    assert.equal(reviews.discoveryType, 'EDS');
    assert.equal(reviews.edsServiceName, REVIEWS_CLUSTER);
    assert.deepEqual(reviews.edsConfig, { initialFetchTimeoutMs: 0 });
    assert.equal(reviews.connectTimeoutMs, 10_000);
    assert.deepEqual(reviews.lbPolicy, { kind: 'least_request', choiceCount: 2, activeRequestBias: 1, activeRequestBiasExplicit: false, selectionMethod: 'N_CHOICES', slowStart: null });
    assert.equal(reviews.commonLbConfig.healthyPanicThresholdPercent, 0);
    assert.equal(reviews.outlierDetection?.consecutive5xx, 7);
    assert.equal(reviews.outlierDetection?.enforcingConsecutive5xx, 100);
    assert.equal(reviews.outlierDetection?.maxEjectionTimeMs, 300_000);
    assert.equal(reviews.circuitBreakers.default.maxRequests, 4294967295);
    assert.equal(reviews.circuitBreakers.high.maxRequests, 1024);
    assert.equal(reviews.upstreamHttp.protocol, 'use_downstream');
    assert.equal(reviews.upstreamHttp.http2.maxConcurrentStreams, 1073741824);
    assert.deepEqual(reviews.transportSocketMatches.map((m) => [m.name, m.match, m.transportSocket.kind]), [
      ['tlsMode-istio', { tlsMode: 'istio' }, 'tls'],
      ['tlsMode-disabled', {}, 'raw_buffer'],
    ]);
    const tls = reviews.transportSocketMatches[0]?.transportSocket;
    assert.ok(tls?.kind === 'tls');
    assert.equal(tls.sni, 'outbound_.9080_._.reviews.default.svc.cluster.local');
    assert.deepEqual(tls.common.alpnProtocols, ['istio-peer-exchange', 'istio']);
    assert.deepEqual(tls.common.certificates, [{ kind: 'sds', name: 'default' }]);
    assert.equal(tls.common.validation?.trustedCaSdsName, 'ROOTCA');
    assert.deepEqual(reviews.metadata['istio'], { services: [{ host: 'reviews.default.svc.cluster.local', name: 'reviews', namespace: 'default' }] });

    const passthrough = expectValid(decodeVia(clusterResource, config.clusters[2] as object).result);
    assert.equal(passthrough.discoveryType, 'ORIGINAL_DST');
    assert.equal(passthrough.lbPolicy.kind, 'cluster_provided');
    const blackhole = decodeVia(clusterResource, config.clusters[3] as object).result;
    assert.ok(blackhole.ok && blackhole.value.loadAssignment === null);
    const inboundPassthrough = expectValid(decodeVia(clusterResource, config.clusters[4] as object).result);
    assert.deepEqual(inboundPassthrough.upstreamBindAddress, { host: '127.0.0.6', port: 0 });
  });

  it('routes: virtual hosts, retry policy, timeouts', () => {
    const rc = expectValid(decodeVia(routeConfigurationResource, config.routes[0] as object).result);
    assert.deepEqual(rc.virtualHosts.map((v) => v.name), ['reviews.default.svc.cluster.local:9080', 'ratings.default.svc.cluster.local:9080', 'allow_any']);
    const action = rc.virtualHosts[0]?.routes[0]?.action;
    assert.ok(action?.kind === 'route');
    assert.deepEqual(action.cluster, { kind: 'cluster', name: REVIEWS_CLUSTER });
    assert.equal(action.timeoutMs, 0);
    assert.deepEqual(action.retryPolicy?.retryOn, ['connect-failure', 'refused-stream', 'unavailable', 'cancelled', 'retriable-status-codes']);
    assert.equal(action.retryPolicy?.numRetries, 2);
    assert.deepEqual(action.retryPolicy?.retryHostPredicates, ['previous_hosts']);
    assert.equal(action.retryPolicy?.hostSelectionRetryMaxAttempts, 5);
    assert.deepEqual(action.retryPolicy?.retriableStatusCodes, [503]);
    assert.deepEqual(action.retryPolicy?.retryBackOff, { baseIntervalMs: 25, maxIntervalMs: 250 });
    const allowAny = rc.virtualHosts[2]?.routes[0]?.action;
    assert.ok(allowAny?.kind === 'route');
    assert.equal(allowAny.maxGrpcTimeoutMs, 0);
  });

  it('endpoints: priorities, locality weights, health, metadata', () => {
    const cla = expectValid(decodeVia(clusterLoadAssignmentResource, config.endpoints[0] as object).result);
    assert.equal(cla.clusterName, REVIEWS_CLUSTER);
    assert.equal(cla.priorities.length, 2);
    assert.equal(cla.priorities[0]?.[0]?.loadBalancingWeight, 2);
    assert.equal(cla.priorities[0]?.[0]?.locality.zone, 'us-east1-b');
    const ep = cla.priorities[0]?.[0]?.endpoints[0];
    assert.deepEqual(ep?.address, { kind: 'socket', host: '10.244.0.11', port: 9080, protocol: 'TCP' });
    assert.equal(ep?.healthStatus, 'HEALTHY');
    assert.deepEqual(ep?.metadata['envoy.transport_socket_match'], { tlsMode: 'istio' });
    assert.equal(cla.policy.overprovisioningFactor, 140);
    const ratings = expectValid(decodeVia(clusterLoadAssignmentResource, config.endpoints[1] as object).result);
    assert.equal(ratings.clusterName, RATINGS_CLUSTER);
    assert.equal(ratings.priorities[0]?.[0]?.endpoints[0]?.loadBalancingWeight, 1);
  });

  it('resourceTypes maps the four type URLs', () => {
    assert.deepEqual([...resourceTypes.values()].map((t) => t.shortName), ['LDS', 'RDS', 'CDS', 'EDS']);
    assert.deepEqual([...resourceTypes.values()].map((t) => t.allResourcesRequiredInSotW), [true, false, true, false]);
  });
});
