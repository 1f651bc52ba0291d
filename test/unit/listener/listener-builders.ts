// Builders for validated listener config (ListenerConfig, FilterChainConfig, HCM, tcp_proxy) with Envoy's defaults.

import * as path from 'node:path';
import type { FilterChainConfig, FilterChainMatchConfig, HttpConnectionManagerConfig, ListenerConfig, TcpProxyConfig } from '../../../sidecar/src/config/listener-config';
import type { DownstreamTlsConfig } from '../../../sidecar/src/config/tls-config';

export const TLS_DIR = path.resolve(__dirname, '..', '..', '..', '..', 'test', 'fixtures', 'tls');

export function match(overrides: Partial<FilterChainMatchConfig> = {}): FilterChainMatchConfig {
  return { destinationPort: null, prefixRanges: [], directSourcePrefixRanges: [], sourceType: 'ANY', sourcePrefixRanges: [], sourcePorts: [], serverNames: [], transportProtocol: '', applicationProtocols: [], ...overrides };
}

export function hcm(codec: HttpConnectionManagerConfig['codec'] = 'AUTO', overrides: Partial<HttpConnectionManagerConfig> = {}): HttpConnectionManagerConfig {
  return {
    kind: 'http', codec, statPrefix: 'http', routeSource: { kind: 'rds', name: 'r', initialFetchTimeoutMs: 0 }, httpFilters: [],
    useRemoteAddress: false, xffNumTrustedHops: 0, skipXffAppend: false, streamIdleTimeoutMs: 300_000, requestTimeoutMs: 0, requestHeadersTimeoutMs: 0,
    idleTimeoutMs: 3_600_000, maxConnectionDurationMs: null, maxStreamDurationMs: null, maxRequestsPerConnection: null, headersWithUnderscoresAction: 'ALLOW',
    drainTimeoutMs: 5000, upgradeConfigs: [], tracing: null,
    http2: { maxConcurrentStreams: 2147483647, initialStreamWindowSize: 268435456, initialConnectionWindowSize: 268435456, allowConnect: false, hpackTableSize: 4096, keepaliveIntervalMs: null, keepaliveTimeoutMs: null },
    http1: { acceptHttp10: false, defaultHostForHttp10: '', allowChunkedLength: false }, serverName: 'envoy', serverHeaderTransformation: 'OVERWRITE',
    normalizePath: false, mergeSlashes: false, pathWithEscapedSlashesAction: 'IMPLEMENTATION_SPECIFIC_DEFAULT', maxRequestHeadersKb: 60,
    generateRequestId: true, preserveExternalRequestId: false, stripPortMode: 'none', via: '', ...overrides,
  };
}

export function tcpProxy(cluster = 'upstream'): TcpProxyConfig {
  return { kind: 'tcp_proxy', statPrefix: 'tcp', cluster: { kind: 'cluster', name: cluster }, idleTimeoutMs: 3_600_000, maxConnectAttempts: 1, maxDownstreamConnectionDurationMs: null };
}

export function chain(name: string, m: Partial<FilterChainMatchConfig> = {}, network: FilterChainConfig['network'] = hcm(), transportSocket: FilterChainConfig['transportSocket'] = null): FilterChainConfig {
  return { name, match: match(m), network, transportSocket, transportSocketConnectTimeoutMs: null };
}

/** A DownstreamTlsContext with the test server certificate (files) and optional client-certificate validation. */
export function serverTls(alpn: readonly string[] = [], overrides: Partial<DownstreamTlsConfig> = {}, validate = false): DownstreamTlsConfig {
  return {
    kind: 'tls', requireClientCertificate: false, requireSni: false,
    common: {
      minVersion: 'TLS_AUTO', maxVersion: 'TLS_AUTO', cipherSuites: [], alpnProtocols: alpn,
      certificates: [{ kind: 'files', certificateChain: { kind: 'filename', path: path.join(TLS_DIR, 'server.crt') }, privateKey: { kind: 'filename', path: path.join(TLS_DIR, 'server.key') } }],
      validation: validate ? { trustedCa: { kind: 'filename', path: path.join(TLS_DIR, 'ca.crt') }, trustedCaSdsName: null, matchSubjectAltNames: [], verifyCertificateSpki: [], verifyCertificateHash: [], acceptUntrusted: false } : null,
    },
    ...overrides,
  };
}

export function listener(name: string, port: number, chains: readonly FilterChainConfig[], overrides: Partial<ListenerConfig> = {}): ListenerConfig {
  return {
    name, address: { kind: 'socket', host: '127.0.0.1', port, protocol: 'TCP' }, bindToPort: true, useOriginalDst: false, transparent: false,
    listenerFilters: [], listenerFiltersTimeoutMs: 15_000, continueOnListenerFiltersTimeout: false, filterChains: chains, defaultFilterChain: null,
    perConnectionBufferLimitBytes: 1024 * 1024, trafficDirection: 'UNSPECIFIED', statPrefix: '', ...overrides,
  };
}
