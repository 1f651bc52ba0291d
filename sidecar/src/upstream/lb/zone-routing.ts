// Zone-aware routing for priority 0: which locality of the upstream a pick goes to, from the local cluster's shape.

import type { LocalityConfig } from '../../config/endpoint-config';
import { DEGRADED_MASK, isExcluded, UNHEALTHY_MASK } from '../host-health-flags';
import type { Host } from '../host';
import { randomUint32, type RandomSource } from './balancer';

/** `zone_aware_lb_config` with Envoy's defaults filled in (routing_enabled 100%, min_cluster_size 6). */
export interface ZoneAwareSettings {
  readonly routingEnabledPercent: number;
  readonly minClusterSize: number;
  readonly failTrafficOnPanic: boolean;
}

export const DEFAULT_ZONE_AWARE: ZoneAwareSettings = { routingEnabledPercent: 100, minClusterSize: 6, failTrafficOnPanic: false };

/** Envoy `cluster.<name>.lb_zone_*`, `lb_local_cluster_not_ok`, `lb_recalculate_zone_structures`. */
export interface ZoneRoutingStats {
  lbRecalculateZoneStructures: number;
  lbZoneClusterTooSmall: number;
  lbLocalClusterNotOk: number;
  lbZoneRoutingAllDirectly: number;
  lbZoneRoutingSampled: number;
  lbZoneRoutingCrossZone: number;
  lbZoneNoCapacityLeft: number;
}

export function emptyZoneRoutingStats(): ZoneRoutingStats {
  return { lbRecalculateZoneStructures: 0, lbZoneClusterTooSmall: 0, lbLocalClusterNotOk: 0, lbZoneRoutingAllDirectly: 0, lbZoneRoutingSampled: 0, lbZoneRoutingCrossZone: 0, lbZoneNoCapacityLeft: 0 };
}

/** Envoy `LocalityRoutingState`. */
export type LocalityRoutingState = 'none' | 'direct' | 'residual';

/** What `choose()` answers: a locality index, no zone routing for this pick (use every healthy host), or no host. */
export const ZONE_NOT_ROUTED = -1;
export const ZONE_FAIL = -2;

/** `10000 · count / total` per upstream locality (Envoy `LocalityPercentages`, basis HEALTHY_HOSTS_NUM). */
export interface LocalityPercentage {
  readonly local: number;
  readonly upstream: number;
}

/**
 * Envoy `ZoneAwareLoadBalancerBase` (load_balancer_impl.cc: `regenerateLocalityRoutingStructures`,
 * `earlyExitNonLocalityRouting`, `calculateLocalityPercentages`, `tryChooseLocalLocalityHosts` and the zone part of
 * `hostSourceToUse`; specs/load-balancing.md §1.9). Built once per rebuild of the upstream's priority 0 or change
 * of the local cluster. Upstream hosts are grouped per locality, the node's locality first when present (Envoy
 * `HostsPerLocality` with `hasLocalLocality`); `healthy[i]` / `degraded[i]` keep that order, empty lists included.
 * State: `none` when the upstream has < 2 localities, the local cluster has < 2 localities or no host in the local
 * locality, or fewer than `min_cluster_size` healthy upstream hosts; `direct` when the local locality's upstream
 * share (> 0) is at least its local share; else `residual`: local with probability `upstream% / local%` (10000
 * scale), otherwise another locality in proportion to its spare capacity `upstream% − local%`.
 * Cost: build O(hosts); `choose` O(localities), allocation-free.
 */
export class ZoneRouting {
  readonly state: LocalityRoutingState;
  /** Healthy upstream P0 hosts per locality (index 0 = the local locality when `hasLocalLocality`). */
  readonly healthy: Host[][] = [];
  readonly degraded: Host[][] = [];
  readonly hasLocalLocality: boolean;
  readonly percentages: readonly LocalityPercentage[];
  /** `upstream% · 10000 / local%` for the local locality (residual state). */
  readonly localPercentToRoute: number = 0;
  /** Running sums of spare capacity per locality (residual state). */
  readonly residualCapacity: readonly number[] = [];
  private readonly localInPanic: boolean;
  private readonly routingEnabled: number;

  /**
   * `upstream`: every host of the upstream at priority 0. `local`: every host of the local cluster at priority 0.
   * `panicThresholdPercent`: the upstream's healthy_panic_threshold (Envoy checks the local host set with it).
   */
  constructor(
    upstream: readonly Host[],
    local: readonly Host[],
    localLocality: LocalityConfig,
    private readonly settings: ZoneAwareSettings,
    panicThresholdPercent: number,
    private readonly stats: ZoneRoutingStats,
  ) {
    stats.lbRecalculateZoneStructures += 1;
    // Envoy PROTOBUF_PERCENT_TO_ROUNDED_INTEGER_OR_DEFAULT.
    this.routingEnabled = Math.round(settings.routingEnabledPercent);
    const up = groupByLocality(upstream, localLocality);
    this.hasLocalLocality = up.hasLocal;
    for (const hs of up.groups) {
      this.healthy.push(hs.filter((h) => (h.healthFlags & UNHEALTHY_MASK) === 0 && (h.healthFlags & DEGRADED_MASK) === 0));
      this.degraded.push(hs.filter((h) => (h.healthFlags & UNHEALTHY_MASK) === 0 && (h.healthFlags & DEGRADED_MASK) !== 0));
    }
    const loc = groupByLocality(local, localLocality);
    this.localInPanic = inPanic(local, panicThresholdPercent);
    const localHealthy = loc.groups.map((hs) => hs.filter((h) => (h.healthFlags & UNHEALTHY_MASK) === 0 && (h.healthFlags & DEGRADED_MASK) === 0));
    this.percentages = percentagesOf(loc.groups, localHealthy, this.healthy);
    const healthyCount = this.healthy.reduce((n, hs) => n + hs.length, 0);
    if (this.healthy.length < 2 || loc.groups.length < 2) {
      this.state = 'none';
    } else if (!loc.hasLocal || loc.groups[0]!.length === 0) {
      stats.lbLocalClusterNotOk += 1;
      this.state = 'none';
    } else if (healthyCount < settings.minClusterSize) {
      stats.lbZoneClusterTooSmall += 1;
      this.state = 'none';
    } else {
      const first = this.percentages[0]!;
      if (this.hasLocalLocality && first.upstream > 0 && first.upstream >= first.local) {
        this.state = 'direct';
      } else {
        this.state = 'residual';
        this.localPercentToRoute = this.hasLocalLocality && first.local > 0 ? Math.floor((first.upstream * 10000) / first.local) : 0;
        const residual: number[] = [];
        let acc = 0;
        this.percentages.forEach((p, i) => {
          // The local locality already took what it could; only localities with spare capacity get the rest.
          if (!(i === 0 && this.hasLocalLocality) && p.upstream > p.local) acc += p.upstream - p.local;
          residual.push(acc);
        });
        this.residualCapacity = residual;
      }
    }
  }

