// Cluster circuit breaker counters for one routing priority: requests, pending requests, retries (or a retry budget), connections.

import { DEFAULT_CIRCUIT_BREAKER_THRESHOLDS, type CircuitBreakerThresholdsConfig } from '../config/cluster-config';

/** Overflow counters (Envoy `upstream_rq_pending_overflow`, `upstream_rq_retry_overflow`, ...). */
export interface CircuitBreakerStats {
  /** `max_requests` reached (Envoy folds this into `upstream_rq_pending_overflow`; kept apart here). */
  requestOverflow: number;
  /** `max_pending_requests` reached (`upstream_rq_pending_overflow`). */
  pendingOverflow: number;
  /** `max_retries` / retry budget reached (`upstream_rq_retry_overflow`). */
  retryOverflow: number;
  /** `max_connections` reached (`upstream_cx_overflow`). */
  connectionOverflow: number;
}

/** One bounded resource: a count, its limit (read at each acquire, so threshold updates apply at once) and overflows. */
class Resource {
  count = 0;
  overflows = 0;
  constructor(private readonly limit: () => number) {}

  tryAcquire(): boolean {
    if (this.count >= this.limit()) {
      this.overflows += 1;
      return false;
    }
    this.count += 1;
    return true;
  }

  release(): void {
    if (this.count > 0) this.count -= 1;
  }
}

/**
 * Envoy `ResourceManagerImpl` (specs/load-balancing.md §4.1): each `tryAcquire*` either takes one unit and
 * returns true, or counts an overflow and returns false; the caller answers 503 UO (never retried) and must
 * call the matching `release*` exactly once per successful acquire. Counters survive config updates;
 * `update()` swaps thresholds in place. Cost: a compare and an increment.
 */
export class CircuitBreaker {
  private thresholds: CircuitBreakerThresholdsConfig;
  private readonly rq = new Resource(() => this.thresholds.maxRequests);
  private readonly pendingRq = new Resource(() => this.thresholds.maxPendingRequests);
  private readonly retry = new Resource(() => this.maxRetries);
  private readonly cx = new Resource(() => this.thresholds.maxConnections);

  constructor(thresholds: CircuitBreakerThresholdsConfig = DEFAULT_CIRCUIT_BREAKER_THRESHOLDS) {
    this.thresholds = thresholds;
  }

  get limits(): CircuitBreakerThresholdsConfig {
    return this.thresholds;
  }

  update(thresholds: CircuitBreakerThresholdsConfig): void {
    this.thresholds = thresholds;
  }

  /** A snapshot of the overflow counters. */
  get stats(): CircuitBreakerStats {
    return { requestOverflow: this.rq.overflows, pendingOverflow: this.pendingRq.overflows, retryOverflow: this.retry.overflows, connectionOverflow: this.cx.overflows };
  }

  /** Units in use now. */
  get requests(): number {
    return this.rq.count;
  }
  get pending(): number {
    return this.pendingRq.count;
  }
  get retries(): number {
    return this.retry.count;
  }
  get connections(): number {
    return this.cx.count;
  }

  /** The concurrent retry limit now: `max_retries`, or with a retry budget max(budget% · (active + pending), min concurrency). */
  get maxRetries(): number {
    const budget = this.thresholds.retryBudget;
    if (budget === null) return this.thresholds.maxRetries;
    // Envoy RetryBudgetImpl: budget_percent of (rq_active + rq_pending), floored at min_retry_concurrency.
    return Math.max(Math.floor((budget.budgetPercent / 100) * (this.rq.count + this.pendingRq.count)), budget.minRetryConcurrency);
  }

  tryAcquireRequest(): boolean {
    return this.rq.tryAcquire();
  }
  releaseRequest(): void {
    this.rq.release();
  }
  tryAcquirePending(): boolean {
    return this.pendingRq.tryAcquire();
  }
  releasePending(): void {
    this.pendingRq.release();
  }
  tryAcquireRetry(): boolean {
    return this.retry.tryAcquire();
  }
  releaseRetry(): void {
    this.retry.release();
  }
  tryAcquireConnection(): boolean {
    return this.cx.tryAcquire();
  }
  releaseConnection(): void {
    this.cx.release();
  }
}
