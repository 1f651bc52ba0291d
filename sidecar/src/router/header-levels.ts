// The request and response HeaderMutations of one configuration level, compiled together from a HeaderMutationsConfig.

import type { HeaderMutationsConfig } from '../config/route-config';
import { HeaderMutations } from './header-mutations';

/** Request- and response-side mutations of one level (route config, virtual host, route or weighted cluster). */
export interface HeaderLevels {
  readonly request: HeaderMutations;
  readonly response: HeaderMutations;
}

export function compileHeaderLevels(c: HeaderMutationsConfig): HeaderLevels {
  return {
    request: new HeaderMutations(c.requestHeadersToAdd, c.requestHeadersToRemove),
    response: new HeaderMutations(c.responseHeadersToAdd, c.responseHeadersToRemove),
  };
}
