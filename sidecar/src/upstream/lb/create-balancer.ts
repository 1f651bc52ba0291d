// Maps a cluster's LB policy to a Balancer over one host source; policies not built yet fall back to round robin.

import type { LbPolicyConfig } from '../../config/cluster-config';
import type { Host } from '../host';
import type { Balancer, RandomSource } from './balancer';
import { LeastRequestBalancer } from './least-request';
import { MaglevBalancer } from './maglev';
import { RandomBalancer } from './random';
import { RingHashBalancer } from './ring-hash';
import { RoundRobinBalancer } from './round-robin';

/** Policies that have their own balancer now; the others run as round robin until issue 4 builds them. */
export function isImplementedPolicy(policy: LbPolicyConfig): boolean {
  return policy.kind !== 'peak_ewma';
}

/** A new balancer for `hosts` (fixed for its life). Called on rebuilds only, never per request. */
export function createBalancer(policy: LbPolicyConfig, hosts: readonly Host[], random: RandomSource): Balancer {
  switch (policy.kind) {
    case 'least_request':
      return new LeastRequestBalancer(hosts, random, policy);
    case 'random':
      return new RandomBalancer(hosts, random);
    case 'ring_hash':
      return new RingHashBalancer(hosts, random, policy);
    case 'maglev':
      return new MaglevBalancer(hosts, random, policy);
    default:
      // round_robin; cluster_provided; peak_ewma until it is built (the cluster logs the fallback once).
      return new RoundRobinBalancer(hosts, random);
  }
}
