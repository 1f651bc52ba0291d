// Virtual host lookup by domain, compiled once per RouteConfig (Envoy's RouteMatcher::findVirtualHost).

/** Domains of one kind grouped by pattern length, longest first. */
type ByLength<T> = Array<{ readonly length: number; readonly map: Map<string, T> }>;

function addByLength<T>(groups: ByLength<T>, key: string, value: T): void {
  let g = groups.find((x) => x.length === key.length);
  if (g === undefined) {
    g = { length: key.length, map: new Map() };
    groups.push(g);
    groups.sort((a, b) => b.length - a.length);
  }
  if (!g.map.has(key)) g.map.set(key, value);
}

/**
 * Where the port starts in an authority (`host:port`, `[v6]:port`), or -1: the last ':' unless a ']' follows it.
 * Envoy's `HeaderUtility::getPortStart` (it does not check that the port is numeric).
 */
export function portStart(authority: string): number {
  const colon = authority.lastIndexOf(':');
  if (colon < 0) return -1;
  return authority.lastIndexOf(']') > colon ? -1 : colon;
}

/**
 * The domain index. `find` mirrors Envoy exactly: lower-case the authority; an exact domain; else the longest
 * suffix wildcard (`*.foo.com`, `*-bar.foo.com`) whose suffix is strictly shorter than the host (the `*` matches at
 * least one character); else the longest prefix wildcard (`foo.*`) likewise; else the `*` virtual host.
 *
 * Ports: with `ignorePortInHostMatching` off (Envoy's default) the authority is matched as received, port included:
 * `foo.com:8080` does not match the domain `foo.com` (it may match `foo.*` or `*`). Envoy has no "retry without the
 * port" step; ports are removed before routing only by the HCM's `strip_matching_host_port` / `strip_any_host_port`
 * (the proxy's job), or here when `ignorePortInHostMatching` is on. Istio lists both `name` and `name:port` domains.
 */
export class DomainIndex<T> {
  private readonly exact = new Map<string, T>();
  private readonly suffixes: ByLength<T> = [];
  private readonly prefixes: ByLength<T> = [];
  private any: T | undefined;

  constructor(private readonly ignorePortInHostMatching = false) {}

  /** Registers a lower-case domain; the first owner of a domain keeps it (the decoder rejects duplicates). */
  add(domain: string, value: T): void {
    if (domain === '*') this.any ??= value;
    else if (domain.startsWith('*')) addByLength(this.suffixes, domain.slice(1), value);
    else if (domain.endsWith('*')) addByLength(this.prefixes, domain.slice(0, -1), value);
    else if (!this.exact.has(domain)) this.exact.set(domain, value);
  }

  find(authority: string): T | undefined {
    let host = authority;
    if (this.ignorePortInHostMatching) {
      const p = portStart(host);
      if (p >= 0) host = host.slice(0, p);
    }
    host = host.toLowerCase();
    const exact = this.exact.get(host);
    if (exact !== undefined) return exact;
    for (const g of this.suffixes) {
      if (g.length >= host.length) continue;
      const v = g.map.get(host.slice(host.length - g.length));
      if (v !== undefined) return v;
    }
    for (const g of this.prefixes) {
      if (g.length >= host.length) continue;
      const v = g.map.get(host.slice(0, g.length));
      if (v !== undefined) return v;
    }
    return this.any;
  }
}
