// Admin /clusters rendering (text and JSON) from a ClusterManager with an ejected host, without sockets.

import * as assert from 'node:assert/strict';
import type * as http from 'node:http';
import { ClustersEndpoint } from '../../../sidecar/src/admin/clusters-endpoint';
import { DEFAULT_OUTLIER_DETECTION } from '../../../sidecar/src/config/cluster-config';
import { ClusterManager } from '../../../sidecar/src/upstream/cluster-manager';
import { FakeClock, snapshot, staticCluster } from '../upstream/upstream-fixtures';

function render(endpoint: ClustersEndpoint, query: string): { status: number; body: string } {
  let status = 0;
  let body = '';
  const res = {
    writeHead(s: number) {
      status = s;
      return res;
    },
    end(b: string) {
      body = b;
    },
  } as unknown as http.ServerResponse;
  void endpoint.handle({} as http.IncomingMessage, res, new URL(`http://admin/clusters${query}`));
  return { status, body };
}

describe('admin/clusters-endpoint', () => {
  it('lists hosts with health flags, ejection state and breaker thresholds (text and JSON)', () => {
    const manager = new ClusterManager({ clock: new FakeClock(), random: () => 0 });
    manager.apply(snapshot([staticCluster('svc', [{ host: '10.0.0.1', port: 80 }, { host: '10.0.0.2', port: 80, weight: 3 }], { outlierDetection: { ...DEFAULT_OUTLIER_DETECTION, maxEjectionPercent: 50 } })]));
    const cluster = manager.get('svc')!;
    for (let i = 0; i < 5; i++) manager.outlierDetector(cluster)!.putHttpResponseCode(cluster.hosts[0]!, 503);
    const endpoint = new ClustersEndpoint(manager);
    const text = render(endpoint, '');
    assert.equal(text.status, 200);
    const lines = text.body.split('\n');
    for (const line of [
      'svc::10.0.0.1:80::health_flags::/failed_outlier_check',
      'svc::10.0.0.1:80::outlier_ejected::true',
      'svc::10.0.0.1:80::num_ejections::1',
      'svc::10.0.0.2:80::health_flags::healthy',
      'svc::10.0.0.2:80::weight::3',
      'svc::10.0.0.2:80::success_rate::-1',
      'svc::outlier::ejections_active::1',
      'svc::default_priority::max_retries::3',
      'svc::high_priority::max_connections::1024',
    ]) assert.ok(lines.includes(line), line);
    const json = JSON.parse(render(endpoint, '?format=json').body) as { cluster_statuses: { name: string; host_statuses: { health_status: { failed_outlier_check: boolean }; outlier: { last_ejection_type: string } }[] }[] };
    const hosts = json.cluster_statuses[0]!.host_statuses;
    assert.equal(hosts[0]!.health_status.failed_outlier_check, true);
    assert.equal(hosts[0]!.outlier.last_ejection_type, 'consecutive_5xx');
    assert.equal(hosts[1]!.health_status.failed_outlier_check, false);
    void manager.close();
  });
});
