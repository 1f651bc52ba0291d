// The codec settings an Envoy Http2ProtocolOptions gives (the connection manager's or a cluster's), with the
// limits meshlet applies to them.

import type { H2ConnectionSettings, H2Role } from './h2-connection';

/** The Http2ProtocolOptions fields the codec reads (config/'s Http2OptionsConfig has them). */
export interface Http2OptionsLike {
  readonly maxConcurrentStreams: number;
  readonly initialStreamWindowSize: number;
  readonly initialConnectionWindowSize: number;
  readonly hpackTableSize: number;
}

/**
 * Our receive windows: Envoy's defaults are 256 MiB, but a stream's window is also how much we hold while the other
 * side is slow (credit returns only as the reader takes bytes), so they are capped.
 */
const MAX_STREAM_WINDOW = 1024 * 1024;
const MAX_CONNECTION_WINDOW = 16 * 1024 * 1024;

/** RFC 9113 §6.5.2 settings for one role from the options; `maxHeaderListSize` in bytes. */
export function h2Settings(role: H2Role, options: Http2OptionsLike, maxHeaderListSize: number): H2ConnectionSettings {
  return {
    role,
    streamWindow: Math.min(options.initialStreamWindowSize, MAX_STREAM_WINDOW),
    connectionWindow: Math.min(options.initialConnectionWindowSize, MAX_CONNECTION_WINDOW),
    maxConcurrentStreams: Math.min(options.maxConcurrentStreams, 2 ** 31 - 1),
    maxHeaderListSize,
    headerTableSize: options.hpackTableSize >= 0 ? Math.min(options.hpackTableSize, 65_536) : 4096,
  };
}
