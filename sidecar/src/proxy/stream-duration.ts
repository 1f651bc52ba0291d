// The downstream stream's max duration, as Envoy's ConnectionManagerImpl::ActiveStream::refreshDurationTimeout
// computes it once the route is known: grpc-timeout (capped and offset by the route's max_stream_duration
// settings), else the route's max_stream_duration, else the HCM's common_http_protocol_options.max_stream_duration.

import type { HttpConnectionManagerConfig } from '../config/listener-config';
import type { CompiledRoute } from '../router/compiled-route';
import { formatGrpcTimeout, parseGrpcTimeoutMs } from '../router/grpc-timeout';
import type { RouteRequest } from '../router/route-request';

/** No duration limit for this stream. */
export const NO_STREAM_DURATION = -1;

/**
 * The stream's max duration in ms from its start (0 = expire at once), or NO_STREAM_DURATION. On routes with
 * `max_stream_duration` ("new timeouts"), a gRPC request's `grpc-timeout` is rewritten to the limit, as Envoy does before the router sees the headers. Costs two field reads when nothing is set.
 */
export function streamDurationMs(route: CompiledRoute, hcm: HttpConnectionManagerConfig, request: RouteRequest): number {
  const action = route.config.action;
  const settings = action.kind === 'route' ? action.maxStreamDuration : null;
  let timeout = NO_STREAM_DURATION;
  const headerMax = settings === null ? null : settings.grpcTimeoutHeaderMaxMs;
  const grpcTimeout = headerMax === null ? undefined : parseGrpcTimeoutMs(request.headers.get('grpc-timeout'));
  if (grpcTimeout === undefined || headerMax === null) {
    // No grpc-timeout, or no special handling for it: the route's max_stream_duration (explicit 0 = no limit),
    // else the HCM's when non-zero.
    const routeMax = settings === null ? null : settings.maxStreamDurationMs;
    if (routeMax !== null) timeout = routeMax === 0 ? NO_STREAM_DURATION : routeMax;
    else if (hcm.maxStreamDurationMs !== null && hcm.maxStreamDurationMs > 0) timeout = hcm.maxStreamDurationMs;
  } else {
    // The header's value, capped at grpc_timeout_header_max unless that is 0, minus grpc_timeout_header_offset
    // (down to 0 = expire at once).
    timeout = headerMax !== 0 && grpcTimeout > headerMax ? headerMax : grpcTimeout;
    const offset = settings === null ? null : settings.grpcTimeoutHeaderOffsetMs;
    if (timeout !== 0 && offset !== null) timeout = offset < timeout ? timeout - offset : 0;
  }
  if (settings !== null && request.isGrpc && timeout !== NO_STREAM_DURATION) request.headers.set('grpc-timeout', formatGrpcTimeout(timeout));
  return timeout;
}
