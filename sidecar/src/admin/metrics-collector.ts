// Gathers every metric family at scrape time: request counters from the stats observer, cluster membership,
// breakers and ejections from the cluster manager, listener connections, xDS updates, process CPU and memory.

import { coarseHealth, HostHealthFlags } from '../upstream/host-health-flags';
import type { UpstreamCluster } from '../upstream/upstream-cluster';
import type { XdsClient } from '../xds/xds-client';
import type { ExchangeStats } from '../observability/exchange-stats';
import { PrometheusText } from '../observability/prometheus-text';

/** Outlier-detection counters of one cluster (Envoy `cluster.<name>.outlier_detection.*`), when detection runs. */
export interface OutlierStatsView {
  readonly ejectionsActive: number;
  readonly ejectionsEnforcedTotal: number;
  readonly ejectionsOverflow: number;
  readonly ejectionsDetected: Readonly<Record<string, number>>;
  readonly ejectionsEnforced: Readonly<Record<string, number>>;
}

/** Health-check counters of one cluster (Envoy `cluster.<name>.health_check.*`), when active checks run. */
export interface HealthCheckStatsView {
  readonly attempt: number;
  readonly success: number;
  readonly failure: number;
}

/** Read-only views the collector reads. Everything but `clusters` and `exchangeStats` is optional. */
export interface MetricsSources {
  readonly clusters: { clusters(): Iterable<UpstreamCluster> };
  readonly exchangeStats: ExchangeStats;
  /** Per-listener connection counters (ListenerManager.stats()). */
  readonly listenerStats?: () => ReadonlyMap<string, { readonly downstreamCxTotal: number; readonly downstreamCxActive: number; readonly noFilterChainMatch: number }>;
  readonly xdsClient?: () => XdsClient | undefined;
  readonly outlierStats?: (cluster: UpstreamCluster) => OutlierStatsView | undefined;
  readonly healthCheckStats?: (cluster: UpstreamCluster) => HealthCheckStatsView | undefined;
  /** Further families (tracing, access log counters). */
  readonly extra?: (out: PrometheusText) => void;
}

