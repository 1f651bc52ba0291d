// Per-request retry decisions and back-off, as Envoy's RetryStateImpl (source/common/router/retry_state_impl.cc).

import type { RetryPolicyConfig } from '../config/route-config';

/** What ended an upstream attempt, as the retry policy sees it. */
export type AttemptOutcome =
  | { readonly kind: 'response'; readonly status: number; readonly grpcStatus: number | undefined }
  | { readonly kind: 'connect_failure' }
  | { readonly kind: 'reset'; readonly beforeRequestSent: boolean }
  | { readonly kind: 'refused_stream' }
  | { readonly kind: 'per_try_timeout' }
  | { readonly kind: 'overflow' };

const RETRY_ON_5XX = 1 << 0;
const RETRY_ON_GATEWAY_ERROR = 1 << 1;
const RETRY_ON_CONNECT_FAILURE = 1 << 2;
const RETRY_ON_RETRIABLE_4XX = 1 << 3;
const RETRY_ON_REFUSED_STREAM = 1 << 4;
const RETRY_ON_RETRIABLE_STATUS_CODES = 1 << 5;
const RETRY_ON_RESET = 1 << 6;
const RETRY_ON_RESET_BEFORE_REQUEST = 1 << 7;
const RETRY_ON_GRPC_CANCELLED = 1 << 8;
const RETRY_ON_GRPC_DEADLINE_EXCEEDED = 1 << 9;
const RETRY_ON_GRPC_RESOURCE_EXHAUSTED = 1 << 10;
const RETRY_ON_GRPC_UNAVAILABLE = 1 << 11;
const RETRY_ON_GRPC_INTERNAL = 1 << 12;

const RETRY_ON_TOKENS: Readonly<Record<string, number>> = {
  '5xx': RETRY_ON_5XX,
  'gateway-error': RETRY_ON_GATEWAY_ERROR,
  'connect-failure': RETRY_ON_CONNECT_FAILURE,
  'retriable-4xx': RETRY_ON_RETRIABLE_4XX,
  'refused-stream': RETRY_ON_REFUSED_STREAM,
  'retriable-status-codes': RETRY_ON_RETRIABLE_STATUS_CODES,
  reset: RETRY_ON_RESET,
  'reset-before-request': RETRY_ON_RESET_BEFORE_REQUEST,
  cancelled: RETRY_ON_GRPC_CANCELLED,
  'deadline-exceeded': RETRY_ON_GRPC_DEADLINE_EXCEEDED,
  'resource-exhausted': RETRY_ON_GRPC_RESOURCE_EXHAUSTED,
  unavailable: RETRY_ON_GRPC_UNAVAILABLE,
  internal: RETRY_ON_GRPC_INTERNAL,
};

/** Parses a `retry_on` / `x-envoy-retry-on` / `x-envoy-retry-grpc-on` list into a bit set; unknown tokens are ignored (Envoy). */
export function parseRetryOn(tokens: Iterable<string>): number {
  let bits = 0;
  for (const token of tokens) bits |= RETRY_ON_TOKENS[token.trim()] ?? 0;
  return bits;
}

/** The compiled policy of one route (per snapshot); `RetryState` is the per-request part. */
export interface CompiledRetryPolicy {
  readonly retryOn: number;
  readonly numRetries: number;
  readonly perTryTimeoutMs: number | null;
  readonly baseIntervalMs: number;
  readonly maxIntervalMs: number;
  readonly retriableStatusCodes: ReadonlySet<number>;
  readonly avoidPreviousHosts: boolean;
  readonly hostSelectionRetryMaxAttempts: number;
}

const compiledPolicies = new WeakMap<RetryPolicyConfig, CompiledRetryPolicy>();

/** Compiles (and caches per config object) a route's retry policy. */
export function compileRetryPolicy(policy: RetryPolicyConfig): CompiledRetryPolicy {
  let compiled = compiledPolicies.get(policy);
  if (compiled === undefined) {
    compiled = Object.freeze({
      retryOn: parseRetryOn(policy.retryOn),
      numRetries: policy.numRetries,
      perTryTimeoutMs: policy.perTryTimeoutMs,
      baseIntervalMs: policy.retryBackOff.baseIntervalMs,
      maxIntervalMs: policy.retryBackOff.maxIntervalMs,
      retriableStatusCodes: new Set(policy.retriableStatusCodes),
      avoidPreviousHosts: policy.retryHostPredicates.includes('previous_hosts'),
      hostSelectionRetryMaxAttempts: policy.hostSelectionRetryMaxAttempts,
    });
    compiledPolicies.set(policy, compiled);
  }
  return compiled;
}

/** Request headers that can widen a policy (Envoy honours them on every request unless suppressed). */
export interface RetryHeaderOverrides {
  readonly retryOn?: string | undefined;
  readonly grpcRetryOn?: string | undefined;
  readonly maxRetries?: string | undefined;
  readonly retriableStatusCodes?: string | undefined;
}

/**
 * The retry bookkeeping of one request: which outcomes are retriable, how many retries are left, and the
 * back-off of the next one. Pure (randomness injected); the proxy owns timers and the retry circuit breaker.
 */
export class RetryState {
  private retriesRemaining: number;
  private readonly retryOn: number;
  private readonly statusCodes: ReadonlySet<number>;
  private currentMaxMs: number;

