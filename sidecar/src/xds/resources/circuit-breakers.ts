// CircuitBreakers -> per-priority thresholds (first entry per priority wins; defaults 1024/1024/1024/3).

import { DEFAULT_CIRCUIT_BREAKER_THRESHOLDS as D, type CircuitBreakersConfig, type CircuitBreakerThresholdsConfig } from '../../config/cluster-config';
import type { CircuitBreakers__Output } from '../../../../xds-protos/generated/envoy/config/cluster/v3/CircuitBreakers';
import type { _envoy_config_cluster_v3_CircuitBreakers_Thresholds__Output as Thresholds__Output } from '../../../../xds-protos/generated/envoy/config/cluster/v3/CircuitBreakers';

function thresholds(t: Thresholds__Output | undefined): CircuitBreakerThresholdsConfig {
  if (t === undefined) return D;
  const rb = t.retry_budget;
  return {
    maxConnections: t.max_connections?.value ?? D.maxConnections,
    maxPendingRequests: t.max_pending_requests?.value ?? D.maxPendingRequests,
    maxRequests: t.max_requests?.value ?? D.maxRequests,
    maxRetries: t.max_retries?.value ?? D.maxRetries,
    maxConnectionPools: t.max_connection_pools?.value ?? null,
    trackRemaining: t.track_remaining,
    // Envoy: an empty retry_budget {} means 20% with a floor of 3 concurrent retries.
    retryBudget: rb === null ? null : { budgetPercent: rb.budget_percent?.value ?? 20, minRetryConcurrency: rb.min_retry_concurrency?.value ?? 3 },
  };
}

/** Always returns thresholds for both priorities (Envoy's defaults where none are configured). */
export function decodeCircuitBreakers(cb: CircuitBreakers__Output | null): CircuitBreakersConfig {
  const first = (list: readonly Thresholds__Output[], priority: string): Thresholds__Output | undefined => list.find((t) => t.priority === priority);
  const perHost = (priority: string): number | null => first(cb?.per_host_thresholds ?? [], priority)?.max_connections?.value ?? null;
  return {
    default: thresholds(first(cb?.thresholds ?? [], 'DEFAULT')),
    high: thresholds(first(cb?.thresholds ?? [], 'HIGH')),
    perHostMaxConnections: { default: perHost('DEFAULT'), high: perHost('HIGH') },
  };
}
