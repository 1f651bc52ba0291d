// core.v3.Http2ProtocolOptions -> Http2OptionsConfig with Envoy's defaults (shared by the HCM and upstream protocol options).

import type { Http2OptionsConfig } from '../../config/listener-config';
import { durationMs } from './duration-ms';
import type { Http2ProtocolOptions__Output } from '../../../../xds-protos/generated/envoy/config/core/v3/Http2ProtocolOptions';

/** Envoy's HTTP/2 defaults (protocol.proto): 2^31-1 streams, 256 MiB windows, 4096-byte HPACK table. */
export const DEFAULT_HTTP2_OPTIONS: Http2OptionsConfig = Object.freeze({
  maxConcurrentStreams: 2_147_483_647,
  initialStreamWindowSize: 268_435_456,
  initialConnectionWindowSize: 268_435_456,
  allowConnect: false,
  hpackTableSize: 4096,
  keepaliveIntervalMs: null,
  keepaliveTimeoutMs: null,
});

export function decodeHttp2Options(o: Http2ProtocolOptions__Output | null | undefined): Http2OptionsConfig {
  if (o === null || o === undefined) return DEFAULT_HTTP2_OPTIONS;
  return {
    maxConcurrentStreams: o.max_concurrent_streams?.value ?? DEFAULT_HTTP2_OPTIONS.maxConcurrentStreams,
    initialStreamWindowSize: o.initial_stream_window_size?.value ?? DEFAULT_HTTP2_OPTIONS.initialStreamWindowSize,
    initialConnectionWindowSize: o.initial_connection_window_size?.value ?? DEFAULT_HTTP2_OPTIONS.initialConnectionWindowSize,
    allowConnect: o.allow_connect,
    hpackTableSize: o.hpack_table_size?.value ?? DEFAULT_HTTP2_OPTIONS.hpackTableSize,
    keepaliveIntervalMs: durationMs(o.connection_keepalive?.interval),
    keepaliveTimeoutMs: durationMs(o.connection_keepalive?.timeout),
  };
}
