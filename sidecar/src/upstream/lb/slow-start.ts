// Slow start: a new (or newly healthy) host's weight ramps up over the window (Envoy EdfLoadBalancerBase::applySlowStartFactor).

import type { SlowStartConfig } from '../../config/cluster-config';
import { coarseHealth } from '../host-health-flags';
import type { Host } from '../host';

/**
 * Envoy `applySlowStartFactor` (load_balancer_impl.cc, specs §1.11): while a healthy host is within `windowMs` of
 * its start (the later of `addedAtMs` and `lastHcPassAtMs`), its weight is `weight · max(time_factor^(1/aggression),
 * min_weight_percent/100)` with `time_factor = max(1 ms, elapsed)/window`. Aggression ≤ 0 or NaN counts as 1.0.
 * Cost: O(1) per weight read (one clock read); no allocation.
 */
export class SlowStart {
  private readonly windowMs: number;
  private readonly exponent: number;
  private readonly minFactor: number;

  constructor(
    config: SlowStartConfig,
    private readonly now: () => number,
  ) {
    this.windowMs = config.windowMs;
    const aggression = Number.isFinite(config.aggression) && config.aggression > 0 ? config.aggression : 1;
    this.exponent = 1 / aggression;
    this.minFactor = config.minWeightPercent / 100;
  }

  /** The host's effective weight now. */
  weight(host: Host): number {
    const elapsed = this.now() - startOf(host);
    if (elapsed >= this.windowMs || coarseHealth(host.healthFlags) !== 'healthy') return host.weight;
    const timeFactor = Math.max(1, elapsed) / this.windowMs;
    const factor = this.exponent === 1 ? timeFactor : Math.pow(timeFactor, this.exponent);
    return host.weight * Math.max(factor, this.minFactor);
  }

  /** Envoy `noHostsAreInSlowStart` negated: some host started within the window (EDF is then forced). */
  anyInWindow(hosts: readonly Host[]): boolean {
    if (this.windowMs <= 0) return false;
    const now = this.now();
    for (const h of hosts) if (now - startOf(h) < this.windowMs) return true;
    return false;
  }
}

/**
 * When the host's slow start began: Envoy `host->lastHcPassTime()`, which its member-update callback sets to the
 * add time for a host added healthy and the health checker resets on each failed -> healthy pass
 * (`recalculateHostsInSlowStart`, `applySlowStartFactor`); the later of our two stamps.
 */
function startOf(host: Host): number {
  return host.lastHcPassAtMs === null ? host.addedAtMs : Math.max(host.addedAtMs, host.lastHcPassAtMs);
}
