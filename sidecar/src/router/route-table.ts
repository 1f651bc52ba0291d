// RouteTable: a RouteConfig compiled once per snapshot (domain index, matchers, policies); match(request) -> RouteMatch.

import type { RouteConfig } from '../config/route-config';
import { CompiledVirtualHost } from './compiled-virtual-host';
import type { CompiledRoute } from './compiled-route';
import { DomainIndex } from './domain-index';
import { compileHeaderLevels } from './header-levels';
import { MatchInput } from './match-input';
import type { RouteRequest } from './route-request';

export type { RouteRequest } from './route-request';

/** The result of a lookup: the virtual host chosen by authority and its first matching route. */
export interface RouteMatch {
  readonly virtualHost: CompiledVirtualHost;
  readonly route: CompiledRoute;
}

export interface RouteTableOptions {
  /** Random in [0,1) for `runtime_fraction` (drawn at most once per lookup). Default Math.random. */
  readonly random?: () => number;
  /**
   * RouteConfiguration.ignore_port_in_host_matching (default false). Not yet carried by RouteConfig, so the caller
   * passes it when it knows it.
   */
  readonly ignorePortInHostMatching?: boolean;
}

/**
 * A compiled RouteConfiguration. Immutable; compile once per snapshot, share across requests.
 * `match` cost: one lower-cased authority, one map lookup (plus one per wildcard length group when the exact lookup
 * misses), then the routes of that virtual host in order, each stopping at its first failing condition; one small
 * MatchInput object per call.
 */
export class RouteTable {
  readonly name: string;
  readonly virtualHosts: readonly CompiledVirtualHost[];
  private readonly domains: DomainIndex<CompiledVirtualHost>;
  private readonly random: () => number;

  private constructor(
    readonly config: RouteConfig,
    options: RouteTableOptions,
  ) {
    this.name = config.name;
    this.random = options.random ?? Math.random;
    const routeConfigLevel = compileHeaderLevels(config);
    this.virtualHosts = config.virtualHosts.map((vh) => new CompiledVirtualHost(vh, routeConfigLevel, config.mostSpecificHeaderMutationsWins));
    this.domains = new DomainIndex(options.ignorePortInHostMatching ?? false);
    for (const vh of this.virtualHosts) for (const d of vh.config.domains) this.domains.add(d, vh);
  }

  static compile(config: RouteConfig, options: RouteTableOptions = {}): RouteTable {
    return new RouteTable(config, options);
  }

  /** The virtual host for an authority (see DomainIndex for Envoy's precedence and port rules). */
  findVirtualHost(authority: string): CompiledVirtualHost | undefined {
    return this.domains.find(authority);
  }

  /** The virtual host by authority, then its first matching route; undefined means 404 (NR). */
  match(request: RouteRequest): RouteMatch | undefined {
    const virtualHost = this.domains.find(request.authority);
    if (virtualHost === undefined) return undefined;
    const route = virtualHost.findRoute(new MatchInput(request, this.random));
    return route === undefined ? undefined : { virtualHost, route };
  }
}