  /**
   * The locality of one pick (Envoy `hostSourceToUse` after the panic and locality-weight branches): ZONE_NOT_ROUTED
   * when this pick is not zone-routed (state none, `routing_enabled` draw, local cluster in panic), ZONE_FAIL when
   * the local cluster is in panic with `fail_traffic_on_panic`, else an index into `healthy` / `degraded`.
   */
  choose(random: RandomSource): number {
    if (this.state === 'none') return ZONE_NOT_ROUTED;
    // Runtime featureEnabled("upstream.zone_routing.enabled", routing_enabled): random % 100 < percent.
    if (randomUint32(random) % 100 >= this.routingEnabled) return ZONE_NOT_ROUTED;
    if (this.localInPanic) {
      this.stats.lbLocalClusterNotOk += 1;
      return this.settings.failTrafficOnPanic ? ZONE_FAIL : ZONE_NOT_ROUTED;
    }
    if (this.state === 'direct') {
      this.stats.lbZoneRoutingAllDirectly += 1;
      return 0;
    }
    if (randomUint32(random) % 10000 < this.localPercentToRoute) {
      this.stats.lbZoneRoutingSampled += 1;
      return 0;
    }
    this.stats.lbZoneRoutingCrossZone += 1;
    const n = this.residualCapacity.length;
    const total = this.residualCapacity[n - 1]!;
    if (total === 0) {
      // Rounding left no spare capacity anywhere: any locality.
      this.stats.lbZoneNoCapacityLeft += 1;
      return randomUint32(random) % n;
    }
    const threshold = randomUint32(random) % total;
    let i = 0;
    while (threshold >= this.residualCapacity[i]!) i++;
    return i;
  }
}

/** Envoy `HostsPerLocalityImpl`: hosts grouped by locality in first-seen order, the local locality moved first. */
function groupByLocality(hosts: readonly Host[], localLocality: LocalityConfig): { groups: Host[][]; hasLocal: boolean } {
  const byKey = new Map<string, Host[]>();
  const localKey = localityKey(localLocality);
  for (const h of hosts) {
    const key = localityKey(h.locality);
    let g = byKey.get(key);
    if (g === undefined) byKey.set(key, (g = []));
    g.push(h);
  }
  const local = byKey.get(localKey);
  const groups: Host[][] = local === undefined ? [] : [local];
  for (const [key, g] of byKey) if (key !== localKey) groups.push(g);
  return { groups, hasLocal: local !== undefined };
}

/** Envoy `calculateLocalityPercentages`: per upstream locality, the local and upstream share of healthy hosts. */
function percentagesOf(localAll: readonly Host[][], localHealthy: readonly Host[][], upstreamHealthy: readonly Host[][]): LocalityPercentage[] {
  const localCounts = new Map<string, number>();
  let totalLocal = 0;
  localHealthy.forEach((hs, i) => {
    totalLocal += hs.length;
    const any = localAll[i]![0];
    if (hs.length > 0 && any !== undefined) localCounts.set(localityKey(any.locality), hs.length);
  });
  const totalUpstream = upstreamHealthy.reduce((n, hs) => n + hs.length, 0);
  return upstreamHealthy.map((hs) => {
    const any = hs[0];
    if (any === undefined) return { local: 0, upstream: 0 };
    const localCount = localCounts.get(localityKey(any.locality)) ?? 0;
    return {
      local: totalLocal > 0 ? Math.floor((10000 * localCount) / totalLocal) : 0,
      upstream: totalUpstream > 0 ? Math.floor((10000 * hs.length) / totalUpstream) : 0,
    };
  });
}

/** Envoy `isHostSetInPanic` (no normalised-total exception: it is asked about the local host set alone). */
function inPanic(hosts: readonly Host[], thresholdPercent: number): boolean {
  let count = 0;
  let available = 0;
  for (const h of hosts) {
    if (isExcluded(h.healthFlags)) continue;
    count += 1;
    if ((h.healthFlags & UNHEALTHY_MASK) === 0) available += 1;
  }
  const percent = count === 0 ? 0 : (100 * available) / count;
  return percent < Math.min(100, thresholdPercent);
}

/** A map key for a locality (region, zone, sub-zone compared by value, as Envoy `LocalityEqualTo`). */
export function localityKey(l: LocalityConfig): string {
  return `${l.region}\u0000${l.zone}\u0000${l.subZone}`;
}
