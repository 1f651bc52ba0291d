import * as assert from 'node:assert/strict';
import type { CommonLbConfig, LbPolicyConfig } from '../../../../sidecar/src/config/cluster-config';
import { HostHealthFlags } from '../../../../sidecar/src/upstream/host-health-flags';
import type { Host } from '../../../../sidecar/src/upstream/host';
import { PeakEwmaBalancer, PeakEwmaEstimates } from '../../../../sidecar/src/upstream/lb/peak-ewma';
import { PeakEwmaObserver } from '../../../../sidecar/src/upstream/lb/peak-ewma-observer';
import { PriorityBalancer, type PriorityBalancerOptions } from '../../../../sidecar/src/upstream/lb/priority-balancer';
import { RoundRobinBalancer } from '../../../../sidecar/src/upstream/lb/round-robin';
import { SlowStart } from '../../../../sidecar/src/upstream/lb/slow-start';
import { fixedRandom, hosts } from '../upstream-fixtures';

const COMMON: CommonLbConfig = { healthyPanicThresholdPercent: 50, zoneAware: null, localityWeighted: false, ignoreNewHostsUntilFirstHc: false, updateMergeWindowMs: 1000, closeConnectionsOnHostSetChange: false };
const RR: LbPolicyConfig = { kind: 'round_robin', slowStart: null };

/** A uniform [0,1) sequence that walks r = 0..99 so `r % 100 + 1` visits every percent once per 100 picks. */
function sweep(): () => number {
  let i = 0;
  return () => ((i++ % 100) + 0.5) / 4_294_967_296;
}

function options(overrides: Partial<PriorityBalancerOptions> = {}): PriorityBalancerOptions {
  return { policy: RR, common: COMMON, overprovisioningFactor: 140, weightedPriorityHealth: false, localityWeight: () => null, random: sweep(), now: () => 0, stats: { lbHealthyPanic: 0 }, ...overrides };
}

/** `n` hosts at `priority`, the first `unhealthy` of them failing active HC; addresses 10.<priority>.0.<i>. */
function level(priority: number, n: number, unhealthy: number, zone = 'z'): Host[] {
  return hosts(...Array<number>(n).fill(1)).map((h, i) => {
    const copy = Object.assign(Object.create(Object.getPrototypeOf(h) as object) as Host, h, { key: `10.${priority}.0.${i + 1}:80` });
    copy.priority = priority;
    copy.locality = { region: 'r', zone, subZone: '' };
    if (i < unhealthy) copy.healthFlags = HostHealthFlags.FAILED_ACTIVE_HC;
    return copy;
  });
}

function shares(b: PriorityBalancer, picks: number): Record<string, number> {
  const out: Record<string, number> = {};
  for (let i = 0; i < picks; i++) {
    const h = b.pick({}, 0);
    const k = h === undefined ? '-' : `P${h.priority}`;
    out[k] = (out[k] ?? 0) + 1;
  }
  return out;
}

