// One listener at run time: its current config, its bound server (if any), its connections and counters.

import type * as net from 'node:net';
import type { FilterChainConfig, ListenerConfig } from '../config/listener-config';

/** Per-listener counters (Envoy `listener.<address>.*`), read by metrics. */
export interface ListenerStats {
  /** `downstream_cx_total`: connections served by this listener (after a use_original_dst hand-off: the target). */
  downstreamCxTotal: number;
  /** `downstream_cx_active`. */
  downstreamCxActive: number;
  /** `no_filter_chain_match`: closed because no chain (nor default chain) matched. */
  noFilterChainMatch: number;
}

/** What the listener needs from a connection to count, drain and close it. */
export interface TrackedConnection {
  readonly chain: FilterChainConfig | null;
  /** Ask to finish gracefully (now if served, else as soon as it is handed over); destroyed after the drain timeout. */
  drain(): void;
  destroy(): void;
}

/**
 * Mutable run-time state of one listener name. `config` is swapped in place on an update that keeps the address
 * (the bound server stays: no rebind gap); connections read it when they choose their chain.
 */
export class ActiveListener {
  config: ListenerConfig;
  /** null when `bindToPort` is false (reached only by hand-off) or not bound yet. */
  server: net.Server | null = null;
  /** The bound address (v4-mapped hosts normalised), null when not bound. */
  bound: { readonly host: string; readonly port: number } | null = null;
  /** Connections being inspected or served on this listener. */
  readonly connections = new Set<TrackedConnection>();
  readonly stats: ListenerStats = { downstreamCxTotal: 0, downstreamCxActive: 0, noFilterChainMatch: 0 };
  /** Removed from the manager: hand-offs no longer target it, new connections are refused. */
  removed = false;

  constructor(config: ListenerConfig) {
    this.config = config;
  }

  hasListenerFilter(kind: 'original_dst' | 'tls_inspector' | 'http_inspector'): boolean {
    for (const f of this.config.listenerFilters) if (f.kind === kind) return true;
    return false;
  }
}
