// Two-hop tracing on real sockets: client -> meshlet A (outbound) -> meshlet B (inbound) -> backend, spans
// exported over OTLP gRPC (B) and OTLP HTTP/protobuf (A) to a test receiver decoding with the official protos.

import * as assert from 'node:assert/strict';
import * as grpc from '@grpc/grpc-js';
import { B3InjectEncoding, B3Propagator } from '@opentelemetry/propagator-b3';
import { ROOT_CONTEXT, TraceFlags, trace, defaultTextMapSetter } from '@opentelemetry/api';
import type { Sidecar } from '../../sidecar/src/sidecar';
import type { TracingOptions } from '../../sidecar/src/observability/tracing-options';
import { OtlpReceiver, type ReceivedSpan } from '../support/otlp-receiver';
import { echoClient, startGrpcBackend, startHttp1Backend, type Backend } from '../support/backends';
import { h1Request } from '../support/http-clients';
import { HTTP2_UPSTREAM, httpListener, listenerPort, startStaticSidecar, staticCluster } from '../support/sidecar';

const TRACE = '4bf92f3577b34da6a3ce929d0e0e4736';
const PARENT = '00f067aa0ba902b7';

function tracingOptions(endpoint: string, protocol: TracingOptions['protocol'], samplingRatio: number): TracingOptions {
  return { endpoint, protocol, headers: {}, serviceName: protocol === 'grpc' ? 'meshlet-b' : 'meshlet-a', samplingRatio, rpcDup: true, exportDelayMs: 50 };
}

const allRoutes = (cluster: string, extra: Record<string, unknown> = {}): object[] => [
  { name: 'all', domains: ['*'], routes: [{ name: 'default', match: { prefix: '/' }, route: { cluster, ...extra } }] },
];

interface Mesh {
  a: Sidecar;
  b: Sidecar;
  aPort: number;
  close(): Promise<void>;
}

/** Starts B (inbound, to `backendPort`) then A (outbound, to B's inbound listener). */
async function startMesh(receiver: OtlpReceiver, backendPort: number, samplingRatio: number, options: { grpc?: boolean; retries?: boolean } = {}): Promise<Mesh> {
  const upstreamExtra = options.grpc === true ? HTTP2_UPSTREAM : {};
  const routeExtra = options.retries === true ? { retry_policy: { retry_on: '5xx', num_retries: 1 } } : {};
  const b = await startStaticSidecar({
    listeners: [{ ...httpListener('inbound', allRoutes('local-app', routeExtra)), traffic_direction: 'INBOUND' }],
    clusters: [staticCluster('local-app', [backendPort], upstreamExtra)],
  }, { tracing: tracingOptions(receiver.grpcUrl, 'grpc', samplingRatio) });
  const a = await startStaticSidecar({
    listeners: [{ ...httpListener('outbound', allRoutes('service-b')), traffic_direction: 'OUTBOUND' }],
    clusters: [staticCluster('service-b', [listenerPort(b, 'inbound')], upstreamExtra)],
  }, { tracing: tracingOptions(receiver.httpUrl, 'http/protobuf', samplingRatio) });
  return {
    a,
    b,
    aPort: listenerPort(a, 'outbound'),
    async close() {
      await a.stop();
      await b.stop();
    },
  };
}

async function flush(mesh: Mesh): Promise<void> {
  await mesh.a.telemetry.tracing?.forceFlush();
  await mesh.b.telemetry.tracing?.forceFlush();
}

/** The backend's view of the request (the echo backend's /info). */
function received(body: Buffer): { headers: Record<string, string> } {
  return JSON.parse(body.toString('utf8')) as { headers: Record<string, string> };
}