/** Builds the exposition document for `/stats/prometheus` and `/stats`. Cost: O(clusters x hosts) per scrape. */
export function collectMetrics(sources: MetricsSources): PrometheusText {
  const out = new PrometheusText();
  for (const cluster of sources.clusters.clusters()) {
    const l = { envoy_cluster_name: cluster.name };
    let healthy = 0;
    let degraded = 0;
    let ejected = 0;
    let activeRequests = 0;
    for (const host of cluster.hosts) {
      const health = coarseHealth(host.healthFlags);
      if (health === 'healthy') healthy += 1;
      else if (health === 'degraded') degraded += 1;
      if ((host.healthFlags & HostHealthFlags.OUTLIER_EJECTED) !== 0) ejected += 1;
      activeRequests += host.activeRequests;
    }
    out.gauge('envoy_cluster_membership_total', 'Hosts in the cluster', l, cluster.hosts.length);
    out.gauge('envoy_cluster_membership_healthy', 'Healthy hosts', l, healthy);
    out.gauge('envoy_cluster_membership_degraded', 'Degraded hosts', l, degraded);
    out.counter('envoy_cluster_membership_change', 'Host set changes', l, cluster.stats.membershipChanges);
    out.counter('envoy_cluster_upstream_cx_max_duration_reached', 'Upstream connections retired at max_connection_duration', l, cluster.stats.upstreamCxMaxDurationReached);
    out.gauge('envoy_cluster_upstream_cx_active', 'Upstream connections open (circuit breaker count)', l, cluster.breaker.connections);
    out.gauge('envoy_cluster_upstream_rq_pending_active', 'Requests waiting for a connection', l, cluster.breaker.pending);
    out.gauge('meshlet_cluster_host_rq_active', 'Requests in flight summed over hosts', l, activeRequests);
    const breaker = cluster.breaker.stats;
    out.counter('envoy_cluster_upstream_rq_pending_overflow', 'Requests refused by the circuit breaker (max_requests, max_pending_requests)', l, breaker.pendingOverflow + breaker.requestOverflow);
    out.counter('envoy_cluster_upstream_rq_retry_overflow', 'Retries refused by the circuit breaker or retry budget', l, breaker.retryOverflow);
    out.counter('envoy_cluster_upstream_cx_overflow', 'Connections refused by max_connections', l, breaker.connectionOverflow);
    out.counter('envoy_cluster_upstream_cx_none_healthy', 'Picks that found no healthy host', l, cluster.stats.noHealthyHost);
    out.counter('envoy_cluster_lb_healthy_panic', 'Picks made in panic mode', l, cluster.stats.lbHealthyPanic);
    // Zone-aware routing (with a local cluster): Envoy's lb_zone_* and lb_local_cluster_not_ok counters.
    const z = cluster.stats;
    out.counter('envoy_cluster_lb_zone_routing_all_directly', 'Zone-routed picks sent to the local zone (direct)', l, z.lbZoneRoutingAllDirectly);
    out.counter('envoy_cluster_lb_zone_routing_sampled', 'Zone-routed picks sent to the local zone (residual draw)', l, z.lbZoneRoutingSampled);
    out.counter('envoy_cluster_lb_zone_routing_cross_zone', 'Zone-routed picks sent to another zone', l, z.lbZoneRoutingCrossZone);
    out.counter('envoy_cluster_lb_local_cluster_not_ok', 'Zone routing skipped: local cluster in panic or without the local zone', l, z.lbLocalClusterNotOk);
    out.counter('envoy_cluster_lb_zone_cluster_too_small', 'Zone routing skipped: fewer healthy hosts than min_cluster_size', l, z.lbZoneClusterTooSmall);
    const outlier = sources.outlierStats?.(cluster);
    out.gauge('envoy_cluster_outlier_detection_ejections_active', 'Hosts ejected now', l, outlier?.ejectionsActive ?? ejected);
    if (outlier !== undefined) {
      out.counter('envoy_cluster_outlier_detection_ejections_enforced_total', 'Ejections enforced', l, outlier.ejectionsEnforcedTotal);
      out.counter('envoy_cluster_outlier_detection_ejections_overflow', 'Ejections skipped by max_ejection_percent', l, outlier.ejectionsOverflow);
      for (const [type, n] of Object.entries(outlier.ejectionsDetected)) out.counter('envoy_cluster_outlier_detection_ejections_detected', 'Ejections detected, by type', { ...l, type }, n);
      for (const [type, n] of Object.entries(outlier.ejectionsEnforced)) out.counter('envoy_cluster_outlier_detection_ejections_enforced', 'Ejections enforced, by type', { ...l, type }, n);
    }
    const hc = sources.healthCheckStats?.(cluster);
    if (hc !== undefined) {
      out.counter('envoy_cluster_health_check_attempt', 'Active health checks run', l, hc.attempt);
      out.counter('envoy_cluster_health_check_success', 'Active health checks passed', l, hc.success);
      out.counter('envoy_cluster_health_check_failure', 'Active health checks failed', l, hc.failure);
    }
  }
  sources.exchangeStats.render(out);
  for (const [name, s] of sources.listenerStats?.() ?? []) {
    const l = { envoy_listener_name: name };
    out.counter('envoy_listener_downstream_cx_total', 'Downstream connections accepted', l, s.downstreamCxTotal);
    out.gauge('envoy_listener_downstream_cx_active', 'Downstream connections open', l, s.downstreamCxActive);
    out.counter('envoy_listener_no_filter_chain_match', 'Connections that matched no filter chain', l, s.noFilterChainMatch);
  }
  const xds = sources.xdsClient?.();
  if (xds !== undefined) {
    out.gauge('envoy_control_plane_connected_state', '1 while the ADS stream is connected', {}, xds.connection.state === 'CONNECTED' ? 1 : 0);
    out.counter('meshlet_control_plane_reconnects', 'ADS streams opened after the first', {}, xds.connection.reconnects);
    for (const ts of xds.typeStatuses()) {
      const l = { type: ts.shortName };
      out.counter('envoy_xds_update_success', 'xDS responses accepted (ACK), by type', l, ts.updatesAccepted);
      out.counter('envoy_xds_update_rejected', 'xDS responses rejected (NACK), by type', l, ts.updatesRejected);
    }
  }
  sources.extra?.(out);
  const cpu = process.cpuUsage();
  const mem = process.memoryUsage();
  out.counter('process_cpu_seconds_total', 'User and system CPU time', {}, (cpu.user + cpu.system) / 1e6);
  out.gauge('process_resident_memory_bytes', 'Resident set size', {}, mem.rss);
  out.gauge('nodejs_heap_size_used_bytes', 'V8 heap used', {}, mem.heapUsed);
  out.gauge('process_start_time_seconds', 'Process start, epoch seconds', {}, Math.round(Date.now() / 1000 - process.uptime()));
  return out;
}
