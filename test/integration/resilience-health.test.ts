// Active HTTP health checking through the real sidecar: a backend failing its check is marked unhealthy (and gets
// no traffic), then healthy again after healthy_threshold passes.

import * as assert from 'node:assert/strict';
import { clusterHosts, load, shares, ms, startResilienceEnv, waitFor, type ResilienceEnv } from './resilience-env';

describe('resilience: active HTTP health check (5 backends, reference control plane)', () => {
  let env: ResilienceEnv | undefined;
  afterEach(async () => {
    await env?.stop();
    env = undefined;
  });

  it('marks a backend unhealthy after a failing check and healthy again after healthy_threshold passes', async () => {
    const flaky: { forcedStatus?: number } = {};
    env = await startResilienceEnv([{}, flaky, {}, {}, {}], {
      cluster: {
        health_checks: [
          {
            timeout: ms(500),
            interval: ms(100),
            no_traffic_interval: ms(100),
            unhealthy_threshold: { value: 2 },
            healthy_threshold: { value: 2 },
            http_health_check: { path: '/healthz' },
          },
        ],
      },
    });
    const e = env;
    await waitFor(async () => [...(await clusterHosts(e)).values()].every((h) => h.health_flags === 'healthy'), 'every host passing its first check');
    const checksBefore = e.backends[0]!.backend.requests;
    assert.ok(checksBefore >= 1, 'the backend saw health checks');

    flaky.forcedStatus = 503; // not in expected_statuses and not retriable: unhealthy at once
    await waitFor(async () => (await clusterHosts(e)).get('b1')?.health_flags === '/failed_active_hc', 'b1 failing active HC');
    const served = e.backends[1]!.backend.requests;
    const replies = await load(e, 20, 2);
    assert.deepEqual(replies.map((r) => r.status).filter((s) => s !== 200), []);
    assert.equal(shares(replies).get('b1'), undefined, 'no traffic to the unhealthy host');
    assert.ok(e.backends[1]!.backend.requests - served <= 2, 'b1 only saw health checks meanwhile');

    delete flaky.forcedStatus;
    await waitFor(async () => (await clusterHosts(e)).get('b1')?.health_flags === 'healthy', 'b1 healthy again');
    const after = shares(await load(e, 20, 2));
    assert.ok((after.get('b1') ?? 0) >= 2, 'b1 back in rotation');
  });
});
