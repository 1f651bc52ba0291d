// LDS: Listener -> ListenerConfig (address, listener filters, filter chains with matches, HCM or TCP proxy), all errors collected.

import type { ErrorCollector } from '../../core/validation';
import {
  DEFAULT_BUFFER_LIMIT_BYTES,
  DEFAULT_LISTENER_FILTERS_TIMEOUT_MS,
  type FilterChainConfig,
  type FilterChainMatchConfig,
  type ListenerConfig,
  type ListenerFilterConfig,
  type NetworkConfig,
} from '../../config/listener-config';
import { decodeAddress, decodeCidrRange } from './address';
import { durationMs, durationMsOr } from './duration-ms';
import { resolveFilter } from './filter-classifier';
import { decodeHttpConnectionManager } from './http-connection-manager';
import { decodeList } from './matchers';
import { decodeResource, stringField } from './decode-resource';
import { LISTENER_TYPE_URL, ROUTE_CONFIGURATION_TYPE_URL, type DecodeContext, type DecodedResource, type ResourceDependency, type XdsResourceType } from './resource-type';
import { decodeTcpProxy } from './tcp-proxy';
import { decodeDownstreamTransportSocket } from './transport-socket';
import type { Listener__Output } from '../../../../xds-protos/generated/envoy/config/listener/v3/Listener';
import type { FilterChain__Output } from '../../../../xds-protos/generated/envoy/config/listener/v3/FilterChain';
import type { FilterChainMatch__Output } from '../../../../xds-protos/generated/envoy/config/listener/v3/FilterChainMatch';
import type { HttpConnectionManager__Output } from '../../../../xds-protos/generated/envoy/extensions/filters/network/http_connection_manager/v3/HttpConnectionManager';
import type { TcpProxy__Output } from '../../../../xds-protos/generated/envoy/extensions/filters/network/tcp_proxy/v3/TcpProxy';

const PROTO_NAME = 'envoy.config.listener.v3.Listener';

const ANY_MATCH: FilterChainMatchConfig = Object.freeze({
  destinationPort: null,
  prefixRanges: [],
  directSourcePrefixRanges: [],
  sourceType: 'ANY',
  sourcePrefixRanges: [],
  sourcePorts: [],
  serverNames: [],
  transportProtocol: '',
  applicationProtocols: [],
});

function decodeFilterChainMatch(m: FilterChainMatch__Output | null, errors: ErrorCollector): FilterChainMatchConfig {
  if (m === null) return ANY_MATCH;
  if (m.address_suffix !== '' || m.suffix_len !== null) errors.warn('address_suffix/suffix_len are not implemented (Envoy ignores them too)', 'address_suffix');
  return {
    destinationPort: m.destination_port?.value ?? null,
    prefixRanges: decodeList(m.prefix_ranges, errors, 'prefix_ranges', decodeCidrRange),
    directSourcePrefixRanges: decodeList(m.direct_source_prefix_ranges, errors, 'direct_source_prefix_ranges', decodeCidrRange),
    sourceType: m.source_type as FilterChainMatchConfig['sourceType'],
    sourcePrefixRanges: decodeList(m.source_prefix_ranges, errors, 'source_prefix_ranges', decodeCidrRange),
    sourcePorts: m.source_ports,
    serverNames: m.server_names.map((s) => s.toLowerCase()),
    transportProtocol: m.transport_protocol,
    applicationProtocols: m.application_protocols,
  };
}

/**
 * The network filters of a chain: ignorable ones are skipped, security ones refused, and exactly one terminal filter
 * (http_connection_manager or tcp_proxy) must come last, as Envoy requires.
 */
