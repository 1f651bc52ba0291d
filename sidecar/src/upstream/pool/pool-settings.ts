// What a host's connection pools need from their cluster: limits, timeouts, TLS and the time source.

import type { Http2OptionsConfig } from '../../config/listener-config';
import type { Clock } from '../../core/clock';
import type { Logger } from '../../observability/logger';
import type { UpstreamTls } from './upstream-tls';

/**
 * Immutable settings shared by every pool of one cluster that uses the same transport socket. The cluster
 * builds a new object when its config changes in a way pools care about; hosts then replace their pools
 * (the old ones drain). Cost: none on the hot path, pools read fields at connect time only.
 */
export interface PoolSettings {
  readonly clusterName: string;
  /** Cluster `connect_timeout` (default 5 s): TCP plus TLS handshake. */
  readonly connectTimeoutMs: number;
  /** Connections per host per protocol: min(circuit breaker `max_connections`, per-host `max_connections`). */
  readonly maxConnections: number;
  /** HttpProtocolOptions `idle_timeout` (default 1 h; 0 = never): idle connections are closed after it. */
  readonly idleTimeoutMs: number;
  /**
   * HttpProtocolOptions `max_connection_duration`; null or 0 = unlimited. An older connection takes no new request
   * and closes once idle (Envoy ActiveClient::onConnectionDurationTimeout).
   */
  readonly maxConnectionDurationMs: number | null;
  /** HttpProtocolOptions `max_requests_per_connection`; null = unlimited. */
  readonly maxRequestsPerConnection: number | null;
  /** `upstream_bind_config.source_address` host, or null. */
  readonly localAddress: string | null;
  readonly http2: Http2OptionsConfig;
  /** null = plaintext (h2c for HTTP/2). */
  readonly tls: UpstreamTls | null;
  /** The cluster's configured protocol, for the ALPN offer (`auto` offers h2 and http/1.1). */
  readonly protocol: 'http1' | 'http2' | 'use_downstream' | 'auto';
  readonly clock: Clock;
  readonly logger: Logger;
  /** Told the protocol ALPN chose on each new TLS connection of an HTTP/2 pool (`auto` clusters learn from it). */
  readonly onAlpn: (protocol: string | false) => void;
  /** Told each time a pool retires a connection at max_connection_duration (the cluster's `upstream_cx_max_duration_reached`). */
  readonly onMaxDurationReached: () => void;
}
