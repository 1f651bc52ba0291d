// One upstream cluster at run time: its hosts (diffed by address), their eligibility, the balancer over them, breaker and pools.

import type { ClusterConfig, UpstreamHttpProtocolConfig } from '../config/cluster-config';
import { DEFAULT_OVERPROVISIONING_FACTOR, type EndpointConfig, type JsonValue, type LocalityConfig, type MetadataConfig } from '../config/endpoint-config';
import type { Clock, TimerHandle } from '../core/clock';
import type { Logger } from '../observability/logger';
import { CircuitBreaker } from './circuit-breaker';
import { DnsDiscovery, type DnsResolver } from './dns-discovery';
import { Host, hostKey, type HostObserver } from './host';
import { EDS_MASK, HostHealthFlags } from './host-health-flags';
import { hostSpecsFromEndpoints, type HostSpec } from './host-spec';
import type { RandomSource } from './lb/balancer';
import type { PickContext } from './lb/pick-context';
import { PriorityBalancer } from './lb/priority-balancer';
import { emptyZoneRoutingStats, type ZoneRoutingStats } from './lb/zone-routing';
import type { PoolSettings } from './pool/pool-settings';
import { UpstreamTls } from './pool/upstream-tls';

export type { PickContext } from './lb/pick-context';

/** What a cluster needs from its manager. */
export interface UpstreamClusterDeps {
  readonly clock: Clock;
  readonly logger: Logger;
  readonly random: RandomSource;
  readonly dnsResolver: DnsResolver;
  /** Zone-aware routing (bootstrap `local_cluster_name`): the local cluster, looked up per pick, and the node's locality. */
  readonly zoneAware?: { readonly localCluster: () => UpstreamCluster | undefined; readonly locality: LocalityConfig };
}

/** Cluster counters (Envoy `cluster.<name>.*`), zone routing ones included. */
export interface UpstreamClusterStats extends ZoneRoutingStats {
  /** Picks served from all hosts because none was healthy (`lb_healthy_panic`). */
  lbHealthyPanic: number;
  /** Picks that found no host (`upstream_cx_none_healthy`). */
  noHealthyHost: number;
  /** Host set changes applied (`membership_change`). */
  membershipChanges: number;
  /** Balancer rebuilds. */
  rebuilds: number;
  /** Upstream connections retired at max_connection_duration, all hosts and pools (`upstream_cx_max_duration_reached`). */
  upstreamCxMaxDurationReached: number;
}

/** Told after each membership change with the hosts added and removed (active health checks hook in here, issue 4). */
export type HostsChangedListener = (added: readonly Host[], removed: readonly Host[]) => void;

const TRANSPORT_SOCKET_MATCH = 'envoy.transport_socket_match';

/**
 * The runtime of one `Cluster`, kept across config updates (the proxy may hold it; it is updated in place).
 * Invariants: hosts are unique by `address:port`; a host keeps its object (pools, counters, flags) while its
 * address stays; `pick()` reads a balancer built off the hot path whenever membership, weights or health
 * flags changed (lazily, at the first pick after the change), or when the assignment's overprovisioning factor
 * or locality weights change. Host choice is Envoy's (lb/priority-balancer.ts): priority by load with
 * overprovisioning spillover and degraded hosts, per-priority and total panic, locality weights, then the policy.
 */
export class UpstreamCluster implements HostObserver {
  readonly name: string;
  /** Per default routing priority (Envoy `RoutingPriority::Default`). */
  readonly breaker: CircuitBreaker;
  /** Routes with `priority: HIGH` (Envoy `RoutingPriority::High`): their own thresholds and counters. */
  readonly highBreaker: CircuitBreaker;
  readonly stats: UpstreamClusterStats = { lbHealthyPanic: 0, noHealthyHost: 0, membershipChanges: 0, rebuilds: 0, upstreamCxMaxDurationReached: 0, ...emptyZoneRoutingStats() };
  /** Resolves once the first host list is known (immediately except for DNS clusters before their first lookup). */
  ready: Promise<void> = Promise.resolve();

