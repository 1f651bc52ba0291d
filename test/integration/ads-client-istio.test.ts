// An Istio-shaped LDS/RDS/CDS/EDS set served by the reference control plane is ACKed by the ADS client with the
// real decoders, in SotW and delta, and becomes one complete snapshot.

import * as assert from 'node:assert/strict';
import { ProtoSchema } from '../../sidecar/src/xds/proto-schema';
import { resourceTypes } from '../../sidecar/src/xds/resources/resource-types';
import { XdsClient } from '../../sidecar/src/xds/xds-client';
import { istioConfig, RATINGS_CLUSTER, REVIEWS_CLUSTER } from '../fixtures/istio-config';
import { startControlPlane, TYPE_URLS, type ControlPlaneServer } from '../support/control-plane';

const ISTIO_NODE_ID = 'sidecar~10.244.0.12~productpage-v1-6b746f74dc-9stvs.default~default.svc.cluster.local';

function named(resources: readonly Record<string, unknown>[], key: 'name' | 'cluster_name'): Array<{ name: string; message: object }> {
  return resources.map((message) => ({ name: String(message[key]), message }));
}

for (const delta of [false, true]) {
  describe(`ADS client with an Istio-shaped config (${delta ? 'delta' : 'SotW'})`, () => {
    let server: ControlPlaneServer;
    let client: XdsClient | undefined;

    beforeEach(async () => {
      server = await startControlPlane();
      const config = istioConfig(ProtoSchema.get());
      server.setResources(TYPE_URLS.cds, named(config.clusters, 'name'));
      server.setResources(TYPE_URLS.eds, named(config.endpoints, 'cluster_name'));
      server.setResources(TYPE_URLS.lds, named(config.listeners, 'name'));
      server.setResources(TYPE_URLS.rds, named(config.routes, 'name'));
    });

    afterEach(async () => {
      client?.stop();
      client = undefined;
      await server.stop();
    });

    it('ACKs every type, never NACKs, and publishes the whole tree', async () => {
      client = new XdsClient({
        server: server.address,
        node: { id: ISTIO_NODE_ID, cluster: 'productpage.default' },
        delta,
        resourceTypes: [...resourceTypes.values()],
        decodeContext: { schema: ProtoSchema.get(), adsClusterNames: new Set(['xds-grpc']) },
        initialFetchTimeoutsMs: Object.fromEntries([...resourceTypes.keys()].map((url) => [url, 0])),
      });
      client.start();
      const snapshot = await client.store.whenReady();
      for (const typeUrl of Object.values(TYPE_URLS)) {
        await server.waitForRequest((r) => r.typeUrl === typeUrl && r.kind === 'ACK');
      }
      const nacks = server.requests.filter((r) => r.kind === 'NACK');
      assert.deepEqual(nacks.map((r) => r.errorDetail?.message), []);
      assert.deepEqual([...snapshot.listeners.keys()].sort(), ['0.0.0.0_9080', 'virtualInbound', 'virtualOutbound']);
      assert.deepEqual([...snapshot.routes.keys()], ['9080']);
      assert.ok(snapshot.clusters.has(REVIEWS_CLUSTER));
      assert.ok(snapshot.clusters.has('PassthroughCluster'));
      assert.ok(snapshot.clusters.has('inbound|9080||'));
      assert.deepEqual([...snapshot.endpoints.keys()].sort(), [RATINGS_CLUSTER, REVIEWS_CLUSTER].sort());
      assert.ok(client.resourceStatuses().every((r) => r.status === 'ACKED'));
      const eds = server.requests.find((r) => r.typeUrl === TYPE_URLS.eds);
      assert.deepEqual([...(delta ? eds?.subscribe ?? [] : eds?.resourceNames ?? [])].sort(), [RATINGS_CLUSTER, REVIEWS_CLUSTER].sort());
    });
  });
}
