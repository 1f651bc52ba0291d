import * as assert from 'node:assert/strict';
import { xxHash64 } from '../../../sidecar/src/core/xxhash64';
import { ClusterManager } from '../../../sidecar/src/upstream/cluster-manager';
import { HostHealthFlags, coarseHealth, isExcluded } from '../../../sidecar/src/upstream/host-health-flags';
import type { Host } from '../../../sidecar/src/upstream/host';
import type { UpstreamCluster } from '../../../sidecar/src/upstream/upstream-cluster';
import { assignment, clusterConfig, fixedRandom, FakeClock, snapshot, staticCluster, type EndpointSpec } from './upstream-fixtures';

function picks(cluster: UpstreamCluster, n: number, context = {}): string[] {
  const out: string[] = [];
  for (let i = 0; i < n; i++) out.push(cluster.pick(context)?.key ?? '-');
  return out;
}

function eds(name: string, priorities: EndpointSpec[][]) {
  return { config: clusterConfig(name, { discoveryType: 'EDS', edsServiceName: name }), endpoints: assignment(name, priorities) };
}

describe('ClusterManager.apply', () => {
  let manager: ClusterManager;
  afterEach(() => manager.close());

  it('creates clusters; the same config and endpoint objects change nothing', () => {
    manager = new ClusterManager({ random: fixedRandom(0) });
    const { config, endpoints } = eds('reviews', [[{ host: '10.0.0.1', port: 9080 }, { host: '10.0.0.2', port: 9080 }]]);
    manager.apply(snapshot([config], [endpoints]));
    const cluster = manager.get('reviews')!;
    assert.deepEqual(picks(cluster, 3), ['10.0.0.1:9080', '10.0.0.2:9080', '10.0.0.1:9080']);
    const before = { ...cluster.stats };
    const hostsBefore = cluster.hosts;
    manager.apply(snapshot([config], [endpoints]));
    assert.equal(manager.get('reviews'), cluster);
    assert.equal(cluster.hosts, hostsBefore);
    picks(cluster, 1);
    assert.equal(cluster.stats.rebuilds, before.rebuilds, 'no rebuild');
    assert.equal(cluster.stats.membershipChanges, before.membershipChanges);
  });

  it('a new assignment reuses Host objects by address; removed hosts drain; added ones join', () => {
    manager = new ClusterManager({ random: fixedRandom(0) });
    const a = eds('reviews', [[{ host: '10.0.0.1', port: 9080 }, { host: '10.0.0.2', port: 9080 }]]);
    manager.apply(snapshot([a.config], [a.endpoints]));
    const cluster = manager.get('reviews')!;
    const [h1, h2] = cluster.hosts as Host[];
    h1!.activeRequests = 3;
    const b = assignment('reviews', [[{ host: '10.0.0.1', port: 9080, weight: 5 }, { host: '10.0.0.3', port: 9080 }]]);
    const seen: string[] = [];
    cluster.onHostsChanged((added, removed) => seen.push(`+${added.map((h) => h.key)} -${removed.map((h) => h.key)}`));
    manager.apply(snapshot([a.config], [b]));
    assert.equal(manager.get('reviews'), cluster, 'updated in place');
    assert.equal(cluster.hosts[0], h1, 'same Host object');
    assert.equal(h1!.activeRequests, 3, 'counters survive');
    assert.equal(h1!.weight, 5);
    assert.equal(cluster.hosts[1]!.key, '10.0.0.3:9080');
    assert.ok(h2!.healthFlags & HostHealthFlags.DRAINING, 'the removed host is flagged draining');
    assert.deepEqual(seen, ['+10.0.0.3:9080 -10.0.0.2:9080']);
  });

  it('a changed cluster config keeps the cluster object, its hosts and breaker counters', () => {
    manager = new ClusterManager({ random: fixedRandom(0) });
    const c1 = staticCluster('a', [{ host: '10.0.0.1', port: 80 }]);
    manager.apply(snapshot([c1]));
    const cluster = manager.get('a')!;
    const host = cluster.hosts[0];
    assert.ok(cluster.breaker.tryAcquireRequest());
    const c2 = staticCluster('a', [{ host: '10.0.0.1', port: 80 }], { lbPolicy: { kind: 'random' }, connectTimeoutMs: 250 });
    manager.apply(snapshot([c2]));
    assert.equal(manager.get('a'), cluster);
    assert.equal(cluster.config, c2);
    assert.equal(cluster.hosts[0], host);
    assert.equal(cluster.breaker.requests, 1);
    assert.equal(host!.poolSettings.connectTimeoutMs, 250, 'pools use the new connect timeout');
  });

  it('an equal config decoded again (new objects, same values) keeps the balancer', () => {
    manager = new ClusterManager({ random: fixedRandom(0) });
    const endpoints = [{ host: '10.0.0.1', port: 80 }, { host: '10.0.0.2', port: 80 }];
    manager.apply(snapshot([staticCluster('a', endpoints)]));
    const cluster = manager.get('a')!;
    assert.deepEqual(picks(cluster, 1), ['10.0.0.1:80']);
    const { rebuilds, membershipChanges } = cluster.stats;
    const settings = cluster.hosts[0]!.poolSettings;
    manager.apply(snapshot([staticCluster('a', endpoints)]));
    assert.deepEqual(picks(cluster, 1), ['10.0.0.2:80'], 'the rotation continues');
    assert.equal(cluster.stats.rebuilds, rebuilds);
    assert.equal(cluster.stats.membershipChanges, membershipChanges);
    assert.equal(cluster.hosts[0]!.poolSettings, settings, 'pools untouched');
  });

  it('a removed cluster is closed and forgotten', async () => {
    manager = new ClusterManager();
    manager.apply(snapshot([staticCluster('a', [{ host: '10.0.0.1', port: 80 }]), staticCluster('b', [{ host: '10.0.0.2', port: 80 }])]));
    const a = manager.get('a')!;
    const host = a.hosts[0]!;
    manager.apply(snapshot([staticCluster('b', [{ host: '10.0.0.2', port: 80 }])]));
    assert.equal(manager.get('a'), undefined);
    assert.deepEqual([...manager.clusters()].map((c) => c.name), ['b']);
    assert.ok(host.healthFlags & HostHealthFlags.DRAINING);
    assert.equal(a.pick({}), undefined);
  });

  it('an EDS cluster without its assignment yet has no host (503 UH), then gets them', () => {
    manager = new ClusterManager();
    const { config, endpoints } = eds('r', [[{ host: '10.0.0.1', port: 80 }]]);
    manager.apply(snapshot([config]));
    assert.equal(manager.get('r')!.pick({}), undefined);
    assert.equal(manager.get('r')!.stats.noHealthyHost, 1);
    manager.apply(snapshot([config], [endpoints]));
    assert.equal(manager.get('r')!.pick({})?.key, '10.0.0.1:80');
  });

  it('uses the EDS service name to find the assignment', () => {
    manager = new ClusterManager();
    const config = clusterConfig('outbound|9080||reviews', { discoveryType: 'EDS', edsServiceName: 'reviews-eds' });
    manager.apply(snapshot([config], [assignment('reviews-eds', [[{ host: '10.0.0.7', port: 9080 }]])]));
    assert.equal(manager.get('outbound|9080||reviews')!.pick({})?.key, '10.0.0.7:9080');
  });
});

