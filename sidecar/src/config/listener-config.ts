// Validated, immutable LDS input: listeners, listener filters, filter chains and their network config (HTTP connection manager or TCP proxy).

import type { AddressConfig } from './endpoint-config';
import type { RouteConfig } from './route-config';
import type { DownstreamTransportSocketConfig } from './tls-config';

export interface CidrRangeConfig {
  readonly addressPrefix: string;
  readonly prefixLen: number;
}

/** `FilterChainMatch`; empty lists / null mean "any". */
export interface FilterChainMatchConfig {
  readonly destinationPort: number | null;
  readonly prefixRanges: readonly CidrRangeConfig[];
  readonly directSourcePrefixRanges: readonly CidrRangeConfig[];
  readonly sourceType: 'ANY' | 'SAME_IP_OR_LOOPBACK' | 'EXTERNAL';
  readonly sourcePrefixRanges: readonly CidrRangeConfig[];
  readonly sourcePorts: readonly number[];
  readonly serverNames: readonly string[];
  /** '' (any), 'tls', 'raw_buffer'. */
  readonly transportProtocol: string;
  readonly applicationProtocols: readonly string[];
}

/** A listener filter we implement, identified by its config type URL. */
export interface ListenerFilterConfig {
  readonly name: string;
  readonly kind: 'original_dst' | 'tls_inspector' | 'http_inspector';
}

/** An HTTP filter of the connection manager: the router, or one we deliberately ignore (telemetry-like). */
export type HttpFilterConfig =
  | { readonly name: string; readonly kind: 'router'; readonly typeUrl: string; readonly suppressEnvoyHeaders: boolean; readonly startChildSpan: boolean; readonly respectExpectedRqTimeout: boolean }
  | { readonly name: string; readonly kind: 'ignored'; readonly typeUrl: string };

export interface Http2OptionsConfig {
  /** Default 2147483647. */
  readonly maxConcurrentStreams: number;
  /** Default 268435456 (256 MiB). */
  readonly initialStreamWindowSize: number;
  /** Default 268435456 (256 MiB). */
  readonly initialConnectionWindowSize: number;
  readonly allowConnect: boolean;
  readonly hpackTableSize: number;
  readonly keepaliveIntervalMs: number | null;
  readonly keepaliveTimeoutMs: number | null;
}

export type HttpRouteSource =
  /** Over the ADS stream; `initialFetchTimeoutMs` 0 = wait forever (default 15 000). */
  | { readonly kind: 'rds'; readonly name: string; readonly initialFetchTimeoutMs: number }
  | { readonly kind: 'inline'; readonly route: RouteConfig };

export interface HttpConnectionManagerConfig {
  readonly kind: 'http';
  readonly codec: 'AUTO' | 'HTTP1' | 'HTTP2';
  readonly statPrefix: string;
  readonly routeSource: HttpRouteSource;
  /** In order; the last one is the router. */
  readonly httpFilters: readonly HttpFilterConfig[];
  readonly useRemoteAddress: boolean;
  readonly xffNumTrustedHops: number;
  readonly skipXffAppend: boolean;
  /** Default 300 000 (5 min); 0 disables. */
  readonly streamIdleTimeoutMs: number;
  /** Default 0 (disabled). */
  readonly requestTimeoutMs: number;
  /** Default 0 (disabled). */
  readonly requestHeadersTimeoutMs: number;
  /** Connection idle timeout (common_http_protocol_options.idle_timeout), default 3 600 000; 0 disables. */
  readonly idleTimeoutMs: number;
  readonly maxConnectionDurationMs: number | null;
  readonly maxStreamDurationMs: number | null;
  readonly maxRequestsPerConnection: number | null;
  readonly headersWithUnderscoresAction: 'ALLOW' | 'REJECT_REQUEST' | 'DROP_HEADER';
  /** Default 5000 ms. */
  readonly drainTimeoutMs: number;
  readonly upgradeConfigs: readonly { readonly upgradeType: string; readonly enabled: boolean }[];
  /** null when tracing is not configured; percentages default 100. */
  readonly tracing: { readonly randomSamplingPercent: number; readonly clientSamplingPercent: number; readonly overallSamplingPercent: number; readonly spawnUpstreamSpan: boolean | null } | null;
  readonly http2: Http2OptionsConfig;
  readonly http1: { readonly acceptHttp10: boolean; readonly defaultHostForHttp10: string; readonly allowChunkedLength: boolean };
  /** Default 'envoy'. */
  readonly serverName: string;
  readonly serverHeaderTransformation: 'OVERWRITE' | 'APPEND_IF_ABSENT' | 'PASS_THROUGH';
  readonly normalizePath: boolean;
  readonly mergeSlashes: boolean;
  readonly pathWithEscapedSlashesAction: 'IMPLEMENTATION_SPECIFIC_DEFAULT' | 'KEEP_UNCHANGED' | 'REJECT_REQUEST' | 'UNESCAPE_AND_REDIRECT' | 'UNESCAPE_AND_FORWARD';
  /** Default 60, max 8192. */
  readonly maxRequestHeadersKb: number;
  readonly generateRequestId: boolean;
  readonly preserveExternalRequestId: boolean;
  readonly stripPortMode: 'none' | 'matching' | 'any';
  readonly via: string;
}

