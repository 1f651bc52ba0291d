// Passive outlier detection for one cluster (Envoy DetectorImpl / DetectorHostMonitorImpl): counts results per host,
// ejects and un-ejects on interval ticks of the injected clock; owns the OUTLIER_EJECTED health flag.

import type { OutlierDetectionConfig } from '../../config/cluster-config';
import type { Clock, TimerHandle } from '../../core/clock';
import type { Host } from '../host';
import { HostHealthFlags } from '../host-health-flags';
import { randomUint32, type RandomSource } from '../lb/balancer';
import { successRateThreshold, type SuccessRateThreshold } from './success-rate';

/** Envoy `envoy.data.cluster.v3.OutlierEjectionType`, in stat-name spelling. */
export type OutlierEjectionType =
  | 'consecutive_5xx'
  | 'consecutive_gateway_failure'
  | 'success_rate'
  | 'failure_percentage'
  | 'consecutive_local_origin_failure'
  | 'local_origin_success_rate'
  | 'local_origin_failure_percentage';

const EJECTION_TYPES: readonly OutlierEjectionType[] = [
  'consecutive_5xx',
  'consecutive_gateway_failure',
  'success_rate',
  'failure_percentage',
  'consecutive_local_origin_failure',
  'local_origin_success_rate',
  'local_origin_failure_percentage',
];

/**
 * A locally originated event (Envoy `Outlier::Result`): the connection failed or the upstream reset the stream
 * (`connect_failed`: the router reports every non-overflow reset this way), a per-try or route timeout, or a
 * connection that worked (`connect_success`, only counted with `split_external_local_origin_errors`).
 */
export type LocalOriginEvent = 'connect_failed' | 'timeout' | 'connect_success';

/** Envoy `cluster.<name>.outlier_detection.*` (specs/load-balancing.md §2.6). Counters only grow; `ejectionsActive` is a gauge. */
export interface OutlierDetectionStats {
  ejectionsActive: number;
  ejectionsOverflow: number;
  ejectionsEnforcedTotal: number;
  /** `ejections_detected_<type>`: the host was found an outlier within max_ejection_percent (enforced or not). */
  readonly ejectionsDetected: Record<OutlierEjectionType, number>;
  /** `ejections_enforced_<type>`: the ejection happened. */
  readonly ejectionsEnforced: Record<OutlierEjectionType, number>;
}

/** Per-host outlier state for `/clusters`. Rates are percentages of the last full interval, −1 without data. */
export interface OutlierHostView {
  readonly ejected: boolean;
  readonly numEjections: number;
  readonly lastEjectionType: OutlierEjectionType | null;
  /** The multiplier of `base_ejection_time` for the next ejection minus one (Envoy `ejectTimeBackoff`). */
  readonly ejectionBackoff: number;
  readonly lastEjectionMs: number | null;
  readonly successRate: number;
  readonly localOriginSuccessRate: number;
  readonly consecutive5xx: number;
  readonly consecutiveGatewayFailure: number;
  readonly consecutiveLocalOriginFailure: number;
}

/** What the detector needs: time, randomness (enforcement draws and jitter). */
export interface OutlierDetectorDeps {
  readonly clock: Clock;
  readonly random: RandomSource;
}

/** Two buckets swapped each interval; statistics read the one that just ended (Envoy SuccessRateAccumulator). */
class SuccessRateMonitor {
  private total = 0;
  private success = 0;
  private lastTotal = 0;
  private lastSuccess = 0;

  add(success: boolean): void {
    this.total += 1;
    if (success) this.success += 1;
  }

  swap(): void {
    this.lastTotal = this.total;
    this.lastSuccess = this.success;
    this.total = 0;
    this.success = 0;
  }

  /** The last interval's volume (0 = no data). */
  get volume(): number {
    return this.lastTotal;
  }

  /** The last interval's success rate in percent (meaningful only when `volume > 0`). */
  get rate(): number {
    return (100 * this.lastSuccess) / this.lastTotal;
  }
}

