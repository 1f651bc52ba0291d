// RANDOM: a uniformly random host of the source.

import type { Host } from '../host';
import { randomUint32, type Balancer, type RandomSource } from './balancer';

/** Envoy `RandomLoadBalancer` (random_lb.cc, specs §1.4): `hosts[r % n]`. O(1), no allocation. */
export class RandomBalancer implements Balancer {
  constructor(
    private readonly hosts: readonly Host[],
    private readonly random: RandomSource,
  ) {}

  get size(): number {
    return this.hosts.length;
  }

  pick(): Host | undefined {
    const n = this.hosts.length;
    return n === 0 ? undefined : this.hosts[randomUint32(this.random) % n];
  }
}
