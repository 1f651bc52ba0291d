// envoy.filters.network.http_connection_manager config -> HttpConnectionManagerConfig: codec, route source, HTTP filters, timeouts, options.

import type { ErrorCollector } from '../../core/validation';
import {
  DEFAULT_HTTP_IDLE_TIMEOUT_MS,
  DEFAULT_STREAM_IDLE_TIMEOUT_MS,
  type HttpConnectionManagerConfig,
  type HttpFilterConfig,
  type HttpRouteSource,
} from '../../config/listener-config';
import { decodeConfigSource } from './config-source';
import { durationMs, durationMsOr } from './duration-ms';
import { resolveFilter } from './filter-classifier';
import { decodeHttp2Options } from './http2-options';
import type { DecodeContext } from './resource-type';
import { decodeRouteConfig } from './route-configuration-resource';
import type { HttpConnectionManager__Output } from '../../../../xds-protos/generated/envoy/extensions/filters/network/http_connection_manager/v3/HttpConnectionManager';
import type { HttpFilter__Output } from '../../../../xds-protos/generated/envoy/extensions/filters/network/http_connection_manager/v3/HttpFilter';
import type { Router__Output } from '../../../../xds-protos/generated/envoy/extensions/filters/http/router/v3/Router';

function percent(p: { readonly value: number } | null | undefined): number {
  return p === null || p === undefined ? 100 : p.value;
}

/**
 * HTTP filters in order. Envoy rules: exactly one router, and it is last (a terminal filter anywhere else is a
 * config error; none means no route can be served). Ignored filters stay in the list as `ignored`.
 */
function decodeHttpFilters(ctx: DecodeContext, filters: readonly HttpFilter__Output[], errors: ErrorCollector, field: string): HttpFilterConfig[] {
  const out: HttpFilterConfig[] = [];
  const at = errors.at(field);
  filters.forEach((f, i) => {
    const resolved = resolveFilter(ctx, f, 'http_filter', at.at(i));
    if (resolved === null) return;
    if (resolved.cls.kind === 'ignored') {
      out.push({ name: f.name, kind: 'ignored', typeUrl: resolved.config.typeUrl });
      return;
    }
    if (resolved.cls.kind !== 'router') {
      at.at(i).add(`filter ${JSON.stringify(f.name)} (${resolved.config.typeUrl}) is not an HTTP filter`, 'typed_config');
      return;
    }
    if (i !== filters.length - 1) at.at(i).add(`the router filter ${JSON.stringify(f.name)} must be the last HTTP filter`);
    const router = resolved.config.kind === 'proto' ? (resolved.config.message as unknown as Router__Output) : null;
    if (router !== null && router.upstream_http_filters.length > 0) at.at(i).add('upstream_http_filters are not supported', 'typed_config.upstream_http_filters');
    out.push({
      name: f.name,
      kind: 'router',
      typeUrl: resolved.config.typeUrl,
      suppressEnvoyHeaders: router?.suppress_envoy_headers ?? false,
      startChildSpan: router?.start_child_span ?? false,
      respectExpectedRqTimeout: router?.respect_expected_rq_timeout ?? false,
    });
  });
  const hadErrors = at.errors.some((e) => e.path.startsWith(at.path));
  if (!hadErrors && out[out.length - 1]?.kind !== 'router') errors.add('the HTTP filter chain must end with the router filter (envoy.extensions.filters.http.router.v3.Router)', field);
  return out;
}

function decodeRouteSource(ctx: DecodeContext, h: HttpConnectionManager__Output, errors: ErrorCollector): HttpRouteSource | null {
  switch (h.route_specifier) {
    case 'rds': {
      const rds = h.rds;
      if (!rds) return null;
      const source = decodeConfigSource(ctx, rds.config_source, errors.at('rds').at('config_source'));
      return source === null ? null : { kind: 'rds', name: rds.route_config_name, initialFetchTimeoutMs: source.initialFetchTimeoutMs };
    }
    case 'route_config': {
      if (!h.route_config) return null;
      const route = decodeRouteConfig(ctx, h.route_config, errors.at('route_config'));
      return route === null ? null : { kind: 'inline', route };
    }
    case 'scoped_routes':
      errors.add('scoped routes (SRDS) are not supported', 'scoped_routes');
      return null;
    default:
      errors.add('rds or route_config is required');
      return null;
  }
}

