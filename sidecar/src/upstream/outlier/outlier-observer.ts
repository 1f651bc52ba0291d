// Feeds attempt results from the request path into each cluster's outlier detector, as Envoy's router does
// (router.cc onUpstreamHeaders / onUpstreamReset / onPerTryTimeout / onResponseTimeout).

import type { Host } from '../host';
import type { UpstreamCluster } from '../upstream-cluster';
import type { OutlierDetector } from './outlier-detector';

/**
 * The attempt facts this observer reads. Structurally a subset of proxy/'s ExchangeObserver arguments (upstream/
 * may not import proxy/), so an OutlierObserver can be passed wherever an ExchangeObserver is expected.
 */
export interface OutlierAttempt {
  readonly cluster: UpstreamCluster;
  readonly host: Host;
}

/** How an attempt ended (the proxy's AttemptResult). */
export type OutlierAttemptResult =
  | { readonly kind: 'response'; readonly status: number; readonly grpcStatus: number | undefined }
  | { readonly kind: 'connect_failure' | 'reset' | 'refused_stream' | 'per_try_timeout' | 'timeout' | 'cancelled' | 'max_stream_duration' };

/** Envoy `Grpc::Utility::grpcToHttpStatus` (source/common/grpc/status.cc). */
export function grpcToHttpStatus(grpcStatus: number): number {
  switch (grpcStatus) {
    case 0:
      return 200;
    case 1:
      return 499;
    case 3:
    case 9:
    case 11:
      return 400;
    case 4:
      return 504;
    case 5:
      return 404;
    case 6:
    case 10:
      return 409;
    case 7:
      return 403;
    case 8:
      return 429;
    case 12:
      return 501;
    case 14:
      return 503;
    case 16:
      return 401;
    default:
      return 500; // UNKNOWN, INTERNAL, DATA_LOSS and anything out of range
  }
}

/**
 * An ExchangeObserver (by shape) that reports every ended attempt to the outlier detector of its cluster:
 * a response by its status (for gRPC requests a `grpc-status` in the response headers is mapped first), a
 * connect failure or any reset as a failed connection (503 unless split mode), a per-try or route timeout as a
 * timeout (504). A cancelled attempt (the client went away) is not reported, as in Envoy. O(1) per attempt.
 */
export class OutlierObserver {
  constructor(private readonly detectorOf: (cluster: UpstreamCluster) => OutlierDetector | undefined) {}

  attemptEnded(exchange: { readonly isGrpc: boolean }, attempt: OutlierAttempt, result: OutlierAttemptResult): void {
    const detector = this.detectorOf(attempt.cluster);
    if (detector === undefined) return;
    const host = attempt.host;
    switch (result.kind) {
      case 'response': {
        // Headers arrived, so the connection worked (Envoy reports LocalOriginConnectSuccess at pool-ready).
        detector.putResult(host, 'connect_success');
        const code = exchange.isGrpc && result.grpcStatus !== undefined ? grpcToHttpStatus(result.grpcStatus) : result.status;
        detector.putHttpResponseCode(host, code);
        return;
      }
      case 'connect_failure':
      case 'reset':
      case 'refused_stream':
        detector.putResult(host, 'connect_failed');
        return;
      case 'per_try_timeout':
      case 'timeout':
        detector.putResult(host, 'timeout', 504);
        return;
      case 'cancelled':
      case 'max_stream_duration': // Envoy's router reports no outlier result for it
        return;
    }
  }
}
