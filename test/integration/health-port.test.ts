// The read-only health server (--health-address, Istio's 15021/15090, Linkerd's 4191) next to the admin server:
// probes and Prometheus scrapes on the health port, nothing that reads config or changes state.

import * as assert from 'node:assert/strict';
import * as net from 'node:net';
import { createSidecar, type Sidecar } from '../../sidecar/src/sidecar';
import { bootstrapFromJson, loadBootstrap } from '../../sidecar/src/xds/bootstrap-loader';
import type { JsonValue } from '../../sidecar/src/config/endpoint-config';
import {
  clusterLoadAssignment,
  edsCluster,
  httpListener,
  routeConfiguration,
  startControlPlane,
  TYPE_URLS,
  type ControlPlaneServer,
} from '../support/control-plane';

/** Polls `url` until it answers `status` (readiness flips asynchronously once the snapshot's listeners are bound). */
async function waitForStatus(url: string, status: number): Promise<void> {
  for (let i = 0; ; i++) {
    const res = await fetch(url);
    await res.arrayBuffer();
    if (res.status === status) return;
    if (i >= 2000) throw new Error(`${url} never answered ${status} (last ${res.status})`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** The metric families (`# TYPE name kind` lines) of a Prometheus text body. */
function families(text: string): string[] {
  return text.split('\n').filter((line) => line.startsWith('# TYPE ')).sort();
}

describe('health server (--health-address) next to the admin server', function () {
  this.timeout(20_000);
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

  async function start(): Promise<{ health: string; admin: string }> {
    const bootstrap = loadBootstrap(
      { xdsAddress: cp.address, nodeId: 'sidecar~10.0.0.1~reviews-v1.default~default.svc.cluster.local', adminAddress: '127.0.0.1:0', healthAddress: '127.0.0.1:0' },
      { env: {} },
    );
    assert.ok(bootstrap.ok, JSON.stringify(!bootstrap.ok && bootstrap.errors));
    sidecar = await createSidecar(bootstrap.value, { xdsBackoff: { initialMs: 50, maxMs: 200 } });
    assert.ok(sidecar.health !== undefined, 'the health server runs when an address is given');
    assert.notEqual(sidecar.health.port, sidecar.admin.port);
    return { health: `http://${sidecar.health.address}`, admin: `http://${sidecar.admin.address}` };
  }

  function serveConfig(): void {
    cp.setResources(TYPE_URLS.cds, [edsCluster('reviews')]);
    cp.setResources(TYPE_URLS.eds, [clusterLoadAssignment('reviews', [{ host: '127.0.0.1', port: 19001 }])]);
    cp.setResources(TYPE_URLS.lds, [httpListener('http_local', 0, 'local_route', '127.0.0.1')]);
    cp.setResources(TYPE_URLS.rds, [routeConfiguration('local_route', 'reviews')]);
  }

  it('/ready and /healthz/ready: 503 before the first config, 200 after, 503 while draining; /live always 200', async () => {
    const { health, admin } = await start();
    for (const path of ['/ready', '/healthz/ready']) {
      const res = await fetch(`${health}${path}`);
      assert.equal(res.status, 503, path);
      assert.equal(await res.text(), 'PRE_INITIALIZING\n');
    }
    assert.equal((await fetch(`${health}/live`)).status, 200);
    serveConfig();
    await waitForStatus(`${health}/ready`, 200);
    assert.equal(await (await fetch(`${health}/ready`)).text(), 'LIVE\n');
    assert.equal((await fetch(`${health}/healthz/ready`)).status, 200);
    assert.equal((await fetch(`${admin}/ready`)).status, 200, 'admin and health read the same ready state');
    const head = await fetch(`${health}/healthz/ready`, { method: 'HEAD' });
    assert.equal(head.status, 200);

    // Draining is started on admin (POST /drain, as SIGTERM does); the kubelet sees it on the health port.
    const drain = await fetch(`${admin}/drain?timeout=0`, { method: 'POST' });
    assert.equal(drain.status, 202);
    assert.equal((await fetch(`${health}/ready`)).status, 503);
    assert.equal((await fetch(`${health}/healthz/ready`)).status, 503);
    assert.equal((await fetch(`${admin}/ready`)).status, 503);
    assert.equal((await fetch(`${health}/live`)).status, 200);
  });

  it('/metrics and /stats/prometheus: the Prometheus text admin serves', async () => {
    const { health, admin } = await start();
    serveConfig();
    await waitForStatus(`${health}/ready`, 200);
    const fromAdmin = await (await fetch(`${admin}/stats/prometheus`)).text();
    for (const path of ['/metrics', '/stats/prometheus']) {
      const res = await fetch(`${health}${path}`);
      assert.equal(res.status, 200, path);
      assert.equal(res.headers.get('content-type'), 'text/plain; version=0.0.4; charset=utf-8');
      const text = await res.text();
      assert.match(text, /envoy_cluster_name="reviews"/);
      assert.deepEqual(families(text), families(fromAdmin), path);
    }
  });

  it('reveals no config and changes nothing: /config_dump, /clusters, /stats, /drain, /logging are 404, other methods 405', async () => {
    const { health, admin } = await start();
    serveConfig();
    await waitForStatus(`${health}/ready`, 200);
    for (const [method, path] of [['GET', '/config_dump'], ['GET', '/clusters'], ['GET', '/stats'], ['GET', '/'], ['POST', '/drain'], ['POST', '/logging?level=debug'], ['GET', '/logging'], ['GET', '/explain']] as const) {
      const res = await fetch(`${health}${path}`, { method });
      assert.equal(res.status, 404, `${method} ${path}`);
      const body = await res.text();
      assert.doesNotMatch(body, /reviews|10\.0\.0\.1/, `${method} ${path} leaks nothing`);
      assert.doesNotMatch(body.slice(body.indexOf('\n')), /\/config_dump|\/drain|\/logging|\/clusters/, 'the 404 list names only the health endpoints');
    }
    for (const [method, path] of [['POST', '/ready'], ['PUT', '/metrics'], ['DELETE', '/live'], ['POST', '/healthz/ready']] as const) {
      const res = await fetch(`${health}${path}`, { method });
      assert.equal(res.status, 405, `${method} ${path}`);
      assert.equal(res.headers.get('allow'), 'GET');
    }
    assert.equal((await fetch(`${health}/ready`)).status, 200, 'POSTs on the health port drained nothing');

    // Admin keeps every endpoint on its own address.
    const dump = (await (await fetch(`${admin}/config_dump`)).json()) as { bootstrap: { admin: string; health: string } };
    assert.equal(dump.bootstrap.health, '127.0.0.1:0', 'the dump records the configured health address');
    assert.equal((await fetch(`${admin}/clusters`)).status, 200);
    assert.equal((await fetch(`${admin}/stats`)).status, 200);
    assert.notEqual((await fetch(`${admin}/logging`, { method: 'POST' })).status, 404);
    assert.equal((await fetch(`${admin}/drain`, { method: 'POST' })).status, 202);
    assert.equal((await fetch(`${health}/ready`)).status, 503);
  });

  it('stop() closes the health port', async () => {
    const { health } = await start();
    const port = sidecar!.health!.port;
    assert.equal((await fetch(`${health}/live`)).status, 200);
    await sidecar!.stop();
    sidecar = undefined;
    await assert.rejects(new Promise<void>((resolve, reject) => {
      const socket = net.connect(port, '127.0.0.1', () => {
        socket.destroy();
        resolve();
      });
      socket.once('error', reject);
    }), /ECONNREFUSED/);
  });
});

describe('health server start errors', () => {
  it('a health address already in use is a start error naming the address', async () => {
    const taken = net.createServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
    const port = (taken.address() as net.AddressInfo).port;
    try {
      const raw = { node: { id: 'test-node', cluster: 'test' }, static_resources: { listeners: [], clusters: [] } };
      const bootstrap = bootstrapFromJson(raw as unknown as JsonValue, null, { adminAddress: '127.0.0.1:0', healthAddress: `127.0.0.1:${port}` }, { env: {} });
      assert.ok(bootstrap.ok, JSON.stringify(!bootstrap.ok && bootstrap.errors));
      await assert.rejects(createSidecar(bootstrap.value), (error: Error) => {
        assert.match(error.message, new RegExp(`^health server cannot listen on 127\\.0\\.0\\.1:${port}: .*EADDRINUSE`));
        return true;
      });
    } finally {
      await new Promise<void>((resolve) => taken.close(() => resolve()));
    }
  });
});
