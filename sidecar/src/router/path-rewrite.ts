// prefix_rewrite / regex_rewrite of a request path, compiled once (Envoy's currentUrlPathAfterRewriteWithMatchedPath).

import type { RegexRewriteConfig } from '../config/route-config';
import { RegexSubstitution } from './re2-regex';

/** Where the query string (or fragment) starts in a request target, or its length. */
export function queryStart(path: string): number {
  for (let i = 0; i < path.length; i++) {
    const c = path.charCodeAt(i);
    if (c === 63 /* ? */ || c === 35 /* # */) return i;
  }
  return path.length;
}

/**
 * A compiled path rewrite.
 * - prefix: `prefix_rewrite` replaces the first `matchedLength` characters (the route's matched prefix / path, or
 *   the whole path for a regex route); the rest, query included, is kept.
 * - regex: every match in the path (without query) is substituted; the query string is appended unchanged.
 */
export class PathRewrite {
  private readonly regex: RegexSubstitution | null;

  constructor(
    private readonly prefix: string | null,
    regex: RegexRewriteConfig | null,
  ) {
    this.regex = regex === null ? null : new RegexSubstitution(regex.regex, regex.substitution);
  }

  static of(prefix: string | null, regex: RegexRewriteConfig | null): PathRewrite | null {
    return prefix === null && regex === null ? null : new PathRewrite(prefix, regex);
  }

  rewrite(path: string, matchedLength: number): string {
    if (this.prefix !== null) return this.prefix + path.slice(matchedLength);
    if (this.regex === null) return path;
    const q = queryStart(path);
    return q === path.length ? this.regex.replaceAll(path) : this.regex.replaceAll(path.slice(0, q)) + path.slice(q);
  }
}
