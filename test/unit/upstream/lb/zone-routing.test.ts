// Zone-aware routing (specs/load-balancing.md §1.9): locality percentages, direct vs residual, early exits, panic,
// and the ClusterManager wiring with a local cluster (its changes rebuild the upstream balancer).

import * as assert from 'node:assert/strict';
import type { ClusterConfig, CommonLbConfig, LbPolicyConfig } from '../../../../sidecar/src/config/cluster-config';
import type { EndpointConfig, LocalityConfig } from '../../../../sidecar/src/config/endpoint-config';
import { ClusterManager } from '../../../../sidecar/src/upstream/cluster-manager';
import { Host } from '../../../../sidecar/src/upstream/host';
import { HostHealthFlags } from '../../../../sidecar/src/upstream/host-health-flags';
import { PriorityBalancer, type PriorityBalancerOptions } from '../../../../sidecar/src/upstream/lb/priority-balancer';
import { DEFAULT_ZONE_AWARE, emptyZoneRoutingStats, ZONE_FAIL, ZONE_NOT_ROUTED, ZoneRouting } from '../../../../sidecar/src/upstream/lb/zone-routing';
import { assignment, clusterConfig, fixedRandom, snapshot, TEST_POOL_SETTINGS } from '../upstream-fixtures';

const COMMON: CommonLbConfig = { healthyPanicThresholdPercent: 50, zoneAware: null, localityWeighted: false, ignoreNewHostsUntilFirstHc: false, updateMergeWindowMs: 1000, closeConnectionsOnHostSetChange: false };
const RR: LbPolicyConfig = { kind: 'round_robin', slowStart: null };
const A: LocalityConfig = { region: 'r', zone: 'a', subZone: '' };

let nextIp = 1;
/** `counts[zone]` hosts in each zone, the first `failed[zone]` of them failing active HC. */
function zoned(counts: Record<string, number>, failed: Record<string, number> = {}): Host[] {
  const out: Host[] = [];
  for (const [zone, n] of Object.entries(counts)) {
    for (let i = 0; i < n; i++) {
      const h = new Host(`10.1.${zone.charCodeAt(0)}.${nextIp++ % 250}`, 80, TEST_POOL_SETTINGS);
      h.locality = { region: 'r', zone, subZone: '' };
      if (i < (failed[zone] ?? 0)) h.healthFlags = HostHealthFlags.FAILED_ACTIVE_HC;
      out.push(h);
    }
  }
  return out;
}

/** A small deterministic uniform [0,1) source (LCG), so shares are reproducible. */
function lcg(seed = 42): () => number {
  let x = seed >>> 0;
  return () => {
    x = (Math.imul(x, 1664525) + 1013904223) >>> 0;
    return x / 4_294_967_296;
  };
}

function zoneShares(b: PriorityBalancer, picks: number): Record<string, number> {
  const out: Record<string, number> = {};
  for (let i = 0; i < picks; i++) {
    const z = b.pick({}, 0)?.locality.zone ?? '-';
    out[z] = (out[z] ?? 0) + 1;
  }
  for (const k of Object.keys(out)) out[k] = Math.round((1000 * out[k]!) / picks) / 10;
  return out;
}

function balancer(upstream: Host[], local: Host[], overrides: Partial<PriorityBalancerOptions> = {}): PriorityBalancer {
  return new PriorityBalancer(upstream, {
    policy: RR,
    common: COMMON,
    overprovisioningFactor: 140,
    weightedPriorityHealth: false,
    localityWeight: () => null,
    random: lcg(),
    now: () => 0,
    stats: { lbHealthyPanic: 0 },
    zone: { localHosts: local, locality: A, stats: emptyZoneRoutingStats() },
    ...overrides,
  });
}

