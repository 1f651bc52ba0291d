// Admin `GET /clusters`: every cluster and host with health flags, outlier state and breaker thresholds, as Envoy's
// text listing (source/server/admin/clusters_handler.cc) or, with `?format=json`, its ClusterStatuses JSON.

import type * as http from 'node:http';
import type { CircuitBreakerThresholdsConfig } from '../config/cluster-config';
import type { CircuitBreaker } from '../upstream/circuit-breaker';
import type { ClusterManager } from '../upstream/cluster-manager';
import type { Host } from '../upstream/host';
import { describeHealthFlags, HostHealthFlags } from '../upstream/host-health-flags';
import type { OutlierDetector } from '../upstream/outlier/outlier-detector';
import type { UpstreamCluster } from '../upstream/upstream-cluster';
import type { AdminEndpoint } from './admin-server';
import { sendJson, sendText } from './admin-response';

const F = HostHealthFlags;

/** One breaker's thresholds and what is left of each now (Envoy `track_remaining` gauges, always shown here). */
interface BreakerView {
  readonly priority: 'DEFAULT' | 'HIGH';
  readonly max_connections: number;
  readonly max_pending_requests: number;
  readonly max_requests: number;
  readonly max_retries: number;
  readonly remaining_cx: number;
  readonly remaining_pending: number;
  readonly remaining_rq: number;
  readonly remaining_retries: number;
}

function breakerView(priority: 'DEFAULT' | 'HIGH', b: CircuitBreaker): BreakerView {
  const t: CircuitBreakerThresholdsConfig = b.limits;
  const maxRetries = b.maxRetries;
  return {
    priority,
    max_connections: t.maxConnections,
    max_pending_requests: t.maxPendingRequests,
    max_requests: t.maxRequests,
    max_retries: maxRetries,
    remaining_cx: Math.max(0, t.maxConnections - b.connections),
    remaining_pending: Math.max(0, t.maxPendingRequests - b.pending),
    remaining_rq: Math.max(0, t.maxRequests - b.requests),
    remaining_retries: Math.max(0, maxRetries - b.retries),
  };
}

function edsHealthStatus(flags: number): string {
  if (flags & F.EDS_DRAINING) return 'DRAINING';
  if (flags & F.EDS_UNHEALTHY) return 'UNHEALTHY';
  if (flags & F.EDS_DEGRADED) return 'DEGRADED';
  return 'HEALTHY';
}

function hostJson(host: Host, outlier: OutlierDetector | undefined): object {
  const flags = host.healthFlags;
  const view = outlier?.hostView(host);
  return {
    address: { socket_address: { address: host.address, port_value: host.port } },
    hostname: host.hostname,
    weight: host.weight,
    priority: host.priority,
    locality: { region: host.locality.region, zone: host.locality.zone, sub_zone: host.locality.subZone },
    stats: [{ name: 'rq_active', type: 'GAUGE', value: host.activeRequests }],
    health_flags: describeHealthFlags(flags),
    health_status: {
      eds_health_status: edsHealthStatus(flags),
      failed_active_health_check: (flags & F.FAILED_ACTIVE_HC) !== 0,
      failed_outlier_check: (flags & F.OUTLIER_EJECTED) !== 0,
      pending_active_hc: (flags & F.PENDING_ACTIVE_HC) !== 0,
      excluded_via_immediate_hc_fail: (flags & F.EXCLUDED_VIA_IMMEDIATE_HC_FAIL) !== 0,
      active_hc_degraded: (flags & F.DEGRADED_ACTIVE_HC) !== 0,
      pending_dynamic_removal: (flags & F.DRAINING) !== 0,
    },
    success_rate: view?.successRate ?? -1,
    local_origin_success_rate: view?.localOriginSuccessRate ?? -1,
    outlier: view === undefined ? null : {
      ejected: view.ejected,
      num_ejections: view.numEjections,
      last_ejection_type: view.lastEjectionType,
      ejection_backoff: view.ejectionBackoff,
      consecutive_5xx: view.consecutive5xx,
      consecutive_gateway_failure: view.consecutiveGatewayFailure,
      consecutive_local_origin_failure: view.consecutiveLocalOriginFailure,
    },
  };
}