describe('UpstreamCluster eligibility, priorities and panic', () => {
  let manager: ClusterManager;
  afterEach(() => manager.close());

  function cluster(priorities: EndpointSpec[][], overrides = {}): UpstreamCluster {
    manager = new ClusterManager({ random: fixedRandom(0) });
    manager.apply(snapshot([clusterConfig('c', { loadAssignment: assignment('c', priorities), ...overrides })]));
    return manager.get('c')!;
  }

  it('EDS UNKNOWN and HEALTHY are healthy; UNHEALTHY, TIMEOUT and DRAINING are left out', () => {
    const c = cluster([
      [
        { host: '10.0.0.1', port: 80, health: 'UNKNOWN' },
        { host: '10.0.0.2', port: 80, health: 'UNHEALTHY' },
        { host: '10.0.0.3', port: 80, health: 'HEALTHY' },
        { host: '10.0.0.4', port: 80, health: 'TIMEOUT' },
        { host: '10.0.0.5', port: 80, health: 'DRAINING' },
      ],
    ]);
    assert.deepEqual(new Set(picks(c, 6)), new Set(['10.0.0.1:80', '10.0.0.3:80']));
    assert.equal(c.inPanic, false);
  });

  it('degraded hosts get traffic only when no host is healthy', () => {
    const c = cluster([[{ host: '10.0.0.1', port: 80, health: 'DEGRADED' }, { host: '10.0.0.2', port: 80 }]]);
    assert.deepEqual(picks(c, 3), ['10.0.0.2:80', '10.0.0.2:80', '10.0.0.2:80']);
    c.hosts[1]!.healthFlags |= HostHealthFlags.OUTLIER_EJECTED;
    assert.deepEqual(picks(c, 2), ['10.0.0.1:80', '10.0.0.1:80']);
    assert.equal(c.inPanic, false);
  });

  it('priority fallback: the lowest priority with a healthy host', () => {
    const c = cluster([
      [{ host: '10.0.0.1', port: 80, health: 'UNHEALTHY' }],
      [{ host: '10.1.0.1', port: 80 }, { host: '10.1.0.2', port: 80 }],
    ]);
    assert.deepEqual(new Set(picks(c, 4)), new Set(['10.1.0.1:80', '10.1.0.2:80']));
    // P0 recovers (its flags are written by another subsystem): traffic returns at once.
    const p0 = c.hosts[0]!;
    p0.healthFlags = 0;
    assert.deepEqual(picks(c, 2), ['10.0.0.1:80', '10.0.0.1:80']);
  });

  it('panic: no healthy host anywhere -> every host of priority 0, counted', () => {
    const c = cluster([
      [{ host: '10.0.0.1', port: 80, health: 'UNHEALTHY' }, { host: '10.0.0.2', port: 80, health: 'UNHEALTHY' }],
      [{ host: '10.1.0.1', port: 80, health: 'UNHEALTHY' }],
    ]);
    assert.deepEqual(picks(c, 4), ['10.0.0.1:80', '10.0.0.2:80', '10.0.0.1:80', '10.0.0.2:80']);
    assert.equal(c.inPanic, true);
    assert.equal(c.stats.lbHealthyPanic, 4);
  });

  it('panic threshold 0 disables panic: no healthy host -> undefined (503 UH)', () => {
    const c = cluster([[{ host: '10.0.0.1', port: 80, health: 'UNHEALTHY' }]], {
      commonLbConfig: { healthyPanicThresholdPercent: 0, zoneAware: null, localityWeighted: false, ignoreNewHostsUntilFirstHc: false, updateMergeWindowMs: 1000, closeConnectionsOnHostSetChange: false },
    });
    assert.equal(c.pick({}), undefined);
  });

  it('flags written by other subsystems (outlier, active HC) rebuild the balancer before the next pick', () => {
    const c = cluster([[{ host: '10.0.0.1', port: 80 }, { host: '10.0.0.2', port: 80 }, { host: '10.0.0.3', port: 80 }]]);
    picks(c, 1);
    const rebuilds = c.stats.rebuilds;
    c.hosts[1]!.healthFlags |= HostHealthFlags.FAILED_ACTIVE_HC;
    assert.deepEqual(new Set(picks(c, 6)), new Set(['10.0.0.1:80', '10.0.0.3:80']));
    assert.equal(c.stats.rebuilds, rebuilds + 1);
    c.hosts[1]!.healthFlags &= ~HostHealthFlags.FAILED_ACTIVE_HC;
    assert.equal(new Set(picks(c, 6)).size, 3);
  });

  it('exclude (previous hosts) is avoided within maxSelectionAttempts, else the last pick is used', () => {
    const c = cluster([[{ host: '10.0.0.1', port: 80 }, { host: '10.0.0.2', port: 80 }]]);
    const first = c.hosts[0]!;
    // RR from seed 0: the first pick would be 10.0.0.1; excluded, so the re-pick gives 10.0.0.2.
    assert.equal(c.pick({ exclude: new Set([first]) })?.key, '10.0.0.2:80');
    const both = new Set(c.hosts);
    assert.ok(c.pick({ exclude: both, maxSelectionAttempts: 3 }), 'all excluded: still a host');
  });

  it('weighted hosts follow EDF 3:2:1 through the cluster', () => {
    const c = cluster([
      [
        { host: '10.0.0.1', port: 80, weight: 3 },
        { host: '10.0.0.2', port: 80, weight: 2 },
        { host: '10.0.0.3', port: 80, weight: 1 },
      ],
    ]);
    assert.deepEqual(
      picks(c, 6).map((k) => 'ABC'[Number(k.split('.')[3]!.split(':')[0]) - 1]),
      ['A', 'B', 'A', 'C', 'B', 'A'],
    );
  });

  it('a MAGLEV cluster sends one request hash to one host', () => {
    const c = cluster([[{ host: '10.0.0.1', port: 80 }, { host: '10.0.0.2', port: 80 }, { host: '10.0.0.3', port: 80 }]], {
      lbPolicy: { kind: 'maglev', tableSize: 7, consistentHashing: { useHostnameForHashing: false, hashBalanceFactor: null } },
    });
    const hash = xxHash64('alice');
    assert.deepEqual([1, 2, 3].map(() => c.pick({ hash })?.key), ['10.0.0.3:80', '10.0.0.3:80', '10.0.0.3:80']);
  });
});

