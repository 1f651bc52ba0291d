// Active health checking for one cluster (Envoy HealthCheckerImplBase): a session per host on the injected clock,
// thresholds and edge intervals, first-success rule; owns FAILED_ACTIVE_HC, DEGRADED_ACTIVE_HC and PENDING_ACTIVE_HC.

import type { HealthCheckConfig } from '../../config/cluster-config';
import type { Clock, TimerHandle } from '../../core/clock';
import type { Host } from '../host';
import { HostHealthFlags } from '../host-health-flags';
import { randomUint32, type RandomSource } from '../lb/balancer';
import { GrpcProbe } from './grpc-probe';
import type { ProbeResult, ProbeTarget, SessionProbe } from './health-probe';
import { HttpProbe } from './http-probe';
import { TcpProbe } from './tcp-probe';

const F = HostHealthFlags;
/** The bits this subsystem owns (host-health-flags.ts). */
const OWNED = F.FAILED_ACTIVE_HC | F.DEGRADED_ACTIVE_HC | F.PENDING_ACTIVE_HC | F.EXCLUDED_VIA_IMMEDIATE_HC_FAIL;

/** Envoy `HealthTransition`. */
export type HealthTransition = 'unchanged' | 'changed' | 'change_pending';

/** Envoy `cluster.<name>.health_check.*`. */
export interface HealthCheckStats {
  attempt: number;
  success: number;
  failure: number;
  networkFailure: number;
  /** Hosts passing now (gauge `healthy`). */
  healthy: number;
}

/** What the checker needs from its cluster. */
export interface HealthCheckerDeps {
  readonly clock: Clock;
  readonly random: RandomSource;
  readonly clusterName: string;
  /** Envoy `upstream_cx_total.used()`: the cluster carried traffic at least once (else `no_traffic_interval`). */
  readonly trafficSeen: () => boolean;
  /** `ignore_new_hosts_until_first_hc`: new hosts are also PENDING_ACTIVE_HC (excluded) until their first check. */
  readonly ignoreNewHostsUntilFirstHc: boolean;
  /** After every check (Envoy host-check-complete callbacks; outlier detection un-ejects on a pass). */
  readonly onCheckComplete?: (host: Host, passed: boolean, transition: HealthTransition) => void;
  /** Replaces the real probes (unit tests). */
  readonly probeFactory?: (config: HealthCheckConfig, target: ProbeTarget) => SessionProbe;
}

/** The probe for `config`'s checker kind. */
function createProbe(config: HealthCheckConfig, target: ProbeTarget): SessionProbe {
  const checker = config.checker;
  switch (checker.kind) {
    case 'http':
      return new HttpProbe(checker, target, config.reuseConnection);
    case 'tcp':
      return new TcpProbe(checker, target);
    case 'grpc':
      return new GrpcProbe(checker, target, config.reuseConnection);
  }
}

/** Envoy `ActiveHealthCheckSession`: one host's counters and timers. */
class Session {
  numHealthy = 0;
  numUnhealthy = 0;
  firstCheck = true;
  intervalTimer: TimerHandle | null = null;
  timeoutTimer: TimerHandle | null = null;
  inFlight = false;
  probe: SessionProbe | null = null;
  lastPassMs: number | null = null;
  constructor(readonly host: Host) {}
}

/**
 * One cluster's active health checker (Envoy `health_checker_base_impl.cc`, specs §3). Contract: every host starts
 * FAILED_ACTIVE_HC (plus PENDING_ACTIVE_HC with `ignore_new_hosts_until_first_hc`) and is checked at once (or after
 * `random % initial_jitter`); the first success ever, or `healthy_threshold` successes in a row, clears the flag; a
 * non-retriable ACTIVE failure sets it at once, NETWORK / timeout / retriable failures after `unhealthy_threshold`
 * in a row. The next check is scheduled with `interval`, `unhealthy_interval` or the edge intervals while a change is
 * pending, or `no_traffic_interval` while the cluster never carried traffic, plus jitter. Timers are the injected
 * clock's; sessions exist only for hosts of the cluster (`hostsChanged`) and stop with `stop()`.
 */
