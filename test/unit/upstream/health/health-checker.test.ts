// Active health checking on a fake clock with scripted probes: specs §7.7 transitions, intervals, jitter, first-success rule.

import * as assert from 'node:assert/strict';
import type { HealthCheckConfig } from '../../../../sidecar/src/config/cluster-config';
import { DEFAULT_OUTLIER_DETECTION } from '../../../../sidecar/src/config/cluster-config';
import { ClusterManager } from '../../../../sidecar/src/upstream/cluster-manager';
import { HealthChecker, type HealthCheckerDeps } from '../../../../sidecar/src/upstream/health/health-checker';
import type { ProbeResult, SessionProbe } from '../../../../sidecar/src/upstream/health/health-probe';
import { healthCheckRequestFrame, servingStatusOf } from '../../../../sidecar/src/upstream/health/grpc-probe';
import { receivedInOrder } from '../../../../sidecar/src/upstream/health/tcp-probe';
import type { Host } from '../../../../sidecar/src/upstream/host';
import { HostHealthFlags } from '../../../../sidecar/src/upstream/host-health-flags';
import { FakeClock, hosts, snapshot, staticCluster } from '../upstream-fixtures';

const F = HostHealthFlags;
const OK: ProbeResult = { kind: 'success', degraded: false };
const HTTP_503: ProbeResult = { kind: 'failure', type: 'active', retriable: false };
const RETRIABLE_429: ProbeResult = { kind: 'failure', type: 'active', retriable: true };
const REFUSED: ProbeResult = { kind: 'failure', type: 'network', retriable: false };
/** The probe never answers: the checker's timeout fires. */
const HANG = 'hang' as const;

function hcConfig(overrides: Partial<HealthCheckConfig> = {}): HealthCheckConfig {
  return {
    timeoutMs: 1000,
    intervalMs: 5000,
    initialJitterMs: 0,
    intervalJitterMs: 0,
    intervalJitterPercent: 0,
    unhealthyThreshold: 3,
    healthyThreshold: 2,
    reuseConnection: true,
    noTrafficIntervalMs: 60_000,
    noTrafficHealthyIntervalMs: 60_000,
    unhealthyIntervalMs: 5000,
    unhealthyEdgeIntervalMs: 2000,
    healthyEdgeIntervalMs: 3000,
    alwaysLogHealthCheckFailures: false,
    checker: { kind: 'tcp', send: null, receive: [] },
    ...overrides,
  };
}

/** Answers each check with the next scripted result; records when checks started. */
class ScriptedProbe implements SessionProbe {
  readonly startedAt: number[] = [];
  constructor(
    private readonly clock: FakeClock,
    private readonly script: (ProbeResult | typeof HANG)[],
  ) {}
  check(done: (r: ProbeResult) => void): void {
    this.startedAt.push(this.clock.now());
    const next = this.script.shift() ?? OK;
    if (next !== HANG) done(next);
  }
  cancel(): void {}
  close(): void {}
}

function setup(script: (ProbeResult | typeof HANG)[], overrides: Partial<HealthCheckConfig> = {}, deps: Partial<HealthCheckerDeps> = {}): { clock: FakeClock; host: Host; probe: ScriptedProbe; checker: HealthChecker } {
  const clock = new FakeClock();
  const host = hosts(1)[0]!;
  const probe = new ScriptedProbe(clock, script);
  const checker = new HealthChecker(hcConfig(overrides), [host], {
    clock,
    random: () => 0,
    clusterName: 'c',
    trafficSeen: () => true,
    ignoreNewHostsUntilFirstHc: false,
    probeFactory: () => probe,
    ...deps,
  });
  return { clock, host, probe, checker };
}

const failed = (h: Host): boolean => (h.healthFlags & F.FAILED_ACTIVE_HC) !== 0;