/** Envoy DetectorHostMonitorImpl: the counters of one host. */
class HostMonitor {
  consecutive5xx = 0;
  consecutiveGateway = 0;
  consecutiveLocal = 0;
  readonly external = new SuccessRateMonitor();
  readonly local = new SuccessRateMonitor();
  numEjections = 0;
  backoff = 0;
  jitterMs = 0;
  lastEjectionMs: number | null = null;
  lastUnejectionMs: number | null = null;
  lastEjectionType: OutlierEjectionType | null = null;
  successRate = -1;
  localSuccessRate = -1;

  resetConsecutive(): void {
    this.consecutive5xx = 0;
    this.consecutiveGateway = 0;
    this.consecutiveLocal = 0;
  }
}

function zeroByType(): Record<OutlierEjectionType, number> {
  const out = {} as Record<OutlierEjectionType, number>;
  for (const t of EJECTION_TYPES) out[t] = 0;
  return out;
}

function isGatewayError(code: number): boolean {
  return code === 502 || code === 503 || code === 504;
}

/**
 * One cluster's outlier detector (Envoy `source/common/upstream/outlier_detection_impl.cc`, specs §2).
 * Contract: the proxy reports each attempt with `putHttpResponseCode` or `putResult`; the detector sets
 * `OUTLIER_EJECTED` on a host when a consecutive-error counter reaches its threshold (`++c == N`) or when the
 * interval sweep finds it a success-rate / failure-percentage outlier, within `max_ejection_percent` of all hosts
 * (strict rule, plus `always_eject_one_host`), with probability `enforcing_*`/100. Un-ejection happens only on
 * interval ticks, once `min(base · backoff, max) + jitter` has passed; backoff decays by one per clean interval.
 * Cost: O(1) per reported result; O(hosts) per tick. The tick timer is the injected clock's (unref'd).
 */
export class OutlierDetector {
  readonly stats: OutlierDetectionStats = { ejectionsActive: 0, ejectionsOverflow: 0, ejectionsEnforcedTotal: 0, ejectionsDetected: zeroByType(), ejectionsEnforced: zeroByType() };
  private readonly monitors = new Map<Host, HostMonitor>();
  private cfg: OutlierDetectionConfig;
  private timer: TimerHandle | null = null;
  private stopped = false;
  private externalThreshold: SuccessRateThreshold | null = null;
  private localThreshold: SuccessRateThreshold | null = null;

  constructor(
    config: OutlierDetectionConfig,
    hosts: readonly Host[],
    private readonly deps: OutlierDetectorDeps,
  ) {
    this.cfg = config;
    for (const h of hosts) this.monitors.set(h, new HostMonitor());
    this.armTimer();
  }

  get config(): OutlierDetectionConfig {
    return this.cfg;
  }

  /** New thresholds apply at once; the interval from the next tick on. State (counters, ejections) is kept. */
  update(config: OutlierDetectionConfig): void {
    this.cfg = config;
  }

  /** Membership change: new hosts start clean; removed hosts leave (an ejected one stops counting as active). */
  hostsChanged(added: readonly Host[], removed: readonly Host[]): void {
    for (const h of added) if (!this.monitors.has(h)) this.monitors.set(h, new HostMonitor());
    for (const h of removed) {
      if (!this.monitors.delete(h)) continue;
      if ((h.healthFlags & HostHealthFlags.OUTLIER_EJECTED) !== 0) {
        this.stats.ejectionsActive -= 1;
        h.healthFlags &= ~HostHealthFlags.OUTLIER_EJECTED;
      }
    }
  }

  /** Stops the tick timer and un-ejects every host (the cluster lost its outlier_detection, or went away). */
  stop(): void {
    this.stopped = true;
    this.timer?.cancel();
    this.timer = null;
    for (const h of this.monitors.keys()) h.healthFlags &= ~HostHealthFlags.OUTLIER_EJECTED;
    this.stats.ejectionsActive = 0;
  }