describe('PriorityBalancer (specs/load-balancing.md §1.1, §1.7-1.10)', () => {
  it('P0 10/5 healthy, P1 10/10: 70% to P0, 30% spills to P1', () => {
    const b = new PriorityBalancer([...level(0, 10, 5), ...level(1, 10, 0)], options());
    assert.deepEqual(shares(b, 1000), { P0: 700, P1: 300 });
  });

  it('P0 4/1, P1 4/4: 35/65, only healthy hosts used', () => {
    const all = [...level(0, 4, 3), ...level(1, 4, 0)];
    const b = new PriorityBalancer(all, options());
    assert.deepEqual(shares(b, 100), { P0: 35, P1: 65 });
    for (let i = 0; i < 100; i++) assert.equal(b.pick({}, 0)!.healthFlags, 0);
  });

  it('P0 4 hosts, 1 healthy (panic): every host of P0 gets traffic, counted as lb_healthy_panic', () => {
    const stats = { lbHealthyPanic: 0 };
    const b = new PriorityBalancer(level(0, 4, 3), options({ stats }));
    const seen = new Set<string>();
    for (let i = 0; i < 8; i++) seen.add(b.pick({}, 0)!.key);
    assert.equal(seen.size, 4);
    assert.equal(stats.lbHealthyPanic, 8);
    assert.equal(b.inPanic, true);
  });

  it('fail_traffic_on_panic: a priority in panic gives no host', () => {
    const b = new PriorityBalancer(level(0, 4, 3), options({ common: { ...COMMON, zoneAware: { routingEnabledPercent: 100, minClusterSize: 6, failTrafficOnPanic: true } } }));
    assert.equal(b.pick({}, 0), undefined);
  });

  it('total panic P0 4/1, P1 4/1: split 50/50 over all hosts', () => {
    const b = new PriorityBalancer([...level(0, 4, 3), ...level(1, 4, 3)], options());
    assert.deepEqual(shares(b, 100), { P0: 50, P1: 50 });
  });

  it('degraded: 2 healthy + 2 degraded -> 70% healthy, 30% degraded hosts', () => {
    const hs = level(0, 4, 0);
    hs[0]!.healthFlags = HostHealthFlags.EDS_DEGRADED;
    hs[1]!.healthFlags = HostHealthFlags.EDS_DEGRADED;
    const b = new PriorityBalancer(hs, options());
    let degraded = 0;
    for (let i = 0; i < 100; i++) if (b.pick({}, 0)!.healthFlags !== 0) degraded += 1;
    assert.equal(degraded, 30);
  });

  it('panic threshold 0, all unhealthy: no host (503 UH)', () => {
    const b = new PriorityBalancer(level(0, 4, 4), options({ common: { ...COMMON, healthyPanicThresholdPercent: 0 } }));
    assert.equal(b.pick({}, 0), undefined);
  });

  it('locality weighted: weights 2:1 with all hosts healthy -> 2:1; a locality losing half its hosts -> weight·min(1, 1.4·0.5)', () => {
    const a = level(0, 2, 0, 'a');
    const c = level(0, 2, 0, 'c').map((h) => Object.assign(h, { key: h.key.replace('10.0', '10.9') }));
    const weightOf = (h: Host): number | null => (h.locality.zone === 'a' ? 2 : 1);
    const zoneShares = (b: PriorityBalancer): Record<string, number> => {
      const out: Record<string, number> = {};
      for (let i = 0; i < 300; i++) {
        const z = b.pick({}, 0)!.locality.zone;
        out[z] = (out[z] ?? 0) + 1;
      }
      return out;
    };
    const common = { ...COMMON, localityWeighted: true };
    assert.deepEqual(zoneShares(new PriorityBalancer([...a, ...c], options({ common, localityWeight: weightOf }))), { a: 200, c: 100 });
    a[0]!.healthFlags = HostHealthFlags.FAILED_ACTIVE_HC;
    // a: 2 · min(1, 1.4 · 1/2) = 1.4; c: 1 -> 1.4 : 1 = 175 : 125 of 300.
    assert.deepEqual(zoneShares(new PriorityBalancer([...a, ...c], options({ common, localityWeight: weightOf }))), { a: 175, c: 125 });
  });

  it('locality weighted: a locality without a weight gets no load', () => {
    const a = level(0, 2, 0, 'a');
    const c = level(0, 2, 0, 'c');
    const b = new PriorityBalancer([...a, ...c], options({ common: { ...COMMON, localityWeighted: true }, localityWeight: (h) => (h.locality.zone === 'a' ? 5 : null) }));
    for (let i = 0; i < 50; i++) assert.equal(b.pick({}, 0)!.locality.zone, 'a');
  });
});

describe('SlowStart (specs/load-balancing.md §1.11)', () => {
  it('weight over time: window 10 s, aggression 1, min 10%', () => {
    let now = 0;
    const s = new SlowStart({ windowMs: 10_000, aggression: 1, minWeightPercent: 10 }, () => now);
    const [h] = hosts(10);
    h!.addedAtMs = 0;
    const table: [number, number][] = [
      [0, 1], // max(1 ms/10 s, 10%) -> 10% of 10
      [500, 1],
      [1_000, 1],
      [2_500, 2.5],
      [5_000, 5],
      [9_999, 9.999],
      [10_000, 10],
      [60_000, 10],
    ];
    for (const [t, w] of table) {
      now = t;
      assert.ok(Math.abs(s.weight(h!) - w) < 1e-9, `t=${t}: ${s.weight(h!)} != ${w}`);
    }
  });

  it('aggression 2: time_factor^(1/2); unhealthy hosts and lastHcPassAtMs', () => {
    let now = 2_500;
    const s = new SlowStart({ windowMs: 10_000, aggression: 2, minWeightPercent: 10 }, () => now);
    const [h] = hosts(100);
    h!.addedAtMs = 0;
    assert.ok(Math.abs(s.weight(h!) - 50) < 1e-9); // sqrt(0.25) = 0.5
    h!.lastHcPassAtMs = 2_400; // restarted by a health check pass 0.1 s ago: sqrt(1%) = 10%, the minimum
    assert.ok(Math.abs(s.weight(h!) - 10) < 1e-9);
    h!.lastHcPassAtMs = 2_000; // 0.5 s ago: sqrt(5%)
    assert.ok(Math.abs(s.weight(h!) - 100 * Math.sqrt(0.05)) < 1e-9);
    h!.healthFlags = HostHealthFlags.FAILED_ACTIVE_HC;
    assert.equal(s.weight(h!), 100);
    now = 20_000;
    h!.healthFlags = 0;
    assert.equal(s.weight(h!), 100);
  });

  it('RR with a new host in slow start forces EDF: the new host gets its reduced share', () => {
    const now = 100_000;
    const hs = hosts(1, 1, 1);
    hs[2]!.addedAtMs = 97_500; // 2.5 s into a 10 s window -> weight 0.25
    const b = new RoundRobinBalancer(hs, fixedRandom(0), new SlowStart({ windowMs: 10_000, aggression: 1, minWeightPercent: 10 }, () => now));
    const counts: Record<string, number> = {};
    for (let i = 0; i < 900; i++) {
      const k = b.pick()!.key;
      counts[k] = (counts[k] ?? 0) + 1;
    }
    assert.deepEqual(counts, { '10.0.0.1:80': 400, '10.0.0.2:80': 400, '10.0.0.3:80': 100 });
  });
});

