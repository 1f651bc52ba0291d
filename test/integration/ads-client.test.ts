// The ADS client against the reference control plane on 127.0.0.1 (real gRPC), SotW and delta.

import * as assert from 'node:assert/strict';
import type { ConfigSnapshot } from '../../sidecar/src/config/config-snapshot';
import type { SnapshotStore } from '../../sidecar/src/config/snapshot-store';
import type { EndpointConfig } from '../../sidecar/src/config/endpoint-config';
import type { XdsResourceType } from '../../sidecar/src/xds/resources/resource-type';
import { resourceTypes } from '../../sidecar/src/xds/resources/resource-types';
import { XdsClient, type XdsClientOptions } from '../../sidecar/src/xds/xds-client';
import { TEST_TYPES, testDecodeContext, type TestEndpoints } from '../support/ads-fakes';
import {
  clusterLoadAssignment,
  edsCluster,
  restartControlPlane,
  serveHttpService,
  startControlPlane,
  staticCluster,
  TYPE_URLS,
  type ControlPlaneServer,
  type RecordedRequest,
} from '../support/control-plane';

const { lds: LDS, rds: RDS, cds: CDS, eds: EDS } = TYPE_URLS;
const NAMES = { listener: 'listener_0', listenerPort: 10000, routeConfig: 'local_route', cluster: 'service_a' };

/** Resolves with the first snapshot (the current one included) that satisfies `predicate`. */
function waitForSnapshot(store: SnapshotStore, predicate: (s: ConfigSnapshot) => boolean, timeoutMs = 5000): Promise<ConfigSnapshot> {
  return new Promise((resolve, reject) => {
    const current = store.current;
    if (current !== undefined && predicate(current)) {
      resolve(current);
      return;
    }
    const timer = setTimeout(() => {
      off();
      reject(new Error(`no matching snapshot within ${timeoutMs} ms (current version ${store.current?.version ?? 'none'})`));
    }, timeoutMs);
    const off = store.subscribe((s) => {
      if (!predicate(s)) return;
      clearTimeout(timer);
      off();
      resolve(s);
    });
  });
}

/** The endpoint addresses (`host:port`) of a load assignment in the snapshot, whichever decoders made it. */
function addresses(snapshot: ConfigSnapshot, name: string): readonly string[] {
  const value = snapshot.endpoints.get(name) as unknown as TestEndpoints | EndpointConfig | undefined;
  if (value === undefined) return [];
  if ('addresses' in value) return value.addresses;
  return value.priorities.flat().flatMap((locality) => locality.endpoints.map((e) => (e.address.kind === 'socket' ? `${e.address.host}:${e.address.port}` : e.address.path)));
}

/** Both the small test decoders and the real ones must behave the same on the wire. */
const TYPE_SETS: ReadonlyArray<{ readonly label: string; readonly types: readonly XdsResourceType<unknown>[] }> = [
  { label: 'test decoders', types: TEST_TYPES },
  { label: 'real decoders', types: [...resourceTypes.values()] },
];

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function badCluster(name: string) {
  return { name, message: { name, type: 'STATIC', connect_timeout: { seconds: -1 }, lb_policy: 'ROUND_ROBIN' } };
}