  constructor(
    readonly policy: CompiledRetryPolicy,
    overrides: RetryHeaderOverrides,
    /** A non-negative integer, as Envoy's `random_.random()`; tests stub it. */
    private readonly random: () => number = randomUint32,
  ) {
    let retryOn = policy.retryOn;
    if (overrides.retryOn !== undefined) retryOn |= parseRetryOn(overrides.retryOn.split(','));
    if (overrides.grpcRetryOn !== undefined) retryOn |= parseRetryOn(overrides.grpcRetryOn.split(','));
    this.retryOn = retryOn;
    let retries = policy.numRetries;
    // x-envoy-max-retries replaces num_retries when any retry_on is in force (retry_state_impl.cc).
    if (overrides.maxRetries !== undefined && retryOn !== 0) {
      const parsed = Number.parseInt(overrides.maxRetries, 10);
      if (Number.isInteger(parsed) && parsed >= 0) retries = parsed;
    }
    this.retriesRemaining = retryOn === 0 ? 0 : retries;
    if (overrides.retriableStatusCodes !== undefined) {
      const codes = new Set(policy.retriableStatusCodes);
      for (const part of overrides.retriableStatusCodes.split(',')) {
        const code = Number.parseInt(part.trim(), 10);
        if (code >= 100 && code <= 599) codes.add(code);
      }
      this.statusCodes = codes;
    } else {
      this.statusCodes = policy.retriableStatusCodes;
    }
    this.currentMaxMs = policy.baseIntervalMs;
  }

  /** Whether this outcome is of a kind the policy retries (ignores the remaining count). */
  wouldRetry(outcome: AttemptOutcome): boolean {
    const on = this.retryOn;
    switch (outcome.kind) {
      case 'overflow':
        return false; // Envoy never retries an overflow reset.
      case 'connect_failure':
        return (on & (RETRY_ON_5XX | RETRY_ON_GATEWAY_ERROR | RETRY_ON_CONNECT_FAILURE | RETRY_ON_RESET | RETRY_ON_RESET_BEFORE_REQUEST)) !== 0;
      case 'refused_stream':
        return (on & (RETRY_ON_REFUSED_STREAM | RETRY_ON_5XX | RETRY_ON_GATEWAY_ERROR | RETRY_ON_RESET | RETRY_ON_RESET_BEFORE_REQUEST)) !== 0;
      case 'reset':
        return (on & (RETRY_ON_5XX | RETRY_ON_GATEWAY_ERROR | RETRY_ON_RESET)) !== 0 || (outcome.beforeRequestSent && (on & RETRY_ON_RESET_BEFORE_REQUEST) !== 0);
      case 'per_try_timeout':
        // A per-try timeout counts like a reset (retried on 5xx, gateway-error, reset).
        return (on & (RETRY_ON_5XX | RETRY_ON_GATEWAY_ERROR | RETRY_ON_RESET)) !== 0;
      case 'response':
        return this.wouldRetryResponse(outcome.status, outcome.grpcStatus);
    }
  }

  private wouldRetryResponse(status: number, grpcStatus: number | undefined): boolean {
    const on = this.retryOn;
    if ((on & RETRY_ON_5XX) !== 0 && status >= 500 && status <= 599) return true;
    if ((on & RETRY_ON_GATEWAY_ERROR) !== 0 && (status === 502 || status === 503 || status === 504)) return true;
    if ((on & RETRY_ON_RETRIABLE_4XX) !== 0 && status === 409) return true;
    if ((on & RETRY_ON_RETRIABLE_STATUS_CODES) !== 0 && this.statusCodes.has(status)) return true;
    if (grpcStatus !== undefined) {
      // Only a grpc-status in the response headers (trailers-only) is seen here, as in Envoy.
      if (grpcStatus === 1 && (on & RETRY_ON_GRPC_CANCELLED) !== 0) return true;
      if (grpcStatus === 4 && (on & RETRY_ON_GRPC_DEADLINE_EXCEEDED) !== 0) return true;
      if (grpcStatus === 8 && (on & RETRY_ON_GRPC_RESOURCE_EXHAUSTED) !== 0) return true;
      if (grpcStatus === 14 && (on & RETRY_ON_GRPC_UNAVAILABLE) !== 0) return true;
      if (grpcStatus === 13 && (on & RETRY_ON_GRPC_INTERNAL) !== 0) return true;
    }
    return false;
  }

  /** True when the outcome is retriable and a retry is left; consumes one. */
  takeRetry(outcome: AttemptOutcome): boolean {
    if (!this.wouldRetry(outcome) || this.retriesRemaining <= 0) return false;
    this.retriesRemaining -= 1;
    return true;
  }

  get remaining(): number {
    return this.retriesRemaining;
  }

  /**
   * Back-off before the next retry: full jitter `random() % current`, current starting at the base and doubling
   * while below max/2, then max (JitteredExponentialBackOffStrategy: 25, 50, 100, 200, 250, 250 ... ms by default).
   */
  nextBackoffMs(): number {
    const current = this.currentMaxMs;
    if (this.currentMaxMs < this.policy.maxIntervalMs / 2) this.currentMaxMs *= 2;
    else this.currentMaxMs = this.policy.maxIntervalMs;
    return this.random() % current;
  }
}

function randomUint32(): number {
  return Math.floor(Math.random() * 0x1_0000_0000);
}
