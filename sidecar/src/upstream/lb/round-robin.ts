// ROUND_ROBIN: plain rotation from a random start when weights are equal, Envoy's EDF (createWithPicks) when they differ.

import type { Host } from '../host';
import { EdfScheduler } from './edf-scheduler';
import { randomUint32, weightsAreEqual, type Balancer, type RandomSource } from './balancer';

function hostWeight(host: Host): number {
  return host.weight;
}

/**
 * Envoy `RoundRobinLoadBalancer` (round_robin_lb.h, specs §1.2): a seed drawn once per build sets the start
 * index (`hosts[(seed + k) % n]`) or the EDF pre-pick count. Slow start (which forces EDF) is issue 4.
 * Cost per pick: O(1) unweighted, O(log n) weighted; no allocation.
 */
export class RoundRobinBalancer implements Balancer {
  private readonly hosts: readonly Host[];
  private readonly edf: EdfScheduler<Host> | null;
  private index: number;

  constructor(hosts: readonly Host[], random: RandomSource) {
    this.hosts = hosts;
    const seed = randomUint32(random);
    const n = hosts.length;
    this.edf = n > 1 && !weightsAreEqual(hosts) ? EdfScheduler.createWithPicks(hosts, hostWeight, seed) : null;
    this.index = n === 0 ? 0 : seed % n;
  }

  get size(): number {
    return this.hosts.length;
  }

  pick(): Host | undefined {
    if (this.edf !== null) return this.edf.pickAndAdd(hostWeight);
    const n = this.hosts.length;
    if (n === 0) return undefined;
    const i = this.index;
    this.index = i + 1 === n ? 0 : i + 1;
    return this.hosts[i];
  }
}
