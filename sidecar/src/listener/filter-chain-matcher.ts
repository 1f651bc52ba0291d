// Filter-chain selection for a connection, in Envoy's order (FilterChainManagerImpl::findFilterChain). Pure.

import type { CidrRangeConfig, FilterChainConfig, ListenerConfig } from '../config/listener-config';
import { compilePrefix, ipBytes, isLoopback, prefixContains, sameIp, type CompiledPrefix } from './ip-prefix';

/** What a connection offers to `filter_chain_match`. Hosts are IP literals (v4-mapped IPv6 is treated as IPv4). */
export interface FilterChainMatchInput {
  /** The (restored, after original_dst) local address: `destination_port`, `prefix_ranges`. */
  readonly destinationHost: string;
  readonly destinationPort: number;
  /** SNI from tls_inspector, '' when none. */
  readonly serverName: string;
  /** 'tls' or 'raw_buffer' (Envoy's default when no listener filter set one). */
  readonly transportProtocol: string;
  /** From tls_inspector (ALPN offered) or http_inspector (`h2c`, `http/1.1`, `http/1.0`), in the client's order. */
  readonly applicationProtocols: readonly string[];
  /** The peer of the socket: `direct_source_prefix_ranges`. */
  readonly directSourceHost: string;
  /** The client (same as the direct source without PROXY protocol): `source_type`, `source_prefix_ranges`, `source_ports`. */
  readonly sourceHost: string;
  readonly sourcePort: number;
}

/** Per chain, the CIDR lists compiled once (keyed by the immutable chain object). */
interface CompiledMatch {
  readonly destination: readonly CompiledPrefix[];
  readonly directSource: readonly CompiledPrefix[];
  readonly source: readonly CompiledPrefix[];
  readonly serverNames: readonly string[];
}

const compiled = new WeakMap<FilterChainConfig, CompiledMatch>();

function compileRanges(ranges: readonly CidrRangeConfig[]): CompiledPrefix[] {
  const out: CompiledPrefix[] = [];
  for (const r of ranges) {
    const p = compilePrefix(r.addressPrefix, r.prefixLen);
    if (p !== null) out.push(p);
  }
  return out;
}

function compiledOf(chain: FilterChainConfig): CompiledMatch {
  let c = compiled.get(chain);
  if (c === undefined) {
    c = {
      destination: compileRanges(chain.match.prefixRanges),
      directSource: compileRanges(chain.match.directSourcePrefixRanges),
      source: compileRanges(chain.match.sourcePrefixRanges),
      serverNames: chain.match.serverNames.map((n) => n.toLowerCase()),
    };
    compiled.set(chain, c);
  }
  return c;
}

/**
 * The longest prefix of `ranges` containing `address`: 0 for an empty list (Envoy inserts 0.0.0.0/0 and ::/0 for
 * "any"), -1 when none contains it (or the host is not an IP and ranges are required).
 */
function longestPrefix(ranges: readonly CompiledPrefix[], address: Uint8Array | null): number {
  if (ranges.length === 0) return 0;
  if (address === null) return -1;
  let best = -1;
  for (const r of ranges) if (r.prefixLen > best && prefixContains(r, address)) best = r.prefixLen;
  return best;
}

/** Envoy's LC trie with exclusive (longest-prefix-only) lookup: keeps the chains registered under the longest matching prefix. */
function narrowByPrefix(chains: readonly FilterChainConfig[], address: Uint8Array | null, pick: (c: CompiledMatch) => readonly CompiledPrefix[]): FilterChainConfig[] {
  let best = -1;
  const lengths = chains.map((chain) => {
    const len = longestPrefix(pick(compiledOf(chain)), address);
    if (len > best) best = len;
    return len;
  });
  return best < 0 ? [] : chains.filter((_, i) => lengths[i] === best);
}

/**
 * Selects the filter chain as Envoy does: at each step the most specific value any candidate chain declares for the
 * connection wins, and only the chains declaring it go on; a miss further down does not fall back to a less specific
 * branch (e.g. a chain for the exact destination port that fails on SNI is not replaced by a port-less chain). Steps:
 * destination_port, destination IP (`prefix_ranges`, longest prefix), `server_names` (exact, then the longest
 * `*.suffix`, then none), `transport_protocol`, `application_protocols` (the first offered one any chain lists, else
 * none), direct source IP (longest prefix), `source_type` (local = loopback or same IP as the destination), source IP
 * (longest prefix), `source_ports`. Nothing matched: `default_filter_chain`, which may be null (Envoy: NFCF, close).
 * Cost: O(chains × criteria) per connection; CIDR lists are compiled once per chain object.
 */
