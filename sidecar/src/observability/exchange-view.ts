// The facts observability reads about an exchange, attempt and outcome: structural mirrors of proxy/'s
// ExchangeObserver arguments (observability/ may import only core/, so it names the shapes it needs).

import type * as http from 'node:http';

/** What a downstream request looks like to tracing, stats and the access log (a subset of proxy's ExchangeInfo). */
export interface ExchangeView {
  readonly listenerName: string;
  readonly protocol: 'http1' | 'http2';
  readonly method: string;
  readonly path: string;
  readonly authority: string;
  readonly scheme: string;
  readonly isGrpc: boolean;
  readonly downstreamRemoteAddress: string;
  readonly requestHeaders: http.IncomingHttpHeaders;
  readonly startedAtMs: number;
  readonly startedAtPerfMs: number;
  readonly routeName: string | undefined;
  readonly clusterName: string | undefined;
}

/** One upstream attempt (a subset of proxy's AttemptInfo). */
export interface AttemptView {
  readonly cluster: { readonly name: string };
  readonly host: { readonly address: string; readonly port: number; readonly key: string };
  readonly protocol: 'http1' | 'http2';
  readonly number: number;
  readonly startedAtPerfMs: number;
}

/** How an attempt ended (proxy's AttemptResult). */
export type AttemptOutcome =
  | { readonly kind: 'response'; readonly status: number; readonly grpcStatus: number | undefined }
  | { readonly kind: 'connect_failure' | 'reset' | 'refused_stream' | 'per_try_timeout' | 'timeout' | 'cancelled' | 'max_stream_duration' };

/** What the client got (proxy's ExchangeSummary). */
export interface ExchangeOutcome {
  readonly status: number;
  readonly flag: string | undefined;
  readonly attempts: number;
  readonly host: { readonly key: string } | undefined;
  readonly durationMs: number;
}