describe('ZoneRouting (Envoy regenerateLocalityRoutingStructures / tryChooseLocalLocalityHosts)', () => {
  it('direct: the local zone has a larger upstream share than local share -> every pick stays local', () => {
    // upstream a 2/6 = 3333 >= local a 1/4 = 2500
    const stats = emptyZoneRoutingStats();
    const z = new ZoneRouting(zoned({ a: 2, b: 2, c: 2 }), zoned({ a: 1, b: 1, c: 2 }), A, DEFAULT_ZONE_AWARE, 50, stats);
    assert.equal(z.state, 'direct');
    assert.deepEqual(z.percentages, [
      { local: 2500, upstream: 3333 },
      { local: 2500, upstream: 3333 },
      { local: 5000, upstream: 3333 },
    ]);
    const b = balancer(zoned({ b: 2, a: 2, c: 2 }), zoned({ a: 1, b: 1, c: 2 }));
    assert.deepEqual(zoneShares(b, 600), { a: 100 });
  });

  it('residual (Envoy comment example): local 40/40/20 %, upstream 25/50/25 % -> 62.5% local, cross zone by spare capacity', () => {
    const stats = emptyZoneRoutingStats();
    const z = new ZoneRouting(zoned({ a: 2, b: 4, c: 2 }), zoned({ a: 2, b: 2, c: 1 }), A, DEFAULT_ZONE_AWARE, 50, stats);
    assert.equal(z.state, 'residual');
    assert.deepEqual(z.percentages, [
      { local: 4000, upstream: 2500 },
      { local: 4000, upstream: 5000 },
      { local: 2000, upstream: 2500 },
    ]);
    assert.equal(z.localPercentToRoute, 6250); // 2500 · 10000 / 4000
    assert.deepEqual(z.residualCapacity, [0, 1000, 1500]);
    // Draws: routing_enabled (r % 100 < 100), then r % 10000 against 6250, then r % 1500 against the buckets.
    assert.equal(z.choose(fixedRandom(0, 6249)), 0);
    assert.equal(z.choose(fixedRandom(0, 6250, 999)), 1);
    assert.equal(z.choose(fixedRandom(0, 6250, 1000)), 2);
    assert.equal(z.choose(fixedRandom(0, 16250, 2499)), 1); // 16250 % 10000 = 6250: cross; 2499 % 1500 = 999 < 1000: b
    assert.equal(stats.lbZoneRoutingSampled, 1);
    assert.equal(stats.lbZoneRoutingCrossZone, 3);
    // Over many picks: a 62.5%, b 25%, c 12.5%; so a-zone proxies put 0.4·62.5% = 25% of the fleet's load on a.
    const shares = zoneShares(balancer(zoned({ a: 2, b: 4, c: 2 }), zoned({ a: 2, b: 2, c: 1 })), 40_000);
    assert.ok(Math.abs(shares.a! - 62.5) < 1, JSON.stringify(shares));
    assert.ok(Math.abs(shares.b! - 25) < 1, JSON.stringify(shares));
    assert.ok(Math.abs(shares.c! - 12.5) < 1, JSON.stringify(shares));
  });

  it('no upstream host in the local zone: local share routes nowhere, everything goes by spare capacity', () => {
    const z = new ZoneRouting(zoned({ b: 3, c: 3 }), zoned({ a: 1, b: 1, c: 2 }), A, DEFAULT_ZONE_AWARE, 50, emptyZoneRoutingStats());
    assert.equal(z.hasLocalLocality, false);
    assert.equal(z.state, 'residual');
    assert.equal(z.localPercentToRoute, 0);
    // b: 5000 - 2500 spare, c: 5000 - 5000 none -> all to b
    assert.deepEqual(z.residualCapacity, [2500, 2500]);
    const shares = zoneShares(balancer(zoned({ b: 3, c: 3 }), zoned({ a: 1, b: 1, c: 2 })), 1000);
    assert.deepEqual(shares, { b: 100 });
  });

  it('early exits: one upstream locality, one local locality, no local host in the node zone, too small', () => {
    const stats = emptyZoneRoutingStats();
    assert.equal(new ZoneRouting(zoned({ a: 6 }), zoned({ a: 1, b: 1 }), A, DEFAULT_ZONE_AWARE, 50, stats).state, 'none');
    assert.equal(new ZoneRouting(zoned({ a: 3, b: 3 }), zoned({ a: 2 }), A, DEFAULT_ZONE_AWARE, 50, stats).state, 'none');
    assert.equal(new ZoneRouting(zoned({ a: 3, b: 3 }), zoned({ b: 1, c: 1 }), A, DEFAULT_ZONE_AWARE, 50, stats).state, 'none');
    assert.equal(stats.lbLocalClusterNotOk, 1);
    // 6 hosts but 1 failing: 5 healthy < min_cluster_size 6
    assert.equal(new ZoneRouting(zoned({ a: 3, b: 3 }, { b: 1 }), zoned({ a: 1, b: 1 }), A, DEFAULT_ZONE_AWARE, 50, stats).state, 'none');
    assert.equal(stats.lbZoneClusterTooSmall, 1);
    assert.equal(new ZoneRouting(zoned({ a: 3, b: 3 }, { b: 1 }), zoned({ a: 1, b: 1 }), A, { ...DEFAULT_ZONE_AWARE, minClusterSize: 5 }, 50, stats).state, 'direct');
    // Without zone routing, RR spreads over every healthy host.
    const shares = zoneShares(balancer(zoned({ a: 1, b: 2 }), zoned({ a: 1, b: 1 })), 3000);
    assert.ok(Math.abs(shares.a! - 33.3) < 1.5 && Math.abs(shares.b! - 66.7) < 1.5, JSON.stringify(shares));
  });

  it('routing_enabled 0% never zone-routes; 50% routes about half the picks', () => {
    const common = (routingEnabledPercent: number): CommonLbConfig => ({ ...COMMON, zoneAware: { routingEnabledPercent, minClusterSize: 6, failTrafficOnPanic: false } });
    const off = zoneShares(balancer(zoned({ a: 3, b: 3 }), zoned({ a: 1, b: 2 }), { common: common(0) }), 4000);
    assert.ok(Math.abs(off.a! - 50) < 2, JSON.stringify(off));
    const half = zoneShares(balancer(zoned({ a: 3, b: 3 }), zoned({ a: 1, b: 2 }), { common: common(50) }), 4000);
    assert.ok(Math.abs(half.a! - 75) < 2, JSON.stringify(half)); // 50% direct + 50% of the other half
  });

  it('local cluster in panic: not zone-routed (lb_local_cluster_not_ok), or no host with fail_traffic_on_panic', () => {
    const local = zoned({ a: 2, b: 2 }, { a: 2, b: 1 }); // 1 of 4 healthy = 25% < 50%
    const z = new ZoneRouting(zoned({ a: 3, b: 3 }), local, A, DEFAULT_ZONE_AWARE, 50, emptyZoneRoutingStats());
    // Local a has no healthy host: 0% local share -> direct (upstream a 50% >= 0%), but the panic check comes first.
    assert.equal(z.choose(fixedRandom(0)), ZONE_NOT_ROUTED);
    const failing = new ZoneRouting(zoned({ a: 3, b: 3 }), local, A, { ...DEFAULT_ZONE_AWARE, failTrafficOnPanic: true }, 50, emptyZoneRoutingStats());
    assert.equal(failing.choose(fixedRandom(0)), ZONE_FAIL);
    const b = balancer(zoned({ a: 3, b: 3 }), local, { common: { ...COMMON, zoneAware: { routingEnabledPercent: 100, minClusterSize: 6, failTrafficOnPanic: true } } });
    assert.equal(b.pick({}, 0), undefined);
    // Panic threshold 0: the local cluster is never in panic.
    assert.equal(new ZoneRouting(zoned({ a: 3, b: 3 }), local, A, DEFAULT_ZONE_AWARE, 0, emptyZoneRoutingStats()).choose(fixedRandom(0)), 0);
  });

  it('off with locality weights or a hash policy, and at priorities other than 0', () => {
    const upstream = zoned({ a: 3, b: 3 });
    const local = zoned({ a: 1, b: 2 });
    const weighted = zoneShares(balancer(upstream, local, { common: { ...COMMON, localityWeighted: true }, localityWeight: () => 1 }), 2000);
    assert.ok(Math.abs(weighted.a! - 50) < 2, JSON.stringify(weighted));
    const ring = zoneShares(balancer(upstream, local, { policy: { kind: 'ring_hash', minimumRingSize: 64, maximumRingSize: 1024, hashFunction: 'XX_HASH', consistentHashing: { useHostnameForHashing: false, hashBalanceFactor: null } } }), 2000);
    assert.ok((ring.b ?? 0) > 10, JSON.stringify(ring));
    const p1 = zoned({ a: 3, b: 3 });
    for (const h of p1) h.priority = 1;
    const failedP0 = zoned({ a: 1 }, { a: 1 });
    const spilled = zoneShares(balancer([...failedP0, ...p1], local, { common: { ...COMMON, healthyPanicThresholdPercent: 0 } }), 2000);
    assert.ok(Math.abs(spilled.a! - 50) < 2, JSON.stringify(spilled));
  });
});