export function selectFilterChain(listener: Pick<ListenerConfig, 'filterChains' | 'defaultFilterChain'>, input: FilterChainMatchInput): FilterChainConfig | null {
  return findChain(listener.filterChains, input) ?? listener.defaultFilterChain;
}

function findChain(all: readonly FilterChainConfig[], input: FilterChainMatchInput): FilterChainConfig | null {
  // destination_port: a specific-port subtree, when present, is the only one tried (no fallback to "any port").
  let chains = all.filter((c) => c.match.destinationPort === input.destinationPort);
  if (chains.length === 0) chains = all.filter((c) => c.match.destinationPort === null);
  // destination IP
  chains = narrowByPrefix(chains, ipBytes(input.destinationHost), (c) => c.destination);
  if (chains.length === 0) return null;
  chains = narrowByServerName(chains, input.serverName.toLowerCase());
  if (chains.length === 0) return null;
  // transport_protocol: exact, else chains without one.
  const exactTransport = chains.filter((c) => c.match.transportProtocol !== '' && c.match.transportProtocol === input.transportProtocol);
  chains = exactTransport.length > 0 ? exactTransport : chains.filter((c) => c.match.transportProtocol === '');
  if (chains.length === 0) return null;
  chains = narrowByApplicationProtocol(chains, input.applicationProtocols);
  if (chains.length === 0) return null;
  const source = ipBytes(input.sourceHost);
  chains = narrowByPrefix(chains, ipBytes(input.directSourceHost), (c) => c.directSource);
  if (chains.length === 0) return null;
  chains = narrowBySourceType(chains, source, ipBytes(input.destinationHost));
  if (chains.length === 0) return null;
  chains = narrowByPrefix(chains, source, (c) => c.source);
  if (chains.length === 0) return null;
  const exactPort = chains.filter((c) => c.match.sourcePorts.includes(input.sourcePort));
  chains = exactPort.length > 0 ? exactPort : chains.filter((c) => c.match.sourcePorts.length === 0);
  return chains[0] ?? null;
}

/** Exact name, then `*.b.c` before `*.c` (Envoy walks the dots from the left), then chains without server_names. */
function narrowByServerName(chains: FilterChainConfig[], serverName: string): FilterChainConfig[] {
  if (serverName !== '') {
    const exact = chains.filter((c) => compiledOf(c).serverNames.includes(serverName));
    if (exact.length > 0) return exact;
    let pos = serverName.indexOf('.', 1);
    while (pos !== -1 && pos < serverName.length - 1) {
      const wildcard = `*${serverName.slice(pos)}`;
      const matched = chains.filter((c) => compiledOf(c).serverNames.includes(wildcard));
      if (matched.length > 0) return matched;
      pos = serverName.indexOf('.', pos + 1);
    }
  }
  return chains.filter((c) => c.match.serverNames.length === 0);
}

function narrowByApplicationProtocol(chains: FilterChainConfig[], offered: readonly string[]): FilterChainConfig[] {
  for (const protocol of offered) {
    const matched = chains.filter((c) => c.match.applicationProtocols.includes(protocol));
    if (matched.length > 0) return matched;
  }
  return chains.filter((c) => c.match.applicationProtocols.length === 0);
}

/** Envoy: a local connection takes SAME_IP_OR_LOOPBACK chains when any exist, an external one EXTERNAL chains; else ANY. */
function narrowBySourceType(chains: FilterChainConfig[], source: Uint8Array | null, destination: Uint8Array | null): FilterChainConfig[] {
  const local = chains.filter((c) => c.match.sourceType === 'SAME_IP_OR_LOOPBACK');
  const external = chains.filter((c) => c.match.sourceType === 'EXTERNAL');
  if (local.length > 0 || external.length > 0) {
    const isLocal = source !== null && (isLoopback(source) || (destination !== null && sameIp(source, destination)));
    if (isLocal && local.length > 0) return local;
    if (!isLocal && external.length > 0) return external;
  }
  return chains.filter((c) => c.match.sourceType === 'ANY');
}
