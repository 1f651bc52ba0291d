// Cluster circuit breaker counters for one routing priority: requests, pending requests, retries (or a retry budget), connections.

import { DEFAULT_CIRCUIT_BREAKER_THRESHOLDS, type CircuitBreakerThresholdsConfig } from '../config/cluster-config';

/** Overflow counters (Envoy `upstream_rq_pending_overflow`, `upstream_rq_retry_overflow`, ...). */
export interface CircuitBreakerStats {
  /** `max_requests` reached (Envoy `upstream_rq_pending_overflow` is for pending; this is the request one). */
  requestOverflow: number;
  /** `max_pending_requests` reached (`upstream_rq_pending_overflow`). */
  pendingOverflow: number;
  /** `max_retries` / retry budget reached (`upstream_rq_retry_overflow`). */
  retryOverflow: number;
  /** `max_connections` reached (`upstream_cx_overflow`). */
  connectionOverflow: number;
}

/**
 * Envoy `ResourceManagerImpl` (specs/load-balancing.md §4.1): each `tryAcquire*` either takes one unit and
 * returns true, or counts an overflow and returns false; the caller answers 503 UO (never retried) and must
 * call the matching `release*` exactly once per successful acquire. Counters survive config updates;
 * `update()` swaps thresholds in place. Cost: a compare and an increment.
 */
export class CircuitBreaker {
  readonly stats: CircuitBreakerStats = { requestOverflow: 0, pendingOverflow: 0, retryOverflow: 0, connectionOverflow: 0 };
  /** Current usage. */
  requests = 0;
  pending = 0;
  retries = 0;
  connections = 0;
  private thresholds: CircuitBreakerThresholdsConfig;

  constructor(thresholds: CircuitBreakerThresholdsConfig = DEFAULT_CIRCUIT_BREAKER_THRESHOLDS) {
    this.thresholds = thresholds;
  }

  get limits(): CircuitBreakerThresholdsConfig {
    return this.thresholds;
  }

  update(thresholds: CircuitBreakerThresholdsConfig): void {
    this.thresholds = thresholds;
  }

  tryAcquireRequest(): boolean {
    if (this.requests >= this.thresholds.maxRequests) {
      this.stats.requestOverflow += 1;
      return false;
    }
    this.requests += 1;
    return true;
  }

  releaseRequest(): void {
    if (this.requests > 0) this.requests -= 1;
  }

  tryAcquirePending(): boolean {
    if (this.pending >= this.thresholds.maxPendingRequests) {
      this.stats.pendingOverflow += 1;
      return false;
    }
    this.pending += 1;
    return true;
  }

  releasePending(): void {
    if (this.pending > 0) this.pending -= 1;
  }

  /** The concurrent retry limit now: `max_retries`, or with a retry budget max(budget% · (active + pending), min concurrency). */
  get maxRetries(): number {
    const budget = this.thresholds.retryBudget;
    if (budget === null) return this.thresholds.maxRetries;
    // Envoy RetryBudgetImpl: budget_percent of (rq_active + rq_pending), floored at min_retry_concurrency.
    return Math.max(Math.floor((budget.budgetPercent / 100) * (this.requests + this.pending)), budget.minRetryConcurrency);
  }

  tryAcquireRetry(): boolean {
    if (this.retries >= this.maxRetries) {
      this.stats.retryOverflow += 1;
      return false;
    }
    this.retries += 1;
    return true;
  }

  releaseRetry(): void {
    if (this.retries > 0) this.retries -= 1;
  }

  tryAcquireConnection(): boolean {
    if (this.connections >= this.thresholds.maxConnections) {
      this.stats.connectionOverflow += 1;
      return false;
    }
    this.connections += 1;
    return true;
  }

  releaseConnection(): void {
    if (this.connections > 0) this.connections -= 1;
  }
}