function decodeNetworkFilters(ctx: DecodeContext, chain: FilterChain__Output, errors: ErrorCollector): NetworkConfig | null {
  let network: NetworkConfig | null = null;
  const at = errors.at('filters');
  const start = errors.errors.length;
  chain.filters.forEach((f, i) => {
    const fe = at.at(i);
    const resolved = resolveFilter(ctx, f, 'network_filter', fe);
    if (resolved === null || resolved.cls.kind === 'ignored') return;
    const { cls, config } = resolved;
    if (cls.kind !== 'http_connection_manager' && cls.kind !== 'tcp_proxy') {
      fe.add(`filter ${JSON.stringify(f.name)} (${config.typeUrl}) is not a network filter`, 'typed_config');
      return;
    }
    if (i !== chain.filters.length - 1) fe.add(`terminal filter ${JSON.stringify(f.name)} (${config.typeUrl}) must be the last filter in a network filter chain`);
    if (config.kind !== 'proto') {
      fe.add(`${config.typeUrl} must be sent as its proto, not wrapped in a TypedStruct`, 'typed_config');
      return;
    }
    const te = fe.at('typed_config');
    network =
      cls.kind === 'http_connection_manager'
        ? decodeHttpConnectionManager(ctx, config.message as unknown as HttpConnectionManager__Output, te)
        : decodeTcpProxy(config.message as unknown as TcpProxy__Output, te);
  });
  if (network === null && errors.errors.length === start) errors.add('filter chain has no terminal network filter (http_connection_manager or tcp_proxy)', 'filters');
  return network;
}

function decodeFilterChain(ctx: DecodeContext, chain: FilterChain__Output, errors: ErrorCollector): FilterChainConfig | null {
  const start = errors.errors.length;
  if (chain.use_proxy_proto?.value === true) errors.add('use_proxy_proto is not supported', 'use_proxy_proto');
  if (chain.on_demand_configuration !== null) errors.add('on-demand filter chains are not supported', 'on_demand_configuration');
  const match = decodeFilterChainMatch(chain.filter_chain_match, errors.at('filter_chain_match'));
  const network = decodeNetworkFilters(ctx, chain, errors);
  const transportSocket = chain.transport_socket === null ? null : decodeDownstreamTransportSocket(ctx, chain.transport_socket, errors.at('transport_socket'));
  if (network === null || errors.errors.length > start) return null;
  return { name: chain.name, match, network, transportSocket, transportSocketConnectTimeoutMs: durationMs(chain.transport_socket_connect_timeout) };
}

/** Every concrete match combination of a chain (Envoy's filter-chain tree leaves), or null if too many to expand. */
function matchLeaves(m: FilterChainMatchConfig): string[] | null {
  const dims: string[][] = [
    [String(m.destinationPort ?? '')],
    m.prefixRanges.length ? m.prefixRanges.map((r) => `${r.addressPrefix}/${r.prefixLen}`) : [''],
    m.serverNames.length ? [...m.serverNames] : [''],
    [m.transportProtocol],
    m.applicationProtocols.length ? [...m.applicationProtocols] : [''],
    m.directSourcePrefixRanges.length ? m.directSourcePrefixRanges.map((r) => `${r.addressPrefix}/${r.prefixLen}`) : [''],
    [m.sourceType],
    m.sourcePrefixRanges.length ? m.sourcePrefixRanges.map((r) => `${r.addressPrefix}/${r.prefixLen}`) : [''],
    m.sourcePorts.length ? m.sourcePorts.map(String) : [''],
  ];
  if (dims.reduce((n, d) => n * d.length, 1) > 10_000) return null;
  return dims.reduce<string[]>((acc, d) => acc.flatMap((prefix) => d.map((v) => `${prefix}|${v}`)), ['']);
}

/** Envoy: "multiple filter chains with the same matching rules are defined". */
function checkDuplicateMatches(chains: readonly (FilterChainConfig | null)[], errors: ErrorCollector): void {
  const seen = new Map<string, number>();
  chains.forEach((chain, i) => {
    if (chain === null) return;
    const leaves = matchLeaves(chain.match) ?? [JSON.stringify(chain.match)];
    for (const leaf of leaves) {
      const first = seen.get(leaf);
      if (first !== undefined && first !== i) {
        errors.at('filter_chains').add(`multiple filter chains with the same matching rules are defined (also filter_chains[${first}])`, i);
        return;
      }
      seen.set(leaf, i);
    }
  });
}

function decodeListenerFilters(ctx: DecodeContext, l: Listener__Output, errors: ErrorCollector): ListenerFilterConfig[] {
  return decodeList(l.listener_filters, errors, 'listener_filters', (f, e): ListenerFilterConfig | null => {
    if (f.filter_disabled !== null) e.warn('filter_disabled is not implemented; the filter always runs', 'filter_disabled');
    const resolved = resolveFilter(ctx, f, 'listener_filter', e);
    if (resolved === null || resolved.cls.kind === 'ignored') return null;
    if (resolved.cls.kind !== 'listener_filter') {
      e.add(`filter ${JSON.stringify(f.name)} (${resolved.config.typeUrl}) is not a listener filter`, 'typed_config');
      return null;
    }
    return { name: f.name, kind: resolved.cls.which };
  });
}