describe('host health flags', () => {
  it('coarse health and exclusion as Envoy', () => {
    assert.equal(coarseHealth(0), 'healthy');
    assert.equal(coarseHealth(HostHealthFlags.EDS_DEGRADED), 'degraded');
    assert.equal(coarseHealth(HostHealthFlags.EDS_DEGRADED | HostHealthFlags.OUTLIER_EJECTED), 'unhealthy');
    assert.equal(isExcluded(HostHealthFlags.EDS_DRAINING), true);
    assert.equal(isExcluded(HostHealthFlags.EDS_UNHEALTHY), false);
  });
});

describe('ORIGINAL_DST clusters', () => {
  it('create a host per original destination, reuse it, and clean up unused ones after cleanup_interval', async () => {
    const clock = new FakeClock();
    const manager = new ClusterManager({ clock });
    manager.apply(snapshot([clusterConfig('passthrough', { discoveryType: 'ORIGINAL_DST', lbPolicy: { kind: 'cluster_provided' }, cleanupIntervalMs: 5000 })]));
    const c = manager.get('passthrough')!;
    assert.equal(c.pick({}), undefined, 'no original destination: no host');
    const a = c.pick({ originalDst: { host: '10.9.0.1', port: 8080 } })!;
    assert.equal(a.key, '10.9.0.1:8080');
    assert.equal(c.pick({ originalDst: { host: '10.9.0.1', port: 8080 } }), a, 'reused');
    const b = c.pick({ originalDst: { host: '::1', port: 80 } })!;
    assert.equal(b.key, '[::1]:80');
    assert.equal(c.hosts.length, 2);

    clock.advance(5000); // first sweep: both were used in this interval -> kept, marked unused
    assert.equal(c.hosts.length, 2);
    c.pick({ originalDst: { host: '10.9.0.1', port: 8080 } });
    b.activeRequests = 1; // busy hosts stay
    clock.advance(5000);
    assert.equal(c.hosts.length, 2);
    b.activeRequests = 0;
    clock.advance(5000); // 10.9.0.1 unused since the last sweep; [::1] idle now
    clock.advance(5000);
    assert.equal(c.hosts.length, 0);
    assert.ok(a.healthFlags & HostHealthFlags.DRAINING);
    assert.notEqual(c.pick({ originalDst: { host: '10.9.0.1', port: 8080 } }), a, 'a fresh host after cleanup');
    await manager.close();
    assert.equal(clock.pending, 0, 'no timer left after close');
  });

  it('upstream_port_override replaces the destination port', async () => {
    const manager = new ClusterManager({ clock: new FakeClock() });
    manager.apply(
      snapshot([clusterConfig('p', { discoveryType: 'ORIGINAL_DST', lbPolicy: { kind: 'cluster_provided' }, originalDstLbConfig: { useHttpHeader: false, httpHeaderName: 'x-envoy-original-dst-host', upstreamPortOverride: 15006 } })]),
    );
    assert.equal(manager.get('p')!.pick({ originalDst: { host: '10.0.0.1', port: 80 } })?.key, '10.0.0.1:15006');
    await manager.close();
  });
});

