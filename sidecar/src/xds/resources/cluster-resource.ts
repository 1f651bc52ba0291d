// CDS: Cluster -> ClusterConfig (discovery, endpoints, LB policy, outlier detection, breakers, health checks, protocol, TLS).

import type { ErrorCollector } from '../../core/validation';
import {
  DEFAULT_CONNECT_TIMEOUT_MS,
  DEFAULT_DNS_REFRESH_RATE_MS,
  DEFAULT_HEALTHY_PANIC_THRESHOLD_PERCENT,
  type ClusterConfig,
  type CommonLbConfig,
  type DiscoveryType,
  type TransportSocketMatchConfig,
} from '../../config/cluster-config';
import { DEFAULT_BUFFER_LIMIT_BYTES } from '../../config/listener-config';
import { decodeCircuitBreakers } from './circuit-breakers';
import { decodeLoadAssignment } from './cluster-load-assignment-resource';
import { decodeConfigSource } from './config-source';
import { durationMsOr } from './duration-ms';
import { resolveFilter } from './filter-classifier';
import { decodeHealthCheck } from './health-checks';
import { decodeClusterLbPolicy } from './lb-policy';
import { decodeList } from './matchers';
import { decodeOutlierDetection } from './outlier-detection';
import { decodeResource, stringField } from './decode-resource';
import { CLUSTER_LOAD_ASSIGNMENT_TYPE_URL, CLUSTER_TYPE_URL, type DecodeContext, type DecodedResource, type ResourceDependency, type XdsResourceType } from './resource-type';
import { metadataToJson, structToJson } from './struct-json';
import { decodeUpstreamTransportSocket } from './transport-socket';
import { decodeUpstreamHttpOptions } from './upstream-http-options';
import type { Cluster__Output } from '../../../../xds-protos/generated/envoy/config/cluster/v3/Cluster';

const PROTO_NAME = 'envoy.config.cluster.v3.Cluster';

function decodeCommonLbConfig(c: Cluster__Output, localityWeighted: boolean): CommonLbConfig {
  const cl = c.common_lb_config;
  const za = cl?.locality_config_specifier === 'zone_aware_lb_config' ? cl.zone_aware_lb_config : null;
  return {
    // Percent.value is a double; Envoy truncates it to an integer percentage.
    healthyPanicThresholdPercent: cl?.healthy_panic_threshold ? Math.trunc(cl.healthy_panic_threshold.value) : DEFAULT_HEALTHY_PANIC_THRESHOLD_PERCENT,
    zoneAware: za ? { routingEnabledPercent: za.routing_enabled?.value ?? 100, minClusterSize: Number(za.min_cluster_size?.value ?? 6), failTrafficOnPanic: za.fail_traffic_on_panic } : null,
    localityWeighted,
    ignoreNewHostsUntilFirstHc: cl?.ignore_new_hosts_until_first_hc ?? false,
    updateMergeWindowMs: durationMsOr(cl?.update_merge_window, 1000),
    closeConnectionsOnHostSetChange: cl?.close_connections_on_host_set_change ?? false,
  };
}

function decodeDiscoveryType(c: Cluster__Output, errors: ErrorCollector): DiscoveryType | null {
  if (c.cluster_discovery_type === 'cluster_type') {
    errors.add(`custom cluster type ${JSON.stringify(c.cluster_type?.name ?? '')} (${c.cluster_type?.typed_config?.type_url ?? 'no typed_config'}) is not supported`, 'cluster_type');
    return null;
  }
  return (c.type ?? 'STATIC') as DiscoveryType;
}

