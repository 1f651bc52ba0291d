// Upstream HTTP protocol selection: typed_extension_protocol_options HttpProtocolOptions, else the deprecated cluster fields.

import type { ErrorCollector } from '../../core/validation';
import type { UpstreamHttpProtocolConfig } from '../../config/cluster-config';
import { DEFAULT_HTTP_IDLE_TIMEOUT_MS } from '../../config/listener-config';
import { durationMs, durationMsOr } from './duration-ms';
import { decodeHttp2Options } from './http2-options';
import type { DecodeContext } from './resource-type';
import { unpackExpected } from './typed-config';
import type { Cluster__Output } from '../../../../xds-protos/generated/envoy/config/cluster/v3/Cluster';
import type { HttpProtocolOptions__Output } from '../../../../xds-protos/generated/envoy/extensions/upstreams/http/v3/HttpProtocolOptions';
import type { HttpProtocolOptions__Output as CommonHttpProtocolOptions__Output } from '../../../../xds-protos/generated/envoy/config/core/v3/HttpProtocolOptions';

export const HTTP_PROTOCOL_OPTIONS_NAME = 'envoy.extensions.upstreams.http.v3.HttpProtocolOptions';

function fromCommon(
  protocol: UpstreamHttpProtocolConfig['protocol'],
  http2: UpstreamHttpProtocolConfig['http2'],
  common: CommonHttpProtocolOptions__Output | null,
  autoSni: boolean,
  autoSanValidation: boolean,
): UpstreamHttpProtocolConfig {
  return {
    protocol,
    http2,
    idleTimeoutMs: durationMsOr(common?.idle_timeout, DEFAULT_HTTP_IDLE_TIMEOUT_MS),
    maxConnectionDurationMs: durationMs(common?.max_connection_duration),
    maxStreamDurationMs: durationMs(common?.max_stream_duration),
    maxRequestsPerConnection: common?.max_requests_per_connection?.value ?? null,
    maxHeadersCount: common?.max_headers_count?.value ?? null,
    autoSni,
    autoSanValidation,
  };
}

/**
 * Which protocol the cluster speaks upstream. Envoy looks the options up by extension name
 * (`envoy.extensions.upstreams.http.v3.HttpProtocolOptions`); other keys are rejected as unknown extensions.
 * `errors` is at the cluster.
 */
export function decodeUpstreamHttpOptions(ctx: DecodeContext, c: Cluster__Output, errors: ErrorCollector): UpstreamHttpProtocolConfig {
  let options: HttpProtocolOptions__Output | null = null;
  for (const [key, any] of Object.entries(c.typed_extension_protocol_options)) {
    const e = errors.at(`typed_extension_protocol_options[${JSON.stringify(key)}]`);
    if (key !== HTTP_PROTOCOL_OPTIONS_NAME) {
      e.add(`unsupported protocol options extension ${JSON.stringify(key)}`);
      continue;
    }
    options = unpackExpected<HttpProtocolOptions__Output>(ctx, any, HTTP_PROTOCOL_OPTIONS_NAME, e);
    if (options !== null) {
      if (options.http_filters.length > 0) e.add('upstream HTTP filters are not supported', 'http_filters');
      if (options.header_validation_config !== null) e.add('header_validation_config is not supported', 'header_validation_config');
    }
  }
  if (options !== null) {
    const auto = options.upstream_http_protocol_options;
    const e = errors.at(`typed_extension_protocol_options[${JSON.stringify(HTTP_PROTOCOL_OPTIONS_NAME)}]`);
    let protocol: UpstreamHttpProtocolConfig['protocol'] = 'http1';
    let http2 = decodeHttp2Options(null);
    switch (options.upstream_protocol_options) {
      case 'explicit_http_config': {
        const x = options.explicit_http_config;
        if (x?.protocol_config === 'http2_protocol_options') {
          protocol = 'http2';
          http2 = decodeHttp2Options(x.http2_protocol_options);
        } else if (x?.protocol_config === 'http3_protocol_options') {
          e.add('HTTP/3 upstreams are not supported', 'explicit_http_config.http3_protocol_options');
        }
        break;
      }
      case 'use_downstream_protocol_config': {
        const x = options.use_downstream_protocol_config;
        if (x?.http3_protocol_options) e.add('HTTP/3 upstreams are not supported', 'use_downstream_protocol_config.http3_protocol_options');
        protocol = 'use_downstream';
        http2 = decodeHttp2Options(x?.http2_protocol_options);
        break;
      }
      case 'auto_config': {
        const x = options.auto_config;
        if (x?.http3_protocol_options) e.add('HTTP/3 upstreams are not supported', 'auto_config.http3_protocol_options');
        protocol = 'auto';
        http2 = decodeHttp2Options(x?.http2_protocol_options);
        break;
      }
      default:
        break;
    }
    return fromCommon(protocol, http2, options.common_http_protocol_options, auto?.auto_sni ?? false, auto?.auto_san_validation ?? false);
  }
  // Deprecated v3 cluster fields, still accepted by Envoy.
  const legacyProtocol = c.protocol_selection === 'USE_DOWNSTREAM_PROTOCOL' ? 'use_downstream' : c.http2_protocol_options !== null ? 'http2' : 'http1';
  return fromCommon(legacyProtocol, decodeHttp2Options(c.http2_protocol_options), c.common_http_protocol_options, c.upstream_http_protocol_options?.auto_sni ?? false, c.upstream_http_protocol_options?.auto_san_validation ?? false);
}
