// Envoy's host-source choice over a priority set: priority by load (spillover, degraded, panic), then locality, then the policy's pick.

import { hash64Mod, type Hash64 } from '../../core/xxhash64';
import type { CommonLbConfig, LbPolicyConfig } from '../../config/cluster-config';
import type { LocalityConfig } from '../../config/endpoint-config';
import { DEGRADED_MASK, isExcluded, UNHEALTHY_MASK } from '../host-health-flags';
import type { Host } from '../host';
import { randomUint32, type Balancer, type RandomSource } from './balancer';
import { createBalancer } from './create-balancer';
import { EdfScheduler } from './edf-scheduler';
import type { PickContext } from './pick-context';
import { computePriorityLoad, type PriorityCounts, type PriorityLoad } from './priority-load';
import { DEFAULT_ZONE_AWARE, localityKey, ZONE_FAIL, ZoneRouting, type ZoneRoutingStats } from './zone-routing';

/** What a priority balancer is built from (all read once, at build). */
export interface PriorityBalancerOptions {
  readonly policy: LbPolicyConfig;
  readonly common: CommonLbConfig;
  /** EDS `policy.overprovisioning_factor`, percent (default 140). */
  readonly overprovisioningFactor: number;
  readonly weightedPriorityHealth: boolean;
  /** The `load_balancing_weight` of the locality `host` sits in at its priority; null when unset. */
  readonly localityWeight: (host: Host) => number | null;
  readonly random: RandomSource;
  /** Clock for slow start. */
  readonly now: () => number;
  /** Counted per pick served from a priority in panic (`lb_healthy_panic`). */
  readonly stats: { lbHealthyPanic: number };
  /**
   * Zone-aware routing (bootstrap `local_cluster_name`): the local cluster's priority-0 hosts and the node's
   * locality, and where its counters go. Absent or null = off. Used only by policies that are not hash-based and
   * without locality weights.
   */
  readonly zone?: { readonly localHosts: readonly Host[]; readonly locality: LocalityConfig; readonly stats: ZoneRoutingStats } | null;
}

/** Where a hash-policy pick would go (PriorityBalancer.previewHashPick). */
export interface HashPickPreview {
  /** `hash % 100 + 1`, walked through the healthy then degraded load arrays. */
  readonly percent: number;
  readonly priority: number;
  /** Served from the priority's degraded hosts. */
  readonly degraded: boolean;
  /** The priority is in panic: the ring spans all its hosts. */
  readonly panic: boolean;
  /** undefined: the source has no host (503 UH). */
  readonly host: Host | undefined;
}

/** Hosts of one locality at one priority, with a balancer over its healthy (or degraded) ones. */
class LocalitySource {
  constructor(
    readonly weight: number,
    readonly balancer: Balancer,
  ) {}
}

/** One priority level: balancers per source, built only for the sources its load can reach. */
class Level {
  healthy: Balancer | null = null;
  degraded: Balancer | null = null;
  all: Balancer | null = null;
  healthyLocalities: EdfScheduler<LocalitySource> | null = null;
  degradedLocalities: EdfScheduler<LocalitySource> | null = null;
  /** Priority 0 with zone-aware routing: the locality chooser and a balancer per locality (same order). */
  zone: ZoneRouting | null = null;
  zoneHealthy: Balancer[] = [];
  zoneDegraded: Balancer[] = [];
}

const HASH_POLICIES = new Set<LbPolicyConfig['kind']>(['ring_hash', 'maglev']);

function localityWeightOf(source: LocalitySource): number {
  return source.weight;
}

/**
 * A Balancer over every host of a cluster (all priorities): Envoy `LoadBalancerBase::chooseHostSet` +
 * `ZoneAwareLoadBalancerBase::hostSourceToUse` (load_balancer_impl.cc, specs §1.1, §1.7-1.10). Per pick:
 * `h = r % 100 + 1` (r = the request hash for hash policies, else random) walks the healthy then degraded load
 * arrays to a priority; a priority in panic uses all its hosts (or none with `fail_traffic_on_panic`); with
 * locality weighting a locality is picked by EDF over `weight · min(1, opf·eligible/(hosts − excluded))`; with a
 * local cluster, priority 0 picks its locality by zone-aware routing (zone-routing.ts); then
 * the policy's balancer over that source picks. Hash policies (as Envoy's thread-aware LBs) hash over the
 * healthy hosts of the priority, or all of them in panic, without locality weighting.
 * Cost: build O(n log n); pick O(priorities) + the policy's pick; no allocation.
 */
