// The read-only endpoint set of the health server (--health-address): probes and Prometheus scrapes only.

import type { AdminEndpoint } from './admin-server';
import type { MetricsSources } from './metrics-collector';
import { probeEndpoints } from './probe-endpoints';
import { statsPrometheusEndpoint } from './stats-prometheus-endpoint';

/**
 * What may be reached on the pod IP: Istio's 15021 (`/healthz/ready`) and 15090/15020 (`/stats/prometheus`),
 * Linkerd's 4191 (`/ready`, `/live`, `/metrics`). Nothing that reveals config (/config_dump, /clusters) or changes
 * state (/drain, /logging): those stay on the loopback admin server. Same handlers as admin's, so the ready state
 * and the Prometheus text have one source.
 */
export function healthEndpoints(isReady: () => boolean, metrics: MetricsSources): AdminEndpoint[] {
  return [
    ...probeEndpoints(isReady, ['/ready', '/healthz/ready']),
    statsPrometheusEndpoint(metrics, '/metrics'),
    statsPrometheusEndpoint(metrics),
  ];
}
