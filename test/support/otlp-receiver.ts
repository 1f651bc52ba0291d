// A test OTLP trace receiver, what Jaeger v2 all-in-one runs: gRPC TraceService/Export and HTTP POST /v1/traces
// (protobuf, JSON, gzip), decoded with the vendored official OTLP protos, spans flattened for assertions.

import * as path from 'node:path';
import * as http from 'node:http';
import * as zlib from 'node:zlib';
import type { AddressInfo } from 'node:net';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import * as protobuf from 'protobufjs';

const PROTO_ROOT = path.resolve(__dirname, '..', '..', '..', 'test', 'fixtures', 'otlp-proto');
const SERVICE_PROTO = 'opentelemetry/proto/collector/trace/v1/trace_service.proto';
const KINDS = ['SPAN_KIND_UNSPECIFIED', 'SPAN_KIND_INTERNAL', 'SPAN_KIND_SERVER', 'SPAN_KIND_CLIENT', 'SPAN_KIND_PRODUCER', 'SPAN_KIND_CONSUMER'];
const STATUS = ['STATUS_CODE_UNSET', 'STATUS_CODE_OK', 'STATUS_CODE_ERROR'];

/** One received span, flattened: ids in lower-case hex, attributes as plain values. */
export interface ReceivedSpan {
  readonly transport: 'grpc' | 'http/protobuf' | 'http/json';
  readonly service: string;
  readonly resource: Record<string, unknown>;
  readonly scope: string;
  readonly traceId: string;
  readonly spanId: string;
  /** '' for a root span. */
  readonly parentSpanId: string;
  readonly name: string;
  readonly kind: string;
  readonly attributes: Record<string, unknown>;
  readonly status: { readonly code: string; readonly message: string };
  readonly startNs: bigint;
  readonly endNs: bigint;
}

interface AnyValueMsg { stringValue?: string; boolValue?: boolean; intValue?: unknown; doubleValue?: number; arrayValue?: { values?: AnyValueMsg[] }; bytesValue?: unknown }
interface KeyValueMsg { key: string; value?: AnyValueMsg }
interface SpanMsg {
  traceId?: Buffer | Uint8Array | string; spanId?: Buffer | Uint8Array | string; parentSpanId?: Buffer | Uint8Array | string;
  name?: string; kind?: number | string; attributes?: KeyValueMsg[]; status?: { code?: number | string; message?: string };
  startTimeUnixNano?: unknown; endTimeUnixNano?: unknown;
}
interface ExportRequest {
  resourceSpans?: { resource?: { attributes?: KeyValueMsg[] }; scopeSpans?: { scope?: { name?: string }; spans?: SpanMsg[] }[] }[];
}

function hex(id: Buffer | Uint8Array | string | undefined, json: boolean): string {
  if (id === undefined || id === null) return '';
  if (typeof id === 'string') return json ? id.toLowerCase() : Buffer.from(id, 'base64').toString('hex');
  return Buffer.from(id).toString('hex');
}

function anyValue(value: AnyValueMsg | undefined): unknown {
  if (value === undefined || value === null) return undefined;
  if (value.stringValue !== undefined && value.stringValue !== null) return value.stringValue;
  if (value.boolValue !== undefined && value.boolValue !== null) return value.boolValue;
  if (value.intValue !== undefined && value.intValue !== null) return Number(String(value.intValue));
  if (value.doubleValue !== undefined && value.doubleValue !== null) return value.doubleValue;
  if (value.arrayValue !== undefined && value.arrayValue !== null) return (value.arrayValue.values ?? []).map(anyValue);
  return undefined;
}

function attributes(list: KeyValueMsg[] | undefined): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const kv of list ?? []) out[kv.key] = anyValue(kv.value);
  return out;
}

function enumName(names: readonly string[], value: number | string | undefined): string {
  if (typeof value === 'string') return value;
  return names[value ?? 0] ?? String(value);
}

/**
 * OTLP receiver on 127.0.0.1 (random ports): gRPC `opentelemetry.proto.collector.trace.v1.TraceService/Export`
 * and HTTP `POST /v1/traces` (`application/x-protobuf` or `application/json`, optional gzip; 415 otherwise),
 * answering an empty `ExportTraceServiceResponse` as the OTLP spec requires.
 */
export class OtlpReceiver {
  readonly spans: ReceivedSpan[] = [];
  private waiters: (() => void)[] = [];
  private grpcServer: grpc.Server | undefined;
  private httpServer: http.Server | undefined;
  grpcPort = 0;
  httpPort = 0;
  private requestType: protobuf.Type | undefined;

  static async start(): Promise<OtlpReceiver> {
    const receiver = new OtlpReceiver();
    await receiver.listen();
    return receiver;
  }

  /** `http://127.0.0.1:<port>` for the gRPC exporter. */
  get grpcUrl(): string {
    return `http://127.0.0.1:${this.grpcPort}`;
  }

