// Distributed tracing as an exchange observer: one span per sampled request (SERVER on inbound listeners, CLIENT
// on outbound ones), a CLIENT span per retried upstream attempt, W3C/B3 propagation, OTLP export in batches.

import type * as http from 'node:http';
import { Metadata } from '@grpc/grpc-js';
import { ROOT_CONTEXT, SpanKind, SpanStatusCode, TraceFlags, trace, type Attributes, type Span, type Tracer } from '@opentelemetry/api';
import { BasicTracerProvider, BatchSpanProcessor, AlwaysOnSampler, type SpanExporter } from '@opentelemetry/sdk-trace-base';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { OTLPTraceExporter as OtlpGrpcExporter } from '@opentelemetry/exporter-trace-otlp-grpc';
import { OTLPTraceExporter as OtlpProtoExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import {
  ATTR_CLIENT_ADDRESS, ATTR_ERROR_TYPE, ATTR_HTTP_REQUEST_METHOD, ATTR_HTTP_REQUEST_RESEND_COUNT, ATTR_HTTP_RESPONSE_STATUS_CODE,
  ATTR_NETWORK_PEER_ADDRESS, ATTR_NETWORK_PEER_PORT, ATTR_NETWORK_PROTOCOL_VERSION, ATTR_RPC_METHOD, ATTR_RPC_STATUS_CODE,
  ATTR_RPC_SYSTEM_NAME, ATTR_SERVER_ADDRESS, ATTR_SERVER_PORT, ATTR_SERVICE_NAME, ATTR_URL_FULL, ATTR_URL_PATH, ATTR_URL_QUERY,
  ATTR_URL_SCHEME, ATTR_USER_AGENT_ORIGINAL,
} from '@opentelemetry/semantic-conventions';
import { ATTR_RPC_GRPC_STATUS_CODE, ATTR_RPC_SERVICE, ATTR_RPC_SYSTEM } from '@opentelemetry/semantic-conventions/incubating';
import { Errors } from '../core/errors';
import type { AttemptOutcome, AttemptView, ExchangeOutcome, ExchangeView } from './exchange-view';
import { extractTraceContext, freshUnsampledTraceparent, injectTraceContext, type IncomingTraceContext } from './trace-context';
import type { TracingOptions } from './tracing-options';

/** How one listener is traced, compiled per config snapshot by the composition root. */
export interface ListenerTracePolicy {
  /** Envoy `getSpanKind`: SERVER on ingress (inbound) listeners, CLIENT on egress (outbound) ones. */
  readonly kind: 'server' | 'client';
  /** HCM `tracing.random_sampling` x `overall_sampling` (percent); undefined = the global ratio. */
  readonly samplingPercent: number | undefined;
}

export interface TracingObserverOptions {
  readonly tracing: TracingOptions;
  /** Per-listener policy; undefined for a listener means SERVER with the global ratio. */
  readonly listenerPolicy: (listenerName: string) => ListenerTracePolicy | undefined;
  /** Overrides the OTLP exporter (tests). */
  readonly exporter?: SpanExporter;
  readonly random?: () => number;
}

/** gRPC status names for `rpc.status_code` (semconv v1.44 uses the string name). */
const GRPC_CODES = ['OK', 'CANCELLED', 'UNKNOWN', 'INVALID_ARGUMENT', 'DEADLINE_EXCEEDED', 'NOT_FOUND', 'ALREADY_EXISTS', 'PERMISSION_DENIED',
  'RESOURCE_EXHAUSTED', 'FAILED_PRECONDITION', 'ABORTED', 'OUT_OF_RANGE', 'UNIMPLEMENTED', 'INTERNAL', 'UNAVAILABLE', 'DATA_LOSS', 'UNAUTHENTICATED'];
/** Codes that make a SERVER span an error (semconv rpc/grpc); on CLIENT spans every code but OK does. */
const GRPC_SERVER_ERRORS = new Set([2, 4, 12, 13, 14, 15]);

/** Response flag -> the gRPC status of meshlet's local reply (core/errors catalogue). */
const FLAG_GRPC_STATUS: ReadonlyMap<string, number> = new Map(Object.values(Errors).flatMap((e) => (e.flag === undefined ? [] : [[e.flag as string, e.grpcStatus] as const])));

/** HTTP status -> gRPC code for local replies (Envoy `Grpc::Utility::httpToGrpcStatus`). */
function httpToGrpc(status: number): number {
  switch (status) {
    case 400: return 13;
    case 401: return 16;
    case 403: return 7;
    case 404: return 12;
    case 429: case 502: case 503: case 504: return 14;
    default: return status >= 200 && status < 300 ? 0 : 2;
  }
}

/** Per sampled exchange (unsampled exchanges get no state at all). */
interface SampledExchange {
  readonly span: Span;
  readonly kind: 'server' | 'client';
  readonly traceId: string;
  readonly spanId: string;
  readonly incoming: IncomingTraceContext | undefined;
  attemptSpan: Span | undefined;
  lastResult: AttemptOutcome | undefined;
  upstream: AttemptView | undefined;
}

const RESULT_ERROR_TYPE: Record<string, string> = {
  connect_failure: 'connect_failure', reset: 'reset', refused_stream: 'refused_stream', per_try_timeout: 'timeout', timeout: 'timeout', cancelled: 'cancelled', max_stream_duration: 'timeout',
};

function splitAuthority(authority: string): { host: string; port: number | undefined } {
  const m = /^(\[[^\]]+\]|[^:]+)(?::(\d+))?$/.exec(authority);
  if (m === null) return { host: authority, port: undefined };
  return { host: m[1] as string, port: m[2] === undefined ? undefined : Number(m[2]) };
}

