// Attaches outlier detection and active health checking to one UpstreamCluster for its life: created, updated
// and stopped with the cluster's config; hosts follow the cluster's membership changes.

import type { Clock } from '../core/clock';
import type { Logger } from '../observability/logger';
import type { Host } from './host';
import { HealthChecker, type HealthCheckerDeps } from './health/health-checker';
import type { ProbeTarget, SessionProbe } from './health/health-probe';
import type { RandomSource } from './lb/balancer';
import { OutlierDetector } from './outlier/outlier-detector';
import type { UpstreamCluster } from './upstream-cluster';
import type { HealthCheckConfig } from '../config/cluster-config';

/** What a cluster's resilience parts need from the manager. */
export interface ClusterResilienceDeps {
  readonly clock: Clock;
  readonly random: RandomSource;
  readonly logger: Logger;
  /** Replaces real health-check probes (unit tests). */
  readonly probeFactory?: (config: HealthCheckConfig, target: ProbeTarget) => SessionProbe;
}

/**
 * The outlier detector (when the cluster has `outlier_detection`) and the health checker (for its first
 * `health_checks` entry; Envoy accepts only one) of one cluster. `update()` after each config change creates,
 * updates or stops them; `close()` stops both and clears the flags they own. A passing active check un-ejects an
 * ejected host (`successful_active_health_check_uneject_host`).
 */
export class ClusterResilience {
  private detector: OutlierDetector | null = null;
  private checker: HealthChecker | null = null;
  private readonly unsubscribe: () => void;
  private trafficSeen = false;
  private warnedMultiple = false;

  constructor(
    private readonly cluster: UpstreamCluster,
    private readonly deps: ClusterResilienceDeps,
  ) {
    this.unsubscribe = cluster.onHostsChanged((added, removed) => {
      this.detector?.hostsChanged(added, removed);
      this.checker?.hostsChanged(added, removed);
    });
    this.update();
  }

  /** Null when the cluster has no `outlier_detection`. */
  get outlier(): OutlierDetector | null {
    return this.detector;
  }

  /** Null when the cluster has no `health_checks`. */
  get healthChecker(): HealthChecker | null {
    return this.checker;
  }

  /** Re-reads the cluster's config. */
  update(): void {
    const config = this.cluster.config;
    const od = config.outlierDetection;
    if (od === null) {
      this.detector?.stop();
      this.detector = null;
    } else if (this.detector === null) {
      this.detector = new OutlierDetector(od, this.cluster.hosts, this.deps);
    } else {
      this.detector.update(od);
    }
    const hc = config.healthChecks[0];
    if (config.healthChecks.length > 1 && !this.warnedMultiple) {
      this.warnedMultiple = true;
      this.deps.logger.warn({ cluster: this.cluster.name }, 'only the first health check of a cluster is used (as Envoy)');
    }
    if (hc === undefined) {
      this.checker?.stop();
      this.checker = null;
    } else if (this.checker === null) {
      const deps: HealthCheckerDeps = {
        clock: this.deps.clock,
        random: this.deps.random,
        clusterName: this.cluster.name,
        trafficSeen: () => this.sawTraffic(),
        ignoreNewHostsUntilFirstHc: config.commonLbConfig.ignoreNewHostsUntilFirstHc,
        onCheckComplete: (host, passed) => {
          if (passed) this.detector?.onActiveHealthCheckSuccess(host);
        },
        ...(this.deps.probeFactory !== undefined ? { probeFactory: this.deps.probeFactory } : {}),
      };
      this.checker = new HealthChecker(hc, this.cluster.hosts, deps);
    } else {
      this.checker.update(hc);
    }
  }

  close(): void {
    this.unsubscribe();
    this.detector?.stop();
    this.checker?.stop();
    this.detector = null;
    this.checker = null;
  }

  /** Sticky: some host of the cluster was picked for a request (Envoy `upstream_cx_total.used()`). */
  private sawTraffic(): boolean {
    if (!this.trafficSeen) this.trafficSeen = this.cluster.hosts.some((h: Host) => h.used || h.activeRequests > 0);
    return this.trafficSeen;
  }
}
