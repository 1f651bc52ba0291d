// The whole sidecar (createSidecar) against the reference control plane, observed the way a user does: through
// /ready and /config_dump on the admin port.

import * as assert from 'node:assert/strict';
import { createSidecar, type Sidecar } from '../../sidecar/src/sidecar';
import { loadBootstrap } from '../../sidecar/src/xds/bootstrap-loader';
import { istioConfig, RATINGS_CLUSTER, REVIEWS_CLUSTER } from '../fixtures/istio-config';
import {
  clusterLoadAssignment,
  edsCluster,
  httpListener,
  restartControlPlane,
  routeConfiguration,
  startControlPlane,
  TYPE_URLS,
  type ControlPlaneServer,
} from '../support/control-plane';

interface DumpedStatus {
  name: string;
  version: string;
  status: string;
  error?: string;
  lastUpdated: string;
}

interface Dump {
  bootstrap: { xdsServer: string; node: { id: string } };
  xds: {
    connection: { state: string; reconnects: number };
    types: Array<{ shortName: string; version: string; lastNack?: { error: string } }>;
    resources: Record<string, DumpedStatus[]>;
  };
  active: null | {
    version: number;
    listeners: Record<string, unknown>;
    routes: Record<string, unknown>;
    clusters: Record<string, { connectTimeoutMs: number; lbPolicy: { kind: string } }>;
    endpoints: Record<string, { priorities: Array<Array<{ endpoints: unknown[] }>> }>;
  };
}

async function startSidecar(controlPlane: ControlPlaneServer, delta = false): Promise<Sidecar> {
  const bootstrap = loadBootstrap(
    { xdsAddress: controlPlane.address, nodeId: 'sidecar~10.0.0.1~reviews-v1.default~default.svc.cluster.local', adminAddress: '127.0.0.1:0', xdsDelta: delta },
    { env: {} },
  );
  assert.ok(bootstrap.ok, JSON.stringify(!bootstrap.ok && bootstrap.errors));
  return createSidecar(bootstrap.value, { xdsBackoff: { initialMs: 50, maxMs: 200 }, xdsChannelOptions: { 'grpc.initial_reconnect_backoff_ms': 50, 'grpc.max_reconnect_backoff_ms': 200 } });
}

async function get(sidecar: Sidecar, path: string): Promise<Response> {
  return fetch(`http://${sidecar.admin.address}${path}`);
}

async function dump(sidecar: Sidecar): Promise<Dump> {
  return (await (await get(sidecar, '/config_dump')).json()) as Dump;
}

