// Feeds peak-EWMA: records each upstream attempt's time to response headers (or a failure penalty) for its host.

import type { Host } from '../host';
import { FAILURE_PENALTY_RTT_MS, sharedPeakEwmaEstimates, type PeakEwmaEstimates } from './peak-ewma';
import type { LbPolicyConfig } from '../../config/cluster-config';

/** The attempt facts this observer reads (a structural subset of proxy's AttemptInfo; upstream/ may not import proxy/). */
interface ObservedAttempt {
  readonly cluster: { readonly config: { readonly lbPolicy: LbPolicyConfig } };
  readonly host: Host;
  readonly startedAtPerfMs: number;
}

/**
 * An ExchangeObserver (proxy/exchange-observer.ts, matched structurally) for clusters whose policy is
 * `peak_ewma`. `attemptEnded` with a response records `now − startedAtPerfMs` (the router reports it when
 * the response headers arrive; Linkerd waits for the first data frame); connect failures, resets and timeouts
 * record at least FAILURE_PENALTY_RTT_MS so a failing host is avoided for a while (tower records the elapsed
 * time for failures too: a fast failure would look fast). Cancelled attempts record nothing.
 * The clock must be the one `startedAtPerfMs` came from (performance.now()). Cost: O(1).
 */
export class PeakEwmaObserver {
  constructor(private readonly estimates: PeakEwmaEstimates = sharedPeakEwmaEstimates) {}

  attemptEnded(_exchange: unknown, attempt: ObservedAttempt, result: { readonly kind: string }): void {
    const policy = attempt.cluster.config.lbPolicy;
    if (policy.kind !== 'peak_ewma' || result.kind === 'cancelled') return;
    const elapsed = this.estimates.now() - attempt.startedAtPerfMs;
    this.estimates.observe(attempt.host, result.kind === 'response' ? elapsed : Math.max(elapsed, FAILURE_PENALTY_RTT_MS), policy);
  }
}