export class HealthChecker {
  readonly stats: HealthCheckStats = { attempt: 0, success: 0, failure: 0, networkFailure: 0, healthy: 0 };
  private readonly sessions = new Map<Host, Session>();
  private cfg: HealthCheckConfig;
  private stopped = false;

  constructor(
    config: HealthCheckConfig,
    hosts: readonly Host[],
    private readonly deps: HealthCheckerDeps,
  ) {
    this.cfg = config;
    this.hostsChanged(hosts, []);
  }

  get config(): HealthCheckConfig {
    return this.cfg;
  }

  /** New timings apply from each host's next check; a new checker kind or target gets new probes. */
  update(config: HealthCheckConfig): void {
    if (config === this.cfg) return;
    const probesChanged = JSON.stringify([config.checker, config.reuseConnection]) !== JSON.stringify([this.cfg.checker, this.cfg.reuseConnection]);
    this.cfg = config;
    if (!probesChanged) return;
    for (const s of this.sessions.values()) {
      s.probe?.close();
      s.probe = null;
    }
  }

  /** Starts sessions for added hosts (flagged as never checked) and ends those of removed hosts. */
  hostsChanged(added: readonly Host[], removed: readonly Host[]): void {
    if (this.stopped) return;
    for (const host of removed) {
      const s = this.sessions.get(host);
      if (s === undefined) continue;
      this.endSession(s);
      this.sessions.delete(host);
    }
    for (const host of added) {
      if (this.sessions.has(host)) continue;
      const s = new Session(host);
      this.sessions.set(host, s);
      host.healthFlags |= F.FAILED_ACTIVE_HC | (this.deps.ignoreNewHostsUntilFirstHc ? F.PENDING_ACTIVE_HC : 0);
      const jitter = this.cfg.initialJitterMs > 0 ? randomUint32(this.deps.random) % this.cfg.initialJitterMs : 0;
      s.intervalTimer = this.deps.clock.setTimeout(() => this.runCheck(s), jitter);
    }
  }

  /** Ends every session and clears the flags this checker owns (the cluster lost its health check, or went away). */
  stop(): void {
    this.stopped = true;
    for (const s of this.sessions.values()) {
      this.endSession(s);
      s.host.healthFlags &= ~OWNED;
    }
    this.sessions.clear();
    this.stats.healthy = 0;
  }

  /** When the host last passed a check (slow start reads it), or null. */
  lastPassMs(host: Host): number | null {
    return this.sessions.get(host)?.lastPassMs ?? null;
  }

  private endSession(s: Session): void {
    s.intervalTimer?.cancel();
    s.timeoutTimer?.cancel();
    s.intervalTimer = s.timeoutTimer = null;
    s.probe?.close();
    s.probe = null;
    if (!s.firstCheck && (s.host.healthFlags & F.FAILED_ACTIVE_HC) === 0) this.stats.healthy -= 1;
  }

  /** Envoy `onIntervalBase`: one check with its timeout timer. */
  private runCheck(s: Session): void {
    s.intervalTimer = null;
    if (this.stopped || this.sessions.get(s.host) !== s) return;
    const host = s.host;
    const probe = (s.probe ??= (this.deps.probeFactory ?? createProbe)(this.cfg, {
      address: host.address,
      port: host.port,
      defaultAuthority: host.hostname !== '' ? host.hostname : this.deps.clusterName,
    }));
    this.stats.attempt += 1;
    s.inFlight = true;
    s.timeoutTimer = this.deps.clock.setTimeout(() => {
      s.timeoutTimer = null;
      if (!s.inFlight) return;
      s.inFlight = false;
      probe.cancel();
      this.onResult(s, { kind: 'failure', type: 'network_timeout', retriable: false });
    }, Math.max(1, this.cfg.timeoutMs));
    probe.check((result) => {
      if (!s.inFlight || this.sessions.get(s.host) !== s) return;
      s.inFlight = false;
      s.timeoutTimer?.cancel();
      s.timeoutTimer = null;
      this.onResult(s, result);
    });
  }