for (const { label, types } of TYPE_SETS) for (const delta of [false, true]) {
  describe(`ADS client against the reference control plane (${delta ? 'delta' : 'SotW'}, ${label})`, () => {
    let server: ControlPlaneServer;
    let client: XdsClient | undefined;

    function startClient(overrides: Partial<XdsClientOptions> = {}): XdsClient {
      client = new XdsClient({
        server: server.address,
        node: { id: 'test-id', cluster: 'test-cluster' },
        delta,
        resourceTypes: types,
        decodeContext: testDecodeContext(),
        backoff: { initialMs: 50, maxMs: 200 },
        channelOptions: { 'grpc.initial_reconnect_backoff_ms': 50, 'grpc.max_reconnect_backoff_ms': 200 },
        ...overrides,
      });
      client.start();
      return client;
    }

    function typeRequests(typeUrl: string, from = 0): RecordedRequest[] {
      return server.requests.slice(from).filter((r) => r.typeUrl === typeUrl);
    }

    beforeEach(async () => {
      server = await startControlPlane();
      serveHttpService(server, NAMES, [{ host: '10.0.0.1', port: 8080 }]);
    });

    afterEach(async () => {
      client?.stop();
      client = undefined;
      await server.stop();
    });

    it('becomes ready with exactly the served resources and ACKs every type', async () => {
      const c = startClient();
      const snapshot = await c.store.whenReady();
      assert.deepEqual([...snapshot.listeners.keys()], [NAMES.listener]);
      assert.deepEqual([...snapshot.routes.keys()], [NAMES.routeConfig]);
      assert.deepEqual([...snapshot.clusters.keys()], [NAMES.cluster]);
      assert.deepEqual([...snapshot.endpoints.keys()], [NAMES.cluster]);
      assert.deepEqual(addresses(snapshot, NAMES.cluster), ['10.0.0.1:8080']);
      for (const typeUrl of [CDS, EDS, LDS, RDS]) {
        await server.waitForRequest((r) => r.typeUrl === typeUrl && r.kind === 'ACK');
      }
      assert.ok(!server.requests.some((r) => r.kind === 'NACK'));
      const first = server.requests[0];
      assert.equal((first?.node as { user_agent_name?: string } | undefined)?.user_agent_name, 'meshlet');
      assert.equal(server.requests.filter((r) => r.node !== undefined).length, 1, 'node on the first request only');
      assert.equal(c.connection.state, 'CONNECTED');
      assert.ok(c.resourceStatuses().every((r) => r.status === 'ACKED'));
    });

    it('shows an EDS-only update in a new snapshot', async () => {
      const c = startClient();
      const first = await c.store.whenReady();
      const started = Date.now();
      server.setResources(EDS, [clusterLoadAssignment(NAMES.cluster, [{ host: '10.0.0.1', port: 8080 }, { host: '10.0.0.2', port: 8080 }])]);
      const next = await waitForSnapshot(c.store, (s) => addresses(s, NAMES.cluster).length === 2, 5000);
      const elapsedMs = Date.now() - started;
      assert.ok(next.version > first.version);
      assert.equal(next.clusters.get(NAMES.cluster), first.clusters.get(NAMES.cluster), 'the cluster object is reused');
      assert.equal(next.listeners.get(NAMES.listener), first.listeners.get(NAMES.listener));
      // Not a speed assertion (CI machines vary); recorded for the log.
      if (elapsedMs > 100) process.stderr.write(`  (EDS update took ${elapsedMs} ms)\n`);
    });

    it('NACKs one invalid cluster with its name and field path while applying the valid clusters of the response', async () => {
      const c = startClient();
      await c.store.whenReady();
      server.setResources(CDS, [edsCluster(NAMES.cluster), staticCluster('ok_cluster', [{ host: '10.0.0.3', port: 80 }]), badCluster('bad_cluster')]);
      const nack = await server.waitForRequest((r) => r.typeUrl === CDS && r.kind === 'NACK');
      assert.equal(nack.errorDetail?.code, 3);
      assert.match(nack.errorDetail?.message ?? '', /cluster 'bad_cluster': connect_timeout: .*greater than/);
      assert.doesNotMatch(nack.errorDetail?.message ?? '', /ok_cluster/);
      if (!delta) assert.equal(nack.versionInfo, c.typeStatuses().find((t) => t.typeUrl === CDS)?.lastAck?.version);
      const snapshot = await waitForSnapshot(c.store, (s) => s.clusters.has('ok_cluster'));
      assert.ok(!snapshot.clusters.has('bad_cluster'));
      assert.ok(snapshot.clusters.has(NAMES.cluster));
      const bad = c.resourceStatuses(CDS).find((r) => r.name === 'bad_cluster');
      assert.equal(bad?.status, 'NACKED');
      assert.match(bad?.error ?? '', /connect_timeout/);
    });

    it('removes a cluster missing from the next CDS update and stops asking for its endpoints', async () => {
      const c = startClient();
      await c.store.whenReady();
      server.upsertResource(CDS, edsCluster('service_b'));
      server.upsertResource(EDS, clusterLoadAssignment('service_b', [{ host: '10.0.0.5', port: 80 }]));
      await waitForSnapshot(c.store, (s) => s.clusters.has('service_b') && s.endpoints.has('service_b'));
      const from = server.requests.length;
      server.removeResource(CDS, 'service_b');
      const snapshot = await waitForSnapshot(c.store, (s) => !s.clusters.has('service_b'));
      assert.ok(!snapshot.endpoints.has('service_b'));
      assert.ok(snapshot.clusters.has(NAMES.cluster));
      const eds = await server.waitForRequest((r) => r.typeUrl === EDS && (delta ? r.unsubscribe.includes('service_b') : !r.resourceNames.includes('service_b')), 5000, from);
      if (!delta) assert.deepEqual(eds.resourceNames, [NAMES.cluster]);
    });

    it('keeps the config while the server is down, backs off, and resubscribes with the last versions after a restart', async () => {
      const c = startClient();
      const before = await c.store.whenReady();
      await server.waitForRequest((r) => r.typeUrl === RDS && r.kind === 'ACK');
      const versions = new Map(c.typeStatuses().map((t) => [t.typeUrl, t.version]));
      const oldServer = server;
      await oldServer.stop();
      await sleep(400);
      assert.equal(c.store.current, before, 'config unchanged while the server is away');
      assert.ok(c.connection.reconnects >= 2, `retried (${c.connection.reconnects} reconnects)`);
      assert.notEqual(c.connection.lastError, undefined);
      server = await restartControlPlane(oldServer);
      serveHttpService(server, NAMES, [{ host: '10.0.0.1', port: 8080 }, { host: '10.0.0.9', port: 8080 }]);
      await waitForSnapshot(c.store, (s) => addresses(s, NAMES.cluster).length === 2, 10_000);
      assert.equal(c.connection.state, 'CONNECTED');
      const firstOfStream = (typeUrl: string): RecordedRequest => {
        const request = typeRequests(typeUrl).find((r) => r.streamId === server.requests[0]?.streamId);
        assert.ok(request !== undefined, `no ${typeUrl} request on the new stream`);
        return request;
      };
      assert.ok(server.requests[0]?.node !== undefined, 'node on the first request of the new stream');
      for (const typeUrl of [CDS, LDS, EDS, RDS]) {
        const request = firstOfStream(typeUrl);
        assert.equal(request.responseNonce, '', `${typeUrl}: no nonce on a new stream`);
        if (delta) {
          const names = typeUrl === EDS ? [NAMES.cluster] : typeUrl === RDS ? [NAMES.routeConfig] : [];
          assert.deepEqual(request.subscribe, names);
          assert.ok(Object.keys(request.initialResourceVersions).length > 0, `${typeUrl}: initial_resource_versions`);
        } else {
          assert.equal(request.versionInfo, versions.get(typeUrl), `${typeUrl}: last accepted version resent`);
          const names = typeUrl === EDS ? [NAMES.cluster] : typeUrl === RDS ? [NAMES.routeConfig] : [];
          assert.deepEqual(request.resourceNames, names);
        }
      }
    });

    it('keeps the old snapshot serving while EDS is never answered, and publishes once it is', async () => {
      const c = startClient();
      const before = await c.store.whenReady();
      server.neverAnswer(EDS);
      server.upsertResource(EDS, clusterLoadAssignment('service_new', [{ host: '10.0.0.7', port: 80 }]));
      server.upsertResource(CDS, edsCluster('service_new'));
      await server.waitForRequest((r) => r.typeUrl === EDS && (delta ? r.subscribe.includes('service_new') : r.resourceNames.includes('service_new')));
      await sleep(300);
      assert.equal(c.store.current, before, 'the new cluster is warming; the old snapshot serves');
      assert.ok(c.pendingDependencies.includes("EDS 'service_new'"));
      server.neverAnswer(EDS, false);
      const next = await waitForSnapshot(c.store, (s) => s.clusters.has('service_new'));
      assert.deepEqual(addresses(next, 'service_new'), ['10.0.0.7:80']);
    });

    it('does not lose a subscription change when the server resends with a stale nonce', async () => {
      const c = startClient();
      await c.store.whenReady();
      // A second EDS response on the stream, so that an older nonce exists to resend with.
      server.setResources(EDS, [clusterLoadAssignment(NAMES.cluster, [{ host: '10.0.0.2', port: 8080 }]), clusterLoadAssignment('later', [{ host: '10.0.0.8', port: 80 }])]);
      await waitForSnapshot(c.store, (s) => addresses(s, NAMES.cluster)[0] === '10.0.0.2:8080');
      assert.ok(server.resendWithStaleNonce(EDS) >= 1);
      await sleep(100);
      server.upsertResource(CDS, edsCluster('later'));
      const snapshot = await waitForSnapshot(c.store, (s) => s.endpoints.has('later'));
      assert.deepEqual(addresses(snapshot, 'later'), ['10.0.0.8:80']);
      assert.ok(!server.requests.some((r) => r.typeUrl === EDS && r.stale && (delta ? r.subscribe.includes('later') : r.resourceNames.includes('later'))));
    });

    it('accepts a 5 MiB response', async () => {
      const c = startClient();
      await c.store.whenReady();
      const filler = 'x'.repeat(100 * 1024);
      const clusters = Array.from({ length: 52 }, (_, i) => ({
        name: `big_${i}`,
        message: { name: `big_${i}`, type: 'STATIC', connect_timeout: { seconds: 1 }, metadata: { filter_metadata: { pad: { fields: { v: { stringValue: filler } } } } } },
      }));
      server.setResources(CDS, [edsCluster(NAMES.cluster), ...clusters]);
      const snapshot = await waitForSnapshot(c.store, (s) => s.clusters.size === 53, 10_000);
      assert.ok(snapshot.clusters.has('big_51'));
      assert.ok(!server.requests.some((r) => r.kind === 'NACK'));
    });
  });
}