describe('PeakEwmaBalancer and observer (specs/load-balancing.md §5.1)', () => {
  const OPTS = { decayMs: 10_000, defaultRttMs: 30 };
  const policy: LbPolicyConfig = { kind: 'peak_ewma', ...OPTS };

  it('estimate: peak jumps up at once, lower samples decay in with e^(-Δt/τ), reads decay toward 0', () => {
    let now = 0;
    const est = new PeakEwmaEstimates(() => now);
    const [h] = hosts(1);
    assert.equal(est.read(h!, OPTS), 30);
    est.observe(h!, 100, OPTS);
    assert.equal(est.read(h!, OPTS), 100);
    now = 10_000; // one τ later
    est.observe(h!, 0, OPTS);
    assert.ok(Math.abs(est.read(h!, OPTS) - 100 * Math.exp(-1)) < 1e-9);
  });

  it('a deterministic simulation: with one host 10x slower, P2C sends it far less traffic', () => {
    let now = 0;
    const est = new PeakEwmaEstimates(() => now);
    const observer = new PeakEwmaObserver(est);
    const hs = hosts(1, 1, 1, 1, 1);
    const slow = hs[4]!;
    const b = new PeakEwmaBalancer(hs, fixedRandom(...Array.from({ length: 97 }, (_, i) => (i * 7919) % 1000)), OPTS, est);
    const cluster = { config: { lbPolicy: policy } };
    // 2000 requests, one every 5 ms; fast hosts answer in 10 ms, the slow one in 100 ms; in-flight counted.
    const inflight: { host: Host; startedAtPerfMs: number; doneAt: number }[] = [];
    const counts = new Map<Host, number>();
    for (let i = 0; i < 2000; i++) {
      now = i * 5;
      for (let j = inflight.length - 1; j >= 0; j--) {
        const a = inflight[j]!;
        if (a.doneAt <= now) {
          a.host.activeRequests -= 1;
          const saved = now;
          now = a.doneAt;
          observer.attemptEnded(undefined, { cluster, host: a.host, startedAtPerfMs: a.startedAtPerfMs }, { kind: 'response' });
          now = saved;
          inflight.splice(j, 1);
        }
      }
      const h = b.pick()!;
      counts.set(h, (counts.get(h) ?? 0) + 1);
      h.activeRequests += 1;
      inflight.push({ host: h, startedAtPerfMs: now, doneAt: now + (h === slow ? 100 : 10) });
    }
    const slowShare = (counts.get(slow) ?? 0) / 2000;
    assert.ok(slowShare < 0.08, `slow host share ${slowShare} (round robin: 0.2)`);
  });

  it('failures count as at least the penalty RTT; cancelled attempts are ignored; other policies are ignored', () => {
    let now = 0;
    const est = new PeakEwmaEstimates(() => now);
    const observer = new PeakEwmaObserver(est);
    const [h, g] = hosts(1, 1);
    now = 5;
    observer.attemptEnded(undefined, { cluster: { config: { lbPolicy: policy } }, host: h!, startedAtPerfMs: 0 }, { kind: 'connect_failure' });
    assert.equal(est.read(h!, OPTS), 1000);
    observer.attemptEnded(undefined, { cluster: { config: { lbPolicy: policy } }, host: g!, startedAtPerfMs: 0 }, { kind: 'cancelled' });
    observer.attemptEnded(undefined, { cluster: { config: { lbPolicy: RR } }, host: g!, startedAtPerfMs: -5000 }, { kind: 'response' });
    assert.equal(est.read(g!, OPTS), 30);
  });

  it('P2C draws two distinct hosts; ties go to the first', () => {
    const hs = hosts(1, 1, 1);
    const est = new PeakEwmaEstimates(() => 0);
    // a = 1, b = 1 -> bumped to 2; equal costs -> a.
    assert.equal(new PeakEwmaBalancer(hs, fixedRandom(1, 1), OPTS, est).pick()!.key, '10.0.0.2:80');
    hs[1]!.activeRequests = 3;
    assert.equal(new PeakEwmaBalancer(hs, fixedRandom(1, 1), OPTS, est).pick()!.key, '10.0.0.3:80');
  });
});
