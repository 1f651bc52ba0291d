import * as assert from 'node:assert/strict';
import { ProtoSchema } from '../../../sidecar/src/xds/proto-schema';
import { protoValidate } from '../../../sidecar/src/xds/proto-validate';

const schema = ProtoSchema.get();

function check(typeName: string, object: object): { path: string; message: string }[] {
  const message = schema.decode<unknown>(typeName, schema.encode(typeName, object));
  return protoValidate(schema.type(typeName), message);
}

function paths(errors: { path: string }[]): string[] {
  return errors.map((e) => e.path).sort();
}

describe('protoValidate', () => {
  const cases: Array<{ name: string; type: string; object: object; expect: string[] }> = [
    { name: 'valid minimal cluster', type: 'envoy.config.cluster.v3.Cluster', object: { name: 'c' }, expect: [] },
    { name: 'string min_len on a default value', type: 'envoy.config.cluster.v3.Cluster', object: {}, expect: ['name'] },
    { name: 'duration gt {} rejects negative', type: 'envoy.config.cluster.v3.Cluster', object: { name: 'c', connect_timeout: { seconds: -1 } }, expect: ['connect_timeout'] },
    { name: 'duration gt {} rejects zero', type: 'envoy.config.cluster.v3.Cluster', object: { name: 'c', connect_timeout: { seconds: 0 } }, expect: ['connect_timeout'] },
    { name: 'duration gt {} accepts 1 ns', type: 'envoy.config.cluster.v3.Cluster', object: { name: 'c', connect_timeout: { nanos: 1 } }, expect: [] },
    { name: 'duration gt {nanos: 1ms}', type: 'envoy.config.cluster.v3.Cluster', object: { name: 'c', dns_refresh_rate: { nanos: 1_000_000 } }, expect: ['dns_refresh_rate'] },
    { name: 'uint32 wrapper lte', type: 'envoy.config.cluster.v3.Cluster', object: { name: 'c', outlier_detection: { max_ejection_percent: { value: 101 } } }, expect: ['outlier_detection.max_ejection_percent'] },
    { name: 'uint32 wrapper unset is fine', type: 'envoy.config.cluster.v3.OutlierDetection', object: {}, expect: [] },
    { name: 'wrapper gte 1 in repeated nested', type: 'envoy.config.endpoint.v3.ClusterLoadAssignment', object: { cluster_name: 'x', endpoints: [{ lb_endpoints: [{ load_balancing_weight: { value: 0 } }] }] }, expect: ['endpoints[0].lb_endpoints[0].load_balancing_weight'] },
    { name: 'message required', type: 'envoy.config.core.v3.HealthCheck', object: { http_health_check: { path: '/' } }, expect: ['healthy_threshold', 'interval', 'timeout', 'unhealthy_threshold'] },
    { name: 'oneof required', type: 'envoy.config.route.v3.RouteAction', object: {}, expect: ['cluster_specifier'] },
    { name: 'repeated min_items', type: 'envoy.config.route.v3.VirtualHost', object: { name: 'v' }, expect: ['domains'] },
    { name: 'enum defined_only', type: 'envoy.config.cluster.v3.Cluster', object: { name: 'c', lb_policy: 4 }, expect: ['lb_policy'] },
    { name: 'uint32 port lte 65535', type: 'envoy.config.core.v3.SocketAddress', object: { address: '1.2.3.4', port_value: 65536 }, expect: ['port_value'] },
    { name: 'header name non-strict allows odd chars but not CR/LF', type: 'envoy.config.core.v3.HeaderValue', object: { key: 'a\nb', value: 'v' }, expect: ['key'] },
    { name: 'oneof member rules only when set', type: 'envoy.config.route.v3.HeaderMatcher', object: { name: 'x', string_match: { exact: '' } }, expect: [] },
    { name: 'oneof member prefix_match min_len', type: 'envoy.config.route.v3.HeaderMatcher', object: { name: 'x', prefix_match: '' }, expect: ['prefix_match'] },
    { name: 'map values recursed', type: 'envoy.config.core.v3.Metadata', object: { filter_metadata: { a: { fields: {} } } }, expect: [] },
    { name: 'uint32 range gte/lte on direct response status', type: 'envoy.config.route.v3.DirectResponseAction', object: { status: 99 }, expect: ['status'] },
  ];
  for (const c of cases) {
    it(c.name, () => {
      assert.deepEqual(paths(check(c.type, c.object)), c.expect.sort());
    });
  }

  it('messages say what rule failed', () => {
    const [err] = check('envoy.config.cluster.v3.Cluster', { name: 'c', connect_timeout: { seconds: -1 } });
    assert.equal(err?.message, 'value must be greater than 0s');
    const [pct] = check('envoy.config.cluster.v3.OutlierDetection', { max_ejection_percent: { value: 200 } });
    assert.equal(pct?.message, 'value must be less than or equal to 100');
  });

  it('does not recurse into Any', () => {
    const any = schema.packAny('envoy.config.cluster.v3.Cluster', {});
    assert.deepEqual(check('envoy.config.core.v3.TypedExtensionConfig', { name: 'x', typed_config: any }), []);
  });

  it('handles hand-built objects without a oneof discriminator and never throws', () => {
    const type = schema.type('envoy.config.route.v3.RouteAction');
    assert.deepEqual(paths(protoValidate(type, { cluster: '' })), ['cluster']);
    assert.deepEqual(protoValidate(type, null), []);
    assert.doesNotThrow(() => protoValidate(type, { weighted_clusters: 'garbage', cluster_specifier: 'weighted_clusters' }));
  });

  it('supports string prefix/not_in/max_bytes and exclusive numeric ranges (synthetic rules on a fresh schema)', () => {
    // Rule tables are compiled once per Type, so the override goes on a privately loaded schema before first use.
    const fresh = ProtoSchema.load(schema.protosDir);
    const type = fresh.type('envoy.config.core.v3.Pipe');
    const set = (name: string, rules: object): void => {
      (type.fields[name] as unknown as { parsedOptions: unknown }).parsedOptions = [{ '(validate.rules)': rules }];
    };
    set('path', { string: { prefix: '/run/', not_in: ['/run/x'], max_bytes: 12 } });
    set('mode', { uint32: { lt: 10, gt: 20 } });
    const pipe = (path: string, mode = 0): object => ({ path, mode });
    assert.deepEqual(protoValidate(type, pipe('/run/ok')), []);
    assert.deepEqual(paths(protoValidate(type, pipe('/tmp/a'))), ['path']);
    assert.deepEqual(paths(protoValidate(type, pipe('/run/x'))), ['path']);
    assert.deepEqual(paths(protoValidate(type, pipe('/run/very-long-name'))), ['path']);
    assert.deepEqual(protoValidate(type, pipe('/run/a', 25)), []);
    assert.equal(protoValidate(type, pipe('/run/a', 15))[0]?.message, 'value must be less than 10 or greater than 20');
  });
});
