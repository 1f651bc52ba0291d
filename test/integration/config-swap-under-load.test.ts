// Config updates under load: 1,000 requests over 5 s through a sidecar fed by the reference control plane while
// it pushes an update every 100 ms (EDS endpoint sets alternating between two backend groups, route weights,
// an unrelated listener and cluster added and removed). Not one request may fail.

import * as assert from 'node:assert/strict';
import * as http from 'node:http';
import * as http2 from 'node:http2';
import { createSidecar, type Sidecar } from '../../sidecar/src/sidecar';
import { loadBootstrap } from '../../sidecar/src/xds/bootstrap-loader';
import { startHttp1Backend, type Backend } from '../support/backends';
import { h2Request } from '../support/http-clients';
import { clusterLoadAssignment, edsCluster, httpListener, startControlPlane, staticCluster, TYPE_URLS, type ControlPlaneServer, type ResourceInput } from '../support/control-plane';

const TOTAL = 1000;
const DURATION_MS = 5000;
const UPDATE_EVERY_MS = 100;

/** The service route: weighted between `svc` and `svc_canary` (both EDS), `canaryWeight` of 100 to the canary. */
function weightedRoute(canaryWeight: number): ResourceInput {
  return {
    name: 'svc_route',
    message: {
      name: 'svc_route',
      virtual_hosts: [
        {
          name: 'svc',
          domains: ['*'],
          routes: [{ match: { prefix: '/' }, route: { weighted_clusters: { clusters: [{ name: 'svc', weight: { value: 100 - canaryWeight } }, { name: 'svc_canary', weight: { value: canaryWeight } }] } } }],
        },
      ],
    },
  };
}