/** Polls /config_dump until `predicate` holds; returns the dump and how long it took. */
async function waitForDump(sidecar: Sidecar, predicate: (d: Dump) => boolean, timeoutMs = 5000): Promise<{ dump: Dump; elapsedMs: number }> {
  const started = Date.now();
  for (;;) {
    const d = await dump(sidecar);
    if (predicate(d)) return { dump: d, elapsedMs: Date.now() - started };
    if (Date.now() - started > timeoutMs) throw new Error(`config_dump never matched: ${JSON.stringify(d.xds?.resources)}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

function serveBasic(cp: ControlPlaneServer): void {
  cp.setResources(TYPE_URLS.cds, [edsCluster('reviews'), edsCluster('ratings')]);
  cp.setResources(TYPE_URLS.eds, [
    clusterLoadAssignment('reviews', [{ host: '127.0.0.1', port: 19001 }, { host: '127.0.0.1', port: 19002 }]),
    clusterLoadAssignment('ratings', [{ host: '127.0.0.1', port: 19011 }]),
  ]);
  cp.setResources(TYPE_URLS.lds, [httpListener('http_local', 0, 'local_route', '127.0.0.1')]);
  cp.setResources(TYPE_URLS.rds, [routeConfiguration('local_route', 'reviews')]);
}

for (const delta of [false, true]) {
  describe(`meshlet sidecar + reference control plane, admin view (${delta ? 'delta' : 'SotW'})`, () => {
    let cp: ControlPlaneServer;
    let sidecar: Sidecar | undefined;

    beforeEach(async () => {
      cp = await startControlPlane();
    });
    afterEach(async () => {
      await sidecar?.stop();
      sidecar = undefined;
      await cp.stop();
    });

    it('answers /ready 503 until the first complete snapshot, then 200 with exactly the served resources ACKED', async () => {
      cp.neverAnswer(TYPE_URLS.eds);
      serveBasic(cp);
      sidecar = await startSidecar(cp, delta);
      await cp.waitForRequest((r) => r.typeUrl === TYPE_URLS.eds);
      assert.equal((await get(sidecar, '/ready')).status, 503, 'clusters without endpoints keep the sidecar warming');
      cp.neverAnswer(TYPE_URLS.eds, false);
      cp.upsertResource(TYPE_URLS.eds, clusterLoadAssignment('ratings', [{ host: '127.0.0.1', port: 19011 }]));
      cp.upsertResource(TYPE_URLS.eds, clusterLoadAssignment('reviews', [{ host: '127.0.0.1', port: 19001 }, { host: '127.0.0.1', port: 19002 }]));
      const { dump: d } = await waitForDump(sidecar, (x) => x.active !== null);
      assert.equal((await get(sidecar, '/ready')).status, 200);
      assert.deepEqual(Object.keys(d.active?.listeners ?? {}), ['http_local']);
      assert.deepEqual(Object.keys(d.active?.routes ?? {}), ['local_route']);
      assert.deepEqual(Object.keys(d.active?.clusters ?? {}).sort(), ['ratings', 'reviews']);
      assert.deepEqual(Object.keys(d.active?.endpoints ?? {}).sort(), ['ratings', 'reviews']);
      for (const type of ['LDS', 'RDS', 'CDS', 'EDS']) {
        const statuses = d.xds.resources[type] ?? [];
        assert.ok(statuses.length > 0, `${type} listed`);
        for (const s of statuses) {
          assert.equal(s.status, 'ACKED', `${type} ${s.name}`);
          assert.notEqual(s.version, '');
          assert.ok(!Number.isNaN(Date.parse(s.lastUpdated)));
        }
      }
      assert.equal(d.bootstrap.xdsServer, cp.address);
    });

    it('shows an update in /config_dump promptly (latency printed, not asserted)', async () => {
      serveBasic(cp);
      sidecar = await startSidecar(cp, delta);
      await sidecar.store.whenReady();
      const running = sidecar;
      cp.upsertResource(TYPE_URLS.eds, clusterLoadAssignment('reviews', [1, 2, 3].map((i) => ({ host: '127.0.0.1', port: 19000 + i }))));
      const { elapsedMs } = await waitForDump(running, (x) => (x.active?.endpoints['reviews']?.priorities[0]?.[0]?.endpoints.length ?? 0) === 3);
      process.stdout.write(`      (update visible in /config_dump after ${elapsedMs} ms)\n`);
    });

    it('NACKs a response with one invalid cluster, names it and its field path, applies the valid ones, and keeps serving', async () => {
      serveBasic(cp);
      sidecar = await startSidecar(cp, delta);
      await sidecar.store.whenReady();
      cp.setResources(TYPE_URLS.cds, [
        edsCluster('reviews'),
        edsCluster('ratings'),
        { name: 'broken', message: { name: 'broken', type: 'STATIC', connect_timeout: { seconds: -1 } } },
        edsCluster('details'),
      ]);
      cp.upsertResource(TYPE_URLS.eds, clusterLoadAssignment('details', [{ host: '127.0.0.1', port: 19021 }]));
      const { dump: d } = await waitForDump(sidecar, (x) => 'details' in (x.active?.clusters ?? {}));
      const broken = d.xds.resources['CDS']?.find((r) => r.name === 'broken');
      assert.equal(broken?.status, 'NACKED');
      assert.match(broken?.error ?? '', /connect_timeout/);
      const nack = cp.requests.find((r) => r.kind === 'NACK' && r.typeUrl === TYPE_URLS.cds);
      assert.ok(nack, 'the control plane saw a NACK');
      assert.match(nack.errorDetail?.message ?? '', /broken.*connect_timeout/);
      assert.equal('broken' in (d.active?.clusters ?? {}), false, 'the invalid cluster is not applied');
      assert.equal((await get(sidecar, '/ready')).status, 200);
    });

    it('keeps config and readiness while the server is away, then reconnects and resubscribes with the last versions', async () => {
      serveBasic(cp);
      sidecar = await startSidecar(cp, delta);
      const before = await sidecar.store.whenReady();
      const lastCdsVersion = (await dump(sidecar)).xds.types.find((t) => t.shortName === 'CDS')?.version;
      await cp.stop();
      await new Promise((r) => setTimeout(r, 300));
      assert.equal((await get(sidecar, '/ready')).status, 200, 'still ready without the server');
      assert.equal(sidecar.store.current, before, 'the same snapshot keeps serving');
      const d = await dump(sidecar);
      assert.notEqual(d.xds.connection.state, 'CONNECTED');
      cp = await restartControlPlane(cp);
      serveBasic(cp);
      const resubscribe = await cp.waitForRequest((r) => r.typeUrl === TYPE_URLS.cds, 10_000);
      if (delta) {
        assert.ok(Object.keys(resubscribe.initialResourceVersions).length >= 2, 'delta reconnect sends initial_resource_versions');
      } else {
        assert.equal(resubscribe.versionInfo, lastCdsVersion, 'SotW reconnect sends the last accepted version');
        assert.equal(resubscribe.responseNonce, '');
      }
      const eds = await cp.waitForRequest((r) => r.typeUrl === TYPE_URLS.eds, 10_000);
      if (!delta) assert.deepEqual([...eds.resourceNames].sort(), ['ratings', 'reviews'], 'full EDS name list after reconnect');
      await waitForDump(sidecar, (x) => x.xds.connection.state === 'CONNECTED' && x.xds.connection.reconnects >= 1, 10_000);
    });

    it('ACKs an Istio-shaped config (virtualOutbound, 0.0.0.0_9080 over RDS, LEAST_REQUEST clusters, telemetry filters)', async () => {
      const istio = istioConfig();
      const named = (items: readonly Record<string, unknown>[], key = 'name') => items.map((m) => ({ name: String(m[key]), message: m }));
      cp.setResources(TYPE_URLS.cds, named(istio.clusters));
      cp.setResources(TYPE_URLS.eds, named(istio.endpoints, 'cluster_name'));
      cp.setResources(TYPE_URLS.lds, named(istio.listeners));
      cp.setResources(TYPE_URLS.rds, named(istio.routes));
      sidecar = await startSidecar(cp, delta);
      await sidecar.store.whenReady();
      const { dump: d } = await waitForDump(sidecar, (x) => ['LDS', 'RDS', 'CDS', 'EDS'].every((t) => (x.xds.resources[t]?.length ?? 0) > 0 && x.xds.resources[t]?.every((r) => r.status === 'ACKED')));
      assert.equal(cp.requests.some((r) => r.kind === 'NACK'), false, 'nothing was NACKed');
      assert.ok(d.active?.listeners['virtualOutbound']);
      assert.ok(d.active?.listeners['0.0.0.0_9080']);
      assert.equal(d.active?.clusters[REVIEWS_CLUSTER]?.lbPolicy.kind, 'least_request');
      assert.ok(d.active?.clusters[RATINGS_CLUSTER]);
      assert.ok(d.active?.routes['9080']);
    });
  });
}
