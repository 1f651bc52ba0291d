// The error catalogue of the request path: one entry per local reply, with its HTTP status, gRPC status,
// Envoy response flag and retry class. Mapped to responses in one place (proxy/local-reply.ts).

/** Envoy's response flags (access log `%RESPONSE_FLAGS%`), the subset meshlet produces. */
export type ResponseFlag =
  | 'NR' // no route
  | 'NC' // no cluster
  | 'UH' // no healthy upstream host
  | 'UF' // upstream connection failure
  | 'UR' // upstream remote reset
  | 'UC' // upstream connection termination
  | 'UT' // upstream request timeout
  | 'UO' // upstream overflow (circuit breaker)
  | 'URX' // upstream retry limit exceeded
  | 'DC' // downstream connection termination
  | 'DPE' // downstream protocol error
  | 'UPE' // upstream protocol error
  | 'SI' // stream idle timeout
  | 'DT' // downstream max stream duration reached (HCM / route max_stream_duration, grpc-timeout)
  | 'UMSDR' // upstream max stream duration reached (cluster max_stream_duration)
  | 'LR' // local reset
  | 'DI' // direct response / redirect (not an error; recorded for the access log)
  | 'NFCF'; // no filter chain found

/** google.rpc.Code values used for gRPC local replies (trailers-only responses). */
export const GrpcStatus = {
  OK: 0,
  CANCELLED: 1,
  UNKNOWN: 2,
  INVALID_ARGUMENT: 3,
  DEADLINE_EXCEEDED: 4,
  NOT_FOUND: 5,
  PERMISSION_DENIED: 7,
  RESOURCE_EXHAUSTED: 8,
  UNIMPLEMENTED: 12,
  INTERNAL: 13,
  UNAVAILABLE: 14,
} as const;

/** One kind of local reply. Immutable; `details` is the Envoy-style `%RESPONSE_CODE_DETAILS%` token. */
export interface ErrorKind {
  readonly code: string;
  readonly httpStatus: number;
  readonly grpcStatus: number;
  /** undefined where Envoy sets no flag (HCM request_timeout). */
  readonly flag: ResponseFlag | undefined;
  /** Whether a retry policy may retry after this outcome (overflow never is: Envoy resets with Overflow). */
  readonly retriable: boolean;
  readonly details: string;
}

function kind(code: string, httpStatus: number, grpcStatus: number, flag: ResponseFlag | undefined, retriable: boolean, details: string): ErrorKind {
  return Object.freeze({ code, httpStatus, grpcStatus, flag, retriable, details });
}

/**
 * The catalogue. HTTP statuses and flags as Envoy's router and HCM produce them. gRPC statuses follow Envoy's
 * `Grpc::Utility::httpToGrpcStatus` (404 -> UNIMPLEMENTED, 502/503 -> UNAVAILABLE), except that meshlet's own
 * timeouts answer DEADLINE_EXCEEDED, which is what a gRPC caller's deadline handling expects.
 */
export const Errors = {
  noRoute: kind('no_route', 404, GrpcStatus.UNIMPLEMENTED, 'NR', false, 'route_not_found'),
  noCluster: kind('no_cluster', 503, GrpcStatus.UNAVAILABLE, 'NC', false, 'cluster_not_found'),
  noHealthyHost: kind('no_healthy_host', 503, GrpcStatus.UNAVAILABLE, 'UH', true, 'no_healthy_upstream'),
  connectFailure: kind('connect_failure', 503, GrpcStatus.UNAVAILABLE, 'UF', true, 'upstream_reset_before_response_started{connection_failure}'),
  upstreamReset: kind('upstream_reset', 503, GrpcStatus.UNAVAILABLE, 'UR', true, 'upstream_reset_before_response_started{remote_reset}'),
  upstreamConnectionTermination: kind('upstream_connection_termination', 503, GrpcStatus.UNAVAILABLE, 'UC', true, 'upstream_reset_before_response_started{connection_termination}'),
  upstreamProtocolError: kind('upstream_protocol_error', 502, GrpcStatus.UNAVAILABLE, 'UPE', true, 'upstream_reset_before_response_started{protocol_error}'),
  upstreamTimeout: kind('upstream_timeout', 504, GrpcStatus.DEADLINE_EXCEEDED, 'UT', true, 'upstream_response_timeout'),
  perTryTimeout: kind('upstream_per_try_timeout', 504, GrpcStatus.DEADLINE_EXCEEDED, 'UT', true, 'upstream_per_try_timeout'),
  overflow: kind('overflow', 503, GrpcStatus.UNAVAILABLE, 'UO', false, 'upstream_reset_before_response_started{overflow}'),
  streamIdleTimeout: kind('stream_idle_timeout', 408, GrpcStatus.DEADLINE_EXCEEDED, 'SI', false, 'stream_idle_timeout'),
  // HCM request_timeout (conn_manager_impl onRequestTimeout): 408, no response flag, details request_overall_timeout.
  requestTimeout: kind('request_timeout', 408, GrpcStatus.DEADLINE_EXCEEDED, undefined, false, 'request_overall_timeout'),
  // HCM onStreamMaxDurationReached: Utility::maybeRequestTimeoutCode -> 504 once the request was fully received,
  // else 408; flag DT, DEADLINE_EXCEEDED for gRPC callers.
  maxDurationTimeout: kind('max_duration_timeout', 504, GrpcStatus.DEADLINE_EXCEEDED, 'DT', false, 'max_duration_timeout'),
  maxDurationTimeoutIncompleteRequest: kind('max_duration_timeout_incomplete_request', 408, GrpcStatus.DEADLINE_EXCEEDED, 'DT', false, 'max_duration_timeout'),
  // Router onStreamMaxDurationReached (cluster max_stream_duration, per attempt): maybeRequestTimeoutCode as above.
  upstreamMaxStreamDuration: kind('upstream_max_stream_duration', 504, GrpcStatus.DEADLINE_EXCEEDED, 'UMSDR', false, 'upstream_max_stream_duration_reached'),
  upstreamMaxStreamDurationIncompleteRequest: kind('upstream_max_stream_duration_incomplete_request', 408, GrpcStatus.DEADLINE_EXCEEDED, 'UMSDR', false, 'upstream_max_stream_duration_reached'),
  // HCM onRequestHeaderTimeout (request_headers_timeout): 408, no flag; HTTP/1.1 closes the connection after it.
  requestHeaderTimeout: kind('request_header_timeout', 408, GrpcStatus.DEADLINE_EXCEEDED, undefined, false, 'request_header_timeout'),
  downstreamProtocolError: kind('downstream_protocol_error', 400, GrpcStatus.INTERNAL, 'DPE', false, 'protocol_error'),
  loopDetected: kind('loop_detected', 508, GrpcStatus.UNAVAILABLE, 'DPE', false, 'loop_detected'),
  draining: kind('draining', 503, GrpcStatus.UNAVAILABLE, 'LR', true, 'listener_draining'),
} as const;

export type ErrorCode = keyof typeof Errors;

/**
 * An error on the request path: a catalogue kind plus context. `cause` keeps the underlying error (socket
 * error, timeout); the message says where it happened (`cluster reviews, host 10.0.0.1:9080: ECONNREFUSED`).
 */
export class ProxyError extends Error {
  constructor(
    readonly kind: ErrorKind,
    message: string = kind.details,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'ProxyError';
  }
}