describe('config updates under load (reference control plane, updates every 100 ms)', function () {
  this.timeout(40_000);
  let controlPlane: ControlPlaneServer;
  let sidecar: Sidecar;
  const groupA: Backend[] = [];
  const groupB: Backend[] = [];
  let canary: Backend;

  before(async () => {
    groupA.push(await startHttp1Backend('a1'), await startHttp1Backend('a2'));
    groupB.push(await startHttp1Backend('b1'), await startHttp1Backend('b2'));
    canary = await startHttp1Backend('canary');
    controlPlane = await startControlPlane();
    controlPlane.setResources(TYPE_URLS.cds, [edsCluster('svc'), edsCluster('svc_canary')]);
    controlPlane.setResources(TYPE_URLS.eds, [clusterLoadAssignment('svc', groupA.map(endpoint)), clusterLoadAssignment('svc_canary', [endpoint(canary)])]);
    controlPlane.setResources(TYPE_URLS.lds, [httpListener('svc_listener', 0, 'svc_route', '127.0.0.1')]);
    controlPlane.setResources(TYPE_URLS.rds, [weightedRoute(10)]);
    const bootstrap = loadBootstrap({ xdsAddress: controlPlane.address, nodeId: 'sidecar~127.0.0.1~load.default~default.svc.cluster.local', adminAddress: '127.0.0.1:0' }, { env: {} });
    assert.ok(bootstrap.ok, JSON.stringify(!bootstrap.ok && bootstrap.errors));
    sidecar = await createSidecar(bootstrap.value, { xdsBackoff: { initialMs: 50, maxMs: 200 } });
    for (let i = 0; i < 400 && !sidecar.listeners.addresses().has('svc_listener'); i++) await new Promise((r) => setTimeout(r, 10));
  });

  after(async () => {
    await sidecar?.stop();
    await controlPlane?.stop();
    for (const b of [...groupA, ...groupB, canary]) await b?.close();
  });

  it('1,000 requests (HTTP/1.1 keep-alive and h2c) over 5 s with an update every 100 ms: 0 failed', async () => {
    const port = sidecar.listeners.addresses().get('svc_listener')?.port;
    assert.ok(port !== undefined, 'svc_listener is bound');
    const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });
    const session = http2.connect(`http://127.0.0.1:${port}`);
    session.on('error', () => undefined);
    const failures: string[] = [];
    const seen = new Map<string, number>();
    const versionsBefore = sidecar.store.current?.version ?? 0;

    // The update loop: every tick changes something the traffic depends on, or something next to it.
    let tick = 0;
    const updater = setInterval(() => {
      tick += 1;
      switch (tick % 3) {
        case 0:
          controlPlane.setResources(TYPE_URLS.eds, [clusterLoadAssignment('svc', (tick % 2 === 0 ? groupA : groupB).map(endpoint)), clusterLoadAssignment('svc_canary', [endpoint(canary)])]);
          break;
        case 1:
          controlPlane.setResources(TYPE_URLS.rds, [weightedRoute(tick % 2 === 0 ? 10 : 40)]);
          break;
        default: {
          const withExtra = tick % 2 === 0;
          controlPlane.setResources(TYPE_URLS.cds, [edsCluster('svc'), edsCluster('svc_canary'), ...(withExtra ? [staticCluster('extra', [endpoint(canary)])] : [])]);
          controlPlane.setResources(TYPE_URLS.lds, [httpListener('svc_listener', 0, 'svc_route', '127.0.0.1'), ...(withExtra ? [httpListener('extra_listener', 0, 'svc_route', '127.0.0.1')] : [])]);
        }
      }
    }, UPDATE_EVERY_MS);

    const one = async (i: number): Promise<void> => {
      // Backends answer after 0-300 ms, so requests stay in flight across several updates.
      const path = `/echo?delay=${(i * 37) % 300}`;
      try {
        const reply = i % 2 === 0 ? await h1Get(agent, port, path) : await h2Request(session, 'svc.test', path);
        if (reply.status !== 200) failures.push(`#${i}: status ${reply.status} ${reply.body}`);
        const name = String(reply.headers['x-backend']);
        seen.set(name, (seen.get(name) ?? 0) + 1);
      } catch (error) {
        failures.push(`#${i}: ${(error as Error).message}`);
      }
    };
    const pending: Array<Promise<void>> = [];
    const started = Date.now();
    for (let i = 0; i < TOTAL; i++) {
      const due = started + (i * DURATION_MS) / TOTAL;
      const wait = due - Date.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      pending.push(one(i));
    }
    await Promise.all(pending);
    clearInterval(updater);
    agent.destroy();
    session.close();

    assert.deepEqual(failures, [], `${failures.length} of ${TOTAL} requests failed`);
    // The updates really happened while traffic flowed, and traffic followed them.
    assert.ok((sidecar.store.current?.version ?? 0) - versionsBefore >= 20, `snapshots applied during the run: ${(sidecar.store.current?.version ?? 0) - versionsBefore}`);
    for (const name of ['a1', 'a2', 'b1', 'b2', 'canary']) assert.ok((seen.get(name) ?? 0) > 0, `${name} served traffic: ${JSON.stringify([...seen])}`);
  });

  it('a cluster removed (and its endpoints replaced) while requests are in flight on it: they finish with 200', async () => {
    const port = sidecar.listeners.addresses().get('svc_listener')?.port;
    assert.ok(port !== undefined);
    controlPlane.setResources(TYPE_URLS.rds, [weightedRoute(100)]);
    const agent = new http.Agent({ keepAlive: true });
    // Wait until the canary takes everything, then start slow requests on it.
    for (let i = 0; i < 200; i++) {
      const probe = await h1Get(agent, port, '/echo');
      if (probe.headers['x-backend'] === 'canary') break;
    }
    const slow = Array.from({ length: 20 }, () => h1Get(agent, port, '/echo?delay=800'));
    while ((sidecar.clusters.get('svc_canary')?.breaker.requests ?? 0) < 20) await new Promise((r) => setTimeout(r, 10));
    const canaryCluster = sidecar.clusters.get('svc_canary');
    // Route away, then remove the cluster and its assignment while the 20 requests sit in the backend.
    controlPlane.setResources(TYPE_URLS.rds, [weightedRoute(0)]);
    controlPlane.setResources(TYPE_URLS.cds, [edsCluster('svc')]);
    controlPlane.setResources(TYPE_URLS.eds, [clusterLoadAssignment('svc', groupB.map(endpoint))]);
    while (sidecar.clusters.get('svc_canary') === canaryCluster) await new Promise((r) => setTimeout(r, 10));
    const replies = await Promise.all(slow);
    assert.deepEqual(replies.map((r) => `${r.status} ${String(r.headers['x-backend'])}`), Array(20).fill('200 canary'));
    const after = await h1Get(agent, port, '/echo');
    assert.match(String(after.headers['x-backend']), /^b[12]$/);
    agent.destroy();
  });
});

function endpoint(backend: Backend): { host: string; port: number } {
  return { host: '127.0.0.1', port: backend.port };
}

function h1Get(agent: http.Agent, port: number, path: string): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path, agent, headers: { host: 'svc.test' } }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
      res.on('error', reject);
    });
    req.on('error', reject);
  });
}
