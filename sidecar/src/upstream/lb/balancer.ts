// The load-balancer contract: one policy instance over one fixed list of hosts, rebuilt when that list changes.

import type { Host } from '../host';
import type { PickContext } from './pick-context';

/**
 * A balancer built for one host source (the healthy hosts of a priority, or all its hosts in panic).
 * Invariants: the host list is fixed for the balancer's life (membership, weight or eligibility changes
 * build a new one, off the hot path); `pick()` is O(1) or O(log n), allocates nothing, and returns undefined
 * only when the list is empty. `attempt` is 0 for the first pick of a request and k for the k-th host-selection
 * retry (hash policies offset by it, specs §1.5-1.6; the others ignore it).
 */
export interface Balancer {
  readonly size: number;
  pick(context: PickContext, attempt: number): Host | undefined;
}

/** A uniform random source in [0, 1), like Math.random; injectable so tests fix the sequence. */
export type RandomSource = () => number;

/** A 32-bit unsigned random integer (Envoy draws uint64; `% n` behaves the same for any n < 2^32). */
export function randomUint32(random: RandomSource): number {
  return Math.floor(random() * 4_294_967_296) >>> 0;
}

/** Envoy `hostWeightsAreEqual`. */
export function weightsAreEqual(hosts: readonly Host[]): boolean {
  const first = hosts[0];
  if (first === undefined) return true;
  for (let i = 1; i < hosts.length; i++) if (hosts[i]!.weight !== first.weight) return false;
  return true;
}