  /**
   * Envoy `putHttpResponseCode`: 5xx counts toward consecutive_5xx; 502/503/504 also toward
   * consecutive_gateway_failure (another 5xx resets that one); anything else is a success and resets both.
   */
  putHttpResponseCode(host: Host, code: number): void {
    const m = this.monitors.get(host);
    if (m === undefined) return;
    if (code >= 500 && code <= 599) {
      m.external.add(false);
      if (isGatewayError(code)) {
        if (++m.consecutiveGateway === this.cfg.consecutiveGatewayFailure) this.onConsecutiveError(host, m, 'consecutive_gateway_failure');
      } else {
        m.consecutiveGateway = 0;
      }
      if (++m.consecutive5xx === this.cfg.consecutive5xx) this.onConsecutiveError(host, m, 'consecutive_5xx');
    } else {
      m.external.add(true);
      m.consecutive5xx = 0;
      m.consecutiveGateway = 0;
    }
  }

  /**
   * Envoy `putResult`. Without `split_external_local_origin_errors` a failed connection or reset counts as 503 and a
   * timeout as `code` (504 by default); `connect_success` is ignored. With the split they feed the local-origin
   * counter and success rate instead, and `connect_success` resets that counter.
   */
  putResult(host: Host, event: LocalOriginEvent, code?: number): void {
    const m = this.monitors.get(host);
    if (m === undefined) return;
    if (!this.cfg.splitExternalLocalOriginErrors) {
      if (event === 'connect_failed') this.putHttpResponseCode(host, code ?? 503);
      else if (event === 'timeout') this.putHttpResponseCode(host, code ?? 504);
      return;
    }
    if (event === 'connect_success') {
      m.local.add(true);
      m.consecutiveLocal = 0;
      return;
    }
    m.local.add(false);
    if (++m.consecutiveLocal === this.cfg.consecutiveLocalOriginFailure) this.onConsecutiveError(host, m, 'consecutive_local_origin_failure');
  }

  /**
   * A passing active health check (specs §2.4): un-ejects the host when `successful_active_health_check_uneject_host`
   * and the host is not failing active checks (Envoy's host-check-complete callback in DetectorImpl::initialize).
   */
  onActiveHealthCheckSuccess(host: Host): void {
    if (!this.cfg.successfulActiveHealthCheckUnejectHost) return;
    const flags = host.healthFlags;
    if ((flags & HostHealthFlags.FAILED_ACTIVE_HC) !== 0 || (flags & HostHealthFlags.OUTLIER_EJECTED) === 0) return;
    const m = this.monitors.get(host);
    if (m !== undefined) this.uneject(host, m, this.deps.clock.now());
  }

  /** The host's state for `/clusters`, or undefined for a host the detector does not track. */
  hostView(host: Host): OutlierHostView | undefined {
    const m = this.monitors.get(host);
    if (m === undefined) return undefined;
    return {
      ejected: (host.healthFlags & HostHealthFlags.OUTLIER_EJECTED) !== 0,
      numEjections: m.numEjections,
      lastEjectionType: m.lastEjectionType,
      ejectionBackoff: m.backoff,
      lastEjectionMs: m.lastEjectionMs,
      successRate: m.successRate,
      localOriginSuccessRate: m.localSuccessRate,
      consecutive5xx: m.consecutive5xx,
      consecutiveGatewayFailure: m.consecutiveGateway,
      consecutiveLocalOriginFailure: m.consecutiveLocal,
    };
  }

  /** The last sweep's success-rate statistics (external or local origin), or null when it had too few hosts. */
  successRateStats(origin: 'external' | 'local'): SuccessRateThreshold | null {
    return origin === 'external' ? this.externalThreshold : this.localThreshold;
  }

  // --- ejection ------------------------------------------------------------------------------------------

