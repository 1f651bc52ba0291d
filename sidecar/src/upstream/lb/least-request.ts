// LEAST_REQUEST: power-of-N-choices on active requests when weights are equal, EDF over weight/(active+1)^bias when not.

import type { Host } from '../host';
import { EdfScheduler } from './edf-scheduler';
import { randomUint32, weightsAreEqual, type Balancer, type RandomSource } from './balancer';
import type { SlowStart } from './slow-start';

/** The least-request knobs (from `LbPolicyConfig` kind `least_request`). */
export interface LeastRequestOptions {
  /** >= 2, default 2. */
  readonly choiceCount: number;
  /** Default 1.0. */
  readonly activeRequestBias: number;
  /** Set explicitly: newest Envoy then uses the weighted algorithm even with equal weights. */
  readonly activeRequestBiasExplicit: boolean;
  readonly selectionMethod: 'N_CHOICES' | 'FULL_SCAN';
}

/**
 * Envoy `LeastRequestLoadBalancer` (least_request_lb.cc, specs §1.3). Unweighted: `choiceCount` samples
 * `r % n` with replacement, a later sample wins only with strictly fewer active requests; FULL_SCAN takes the
 * minimum, ties broken by reservoir sampling. Weighted (weights differ, or the bias was configured): EDF where a
 * host's weight is `weight / (active + 1)^bias`, read when it is re-inserted (so it lags, as in Envoy); slow start
 * scales `weight` and forces EDF while a host is in its window.
 * Cost per pick: O(choiceCount) or O(log n); O(n) for FULL_SCAN. No allocation.
 */
export class LeastRequestBalancer implements Balancer {
  private readonly edf: EdfScheduler<Host> | null;
  private readonly weightOf: (host: Host) => number;

  constructor(
    private readonly hosts: readonly Host[],
    private readonly random: RandomSource,
    private readonly options: LeastRequestOptions,
    slowStart: SlowStart | null = null,
  ) {
    const seed = randomUint32(random);
    const bias = Number.isFinite(options.activeRequestBias) && options.activeRequestBias >= 0 ? options.activeRequestBias : 1;
    const base = slowStart === null ? (h: Host) => h.weight : (h: Host) => slowStart.weight(h);
    this.weightOf =
      bias === 1 ? (h) => base(h) / (h.activeRequests + 1) : bias === 0 ? base : (h) => base(h) / Math.pow(h.activeRequests + 1, bias);
    const inSlowStart = slowStart !== null && slowStart.anyInWindow(hosts);
    const weighted = hosts.length > 1 && (!weightsAreEqual(hosts) || options.activeRequestBiasExplicit || inSlowStart);
    this.edf = weighted ? EdfScheduler.createWithPicks(hosts, this.weightOf, seed) : null;
  }

  get size(): number {
    return this.hosts.length;
  }

  pick(): Host | undefined {
    if (this.edf !== null) return this.edf.pickAndAdd(this.weightOf);
    const hosts = this.hosts;
    const n = hosts.length;
    if (n === 0) return undefined;
    if (this.options.selectionMethod === 'FULL_SCAN') return this.fullScan();
    let candidate: Host | undefined;
    for (let i = 0; i < this.options.choiceCount; i++) {
      const h = hosts[randomUint32(this.random) % n]!;
      if (candidate === undefined || h.activeRequests < candidate.activeRequests) candidate = h;
    }
    return candidate;
  }

  private fullScan(): Host | undefined {
    let best: Host | undefined;
    let ties = 0;
    for (const h of this.hosts) {
      if (best === undefined || h.activeRequests < best.activeRequests) {
        best = h;
        ties = 1;
      } else if (h.activeRequests === best.activeRequests) {
        ties += 1;
        if (randomUint32(this.random) % ties === 0) best = h;
      }
    }
    return best;
  }
}
