// Outlier detection on a fake clock: the specs §7.3 timeline, max-ejection cases, success rate, failure percentage, local-origin split.

import * as assert from 'node:assert/strict';
import { DEFAULT_OUTLIER_DETECTION, type OutlierDetectionConfig } from '../../../../sidecar/src/config/cluster-config';
import type { Host } from '../../../../sidecar/src/upstream/host';
import { HostHealthFlags } from '../../../../sidecar/src/upstream/host-health-flags';
import { OutlierDetector } from '../../../../sidecar/src/upstream/outlier/outlier-detector';
import { grpcToHttpStatus, OutlierObserver } from '../../../../sidecar/src/upstream/outlier/outlier-observer';
import { successRateThreshold } from '../../../../sidecar/src/upstream/outlier/success-rate';
import type { UpstreamCluster } from '../../../../sidecar/src/upstream/upstream-cluster';
import { FakeClock, hosts } from '../upstream-fixtures';

const S = 1000;

function setup(n: number, overrides: Partial<OutlierDetectionConfig> = {}): { clock: FakeClock; hs: Host[]; d: OutlierDetector } {
  const clock = new FakeClock();
  const hs = hosts(...new Array<number>(n).fill(1));
  const d = new OutlierDetector({ ...DEFAULT_OUTLIER_DETECTION, ...overrides }, hs, { clock, random: () => 0 });
  return { clock, hs, d };
}

function ejected(h: Host): boolean {
  return (h.healthFlags & HostHealthFlags.OUTLIER_EJECTED) !== 0;
}

function put(d: OutlierDetector, h: Host, code: number, times = 1): void {
  for (let i = 0; i < times; i++) d.putHttpResponseCode(h, code);
}

/** Advances the fake clock to absolute time `ms`. */
function at(clock: FakeClock, ms: number): void {
  clock.advance(ms - clock.now());
}

describe('upstream/outlier: consecutive errors (specs §7.3, 10 hosts)', () => {
  it('the 5th consecutive 5xx ejects; 4 do not', () => {
    const { hs, d } = setup(10);
    const h = hs[0]!;
    put(d, h, 500, 4);
    assert.equal(ejected(h), false);
    put(d, h, 500);
    assert.equal(ejected(h), true);
    assert.equal(d.stats.ejectionsEnforced.consecutive_5xx, 1);
    assert.equal(d.stats.ejectionsActive, 1);
    assert.equal(d.stats.ejectionsEnforcedTotal, 1);
  });

  it('a 200 resets the counter: 500x4, 200, 500x5 ejects only on the 10th response', () => {
    const { hs, d } = setup(10);
    const h = hs[0]!;
    put(d, h, 500, 4);
    put(d, h, 200);
    put(d, h, 500, 4);
    assert.equal(ejected(h), false);
    put(d, h, 500);
    assert.equal(ejected(h), true);
  });

  it('503x5 detects a gateway failure (not enforced by default) and ejects once for consecutive 5xx', () => {
    const { hs, d } = setup(10);
    put(d, hs[0]!, 503, 5);
    assert.equal(d.stats.ejectionsDetected.consecutive_gateway_failure, 1);
    assert.equal(d.stats.ejectionsEnforced.consecutive_gateway_failure, 0);
    assert.equal(d.stats.ejectionsEnforced.consecutive_5xx, 1);
    assert.equal(d.stats.ejectionsActive, 1);
  });

  it('enforcing_consecutive_gateway_failure 100 ejects on 502/503/504 only; another 5xx resets the gateway counter', () => {
    const { hs, d } = setup(10, { enforcingConsecutiveGatewayFailure: 100, consecutive5xx: 100 });
    put(d, hs[0]!, 502, 2);
    put(d, hs[0]!, 500);
    put(d, hs[0]!, 504, 4);
    assert.equal(ejected(hs[0]!), false);
    put(d, hs[0]!, 503);
    assert.equal(ejected(hs[0]!), true);
    assert.equal(d.stats.ejectionsEnforced.consecutive_gateway_failure, 1);
  });

  it('enforcing 0 detects without ejecting and resets the counter', () => {
    const { hs, d } = setup(10, { enforcingConsecutive5xx: 0 });
    put(d, hs[0]!, 500, 10);
    assert.equal(ejected(hs[0]!), false);
    assert.equal(d.stats.ejectionsDetected.consecutive_5xx, 2);
    assert.equal(d.stats.ejectionsEnforced.consecutive_5xx, 0);
  });

  it('errors while ejected do not re-trigger (the counter keeps climbing until the uneject reset)', () => {
    const { clock, hs, d } = setup(10);
    const h = hs[0]!;
    put(d, h, 500, 5);
    put(d, h, 500, 5);
    assert.equal(d.stats.ejectionsDetected.consecutive_5xx, 1);
    assert.equal(d.hostView(h)?.consecutive5xx, 5);
    at(clock, 30 * S);
    assert.equal(ejected(h), false);
    assert.equal(d.hostView(h)?.consecutive5xx, 0);
  });
});