describe('upstream/health: state transitions (specs §7.7, §3.3)', () => {
  it('a new host is unhealthy until checked; its first 200 makes it healthy at once', () => {
    const { clock, host, probe } = setup([OK]);
    assert.equal(failed(host), true);
    clock.advance(0);
    assert.equal(failed(host), false);
    assert.deepEqual(probe.startedAt, [0]);
  });

  it('healthy host: a non-retriable 503 makes it unhealthy immediately', () => {
    const { clock, host } = setup([OK, HTTP_503]);
    clock.advance(0);
    clock.advance(5000);
    assert.equal(failed(host), true);
  });

  it('healthy host: timeouts count to unhealthy_threshold 3, with unhealthy_edge_interval while pending', () => {
    const { clock, host, probe } = setup([OK, HANG, HANG, HANG]);
    clock.advance(0); // t=0 OK -> next at 5000 (interval)
    clock.advance(6000); // t=5000 check, t=6000 timeout: pending, next after 2000 edge
    assert.equal(failed(host), false);
    clock.advance(3000); // t=8000 check, t=9000 timeout: pending
    assert.equal(failed(host), false);
    clock.advance(3000); // t=11000 check, t=12000 timeout: 3rd -> unhealthy
    assert.equal(failed(host), true);
    assert.deepEqual(probe.startedAt, [0, 5000, 8000, 11000]);
  });

  it('retriable statuses count toward the threshold like network failures', () => {
    const { clock, host } = setup([OK, RETRIABLE_429, REFUSED]);
    clock.advance(0);
    clock.advance(5000);
    clock.advance(2000);
    assert.equal(failed(host), false);
  });

  it('unhealthy host: 200 -> pending (next after healthy_edge_interval), 200 again -> healthy', () => {
    const { clock, host, probe } = setup([OK, HTTP_503, OK, OK, OK]);
    clock.advance(0);
    clock.advance(5000); // t=5000 503 -> unhealthy, next after unhealthy_interval 5000
    assert.equal(failed(host), true);
    clock.advance(5000); // t=10000 200 -> pending, next after healthy_edge_interval 3000
    assert.equal(failed(host), true);
    clock.advance(3000); // t=13000 200 -> healthy, next after interval 5000
    assert.equal(failed(host), false);
    clock.advance(5000);
    assert.deepEqual(probe.startedAt, [0, 5000, 10000, 13000, 18000]);
  });

  it('a cluster that never carried traffic checks every no_traffic_interval', () => {
    const { clock, probe } = setup([OK, OK, OK], { noTrafficIntervalMs: 60_000, noTrafficHealthyIntervalMs: 60_000 }, { trafficSeen: () => false });
    clock.advance(0);
    clock.advance(130_000);
    assert.deepEqual(probe.startedAt, [0, 60_000, 120_000]);
  });

  it('jitter only adds: random % (percent · base / 100) + random % interval_jitter', () => {
    const { checker } = setup([], { intervalJitterPercent: 10, intervalJitterMs: 300 }, { random: () => 1234.5 / 4_294_967_296 });
    // 5000 + 1234 % 500 + 1234 % 300 = 5000 + 234 + 34
    assert.equal(checker.interval(true, 'unchanged'), 5268);
  });

  it('ignore_new_hosts_until_first_hc adds PENDING_ACTIVE_HC (excluded) until the first result', () => {
    const { clock, host } = setup([REFUSED], {}, { ignoreNewHostsUntilFirstHc: true });
    assert.notEqual(host.healthFlags & F.PENDING_ACTIVE_HC, 0);
    clock.advance(0);
    assert.equal(host.healthFlags & F.PENDING_ACTIVE_HC, 0);
    assert.equal(failed(host), true);
  });

  it('a degraded success sets DEGRADED_ACTIVE_HC; stop() clears every flag it owns and its timers', () => {
    const { clock, host, checker } = setup([{ kind: 'success', degraded: true }]);
    clock.advance(0);
    assert.notEqual(host.healthFlags & F.DEGRADED_ACTIVE_HC, 0);
    checker.stop();
    assert.equal(host.healthFlags, 0);
    assert.equal(clock.pending, 0);
  });
});

describe('upstream/health: wiring through the cluster manager', () => {
  it('health_checks start sessions; a passing check un-ejects an outlier; removing the check clears its flags', () => {
    const clock = new FakeClock();
    const results: ProbeResult[] = [];
    const manager = new ClusterManager({ clock, random: () => 0, probeFactory: () => ({ check: (done) => done(results.shift() ?? OK), cancel: () => undefined, close: () => undefined }) });
    const endpoints = Array.from({ length: 10 }, (_, i) => ({ host: `10.0.0.${i + 1}`, port: 80 }));
    const base = staticCluster('c', endpoints, { outlierDetection: DEFAULT_OUTLIER_DETECTION, healthChecks: [hcConfig({ intervalMs: 1000 })] });
    manager.apply(snapshot([base]));
    const cluster = manager.get('c')!;
    assert.ok(cluster.hosts.every(failed));
    clock.advance(0);
    assert.ok(cluster.hosts.every((h) => !failed(h)));
    const h0 = cluster.hosts[0]!;
    for (let i = 0; i < 5; i++) manager.outlierDetector(cluster)!.putHttpResponseCode(h0, 500);
    assert.notEqual(h0.healthFlags & F.OUTLIER_EJECTED, 0);
    clock.advance(60_000); // next check (no traffic yet: no_traffic_interval) passes and un-ejects
    assert.equal(h0.healthFlags & F.OUTLIER_EJECTED, 0);
    manager.apply(snapshot([staticCluster('c', endpoints, { outlierDetection: null, healthChecks: [] })]));
    assert.equal(manager.healthChecker(cluster), undefined);
    assert.equal(manager.outlierDetector(cluster), undefined);
    assert.equal(clock.pending, 0);
    void manager.close();
  });
});

