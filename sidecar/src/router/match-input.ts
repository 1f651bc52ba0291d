// MatchInput: the per-lookup view of a request that route matchers share (path without query, query params, one random).

import { queryStart } from './path-rewrite';
import { parseQueryParameters, type QueryParameters } from './query-parameters';
import type { RouteRequest } from './route-request';

/**
 * Built once per `RouteTable.match()` call; each derived value is computed at most once, and only if some route
 * needs it. `random01` is drawn once per lookup, as Envoy uses one random value for every `runtime_fraction` of a
 * request.
 */
export class MatchInput {
  private pathOnlyValue: string | undefined;
  private lowerPathValue: string | undefined;
  private queryValue: QueryParameters | undefined;
  private randomValue = -1;

  constructor(
    readonly request: RouteRequest,
    private readonly random: () => number,
  ) {}

  /** The path without `?query` and `#fragment` (Envoy's `PathUtil::removeQueryAndFragment`). */
  get pathOnly(): string {
    if (this.pathOnlyValue === undefined) {
      const path = this.request.path;
      const end = queryStart(path);
      this.pathOnlyValue = end === path.length ? path : path.slice(0, end);
    }
    return this.pathOnlyValue;
  }

  /** `pathOnly` lower-cased, for `case_sensitive: false`. */
  get lowerPath(): string {
    if (this.lowerPathValue === undefined) this.lowerPathValue = this.pathOnly.toLowerCase();
    return this.lowerPathValue;
  }

  get query(): QueryParameters {
    if (this.queryValue === undefined) this.queryValue = parseQueryParameters(this.request.path);
    return this.queryValue;
  }

  get random01(): number {
    if (this.randomValue < 0) this.randomValue = this.random();
    return this.randomValue;
  }
}