export interface WeightedTcpClusterConfig {
  readonly name: string;
  readonly weight: number;
}

export interface TcpProxyConfig {
  readonly kind: 'tcp_proxy';
  readonly statPrefix: string;
  readonly cluster: { readonly kind: 'cluster'; readonly name: string } | { readonly kind: 'weighted'; readonly clusters: readonly WeightedTcpClusterConfig[] };
  /** Default 3 600 000 (1 h); 0 disables. */
  readonly idleTimeoutMs: number;
  /** Default 1. */
  readonly maxConnectAttempts: number;
  readonly maxDownstreamConnectionDurationMs: number | null;
}

/** The terminal network filter of a chain. */
export type NetworkConfig = HttpConnectionManagerConfig | TcpProxyConfig;

export interface FilterChainConfig {
  readonly name: string;
  readonly match: FilterChainMatchConfig;
  readonly network: NetworkConfig;
  /** null = plaintext (raw_buffer). */
  readonly transportSocket: DownstreamTransportSocketConfig | null;
  /** `transport_socket_connect_timeout`; null = none. */
  readonly transportSocketConnectTimeoutMs: number | null;
}

/** A validated `Listener`. */
export interface ListenerConfig {
  readonly name: string;
  readonly address: AddressConfig;
  /** Default true. false: reached only by original-destination hand-off from a `useOriginalDst` listener. */
  readonly bindToPort: boolean;
  readonly useOriginalDst: boolean;
  readonly transparent: boolean;
  readonly listenerFilters: readonly ListenerFilterConfig[];
  /** Default 15 000; 0 disables. */
  readonly listenerFiltersTimeoutMs: number;
  readonly continueOnListenerFiltersTimeout: boolean;
  readonly filterChains: readonly FilterChainConfig[];
  readonly defaultFilterChain: FilterChainConfig | null;
  /** Default 1 MiB. */
  readonly perConnectionBufferLimitBytes: number;
  readonly trafficDirection: 'UNSPECIFIED' | 'INBOUND' | 'OUTBOUND';
  readonly statPrefix: string;
}

export const DEFAULT_STREAM_IDLE_TIMEOUT_MS = 300_000;
export const DEFAULT_HTTP_IDLE_TIMEOUT_MS = 3_600_000;
export const DEFAULT_TCP_IDLE_TIMEOUT_MS = 3_600_000;
export const DEFAULT_LISTENER_FILTERS_TIMEOUT_MS = 15_000;
export const DEFAULT_BUFFER_LIMIT_BYTES = 1024 * 1024;
export const DEFAULT_INITIAL_FETCH_TIMEOUT_MS = 15_000;