  /** `http://127.0.0.1:<port>/v1/traces` for the HTTP/protobuf exporter. */
  get httpUrl(): string {
    return `http://127.0.0.1:${this.httpPort}/v1/traces`;
  }

  /** Resolves once `count` spans match `pred`; rejects after `timeoutMs` with what arrived. */
  async waitFor(pred: (span: ReceivedSpan) => boolean, count: number, timeoutMs = 10_000): Promise<ReceivedSpan[]> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const matched = this.spans.filter(pred);
      if (matched.length >= count) return matched;
      const left = deadline - Date.now();
      if (left <= 0) {
        throw new Error(`waited ${timeoutMs} ms for ${count} spans, got ${matched.length}; received: ${JSON.stringify(this.spans.map((s) => `${s.kind} ${s.name}`))}`);
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.min(left, 200));
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  async stop(): Promise<void> {
    await new Promise<void>((resolve) => (this.grpcServer === undefined ? resolve() : this.grpcServer.tryShutdown(() => resolve())));
    this.grpcServer?.forceShutdown();
    if (this.httpServer !== undefined) {
      this.httpServer.closeAllConnections();
      await new Promise<void>((resolve) => this.httpServer?.close(() => resolve()));
    }
  }

  private async listen(): Promise<void> {
    const definition = protoLoader.loadSync(SERVICE_PROTO, { includeDirs: [PROTO_ROOT], longs: String, enums: Number, oneofs: false, keepCase: false, defaults: false });
    const loaded = grpc.loadPackageDefinition(definition) as unknown as {
      opentelemetry: { proto: { collector: { trace: { v1: { TraceService: { service: grpc.ServiceDefinition } } } } } };
    };
    const server = new grpc.Server();
    server.addService(loaded.opentelemetry.proto.collector.trace.v1.TraceService.service, {
      Export: (call: grpc.ServerUnaryCall<ExportRequest, object>, callback: grpc.sendUnaryData<object>) => {
        this.record(call.request, 'grpc');
        callback(null, {});
      },
    });
    this.grpcPort = await new Promise<number>((resolve, reject) => {
      server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (error, port) => (error ? reject(error) : resolve(port)));
    });
    this.grpcServer = server;

    const root = new protobuf.Root();
    root.resolvePath = (_origin, target) => path.join(PROTO_ROOT, target);
    root.loadSync(SERVICE_PROTO);
    this.requestType = root.lookupType('opentelemetry.proto.collector.trace.v1.ExportTraceServiceRequest');
    this.httpServer = http.createServer((req, res) => this.handleHttp(req, res));
    await new Promise<void>((resolve) => this.httpServer?.listen(0, '127.0.0.1', resolve));
    this.httpPort = (this.httpServer.address() as AddressInfo).port;
  }

  private handleHttp(req: http.IncomingMessage, res: http.ServerResponse): void {
    if (req.method !== 'POST' || req.url !== '/v1/traces') {
      res.writeHead(404).end();
      return;
    }
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      let body = Buffer.concat(chunks);
      if (req.headers['content-encoding'] === 'gzip') body = zlib.gunzipSync(body);
      const type = (req.headers['content-type'] ?? '').split(';')[0]?.trim();
      if (type === 'application/x-protobuf' && this.requestType !== undefined) {
        const message = this.requestType.decode(body);
        const request = this.requestType.toObject(message, { longs: String, enums: Number, bytes: Buffer }) as ExportRequest;
        this.record(request, 'http/protobuf');
        res.writeHead(200, { 'content-type': 'application/x-protobuf' }).end();
      } else if (type === 'application/json') {
        this.record(JSON.parse(body.toString('utf8')) as ExportRequest, 'http/json');
        res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
      } else {
        res.writeHead(415).end();
      }
    });
  }

  private record(request: ExportRequest, transport: ReceivedSpan['transport']): void {
    const json = transport === 'http/json';
    for (const rs of request.resourceSpans ?? []) {
      const resource = attributes(rs.resource?.attributes);
      for (const ss of rs.scopeSpans ?? []) {
        for (const span of ss.spans ?? []) {
          this.spans.push({
            transport,
            service: String(resource['service.name'] ?? ''),
            resource,
            scope: ss.scope?.name ?? '',
            traceId: hex(span.traceId, json),
            spanId: hex(span.spanId, json),
            parentSpanId: hex(span.parentSpanId, json),
            name: span.name ?? '',
            kind: enumName(KINDS, span.kind),
            attributes: attributes(span.attributes),
            status: { code: enumName(STATUS, span.status?.code), message: span.status?.message ?? '' },
            startNs: BigInt(String(span.startTimeUnixNano ?? 0)),
            endNs: BigInt(String(span.endTimeUnixNano ?? 0)),
          });
        }
      }
    }
    const waiters = this.waiters;
    this.waiters = [];
    for (const wake of waiters) wake();
  }
}