describe('tracing: client -> meshlet A (outbound) -> meshlet B (inbound) -> backend', function () {
  this.timeout(30_000);
  let receiver: OtlpReceiver;
  let backend: Backend;
  let mesh: Mesh;

  before(async () => {
    receiver = await OtlpReceiver.start();
    backend = await startHttp1Backend('app');
    mesh = await startMesh(receiver, backend.port, 1);
  });
  after(async () => {
    await mesh.close();
    await backend.close();
    await receiver.stop();
  });

  const spansOf = (traceId: string) => (s: ReceivedSpan) => s.traceId === traceId;

  it('one trace: A CLIENT (root) -> B SERVER, with semconv and Envoy attributes, over both OTLP transports', async () => {
    const reply = await h1Request(mesh.aPort, 'reviews.default:9080', '/info/items/42?x=1', { headers: { 'user-agent': 'curl/8', 'x-request-id': 'req-1' } });
    assert.equal(reply.status, 200);
    const tp = received(reply.body).headers['traceparent'];
    assert.ok(tp !== undefined, 'backend got traceparent');
    const traceId = tp.split('-')[1] as string;
    await flush(mesh);
    const spans = await receiver.waitFor(spansOf(traceId), 2);
    assert.equal(spans.length, 2);
    const a = spans.find((s) => s.service === 'meshlet-a');
    const b = spans.find((s) => s.service === 'meshlet-b');
    assert.ok(a !== undefined && b !== undefined);
    assert.equal(a.transport, 'http/protobuf');
    assert.equal(b.transport, 'grpc');
    assert.equal(a.kind, 'SPAN_KIND_CLIENT');
    assert.equal(b.kind, 'SPAN_KIND_SERVER');
    assert.equal(a.parentSpanId, '', 'A starts the trace');
    assert.equal(b.parentSpanId, a.spanId, 'B continues A');
    assert.equal(tp, `00-${traceId}-${b.spanId}-01`, 'the backend sees B\'s span as parent');
    assert.equal(a.name, 'GET');
    assert.deepEqual(
      { method: a.attributes['http.request.method'], path: a.attributes['url.path'], query: a.attributes['url.query'], server: a.attributes['server.address'], port: a.attributes['server.port'], status: a.attributes['http.response.status_code'], cluster: a.attributes['upstream_cluster'], rid: a.attributes['guid:x-request-id'], ua: a.attributes['user_agent.original'], flags: a.attributes['response_flags'], full: a.attributes['url.full'] },
      { method: 'GET', path: '/info/items/42', query: 'x=1', server: 'reviews.default', port: 9080, status: 200, cluster: 'service-b', rid: 'req-1', ua: 'curl/8', flags: '-', full: 'http://reviews.default:9080/info/items/42?x=1' },
    );
    assert.equal(b.attributes['upstream_cluster'], 'local-app');
    assert.equal(b.attributes['upstream_address'], `127.0.0.1:${backend.port}`);
    assert.equal(b.attributes['network.protocol.version'], '1.1');
    assert.equal(a.status.code, 'STATUS_CODE_UNSET');
    assert.equal(b.status.code, 'STATUS_CODE_UNSET');
    assert.ok(a.startNs <= b.startNs && b.endNs <= a.endNs, 'B happens inside A');
  });

  it('a 5xx marks both spans as errors with error.type', async () => {
    const reply = await h1Request(mesh.aPort, 'reviews', '/info?status=503');
    assert.equal(reply.status, 503);
    const traceId = (received(reply.body).headers['traceparent'] as string).split('-')[1] as string;
    await flush(mesh);
    const spans = await receiver.waitFor(spansOf(traceId), 2);
    for (const span of spans) {
      assert.equal(span.status.code, 'STATUS_CODE_ERROR', span.service);
      assert.equal(span.attributes['error.type'], '503');
      assert.equal(span.attributes['http.response.status_code'], 503);
    }
  });

  it('continues an incoming W3C traceparent (and keeps tracestate)', async () => {
    const reply = await h1Request(mesh.aPort, 'reviews', '/info', { headers: { traceparent: `00-${TRACE}-${PARENT}-01`, tracestate: 'vendor=abc' } });
    const headers = received(reply.body).headers;
    await flush(mesh);
    const spans = await receiver.waitFor(spansOf(TRACE), 2);
    const a = spans.find((s) => s.service === 'meshlet-a');
    assert.equal(a?.parentSpanId, PARENT);
    assert.equal(headers['tracestate'], 'vendor=abc');
    assert.match(headers['traceparent'] ?? '', new RegExp(`^00-${TRACE}-[0-9a-f]{16}-01$`));
  });

  it('continues an incoming B3 single header and B3 multi headers, re-emitting the same formats', async () => {
    // Headers written by the reference B3 propagator (openzipkin format), single then multi.
    const trace1 = 'a1b2c3d4e5f60718293a4b5c6d7e8f90';
    const trace2 = '0af7651916cd43dd8448eb211c80319c';
    const parent = trace.setSpanContext(ROOT_CONTEXT, { traceId: trace1, spanId: 'b7ad6b7169203331', traceFlags: TraceFlags.SAMPLED });
    const single: Record<string, string> = {};
    new B3Propagator().inject(parent, single, defaultTextMapSetter);
    const multi: Record<string, string> = {};
    new B3Propagator({ injectEncoding: B3InjectEncoding.MULTI_HEADER }).inject(trace.setSpanContext(ROOT_CONTEXT, { traceId: trace2, spanId: 'b7ad6b7169203331', traceFlags: TraceFlags.SAMPLED }), multi, defaultTextMapSetter);
    assert.ok(single['b3'] !== undefined && multi['x-b3-traceid'] !== undefined);

    const r1 = await h1Request(mesh.aPort, 'reviews', '/info', { headers: single });
    const r2 = await h1Request(mesh.aPort, 'reviews', '/info', { headers: multi });
    await flush(mesh);
    const s1 = await receiver.waitFor(spansOf(trace1), 2);
    const s2 = await receiver.waitFor(spansOf(trace2), 2);
    assert.equal(s1.find((s) => s.service === 'meshlet-a')?.parentSpanId, 'b7ad6b7169203331');
    assert.equal(s2.find((s) => s.service === 'meshlet-a')?.parentSpanId, 'b7ad6b7169203331');
    const h1 = received(r1.body).headers;
    const h2 = received(r2.body).headers;
    const b1 = s1.find((s) => s.service === 'meshlet-b');
    assert.equal(h1['b3'], `${trace1}-${b1?.spanId}-1`);
    assert.equal(h2['x-b3-traceid'], trace2);
    assert.equal(h2['x-b3-sampled'], '1');
  });

  it('W3C wins over B3 when both arrive', async () => {
    const reply = await h1Request(mesh.aPort, 'reviews', '/info', { headers: { traceparent: `00-${'c'.repeat(32)}-${PARENT}-01`, b3: `${'d'.repeat(32)}-${PARENT}-1` } });
    assert.equal(reply.status, 200);
    await flush(mesh);
    await receiver.waitFor(spansOf('c'.repeat(32)), 2);
    assert.equal(receiver.spans.filter(spansOf('d'.repeat(32))).length, 0);
  });

  it('an incoming unsampled flag is obeyed: no spans, context forwarded', async () => {
    const t = 'e'.repeat(32);
    const reply = await h1Request(mesh.aPort, 'reviews', '/info', { headers: { traceparent: `00-${t}-${PARENT}-00` } });
    assert.equal(received(reply.body).headers['traceparent'], `00-${t}-${PARENT}-00`);
    await flush(mesh);
    await new Promise((resolve) => setTimeout(resolve, 300));
    assert.equal(receiver.spans.filter(spansOf(t)).length, 0);
  });
});

