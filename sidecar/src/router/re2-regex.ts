// RE2 (Envoy's safe_regex) patterns as JavaScript RegExps: full-match and global forms, and `\1`-style substitutions.

/**
 * Translates the RE2 spellings JavaScript writes differently: `(?P<name>` named groups, `\z` end of text, and a
 * leading `(?i)` / `(?s)` / `(?is)` flag group (JS has no inline flags in Node 20). The decoder already checked
 * that the pattern compiles in JS; RE2-only constructs beyond these are not translated.
 */
function translate(regex: string): { source: string; flags: string } {
  let source = regex;
  let flags = '';
  const lead = /^\(\?([is]+)\)/.exec(source);
  if (lead !== null) {
    flags = [...new Set(lead[1])].join('');
    source = source.slice(lead[0].length);
  }
  source = source.replace(/\(\?P</g, '(?<').replace(/\\z/g, '$');
  return { source, flags };
}

/** A RegExp that matches only when the whole input matches (RE2::FullMatch, as Envoy's regex matchers use). */
export function fullMatchRegExp(regex: string): RegExp {
  const { source, flags } = translate(regex);
  return new RegExp(`^(?:${source})$`, flags);
}

/** A global RegExp for RE2::GlobalReplace. */
export function globalRegExp(regex: string): RegExp {
  const { source, flags } = translate(regex);
  return new RegExp(source, `${flags}g`);
}

/**
 * Compiles `RegexMatchAndSubstitute` once: `replaceAll` replaces every non-overlapping match (RE2::GlobalReplace);
 * in the substitution `\0`..`\9` are capture groups and `\\` a backslash, while `$` stays literal (the substitution is
 * never passed to JS's `$`-syntax).
 */
export class RegexSubstitution {
  private readonly regex: RegExp;
  /** Literal strings at even indexes, group numbers at odd ones. */
  private readonly parts: readonly (string | number)[];

  constructor(regex: string, substitution: string) {
    this.regex = globalRegExp(regex);
    // Capture groups in the pattern: a reference beyond them is empty (RE2 would reject the rewrite string).
    const groups = (new RegExp(`${this.regex.source}|`, this.regex.flags.replace('g', '')).exec('') ?? ['']).length - 1;
    const parts: (string | number)[] = [];
    let literal = '';
    for (let i = 0; i < substitution.length; i++) {
      const ch = substitution[i];
      const next = substitution[i + 1];
      if (ch === '\\' && next !== undefined && next >= '0' && next <= '9') {
        if (Number(next) <= groups) {
          parts.push(literal, Number(next));
          literal = '';
        }
        i++;
      } else if (ch === '\\' && next === '\\') {
        literal += '\\';
        i++;
      } else {
        literal += ch;
      }
    }
    parts.push(literal);
    this.parts = parts;
  }

  replaceAll(input: string): string {
    const parts = this.parts;
    if (parts.length === 1) return input.replace(this.regex, () => parts[0] as string);
    return input.replace(this.regex, (...args: unknown[]) => {
      let out = '';
      for (let i = 0; i < parts.length; i++) {
        const p = parts[i];
        if (typeof p === 'string') out += p;
        else {
          const group = args[p as number];
          if (typeof group === 'string') out += group;
        }
      }
      return out;
    });
  }
}
