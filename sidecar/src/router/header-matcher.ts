// HeaderMatcherConfig -> a compiled request predicate (Envoy's HeaderUtility::matchHeaders).

import type { HeaderMatcherConfig } from '../config/route-config';
import { requestHeaderValue, type RouteRequest } from './route-request';
import { compileStringMatcher } from './string-matcher';

/** A compiled header predicate on a request. Cost: one header lookup and one comparison. */
export type HeaderPredicate = (request: RouteRequest) => boolean;

/** absl::SimpleAtoi for int64: optional surrounding whitespace and sign, decimal digits only. */
const INT64 = /^\s*[+-]?\d+\s*$/;

/**
 * Compiles one `route.v3.HeaderMatcher` exactly as Envoy evaluates it:
 * - the value is every value of the header joined with ',' (pseudo-headers come from the request line);
 * - an absent header (without `treat_missing_header_as_empty`) matches only a `present_match` that asks for absence,
 *   and `invert_match` flips that to `present_match: true`: an inverted exact/prefix/regex/range matcher does NOT
 *   match a missing header (Envoy's rule, not simple negation);
 * - otherwise (present, or missing and treated as "") the specific match runs and `invert_match` flips it;
 * - `range_match` parses the value as an int64: start inclusive, end exclusive.
 */
export function compileHeaderMatcher(m: HeaderMatcherConfig): HeaderPredicate {
  const { name, invert, treatMissingHeaderAsEmpty } = m;
  const spec = m.match;
  let specific: (value: string) => boolean;
  let absent: boolean;
  switch (spec.kind) {
    case 'present': {
      const present = spec.present;
      specific = () => present;
      absent = invert ? present : !present;
      break;
    }
    case 'range': {
      const { start, end } = spec;
      specific = (v) => {
        if (!INT64.test(v)) return false;
        const n = Number(v);
        return n >= start && n < end;
      };
      absent = false;
      break;
    }
    default:
      specific = compileStringMatcher(spec);
      absent = false;
  }
  return (request) => {
    const value = requestHeaderValue(request, name);
    if (value === undefined) {
      if (!treatMissingHeaderAsEmpty) return absent;
      return specific('') !== invert;
    }
    return specific(value) !== invert;
  };
}
