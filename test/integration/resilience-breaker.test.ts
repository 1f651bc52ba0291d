// Circuit breaker through the real sidecar with config from the control plane: max_requests 10, 50 concurrent slow
// requests -> 10 go upstream, 40 get 503 UO at once, nothing queues.

import * as assert from 'node:assert/strict';
import { get, startResilienceEnv, type ResilienceEnv } from './resilience-env';

describe('resilience: circuit breaker max_requests (5 backends, reference control plane)', () => {
  let env: ResilienceEnv | undefined;
  afterEach(async () => {
    await env?.stop();
    env = undefined;
  });

  it('50 concurrent slow requests with max_requests 10: the excess gets 503 with x-envoy-overloaded, never retried or queued', async () => {
    const slow = { delayMs: 1000 };
    env = await startResilienceEnv([slow, slow, slow, slow, slow], {
      cluster: { circuit_breakers: { thresholds: [{ priority: 'DEFAULT', max_requests: { value: 10 } }] } },
      route: { retry_policy: { retry_on: '5xx,reset', num_retries: { value: 3 } } },
    });
    const e = env;
    const replies = await Promise.all(Array.from({ length: 50 }, () => get(e)));
    const ok = replies.filter((r) => r.status === 200);
    const overflow = replies.filter((r) => r.status === 503);
    assert.equal(ok.length, 10);
    assert.equal(overflow.length, 40);
    for (const r of overflow) assert.equal(r.headers['x-envoy-overloaded'], 'true');
    assert.equal(e.backends.reduce((n, b) => n + b.backend.requests, 0), 10, 'nothing beyond the limit reached a backend');
    const text = await (await fetch(`http://${e.sidecar.admin.address}/clusters`)).text();
    assert.match(text, /^svc::default_priority::max_requests::10$/m);
    assert.match(text, /^svc::default_priority::remaining_rq::10$/m);
  });
});