function clusterJson(cluster: UpstreamCluster, outlier: OutlierDetector | undefined): object {
  const sr = outlier?.successRateStats('external') ?? null;
  const local = outlier?.successRateStats('local') ?? null;
  return {
    name: cluster.name,
    added_via_api: true,
    success_rate_average: sr?.mean ?? -1,
    success_rate_ejection_threshold: sr?.threshold ?? -1,
    local_origin_success_rate_average: local?.mean ?? -1,
    local_origin_success_rate_ejection_threshold: local?.threshold ?? -1,
    outlier_detection: outlier === undefined ? null : outlier.stats,
    circuit_breakers: { thresholds: [breakerView('DEFAULT', cluster.breaker), breakerView('HIGH', cluster.highBreaker)] },
    host_statuses: cluster.hosts.map((h) => hostJson(h, outlier)),
  };
}

/** Envoy's `cluster::key::value` lines, plus meshlet's outlier and remaining-capacity lines. */
function clusterText(cluster: UpstreamCluster, outlier: OutlierDetector | undefined, out: string[]): void {
  const n = cluster.name;
  const sr = outlier?.successRateStats('external') ?? null;
  const local = outlier?.successRateStats('local') ?? null;
  out.push(`${n}::outlier::success_rate_average::${sr?.mean ?? -1}`);
  out.push(`${n}::outlier::success_rate_ejection_threshold::${sr?.threshold ?? -1}`);
  out.push(`${n}::outlier::local_origin_success_rate_average::${local?.mean ?? -1}`);
  out.push(`${n}::outlier::local_origin_success_rate_ejection_threshold::${local?.threshold ?? -1}`);
  if (outlier !== undefined) {
    out.push(`${n}::outlier::ejections_active::${outlier.stats.ejectionsActive}`);
    out.push(`${n}::outlier::ejections_overflow::${outlier.stats.ejectionsOverflow}`);
    out.push(`${n}::outlier::ejections_enforced_total::${outlier.stats.ejectionsEnforcedTotal}`);
  }
  for (const [label, breaker] of [['default_priority', cluster.breaker], ['high_priority', cluster.highBreaker]] as const) {
    const v = breakerView(label === 'default_priority' ? 'DEFAULT' : 'HIGH', breaker);
    out.push(`${n}::${label}::max_connections::${v.max_connections}`);
    out.push(`${n}::${label}::max_pending_requests::${v.max_pending_requests}`);
    out.push(`${n}::${label}::max_requests::${v.max_requests}`);
    out.push(`${n}::${label}::max_retries::${v.max_retries}`);
    out.push(`${n}::${label}::remaining_rq::${v.remaining_rq}`);
    out.push(`${n}::${label}::remaining_retries::${v.remaining_retries}`);
  }
  out.push(`${n}::added_via_api::true`);
  for (const h of cluster.hosts) {
    const p = `${n}::${h.key}`;
    const view = outlier?.hostView(h);
    out.push(`${p}::rq_active::${h.activeRequests}`);
    out.push(`${p}::health_flags::${describeHealthFlags(h.healthFlags)}`);
    out.push(`${p}::weight::${h.weight}`);
    out.push(`${p}::region::${h.locality.region}`);
    out.push(`${p}::zone::${h.locality.zone}`);
    out.push(`${p}::sub_zone::${h.locality.subZone}`);
    out.push(`${p}::canary::false`);
    out.push(`${p}::priority::${h.priority}`);
    out.push(`${p}::success_rate::${view?.successRate ?? -1}`);
    out.push(`${p}::local_origin_success_rate::${view?.localOriginSuccessRate ?? -1}`);
    if (view !== undefined) {
      out.push(`${p}::outlier_ejected::${view.ejected}`);
      out.push(`${p}::num_ejections::${view.numEjections}`);
    }
    if (h.hostname !== '') out.push(`${p}::hostname::${h.hostname}`);
  }
}

/**
 * `GET /clusters` (`?format=json` for JSON). Reads the cluster manager's current clusters, hosts, breakers and
 * outlier detectors; changes nothing. Cost: O(hosts) per call.
 */
export class ClustersEndpoint implements AdminEndpoint {
  readonly path = '/clusters';
  readonly method = 'GET';
  readonly help = 'upstream clusters and hosts: health flags, outlier ejections, success rates, breakers (?format=json)';

  constructor(private readonly clusters: ClusterManager) {}

  handle(_req: http.IncomingMessage, res: http.ServerResponse, url: URL): void {
    const list = [...this.clusters.clusters()].sort((a, b) => a.name.localeCompare(b.name));
    if (url.searchParams.get('format') === 'json') {
      sendJson(res, 200, { cluster_statuses: list.map((c) => clusterJson(c, this.clusters.outlierDetector(c))) });
      return;
    }
    const lines: string[] = [];
    for (const c of list) clusterText(c, this.clusters.outlierDetector(c), lines);
    sendText(res, 200, lines.length === 0 ? '' : `${lines.join('\n')}\n`);
  }
}
