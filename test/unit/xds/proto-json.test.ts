import * as assert from 'node:assert/strict';
import { messageFromJson } from '../../../sidecar/src/xds/proto-json';
import { ProtoSchema } from '../../../sidecar/src/xds/proto-schema';
import type { FieldError, Validation } from '../../../sidecar/src/core/validation';
import type { Bootstrap__Output } from '../../../xds-protos/generated/envoy/config/bootstrap/v3/Bootstrap';
import type { Cluster__Output } from '../../../xds-protos/generated/envoy/config/cluster/v3/Cluster';
import type { Listener__Output } from '../../../xds-protos/generated/envoy/config/listener/v3/Listener';
import type { HttpConnectionManager__Output } from '../../../xds-protos/generated/envoy/extensions/filters/network/http_connection_manager/v3/HttpConnectionManager';
import type { TypedStruct__Output } from '../../../xds-protos/generated/udpa/type/v1/TypedStruct';

const CLUSTER = 'envoy.config.cluster.v3.Cluster';
const HCM_URL = 'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager';

function ok<T>(result: Validation<T>): T {
  if (!result.ok) assert.fail(`expected ok, got:\n${result.errors.map((e) => `${e.path}: ${e.message}`).join('\n')}`);
  return result.value;
}

function errors<T>(result: Validation<T>): readonly FieldError[] {
  if (result.ok) assert.fail('expected errors, got ok');
  return result.errors;
}

