// Query-string parsing for route matching and QueryParameterMatcherConfig -> a compiled predicate (Envoy's ConfigUtility).

import type { QueryParameterMatcherConfig } from '../config/route-config';
import { compileStringMatcher } from './string-matcher';

/** First value of each query parameter, as Envoy's `QueryParamsMulti::parseQueryString(path)` then `getFirstValue`. */
export type QueryParameters = ReadonlyMap<string, string>;

const EMPTY: QueryParameters = new Map();

/**
 * Parses the query string of a request target: after the first '?', split on '&', name and value split on the first
 * '='; a name without '=' has the value "". No percent-decoding (Envoy matches the raw text). First value wins.
 */
export function parseQueryParameters(path: string): QueryParameters {
  const q = path.indexOf('?');
  if (q < 0) return EMPTY;
  const out = new Map<string, string>();
  let start = q + 1;
  while (start < path.length) {
    let end = path.indexOf('&', start);
    if (end < 0) end = path.length;
    const eq = path.indexOf('=', start);
    const name = eq >= 0 && eq < end ? path.slice(start, eq) : path.slice(start, end);
    if (!out.has(name)) out.set(name, eq >= 0 && eq < end ? path.slice(eq + 1, end) : '');
    start = end + 1;
  }
  return out;
}

/** Compiles one QueryParameterMatcher: the parameter must be present and, with a string matcher, its first value match. */
export function compileQueryParameterMatcher(m: QueryParameterMatcherConfig): (params: QueryParameters) => boolean {
  const name = m.name;
  if (m.match.kind === 'present') return (params) => params.has(name);
  const predicate = compileStringMatcher(m.match);
  return (params) => {
    const v = params.get(name);
    return v !== undefined && predicate(v);
  };
}
