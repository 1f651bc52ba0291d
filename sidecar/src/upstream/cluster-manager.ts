// Owns every UpstreamCluster: applies config snapshots by diff, hands clusters to the proxy, closes pools at shutdown.

import type { ConfigSnapshot } from '../config/config-snapshot';
import type { ClusterConfig } from '../config/cluster-config';
import type { EndpointConfig, LocalityConfig } from '../config/endpoint-config';
import { systemClock, type Clock } from '../core/clock';
import { silentLogger, type Logger } from '../observability/logger';
import { systemDnsResolver, type DnsResolver } from './dns-discovery';
import type { RandomSource } from './lb/balancer';
import { ClusterResilience, type ClusterResilienceDeps } from './cluster-resilience';
import type { HealthChecker } from './health/health-checker';
import type { OutlierDetector } from './outlier/outlier-detector';
import { OutlierObserver } from './outlier/outlier-observer';
import { UpstreamCluster, type UpstreamClusterDeps } from './upstream-cluster';

export interface ClusterManagerOptions {
  clock?: Clock;
  logger?: Logger;
  /** Uniform in [0, 1); default Math.random. Seeds balancers and P2C/random picks. */
  random?: () => number;
  /** STRICT_DNS / LOGICAL_DNS lookups; default `dns.lookup({ all: true })` with the cluster's family policy. */
  dnsResolver?: DnsResolver;
  /** Replaces real active health-check probes (unit tests). */
  probeFactory?: ClusterResilienceDeps['probeFactory'];
  /**
   * Bootstrap `cluster_manager.local_cluster_name`: the cluster of this service's own instances. Set = zone-aware
   * routing for the other clusters (Envoy passes the local priority set to every load balancer).
   */
  localClusterName?: string | null;
  /** The node's locality (bootstrap `node.locality`); Envoy uses an empty locality when it is unset. */
  localLocality?: LocalityConfig | null;
}

/**
 * The upstream side of the config (ARCHITECTURE "Config" flow). `apply()` diffs by object identity: an
 * unchanged cluster (same ClusterConfig object and same EDS assignment object) is not touched; a changed one
 * is updated in place (the proxy's references stay valid, hosts are reused by address so pools, counters and
 * flags survive); a new one is created; a removed one stops its timers and drains its pools in the background.
 * Cost: O(clusters) identity checks per snapshot plus the work of the clusters that changed.
 */
export class ClusterManager {
  private readonly byName = new Map<string, UpstreamCluster>();
  private readonly endpointsOf = new Map<string, EndpointConfig | undefined>();
  private readonly draining = new Set<Promise<void>>();
  private readonly deps: UpstreamClusterDeps;
  private readonly resilience = new Map<UpstreamCluster, ClusterResilience>();
  private readonly resilienceDeps: ClusterResilienceDeps;
  /** Reports attempt results to each cluster's outlier detector: pass it to the proxy as an ExchangeObserver. */
  readonly outlierObserver = new OutlierObserver((cluster) => this.outlierDetector(cluster));
  private closed = false;

  constructor(options: ClusterManagerOptions = {}) {
    const random: RandomSource = options.random ?? Math.random;
    const localClusterName = options.localClusterName ?? '';
    this.deps = {
      clock: options.clock ?? systemClock,
      logger: options.logger ?? silentLogger(),
      random,
      dnsResolver: options.dnsResolver ?? systemDnsResolver,
      ...(options.localClusterName == null ? {} : { zoneAware: { localCluster: () => this.byName.get(localClusterName), locality: options.localLocality ?? { region: '', zone: '', subZone: '' } } }),
    };
    this.resilienceDeps = { clock: this.deps.clock, random, logger: this.deps.logger, ...(options.probeFactory !== undefined ? { probeFactory: options.probeFactory } : {}) };
  }

  /** Applies `snapshot` by diff. Never throws: a cluster that fails to build is logged and left out (or kept as it was). */
  apply(snapshot: ConfigSnapshot): void {
    if (this.closed) return;
    for (const [name, config] of snapshot.clusters) {
      const endpoints = endpointsFor(snapshot, config);
      const existing = this.byName.get(name);
      try {
        if (existing === undefined) {
          const cluster = new UpstreamCluster(config, endpoints, this.deps);
          this.byName.set(name, cluster);
          this.resilience.set(cluster, new ClusterResilience(cluster, this.resilienceDeps));
        } else if (existing.config !== config || this.endpointsOf.get(name) !== endpoints) {
          existing.update(config, endpoints);
          this.resilience.get(existing)?.update();
        }
        this.endpointsOf.set(name, endpoints);
      } catch (error) {
        this.deps.logger.error({ cluster: name, err: (error as Error).message }, 'cannot apply cluster config; keeping the previous state');
      }
    }
    for (const [name, cluster] of this.byName) {
      if (snapshot.clusters.has(name)) continue;
      this.byName.delete(name);
      this.endpointsOf.delete(name);
      this.resilience.get(cluster)?.close();
      this.resilience.delete(cluster);
      this.track(cluster.close());
    }
  }

  get(name: string): UpstreamCluster | undefined {
    return this.byName.get(name);
  }

  clusters(): Iterable<UpstreamCluster> {
    return this.byName.values();
  }

  /** The cluster's outlier detector, or undefined without `outlier_detection` (or for a removed cluster). */
  outlierDetector(cluster: UpstreamCluster): OutlierDetector | undefined {
    return this.resilience.get(cluster)?.outlier ?? undefined;
  }

  /** The cluster's active health checker, or undefined without `health_checks`. */
  healthChecker(cluster: UpstreamCluster): HealthChecker | undefined {
    return this.resilience.get(cluster)?.healthChecker ?? undefined;
  }

  /** Closes every cluster's pools gracefully (in-flight exchanges finish) and waits for removed clusters still draining. */
  async close(): Promise<void> {
    this.closed = true;
    for (const r of this.resilience.values()) r.close();
    this.resilience.clear();
    const clusters = [...this.byName.values()];
    this.byName.clear();
    this.endpointsOf.clear();
    await Promise.all([...clusters.map((c) => c.close()), ...this.draining]);
  }

  private track(closing: Promise<void>): void {
    this.draining.add(closing);
    void closing.finally(() => this.draining.delete(closing));
  }
}

/** EDS assignments live under the cluster's EDS service name (or its own name). */
function endpointsFor(snapshot: ConfigSnapshot, config: ClusterConfig): EndpointConfig | undefined {
  if (config.discoveryType !== 'EDS') return undefined;
  return snapshot.endpoints.get(config.edsServiceName ?? config.name);
}
