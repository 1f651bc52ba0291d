// HealthCheck -> HealthCheckConfig (http/tcp/grpc) with Envoy's interval defaults resolved.

import type { ErrorCollector } from '../../core/validation';
import type { HealthCheckConfig, HealthCheckerConfig } from '../../config/cluster-config';
import { durationMsOr } from './duration-ms';
import { decodeHeaderValueOption } from './header-mutations';
import { decodeList, decodeStringMatcher } from './matchers';
import type { HealthCheck__Output } from '../../../../xds-protos/generated/envoy/config/core/v3/HealthCheck';
import type { _envoy_config_core_v3_HealthCheck_Payload__Output as Payload__Output } from '../../../../xds-protos/generated/envoy/config/core/v3/HealthCheck';
import type { Int64Range__Output } from '../../../../xds-protos/generated/envoy/type/v3/Int64Range';

function payload(p: Payload__Output | null, errors: ErrorCollector): Uint8Array | null {
  if (p === null) return null;
  if (p.payload === 'text') {
    const hex = p.text ?? '';
    if (!/^([0-9a-fA-F]{2})*$/.test(hex)) {
      errors.add('text payload must be hex-encoded bytes', 'text');
      return null;
    }
    return Buffer.from(hex, 'hex');
  }
  return p.binary ?? new Uint8Array();
}

function ranges(list: readonly Int64Range__Output[], errors: ErrorCollector, field: string): (readonly [number, number])[] {
  return decodeList(list, errors, field, (r, e): readonly [number, number] | null => {
    const start = Number(r.start);
    const end = Number(r.end);
    // Envoy: status ranges must lie within [100, 600) and be non-empty.
    if (start < 100 || end > 600 || start >= end) {
      e.add(`invalid status range [${start}, ${end}): must be within [100, 600) and non-empty`);
      return null;
    }
    return [start, end] as const;
  });
}

function checker(h: HealthCheck__Output, errors: ErrorCollector): HealthCheckerConfig | null {
  switch (h.health_checker) {
    case 'http_health_check': {
      const c = h.http_health_check;
      if (!c) return null;
      const e = errors.at('http_health_check');
      if (c.codec_client_type === 'HTTP3') e.add('HTTP/3 health checks are not supported', 'codec_client_type');
      const expected = ranges(c.expected_statuses, e, 'expected_statuses');
      return {
        kind: 'http',
        host: c.host,
        path: c.path,
        method: c.method === 'METHOD_UNSPECIFIED' ? 'GET' : c.method,
        expectedStatuses: expected.length > 0 ? expected : [[200, 201]],
        retriableStatuses: ranges(c.retriable_statuses, e, 'retriable_statuses'),
        requestHeadersToAdd: decodeList(c.request_headers_to_add, e, 'request_headers_to_add', decodeHeaderValueOption),
        requestHeadersToRemove: c.request_headers_to_remove.map((s) => s.toLowerCase()),
        codec: c.codec_client_type === 'HTTP2' ? 'HTTP2' : 'HTTP1',
        serviceNameMatcher: c.service_name_matcher === null ? null : decodeStringMatcher(c.service_name_matcher, e.at('service_name_matcher')),
        send: payload(c.send, e.at('send')),
        receive: c.receive.map((p, i) => payload(p, e.at('receive').at(i))).filter((p): p is Uint8Array => p !== null),
      };
    }
    case 'tcp_health_check': {
      const c = h.tcp_health_check;
      if (!c) return null;
      const e = errors.at('tcp_health_check');
      if (c.proxy_protocol_config !== null) e.add('proxy_protocol_config is not supported', 'proxy_protocol_config');
      return { kind: 'tcp', send: payload(c.send, e.at('send')), receive: c.receive.map((p, i) => payload(p, e.at('receive').at(i))).filter((p): p is Uint8Array => p !== null) };
    }
    case 'grpc_health_check': {
      const c = h.grpc_health_check;
      return c ? { kind: 'grpc', serviceName: c.service_name, authority: c.authority } : null;
    }
    case 'custom_health_check':
      errors.add('custom health checkers are not supported', 'custom_health_check');
      return null;
    default:
      return null; // PGV reports the missing required oneof.
  }
}

/** One HealthCheck; `errors` is at it. timeout, interval and both thresholds are PGV-required. */
export function decodeHealthCheck(h: HealthCheck__Output, errors: ErrorCollector): HealthCheckConfig | null {
  const start = errors.errors.length;
  if (h.alt_port !== null) errors.add('alt_port is not supported (deprecated in Envoy)', 'alt_port');
  if (h.tls_options !== null || h.transport_socket_match_criteria !== null) errors.warn('health check TLS options are not implemented; checks use the cluster transport socket', 'tls_options');
  const c = checker(h, errors);
  const intervalMs = durationMsOr(h.interval, 0);
  const noTrafficIntervalMs = durationMsOr(h.no_traffic_interval, 60_000);
  const unhealthyIntervalMs = durationMsOr(h.unhealthy_interval, intervalMs);
  if (c === null || errors.errors.length > start) return null;
  return {
    timeoutMs: durationMsOr(h.timeout, 0),
    intervalMs,
    initialJitterMs: durationMsOr(h.initial_jitter, 0),
    intervalJitterMs: durationMsOr(h.interval_jitter, 0),
    intervalJitterPercent: h.interval_jitter_percent,
    unhealthyThreshold: h.unhealthy_threshold?.value ?? 0,
    healthyThreshold: h.healthy_threshold?.value ?? 0,
    reuseConnection: h.reuse_connection?.value ?? true,
    noTrafficIntervalMs,
    noTrafficHealthyIntervalMs: durationMsOr(h.no_traffic_healthy_interval, noTrafficIntervalMs),
    unhealthyIntervalMs,
    unhealthyEdgeIntervalMs: durationMsOr(h.unhealthy_edge_interval, unhealthyIntervalMs),
    healthyEdgeIntervalMs: durationMsOr(h.healthy_edge_interval, intervalMs),
    alwaysLogHealthCheckFailures: h.always_log_health_check_failures,
    checker: c,
  };
}
