// Test builders for upstream/: cluster configs with Envoy defaults, load assignments, snapshots, a fake clock and fixed random.

import type { ClusterConfig } from '../../../sidecar/src/config/cluster-config';
import { DEFAULT_CIRCUIT_BREAKER_THRESHOLDS } from '../../../sidecar/src/config/cluster-config';
import { createConfigSnapshot, type ConfigSnapshot } from '../../../sidecar/src/config/config-snapshot';
import type { EndpointConfig, EndpointHealthStatus, MetadataConfig } from '../../../sidecar/src/config/endpoint-config';
import type { Clock, TimerHandle } from '../../../sidecar/src/core/clock';

export const HTTP2_DEFAULTS = {
  maxConcurrentStreams: 2147483647,
  initialStreamWindowSize: 268435456,
  initialConnectionWindowSize: 268435456,
  allowConnect: false,
  hpackTableSize: 4096,
  keepaliveIntervalMs: null,
  keepaliveTimeoutMs: null,
} as const;

/** A STATIC round-robin cluster with Envoy's defaults; override what the test is about. */
export function clusterConfig(name: string, overrides: Partial<ClusterConfig> = {}): ClusterConfig {
  return {
    name,
    discoveryType: 'STATIC',
    edsServiceName: null,
    edsConfig: null,
    loadAssignment: null,
    connectTimeoutMs: 5000,
    perConnectionBufferLimitBytes: 1 << 20,
    lbPolicy: { kind: 'round_robin', slowStart: null },
    commonLbConfig: {
      healthyPanicThresholdPercent: 50,
      zoneAware: null,
      localityWeighted: false,
      ignoreNewHostsUntilFirstHc: false,
      updateMergeWindowMs: 1000,
      closeConnectionsOnHostSetChange: false,
    },
    outlierDetection: null,
    circuitBreakers: { default: DEFAULT_CIRCUIT_BREAKER_THRESHOLDS, high: DEFAULT_CIRCUIT_BREAKER_THRESHOLDS, perHostMaxConnections: { default: null, high: null } },
    healthChecks: [],
    upstreamHttp: {
      protocol: 'http1',
      http2: HTTP2_DEFAULTS,
      idleTimeoutMs: 3_600_000,
      maxConnectionDurationMs: null,
      maxStreamDurationMs: null,
      maxRequestsPerConnection: null,
      maxHeadersCount: null,
      autoSni: false,
      autoSanValidation: false,
    },
    transportSocket: null,
    transportSocketMatches: [],
    dnsLookupFamily: 'AUTO',
    dnsRefreshRateMs: 5000,
    respectDnsTtl: false,
    originalDstLbConfig: null,
    cleanupIntervalMs: 5000,
    upstreamBindAddress: null,
    ignoreHealthOnHostRemoval: false,
    closeConnectionsOnHostHealthFailure: false,
    metadata: {},
    ...overrides,
  };
}

export interface EndpointSpec {
  host: string;
  port: number;
  weight?: number;
  health?: EndpointHealthStatus;
  metadata?: MetadataConfig;
}

/** A load assignment: `priorities[p]` = the endpoints of one locality at priority p. */
export function assignment(clusterName: string, priorities: EndpointSpec[][]): EndpointConfig {
  return {
    clusterName,
    priorities: priorities.map((endpoints, p) => [
      {
        locality: { region: 'r', zone: `z${p}`, subZone: '' },
        priority: p,
        loadBalancingWeight: null,
        metadata: {},
        endpoints: endpoints.map((e) => ({
          address: { kind: 'socket' as const, host: e.host, port: e.port, protocol: 'TCP' as const },
          hostname: '',
          healthStatus: e.health ?? 'HEALTHY',
          loadBalancingWeight: e.weight ?? 1,
          metadata: e.metadata ?? {},
          healthCheck: { portValue: null, hostname: '', disableActiveHealthCheck: false },
        })),
      },
    ]),
    policy: { overprovisioningFactor: 140, weightedPriorityHealth: false, endpointStaleAfterMs: null, dropOverloads: [] },
  };
}

/** A STATIC cluster over `endpoints` at priority 0. */
export function staticCluster(name: string, endpoints: EndpointSpec[], overrides: Partial<ClusterConfig> = {}): ClusterConfig {
  return clusterConfig(name, { loadAssignment: assignment(name, [endpoints]), ...overrides });
}

let version = 0;
export function snapshot(clusters: ClusterConfig[], endpoints: EndpointConfig[] = []): ConfigSnapshot {
  version += 1;
  return createConfigSnapshot(version, 0, {
    listeners: new Map(),
    routes: new Map(),
    clusters: new Map(clusters.map((c) => [c.name, c])),
    endpoints: new Map(endpoints.map((e) => [e.clusterName, e])),
  });
}

/** Random returning integers `values[i]` as Envoy's `random()` would (so `% n` matches), cycling. */
export function fixedRandom(...values: number[]): () => number {
  let i = 0;
  return () => {
    const v = values[i % values.length]!;
    i += 1;
    return (v + 0.5) / 4_294_967_296;
  };
}

/** A manual clock: timers fire on `advance()`. */
export class FakeClock implements Clock {
  private time = 0;
  private timers: { at: number; fn: () => void; cancelled: boolean }[] = [];

  now(): number {
    return this.time;
  }

  setTimeout(callback: () => void, delayMs: number): TimerHandle {
    const timer = { at: this.time + delayMs, fn: callback, cancelled: false };
    this.timers.push(timer);
    return { cancel: () => (timer.cancelled = true) };
  }

  advance(ms: number): void {
    const end = this.time + ms;
    for (;;) {
      const due = this.timers.filter((t) => !t.cancelled && t.at <= end).sort((a, b) => a.at - b.at)[0];
      if (due === undefined) break;
      this.time = due.at;
      due.cancelled = true;
      due.fn();
    }
    this.time = end;
    this.timers = this.timers.filter((t) => !t.cancelled);
  }

  get pending(): number {
    return this.timers.filter((t) => !t.cancelled).length;
  }
}

import { Host } from '../../../sidecar/src/upstream/host';
import type { PoolSettings } from '../../../sidecar/src/upstream/pool/pool-settings';
import { silentLogger } from '../../../sidecar/src/observability/logger';

/** Pool settings for hosts whose pools a unit test never opens. */
export const TEST_POOL_SETTINGS: PoolSettings = {
  clusterName: 'test',
  connectTimeoutMs: 1000,
  maxConnections: 4,
  idleTimeoutMs: 0,
  maxRequestsPerConnection: null,
  maxConnectionDurationMs: null,
  localAddress: null,
  http2: HTTP2_DEFAULTS,
  tls: null,
  protocol: 'http1',
  clock: new FakeClock(),
  logger: silentLogger(),
  onAlpn: () => undefined,
  onMaxDurationReached: () => undefined,
};

/** Hosts named by their last octet: `hosts(3, 2, 1)` = 10.0.0.1 weight 3, 10.0.0.2 weight 2, 10.0.0.3 weight 1. */
export function hosts(...weights: number[]): Host[] {
  return weights.map((w, i) => {
    const h = new Host(`10.0.0.${i + 1}`, 80, TEST_POOL_SETTINGS);
    h.weight = w;
    return h;
  });
}

/** 'A', 'B', 'C'... for a host made by `hosts()`. */
export function letter(h: Host | undefined): string {
  if (h === undefined) return '-';
  return String.fromCharCode(64 + Number(h.address.split('.')[3]));
}