describe('ClusterManager: local_cluster_name wiring', () => {
  function twoZones(name: string, a: number, b: number): EndpointConfig {
    const base = assignment(name, [[]]);
    const locality = (zone: string, n: number, offset: number): EndpointConfig['priorities'][number][number] => ({
      ...assignment(name, [Array.from({ length: n }, (_, i) => ({ host: `10.${offset}.0.${i + 1}`, port: 80 }))]).priorities[0]![0]!,
      locality: { region: 'r', zone, subZone: '' },
    });
    return { ...base, priorities: [[locality('a', a, name.length), locality('b', b, name.length + 100)]] };
  }
  const cluster = (name: string, a: number, b: number): ClusterConfig => clusterConfig(name, { loadAssignment: twoZones(name, a, b) });

  it('zone-routes against the local cluster and rebuilds when the local cluster changes', () => {
    const manager = new ClusterManager({ random: lcg(7), localClusterName: 'local', localLocality: A });
    manager.apply(snapshot([cluster('local', 1, 3), cluster('svc', 3, 3)]));
    const svc = manager.get('svc')!;
    const share = (): number => {
      let n = 0;
      for (let i = 0; i < 4000; i++) if (svc.pick({})!.locality.zone === 'a') n += 1;
      return n / 40;
    };
    assert.equal(share(), 100); // local a 25% <= upstream a 50%: direct
    manager.apply(snapshot([cluster('local', 3, 1), cluster('svc', 3, 3)])); // local a 75%: route 50/75 = 66.7% locally
    assert.ok(Math.abs(share() - 66.7) < 2, `${share()}`);
    assert.ok(svc.stats.lbZoneRoutingSampled > 0 && svc.stats.lbZoneRoutingCrossZone > 0);
    // Health flags of the local cluster count too: a local a-host failing leaves a 2, b 1 -> 6666 vs 5000: 75% local.
    manager.get('local')!.hosts[0]!.healthFlags = HostHealthFlags.FAILED_ACTIVE_HC;
    assert.ok(Math.abs(share() - 75) < 2, `${share()}`);
    void manager.close();
  });

  it('without local_cluster_name nothing is zone-routed', () => {
    const manager = new ClusterManager({ random: lcg(7) });
    manager.apply(snapshot([cluster('local', 1, 3), cluster('svc', 3, 3)]));
    let a = 0;
    for (let i = 0; i < 2000; i++) if (manager.get('svc')!.pick({})!.locality.zone === 'a') a += 1;
    assert.ok(Math.abs(a / 20 - 50) < 3);
    void manager.close();
  });
});