describe('DNS clusters (fake resolver)', () => {
  it('STRICT_DNS: one host per address, re-resolved every dns_refresh_rate, diffed by address', async () => {
    const clock = new FakeClock();
    let answer = ['10.0.0.1', '10.0.0.2'];
    const asked: string[] = [];
    const manager = new ClusterManager({ clock, random: fixedRandom(0), dnsResolver: async (name, family) => (asked.push(`${name}/${family}`), answer) });
    manager.apply(snapshot([clusterConfig('dns', { discoveryType: 'STRICT_DNS', loadAssignment: assignment('dns', [[{ host: 'svc.example', port: 80 }]]), dnsRefreshRateMs: 1000 })]));
    const c = manager.get('dns')!;
    assert.equal(c.pick({}), undefined, 'nothing before the first resolution');
    await c.ready;
    assert.deepEqual(c.hosts.map((h) => h.key), ['10.0.0.1:80', '10.0.0.2:80']);
    assert.equal(c.hosts[0]!.hostname, 'svc.example');
    const kept = c.hosts[1];
    answer = ['10.0.0.2', '10.0.0.3'];
    clock.advance(1000);
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(c.hosts.map((h) => h.key), ['10.0.0.2:80', '10.0.0.3:80']);
    assert.equal(c.hosts[0], kept);
    assert.deepEqual(asked, ['svc.example/AUTO', 'svc.example/AUTO']);
    await manager.close();
    assert.equal(clock.pending, 0);
  });

  it('LOGICAL_DNS: a single host, the first address', async () => {
    const manager = new ClusterManager({ clock: new FakeClock(), dnsResolver: async () => ['10.0.0.8', '10.0.0.9'] });
    manager.apply(snapshot([clusterConfig('l', { discoveryType: 'LOGICAL_DNS', loadAssignment: assignment('l', [[{ host: 'api.example', port: 443 }]]) })]));
    await manager.get('l')!.ready;
    assert.deepEqual(manager.get('l')!.hosts.map((h) => h.key), ['10.0.0.8:443']);
    await manager.close();
  });

  it('a failed lookup keeps the previous addresses', async () => {
    const clock = new FakeClock();
    let fail = false;
    const manager = new ClusterManager({ clock, dnsResolver: async () => { if (fail) throw new Error('ENOTFOUND'); return ['10.0.0.1']; } });
    manager.apply(snapshot([clusterConfig('d', { discoveryType: 'STRICT_DNS', loadAssignment: assignment('d', [[{ host: 'x.example', port: 80 }]]), dnsRefreshRateMs: 10 })]));
    await manager.get('d')!.ready;
    fail = true;
    clock.advance(10);
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(manager.get('d')!.hosts.map((h) => h.key), ['10.0.0.1:80']);
    await manager.close();
  });
});