export class PriorityBalancer implements Balancer {
  readonly load: PriorityLoad;
  private readonly levels: Level[] = [];
  private readonly failOnPanic: boolean;
  private readonly usesHash: boolean;
  private readonly count: number;

  constructor(
    hosts: readonly Host[],
    private readonly options: PriorityBalancerOptions,
  ) {
    this.count = hosts.length;
    const { policy, common, random, now } = options;
    this.failOnPanic = common.zoneAware?.failTrafficOnPanic === true;
    this.usesHash = HASH_POLICIES.has(policy.kind);
    const byPriority: { all: Host[]; healthy: Host[]; degraded: Host[]; excluded: number; weights: { hosts: number; healthy: number; degraded: number; excluded: number } }[] = [];
    for (const h of hosts) {
      while (byPriority.length <= h.priority) byPriority.push({ all: [], healthy: [], degraded: [], excluded: 0, weights: { hosts: 0, healthy: 0, degraded: 0, excluded: 0 } });
      const level = byPriority[h.priority]!;
      level.all.push(h);
      level.weights.hosts += h.weight;
      const flags = h.healthFlags;
      if (isExcluded(flags)) {
        level.excluded += 1;
        level.weights.excluded += h.weight;
      }
      if ((flags & UNHEALTHY_MASK) !== 0) continue;
      if ((flags & DEGRADED_MASK) !== 0) {
        level.degraded.push(h);
        level.weights.degraded += h.weight;
      } else {
        level.healthy.push(h);
        level.weights.healthy += h.weight;
      }
    }
    const counts: PriorityCounts[] = byPriority.map((l) => ({ hosts: l.all.length, healthy: l.healthy.length, degraded: l.degraded.length, excluded: l.excluded, weights: l.weights }));
    this.load = computePriorityLoad(counts, options.overprovisioningFactor, common.healthyPanicThresholdPercent, options.weightedPriorityHealth);
    const localityWeighted = common.localityWeighted && !this.usesHash;
    byPriority.forEach((l, p) => {
      const level = new Level();
      this.levels.push(level);
      if (this.load.panic[p]) {
        if (!this.failOnPanic && l.all.length > 0) level.all = createBalancer(policy, l.all, random, now);
        return;
      }
      if (this.load.healthyLoad[p]! > 0 && l.healthy.length > 0) {
        level.healthy = createBalancer(policy, l.healthy, random, now);
        if (localityWeighted) level.healthyLocalities = this.localityScheduler(l.all, l.healthy);
      }
      if (this.load.degradedLoad[p]! > 0 && l.degraded.length > 0) {
        level.degraded = this.usesHash ? level.healthy : createBalancer(policy, l.degraded, random, now);
        if (localityWeighted) level.degradedLocalities = this.localityScheduler(l.all, l.degraded);
      }
      const zone = options.zone;
      if (p === 0 && zone != null && !common.localityWeighted && !this.usesHash) {
        const routing = new ZoneRouting(l.all, zone.localHosts, zone.locality, common.zoneAware ?? DEFAULT_ZONE_AWARE, common.healthyPanicThresholdPercent, zone.stats);
        if (routing.state !== 'none') {
          level.zone = routing;
          level.zoneHealthy = routing.healthy.map((hs) => createBalancer(policy, hs, random, now));
          level.zoneDegraded = routing.degraded.map((hs) => createBalancer(policy, hs, random, now));
        }
      }
    });
  }

  get size(): number {
    return this.count;
  }

  /** Some priority is in panic. */
  get inPanic(): boolean {
    return this.load.panic.some((x) => x);
  }

