// StringMatcherConfig -> a compiled predicate on one string (Envoy's StringMatcherImpl).

import type { StringMatcherConfig } from '../config/route-config';
import { fullMatchRegExp } from './re2-regex';

/** A compiled string predicate. Cost: one comparison; `ignoreCase` lower-cases the input once. */
export type StringPredicate = (value: string) => boolean;

/**
 * Compiles a `type.matcher.v3.StringMatcher`: exact / prefix / suffix / contains honour `ignore_case`; `safe_regex`
 * is a full match and ignores `ignore_case`, as in Envoy.
 */
export function compileStringMatcher(m: StringMatcherConfig): StringPredicate {
  if (m.kind === 'safe_regex') {
    const re = fullMatchRegExp(m.regex);
    return (v) => re.test(v);
  }
  const expected = m.ignoreCase ? m.value.toLowerCase() : m.value;
  const norm = m.ignoreCase ? (v: string) => v.toLowerCase() : (v: string) => v;
  switch (m.kind) {
    case 'exact':
      return (v) => norm(v) === expected;
    case 'prefix':
      return (v) => norm(v).startsWith(expected);
    case 'suffix':
      return (v) => norm(v).endsWith(expected);
    case 'contains':
      return (v) => norm(v).includes(expected);
  }
}
