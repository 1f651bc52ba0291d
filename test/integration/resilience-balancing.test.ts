// Balancing through the real sidecar with config from the control plane: a 10x slower backend gets markedly less
// traffic under least request and peak-EWMA than round robin; ring hash / maglev keep users sticky and move
// few on removal; priority 1 takes the spill-over when priority 0 loses hosts, in the specs §1.7 proportion.

import * as assert from 'node:assert/strict';
import { PEAK_EWMA_TYPE_URL } from '../../sidecar/src/config/cluster-config';
import { CLUSTER, get, load, packAny, serve, shares, startResilienceEnv, waitFor, type ResilienceEnv, type ServedConfig } from './resilience-env';

const PEAK_EWMA_POLICY = {
  load_balancing_policy: {
    policies: [{ typed_extension_config: { name: 'meshlet.peak_ewma', typed_config: packAny('xds.type.v3.TypedStruct', { type_url: PEAK_EWMA_TYPE_URL, value: { fields: {} } }) } }],
  },
};

describe('resilience: balancing (5 backends, reference control plane)', () => {
  let env: ResilienceEnv | undefined;
  afterEach(async () => {
    await env?.stop();
    env = undefined;
  });

  /** The slow backend's share of 100 requests, 5 in flight at a time. */
  async function slowShare(cluster: Record<string, unknown>): Promise<number> {
    env = await startResilienceEnv([{ delayMs: 10 }, { delayMs: 10 }, { delayMs: 10 }, { delayMs: 10 }, { delayMs: 100 }], { cluster });
    const replies = await load(env, 100, 5);
    assert.deepEqual(replies.map((r) => r.status).filter((s) => s !== 200), []);
    const share = (shares(replies).get('b4') ?? 0) / replies.length;
    await env.stop();
    env = undefined;
    return share;
  }

  it('one backend 10x slower: least request and peak-EWMA send it markedly less than round robin', async () => {
    const rr = await slowShare({ lb_policy: 'ROUND_ROBIN' });
    const lr = await slowShare({ lb_policy: 'LEAST_REQUEST' });
    const ewma = await slowShare(PEAK_EWMA_POLICY);
    assert.ok(rr >= 0.15 && rr <= 0.25, `round robin gives the slow host its 1/5 (${rr})`);
    assert.ok(lr <= rr * 0.6, `least request ${lr} vs round robin ${rr}`);
    assert.ok(ewma <= rr * 0.6, `peak-EWMA ${ewma} vs round robin ${rr}`);
  });

  for (const [policy, hashPolicy, headerFor] of [
    ['RING_HASH', { header: { header_name: 'x-user' } }, (u: string) => ({ 'x-user': u })],
    ['MAGLEV', { cookie: { name: 'session' } }, (u: string) => ({ cookie: `theme=dark; session=${u}` })],
  ] as const) {
    it(`sticky sessions with ${policy} (${'header' in hashPolicy ? 'header' : 'cookie'}): same key, same backend; removing one moves few others`, async () => {
      const config: ServedConfig = { cluster: { lb_policy: policy }, route: { hash_policy: [hashPolicy] } };
      env = await startResilienceEnv([{}, {}, {}, {}, {}], config);
      const e = env;
      const users = Array.from({ length: 40 }, (_, i) => `user-${i}`);
      const placed = new Map<string, string>();
      for (const u of users) {
        const first = String((await get(e, '/', headerFor(u))).headers['x-backend']);
        const second = String((await get(e, '/', headerFor(u))).headers['x-backend']);
        assert.equal(second, first, `${u} stays on ${first}`);
        placed.set(u, first);
      }
      assert.ok(new Set(placed.values()).size >= 4, 'keys spread over the backends');
      serve(e.cp, e.backends, { ...config, priorities: [[0, 1, 2, 3]] });
      await waitFor(() => e.sidecar.clusters.get(CLUSTER)?.hosts.length === 4, 'b4 removed');
      // Consistent hashing moves few keys, not zero: the ring gives each remaining host more points (205 -> 256 of
      // ~1024) and maglev refills its table, so some keys change hands between surviving hosts too. Modulo hashing
      // would move about 80% of them.
      let stayed = 0;
      let kept = 0;
      for (const u of users) {
        const now = String((await get(e, '/', headerFor(u))).headers['x-backend']);
        assert.notEqual(now, 'b4');
        if (placed.get(u) === 'b4') continue;
        kept += 1;
        if (now === placed.get(u)) stayed += 1;
      }
      assert.ok(stayed >= kept * 0.7, `${stayed} of ${kept} users on surviving backends stayed`);
    });
  }

  it('priority failover: P0 keeps all traffic while healthy; with 1 of 3 healthy it keeps 140·1/3 = 46% and P1 takes the rest', async () => {
    env = await startResilienceEnv([{}, {}, {}, {}, {}], { priorities: [[0, 1, 2], [3, 4]] });
    const e = env;
    const healthy = shares(await load(e, 30, 3));
    assert.equal((healthy.get('b3') ?? 0) + (healthy.get('b4') ?? 0), 0, 'P1 idle while P0 is healthy');
    serve(e.cp, e.backends, { priorities: [[0, { index: 1, health: 'UNHEALTHY' }, { index: 2, health: 'UNHEALTHY' }], [3, 4]] });
    await waitFor(() => e.sidecar.clusters.get(CLUSTER)?.hosts.filter((h) => h.healthFlags !== 0).length === 2, 'two P0 hosts unhealthy');
    const replies = await load(e, 200, 4);
    const s = shares(replies);
    const p0 = (s.get('b0') ?? 0) / replies.length;
    assert.equal((s.get('b1') ?? 0) + (s.get('b2') ?? 0), 0, 'unhealthy P0 hosts get nothing (no panic: normalized availability is 100)');
    // 200 draws around 0.46: 3 sigma is about 0.11.
    assert.ok(p0 >= 0.34 && p0 <= 0.58, `P0 share ${p0}, expected about 0.46`);
  });
});
