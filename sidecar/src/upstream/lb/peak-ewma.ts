// Latency-aware P2C with Linkerd's peak-EWMA cost (tower load::PeakEwma + linkerd pool p2c): meshlet's "least response time".

import type { Host } from '../host';
import { randomUint32, type Balancer, type RandomSource } from './balancer';

/** The policy knobs (from `LbPolicyConfig` kind `peak_ewma`, TypedStruct `type.googleapis.com/meshlet.lb.v1.PeakEwma`). */
export interface PeakEwmaOptions {
  /** Decay time constant τ, default 10 000 ms (linkerd `control.rs`). */
  readonly decayMs: number;
  /** Estimate for a host never measured, default 30 ms. */
  readonly defaultRttMs: number;
}

/** A failed attempt (connect failure, reset, timeout) counts as an RTT of at least this much (meshlet's penalty). */
export const FAILURE_PENALTY_RTT_MS = 1_000;

class RttEstimate {
  constructor(
    public rttMs: number,
    public updatedAtMs: number,
  ) {}
}

/**
 * Per-host peak-EWMA RTT estimates (tower `RttEstimate`), shared by the observer that feeds them
 * (peak-ewma-observer.ts) and the balancers that read them; keyed weakly by Host so removed hosts vanish.
 * Update with sample `rtt` at time `now`: above the estimate → the estimate jumps to it (peak); else
 * `estimate·e^(−Δt/τ) + rtt·(1 − e^(−Δt/τ))`. Every read first decays toward 0 with a zero sample, so idle
 * or slow hosts win traffic back. A host never seen starts at `defaultRttMs`. Cost: O(1), a WeakMap lookup.
 */
export class PeakEwmaEstimates {
  private readonly byHost = new WeakMap<Host, RttEstimate>();

  constructor(readonly now: () => number = () => performance.now()) {}

  /** Records one completion: `rttMs` measured for `host`. */
  observe(host: Host, rttMs: number, options: PeakEwmaOptions): void {
    this.update(this.estimateOf(host, options), Math.max(0, rttMs), options.decayMs);
  }

  /** The decayed estimate now (mutates the estimate's clock, as tower's `load()` does). */
  read(host: Host, options: PeakEwmaOptions): number {
    return this.update(this.estimateOf(host, options), 0, options.decayMs);
  }

  /** The decayed estimate now without touching the table (admin views); `defaultRttMs` for a host never measured. */
  peek(host: Host, options: PeakEwmaOptions): number {
    const e = this.byHost.get(host);
    if (e === undefined) return options.defaultRttMs;
    return e.rttMs * Math.exp(-Math.max(0, this.now() - e.updatedAtMs) / Math.max(1, options.decayMs));
  }

  /** True once the host has an estimate (measured, or read by a pick). */
  has(host: Host): boolean {
    return this.byHost.has(host);
  }

  private estimateOf(host: Host, options: PeakEwmaOptions): RttEstimate {
    let e = this.byHost.get(host);
    if (e === undefined) {
      e = new RttEstimate(options.defaultRttMs, this.now());
      this.byHost.set(host, e);
    }
    return e;
  }

  private update(e: RttEstimate, rttMs: number, decayMs: number): number {
    const now = this.now();
    if (e.rttMs < rttMs) {
      e.rttMs = rttMs;
    } else {
      const elapsed = Math.max(0, now - e.updatedAtMs);
      const decay = Math.exp(-elapsed / Math.max(1, decayMs));
      e.rttMs = e.rttMs * decay + rttMs * (1 - decay);
    }
    e.updatedAtMs = now;
    return e.rttMs;
  }
}

/** The estimates the sidecar's observer feeds and cluster balancers read (one process, one table). */
export const sharedPeakEwmaEstimates = new PeakEwmaEstimates();

/**
 * Linkerd P2C over peak-EWMA cost (specs §5.1): one host → it; else two distinct random indexes
 * `a = r % n`, `b = r' % (n − 1)` (+1 when `b >= a`), cost `rtt_estimate × (activeRequests + 1)`, lower
 * cost wins, ties → a. Weights are ignored (as Linkerd). Cost per pick: O(1), no allocation.
 */
export class PeakEwmaBalancer implements Balancer {
  constructor(
    private readonly hosts: readonly Host[],
    private readonly random: RandomSource,
    private readonly options: PeakEwmaOptions,
    private readonly estimates: PeakEwmaEstimates = sharedPeakEwmaEstimates,
  ) {}

  get size(): number {
    return this.hosts.length;
  }

  pick(): Host | undefined {
    const hosts = this.hosts;
    const n = hosts.length;
    if (n <= 1) return hosts[0];
    const a = randomUint32(this.random) % n;
    let b = randomUint32(this.random) % (n - 1);
    if (b >= a) b += 1;
    const ha = hosts[a]!;
    const hb = hosts[b]!;
    const costA = this.estimates.read(ha, this.options) * (ha.activeRequests + 1);
    const costB = this.estimates.read(hb, this.options) * (hb.activeRequests + 1);
    return costA <= costB ? ha : hb;
  }
}
