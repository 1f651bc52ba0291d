// envoy.filters.network.tcp_proxy config -> TcpProxyConfig (cluster or weighted clusters, idle timeout default 1 h).

import type { ErrorCollector } from '../../core/validation';
import { DEFAULT_TCP_IDLE_TIMEOUT_MS, type TcpProxyConfig } from '../../config/listener-config';
import { durationMs, durationMsOr } from './duration-ms';
import type { TcpProxy__Output } from '../../../../xds-protos/generated/envoy/extensions/filters/network/tcp_proxy/v3/TcpProxy';

/** Decodes a PGV-checked TcpProxy; `errors` is at its typed_config. */
export function decodeTcpProxy(t: TcpProxy__Output, errors: ErrorCollector): TcpProxyConfig | null {
  const start = errors.errors.length;
  let cluster: TcpProxyConfig['cluster'] | null = null;
  if (t.cluster_specifier === 'cluster') {
    cluster = { kind: 'cluster', name: t.cluster ?? '' };
  } else if (t.cluster_specifier === 'weighted_clusters' && t.weighted_clusters) {
    const clusters = t.weighted_clusters.clusters.map((c) => ({ name: c.name, weight: c.weight }));
    if (clusters.reduce((s, c) => s + c.weight, 0) <= 0) errors.add('sum of weights in weighted_clusters must be greater than 0', 'weighted_clusters');
    cluster = { kind: 'weighted', clusters };
  }
  if (t.on_demand !== null) errors.add('on-demand cluster discovery is not supported', 'on_demand');
  if (t.tunneling_config !== null) errors.add('tunneling_config (TCP over HTTP CONNECT) is not supported', 'tunneling_config');
  if (t.hash_policy.length > 0) errors.warn('tcp_proxy hash_policy is not implemented', 'hash_policy');
  if (cluster === null || errors.errors.length > start) return null;
  return {
    kind: 'tcp_proxy',
    statPrefix: t.stat_prefix,
    cluster,
    idleTimeoutMs: durationMsOr(t.idle_timeout, DEFAULT_TCP_IDLE_TIMEOUT_MS),
    maxConnectAttempts: t.max_connect_attempts?.value ?? 1,
    maxDownstreamConnectionDurationMs: durationMs(t.max_downstream_connection_duration),
  };
}
