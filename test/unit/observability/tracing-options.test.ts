// Tracing settings from flags and OTEL_* env vars, and the propagation header parsers, table-driven.

import * as assert from 'node:assert/strict';
import { resolveTracingOptions, type TracingOptions } from '../../../sidecar/src/observability/tracing-options';
import { extractTraceContext, freshUnsampledTraceparent, injectTraceContext } from '../../../sidecar/src/observability/trace-context';

describe('observability/tracing-options', () => {
  const cases: { name: string; flags: object; env: Record<string, string>; want: Partial<TracingOptions> | null | RegExp }[] = [
    { name: 'off without an endpoint', flags: {}, env: {}, want: null },
    { name: 'generic endpoint, gRPC by default', flags: {}, env: { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://jaeger:4317' }, want: { endpoint: 'http://jaeger:4317', protocol: 'grpc', samplingRatio: 0.01, serviceName: 'meshlet' } },
    { name: 'generic endpoint + http/protobuf appends /v1/traces', flags: {}, env: { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://jaeger:4318', OTEL_EXPORTER_OTLP_PROTOCOL: 'http/protobuf' }, want: { endpoint: 'http://jaeger:4318/v1/traces', protocol: 'http/protobuf' } },
    { name: 'signal endpoint used as is', flags: {}, env: { OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://c:4318/custom', OTEL_EXPORTER_OTLP_PROTOCOL: 'http/protobuf' }, want: { endpoint: 'http://c:4318/custom' } },
    { name: 'port 4318 implies http/protobuf', flags: { otlpEndpoint: 'jaeger:4318' }, env: {}, want: { endpoint: 'http://jaeger:4318/v1/traces', protocol: 'http/protobuf' } },
    { name: 'flags beat env', flags: { otlpEndpoint: 'http://a:4317', traceSampling: '25%', serviceName: 'svc' }, env: { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://b:4317', OTEL_SERVICE_NAME: 'env', OTEL_TRACES_SAMPLER_ARG: '0.5' }, want: { endpoint: 'http://a:4317', samplingRatio: 0.25, serviceName: 'svc' } },
    { name: 'headers and rpc/dup', flags: { otlpEndpoint: 'http://a:4317' }, env: { OTEL_EXPORTER_OTLP_HEADERS: 'authorization=Bearer%20x,tenant=t1', OTEL_SEMCONV_STABILITY_OPT_IN: 'http,rpc/dup' }, want: { headers: { authorization: 'Bearer x', tenant: 't1' }, rpcDup: true } },
    { name: 'bad sampling', flags: { otlpEndpoint: 'http://a:4317', traceSampling: '2' }, env: {}, want: /trace sampling/ },
    { name: 'bad protocol', flags: { otlpEndpoint: 'http://a:4317', otlpProtocol: 'http/json' }, env: {}, want: /protocol/ },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const got = resolveTracingOptions(c.flags, c.env);
      if (c.want === null) assert.equal(got, null);
      else if (c.want instanceof RegExp) assert.match(String(got), c.want);
      else {
        assert.ok(got !== null && typeof got === 'object');
        for (const [k, v] of Object.entries(c.want)) assert.deepEqual(got[k as keyof TracingOptions], v, k);
      }
    });
  }
});

describe('observability/trace-context', () => {
  const T = '4bf92f3577b34da6a3ce929d0e0e4736';
  const S = '00f067aa0ba902b7';
  const cases: { name: string; headers: Record<string, string>; want: object | undefined }[] = [
    { name: 'none', headers: {}, want: undefined },
    { name: 'w3c sampled', headers: { traceparent: `00-${T}-${S}-01` }, want: { traceId: T, spanId: S, sampled: true, format: 'w3c' } },
    { name: 'w3c unsampled', headers: { traceparent: `00-${T}-${S}-00` }, want: { sampled: false } },
    { name: 'w3c version ff invalid', headers: { traceparent: `ff-${T}-${S}-01` }, want: undefined },
    { name: 'w3c zero trace id invalid', headers: { traceparent: `00-${'0'.repeat(32)}-${S}-01` }, want: undefined },
    { name: 'w3c future version with extra fields', headers: { traceparent: `01-${T}-${S}-01-extra` }, want: { traceId: T } },
    { name: 'b3 single 64-bit id padded', headers: { b3: `a3ce929d0e0e4736-${S}-1` }, want: { traceId: `0000000000000000a3ce929d0e0e4736`, format: 'b3', sampled: true } },
    { name: 'b3 single debug', headers: { b3: `${T}-${S}-d` }, want: { sampled: true } },
    { name: 'b3 bare sampling flag has no ids', headers: { b3: '0' }, want: undefined },
    { name: 'b3 multi', headers: { 'x-b3-traceid': T, 'x-b3-spanid': S, 'x-b3-sampled': '1' }, want: { format: 'b3multi', sampled: true } },
    { name: 'b3 multi debug flag', headers: { 'x-b3-traceid': T, 'x-b3-spanid': S, 'x-b3-flags': '1' }, want: { sampled: true } },
    { name: 'w3c preferred over b3', headers: { traceparent: `00-${T}-${S}-01`, b3: `${'a'.repeat(32)}-${S}-0` }, want: { traceId: T, format: 'w3c', alsoB3: true } },
    { name: 'invalid w3c falls back to b3', headers: { traceparent: 'garbage', b3: `${T}-${S}-1` }, want: { format: 'b3' } },
    { name: 'w3c upper-case hex lowered', headers: { traceparent: `00-${T.toUpperCase()}-${S.toUpperCase()}-01` }, want: { traceId: T, spanId: S, sampled: true } },
    { name: 'w3c surrounding whitespace', headers: { traceparent: ` 00-${T}-${S}-01\t` }, want: { traceId: T, sampled: true } },
    { name: 'w3c flags read by their low bit', headers: { traceparent: `00-${T}-${S}-0b` }, want: { sampled: true } },
    { name: 'w3c flags 0a unsampled', headers: { traceparent: `00-${T}-${S}-0a` }, want: { sampled: false } },
    { name: 'w3c version 00 with a suffix invalid', headers: { traceparent: `00-${T}-${S}-01-extra` }, want: undefined },
    { name: 'w3c future version without a dash after flags invalid', headers: { traceparent: `01-${T}-${S}-01x` }, want: undefined },
    { name: 'w3c version FF invalid', headers: { traceparent: `FF-${T}-${S}-01` }, want: undefined },
    { name: 'w3c zero span id invalid', headers: { traceparent: `00-${T}-${'0'.repeat(16)}-01` }, want: undefined },
    { name: 'w3c non-hex trace id invalid', headers: { traceparent: `00-${T.slice(0, 31)}g-${S}-01` }, want: undefined },
    { name: 'w3c non-hex flags invalid', headers: { traceparent: `00-${T}-${S}-0x` }, want: undefined },
    { name: 'w3c short invalid', headers: { traceparent: `00-${T}-${S}-1` }, want: undefined },
    { name: 'w3c misplaced dash invalid', headers: { traceparent: `00-${T}${S.slice(0, 1)}-${S.slice(1)}-01` }, want: undefined },
    { name: 'b3 single with parent', headers: { b3: `${T}-${S}-1-${S}` }, want: { traceId: T, spanId: S, sampled: true } },
    { name: 'b3 single without sampling field', headers: { b3: `${T}-${S}` }, want: { traceId: T, sampled: false } },
    { name: 'b3 single sampling field 0', headers: { b3: `${T}-${S}-0` }, want: { sampled: false } },
    { name: 'b3 single sampling field not one char', headers: { b3: `${T}-${S}-11` }, want: { sampled: false } },
    { name: 'b3 single upper case', headers: { b3: `${T.toUpperCase()}-${S.toUpperCase()}-D` }, want: { traceId: T, spanId: S, sampled: true } },
    { name: 'b3 single 20-digit trace id invalid', headers: { b3: `${T.slice(0, 20)}-${S}-1` }, want: undefined },
    { name: 'b3 single long span id invalid', headers: { b3: `${T}-${S}0-1` }, want: undefined },
    { name: 'b3 multi 64-bit, sampled true, padded', headers: { 'x-b3-traceid': ' A3CE929D0E0E4736 ', 'x-b3-spanid': S, 'x-b3-sampled': 'True' }, want: { traceId: '0000000000000000a3ce929d0e0e4736', sampled: true } },
    { name: 'b3 multi unsampled', headers: { 'x-b3-traceid': T, 'x-b3-spanid': S, 'x-b3-sampled': '0' }, want: { format: 'b3multi', sampled: false } },
    { name: 'b3 multi bad span id', headers: { 'x-b3-traceid': T, 'x-b3-spanid': 'xyz' }, want: undefined },
    { name: 'b3 single preferred over multi, both noted', headers: { b3: `${T}-${S}-1`, 'x-b3-traceid': 'a'.repeat(32), 'x-b3-spanid': S }, want: { format: 'b3', traceId: T, alsoB3: true, alsoB3Multi: true } },
  ];
  for (const c of cases) {
    it(`extracts: ${c.name}`, () => {
      const got = extractTraceContext(c.headers);
      if (c.want === undefined) assert.equal(got, undefined);
      else for (const [k, v] of Object.entries(c.want)) assert.deepEqual((got as unknown as Record<string, unknown>)[k], v, k);
    });
  }

  it('makes fresh unsampled traceparents: valid, unsampled, distinct across pool refills', () => {
    const seen = new Set<string>();
    for (let i = 0; i < 1000; i += 1) {
      const value = freshUnsampledTraceparent();
      assert.match(value, /^00-[0-9a-f]{32}-[0-9a-f]{16}-00$/);
      const parsed = extractTraceContext({ traceparent: value });
      assert.equal(parsed?.sampled, false);
      seen.add(value);
    }
    assert.equal(seen.size, 1000);
  });

  it('injects W3C always and the B3 formats that arrived', () => {
    const incoming = extractTraceContext({ b3: `${T}-${S}-1`, 'x-b3-traceid': T, 'x-b3-spanid': S, 'x-b3-parentspanid': S });
    const headers: Record<string, string> = { 'x-b3-parentspanid': S };
    injectTraceContext(headers, T, 'aaaaaaaaaaaaaaaa', true, incoming);
    assert.deepEqual(headers, { traceparent: `00-${T}-aaaaaaaaaaaaaaaa-01`, b3: `${T}-aaaaaaaaaaaaaaaa-1`, 'x-b3-traceid': T, 'x-b3-spanid': 'aaaaaaaaaaaaaaaa', 'x-b3-sampled': '1' });
  });
});
