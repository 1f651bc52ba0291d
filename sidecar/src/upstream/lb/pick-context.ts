// What a request tells the balancer about itself when it asks for a host.

import type { Hash64 } from '../../core/xxhash64';
import type { Host } from '../host';

/**
 * Per-request pick input. Built once per request by the proxy (reuse one object across its retries); the
 * balancer only reads it.
 */
export interface PickContext {
  /** Hosts already tried by this request (retry_host_predicate previous_hosts): avoided when another is available. */
  readonly exclude?: ReadonlySet<Host> | undefined;
  /** host_selection_retry_max_attempts: how many extra picks to try to avoid `exclude`. */
  readonly maxSelectionAttempts?: number;
  /** ORIGINAL_DST clusters: the connection's original destination (or x-envoy-original-dst-host). */
  readonly originalDst?: { readonly host: string; readonly port: number } | undefined;
  /**
   * The request hash from the route's hash policies (router/hash-policy.ts), for RING_HASH and MAGLEV; it also
   * chooses the priority (`hash % 100`, Envoy ThreadAwareLoadBalancerBase). Undefined: no policy produced one, so
   * those balancers use a random value (they then act like RANDOM).
   */
  readonly hash?: Hash64 | undefined;
}