describe('upstream/outlier: ejection time, un-eject ticks and decay (specs §7.3, §2.4)', () => {
  it('ejected at t=5 is back at the t=40 tick, not t=35', () => {
    const { clock, hs, d } = setup(10);
    const h = hs[0]!;
    at(clock, 5 * S);
    put(d, h, 500, 5);
    at(clock, 39_999);
    assert.equal(ejected(h), true);
    at(clock, 40 * S);
    assert.equal(ejected(h), false);
    assert.equal(d.stats.ejectionsActive, 0);
  });

  it('re-ejected at t=45 (backoff not decayed) lasts 60 s: back at the t=110 tick', () => {
    const { clock, hs, d } = setup(10);
    const h = hs[0]!;
    at(clock, 5 * S);
    put(d, h, 500, 5);
    at(clock, 45 * S);
    assert.equal(ejected(h), false);
    put(d, h, 500, 5);
    assert.equal(ejected(h), true);
    assert.equal(d.hostView(h)?.ejectionBackoff, 2);
    at(clock, 100 * S);
    assert.equal(ejected(h), true, '55 s < 60 s at the t=100 tick');
    at(clock, 110 * S);
    assert.equal(ejected(h), false);
    assert.equal(d.hostView(h)?.numEjections, 2);
  });

  it('re-ejected at t=55 (the t=50 tick decayed backoff 1 -> 0) lasts 30 s again: back at t=90', () => {
    const { clock, hs, d } = setup(10);
    const h = hs[0]!;
    at(clock, 5 * S);
    put(d, h, 500, 5);
    at(clock, 50 * S);
    assert.equal(d.hostView(h)?.ejectionBackoff, 0);
    at(clock, 55 * S);
    put(d, h, 500, 5);
    assert.equal(d.hostView(h)?.ejectionBackoff, 1);
    at(clock, 80 * S);
    assert.equal(ejected(h), true);
    at(clock, 90 * S);
    assert.equal(ejected(h), false);
  });

  it('the k-th back-to-back ejection lasts min(k x 30, 300) s', () => {
    const { clock, hs, d } = setup(10);
    const h = hs[0]!;
    const durations: number[] = [];
    for (let k = 1; k <= 12; k++) {
      put(d, h, 500, 5);
      const start = clock.now();
      assert.equal(ejected(h), true);
      while (ejected(h)) clock.advance(10 * S);
      durations.push((clock.now() - start) / S);
    }
    // Ejections happen right on a tick here, so each lasts exactly its ejection time.
    assert.deepEqual(durations, [30, 60, 90, 120, 150, 180, 210, 240, 270, 300, 300, 300]);
    assert.equal(d.hostView(h)?.ejectionBackoff, 11, 'backoff stops growing once backoff x base >= max + base');
  });

  it('max_ejection_time_jitter adds random() % (jitter + 1) ms', () => {
    const clock = new FakeClock();
    const hs = hosts(...new Array<number>(10).fill(1));
    const d = new OutlierDetector({ ...DEFAULT_OUTLIER_DETECTION, maxEjectionTimeJitterMs: 20_000 }, hs, { clock, random: () => 15_000.5 / 4_294_967_296 });
    put(d, hs[0]!, 500, 5);
    at(clock, 40 * S);
    assert.equal(ejected(hs[0]!), true, '30 s + 15 s jitter not over at t=40');
    at(clock, 50 * S);
    assert.equal(ejected(hs[0]!), false);
  });
});

