// Tracing settings and where they come from: flags beat the standard OTEL_* environment variables, which beat defaults.

/** How spans leave the process (OTLP, what Jaeger v2 and the OTel Collector ingest natively). */
export interface TracingOptions {
  /** gRPC: `http://host:4317` (http = insecure channel, https = TLS); HTTP/protobuf: the full `.../v1/traces` URL. */
  readonly endpoint: string;
  readonly protocol: 'grpc' | 'http/protobuf';
  /** Extra export headers (`OTEL_EXPORTER_OTLP_HEADERS`, e.g. an auth token). */
  readonly headers: Readonly<Record<string, string>>;
  /** Resource `service.name` (`OTEL_SERVICE_NAME`), default `meshlet`. */
  readonly serviceName: string;
  /**
   * Probability (0..1) that a request arriving without a sampled/unsampled parent starts a trace; an HCM
   * `tracing.random_sampling` on the listener overrides it. A parent's decision is always honoured.
   */
  readonly samplingRatio: number;
  /** Also emit the deprecated gRPC names (`rpc.system`, `rpc.service`, `rpc.grpc.status_code`): `OTEL_SEMCONV_STABILITY_OPT_IN=rpc/dup`. */
  readonly rpcDup: boolean;
  /** Batch processor schedule (OTel default 5000 ms; tests flush explicitly). */
  readonly exportDelayMs: number;
}

/** Flags of `meshlet run` that feed tracing. */
export interface TracingFlags {
  readonly otlpEndpoint?: string;
  readonly otlpProtocol?: string;
  readonly traceSampling?: string;
  readonly serviceName?: string;
}

/** The standard variables read (OTel SDK environment specification). */
export const TRACING_ENV = [
  'OTEL_EXPORTER_OTLP_ENDPOINT',
  'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT',
  'OTEL_EXPORTER_OTLP_PROTOCOL',
  'OTEL_EXPORTER_OTLP_TRACES_PROTOCOL',
  'OTEL_EXPORTER_OTLP_HEADERS',
  'OTEL_EXPORTER_OTLP_TRACES_HEADERS',
  'OTEL_SERVICE_NAME',
  'OTEL_TRACES_SAMPLER_ARG',
  'OTEL_SEMCONV_STABILITY_OPT_IN',
] as const;

/** Default root-sampling ratio: Envoy's random_sampling default is 100 %, which is costly for a sidecar; 1 % like Istio. */
export const DEFAULT_SAMPLING_RATIO = 0.01;

function parseHeaders(value: string | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const pair of (value ?? '').split(',')) {
    const at = pair.indexOf('=');
    if (at <= 0) continue;
    out[decodeURIComponent(pair.slice(0, at).trim())] = decodeURIComponent(pair.slice(at + 1).trim());
  }
  return out;
}

/**
 * Resolves tracing settings, or `null` (tracing off) when no endpoint is set anywhere. Returns an error string
 * for a bad protocol or sampling value. Endpoint rules follow the OTLP exporter spec: the signal-specific
 * `..._TRACES_ENDPOINT` is used as is; the generic `OTEL_EXPORTER_OTLP_ENDPOINT` gets `/v1/traces` appended for
 * HTTP. Protocol defaults to gRPC, or HTTP/protobuf when the endpoint's port is 4318 or its path ends in `/v1/traces`.
 */
export function resolveTracingOptions(flags: TracingFlags, env: Readonly<Record<string, string | undefined>>): TracingOptions | null | string {
  const signalEndpoint = env['OTEL_EXPORTER_OTLP_TRACES_ENDPOINT'];
  const baseEndpoint = env['OTEL_EXPORTER_OTLP_ENDPOINT'];
  const raw = flags.otlpEndpoint ?? signalEndpoint ?? baseEndpoint;
  if (raw === undefined || raw === '') return null;
  const withScheme = /^[a-z]+:\/\//i.test(raw) ? raw : `http://${raw}`;
  let url: URL;
  try {
    url = new URL(withScheme);
  } catch {
    return `OTLP endpoint "${raw}" is not a URL`;
  }
  const protocolRaw = flags.otlpProtocol ?? env['OTEL_EXPORTER_OTLP_TRACES_PROTOCOL'] ?? env['OTEL_EXPORTER_OTLP_PROTOCOL'];
  const protocol = protocolRaw ?? (url.port === '4318' || url.pathname.endsWith('/v1/traces') ? 'http/protobuf' : 'grpc');
  if (protocol !== 'grpc' && protocol !== 'http/protobuf') return `OTLP protocol must be grpc or http/protobuf, got "${protocol}"`;
  let endpoint = withScheme;
  if (protocol === 'http/protobuf' && !url.pathname.endsWith('/v1/traces') && (flags.otlpEndpoint !== undefined || signalEndpoint === undefined)) {
    endpoint = `${withScheme.replace(/\/+$/, '')}/v1/traces`;
  }
  const samplingRaw = flags.traceSampling ?? env['OTEL_TRACES_SAMPLER_ARG'];
  let samplingRatio = DEFAULT_SAMPLING_RATIO;
  if (samplingRaw !== undefined) {
    // Accept a ratio (0.01) or a percentage (1%).
    const percent = samplingRaw.trim().endsWith('%');
    const n = Number(percent ? samplingRaw.trim().slice(0, -1) : samplingRaw);
    if (!Number.isFinite(n) || n < 0 || (percent ? n > 100 : n > 1)) return `trace sampling must be a ratio 0..1 or a percentage 0%..100%, got "${samplingRaw}"`;
    samplingRatio = percent ? n / 100 : n;
  }
  return {
    endpoint,
    protocol,
    headers: { ...parseHeaders(env['OTEL_EXPORTER_OTLP_HEADERS']), ...parseHeaders(env['OTEL_EXPORTER_OTLP_TRACES_HEADERS']) },
    serviceName: flags.serviceName ?? env['OTEL_SERVICE_NAME'] ?? 'meshlet',
    samplingRatio,
    rpcDup: (env['OTEL_SEMCONV_STABILITY_OPT_IN'] ?? '').split(',').map((s) => s.trim()).includes('rpc/dup'),
    exportDelayMs: 5000,
  };
}
