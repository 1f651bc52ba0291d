// Zone-aware routing through a real sidecar: a static bootstrap with node.locality and cluster_manager.local_cluster_name,
// 6 loopback backends in zones a and b; the shares the backends see follow Envoy's direct / residual rules.

import * as assert from 'node:assert/strict';
import type { JsonValue } from '../../sidecar/src/config/endpoint-config';
import { createSidecar, type Sidecar } from '../../sidecar/src/sidecar';
import { bootstrapFromJson } from '../../sidecar/src/xds/bootstrap-loader';
import { startHttp1Backend, type Backend } from '../support/backends';
import { h1Request } from '../support/http-clients';
import { httpListener, listenerPort, socketAddress } from '../support/sidecar';

const ZONE_A = { region: 'us-east1', zone: 'us-east1-a' };
const ZONE_B = { region: 'us-east1', zone: 'us-east1-b' };

/** A STATIC cluster with one locality entry per zone. */
function zonedCluster(name: string, zones: readonly { locality: object; ports: readonly number[] }[], extra: Record<string, unknown> = {}): object {
  return {
    name,
    type: 'STATIC',
    connect_timeout: '1s',
    load_assignment: { cluster_name: name, endpoints: zones.map((z) => ({ locality: z.locality, lb_endpoints: z.ports.map((port) => ({ endpoint: { address: socketAddress(port) } })) })) },
    ...extra,
  };
}

/** The local cluster only describes where this service's instances run: the ports are never dialled. */
function localCluster(a: number, b: number): object {
  return zonedCluster('self', [
    { locality: ZONE_A, ports: Array.from({ length: a }, (_, i) => 1000 + i) },
    { locality: ZONE_B, ports: Array.from({ length: b }, (_, i) => 2000 + i) },
  ]);
}

async function start(local: object, upstreamExtra: Record<string, unknown>, backends: readonly Backend[]): Promise<Sidecar> {
  const raw = {
    node: { id: 'zone-test', cluster: 'self', locality: ZONE_A },
    cluster_manager: { local_cluster_name: 'self' },
    static_resources: {
      listeners: [httpListener('in', [{ name: 'all', domains: ['*'], routes: [{ match: { prefix: '/' }, route: { cluster: 'svc' } }] }])],
      clusters: [
        local,
        zonedCluster(
          'svc',
          [
            { locality: ZONE_A, ports: backends.slice(0, 3).map((b) => b.port) },
            { locality: ZONE_B, ports: backends.slice(3).map((b) => b.port) },
          ],
          upstreamExtra,
        ),
      ],
    },
  };
  const bootstrap = bootstrapFromJson(raw as unknown as JsonValue, null, { adminAddress: '127.0.0.1:0' }, { env: {} });
  assert.ok(bootstrap.ok, bootstrap.ok ? '' : bootstrap.errors.map((e) => `${e.path}: ${e.message}`).join('\n'));
  const sidecar = await createSidecar(bootstrap.value);
  await sidecar.whenListenersApplied();
  return sidecar;
}

/** Sends `n` requests (a few at a time) and returns the share of those served by zone-a backends, in percent. */
async function zoneAShare(sidecar: Sidecar, backends: readonly Backend[], n: number): Promise<number> {
  for (const b of backends) b.requests = 0;
  const port = listenerPort(sidecar, 'in');
  for (let i = 0; i < n; i += 10) {
    const replies = await Promise.all(Array.from({ length: 10 }, () => h1Request(port, 'svc', '/')));
    for (const r of replies) assert.equal(r.status, 200);
  }
  const a = backends.slice(0, 3).reduce((s, b) => s + b.requests, 0);
  return (100 * a) / n;
}

describe('integration: zone-aware routing (local_cluster_name + node.locality)', function () {
  this.timeout(30_000);
  let backends: Backend[] = [];
  let sidecar: Sidecar | undefined;

  beforeEach(async () => {
    backends = await Promise.all(Array.from({ length: 6 }, (_, i) => startHttp1Backend(`${i < 3 ? 'a' : 'b'}${i % 3}`)));
  });

  afterEach(async () => {
    await sidecar?.stop();
    sidecar = undefined;
    await Promise.all(backends.map((b) => b.close()));
  });

  it('direct: this zone holds 25% of the callers and 50% of the upstream -> every request stays in zone a', async () => {
    sidecar = await start(localCluster(1, 3), { lb_policy: 'LEAST_REQUEST' }, backends);
    assert.equal(await zoneAShare(sidecar, backends, 200), 100);
    const svc = sidecar.clusters.get('svc')!;
    assert.ok(svc.stats.lbZoneRoutingAllDirectly >= 200);
  });

  it('residual: 75% of the callers here, 50% of the upstream -> 2/3 local, the rest to zone b', async () => {
    sidecar = await start(localCluster(3, 1), {}, backends);
    const share = await zoneAShare(sidecar, backends, 600);
    // 5000 · 10000 / 7500 = 6666 of 10000 draws stay local; binomial sd over 600 ~ 1.9 points.
    assert.ok(Math.abs(share - 66.7) < 8, `zone a share ${share}`);
    const svc = sidecar.clusters.get('svc')!;
    assert.ok(svc.stats.lbZoneRoutingSampled > 0 && svc.stats.lbZoneRoutingCrossZone > 0);
  });

  it('min_cluster_size above the healthy host count turns it off: both zones share the load', async () => {
    sidecar = await start(localCluster(1, 3), { common_lb_config: { zone_aware_lb_config: { min_cluster_size: 7 } } }, backends);
    const share = await zoneAShare(sidecar, backends, 300);
    assert.ok(Math.abs(share - 50) < 12, `zone a share ${share}`);
    assert.ok(sidecar.clusters.get('svc')!.stats.lbZoneClusterTooSmall > 0);
  });
});
