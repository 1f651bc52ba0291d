import * as assert from 'node:assert/strict';
import { NO_STREAM_DURATION, streamDurationMs } from '../../../sidecar/src/proxy/stream-duration';
import { hcm } from '../listener/listener-builders';
import { request, routesYaml, tableFromYaml } from '../router/route-yaml';

describe('streamDurationMs (Envoy refreshDurationTimeout)', () => {
  const grpc = { 'content-type': 'application/grpc' };
  type Case = [string, string, Record<string, string>, number | null, number];
  const N = NO_STREAM_DURATION;
  const cases: Case[] = [
    ['nothing configured: no limit', '{ cluster: c }', {}, null, N],
    ['HCM max_stream_duration when the route sets none', '{ cluster: c }', {}, 700, 700],
    ['HCM 0: no limit', '{ cluster: c }', {}, 0, N],
    ['route max_stream_duration wins over the HCM', '{ cluster: c, max_stream_duration: { max_stream_duration: 0.3s } }', {}, 700, 300],
    ['route explicit 0: no limit, the HCM one included', '{ cluster: c, max_stream_duration: { max_stream_duration: 0s } }', {}, 700, N],
    ['max_stream_duration message without the field: HCM fallback', '{ cluster: c, max_stream_duration: { grpc_timeout_header_offset: 0.1s } }', {}, 700, 700],
    ['grpc-timeout ignored without grpc_timeout_header_max', '{ cluster: c, max_stream_duration: { max_stream_duration: 0.3s } }', { ...grpc, 'grpc-timeout': '100m' }, null, 300],
    ['grpc-timeout below the cap', '{ cluster: c, max_stream_duration: { max_stream_duration: 0.3s, grpc_timeout_header_max: 0.3s } }', { ...grpc, 'grpc-timeout': '100m' }, null, 100],
    ['grpc-timeout capped', '{ cluster: c, max_stream_duration: { max_stream_duration: 0.3s, grpc_timeout_header_max: 0.3s } }', { ...grpc, 'grpc-timeout': '10S' }, null, 300],
    ['cap 0: grpc-timeout uncapped', '{ cluster: c, max_stream_duration: { grpc_timeout_header_max: 0s } }', { ...grpc, 'grpc-timeout': '1H' }, null, 3_600_000],
    ['no grpc-timeout: max_stream_duration', '{ cluster: c, max_stream_duration: { max_stream_duration: 0.3s, grpc_timeout_header_max: 0.2s } }', grpc, null, 300],
    ['offset subtracted', '{ cluster: c, max_stream_duration: { grpc_timeout_header_max: 0s, grpc_timeout_header_offset: 0.1s } }', { ...grpc, 'grpc-timeout': '1S' }, null, 900],
    ['offset >= timeout: expires at once', '{ cluster: c, max_stream_duration: { grpc_timeout_header_max: 0s, grpc_timeout_header_offset: 2s } }', { ...grpc, 'grpc-timeout': '1S' }, null, 0],
  ];
  for (const [label, action, headers, hcmMs, expected] of cases) {
    it(label, () => {
      const m = tableFromYaml(routesYaml(`  - { match: { prefix: "/" }, route: ${action} }`)).match(request({ path: '/x' }));
      assert.ok(m);
      assert.equal(streamDurationMs(m.route, hcm('AUTO', { maxStreamDurationMs: hcmMs }), request({ headers })), expected);
    });
  }

  it('rewrites grpc-timeout of gRPC requests on new-timeouts routes to the limit', () => {
    const m = tableFromYaml(routesYaml(`  - { match: { prefix: "/" }, route: { cluster: c, max_stream_duration: { max_stream_duration: 0.3s, grpc_timeout_header_max: 0.3s } } }`)).match(request({ path: '/x' }));
    assert.ok(m);
    const req = request({ headers: { ...grpc, 'grpc-timeout': '10S' } });
    streamDurationMs(m.route, hcm(), req);
    assert.equal(req.headers.get('grpc-timeout'), '300m');
  });
});