function decodeCluster(ctx: DecodeContext, c: Cluster__Output, errors: ErrorCollector): ClusterConfig | null {
  const discoveryType = decodeDiscoveryType(c, errors);

  let edsServiceName: string | null = null;
  let edsConfig: ClusterConfig['edsConfig'] = null;
  if (discoveryType === 'EDS') {
    if (c.eds_cluster_config === null) errors.add('an EDS cluster needs eds_cluster_config', 'eds_cluster_config');
    else {
      edsServiceName = c.eds_cluster_config.service_name !== '' ? c.eds_cluster_config.service_name : c.name;
      edsConfig = decodeConfigSource(ctx, c.eds_cluster_config.eds_config, errors.at('eds_cluster_config').at('eds_config'));
    }
  }

  const dnsCluster = discoveryType === 'STRICT_DNS' || discoveryType === 'LOGICAL_DNS';
  const loadAssignment = c.load_assignment === null ? null : decodeLoadAssignment(c.load_assignment, errors.at('load_assignment'), { requireIp: !dnsCluster });
  const hostCount = loadAssignment?.priorities.reduce((n, p) => n + p.reduce((m, l) => m + l.endpoints.length, 0), 0) ?? 0;
  if (discoveryType === 'STATIC' && c.load_assignment === null) {
    // Envoy accepts this (Istio's BlackHoleCluster is exactly that): a cluster with no endpoints.
    errors.warn('STATIC cluster without load_assignment has no endpoints', 'load_assignment');
  }
  if (discoveryType === 'LOGICAL_DNS' && (loadAssignment?.priorities.flat().length !== 1 || hostCount !== 1)) {
    errors.add('LOGICAL_DNS clusters must have a single locality_lb_endpoint and a single lb_endpoint', 'load_assignment');
  }
  if (discoveryType === 'ORIGINAL_DST' && hostCount > 0) errors.add('ORIGINAL_DST clusters must have no load assignment configured', 'load_assignment');

  const lb = decodeClusterLbPolicy(ctx, c, errors);
  if (lb !== null && discoveryType !== null) {
    // Envoy: ORIGINAL_DST needs the cluster-provided LB, and CLUSTER_PROVIDED is only valid for ORIGINAL_DST.
    if (discoveryType === 'ORIGINAL_DST' && lb.policy.kind !== 'cluster_provided') errors.add(`LB policy ${lb.policy.kind} is not valid for cluster type ORIGINAL_DST; only CLUSTER_PROVIDED is allowed`, 'lb_policy');
    if (discoveryType !== 'ORIGINAL_DST' && lb.policy.kind === 'cluster_provided') errors.add(`LB policy CLUSTER_PROVIDED is not valid for cluster type ${discoveryType}`, 'lb_policy');
  }
  if (c.lb_subset_config !== null && c.lb_subset_config.subset_selectors.length > 0) errors.add('subset load balancing (lb_subset_config) is not supported', 'lb_subset_config');
  if (c.original_dst_lb_config && discoveryType !== 'ORIGINAL_DST') errors.add('original_dst_lb_config is only valid for ORIGINAL_DST clusters', 'original_dst_lb_config');
  if (c.lrs_server !== null) errors.warn('load reporting (lrs_server) is not implemented', 'lrs_server');

  // Cluster network filters: Istio's TCP metadata exchange is ignorable; anything else we do not run is an error.
  c.filters.forEach((f, i) => {
    const resolved = resolveFilter(ctx, f, 'cluster_filter', errors.at('filters').at(i));
    if (resolved !== null && resolved.cls.kind !== 'ignored') errors.at('filters').add(`upstream network filter ${resolved.config.typeUrl} is not supported`, i);
  });

  const outlierDetection = decodeOutlierDetection(c.outlier_detection, errors.at('outlier_detection'));
  const healthChecks = decodeList(c.health_checks, errors, 'health_checks', decodeHealthCheck);
  const upstreamHttp = decodeUpstreamHttpOptions(ctx, c, errors);
  const transportSocket = c.transport_socket === null ? null : decodeUpstreamTransportSocket(ctx, c.transport_socket, errors.at('transport_socket'));
  const transportSocketMatches = decodeList(c.transport_socket_matches, errors, 'transport_socket_matches', (m, e): TransportSocketMatchConfig | null => {
    if (m.transport_socket === null) {
      e.add('transport_socket is required', 'transport_socket');
      return null;
    }
    const ts = decodeUpstreamTransportSocket(ctx, m.transport_socket, e.at('transport_socket'));
    return ts === null ? null : { name: m.name, match: structToJson(m.match), transportSocket: ts };
  });
  const odl = c.original_dst_lb_config ?? null;
  const bind = c.upstream_bind_config?.source_address ?? null;

  if (errors.hasErrors || discoveryType === null || lb === null) return null;
  return {
    name: c.name,
    discoveryType,
    edsServiceName,
    edsConfig,
    loadAssignment,
    connectTimeoutMs: durationMsOr(c.connect_timeout, DEFAULT_CONNECT_TIMEOUT_MS),
    perConnectionBufferLimitBytes: c.per_connection_buffer_limit_bytes?.value ?? DEFAULT_BUFFER_LIMIT_BYTES,
    lbPolicy: lb.policy,
    commonLbConfig: decodeCommonLbConfig(c, lb.localityWeighted),
    outlierDetection,
    circuitBreakers: decodeCircuitBreakers(c.circuit_breakers),
    healthChecks,
    upstreamHttp,
    transportSocket,
    transportSocketMatches,
    dnsLookupFamily: c.dns_lookup_family as ClusterConfig['dnsLookupFamily'],
    dnsRefreshRateMs: durationMsOr(c.dns_refresh_rate, DEFAULT_DNS_REFRESH_RATE_MS),
    respectDnsTtl: c.respect_dns_ttl,
    originalDstLbConfig: odl
      ? { useHttpHeader: odl.use_http_header, httpHeaderName: odl.http_header_name !== '' ? odl.http_header_name.toLowerCase() : 'x-envoy-original-dst-host', upstreamPortOverride: odl.upstream_port_override?.value ?? null }
      : null,
    cleanupIntervalMs: durationMsOr(c.cleanup_interval, 5000),
    upstreamBindAddress: bind ? { host: bind.address, port: bind.port_value ?? 0 } : null,
    ignoreHealthOnHostRemoval: c.ignore_health_on_host_removal,
    closeConnectionsOnHostHealthFailure: c.close_connections_on_host_health_failure,
    metadata: metadataToJson(c.metadata),
  };
}

/** The CDS resource type. Dependencies: the EDS service name of an EDS cluster, with its `eds_config` initial fetch timeout. */
export const clusterResource: XdsResourceType<ClusterConfig> = {
  typeUrl: CLUSTER_TYPE_URL,
  protoName: PROTO_NAME,
  shortName: 'CDS',
  allResourcesRequiredInSotW: true,
  decode(ctx: DecodeContext, message: unknown): DecodedResource<ClusterConfig> {
    return decodeResource(ctx, PROTO_NAME, message, stringField(message, 'name'), 'cluster', (c: Cluster__Output, errors) => decodeCluster(ctx, c, errors));
  },
  dependencies(value: ClusterConfig): readonly ResourceDependency[] {
    if (value.edsServiceName === null) return [];
    // Envoy's EdsClusterImpl waits `eds_config.initial_fetch_timeout` for its ClusterLoadAssignment (0 = forever).
    const timeout = value.edsConfig === null ? {} : { initialFetchTimeoutMs: value.edsConfig.initialFetchTimeoutMs };
    return [{ typeUrl: CLUSTER_LOAD_ASSIGNMENT_TYPE_URL, names: [value.edsServiceName], ...timeout }];
  },
};
