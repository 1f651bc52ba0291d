// The hook points of the request path: what outlier detection, load-aware balancers, stats, tracing and the
// access log learn about each exchange and each upstream attempt.

import type * as http from 'node:http';
import type { ResponseFlag } from '../core/errors';
import type { Host } from '../upstream/host';
import type { UpstreamCluster } from '../upstream/upstream-cluster';

/** Read-only facts about one downstream request, valid for the exchange's life. */
export interface ExchangeInfo {
  readonly listenerName: string;
  readonly protocol: 'http1' | 'http2';
  readonly method: string;
  readonly path: string;
  readonly authority: string;
  readonly scheme: string;
  readonly isGrpc: boolean;
  readonly downstreamRemoteAddress: string;
  /** Downstream request headers (after hygiene once routed; tracing reads traceparent/b3 from them). */
  readonly requestHeaders: http.IncomingHttpHeaders;
  /** `Date.now()` at the start. */
  readonly startedAtMs: number;
  /** `performance.now()` at the start, for durations. */
  readonly startedAtPerfMs: number;
  readonly routeName: string | undefined;
  readonly clusterName: string | undefined;
}

/** One upstream attempt. */
export interface AttemptInfo {
  readonly cluster: UpstreamCluster;
  readonly host: Host;
  readonly protocol: 'http1' | 'http2';
  /** 1 for the first try, 2 for the first retry... */
  readonly number: number;
  readonly startedAtPerfMs: number;
}

/** How an attempt ended, as Envoy's router reports it to outlier detection (`putHttpResponseCode` / `putResult`). */
export type AttemptResult =
  | { readonly kind: 'response'; readonly status: number; readonly grpcStatus: number | undefined }
  | { readonly kind: 'connect_failure' | 'reset' | 'refused_stream' | 'per_try_timeout' | 'timeout' | 'cancelled' | 'max_stream_duration' };

/** What the client got. */
export interface ExchangeSummary {
  /** The status sent downstream (0 when the client went away first). */
  readonly status: number;
  /** Envoy response flag when meshlet answered locally or reset (NR, UH, UF, UT, UO...). */
  readonly flag: ResponseFlag | undefined;
  readonly attempts: number;
  /** The host of the last attempt. */
  readonly host: Host | undefined;
  readonly durationMs: number;
}

/**
 * Implemented by observers (stats, outlier detection, peak-EWMA, tracing, access log). Called synchronously on the
 * request path: keep each call O(1), allocation-light, and never throw (a throwing observer is a bug; the exchange
 * catches nothing here). `attemptStarted` may add request headers (trace context) before the request is sent.
 * Every started attempt gets exactly one `attemptEnded`; every exchange exactly one `exchangeEnded`.
 */
export interface ExchangeObserver {
  exchangeStarted?(exchange: ExchangeInfo): void;
  attemptStarted?(exchange: ExchangeInfo, attempt: AttemptInfo, upstreamHeaders: http.OutgoingHttpHeaders): void;
  attemptEnded?(exchange: ExchangeInfo, attempt: AttemptInfo, result: AttemptResult): void;
  exchangeEnded?(exchange: ExchangeInfo, summary: ExchangeSummary): void;
  /** request_headers_timeout expired on a connection of `listenerName` (Envoy HCM `downstream_rq_header_timeout`). */
  requestHeadersTimedOut?(listenerName: string): void;
  /** max_connection_duration drained a connection of `listenerName` (Envoy HCM `downstream_cx_max_duration_reached`). */
  connectionDurationReached?(listenerName: string): void;
}