describe('upstreamProtocol and transport sockets', () => {
  let manager: ClusterManager;
  afterEach(() => manager.close());

  function withProtocol(protocol: 'http1' | 'http2' | 'use_downstream' | 'auto', tls = false): UpstreamCluster {
    manager = new ClusterManager();
    const base = clusterConfig('p');
    const transportSocket = tls
      ? ({ kind: 'tls', sni: '', allowRenegotiation: false, common: { minVersion: 'TLS_AUTO', maxVersion: 'TLS_AUTO', cipherSuites: [], alpnProtocols: [], certificates: [], validation: null } } as const)
      : null;
    manager.apply(snapshot([clusterConfig('p', { upstreamHttp: { ...base.upstreamHttp, protocol }, transportSocket })]));
    return manager.get('p')!;
  }

  it('explicit, use_downstream and auto (plaintext: HTTP/1.1; TLS: h2 until ALPN says otherwise)', () => {
    assert.equal(withProtocol('http1').upstreamProtocol('http2'), 'http1');
    assert.equal(withProtocol('http2').upstreamProtocol('http1'), 'http2');
    assert.equal(withProtocol('use_downstream').upstreamProtocol('http2'), 'http2');
    assert.equal(withProtocol('use_downstream').upstreamProtocol('http1'), 'http1');
    assert.equal(withProtocol('auto').upstreamProtocol('http2'), 'http1');
    const tls = withProtocol('auto', true);
    assert.equal(tls.upstreamProtocol('http1'), 'http2');
  });

  it('transport_socket_matches pick the TLS settings by endpoint metadata; SDS-only TLS is unavailable, never plaintext', () => {
    manager = new ClusterManager();
    const sdsTls = {
      kind: 'tls',
      sni: 'outbound_.9080_._.reviews',
      allowRenegotiation: false,
      common: { minVersion: 'TLS_AUTO', maxVersion: 'TLS_AUTO', cipherSuites: [], alpnProtocols: ['istio-http/1.1', 'istio'], certificates: [{ kind: 'sds', name: 'default' }], validation: null },
    } as const;
    const config = clusterConfig('istio', {
      discoveryType: 'EDS',
      edsServiceName: 'istio',
      transportSocketMatches: [
        { name: 'tlsMode-istio', match: { tlsMode: 'istio' }, transportSocket: sdsTls },
        { name: 'tlsMode-disabled', match: {}, transportSocket: { kind: 'raw_buffer' } },
      ],
    });
    const endpoints = assignment('istio', [
      [
        { host: '10.0.0.1', port: 9080, metadata: { 'envoy.transport_socket_match': { tlsMode: 'istio' } } },
        { host: '10.0.0.2', port: 9080 },
      ],
    ]);
    manager.apply(snapshot([config], [endpoints]));
    const [mtls, plain] = manager.get('istio')!.hosts;
    assert.match(mtls!.poolSettings.tls?.unavailable ?? '', /SDS secret "default"/);
    assert.equal(plain!.poolSettings.tls, null);
    assert.throws(() => mtls!.http2.session(), (e: Error & { kind?: { flag: string } }) => e.kind?.flag === 'UF' && /TLS required but unavailable/.test(e.message));
  });
});