  private cfg: ClusterConfig;
  private endpoints: EndpointConfig | null | undefined;
  private hostList: readonly Host[] = [];
  private readonly byKey = new Map<string, Host>();
  private dirty = true;
  private balancer: PriorityBalancer | null = null;
  private lbFingerprint = '';
  private poolFingerprint = '';
  private defaultSettings!: PoolSettings;
  private matchSettings: PoolSettings[] = [];
  private dns: DnsDiscovery | null = null;
  private dnsFingerprint = '';
  private cleanupTimer: TimerHandle | null = null;
  private negotiated: 'http1' | 'http2' = 'http2';
  private readonly listeners = new Set<HostsChangedListener>();
  private readonly warned = new Set<string>();
  private closed = false;
  /** Bumped whenever the balancer inputs change, so clusters zone-routing against this one as local rebuild. */
  private generationValue = 0;
  /** The local cluster (and its generation) the balancer was built against (zone-aware routing). */
  private localSeen: UpstreamCluster | undefined = undefined;
  private localGenerationSeen = -1;

  constructor(
    config: ClusterConfig,
    endpoints: EndpointConfig | null | undefined,
    private readonly deps: UpstreamClusterDeps,
  ) {
    this.name = config.name;
    this.cfg = config;
    this.breaker = new CircuitBreaker(config.circuitBreakers.default);
    this.highBreaker = new CircuitBreaker(config.circuitBreakers.high);
    this.endpoints = endpoints;
    this.configure(config, null);
  }

  get config(): ClusterConfig {
    return this.cfg;
  }

  /** All hosts, every priority, in endpoint order. Replaced (not mutated) on membership changes. */
  get hosts(): readonly Host[] {
    return this.hostList;
  }

  /** True while some priority is in panic (its picks go to all its hosts). */
  get inPanic(): boolean {
    if (this.dirty) this.rebuild();
    return this.balancer?.inPanic ?? false;
  }

  /**
   * The balancer the next pick uses (rebuilt first if its inputs changed, as that pick would), for read-only views
   * (admin /explain reads its priority load and previews hash picks); null for ORIGINAL_DST or a closed cluster.
   */
  get currentBalancer(): PriorityBalancer | null {
    if (this.cfg.discoveryType === 'ORIGINAL_DST') return null;
    if (this.deps.zoneAware !== undefined) this.noteLocalCluster(this.deps.zoneAware.localCluster());
    if (this.dirty) this.rebuild();
    return this.balancer;
  }

  /**
   * A host for one attempt, or undefined (=> 503 UH). Avoids `context.exclude` for up to
   * `maxSelectionAttempts` (default 1) extra picks, then takes the last pick (Envoy `chooseHost`).
   * O(1)-ish, allocation-free except an ORIGINAL_DST first sight of an address.
   */
  pick(context: PickContext): Host | undefined {
    if (this.cfg.discoveryType === 'ORIGINAL_DST') return this.pickOriginalDst(context);
    if (this.deps.zoneAware !== undefined) this.noteLocalCluster(this.deps.zoneAware.localCluster());
    if (this.dirty) this.rebuild();
    const balancer = this.balancer;
    let host = balancer?.pick(context, 0);
    if (host === undefined || balancer === null) {
      this.stats.noHealthyHost += 1;
      return undefined;
    }
    const exclude = context.exclude;
    if (exclude !== undefined && exclude.size > 0) {
      const max = context.maxSelectionAttempts ?? 1;
      for (let k = 1; k <= max && exclude.has(host); k++) {
        const next = balancer.pick(context, k);
        if (next === undefined) break;
        host = next;
      }
    }
    host.used = true;
    return host;
  }

  /**
   * The protocol to speak upstream for a request that arrived as `downstream`: explicit http1/http2,
   * `use_downstream_protocol`, or `auto` (plaintext: HTTP/1.1; TLS: what ALPN chose on this cluster's last new
   * HTTP/2 connection, h2 until a server answers http/1.1).
   */
  upstreamProtocol(downstream: 'http1' | 'http2'): 'http1' | 'http2' {
    switch (this.cfg.upstreamHttp.protocol) {
      case 'http1':
        return 'http1';
      case 'http2':
        return 'http2';
      case 'use_downstream':
        return downstream;
      case 'auto':
        return this.cfg.transportSocket?.kind === 'tls' ? this.negotiated : 'http1';
    }
  }

  /** The circuit breaker of a route's `priority` (Envoy ResourceManager per RoutingPriority). */
  breakerFor(priority: 'DEFAULT' | 'HIGH'): CircuitBreaker {
    return priority === 'HIGH' ? this.highBreaker : this.breaker;
  }

