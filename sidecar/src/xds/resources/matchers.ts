// Decodes string, regex, header and query-parameter matchers into their config shapes, checking regexes compile.

import type { ErrorCollector } from '../../core/validation';
import type { HeaderMatcherConfig, QueryParameterMatcherConfig, RegexRewriteConfig, StringMatcherConfig } from '../../config/route-config';
import type { StringMatcher__Output } from '../../../../xds-protos/generated/envoy/type/matcher/v3/StringMatcher';
import type { RegexMatcher__Output } from '../../../../xds-protos/generated/envoy/type/matcher/v3/RegexMatcher';
import type { RegexMatchAndSubstitute__Output } from '../../../../xds-protos/generated/envoy/type/matcher/v3/RegexMatchAndSubstitute';
import type { HeaderMatcher__Output } from '../../../../xds-protos/generated/envoy/config/route/v3/HeaderMatcher';
import type { QueryParameterMatcher__Output } from '../../../../xds-protos/generated/envoy/config/route/v3/QueryParameterMatcher';

/**
 * The regex of a RegexMatcher, if JavaScript can compile it. Envoy uses RE2; the common subset (no lookaround, no
 * backreferences) means the same in both, and anything JS rejects is reported instead of silently never matching.
 */
export function decodeRegex(m: RegexMatcher__Output | null | undefined, errors: ErrorCollector): string | null {
  if (m === null || m === undefined) {
    errors.add('regex matcher is required');
    return null;
  }
  try {
    new RegExp(m.regex);
  } catch (err) {
    errors.add(`invalid regex ${JSON.stringify(m.regex)}: ${(err as Error).message}`, 'regex');
    return null;
  }
  return m.regex;
}

export function decodeRegexRewrite(m: RegexMatchAndSubstitute__Output | null | undefined, errors: ErrorCollector): RegexRewriteConfig | null {
  if (m === null || m === undefined) return null;
  const regex = decodeRegex(m.pattern, errors.at('pattern'));
  return regex === null ? null : { regex, substitution: m.substitution };
}

/** `type.matcher.v3.StringMatcher`; `custom` extensions are rejected. */
export function decodeStringMatcher(m: StringMatcher__Output | null | undefined, errors: ErrorCollector): StringMatcherConfig | null {
  if (m === null || m === undefined) {
    errors.add('string matcher is required');
    return null;
  }
  const ignoreCase = m.ignore_case;
  switch (m.match_pattern) {
    case 'exact':
      return { kind: 'exact', value: m.exact ?? '', ignoreCase };
    case 'prefix':
      return { kind: 'prefix', value: m.prefix ?? '', ignoreCase };
    case 'suffix':
      return { kind: 'suffix', value: m.suffix ?? '', ignoreCase };
    case 'contains':
      return { kind: 'contains', value: m.contains ?? '', ignoreCase };
    case 'safe_regex': {
      const regex = decodeRegex(m.safe_regex, errors.at('safe_regex'));
      return regex === null ? null : { kind: 'safe_regex', regex };
    }
    case 'custom':
      errors.add('custom string matchers are not supported', 'custom');
      return null;
    default:
      errors.add('string matcher has no match pattern');
      return null;
  }
}

/** `route.v3.HeaderMatcher`, folding the deprecated `*_match` forms into string matchers. No specifier = present. */
export function decodeHeaderMatcher(m: HeaderMatcher__Output, errors: ErrorCollector): HeaderMatcherConfig | null {
  const base = { name: m.name.toLowerCase(), invert: m.invert_match, treatMissingHeaderAsEmpty: m.treat_missing_header_as_empty };
  let match: HeaderMatcherConfig['match'] | null;
  switch (m.header_match_specifier) {
    case 'exact_match':
      match = { kind: 'exact', value: m.exact_match ?? '', ignoreCase: false };
      break;
    case 'prefix_match':
      match = { kind: 'prefix', value: m.prefix_match ?? '', ignoreCase: false };
      break;
    case 'suffix_match':
      match = { kind: 'suffix', value: m.suffix_match ?? '', ignoreCase: false };
      break;
    case 'contains_match':
      match = { kind: 'contains', value: m.contains_match ?? '', ignoreCase: false };
      break;
    case 'safe_regex_match': {
      const regex = decodeRegex(m.safe_regex_match, errors.at('safe_regex_match'));
      match = regex === null ? null : { kind: 'safe_regex', regex };
      break;
    }
    case 'range_match': {
      const r = m.range_match;
      const start = Number(r?.start ?? 0);
      const end = Number(r?.end ?? 0);
      if (start >= end) errors.add('range_match start must be less than end', 'range_match');
      match = { kind: 'range', start, end };
      break;
    }
    case 'present_match':
      match = { kind: 'present', present: m.present_match ?? false };
      break;
    case 'string_match':
      match = decodeStringMatcher(m.string_match, errors.at('string_match'));
      break;
    default:
      // Envoy: a HeaderMatcher without a specifier matches when the header is present.
      match = { kind: 'present', present: true };
  }
  return match === null ? null : { ...base, match };
}

export function decodeQueryParameterMatcher(m: QueryParameterMatcher__Output, errors: ErrorCollector): QueryParameterMatcherConfig | null {
  if (m.query_parameter_match_specifier === 'string_match') {
    const match = decodeStringMatcher(m.string_match, errors.at('string_match'));
    return match === null ? null : { name: m.name, match };
  }
  if (m.query_parameter_match_specifier === 'present_match' && m.present_match === false) {
    errors.add('present_match: false is not supported (Envoy rejects it too)', 'present_match');
    return null;
  }
  return { name: m.name, match: { kind: 'present' } };
}

/** Decodes a list with per-item paths, dropping items that failed (their errors are recorded). */
export function decodeList<In, Out>(items: readonly In[], errors: ErrorCollector, field: string, decode: (item: In, errors: ErrorCollector) => Out | null): Out[] {
  const out: Out[] = [];
  const at = errors.at(field);
  items.forEach((item, i) => {
    const value = decode(item, at.at(i));
    if (value !== null) out.push(value);
  });
  return out;
}
