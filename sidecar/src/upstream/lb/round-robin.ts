// ROUND_ROBIN: plain rotation from a random start when weights are equal, Envoy's EDF (createWithPicks) when they differ.

import type { Host } from '../host';
import { EdfScheduler } from './edf-scheduler';
import { randomUint32, weightsAreEqual, type Balancer, type RandomSource } from './balancer';
import type { SlowStart } from './slow-start';

function hostWeight(host: Host): number {
  return host.weight;
}

/**
 * Envoy `RoundRobinLoadBalancer` (round_robin_lb.h, specs §1.2): a seed drawn once per build sets the start
 * index (`hosts[(seed + k) % n]`) or the EDF pre-pick count. With slow start, weights ramp up (slow-start.ts) and
 * EDF is used while any host is in its window, even with equal weights.
 * Cost per pick: O(1) unweighted, O(log n) weighted; no allocation.
 */
export class RoundRobinBalancer implements Balancer {
  private readonly hosts: readonly Host[];
  private readonly edf: EdfScheduler<Host> | null;
  private readonly weightOf: (host: Host) => number;
  private index: number;

  constructor(hosts: readonly Host[], random: RandomSource, slowStart: SlowStart | null = null) {
    this.hosts = hosts;
    const seed = randomUint32(random);
    const n = hosts.length;
    this.weightOf = slowStart === null ? hostWeight : (h) => slowStart.weight(h);
    const weighted = !weightsAreEqual(hosts) || (slowStart !== null && slowStart.anyInWindow(hosts));
    this.edf = n > 1 && weighted ? EdfScheduler.createWithPicks(hosts, this.weightOf, seed) : null;
    this.index = n === 0 ? 0 : seed % n;
  }

  get size(): number {
    return this.hosts.length;
  }

  pick(): Host | undefined {
    if (this.edf !== null) return this.edf.pickAndAdd(this.weightOf);
    const n = this.hosts.length;
    if (n === 0) return undefined;
    const i = this.index;
    this.index = i + 1 === n ? 0 : i + 1;
    return this.hosts[i];
  }
}
