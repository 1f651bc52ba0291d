// What a request tells the balancer about itself when it asks for a host.

import type { Host } from '../host';

/**
 * Per-request pick input. Built once per request by the proxy (reuse one object across its retries); the
 * balancer only reads it. Issue 4 adds the request hash for ring hash / maglev here.
 */
export interface PickContext {
  /** Hosts already tried by this request (retry_host_predicate previous_hosts): avoided when another is available. */
  readonly exclude?: ReadonlySet<Host> | undefined;
  /** host_selection_retry_max_attempts: how many extra picks to try to avoid `exclude`. */
  readonly maxSelectionAttempts?: number;
  /** ORIGINAL_DST clusters: the connection's original destination (or x-envoy-original-dst-host). */
  readonly originalDst?: { readonly host: string; readonly port: number } | undefined;
}