  /** Subscribe to membership changes; returns the unsubscribe function. */
  onHostsChanged(listener: HostsChangedListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** HostObserver: a host's weight or health flags changed. */
  onHostChanged(): void {
    this.dirty = true;
    this.generationValue += 1;
  }

  /** Changes whenever a host joins, leaves, or changes weight or health flags. */
  get generation(): number {
    return this.generationValue;
  }

  /**
   * Applies a new config and/or load assignment in place (from ClusterManager.apply). Pools are replaced only
   * when a setting they use changed; DNS discovery restarts only when what it resolves changed.
   */
  update(config: ClusterConfig, endpoints: EndpointConfig | null | undefined): void {
    if (this.closed) return;
    const previous = this.cfg;
    this.cfg = config;
    this.endpoints = endpoints;
    if (config !== previous) {
      this.breaker.update(config.circuitBreakers.default);
      this.highBreaker.update(config.circuitBreakers.high);
      if (JSON.stringify(config.lbPolicy) !== JSON.stringify(previous.lbPolicy) || JSON.stringify(config.commonLbConfig) !== JSON.stringify(previous.commonLbConfig)) this.dirty = true;
    }
    this.configure(config, previous);
  }

  /** Stops discovery and cleanup timers and closes every host's pools gracefully. Idempotent. */
  close(): Promise<void> {
    this.closed = true;
    this.dns?.stop();
    this.dns = null;
    this.cleanupTimer?.cancel();
    this.cleanupTimer = null;
    const hosts = this.hostList;
    this.hostList = [];
    this.byKey.clear();
    this.balancer = null;
    this.dirty = false;
    return Promise.all(hosts.map((h) => this.retireHost(h))).then(() => undefined);
  }

  // --- configuration ---------------------------------------------------------------------------------------

  private configure(config: ClusterConfig, previous: ClusterConfig | null): void {
    this.configurePools(config);
    switch (config.discoveryType) {
      case 'EDS':
        this.stopDns();
        this.setMembers(hostSpecsFromEndpoints(this.endpoints ?? null));
        this.noteLbInputs(this.endpoints ?? null);
        break;
      case 'STATIC':
        this.stopDns();
        this.setMembers(hostSpecsFromEndpoints(config.loadAssignment));
        this.noteLbInputs(config.loadAssignment);
        break;
      case 'STRICT_DNS':
      case 'LOGICAL_DNS':
        this.configureDns(config);
        this.noteLbInputs(config.loadAssignment);
        break;
      case 'ORIGINAL_DST':
        this.stopDns();
        if (previous === null || previous.discoveryType !== 'ORIGINAL_DST') this.setMembers([]);
        this.armCleanup();
        break;
    }
  }

  private configurePools(config: ClusterConfig): void {
    const http: UpstreamHttpProtocolConfig = config.upstreamHttp;
    const perHost = config.circuitBreakers.perHostMaxConnections.default;
    const maxConnections = Math.max(1, Math.min(config.circuitBreakers.default.maxConnections, perHost ?? Infinity));
    const fingerprint = JSON.stringify([config.transportSocket, config.transportSocketMatches, config.connectTimeoutMs, maxConnections, http, config.upstreamBindAddress]);
    if (fingerprint === this.poolFingerprint) return;
    this.poolFingerprint = fingerprint;
    const make = (socket: ClusterConfig['transportSocket'], label: string): PoolSettings => {
      const tls = UpstreamTls.from(socket);
      if (tls?.unavailable) this.warnOnce(`tls:${label}:${tls.unavailable}`, { transportSocket: label, reason: tls.unavailable }, 'upstream TLS cannot be set up: connections to these hosts fail (UF) rather than go out in plaintext');
      return {
        clusterName: config.name,
        connectTimeoutMs: config.connectTimeoutMs,
        maxConnections,
        idleTimeoutMs: http.idleTimeoutMs,
        maxRequestsPerConnection: http.maxRequestsPerConnection,
        maxConnectionDurationMs: http.maxConnectionDurationMs,
        localAddress: config.upstreamBindAddress?.host ?? null,
        http2: http.http2,
        tls,
        protocol: http.protocol,
        clock: this.deps.clock,
        logger: this.deps.logger,
        onAlpn: (protocol) => {
          this.negotiated = protocol === 'http/1.1' ? 'http1' : 'http2';
        },
        onMaxDurationReached: () => {
          this.stats.upstreamCxMaxDurationReached += 1;
        },
      };
    };
    this.defaultSettings = make(config.transportSocket, 'default');
    this.matchSettings = config.transportSocketMatches.map((m) => make(m.transportSocket, m.name));
    for (const host of this.hostList) host.replacePoolSettings(this.settingsFor(host.metadata));
  }

  /** The pool settings for a host with `metadata`: the first transport_socket_matches entry whose `match` fields all equal the endpoint's `envoy.transport_socket_match` metadata, else the cluster's transport socket. */
  private settingsFor(metadata: MetadataConfig): PoolSettings {
    const matches = this.cfg.transportSocketMatches;
    if (matches.length > 0) {
      const labels = metadata[TRANSPORT_SOCKET_MATCH] ?? {};
      for (let i = 0; i < matches.length; i++) {
        const match = matches[i]!.match;
        let ok = true;
        for (const key of Object.keys(match)) {
          if (!jsonEqual(match[key], labels[key])) {
            ok = false;
            break;
          }
        }
        if (ok) return this.matchSettings[i] ?? this.defaultSettings;
      }
    }
    return this.defaultSettings;
  }

  private configureDns(config: ClusterConfig): void {
    const fingerprint = JSON.stringify([config.discoveryType, config.loadAssignment, config.dnsLookupFamily, config.dnsRefreshRateMs]);
    if (this.dns !== null && fingerprint === this.dnsFingerprint) {
      return; // same names, family and refresh rate: the running discovery stays

    }
    this.stopDns();
    this.dnsFingerprint = fingerprint;
    const dns = new DnsDiscovery(config, config.discoveryType === 'LOGICAL_DNS', this.deps.dnsResolver, this.deps.clock, this.deps.logger, (specs) => {
      if (this.dns === dns) this.setMembers(specs);
    });
    this.dns = dns;
    this.ready = dns.firstRound;
    dns.start();
  }

  private stopDns(): void {
    this.dns?.stop();
    this.dns = null;
    this.dnsFingerprint = '';
  }

  // --- membership ------------------------------------------------------------------------------------------

  /** Diffs the wanted hosts against the current ones by address:port; reuses Host objects. */
  private setMembers(specs: readonly HostSpec[]): void {
    const next: Host[] = [];
    const seen = new Set<string>();
    const added: Host[] = [];
    let changed = specs.length !== this.hostList.length;
    for (const spec of specs) {
      let host = this.byKey.get(hostKey(spec.address, spec.port));
      if (host !== undefined && seen.has(host.key)) continue; // a duplicate address: the first one wins
      if (host === undefined) {
        host = new Host(spec.address, spec.port, this.settingsFor(spec.metadata));
        host.addedAtMs = this.deps.clock.now();
        host.observe(this);
        this.byKey.set(host.key, host);
        added.push(host);
        changed = true;
      }
      seen.add(host.key);
      if (next.length < this.hostList.length && this.hostList[next.length] !== host) changed = true;
      if (host.priority !== spec.priority || !sameLocality(host.locality, spec.locality)) changed = true;
      host.priority = spec.priority;
      host.locality = spec.locality;
      host.hostname = spec.hostname;
      host.weight = spec.weight;
      host.healthFlags = (host.healthFlags & ~EDS_MASK) | spec.edsFlags;
      if (host.metadata !== spec.metadata) {
        host.metadata = spec.metadata;
        host.replacePoolSettings(this.settingsFor(spec.metadata));
      }
      next.push(host);
    }
    const removed: Host[] = [];
    for (const host of this.hostList) {
      if (!seen.has(host.key)) {
        this.byKey.delete(host.key);
        removed.push(host);
        void this.retireHost(host);
      }
    }
    if (!changed && removed.length === 0) return;
    this.hostList = next;
    this.dirty = true;
    this.generationValue += 1;
    this.stats.membershipChanges += 1;
    if (added.length > 0 || removed.length > 0) for (const l of this.listeners) l(added, removed);
  }

  /** A host leaving the cluster: flagged DRAINING (owner: the cluster), pools closed gracefully. */
  private retireHost(host: Host): Promise<void> {
    host.observe(null);
    host.healthFlags |= HostHealthFlags.DRAINING;
    return host.closePools();
  }

  // --- balancing -------------------------------------------------------------------------------------------

  private rebuild(): void {
    this.dirty = false;
    this.stats.rebuilds += 1;
    const assignment = this.cfg.discoveryType === 'EDS' ? (this.endpoints ?? null) : this.cfg.loadAssignment;
    const weights = localityWeights(assignment);
    const local = this.localSeen;
    const zoneAware = this.deps.zoneAware;
    this.balancer = new PriorityBalancer(this.hostList, {
      policy: this.cfg.lbPolicy,
      common: this.cfg.commonLbConfig,
      overprovisioningFactor: assignment?.policy.overprovisioningFactor ?? DEFAULT_OVERPROVISIONING_FACTOR,
      weightedPriorityHealth: assignment?.policy.weightedPriorityHealth ?? false,
      localityWeight: (h) => weights.get(`${h.priority}\u0000${localityKey(h.locality)}`) ?? null,
      random: this.deps.random,
      now: () => this.deps.clock.now(),
      stats: this.stats,
      zone: zoneAware === undefined || local === undefined ? null : { localHosts: local.hosts.filter((h) => h.priority === 0), locality: zoneAware.locality, stats: this.stats },
    });
  }

  /** Zone-aware routing: a different local cluster, or a change in its hosts, rebuilds this balancer. */
  private noteLocalCluster(local: UpstreamCluster | undefined): void {
    const generation = local === undefined ? -1 : local.generation;
    if (local === this.localSeen && generation === this.localGenerationSeen) return;
    this.localSeen = local;
    this.localGenerationSeen = generation;
    this.dirty = true;
  }

  /** Overprovisioning factor and locality weights feed the balancer but not the host list: a change rebuilds. */
  private noteLbInputs(assignment: EndpointConfig | null): void {
    const fingerprint = assignment === null ? '' : JSON.stringify([assignment.policy.overprovisioningFactor, assignment.policy.weightedPriorityHealth, assignment.priorities.map((ls) => ls.map((l) => l.loadBalancingWeight))]);
    if (fingerprint === this.lbFingerprint) return;
    this.lbFingerprint = fingerprint;
    this.dirty = true;
  }

  // --- ORIGINAL_DST ----------------------------------------------------------------------------------------

  private pickOriginalDst(context: PickContext): Host | undefined {
    const dst = context.originalDst;
    if (dst === undefined) {
      this.stats.noHealthyHost += 1;
      return undefined;
    }
    const port = this.cfg.originalDstLbConfig?.upstreamPortOverride ?? dst.port;
    let host = this.byKey.get(hostKey(dst.host, port));
    if (host === undefined) {
      host = new Host(dst.host, port, this.defaultSettings);
      host.observe(this);
      this.byKey.set(host.key, host);
      this.hostList = [...this.hostList, host];
      this.stats.membershipChanges += 1;
      for (const l of this.listeners) l([host], []);
    }
    host.used = true;
    return host;
  }

  /** Envoy OriginalDstCluster::cleanup: every `cleanup_interval`, hosts not used since the last sweep (and idle) go. */
  private armCleanup(): void {
    if (this.cleanupTimer !== null || this.closed) return;
    this.cleanupTimer = this.deps.clock.setTimeout(() => {
      this.cleanupTimer = null;
      if (this.closed || this.cfg.discoveryType !== 'ORIGINAL_DST') return;
      const keep: Host[] = [];
      const removed: Host[] = [];
      for (const h of this.hostList) {
        if (h.used || h.activeRequests > 0) {
          h.used = false;
          keep.push(h);
        } else {
          removed.push(h);
          this.byKey.delete(h.key);
          void this.retireHost(h);
        }
      }
      if (removed.length > 0) {
        this.hostList = keep;
        this.stats.membershipChanges += 1;
        for (const l of this.listeners) l([], removed);
      }
      this.armCleanup();
    }, Math.max(1, this.cfg.cleanupIntervalMs));
  }

  private warnOnce(key: string, fields: object, message: string): void {
    if (this.warned.has(key)) return;
    this.warned.add(key);
    this.deps.logger.warn({ cluster: this.name, ...fields }, message);
  }
}

function localityKey(l: LocalityConfig): string {
  return `${l.region}\u0000${l.zone}\u0000${l.subZone}`;
}

/** `priority NUL locality` -> the locality's load_balancing_weight, for locality-weighted LB. */
function localityWeights(assignment: EndpointConfig | null): Map<string, number> {
  const out = new Map<string, number>();
  assignment?.priorities.forEach((localities, p) => {
    for (const l of localities) if (l.loadBalancingWeight !== null) out.set(`${p}\u0000${localityKey(l.locality)}`, l.loadBalancingWeight);
  });
  return out;
}

function sameLocality(a: LocalityConfig, b: LocalityConfig): boolean {
  return a === b || (a.region === b.region && a.zone === b.zone && a.subZone === b.subZone);
}

function jsonEqual(a: JsonValue | undefined, b: JsonValue | undefined): boolean {
  if (a === b) return true;
  if (a === undefined || b === undefined || a === null || b === null || typeof a !== 'object' || typeof b !== 'object') return false;
  return JSON.stringify(a) === JSON.stringify(b);
}