describe('upstream/outlier: max_ejection_percent with 3 hosts (specs §7.3, §2.3)', () => {
  function ejectAll(d: OutlierDetector, hs: Host[]): boolean[] {
    for (const h of hs) put(d, h, 500, 5);
    return hs.map(ejected);
  }

  it('default 10%: no ejection at all (33% > 10%), ejections_overflow counted', () => {
    const { hs, d } = setup(3);
    put(d, hs[0]!, 500, 5);
    assert.equal(ejected(hs[0]!), false);
    assert.equal(d.stats.ejectionsOverflow, 1);
    assert.equal(d.stats.ejectionsDetected.consecutive_5xx, 0);
  });

  it('always_eject_one_host: the first is ejected, the second overflows', () => {
    const { hs, d } = setup(3, { alwaysEjectOneHost: true });
    assert.deepEqual(ejectAll(d, hs.slice(0, 2)), [true, false]);
    assert.equal(d.stats.ejectionsOverflow, 1);
  });

  it('50%: first ejected (33.3%), second overflows (66.7%)', () => {
    const { hs, d } = setup(3, { maxEjectionPercent: 50 });
    assert.deepEqual(ejectAll(d, hs.slice(0, 2)), [true, false]);
  });

  it('67%: two ejected, the third overflows (100%)', () => {
    const { hs, d } = setup(3, { maxEjectionPercent: 67 });
    assert.deepEqual(ejectAll(d, hs), [true, true, false]);
    assert.equal(d.stats.ejectionsActive, 2);
  });

  it('10 hosts is the smallest cluster that can eject at the default 10%', () => {
    const nine = setup(9);
    put(nine.d, nine.hs[0]!, 500, 5);
    assert.equal(ejected(nine.hs[0]!), false);
    const ten = setup(10);
    put(ten.d, ten.hs[0]!, 500, 5);
    assert.equal(ejected(ten.hs[0]!), true);
  });
});

