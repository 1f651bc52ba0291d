// GET / (the live dashboard page) and GET /dashboard.json (what it polls): clusters, hosts with health and
// ejection state, cumulative request counters and latency buckets per cluster, xDS connection and last NACK.

import type * as http from 'node:http';
import { coarseHealth, describeHealthFlags, HostHealthFlags } from '../upstream/host-health-flags';
import type { UpstreamCluster } from '../upstream/upstream-cluster';
import type { XdsClient } from '../xds/xds-client';
import { LATENCY_BOUNDS_MS, type ExchangeStats } from '../observability/exchange-stats';
import { sendJson } from './admin-response';
import type { AdminEndpoint } from './admin-server';
import { DASHBOARD_PAGE } from './dashboard-page';

/** What the dashboard reads (read-only views). */
export interface DashboardSources {
  readonly nodeId: string;
  readonly clusters: { clusters(): Iterable<UpstreamCluster> };
  readonly exchangeStats: ExchangeStats;
  readonly xdsClient: () => XdsClient | undefined;
}

/** The `/dashboard.json` document (cumulative values; the page differentiates between polls). */
export function dashboardData(sources: DashboardSources): object {
  const clusters = [...sources.clusters.clusters()].map((cluster) => {
    const stats = sources.exchangeStats.clusters.get(cluster.name);
    const hosts = cluster.hosts.map((host) => ({
      address: host.key,
      health: coarseHealth(host.healthFlags),
      ejected: (host.healthFlags & HostHealthFlags.OUTLIER_EJECTED) !== 0,
      flags: describeHealthFlags(host.healthFlags),
      activeRequests: host.activeRequests,
      weight: host.weight,
    }));
    return {
      name: cluster.name,
      requests: stats?.rqTotal ?? 0,
      errors: stats?.rqByClass[5] ?? 0,
      retries: stats?.retries ?? 0,
      time: stats?.time.buckets ?? [],
      ejected: hosts.filter((h) => h.ejected).length,
      hosts,
    };
  }).sort((a, b) => a.name.localeCompare(b.name));
  const xds = sources.xdsClient();
  return {
    node: sources.nodeId,
    at: Date.now(),
    bounds: LATENCY_BOUNDS_MS,
    clusters,
    xds: xds === undefined ? null : {
      server: xds.connection.server,
      state: xds.connection.state,
      lastError: xds.connection.lastError ?? null,
      types: xds.typeStatuses().map((t) => ({ type: t.shortName, version: t.version, accepted: t.updatesAccepted, rejected: t.updatesRejected, lastNack: t.lastNack ?? null })),
    },
  };
}

/** `/` and `/dashboard.json`. The page works offline: no external script, style or font. */
export function dashboardEndpoints(sources: DashboardSources): AdminEndpoint[] {
  return [
    {
      path: '/',
      method: 'GET',
      help: 'live dashboard (clusters, hosts, req/s, p50/p99, xDS state)',
      handle(_req: http.IncomingMessage, res: http.ServerResponse) {
        res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store', 'content-security-policy': "default-src 'self'; script-src 'unsafe-inline'; style-src 'unsafe-inline'" });
        res.end(DASHBOARD_PAGE);
      },
    },
    {
      path: '/dashboard.json',
      method: 'GET',
      help: 'the data the dashboard polls',
      handle(_req: http.IncomingMessage, res: http.ServerResponse) {
        sendJson(res, 200, dashboardData(sources));
      },
    },
  ];
}