function grpcMetadata(headers: Readonly<Record<string, string>>): Metadata {
  const metadata = new Metadata();
  for (const [key, value] of Object.entries(headers)) metadata.set(key, value);
  return metadata;
}

function first(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

/**
 * The tracer. Mirrors Envoy's HCM tracing with the OpenTelemetry tracer (specs/observability.md §3.1) using
 * current OTel semantic conventions (§3.3–3.5):
 * - sampling is parent-based: an incoming W3C/B3 sampled flag is obeyed; a request without context starts a
 *   trace with the listener's HCM `random_sampling` percentage, else the configured ratio;
 * - an unsampled request creates no span object: it keeps an incoming context untouched, or gets a fresh
 *   unsampled `traceparent` (the backend still sees propagation headers);
 * - the first upstream attempt carries the request span's context; retries each get a CLIENT span
 *   (`http.request.resend_count`) whose context the retried request carries;
 * - attributes: stable HTTP semconv, gRPC `rpc.system.name`/`rpc.method`/`rpc.status_code` (legacy names with
 *   `rpc/dup`), and Envoy's `upstream_cluster`, `upstream_address`, `response_flags`, `guid:x-request-id`.
 * Export: OTLP gRPC or HTTP/protobuf through a BatchSpanProcessor (5 s, 2048 queue, 512 batch).
 */
export class TracingObserver {
  private readonly provider: BasicTracerProvider;
  private readonly tracer: Tracer;
  private readonly sampled = new WeakMap<object, SampledExchange>();
  private readonly random: () => number;
  /** Spans started (for /stats). */
  spansStarted = 0;

  constructor(private readonly options: TracingObserverOptions) {
    const { tracing } = options;
    const exporter = options.exporter ?? (tracing.protocol === 'grpc'
      ? new OtlpGrpcExporter({ url: tracing.endpoint, metadata: grpcMetadata(tracing.headers) })
      : new OtlpProtoExporter({ url: tracing.endpoint, headers: { ...tracing.headers } }));
    this.provider = new BasicTracerProvider({
      resource: resourceFromAttributes({ [ATTR_SERVICE_NAME]: tracing.serviceName }),
      // meshlet decides before any span exists; every span it starts is sampled.
      sampler: new AlwaysOnSampler(),
      spanProcessors: [new BatchSpanProcessor(exporter, { scheduledDelayMillis: tracing.exportDelayMs, maxQueueSize: 2048, maxExportBatchSize: 512 })],
    });
    this.tracer = this.provider.getTracer('meshlet');
    this.random = options.random ?? Math.random;
  }

  exchangeStarted(exchange: ExchangeView): void {
    const policy = this.options.listenerPolicy(exchange.listenerName);
    const incoming = extractTraceContext(exchange.requestHeaders);
    let sample: boolean;
    if (incoming !== undefined) sample = incoming.sampled;
    else {
      const percent = policy?.samplingPercent ?? this.options.tracing.samplingRatio * 100;
      sample = percent >= 100 || (percent > 0 && this.random() * 100 < percent);
    }
    if (!sample) return;
    const kind = policy?.kind ?? 'server';
    const parent = incoming === undefined
      ? ROOT_CONTEXT
      : trace.setSpanContext(ROOT_CONTEXT, { traceId: incoming.traceId, spanId: incoming.spanId, traceFlags: TraceFlags.SAMPLED, isRemote: true });
    const span = this.tracer.startSpan(this.spanName(exchange), { kind: kind === 'server' ? SpanKind.SERVER : SpanKind.CLIENT, startTime: exchange.startedAtMs, attributes: this.requestAttributes(exchange, kind) }, parent);
    this.spansStarted += 1;
    const context = span.spanContext();
    this.sampled.set(exchange, { span, kind, traceId: context.traceId, spanId: context.spanId, incoming, attemptSpan: undefined, lastResult: undefined, upstream: undefined });
  }

  attemptStarted(exchange: ExchangeView, attempt: AttemptView, headers: http.OutgoingHttpHeaders): void {
    const state = this.sampled.get(exchange);
    if (state === undefined) {
      // Unsampled: keep a valid incoming context as is (Linkerd); otherwise start an unsampled one for the backend.
      if (attempt.number > 1 || headers['traceparent'] !== undefined || headers['b3'] !== undefined || headers['x-b3-traceid'] !== undefined) return;
      headers['traceparent'] = freshUnsampledTraceparent();
      return;
    }
    state.upstream = attempt;
    if (attempt.number === 1) {
      injectTraceContext(headers, state.traceId, state.spanId, true, state.incoming);
      return;
    }
    const parent = trace.setSpan(ROOT_CONTEXT, state.span);
    const span = this.tracer.startSpan(this.spanName(exchange), { kind: SpanKind.CLIENT, attributes: this.attemptAttributes(exchange, attempt) }, parent);
    this.spansStarted += 1;
    state.attemptSpan = span;
    const context = span.spanContext();
    injectTraceContext(headers, context.traceId, context.spanId, true, state.incoming);
  }

  attemptEnded(exchange: ExchangeView, _attempt: AttemptView, result: AttemptOutcome): void {
    const state = this.sampled.get(exchange);
    if (state === undefined) return;
    state.lastResult = result;
    const span = state.attemptSpan;
    if (span === undefined) return;
    state.attemptSpan = undefined;
    this.finishAttributes(span, 'client', exchange, result.kind === 'response' ? result.status : 0, result, undefined);
    span.end();
  }

  exchangeEnded(exchange: ExchangeView, outcome: ExchangeOutcome): void {
    const state = this.sampled.get(exchange);
    if (state === undefined) return;
    this.sampled.delete(exchange);
    const span = state.span;
    const requestId = first(exchange.requestHeaders['x-request-id']);
    if (requestId !== undefined) span.setAttribute('guid:x-request-id', requestId);
    span.setAttribute('response_flags', outcome.flag ?? '-');
    if (exchange.clusterName !== undefined) span.setAttribute('upstream_cluster', exchange.clusterName);
    if (state.upstream !== undefined) span.setAttribute('upstream_address', state.upstream.host.key);
    if (outcome.attempts > 1) span.setAttribute('retry.count', outcome.attempts - 1);
    this.finishAttributes(span, state.kind, exchange, outcome.status, state.lastResult, outcome.flag);
    span.end();
  }

  /** The trace and span id of a sampled exchange still in flight (the access log reads it before exchangeEnded here). */
  traceIds(exchange: object): { readonly traceId: string; readonly spanId: string } | undefined {
    return this.sampled.get(exchange);
  }

  /** Exports what is buffered (tests, shutdown). */
  async forceFlush(): Promise<void> {
    await this.provider.forceFlush();
  }

  async shutdown(): Promise<void> {
    await this.provider.shutdown();
  }

  /** semconv: gRPC `pkg.Svc/Method`; HTTP `{method}` (the raw path is not a low-cardinality target). */
  private spanName(exchange: ExchangeView): string {
    if (exchange.isGrpc) return this.rpcMethod(exchange) ?? 'grpc';
    return exchange.method;
  }

  private rpcMethod(exchange: ExchangeView): string | undefined {
    const path = exchange.path;
    const slash = path.indexOf('/', 1);
    return path.startsWith('/') && slash > 1 ? path.slice(1) : undefined;
  }

  private requestAttributes(exchange: ExchangeView, kind: 'server' | 'client'): Attributes {
    const { host, port } = splitAuthority(exchange.authority);
    const q = exchange.path.indexOf('?');
    const attributes: Attributes = {
      [ATTR_HTTP_REQUEST_METHOD]: exchange.method,
      [ATTR_URL_PATH]: q < 0 ? exchange.path : exchange.path.slice(0, q),
      [ATTR_URL_SCHEME]: exchange.scheme,
      [ATTR_SERVER_ADDRESS]: host,
      [ATTR_NETWORK_PROTOCOL_VERSION]: exchange.protocol === 'http2' ? '2' : '1.1',
      [ATTR_CLIENT_ADDRESS]: exchange.downstreamRemoteAddress,
      component: 'proxy',
      'meshlet.listener': exchange.listenerName,
    };
    if (port !== undefined) attributes[ATTR_SERVER_PORT] = port;
    if (q >= 0) attributes[ATTR_URL_QUERY] = exchange.path.slice(q + 1);
    if (kind === 'client') attributes[ATTR_URL_FULL] = `${exchange.scheme}://${exchange.authority}${exchange.path}`;
    const ua = first(exchange.requestHeaders['user-agent']);
    if (ua !== undefined) attributes[ATTR_USER_AGENT_ORIGINAL] = ua;
    if (exchange.isGrpc) this.rpcAttributes(attributes, exchange);
    return attributes;
  }

  private attemptAttributes(exchange: ExchangeView, attempt: AttemptView): Attributes {
    const attributes: Attributes = {
      [ATTR_HTTP_REQUEST_METHOD]: exchange.method,
      [ATTR_URL_FULL]: `${exchange.scheme}://${exchange.authority}${exchange.path}`,
      [ATTR_SERVER_ADDRESS]: attempt.host.address,
      [ATTR_SERVER_PORT]: attempt.host.port,
      [ATTR_NETWORK_PEER_ADDRESS]: attempt.host.address,
      [ATTR_NETWORK_PEER_PORT]: attempt.host.port,
      [ATTR_NETWORK_PROTOCOL_VERSION]: attempt.protocol === 'http2' ? '2' : '1.1',
      [ATTR_HTTP_REQUEST_RESEND_COUNT]: attempt.number - 1,
      upstream_cluster: attempt.cluster.name,
      upstream_address: attempt.host.key,
      'peer.address': attempt.host.key,
      component: 'proxy',
    };
    if (exchange.isGrpc) this.rpcAttributes(attributes, exchange);
    return attributes;
  }

  private rpcAttributes(attributes: Attributes, exchange: ExchangeView): void {
    const method = this.rpcMethod(exchange);
    attributes[ATTR_RPC_SYSTEM_NAME] = 'grpc';
    attributes[ATTR_RPC_METHOD] = method ?? '_OTHER';
    if (this.options.tracing.rpcDup) {
      attributes[ATTR_RPC_SYSTEM] = 'grpc';
      if (method !== undefined) {
        const slash = method.indexOf('/');
        attributes[ATTR_RPC_SERVICE] = method.slice(0, slash);
        attributes['rpc.method'] = method;
      }
    }
  }

  /** Status, error.type and gRPC status per semconv HTTP/RPC span status rules. */
  private finishAttributes(span: Span, kind: 'server' | 'client', exchange: ExchangeView, status: number, result: AttemptOutcome | undefined, flag: string | undefined): void {
    if (status > 0) span.setAttribute(ATTR_HTTP_RESPONSE_STATUS_CODE, status);
    let errorType: string | undefined;
    if (exchange.isGrpc) {
      let grpcStatus: number | undefined;
      const local = flag === undefined ? undefined : FLAG_GRPC_STATUS.get(flag);
      if (local !== undefined) grpcStatus = local;
      else if (result?.kind === 'response' && result.grpcStatus !== undefined) grpcStatus = result.grpcStatus;
      else if (status > 0) grpcStatus = status < 300 ? 0 : httpToGrpc(status);
      if (grpcStatus !== undefined) {
        const name = GRPC_CODES[grpcStatus] ?? String(grpcStatus);
        span.setAttribute(ATTR_RPC_STATUS_CODE, name);
        if (this.options.tracing.rpcDup) span.setAttribute(ATTR_RPC_GRPC_STATUS_CODE, grpcStatus);
        if (kind === 'client' ? grpcStatus !== 0 : GRPC_SERVER_ERRORS.has(grpcStatus)) errorType = name;
      }
    }
    if (status === 0 && result !== undefined && result.kind !== 'response') errorType = RESULT_ERROR_TYPE[result.kind];
    else if (status >= 500 || (kind === 'client' && status >= 400)) errorType ??= String(status);
    if (errorType === undefined && status === 0 && flag !== undefined && flag !== 'DC') errorType = flag;
    if (errorType !== undefined) {
      span.setAttribute(ATTR_ERROR_TYPE, errorType);
      span.setStatus({ code: SpanStatusCode.ERROR });
    }
  }
}