describe('upstream/outlier: success rate and failure percentage (specs §7.3, §2.5)', () => {
  it('threshold = mean − 1.9 · population stdev', () => {
    const cases: [number[], number][] = [
      [[50, 100, 100, 100, 100], 52],
      [[90, 100, 100, 100, 100], 90.4],
      [[95, 96, 97, 98, 99], 94.3134],
      [[80, 80, 100, 100, 100], 73.3839],
    ];
    for (const [rates, expected] of cases) assert.ok(Math.abs(successRateThreshold(rates, 1.9).threshold - expected) < 1e-3, `${rates.join(',')} -> ${expected}`);
    const t = successRateThreshold([50, 100, 100, 100, 100], 1.9);
    assert.equal(t.mean, 90);
    assert.equal(t.stdev, 20);
  });

  /** Each host gets 100 requests with `successes[i]` successes, then one interval passes. */
  const NO_CONSECUTIVE = { consecutive5xx: 1000, consecutiveGatewayFailure: 1000 };

  function srRound(rates: number[], overrides: Partial<OutlierDetectionConfig> = {}): { clock: FakeClock; hs: Host[]; d: OutlierDetector } {
    const { clock, hs, d } = setup(rates.length, { maxEjectionPercent: 100, ...NO_CONSECUTIVE, ...overrides });
    rates.forEach((ok, i) => {
      for (let r = 0; r < 100; r++) d.putHttpResponseCode(hs[i]!, r < ok ? 200 : 500);
    });
    clock.advance(10 * S);
    return { clock, hs, d };
  }

  it('{50,100,100,100,100}: the 50% host is ejected', () => {
    const { hs, d } = srRound([50, 100, 100, 100, 100]);
    assert.deepEqual(hs.map(ejected), [true, false, false, false, false]);
    assert.equal(d.stats.ejectionsEnforced.success_rate, 1);
    assert.equal(d.successRateStats('external')?.threshold, 52);
    assert.equal(d.hostView(hs[0]!)?.successRate, 50);
  });

  it('{90,100,100,100,100}: the 90% host is ejected (threshold 90.4)', () => {
    assert.deepEqual(srRound([90, 100, 100, 100, 100]).hs.map(ejected), [true, false, false, false, false]);
  });

  it('{95,...,99} and {80,80,100,100,100}: none ejected', () => {
    assert.deepEqual(srRound([95, 96, 97, 98, 99]).hs.map(ejected), [false, false, false, false, false]);
    assert.deepEqual(srRound([80, 80, 100, 100, 100]).hs.map(ejected), [false, false, false, false, false]);
  });

  it('only 4 hosts with volume >= 100: no success-rate evaluation', () => {
    const { clock, hs, d } = setup(5, { maxEjectionPercent: 100, ...NO_CONSECUTIVE });
    for (let i = 0; i < 5; i++) for (let r = 0; r < (i === 4 ? 99 : 100); r++) d.putHttpResponseCode(hs[i]!, i === 0 && r < 50 ? 500 : 200);
    for (let r = 0; r < 50; r++) d.putHttpResponseCode(hs[0]!, 500); // volume 150 but still just 4 valid hosts
    clock.advance(10 * S);
    assert.equal(d.successRateStats('external'), null);
    assert.equal(hs.some(ejected), false);
  });

  it('statistics use the interval that just ended, then reset', () => {
    const { clock, hs, d } = srRound([50, 100, 100, 100, 100]);
    clock.advance(10 * S);
    assert.equal(d.hostView(hs[1]!)?.successRate, -1, 'no requests in the last interval');
  });

  it('failure percentage 86% (43 of 50 fail, threshold 85): detected, not enforced by default', () => {
    const { clock, hs, d } = setup(5, { maxEjectionPercent: 100, ...NO_CONSECUTIVE, successRateRequestVolume: 1000 });
    for (let i = 0; i < 5; i++) for (let r = 0; r < 50; r++) d.putHttpResponseCode(hs[i]!, i === 0 && r < 43 ? 503 : 200);
    clock.advance(10 * S);
    assert.equal(d.stats.ejectionsDetected.failure_percentage, 1);
    assert.equal(ejected(hs[0]!), false);
  });

  it('failure percentage with enforcing_failure_percentage 100 ejects at >= threshold', () => {
    const { clock, hs, d } = setup(5, { maxEjectionPercent: 100, ...NO_CONSECUTIVE, successRateRequestVolume: 1000, enforcingFailurePercentage: 100, failurePercentageThreshold: 86 });
    for (let i = 0; i < 5; i++) for (let r = 0; r < 50; r++) d.putHttpResponseCode(hs[i]!, i === 0 && r < 43 ? 500 : 200);
    clock.advance(10 * S);
    assert.equal(d.stats.ejectionsEnforced.failure_percentage, 1);
    assert.equal(ejected(hs[0]!), true);
  });
});

