// RouteMatchConfig -> one compiled predicate per route (path, runtime fraction, grpc, headers, query parameters).

import type { RouteMatchConfig } from '../config/route-config';
import { compileHeaderMatcher, type HeaderPredicate } from './header-matcher';
import type { MatchInput } from './match-input';
import { compileQueryParameterMatcher } from './query-parameters';
import { fullMatchRegExp } from './re2-regex';

/** A compiled route match. `matches` is pure; cost is the path compare plus one lookup per header/query matcher. */
export interface RouteMatcher {
  matches(input: MatchInput): boolean;
  /**
   * How many leading characters of the path (without query) the match consumed, for `prefix_rewrite` (Envoy's
   * `matched_path`): the configured prefix / path / separated prefix, or the whole path for `safe_regex`.
   */
  matchedLength(pathOnly: string): number;
}

function compilePath(match: RouteMatchConfig): (input: MatchInput) => boolean {
  const p = match.path;
  const cs = match.caseSensitive;
  switch (p.kind) {
    case 'prefix': {
      if (p.value === '') return () => true;
      const v = cs ? p.value : p.value.toLowerCase();
      return cs ? (i) => i.pathOnly.startsWith(v) : (i) => i.lowerPath.startsWith(v);
    }
    case 'path': {
      const v = cs ? p.value : p.value.toLowerCase();
      return cs ? (i) => i.pathOnly === v : (i) => i.lowerPath === v;
    }
    case 'safe_regex': {
      // `case_sensitive` is ignored for safe_regex (route_components.proto).
      const re = fullMatchRegExp(p.regex);
      return (i) => re.test(i.pathOnly);
    }
    case 'path_separated_prefix': {
      // Envoy: the path equals the prefix, or continues with '/' right after it.
      const v = cs ? p.value : p.value.toLowerCase();
      const n = v.length;
      return (i) => {
        const path = cs ? i.pathOnly : i.lowerPath;
        return path.startsWith(v) && (path.length === n || path.charCodeAt(n) === 47 /* / */);
      };
    }
  }
}

/**
 * Compiles a route's match in Envoy's evaluation order (`RouteEntryImplBase::matchRoute` then the path): runtime
 * fraction (`random01 < fraction`, one random per lookup), `grpc`, every header matcher, every query parameter
 * matcher, then the path. All must hold.
 */
export function compileRouteMatcher(match: RouteMatchConfig): RouteMatcher {
  const path = compilePath(match);
  const headers: readonly HeaderPredicate[] = match.headers.map(compileHeaderMatcher);
  const query = match.queryParameters.map(compileQueryParameterMatcher);
  const fraction = match.runtimeFraction;
  const grpc = match.grpc;
  const p = match.path;
  const fixedLength = p.kind === 'safe_regex' ? -1 : p.value.length;
  return {
    matches(input) {
      if (fraction !== null && !(input.random01 < fraction)) return false;
      if (grpc && !input.request.isGrpc) return false;
      for (let i = 0; i < headers.length; i++) if (!(headers[i] as HeaderPredicate)(input.request)) return false;
      if (query.length > 0) {
        const params = input.query;
        for (const q of query) if (!q(params)) return false;
      }
      return path(input);
    },
    matchedLength(pathOnly) {
      return fixedLength < 0 ? pathOnly.length : fixedLength;
    },
  };
}
