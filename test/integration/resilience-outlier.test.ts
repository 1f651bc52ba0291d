// Outlier detection through the real proxy: a backend answering 500 is ejected after consecutive_5xx, retries on
// 5xx hide it from the client, /clusters shows the ejection, and the host comes back after the ejection time.

import * as assert from 'node:assert/strict';
import { clusterHosts, get, ms, startResilienceEnv, waitFor, type ResilienceEnv } from './resilience-env';

describe('resilience: outlier detection (5 backends, reference control plane)', () => {
  let env: ResilienceEnv | undefined;
  afterEach(async () => {
    await env?.stop();
    env = undefined;
  });

  it('ejects the failing backend after 5 consecutive 5xx, the client sees 0 errors with retry_on 5xx, it returns after the ejection time', async () => {
    const failing: { forcedStatus?: number } = { forcedStatus: 500 };
    env = await startResilienceEnv([{}, {}, failing, {}, {}], {
      cluster: {
        outlier_detection: {
          consecutive_5xx: { value: 5 },
          interval: ms(100),
          base_ejection_time: ms(2000),
          // 5 hosts: one ejection is 20% of the cluster (the default 10% could eject none, specs §2.3).
          max_ejection_percent: { value: 20 },
        },
      },
      route: {
        retry_policy: {
          retry_on: '5xx',
          num_retries: { value: 3 },
          // By name: the typed config (PreviousHostsPredicate) is empty and not among the vendored protos.
          retry_host_predicate: [{ name: 'envoy.retry_host_predicates.previous_hosts' }],
          host_selection_retry_max_attempts: 5,
        },
      },
    });
    const e = env;
    const b2 = e.backends[2]!.backend;
    const statuses: number[] = [];
    for (let i = 0; i < 40; i++) statuses.push((await get(e)).status);
    assert.deepEqual(statuses.filter((s) => s !== 200), [], 'no client-visible error');
    assert.equal(b2.requests, 5, 'ejected on the 5th consecutive 500, then no more traffic');

    const hosts = await clusterHosts(e);
    assert.equal(hosts.get('b2')?.health_flags, '/failed_outlier_check');
    assert.deepEqual(hosts.get('b2')?.outlier && { ejected: hosts.get('b2')!.outlier!.ejected, n: hosts.get('b2')!.outlier!.num_ejections }, { ejected: true, n: 1 });
    assert.equal(hosts.get('b0')?.health_flags, 'healthy');
    const text = await (await fetch(`http://${e.sidecar.admin.address}/clusters`)).text();
    assert.match(text, new RegExp(`^svc::127\\.0\\.0\\.1:${b2.port}::health_flags::/failed_outlier_check$`, 'm'));
    assert.match(text, /^svc::outlier::ejections_active::1$/m);
    assert.match(text, /^svc::default_priority::max_requests::1024$/m);

    delete failing.forcedStatus;
    await waitFor(async () => (await clusterHosts(e)).get('b2')?.health_flags === 'healthy', 'b2 un-ejected after base_ejection_time', 6000);
    const before = b2.requests;
    for (let i = 0; i < 20; i++) assert.equal((await get(e)).status, 200);
    assert.ok(b2.requests - before >= 2, `b2 gets traffic again (${b2.requests - before} of 20)`);
  });
});
