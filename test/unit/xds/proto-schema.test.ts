import * as assert from 'node:assert/strict';
import { ProtoSchema, typeNameOf } from '../../../sidecar/src/xds/proto-schema';
import type { Cluster__Output } from '../../../xds-protos/generated/envoy/config/cluster/v3/Cluster';

describe('ProtoSchema', () => {
  const schema = ProtoSchema.get();

  it('round-trips a Cluster through bytes into the generated __Output shape', () => {
    const bytes = schema.encode('envoy.config.cluster.v3.Cluster', {
      name: 'outbound|9080||reviews.default.svc.cluster.local',
      type: 'EDS',
      lb_policy: 'LEAST_REQUEST',
      connect_timeout: { seconds: 10, nanos: 0 },
    });
    const cluster = schema.decode<Cluster__Output>('envoy.config.cluster.v3.Cluster', bytes);
    assert.equal(cluster.name, 'outbound|9080||reviews.default.svc.cluster.local');
    assert.equal(cluster.type, 'EDS');
    assert.equal(cluster.lb_policy, 'LEAST_REQUEST');
    assert.equal(cluster.connect_timeout?.seconds, '10');
    assert.equal(cluster.cluster_discovery_type, 'type');
  });

  it('packs and unpacks Any, and reports unknown Any types as undefined', () => {
    const any = schema.packAny('envoy.extensions.filters.http.router.v3.Router', {});
    assert.equal(any.type_url, 'type.googleapis.com/envoy.extensions.filters.http.router.v3.Router');
    assert.deepEqual(Object.keys(schema.unpackAny(any) ?? { missing: true }).includes('missing'), false);
    assert.equal(schema.unpackAny({ type_url: 'type.googleapis.com/stats.PluginConfig', value: Buffer.alloc(0) }), undefined);
    assert.equal(typeNameOf('type.googleapis.com/a.b.C'), 'a.b.C');
  });

  it('builds the ADS service definition with both streaming methods', () => {
    const ads = schema.serviceDefinition('envoy.service.discovery.v3.AggregatedDiscoveryService');
    assert.deepEqual(Object.keys(ads).sort(), ['DeltaAggregatedResources', 'StreamAggregatedResources']);
    assert.equal(ads['StreamAggregatedResources']?.path, '/envoy.service.discovery.v3.AggregatedDiscoveryService/StreamAggregatedResources');
    assert.equal(ads['StreamAggregatedResources']?.requestStream, true);
  });

  it('release() forgets the process-wide schema; the next get() loads a working one again', () => {
    const before = ProtoSchema.get();
    ProtoSchema.release();
    const after = ProtoSchema.get();
    assert.notEqual(after, before);
    assert.equal(after.type('envoy.config.cluster.v3.Cluster').fullName, '.envoy.config.cluster.v3.Cluster');
  });
});