function decodeListener(ctx: DecodeContext, l: Listener__Output, errors: ErrorCollector): ListenerConfig | null {
  if (l.api_listener !== null) errors.add('api_listener (proxyless gRPC) is not supported', 'api_listener');
  if (l.listener_specifier === 'internal_listener') errors.add('internal listeners are not supported', 'internal_listener');
  if (l.udp_listener_config !== null) errors.add('UDP listeners are not supported', 'udp_listener_config');
  if (l.filter_chain_matcher !== null) errors.add('filter_chain_matcher (the matcher API) is not supported; use filter_chain_match', 'filter_chain_matcher');
  if (l.additional_addresses.length > 0) errors.warn('additional_addresses are not implemented; only address is used', 'additional_addresses');
  const address = decodeAddress(l.address, errors.at('address'));
  if (address?.kind === 'socket' && address.protocol === 'UDP') errors.add('UDP listeners are not supported', 'address.socket_address.protocol');
  const listenerFilters = decodeListenerFilters(ctx, l, errors);
  const chains = l.filter_chains.map((c, i) => decodeFilterChain(ctx, c, errors.at('filter_chains').at(i)));
  checkDuplicateMatches(chains, errors);
  const defaultFilterChain = l.default_filter_chain === null ? null : decodeFilterChain(ctx, l.default_filter_chain, errors.at('default_filter_chain'));
  if (l.filter_chains.length === 0 && l.default_filter_chain === null) errors.add(`no filter chains specified for listener ${JSON.stringify(l.name)}`, 'filter_chains');
  if (address === null || errors.hasErrors) return null;
  return {
    name: l.name,
    address,
    bindToPort: l.bind_to_port?.value ?? true,
    useOriginalDst: l.use_original_dst?.value ?? false,
    transparent: l.transparent?.value ?? false,
    listenerFilters,
    listenerFiltersTimeoutMs: durationMsOr(l.listener_filters_timeout, DEFAULT_LISTENER_FILTERS_TIMEOUT_MS),
    continueOnListenerFiltersTimeout: l.continue_on_listener_filters_timeout,
    filterChains: chains.filter((c): c is FilterChainConfig => c !== null),
    defaultFilterChain,
    perConnectionBufferLimitBytes: l.per_connection_buffer_limit_bytes?.value ?? DEFAULT_BUFFER_LIMIT_BYTES,
    trafficDirection: l.traffic_direction as ListenerConfig['trafficDirection'],
    statPrefix: l.stat_prefix,
  };
}

/**
 * The RDS names of the listener's HTTP connection managers, one group per distinct `rds.config_source`
 * `initial_fetch_timeout` (Envoy: each HCM's RdsRouteConfigSubscription has its own init target and timeout).
 */
function rdsDependencies(listener: ListenerConfig): ResourceDependency[] {
  const byTimeout = new Map<number, Set<string>>();
  for (const chain of [...listener.filterChains, ...(listener.defaultFilterChain ? [listener.defaultFilterChain] : [])]) {
    if (chain.network.kind !== 'http' || chain.network.routeSource.kind !== 'rds') continue;
    const { name, initialFetchTimeoutMs } = chain.network.routeSource;
    const names = byTimeout.get(initialFetchTimeoutMs) ?? new Set<string>();
    names.add(name);
    byTimeout.set(initialFetchTimeoutMs, names);
  }
  return [...byTimeout].map(([initialFetchTimeoutMs, names]) => ({ typeUrl: ROUTE_CONFIGURATION_TYPE_URL, names: [...names], initialFetchTimeoutMs }));
}

/** The LDS resource type. Dependencies: the RDS route configuration names of its HTTP connection managers, with their initial fetch timeouts. */
export const listenerResource: XdsResourceType<ListenerConfig> = {
  typeUrl: LISTENER_TYPE_URL,
  protoName: PROTO_NAME,
  shortName: 'LDS',
  allResourcesRequiredInSotW: true,
  decode(ctx: DecodeContext, message: unknown): DecodedResource<ListenerConfig> {
    return decodeResource(ctx, PROTO_NAME, message, stringField(message, 'name'), 'listener', (l: Listener__Output, errors) => decodeListener(ctx, l, errors));
  },
  dependencies(value: ListenerConfig) {
    return rdsDependencies(value);
  },
};