describe('messageFromJson', () => {
  const schema = ProtoSchema.get();
  const cluster = (json: unknown): Validation<Cluster__Output> => messageFromJson<Cluster__Output>(schema, CLUSTER, json);

  it('gives exactly the shape decoding the same message from bytes gives', () => {
    const fromJson = ok(cluster({ name: 'c', type: 'EDS', connect_timeout: '1.5s', lb_policy: 'LEAST_REQUEST' }));
    const fromBytes = schema.decode<Cluster__Output>(CLUSTER, schema.encode(CLUSTER, {
      name: 'c', type: 'EDS', connect_timeout: { seconds: 1, nanos: 500_000_000 }, lb_policy: 'LEAST_REQUEST',
    }));
    assert.deepEqual(fromJson, fromBytes);
    assert.deepEqual(fromJson.connect_timeout, { seconds: '1', nanos: 500_000_000 });
  });

  it('accepts snake_case and lowerCamelCase field names, rejects a field given both ways', () => {
    const value = ok(cluster({ name: 'c', connectTimeout: '5s', perConnectionBufferLimitBytes: 1024 }));
    assert.equal(value.connect_timeout?.seconds, '5');
    assert.equal(value.per_connection_buffer_limit_bytes?.value, 1024);
    assert.match(errors(cluster({ connect_timeout: '1s', connectTimeout: '2s' }))[0]?.message ?? '', /twice/);
  });

  it('collects every error with its field path', () => {
    const errs = errors(cluster({
      name: 'c',
      connect_timeout: '5',
      type: 'bogus',
      foo: 1,
      circuit_breakers: { thresholds: [{ max_connections: -1 }] },
      load_assignment: { endpoints: [{ lb_endpoints: [{ endpoint: { address: { socket_address: { port_value: 'x' } } } }] }] },
    }));
    const paths = errs.map((e) => e.path);
    assert.deepEqual(paths, [
      'connect_timeout',
      'type',
      'foo',
      'circuit_breakers.thresholds[0].max_connections',
      'load_assignment.endpoints[0].lb_endpoints[0].endpoint.address.socket_address.port_value',
    ]);
    assert.equal(errs[0]?.message.startsWith('invalid duration "5"'), true);
    assert.match(errs[2]?.message ?? '', /unknown field "foo"/);
  });

  it('prefixes nested paths under a root message', () => {
    const result = messageFromJson<Bootstrap__Output>(schema, 'envoy.config.bootstrap.v3.Bootstrap', {
      static_resources: { clusters: [{ name: 'a' }, { name: 'b', connect_timeout: '5' }] },
    });
    assert.equal(errors(result)[0]?.path, 'static_resources.clusters[1].connect_timeout');
  });

  it('accepts enums by name in any letter case or by number', () => {
    assert.equal(ok(cluster({ lb_policy: 'round_robin' })).lb_policy, 'ROUND_ROBIN');
    assert.equal(ok(cluster({ lb_policy: 'Least_Request' })).lb_policy, 'LEAST_REQUEST');
    assert.equal(ok(cluster({ lb_policy: 1 })).lb_policy, 'LEAST_REQUEST');
    assert.match(errors(cluster({ lb_policy: 99 }))[0]?.message ?? '', /invalid value 99/);
  });

  it('accepts a single object where a list is expected', () => {
    const value = ok(cluster({ load_assignment: { cluster_name: 'c', endpoints: { lb_endpoints: { endpoint: { address: { socket_address: { address: '1.2.3.4', port_value: 80 } } } } } } }));
    assert.equal(value.load_assignment?.endpoints[0]?.lb_endpoints[0]?.endpoint?.address?.socket_address?.address, '1.2.3.4');
  });

  it('accepts int64 as number or string and reports out-of-range integers', () => {
    const value = ok(cluster({ outlier_detection: { consecutive_5xx: 5 }, lb_subset_config: {}, dns_refresh_rate: '10s', upstream_connection_options: { tcp_keepalive: { keepalive_probes: 3 } } }));
    assert.equal(value.outlier_detection?.consecutive_5xx?.value, 5);
    const ts = messageFromJson<{ seconds: string }>(schema, 'google.protobuf.Timestamp', '2024-01-01T00:00:01.5Z');
    assert.equal(ok(ts).seconds, '1704067201');
    const dur = messageFromJson<{ seconds: string }>(schema, 'google.protobuf.Duration', '-1s');
    assert.equal(ok(dur).seconds, '-1');
    assert.deepEqual(ok(messageFromJson(schema, 'google.protobuf.Int64Value', '9007199254740993')), { value: '9007199254740993' });
    assert.deepEqual(ok(messageFromJson(schema, 'google.protobuf.UInt64Value', 42)), { value: '42' });
    assert.ok(!messageFromJson(schema, 'google.protobuf.UInt32Value', -1).ok);
    assert.ok(!messageFromJson(schema, 'google.protobuf.Timestamp', 'yesterday').ok);
  });

  it('takes wrappers as bare values', () => {
    const value = ok(cluster({ common_lb_config: { healthy_panic_threshold: { value: 50 } }, respect_dns_ttl: true, ignore_health_on_host_removal: false, max_requests_per_connection: 100 }));
    assert.equal(value.max_requests_per_connection?.value, 100);
    assert.equal(value.common_lb_config?.healthy_panic_threshold?.value, 50);
    assert.ok(!cluster({ max_requests_per_connection: { value: 3 } }).ok);
  });

  it('builds Struct/Value from plain JSON with camelCase Value fields', () => {
    const value = ok(cluster({ metadata: { filter_metadata: { istio: { s: 'x', n: 1, b: true, nil: null, l: [1, 'a'], o: { k: 'v' } } } } }));
    const fields = value.metadata?.filter_metadata['istio']?.fields;
    assert.equal(fields?.['s']?.stringValue, 'x');
    assert.equal(fields?.['n']?.numberValue, 1);
    assert.equal(fields?.['b']?.boolValue, true);
    assert.equal(fields?.['nil']?.nullValue, 'NULL_VALUE');
    assert.equal(fields?.['l']?.listValue?.values[1]?.stringValue, 'a');
    assert.equal(fields?.['o']?.structValue?.fields['k']?.stringValue, 'v');
  });

  it('converts Any with "@type" recursively and reports inner errors with their path', () => {
    const listener = (typedConfig: unknown): Validation<Listener__Output> => messageFromJson<Listener__Output>(schema, 'envoy.config.listener.v3.Listener', {
      name: 'l',
      filter_chains: [{ filters: [{ name: 'hcm', typed_config: typedConfig }] }],
    });
    const value = ok(listener({ '@type': HCM_URL, codec_type: 'auto', stat_prefix: 'in', route_config: { name: 'r' } }));
    const any = value.filter_chains[0]?.filters[0]?.typed_config;
    assert.equal(any?.type_url, HCM_URL);
    const hcm = schema.unpackAny<HttpConnectionManager__Output>(any ?? { type_url: '', value: Buffer.alloc(0) });
    assert.equal(hcm?.codec_type, 'AUTO');
    assert.equal(hcm?.route_config?.name, 'r');
    const errs = errors(listener({ '@type': HCM_URL, codec_type: 'auto', stat_prefx: 'x' }));
    assert.equal(errs[0]?.path, 'filter_chains[0].filters[0].typed_config.stat_prefx');
    assert.match(errors(listener({ codec_type: 'auto' }))[0]?.message ?? '', /"@type" is required/);
  });

  it('keeps an Any of an unvendored type as its type URL with an empty payload, without error', () => {
    const value = ok(cluster({ transport_socket: { name: 't', typed_config: { '@type': 'type.googleapis.com/some.Unknown', anything: [1] } } }));
    assert.equal(value.transport_socket?.typed_config?.type_url, 'type.googleapis.com/some.Unknown');
    assert.equal(value.transport_socket?.typed_config?.value.length, 0);
  });

  it('handles TypedStruct as a normal message and well-known types inside Any under "value"', () => {
    const ts = ok(messageFromJson<TypedStruct__Output>(schema, 'udpa.type.v1.TypedStruct', { type_url: 'type.googleapis.com/x.Y', value: { a: 'b' } }));
    assert.equal(ts.value?.fields['a']?.stringValue, 'b');
    const any = ok(messageFromJson<{ type_url: string; value: Buffer }>(schema, 'google.protobuf.Any', { '@type': 'type.googleapis.com/google.protobuf.Duration', value: '2s' }));
    assert.deepEqual(schema.unpackAny(any), { seconds: '2', nanos: 0 });
  });

  it('decodes base64 bytes and maps', () => {
    const any = ok(messageFromJson<{ value: Buffer }>(schema, 'google.protobuf.BytesValue', Buffer.from('hello').toString('base64')));
    assert.equal(any.value.toString(), 'hello');
    const value = ok(cluster({ typed_extension_protocol_options: { 'envoy.extensions.upstreams.http.v3.HttpProtocolOptions': { '@type': 'type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions', explicit_http_config: { http2_protocol_options: {} } } } }));
    assert.ok(value.typed_extension_protocol_options['envoy.extensions.upstreams.http.v3.HttpProtocolOptions']?.value.length);
    assert.ok(!cluster({ typed_extension_protocol_options: [] }).ok);
  });

  it('rejects two members of a oneof and treats null as unset', () => {
    const errs = errors(cluster({ type: 'EDS', cluster_type: { name: 'x' } }));
    assert.equal(errs[0]?.path, 'cluster_type');
    assert.match(errs[0]?.message ?? '', /only one of type and cluster_type/);
    const value = ok(cluster({ name: 'c', eds_cluster_config: null, connect_timeout: null }));
    assert.equal(value.eds_cluster_config, null);
    assert.equal(value.connect_timeout, null);
  });

  it('never throws on nonsense input', () => {
    for (const input of [null, 3, 'x', [], [{}], { name: { deep: [] } }]) {
      assert.doesNotThrow(() => cluster(input));
    }
    assert.ok(!messageFromJson(schema, 'no.such.Type', {}).ok);
  });
});