describe('upstream/health: slow start after a passing check (Envoy lastHcPassTime)', () => {
  it('each pass while failed stamps lastHcPassAtMs; the failed -> healthy edge is the last stamp; passes while healthy keep it', () => {
    const { clock, host } = setup([OK, HTTP_503, OK, OK, OK]);
    assert.equal(host.lastHcPassAtMs, null);
    clock.advance(0); // first check: healthy at once
    assert.equal(host.lastHcPassAtMs, 0);
    clock.advance(5000); // t=5000 503 -> unhealthy
    clock.advance(5000); // t=10000 200 -> pending
    assert.equal(host.lastHcPassAtMs, 10_000);
    clock.advance(3000); // t=13000 200 -> healthy
    assert.equal(failed(host), false);
    assert.equal(host.lastHcPassAtMs, 13_000);
    clock.advance(5000); // t=18000 200 while healthy: no new slow start
    assert.equal(host.lastHcPassAtMs, 13_000);
  });

  it('a host back from a failed check ramps up over slow_start_window as Envoy (RR, window 10 s, min 10%)', () => {
    const clock = new FakeClock();
    clock.advance(100_000); // hosts added long ago: out of their window
    const results = new Map<string, ProbeResult[]>();
    const manager = new ClusterManager({
      clock,
      random: () => 0,
      probeFactory: (_c, target) => ({ check: (done) => done(results.get(target.address)?.shift() ?? OK), cancel: () => undefined, close: () => undefined }),
    });
    const endpoints = Array.from({ length: 3 }, (_, i) => ({ host: `10.0.0.${i + 1}`, port: 80 }));
    // healthy_threshold 1 keeps the timeline short; panic off so 2 of 3 healthy never use all hosts.
    const config = staticCluster('c', endpoints, {
      lbPolicy: { kind: 'round_robin', slowStart: { windowMs: 10_000, aggression: 1, minWeightPercent: 10 } },
      healthChecks: [hcConfig({ intervalMs: 1000, unhealthyIntervalMs: 1000, healthyThreshold: 1, noTrafficIntervalMs: 1000, noTrafficHealthyIntervalMs: 1000 })],
    });
    manager.apply(snapshot([{ ...config, commonLbConfig: { ...config.commonLbConfig, healthyPanicThresholdPercent: 0 } }]));
    const cluster = manager.get('c')!;
    const h3 = cluster.hosts[2]!;
    const shareOf3 = (): number => {
      let n = 0;
      for (let i = 0; i < 900; i++) if (cluster.pick({}) === h3) n += 1;
      return n / 900;
    };
    clock.advance(0); // first checks pass at t=100000: every host's slow start began then
    clock.advance(20_000); // out of the window
    assert.ok(Math.abs(shareOf3() - 1 / 3) < 0.01);
    results.set('10.0.0.3', [HTTP_503]);
    clock.advance(1000); // t=121000: h3 fails
    assert.equal(failed(h3), true);
    assert.equal(shareOf3(), 0);
    clock.advance(1000); // t=122000: h3 passes -> healthy, slow start from here
    assert.equal(h3.lastHcPassAtMs, 122_000);
    assert.ok(shareOf3() < 0.06, 'right after the pass: max(1 ms/10 s, 10%) of its weight, ~5% of picks');
    clock.advance(5000); // halfway: weight 0.5 of 1 -> 0.5 / 2.5 = 20%
    assert.ok(Math.abs(shareOf3() - 0.2) < 0.02, `halfway share ${shareOf3()}`);
    clock.advance(6000); // past the window: an equal share again
    assert.ok(Math.abs(shareOf3() - 1 / 3) < 0.01);
    void manager.close();
  });
});

describe('upstream/health: probe encodings', () => {
  it('gRPC HealthCheckRequest frame and HealthCheckResponse status', () => {
    assert.deepEqual([...healthCheckRequestFrame('')], [0, 0, 0, 0, 0]);
    assert.deepEqual([...healthCheckRequestFrame('svc')], [0, 0, 0, 0, 5, 0x0a, 3, 0x73, 0x76, 0x63]);
    assert.equal(servingStatusOf(Buffer.from([0, 0, 0, 0, 2, 0x08, 1])), 1);
    assert.equal(servingStatusOf(Buffer.from([0, 0, 0, 0, 2, 0x08, 2])), 2);
    assert.equal(servingStatusOf(Buffer.from([0, 0, 0, 0, 0])), 0, 'absent status = UNKNOWN');
  });

  it('TCP receive blocks match in order with other bytes between them', () => {
    const b = (hex: string): Buffer => Buffer.from(hex, 'hex');
    assert.equal(receivedInOrder(b('0001ff0203'), [b('01'), b('0203')]), true);
    assert.equal(receivedInOrder(b('02030001'), [b('01'), b('0203')]), false);
  });
});