describe('ADS client against the reference control plane (SotW raw responses)', () => {
  let server: ControlPlaneServer;
  let client: XdsClient | undefined;

  beforeEach(async () => {
    server = await startControlPlane();
    serveHttpService(server, NAMES, [{ host: '10.0.0.1', port: 8080 }]);
  });

  afterEach(async () => {
    client?.stop();
    await server.stop();
  });

  it('NACKs a response naming one cluster twice, version left at the last accepted', async () => {
    client = new XdsClient({ server: server.address, node: { id: 'test-id' }, resourceTypes: TEST_TYPES, decodeContext: testDecodeContext() });
    client.start();
    await client.store.whenReady();
    const accepted = client.typeStatuses().find((t) => t.typeUrl === CDS)?.version;
    const dup = staticCluster('dup', [{ host: '10.0.0.1', port: 1 }]) as { message: object };
    const any = testDecodeContext().schema.packAny('envoy.config.cluster.v3.Cluster', dup.message);
    server.sendRaw(CDS, { version_info: 'raw-1', resources: [any, any] });
    const nack = await server.waitForRequest((r) => r.typeUrl === CDS && r.kind === 'NACK');
    assert.match(nack.errorDetail?.message ?? '', /cluster 'dup': appears 2 times/);
    assert.equal(nack.versionInfo, accepted);
  });
});