/** Decodes a PGV-checked HttpConnectionManager (inline route configs included); `errors` is at its typed_config. */
export function decodeHttpConnectionManager(ctx: DecodeContext, h: HttpConnectionManager__Output, errors: ErrorCollector): HttpConnectionManagerConfig | null {
  const start = errors.errors.length;
  if (h.codec_type === 'HTTP3') errors.add('HTTP/3 is not supported', 'codec_type');
  const routeSource = decodeRouteSource(ctx, h, errors);
  const httpFilters = decodeHttpFilters(ctx, h.http_filters, errors, 'http_filters');
  h.upgrade_configs.forEach((u, i) => {
    if (u.filters.length > 0) errors.at('upgrade_configs').at(i).add('per-upgrade filter chains are not supported', 'filters');
  });
  if (h.original_ip_detection_extensions.length > 0) errors.add('original_ip_detection_extensions are not supported', 'original_ip_detection_extensions');
  if (h.early_header_mutation_extensions.length > 0) errors.add('early_header_mutation_extensions are not supported', 'early_header_mutation_extensions');
  const common = h.common_http_protocol_options;
  const tracing = h.tracing;
  if (routeSource === null || errors.errors.length > start) return null;
  return {
    kind: 'http',
    codec: h.codec_type as HttpConnectionManagerConfig['codec'],
    statPrefix: h.stat_prefix,
    routeSource,
    httpFilters,
    useRemoteAddress: h.use_remote_address?.value ?? false,
    xffNumTrustedHops: h.xff_num_trusted_hops,
    skipXffAppend: h.skip_xff_append,
    streamIdleTimeoutMs: durationMsOr(h.stream_idle_timeout, DEFAULT_STREAM_IDLE_TIMEOUT_MS),
    requestTimeoutMs: durationMsOr(h.request_timeout, 0),
    requestHeadersTimeoutMs: durationMsOr(h.request_headers_timeout, 0),
    idleTimeoutMs: durationMsOr(common?.idle_timeout, DEFAULT_HTTP_IDLE_TIMEOUT_MS),
    maxConnectionDurationMs: durationMs(common?.max_connection_duration),
    maxStreamDurationMs: durationMs(common?.max_stream_duration),
    maxRequestsPerConnection: common?.max_requests_per_connection?.value ?? null,
    headersWithUnderscoresAction: (common?.headers_with_underscores_action ?? 'ALLOW') as HttpConnectionManagerConfig['headersWithUnderscoresAction'],
    drainTimeoutMs: durationMsOr(h.drain_timeout, 5000),
    upgradeConfigs: h.upgrade_configs.map((u) => ({ upgradeType: u.upgrade_type.toLowerCase(), enabled: u.enabled?.value ?? true })),
    tracing:
      tracing === null
        ? null
        : {
            randomSamplingPercent: percent(tracing.random_sampling),
            clientSamplingPercent: percent(tracing.client_sampling),
            overallSamplingPercent: percent(tracing.overall_sampling),
            spawnUpstreamSpan: tracing.spawn_upstream_span?.value ?? null,
          },
    http2: decodeHttp2Options(h.http2_protocol_options),
    http1: {
      acceptHttp10: h.http_protocol_options?.accept_http_10 ?? false,
      defaultHostForHttp10: h.http_protocol_options?.default_host_for_http_10 ?? '',
      allowChunkedLength: h.http_protocol_options?.allow_chunked_length ?? false,
    },
    serverName: h.server_name === '' ? 'envoy' : h.server_name,
    serverHeaderTransformation: h.server_header_transformation as HttpConnectionManagerConfig['serverHeaderTransformation'],
    normalizePath: h.normalize_path?.value ?? false,
    mergeSlashes: h.merge_slashes,
    pathWithEscapedSlashesAction: h.path_with_escaped_slashes_action as HttpConnectionManagerConfig['pathWithEscapedSlashesAction'],
    maxRequestHeadersKb: h.max_request_headers_kb?.value ?? 60,
    generateRequestId: h.generate_request_id?.value ?? true,
    preserveExternalRequestId: h.preserve_external_request_id,
    stripPortMode: h.strip_port_mode === 'strip_any_host_port' && h.strip_any_host_port === true ? 'any' : h.strip_matching_host_port ? 'matching' : 'none',
    via: h.via,
  };
}