  pick(context: PickContext, attempt: number): Host | undefined {
    const hash = this.usesHash ? context.hash : undefined;
    const percent = (hash === undefined ? randomUint32(this.options.random) % 100 : hash64Mod(hash.hi, hash.lo, 100)) + 1;
    const chosen = this.priorityFor(percent);
    const degraded = chosen < 0;
    const priority = degraded ? -chosen - 1 : chosen;
    const level = this.levels[priority];
    if (level === undefined) return undefined;
    if (this.load.panic[priority]) {
      this.options.stats.lbHealthyPanic += 1;
      return level.all?.pick(context, attempt);
    }
    const localities = degraded ? level.degradedLocalities : level.healthyLocalities;
    if (localities !== null && localities.size > 0) {
      const source = localities.pickAndAdd(localityWeightOf);
      if (source !== undefined) return source.balancer.pick(context, attempt);
    }
    if (level.zone !== null) {
      const index = level.zone.choose(this.options.random);
      if (index === ZONE_FAIL) return undefined;
      // As Envoy, a degraded pick uses the degraded hosts of the chosen locality, even when it has none (no host).
      if (index >= 0) return (degraded ? level.zoneDegraded : level.zoneHealthy)[index]?.pick(context, attempt);
    }
    return (degraded ? level.degraded : level.healthy)?.pick(context, attempt);
  }

  /**
   * Read-only (admin /explain): where a hash-policy pick with `hash` goes — `hash % 100 + 1` through the load
   * arrays to a priority and source, then the ring or table lookup — without counting stats or moving any state.
   * Undefined for policies that are not hash-based (their picks advance rotation or draw randoms).
   */
  previewHashPick(hash: Hash64, attempt = 0): HashPickPreview | undefined {
    if (!this.usesHash) return undefined;
    const percent = hash64Mod(hash.hi, hash.lo, 100) + 1;
    const chosen = this.priorityFor(percent);
    const degraded = chosen < 0;
    const priority = degraded ? -chosen - 1 : chosen;
    const level = this.levels[priority];
    const panic = this.load.panic[priority] === true;
    const source = panic ? level?.all : degraded ? level?.degraded : level?.healthy;
    return { percent, priority, degraded, panic, host: source?.pick({ hash }, attempt) };
  }

  /**
   * The priority `percent` (1..100) lands on walking the healthy then the degraded load: `p` for healthy hosts of
   * priority p, `-(p + 1)` for its degraded hosts, 0 when the loads do not reach it (Envoy then uses priority 0).
   */
  private priorityFor(percent: number): number {
    const { healthyLoad, degradedLoad } = this.load;
    let acc = 0;
    for (let p = 0; p < healthyLoad.length; p++) {
      acc += healthyLoad[p]!;
      if (percent <= acc) return p;
    }
    for (let p = 0; p < degradedLoad.length; p++) {
      acc += degradedLoad[p]!;
      if (percent <= acc) return -p - 1;
    }
    return 0;
  }

  /**
   * Envoy locality WRR (locality_wrr.cc, `effectiveLocalityWeight`): one entry per locality with a weight and
   * eligible hosts, weighted `weight · min(1, opf/100 · eligible/(hosts − excluded))`; null when none qualifies
   * (the pick then falls back to the whole source, as Envoy does when no locality can be chosen).
   */
  private localityScheduler(all: readonly Host[], eligible: readonly Host[]): EdfScheduler<LocalitySource> | null {
    const { policy, random, now, overprovisioningFactor } = this.options;
    const groups = new Map<string, { weight: number | null; total: number; excluded: number; eligible: Host[] }>();
    for (const h of all) {
      const key = localityKey(h.locality);
      let g = groups.get(key);
      if (g === undefined) groups.set(key, (g = { weight: this.options.localityWeight(h), total: 0, excluded: 0, eligible: [] }));
      g.total += 1;
      if (isExcluded(h.healthFlags)) g.excluded += 1;
    }
    for (const h of eligible) groups.get(localityKey(h.locality))!.eligible.push(h);
    const sources: LocalitySource[] = [];
    for (const g of groups.values()) {
      const count = g.total - g.excluded;
      if (g.weight === null || g.weight <= 0 || count <= 0 || g.eligible.length === 0) continue;
      const effective = g.weight * Math.min(1, (overprovisioningFactor / 100) * (g.eligible.length / count));
      sources.push(new LocalitySource(effective, createBalancer(policy, g.eligible, random, now)));
    }
    if (sources.length === 0) return null;
    return EdfScheduler.createWithPicks(sources, localityWeightOf, randomUint32(random));
  }
}