  private onResult(s: Session, result: ProbeResult): void {
    const passed = result.kind === 'success';
    const transition = result.kind === 'success' ? this.handleSuccess(s, result.degraded) : this.handleFailure(s, result.type, result.retriable);
    this.deps.onCheckComplete?.(s.host, passed, transition);
    if (this.stopped || this.sessions.get(s.host) !== s) return;
    s.intervalTimer = this.deps.clock.setTimeout(() => this.runCheck(s), this.interval(passed, transition));
  }

  /** Envoy `handleSuccess`. */
  private handleSuccess(s: Session, degraded: boolean): HealthTransition {
    const host = s.host;
    s.numUnhealthy = 0;
    let transition: HealthTransition = 'unchanged';
    let flags = host.healthFlags;
    if ((flags & F.FAILED_ACTIVE_HC) !== 0) {
      // The first result ever makes a host healthy at once, whatever healthy_threshold says.
      if (s.firstCheck || ++s.numHealthy === this.cfg.healthyThreshold) {
        flags &= ~(F.FAILED_ACTIVE_HC | F.EXCLUDED_VIA_IMMEDIATE_HC_FAIL);
        this.stats.healthy += 1;
        transition = 'changed';
      } else {
        transition = 'change_pending';
      }
      // Envoy `handleSuccess` sets `host->setLastHcPassTime()` on every pass while FAILED_ACTIVE_HC: the pass that
      // clears the flag is the last one, so slow start (lb/slow-start.ts) counts from the failed -> healthy edge.
      s.lastPassMs = this.deps.clock.now();
      host.lastHcPassAtMs = s.lastPassMs;
    }
    if ((flags & F.PENDING_ACTIVE_HC) !== 0) {
      flags &= ~F.PENDING_ACTIVE_HC;
      transition = 'changed';
    }
    if (degraded !== ((flags & F.DEGRADED_ACTIVE_HC) !== 0)) {
      flags = degraded ? flags | F.DEGRADED_ACTIVE_HC : flags & ~F.DEGRADED_ACTIVE_HC;
      if (transition === 'unchanged') transition = 'changed';
    }
    host.healthFlags = flags;
    this.stats.success += 1;
    s.firstCheck = false;
    return transition;
  }

  /** Envoy `setUnhealthy`. */
  private handleFailure(s: Session, type: 'active' | 'network' | 'network_timeout', retriable: boolean): HealthTransition {
    const host = s.host;
    s.numHealthy = 0;
    let transition: HealthTransition = 'unchanged';
    let flags = host.healthFlags;
    if ((flags & F.FAILED_ACTIVE_HC) === 0) {
      if ((type === 'active' && !retriable) || ++s.numUnhealthy === this.cfg.unhealthyThreshold) {
        flags |= F.FAILED_ACTIVE_HC;
        if (!s.firstCheck) this.stats.healthy -= 1;
        transition = 'changed';
      } else {
        transition = 'change_pending';
      }
    }
    if ((flags & F.PENDING_ACTIVE_HC) !== 0) {
      flags &= ~F.PENDING_ACTIVE_HC;
      transition = 'changed';
    }
    host.healthFlags = flags;
    this.stats.failure += 1;
    if (type === 'network') this.stats.networkFailure += 1;
    s.firstCheck = false;
    return transition;
  }

  /** Envoy `HealthCheckerImplBase::interval` + `intervalWithJitter` (specs §3.2). */
  interval(passed: boolean, transition: HealthTransition): number {
    const c = this.cfg;
    let base: number;
    if (!this.deps.trafficSeen()) {
      base = passed && transition !== 'change_pending' ? c.noTrafficHealthyIntervalMs : c.noTrafficIntervalMs;
    } else if (passed) {
      base = transition === 'change_pending' ? c.healthyEdgeIntervalMs : c.intervalMs;
    } else {
      base = transition === 'change_pending' ? c.unhealthyEdgeIntervalMs : c.unhealthyIntervalMs;
    }
    const percentMod = Math.floor((c.intervalJitterPercent * base) / 100);
    if (percentMod > 0) base += randomUint32(this.deps.random) % percentMod;
    if (c.intervalJitterMs > 0) base += randomUint32(this.deps.random) % c.intervalJitterMs;
    return Math.max(1, base);
  }
}
