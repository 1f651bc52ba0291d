// The header view the router reads and mutates (HeaderMap), and its adapter over node's header objects (ObjectHeaderMap).

/**
 * A mutable, case-insensitive header multimap as Envoy's router sees it. Names are passed lower-case (callers and
 * compiled config lower-case them once). Cost: every method is O(1) in the number of headers, except that `get` of a
 * repeated header joins its values.
 */
export interface HeaderMap {
  /** The value; several values are joined with ',' (Envoy's `getAllOfHeaderAsString`). undefined when absent. */
  get(name: string): string | undefined;
  /** Every value, in order; empty when absent. */
  getAll(name: string): readonly string[];
  has(name: string): boolean;
  /** Replaces every value with `value`. */
  set(name: string, value: string): void;
  /** Adds one more value (the header is created when absent). */
  append(name: string, value: string): void;
  remove(name: string): void;
}

/** node's `IncomingHttpHeaders` / `OutgoingHttpHeaders` shape (lower-case keys). */
export type HeaderObject = Record<string, string | string[] | undefined>;

const NO_VALUES: readonly string[] = [];

/**
 * HeaderMap over a plain header object, mutated in place (so the proxy can hand `object` to node afterwards).
 * Repeated headers are kept as arrays; node's own ", "-joined values (for headers it folds) stay one value.
 */
export class ObjectHeaderMap implements HeaderMap {
  constructor(readonly object: HeaderObject) {}

  get(name: string): string | undefined {
    const v = this.object[name];
    if (v === undefined || typeof v === 'string') return v;
    return v.length === 0 ? undefined : v.join(',');
  }

  getAll(name: string): readonly string[] {
    const v = this.object[name];
    if (v === undefined) return NO_VALUES;
    return typeof v === 'string' ? [v] : v;
  }

  has(name: string): boolean {
    const v = this.object[name];
    return v !== undefined && (typeof v === 'string' || v.length > 0);
  }

  set(name: string, value: string): void {
    this.object[name] = value;
  }

  append(name: string, value: string): void {
    const v = this.object[name];
    if (v === undefined || (typeof v !== 'string' && v.length === 0)) this.object[name] = value;
    else if (typeof v === 'string') this.object[name] = [v, value];
    else this.object[name] = [...v, value];
  }

  remove(name: string): void {
    delete this.object[name];
  }
}
