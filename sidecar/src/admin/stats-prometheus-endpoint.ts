// GET /stats/prometheus: every metric in the Prometheus text format 0.0.4 (Envoy's admin endpoint of that name).

import type { AdminEndpoint } from './admin-server';
import { collectMetrics, type MetricsSources } from './metrics-collector';

/**
 * Envoy-like names (`envoy_cluster_upstream_rq_total{envoy_cluster_name="..."}`); no path or IP labels. `path`
 * lets the health server serve the same text as `/metrics` too (Linkerd's 4191, Prometheus' default path).
 */
export function statsPrometheusEndpoint(sources: MetricsSources, path = '/stats/prometheus'): AdminEndpoint {
  return {
    path,
    method: 'GET',
    help: 'metrics in the Prometheus text format',
    handle(_req, res) {
      const body = collectMetrics(sources).toString();
      res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8', 'cache-control': 'no-store' });
      res.end(body);
    },
  };
}
