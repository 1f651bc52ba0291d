import * as assert from 'node:assert/strict';
import { struct, typedStruct } from '../../../fixtures/istio-config';
import { DEFAULT_OUTLIER_DETECTION } from '../../../../sidecar/src/config/cluster-config';
import { clusterResource } from '../../../../sidecar/src/xds/resources/cluster-resource';
import { context, decodeVia, expectErrors, expectValid, hasError, schema } from './decode-helpers';

const P = 'envoy.extensions.load_balancing_policies.';
const policy = (name: string, object: object): Record<string, unknown> => ({ typed_extension_config: { name, typed_config: schema.packAny(`${P}${name}`, object) } });

function eds(extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { name: 'c', type: 'EDS', eds_cluster_config: { eds_config: { ads: {} } }, ...extra };
}

describe('clusterResource', () => {
  it('fails a negative connect_timeout with path connect_timeout', () => {
    const decoded = decodeVia(clusterResource, eds({ connect_timeout: { seconds: -1 } }));
    assert.equal(decoded.name, 'c');
    const errs = expectErrors(decoded.result);
    assert.ok(hasError(errs, 'connect_timeout', 'greater than 0s'), JSON.stringify(errs));
  });

  it('applies Envoy defaults', () => {
    const c = expectValid(decodeVia(clusterResource, eds({ outlier_detection: {} })).result);
    assert.equal(c.connectTimeoutMs, 5000);
    assert.equal(c.edsServiceName, 'c');
    assert.deepEqual(c.edsConfig, { initialFetchTimeoutMs: 15_000 });
    assert.deepEqual(c.lbPolicy, { kind: 'round_robin', slowStart: null });
    assert.equal(c.commonLbConfig.healthyPanicThresholdPercent, 50);
    assert.deepEqual(c.outlierDetection, DEFAULT_OUTLIER_DETECTION);
    assert.deepEqual(c.circuitBreakers.default, { maxConnections: 1024, maxPendingRequests: 1024, maxRequests: 1024, maxRetries: 3, maxConnectionPools: null, trackRemaining: false, retryBudget: null });
    assert.equal(c.upstreamHttp.protocol, 'http1');
    assert.equal(c.perConnectionBufferLimitBytes, 1024 * 1024);
    assert.equal(c.dnsLookupFamily, 'AUTO');
    assert.equal(c.transportSocket, null);
    // base_ejection_time above 300 s raises the default max_ejection_time with it.
    const od = expectValid(decodeVia(clusterResource, eds({ outlier_detection: { base_ejection_time: { seconds: 400 } } })).result).outlierDetection;
    assert.equal(od?.maxEjectionTimeMs, 400_000);
    const bad = expectErrors(decodeVia(clusterResource, eds({ outlier_detection: { base_ejection_time: { seconds: 60 }, max_ejection_time: { seconds: 30 } } })).result);
    assert.ok(hasError(bad, 'outlier_detection.max_ejection_time', 'base_ejection_time'));
  });

  it('takes lb policy from lb_policy with its lb_config', () => {
    const lr = expectValid(decodeVia(clusterResource, eds({ lb_policy: 'LEAST_REQUEST', least_request_lb_config: { choice_count: { value: 3 }, active_request_bias: { default_value: 0.5, runtime_key: 'k' } } })).result);
    assert.deepEqual(lr.lbPolicy, { kind: 'least_request', choiceCount: 3, activeRequestBias: 0.5, activeRequestBiasExplicit: true, selectionMethod: 'N_CHOICES', slowStart: null });
    const rh = expectValid(decodeVia(clusterResource, eds({ lb_policy: 'RING_HASH', ring_hash_lb_config: { minimum_ring_size: { value: 64 }, hash_function: 'MURMUR_HASH_2' } })).result);
    assert.deepEqual(rh.lbPolicy, { kind: 'ring_hash', minimumRingSize: 64, maximumRingSize: 8_388_608, hashFunction: 'MURMUR_HASH_2', consistentHashing: { useHostnameForHashing: false, hashBalanceFactor: null } });
    assert.deepEqual(expectValid(decodeVia(clusterResource, eds({ lb_policy: 'MAGLEV' })).result).lbPolicy, { kind: 'maglev', tableSize: 65_537, consistentHashing: { useHostnameForHashing: false, hashBalanceFactor: null } });
    assert.deepEqual(expectValid(decodeVia(clusterResource, eds({ lb_policy: 'RANDOM' })).result).lbPolicy, { kind: 'random' });
    assert.ok(hasError(expectErrors(decodeVia(clusterResource, eds({ lb_policy: 'MAGLEV', maglev_lb_config: { table_size: { value: 100 } } })).result), 'maglev_lb_config.table_size', 'prime'));
    assert.ok(hasError(expectErrors(decodeVia(clusterResource, eds({ lb_policy: 'RING_HASH', ring_hash_lb_config: { minimum_ring_size: { value: 2048 }, maximum_ring_size: { value: 1024 } } })).result), 'ring_hash_lb_config.minimum_ring_size', 'must not exceed'));
    assert.equal(expectValid(decodeVia(clusterResource, eds({ common_lb_config: { locality_weighted_lb_config: {} } })).result).commonLbConfig.localityWeighted, true);
  });

  it('takes lb policy from load_balancing_policy: first supported wins, wrr_locality unwrapped, PeakEwma TypedStruct', () => {
    const lbp = (policies: Record<string, unknown>[]): Record<string, unknown> => eds({ lb_policy: 'ROUND_ROBIN', load_balancing_policy: { policies } });
    const first = expectValid(
      decodeVia(clusterResource, lbp([policy('client_side_weighted_round_robin.v3.ClientSideWeightedRoundRobin', {}), policy('least_request.v3.LeastRequest', { choice_count: { value: 4 }, selection_method: 'FULL_SCAN' }), policy('random.v3.Random', {})])).result,
    );
    assert.equal(first.lbPolicy.kind, 'least_request');
    assert.ok(first.lbPolicy.kind === 'least_request' && first.lbPolicy.choiceCount === 4 && first.lbPolicy.selectionMethod === 'FULL_SCAN');
    const wrr = expectValid(decodeVia(clusterResource, lbp([policy('wrr_locality.v3.WrrLocality', { endpoint_picking_policy: { policies: [policy('round_robin.v3.RoundRobin', { slow_start_config: { slow_start_window: { seconds: 30 } } })] } })])).result);
    assert.deepEqual(wrr.lbPolicy, { kind: 'round_robin', slowStart: { windowMs: 30_000, aggression: 1, minWeightPercent: 10 } });
    assert.equal(wrr.commonLbConfig.localityWeighted, true);
    const ewma = expectValid(decodeVia(clusterResource, lbp([{ typed_extension_config: { name: 'peak', typed_config: typedStruct(schema, 'type.googleapis.com/meshlet.lb.v1.PeakEwma', { decay_ms: 5000 }, 'xds.type.v3.TypedStruct') } }])).result);
    assert.deepEqual(ewma.lbPolicy, { kind: 'peak_ewma', decayMs: 5000, defaultRttMs: 30 });
    const rh = expectValid(decodeVia(clusterResource, lbp([policy('ring_hash.v3.RingHash', { minimum_ring_size: { value: 16 }, maximum_ring_size: { value: 32 }, hash_function: 'XX_HASH' })])).result);
    assert.ok(rh.lbPolicy.kind === 'ring_hash' && rh.lbPolicy.minimumRingSize === 16 && rh.lbPolicy.maximumRingSize === 32);
    const none = expectErrors(decodeVia(clusterResource, lbp([policy('pick_first.v3.PickFirst', {})])).result);
    assert.ok(hasError(none, 'load_balancing_policy.policies', 'no supported load balancing policy'), JSON.stringify(none));
  });

  it('enforces ORIGINAL_DST <-> CLUSTER_PROVIDED and discovery-type rules', () => {
    assert.ok(hasError(expectErrors(decodeVia(clusterResource, { name: 'o', type: 'ORIGINAL_DST', lb_policy: 'ROUND_ROBIN' }).result), 'lb_policy', 'only CLUSTER_PROVIDED'));
    assert.ok(hasError(expectErrors(decodeVia(clusterResource, eds({ lb_policy: 'CLUSTER_PROVIDED' })).result), 'lb_policy', 'not valid for cluster type EDS'));
    const odst = expectValid(decodeVia(clusterResource, { name: 'o', type: 'ORIGINAL_DST', lb_policy: 'CLUSTER_PROVIDED', original_dst_lb_config: { use_http_header: true } }).result);
    assert.deepEqual(odst.originalDstLbConfig, { useHttpHeader: true, httpHeaderName: 'x-envoy-original-dst-host', upstreamPortOverride: null });
    const socket = (address: string): Record<string, unknown> => ({ endpoint: { address: { socket_address: { address, port_value: 80 } } } });
    const staticByName = { name: 's', type: 'STATIC', load_assignment: { cluster_name: 's', endpoints: [{ lb_endpoints: [socket('backend.local')] }] } };
    assert.ok(expectErrors(decodeVia(clusterResource, staticByName).result).some((e) => e.message.includes('malformed IP address')));
    const dns = { name: 'd', type: 'LOGICAL_DNS', load_assignment: { cluster_name: 'd', endpoints: [{ lb_endpoints: [socket('backend.local')] }] } };
    assert.equal(expectValid(decodeVia(clusterResource, dns).result).loadAssignment?.priorities[0]?.[0]?.endpoints[0]?.address.kind, 'socket');
    const dns2 = { name: 'd', type: 'LOGICAL_DNS', load_assignment: { cluster_name: 'd', endpoints: [{ lb_endpoints: [socket('a.local'), socket('b.local')] }] } };
    assert.ok(hasError(expectErrors(decodeVia(clusterResource, dns2).result), 'load_assignment', 'LOGICAL_DNS'));
    const withHosts = eds({ load_assignment: { cluster_name: 'c', endpoints: [{ lb_endpoints: [socket('10.0.0.1')] }] } });
    assert.equal(expectValid(decodeVia(clusterResource, withHosts).result).loadAssignment?.priorities[0]?.length, 1);
    assert.ok(hasError(expectErrors(decodeVia(clusterResource, { name: 'e', type: 'EDS' }).result), 'eds_cluster_config', 'needs eds_cluster_config'));
    const restEds = eds({ eds_cluster_config: { eds_config: { api_config_source: { api_type: 'REST', cluster_names: ['x'] } } } });
    assert.ok(expectErrors(decodeVia(clusterResource, restEds).result).some((e) => e.path.startsWith('eds_cluster_config.eds_config.api_config_source')));
    const gcp = eds({ eds_cluster_config: { service_name: 'svc', eds_config: { api_config_source: { api_type: 'GRPC', grpc_services: [{ envoy_grpc: { cluster_name: 'xds_cluster' } }] } } } });
    assert.equal(expectValid(decodeVia(clusterResource, gcp, context(['xds_cluster'])).result).edsServiceName, 'svc');
    assert.ok(hasError(expectErrors(decodeVia(clusterResource, { name: 'x', cluster_type: { name: 'envoy.clusters.aggregate' } }).result), 'cluster_type', 'not supported'));
  });

  it('decodes health checks with interval defaults, and upstream HTTP options', () => {
    const c = expectValid(
      decodeVia(
        clusterResource,
        eds({
          health_checks: [
            { timeout: { seconds: 1 }, interval: { seconds: 5 }, unhealthy_threshold: { value: 3 }, healthy_threshold: { value: 2 }, http_health_check: { path: '/healthz' } },
            { timeout: { seconds: 1 }, interval: { seconds: 5 }, unhealthy_threshold: { value: 3 }, healthy_threshold: { value: 2 }, grpc_health_check: { service_name: 'svc' } },
            { timeout: { seconds: 1 }, interval: { seconds: 5 }, unhealthy_threshold: { value: 3 }, healthy_threshold: { value: 2 }, tcp_health_check: { send: { text: '0102' }, receive: [{ text: '03' }] } },
          ],
          typed_extension_protocol_options: {
            'envoy.extensions.upstreams.http.v3.HttpProtocolOptions': schema.packAny('envoy.extensions.upstreams.http.v3.HttpProtocolOptions', { explicit_http_config: { http2_protocol_options: { initial_stream_window_size: { value: 65536 } } } }),
          },
        }),
      ).result,
    );
    const [http, grpc, tcp] = c.healthChecks;
    assert.ok(http && grpc && tcp);
    assert.equal(http.noTrafficIntervalMs, 60_000);
    assert.equal(http.unhealthyEdgeIntervalMs, 5000);
    assert.equal(http.healthyEdgeIntervalMs, 5000);
    assert.equal(http.reuseConnection, true);
    assert.ok(http.checker.kind === 'http' && http.checker.method === 'GET' && http.checker.expectedStatuses.length === 1);
    assert.deepEqual(http.checker.kind === 'http' ? http.checker.expectedStatuses : null, [[200, 201]]);
    assert.deepEqual(grpc.checker, { kind: 'grpc', serviceName: 'svc', authority: '' });
    assert.ok(tcp.checker.kind === 'tcp' && Buffer.from(tcp.checker.send ?? []).equals(Buffer.from([1, 2])));
    assert.equal(c.upstreamHttp.protocol, 'http2');
    assert.equal(c.upstreamHttp.http2.initialStreamWindowSize, 65536);
    const missing = expectErrors(decodeVia(clusterResource, eds({ health_checks: [{ timeout: { seconds: 1 }, interval: { seconds: 5 }, http_health_check: { path: '/' } }] })).result);
    assert.ok(hasError(missing, 'health_checks[0].unhealthy_threshold', 'required'), JSON.stringify(missing));
    const wrongKey = expectErrors(decodeVia(clusterResource, eds({ typed_extension_protocol_options: { 'envoy.extensions.upstreams.tcp.v3.TcpProtocolOptions': { type_url: 'type.googleapis.com/x.Y', value: Buffer.alloc(0) } } })).result);
    assert.ok(wrongKey.some((e) => e.message.includes('unsupported protocol options')));
  });

  it('dependencies: the EDS service name with eds_config.initial_fetch_timeout (0 = forever, unset = 15 s)', () => {
    const EDS_URL = 'type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment';
    const zero = expectValid(decodeVia(clusterResource, eds({ eds_cluster_config: { service_name: 's', eds_config: { ads: {}, initial_fetch_timeout: { seconds: 0 } } } })).result);
    assert.deepEqual(clusterResource.dependencies(zero), [{ typeUrl: EDS_URL, names: ['s'], initialFetchTimeoutMs: 0 }]);
    const unset = expectValid(decodeVia(clusterResource, eds()).result);
    assert.deepEqual(clusterResource.dependencies(unset), [{ typeUrl: EDS_URL, names: ['c'], initialFetchTimeoutMs: 15_000 }]);
    const inline = expectValid(decodeVia(clusterResource, { name: 's', type: 'STATIC' }).result);
    assert.deepEqual(clusterResource.dependencies(inline), []);
  });

  it('keeps transport socket matches and rejects unknown transport sockets', () => {
    const c = expectValid(decodeVia(clusterResource, eds({ transport_socket_matches: [{ name: 'm', match: struct({ tlsMode: 'istio' }), transport_socket: { name: 'raw', typed_config: schema.packAny('envoy.extensions.transport_sockets.raw_buffer.v3.RawBuffer', {}) } }] })).result);
    assert.deepEqual(c.transportSocketMatches, [{ name: 'm', match: { tlsMode: 'istio' }, transportSocket: { kind: 'raw_buffer' } }]);
    const bad = expectErrors(decodeVia(clusterResource, eds({ transport_socket: { name: 'alts', typed_config: { type_url: 'type.googleapis.com/envoy.extensions.transport_sockets.alts.v3.Alts', value: Buffer.alloc(0) } } })).result);
    assert.ok(hasError(bad, 'transport_socket.typed_config', 'unsupported upstream transport socket'));
  });
});
