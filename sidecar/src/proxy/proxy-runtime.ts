// The request path's view of one config snapshot: the snapshot plus its compiled route tables.

import type { ConfigSnapshot } from '../config/config-snapshot';
import type { HttpConnectionManagerConfig } from '../config/listener-config';
import type { RouteConfig } from '../config/route-config';
import { RouteTable } from '../router/route-table';

/** Route tables are compiled once per RouteConfig object; unchanged configs keep their object across snapshots. */
const compiledTables = new WeakMap<RouteConfig, RouteTable>();

function tableFor(config: RouteConfig): RouteTable {
  let table = compiledTables.get(config);
  if (table === undefined) {
    table = RouteTable.compile(config);
    compiledTables.set(config, table);
  }
  return table;
}

/**
 * Immutable runtime snapshot. A request reads `ProxyRuntime` once (ARCHITECTURE: "read once per request") and
 * uses it for its whole life, retries included. Built off the hot path when a config snapshot is published: every
 * RDS and inline route table is compiled then.
 */
export class ProxyRuntime {
  private constructor(readonly snapshot: ConfigSnapshot) {}

  static build(snapshot: ConfigSnapshot): ProxyRuntime {
    for (const route of snapshot.routes.values()) tableFor(route);
    for (const listener of snapshot.listeners.values()) {
      const chains = listener.defaultFilterChain === null ? listener.filterChains : [...listener.filterChains, listener.defaultFilterChain];
      for (const chain of chains) {
        if (chain.network.kind === 'http' && chain.network.routeSource.kind === 'inline') tableFor(chain.network.routeSource.route);
      }
    }
    return new ProxyRuntime(snapshot);
  }

  /** The route table an HTTP connection manager uses: its RDS config in this snapshot, or its inline one. */
  routeTable(hcm: HttpConnectionManagerConfig): RouteTable | undefined {
    const source = hcm.routeSource;
    if (source.kind === 'inline') return tableFor(source.route);
    const config = this.snapshot.routes.get(source.name);
    return config === undefined ? undefined : tableFor(config);
  }
}