  /** Envoy `onConsecutiveErrorWorker`: ignored while ejected (counter kept); else the counter resets and we try. */
  private onConsecutiveError(host: Host, m: HostMonitor, type: OutlierEjectionType): void {
    if ((host.healthFlags & HostHealthFlags.OUTLIER_EJECTED) !== 0) return;
    if (type === 'consecutive_5xx') m.consecutive5xx = 0;
    else if (type === 'consecutive_gateway_failure') m.consecutiveGateway = 0;
    else m.consecutiveLocal = 0;
    this.ejectHost(host, m, type);
  }

  /** Envoy `ejectHost` (current rule, specs §2.3). */
  private ejectHost(host: Host, m: HostMonitor, type: OutlierEjectionType): void {
    const stats = this.stats;
    const maxPercent = Math.min(100, this.cfg.maxEjectionPercent);
    const wouldBePercent = (100 * (stats.ejectionsActive + 1)) / this.monitors.size;
    const shouldEject = wouldBePercent <= maxPercent || (this.cfg.alwaysEjectOneHost && stats.ejectionsActive === 0);
    if (!shouldEject) {
      stats.ejectionsOverflow += 1;
      return;
    }
    stats.ejectionsDetected[type] += 1;
    if (!this.enforced(type)) return;
    stats.ejectionsActive += 1;
    stats.ejectionsEnforced[type] += 1;
    stats.ejectionsEnforcedTotal += 1;
    m.numEjections += 1;
    m.lastEjectionMs = this.deps.clock.now();
    m.lastEjectionType = type;
    m.jitterMs = randomUint32(this.deps.random) % (this.cfg.maxEjectionTimeJitterMs + 1);
    const base = this.cfg.baseEjectionTimeMs;
    if (m.backoff * base < this.cfg.maxEjectionTimeMs + base) m.backoff += 1;
    host.healthFlags |= HostHealthFlags.OUTLIER_EJECTED;
  }

  /** Envoy `enforceEjection`: `runtime.featureEnabled(key, enforcing_<type>)`, i.e. `random % 100 < percent`. */
  private enforced(type: OutlierEjectionType): boolean {
    const c = this.cfg;
    let percent: number;
    switch (type) {
      case 'consecutive_5xx':
        percent = c.enforcingConsecutive5xx;
        break;
      case 'consecutive_gateway_failure':
        percent = c.enforcingConsecutiveGatewayFailure;
        break;
      case 'success_rate':
        percent = c.enforcingSuccessRate;
        break;
      case 'failure_percentage':
        percent = c.enforcingFailurePercentage;
        break;
      case 'consecutive_local_origin_failure':
        percent = c.enforcingConsecutiveLocalOriginFailure;
        break;
      case 'local_origin_success_rate':
        percent = c.enforcingLocalOriginSuccessRate;
        break;
      case 'local_origin_failure_percentage':
        percent = c.enforcingFailurePercentageLocalOrigin;
        break;
    }
    if (percent <= 0) return false;
    if (percent >= 100) return true;
    return randomUint32(this.deps.random) % 100 < percent;
  }

  private uneject(host: Host, m: HostMonitor, now: number): void {
    this.stats.ejectionsActive -= 1;
    host.healthFlags &= ~HostHealthFlags.OUTLIER_EJECTED;
    // Envoy resets every consecutive counter so a few new errors cannot re-eject a host whose counter sat near N.
    m.resetConsecutive();
    m.lastUnejectionMs = now;
  }

  // --- interval sweep ------------------------------------------------------------------------------------

  private armTimer(): void {
    if (this.stopped) return;
    this.timer = this.deps.clock.setTimeout(() => this.onIntervalTimer(), Math.max(1, this.cfg.intervalMs));
  }