describe('tracing: sampling 0, retries and gRPC', function () {
  this.timeout(30_000);
  let receiver: OtlpReceiver;

  before(async () => {
    receiver = await OtlpReceiver.start();
  });
  after(async () => {
    await receiver.stop();
  });

  it('with sampling 0 nothing is exported and the backend still receives propagation headers', async () => {
    const backend = await startHttp1Backend('app');
    const mesh = await startMesh(receiver, backend.port, 0);
    try {
      const reply = await h1Request(mesh.aPort, 'reviews', '/info');
      const headers = received(reply.body).headers;
      assert.match(headers['traceparent'] ?? '', /^00-[0-9a-f]{32}-[0-9a-f]{16}-00$/);
      assert.ok(headers['x-request-id'] !== undefined);
      await flush(mesh);
      await new Promise((resolve) => setTimeout(resolve, 300));
      assert.equal(receiver.spans.length, 0);
      assert.equal(mesh.a.telemetry.tracing?.spansStarted, 0);
    } finally {
      await mesh.close();
      await backend.close();
    }
  });

  it('a retried request gets a CLIENT span per retry with http.request.resend_count', async () => {
    const failing = await startHttp1Backend('app', { forcedStatus: 503 });
    const mesh = await startMesh(receiver, failing.port, 1, { retries: true });
    try {
      const t = '1'.repeat(32);
      const reply = await h1Request(mesh.aPort, 'reviews', '/', { headers: { traceparent: `00-${t}-${PARENT}-01` } });
      assert.equal(reply.status, 503);
      assert.equal(failing.requests, 2);
      await flush(mesh);
      const spans = await receiver.waitFor((s) => s.traceId === t, 3);
      const server = spans.find((s) => s.service === 'meshlet-b' && s.kind === 'SPAN_KIND_SERVER');
      const retry = spans.find((s) => s.service === 'meshlet-b' && s.kind === 'SPAN_KIND_CLIENT');
      assert.ok(server !== undefined && retry !== undefined);
      assert.equal(retry.parentSpanId, server.spanId);
      assert.equal(retry.attributes['http.request.resend_count'], 1);
      assert.equal(retry.attributes['upstream_cluster'], 'local-app');
      assert.equal(retry.attributes['server.port'], failing.port);
      assert.equal(retry.status.code, 'STATUS_CODE_ERROR');
      assert.equal(server.attributes['retry.count'], 1);
    } finally {
      await mesh.close();
      await failing.close();
    }
  });

  it('a gRPC call carries rpc.system.name, rpc.method, rpc.status_code (and the legacy names with rpc/dup)', async () => {
    const backend = await startGrpcBackend('grpc-app');
    const mesh = await startMesh(receiver, backend.port, 1, { grpc: true });
    const client = echoClient(`127.0.0.1:${mesh.aPort}`);
    try {
      const t = '2'.repeat(32);
      const md = new grpc.Metadata();
      md.set('traceparent', `00-${t}-${PARENT}-01`);
      await new Promise<void>((resolve, reject) => client.Unary({ message: 'hi' }, md, {}, (err) => (err ? reject(err) : resolve())));
      const md2 = new grpc.Metadata();
      const t2 = '3'.repeat(32);
      md2.set('traceparent', `00-${t2}-${PARENT}-01`);
      const failure = await new Promise<grpc.ServiceError | null>((resolve) => client.Unary({ message: 'fail:5' }, md2, {}, (err) => resolve(err)));
      assert.equal(failure?.code, 5);
      await flush(mesh);
      const ok = await receiver.waitFor((s) => s.traceId === t, 2);
      for (const span of ok) {
        assert.equal(span.name, 'meshlet.test.Echo/Unary');
        assert.equal(span.attributes['rpc.system.name'], 'grpc');
        assert.equal(span.attributes['rpc.method'], 'meshlet.test.Echo/Unary');
        assert.equal(span.attributes['rpc.status_code'], 'OK');
        assert.equal(span.attributes['rpc.system'], 'grpc');
        assert.equal(span.attributes['rpc.service'], 'meshlet.test.Echo');
        assert.equal(span.attributes['rpc.grpc.status_code'], 0);
        assert.equal(span.attributes['network.protocol.version'], '2');
        assert.equal(span.status.code, 'STATUS_CODE_UNSET');
      }
      const failed = await receiver.waitFor((s) => s.traceId === t2, 2);
      const a = failed.find((s) => s.service === 'meshlet-a');
      const b = failed.find((s) => s.service === 'meshlet-b');
      assert.equal(a?.attributes['rpc.status_code'], 'NOT_FOUND');
      // NOT_FOUND is an error for a CLIENT span, not for a SERVER span (semconv rpc/grpc).
      assert.equal(a?.status.code, 'STATUS_CODE_ERROR');
      assert.equal(b?.status.code, 'STATUS_CODE_UNSET');
    } finally {
      client.close();
      await mesh.close();
      await backend.close();
    }
  });
});


