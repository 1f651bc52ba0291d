// Maps a cluster's LB policy to a Balancer over one host source (cluster_provided runs as round robin).

import type { LbPolicyConfig } from '../../config/cluster-config';
import type { Host } from '../host';
import type { Balancer, RandomSource } from './balancer';
import { LeastRequestBalancer } from './least-request';
import { MaglevBalancer } from './maglev';
import { PeakEwmaBalancer } from './peak-ewma';
import { RandomBalancer } from './random';
import { RingHashBalancer } from './ring-hash';
import { RoundRobinBalancer } from './round-robin';
import { SlowStart } from './slow-start';

/** A new balancer for `hosts` (fixed for its life). Called on rebuilds only, never per request. `now` drives slow start. */
export function createBalancer(policy: LbPolicyConfig, hosts: readonly Host[], random: RandomSource, now: () => number = Date.now): Balancer {
  switch (policy.kind) {
    case 'least_request':
      return new LeastRequestBalancer(hosts, random, policy, policy.slowStart === null ? null : new SlowStart(policy.slowStart, now));
    case 'random':
      return new RandomBalancer(hosts, random);
    case 'ring_hash':
      return new RingHashBalancer(hosts, random, policy);
    case 'maglev':
      return new MaglevBalancer(hosts, random, policy);
    case 'peak_ewma':
      return new PeakEwmaBalancer(hosts, random, policy);
    case 'round_robin':
      return new RoundRobinBalancer(hosts, random, policy.slowStart === null ? null : new SlowStart(policy.slowStart, now));
    case 'cluster_provided':
      return new RoundRobinBalancer(hosts, random);
  }
}