  /** Envoy `onIntervalTimer`: un-eject due hosts, swap buckets, success-rate passes, then back-off decay. */
  private onIntervalTimer(): void {
    this.timer = null;
    if (this.stopped) return;
    const now = this.deps.clock.now();
    for (const [host, m] of this.monitors) {
      this.checkHostForUneject(host, m, now);
      m.external.swap();
      m.local.swap();
      m.successRate = m.external.volume > 0 ? m.external.rate : -1;
      m.localSuccessRate = m.local.volume > 0 ? m.local.rate : -1;
    }
    this.externalThreshold = this.processSuccessRateEjections('external');
    this.localThreshold = this.processSuccessRateEjections('local');
    const interval = this.cfg.intervalMs;
    for (const [host, m] of this.monitors) {
      if ((host.healthFlags & HostHealthFlags.OUTLIER_EJECTED) !== 0) continue;
      if (m.lastUnejectionMs !== null && now - m.lastUnejectionMs >= interval && m.backoff > 0) m.backoff -= 1;
    }
    this.armTimer();
  }

  /** Envoy `checkHostForUneject`: due when `min(base · backoff, max) + jitter <= now − last ejection`. */
  private checkHostForUneject(host: Host, m: HostMonitor, now: number): void {
    if ((host.healthFlags & HostHealthFlags.OUTLIER_EJECTED) === 0 || m.lastEjectionMs === null) return;
    const ejectionMs = Math.min(this.cfg.baseEjectionTimeMs * m.backoff, this.cfg.maxEjectionTimeMs);
    if (ejectionMs + m.jitterMs <= now - m.lastEjectionMs) this.uneject(host, m, now);
  }

  /**
   * Envoy `processSuccessRateEjections` for one origin: hosts with data in the last interval and not ejected;
   * success rate over hosts with volume >= success_rate_request_volume (at least success_rate_minimum_hosts of
   * them), failure percentage over hosts with volume >= failure_percentage_request_volume (at least
   * failure_percentage_minimum_hosts). Returns the success-rate statistics, or null when not evaluated.
   */
  private processSuccessRateEjections(origin: 'external' | 'local'): SuccessRateThreshold | null {
    const c = this.cfg;
    const total = this.monitors.size;
    if (total < c.successRateMinimumHosts && total < c.failurePercentageMinimumHosts) return null;
    const srVolume = Math.max(c.successRateRequestVolume, 1);
    const fpVolume = Math.max(c.failurePercentageRequestVolume, 1);
    const srHosts: [Host, HostMonitor, number][] = [];
    const fpHosts: [Host, HostMonitor, number][] = [];
    for (const [host, m] of this.monitors) {
      if ((host.healthFlags & HostHealthFlags.OUTLIER_EJECTED) !== 0) continue;
      const monitor = origin === 'external' ? m.external : m.local;
      const volume = monitor.volume;
      if (volume === 0) continue;
      const rate = monitor.rate;
      if (volume >= srVolume) srHosts.push([host, m, rate]);
      if (volume >= fpVolume) fpHosts.push([host, m, rate]);
    }
    let result: SuccessRateThreshold | null = null;
    if (srHosts.length > 0 && srHosts.length >= c.successRateMinimumHosts) {
      result = successRateThreshold(
        srHosts.map((e) => e[2]),
        c.successRateStdevFactor / 1000,
      );
      const type: OutlierEjectionType = origin === 'external' ? 'success_rate' : 'local_origin_success_rate';
      for (const [host, m, rate] of srHosts) if (rate < result.threshold) this.ejectHost(host, m, type);
    }
    if (fpHosts.length > 0 && fpHosts.length >= c.failurePercentageMinimumHosts) {
      const type: OutlierEjectionType = origin === 'external' ? 'failure_percentage' : 'local_origin_failure_percentage';
      for (const [host, m, rate] of fpHosts) {
        // A host the success-rate pass just ejected is not ejected twice.
        if ((host.healthFlags & HostHealthFlags.OUTLIER_EJECTED) !== 0) continue;
        if (100 - rate >= c.failurePercentageThreshold) this.ejectHost(host, m, type);
      }
    }
    return result;
  }
}
