// Maps a cluster's LB policy to a Balancer over one host source; policies not built yet fall back to round robin.

import type { LbPolicyConfig } from '../../config/cluster-config';
import type { Host } from '../host';
import type { Balancer, RandomSource } from './balancer';
import { LeastRequestBalancer } from './least-request';
import { RandomBalancer } from './random';
import { RoundRobinBalancer } from './round-robin';

/** Policies that have their own balancer now; the others run as round robin until issue 4 builds them. */
export function isImplementedPolicy(policy: LbPolicyConfig): boolean {
  return policy.kind === 'round_robin' || policy.kind === 'least_request' || policy.kind === 'random' || policy.kind === 'cluster_provided';
}

/** A new balancer for `hosts` (fixed for its life). Called on rebuilds only, never per request. */
export function createBalancer(policy: LbPolicyConfig, hosts: readonly Host[], random: RandomSource): Balancer {
  switch (policy.kind) {
    case 'least_request':
      return new LeastRequestBalancer(hosts, random, policy);
    case 'random':
      return new RandomBalancer(hosts, random);
    default:
      // round_robin; ring_hash, maglev and peak_ewma until issue 4 (the cluster logs the fallback once).
      return new RoundRobinBalancer(hosts, random);
  }
}
