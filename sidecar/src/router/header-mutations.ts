// One level of header mutations (route config, virtual host, route or weighted cluster) compiled as Envoy's HeaderParser.

import type { HeaderAppendAction, HeaderValueOptionConfig } from '../config/route-config';
import type { HeaderMap } from './header-map';
import { compileHeaderValue, type FormatterHeaders, type HeaderValueFormatter, type HeaderVars } from './header-formatter';

interface CompiledHeaderValue {
  readonly key: string;
  readonly value: HeaderValueFormatter | string;
  readonly action: HeaderAppendAction;
  readonly keepEmptyValue: boolean;
}

/**
 * One compiled HeaderParser: `headers_to_remove` and `headers_to_add` of one level, request or response side.
 * `apply` mirrors Envoy's `HeaderParser::evaluateHeaders`:
 * 1. every listed header is removed first (remove-before-add);
 * 2. every value is formatted (against the map after the removals, before any add of this level); an empty result
 *    is skipped unless `keep_empty_value`;
 * 3. the action is decided on the map as it is then: APPEND_IF_EXISTS_OR_ADD adds; ADD_IF_ABSENT adds only when the
 *    header is absent; OVERWRITE_IF_EXISTS_OR_ADD replaces; OVERWRITE_IF_EXISTS replaces only when present;
 * 4. all replacements are applied, then all additions.
 * Cost: nothing when the level is empty; otherwise one pass over its entries.
 */
export class HeaderMutations {
  readonly isEmpty: boolean;
  private readonly toAdd: readonly CompiledHeaderValue[];

  constructor(
    toAdd: readonly HeaderValueOptionConfig[],
    private readonly toRemove: readonly string[],
  ) {
    this.toAdd = toAdd.map((h) => ({ key: h.key, value: compileHeaderValue(h.value), action: h.appendAction, keepEmptyValue: h.keepEmptyValue }));
    this.isEmpty = this.toAdd.length === 0 && toRemove.length === 0;
  }

  /** `formatterHeaders`: the map `%REQ(x)%` reads (the request map itself on the request side; null = vars.request.headers). */
  apply(headers: HeaderMap, vars: HeaderVars, formatterHeaders: FormatterHeaders): void {
    if (this.isEmpty) return;
    for (const name of this.toRemove) headers.remove(name);
    if (this.toAdd.length === 0) return;
    let overwrite: [string, string][] | undefined;
    let add: [string, string][] | undefined;
    for (const h of this.toAdd) {
      const value = typeof h.value === 'string' ? h.value : h.value(vars, formatterHeaders);
      if (value === '' && !h.keepEmptyValue) continue;
      switch (h.action) {
        case 'APPEND_IF_EXISTS_OR_ADD':
          (add ??= []).push([h.key, value]);
          break;
        case 'ADD_IF_ABSENT':
          if (!headers.has(h.key)) (add ??= []).push([h.key, value]);
          break;
        case 'OVERWRITE_IF_EXISTS':
          if (headers.has(h.key)) (overwrite ??= []).push([h.key, value]);
          break;
        case 'OVERWRITE_IF_EXISTS_OR_ADD':
          (overwrite ??= []).push([h.key, value]);
          break;
      }
    }
    if (overwrite !== undefined) for (const [k, v] of overwrite) headers.set(k, v);
    if (add !== undefined) for (const [k, v] of add) headers.append(k, v);
  }
}