describe('upstream/outlier: locally originated errors (specs §2.2)', () => {
  it('without the split a connect failure counts as 503 and a timeout as 504 (both 5xx and gateway)', () => {
    const { hs, d } = setup(10, { enforcingConsecutiveGatewayFailure: 100 });
    d.putResult(hs[0]!, 'connect_failed');
    d.putResult(hs[0]!, 'timeout', 504);
    d.putResult(hs[0]!, 'connect_success'); // ignored without the split
    d.putResult(hs[0]!, 'connect_failed');
    d.putResult(hs[0]!, 'connect_failed');
    assert.equal(ejected(hs[0]!), false);
    d.putResult(hs[0]!, 'timeout');
    assert.equal(ejected(hs[0]!), true);
    assert.equal(d.stats.ejectionsEnforced.consecutive_gateway_failure, 1);
  });

  it('with split_external_local_origin_errors: local failures eject on their own counter; 5xx do not touch it', () => {
    const { hs, d } = setup(10, { splitExternalLocalOriginErrors: true });
    const h = hs[0]!;
    for (let i = 0; i < 4; i++) d.putResult(h, 'connect_failed');
    put(d, h, 500, 4); // external path only
    d.putResult(h, 'connect_success'); // resets the local counter
    for (let i = 0; i < 4; i++) d.putResult(h, 'timeout');
    assert.equal(ejected(h), false);
    d.putResult(h, 'connect_failed');
    assert.equal(ejected(h), true);
    assert.equal(d.stats.ejectionsEnforced.consecutive_local_origin_failure, 1);
    assert.equal(d.hostView(h)?.consecutive5xx, 4);
  });

  it('split mode keeps a local-origin success rate', () => {
    const { clock, hs, d } = setup(5, { splitExternalLocalOriginErrors: true, maxEjectionPercent: 100, consecutiveLocalOriginFailure: 1000 });
    for (let i = 0; i < 5; i++) for (let r = 0; r < 100; r++) d.putResult(hs[i]!, i === 0 && r < 50 ? 'connect_failed' : 'connect_success');
    clock.advance(10 * S);
    assert.equal(d.hostView(hs[0]!)?.localOriginSuccessRate, 50);
    assert.equal(d.stats.ejectionsEnforced.local_origin_success_rate, 1);
  });
});

describe('upstream/outlier: active health check and membership', () => {
  it('a passing active check un-ejects (successful_active_health_check_uneject_host) and resets the counters', () => {
    const { hs, d } = setup(10);
    put(d, hs[0]!, 500, 5);
    d.onActiveHealthCheckSuccess(hs[0]!);
    assert.equal(ejected(hs[0]!), false);
    assert.equal(d.stats.ejectionsActive, 0);
    const off = setup(10, { successfulActiveHealthCheckUnejectHost: false });
    put(off.d, off.hs[0]!, 500, 5);
    off.d.onActiveHealthCheckSuccess(off.hs[0]!);
    assert.equal(ejected(off.hs[0]!), true);
  });

  it('a removed ejected host leaves ejections_active; stop() clears every ejection', () => {
    const { hs, d } = setup(10, { maxEjectionPercent: 100 });
    put(d, hs[0]!, 500, 5);
    put(d, hs[1]!, 500, 5);
    d.hostsChanged([], [hs[0]!]);
    assert.equal(d.stats.ejectionsActive, 1);
    d.stop();
    assert.equal(ejected(hs[1]!), false);
  });
});

describe('upstream/outlier: OutlierObserver maps attempt results as the router does', () => {
  it('gRPC status in headers mapped first; resets as 503; timeouts as 504; cancelled ignored', () => {
    const { hs, d } = setup(10, { enforcingConsecutiveGatewayFailure: 100, consecutive5xx: 1000 });
    const cluster = {} as UpstreamCluster;
    const o = new OutlierObserver((c) => (c === cluster ? d : undefined));
    const attempt = { cluster, host: hs[0]! };
    o.attemptEnded({ isGrpc: true }, attempt, { kind: 'response', status: 200, grpcStatus: 14 });
    o.attemptEnded({ isGrpc: false }, attempt, { kind: 'reset' });
    o.attemptEnded({ isGrpc: false }, attempt, { kind: 'cancelled' });
    o.attemptEnded({ isGrpc: false }, attempt, { kind: 'per_try_timeout' });
    o.attemptEnded({ isGrpc: false }, attempt, { kind: 'connect_failure' });
    assert.equal(d.hostView(hs[0]!)?.consecutiveGatewayFailure, 4);
    o.attemptEnded({ isGrpc: true }, attempt, { kind: 'response', status: 200, grpcStatus: 0 });
    assert.equal(d.hostView(hs[0]!)?.consecutiveGatewayFailure, 0);
    assert.deepEqual([0, 1, 2, 4, 8, 12, 13, 14, 16, 99].map(grpcToHttpStatus), [200, 499, 500, 504, 429, 501, 500, 503, 401, 500]);
  });
});
