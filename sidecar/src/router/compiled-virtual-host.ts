// CompiledVirtualHost: one virtual host's routes compiled in order, with its header mutations and retry policy.

import type { VirtualHostConfig } from '../config/route-config';
import { CompiledRoute } from './compiled-route';
import { compileHeaderLevels, type HeaderLevels } from './header-levels';
import type { MatchInput } from './match-input';

/** A virtual host compiled once per snapshot. `findRoute` is the first route, in order, whose match holds. */
export class CompiledVirtualHost {
  readonly name: string;
  readonly routes: readonly CompiledRoute[];

  constructor(
    readonly config: VirtualHostConfig,
    routeConfigLevel: HeaderLevels,
    mostSpecificHeaderMutationsWins: boolean,
  ) {
    this.name = config.name;
    const parent = {
      virtualHost: compileHeaderLevels(config),
      routeConfig: routeConfigLevel,
      virtualHostRetryPolicy: config.retryPolicy,
      mostSpecificHeaderMutationsWins,
    };
    this.routes = config.routes.map((r) => new CompiledRoute(r, parent));
  }

  findRoute(input: MatchInput): CompiledRoute | undefined {
    const routes = this.routes;
    for (let i = 0; i < routes.length; i++) {
      const r = routes[i] as CompiledRoute;
      if (r.matches(input)) return r;
    }
    return undefined;
  }
}
