// Envoy's per-priority health, load split (overprovisioning, spillover, degraded) and panic maths, as pure integer arithmetic.

/** What the maths reads of one priority level (host counts, or weights with `weighted_priority_health`). */
export interface PriorityCounts {
  /** Every host of the priority (excluded ones too). */
  readonly hosts: number;
  readonly healthy: number;
  readonly degraded: number;
  readonly excluded: number;
  /** The same four as weights, used instead of counts for health when `weightedPriorityHealth`. */
  readonly weights?: { readonly hosts: number; readonly healthy: number; readonly degraded: number; readonly excluded: number };
}

/** The outcome for a whole priority set; `healthyLoad` and `degradedLoad` together sum to 100. */
export interface PriorityLoad {
  /** Per priority, 0..100: `min(100, opf·healthy/(hosts−excluded))`. */
  readonly health: number[];
  readonly degradedHealth: number[];
  /** Percent of requests to the healthy hosts of each priority. */
  readonly healthyLoad: number[];
  /** Percent of requests to the degraded hosts of each priority. */
  readonly degradedLoad: number[];
  /** Per priority: in panic (use every host, or fail with fail_traffic_on_panic). */
  readonly panic: boolean[];
  /** Every priority in panic: load split by raw host count. */
  readonly totalPanic: boolean;
}

/**
 * Envoy `LoadBalancerBase::recalculatePerPriorityState`, `distributeLoad`, `recalculatePerPriorityPanic`,
 * `isHostSetInPanic` and `recalculateLoadInTotalPanic` (load_balancer_impl.cc; specs §1.7, §1.10, §7.4).
 * `overprovisioningFactor` in percent (default 140); `panicThresholdPercent` 0 disables panic.
 * Cost: O(priorities); run on rebuilds only.
 */
export function computePriorityLoad(levels: readonly PriorityCounts[], overprovisioningFactor: number, panicThresholdPercent: number, weightedPriorityHealth = false): PriorityLoad {
  const n = Math.max(1, levels.length);
  const health = new Array<number>(n).fill(0);
  const degradedHealth = new Array<number>(n).fill(0);
  const healthyLoad = new Array<number>(n).fill(0);
  const degradedLoad = new Array<number>(n).fill(0);
  const panic = new Array<boolean>(n).fill(false);
  levels.forEach((l, p) => {
    const count = l.hosts - l.excluded;
    if (count <= 0) return;
    const w = weightedPriorityHealth && l.weights !== undefined ? l.weights : null;
    const total = w === null ? count : w.hosts - w.excluded;
    if (total <= 0) return;
    health[p] = Math.min(100, Math.floor((overprovisioningFactor * (w === null ? l.healthy : w.healthy)) / total));
    degradedHealth[p] = Math.min(100, Math.floor((overprovisioningFactor * (w === null ? l.degraded : w.degraded)) / total));
  });
  const normalizedTotal = Math.min(100, sum(health) + sum(degradedHealth));
  if (normalizedTotal > 0) {
    const [firstHealthy, remaining] = distributeLoad(healthyLoad, health, 100, normalizedTotal);
    const [firstDegraded, left] = distributeLoad(degradedLoad, degradedHealth, remaining, normalizedTotal);
    if (left !== 0) {
      if (firstHealthy >= 0) healthyLoad[firstHealthy]! += left;
      else if (firstDegraded >= 0) degradedLoad[firstDegraded]! += left;
    }
  }
  const threshold = Math.min(100, Math.max(0, Math.trunc(panicThresholdPercent)));
  if (threshold === 0 && normalizedTotal === 0) {
    // Panic disabled and nothing available: 100% to P0, which then finds no host (503 UH).
    healthyLoad[0] = 100;
    return { health, degradedHealth, healthyLoad, degradedLoad, panic, totalPanic: false };
  }
  for (let p = 0; p < n; p++) {
    const l = levels[p];
    const count = l === undefined ? 0 : l.hosts - l.excluded;
    const healthyPercent = count <= 0 ? 0 : (100 * l!.healthy) / count;
    const degradedPercent = count <= 0 ? 0 : (100 * l!.degraded) / count;
    panic[p] = normalizedTotal !== 100 && healthyPercent + degradedPercent < threshold;
  }
  const totalPanic = panic.every((x) => x);
  if (totalPanic) {
    const totalHosts = levels.reduce((a, l) => a + l.hosts, 0);
    degradedLoad.fill(0);
    healthyLoad.fill(0);
    if (totalHosts === 0) {
      healthyLoad[0] = 100;
    } else {
      let remaining = 100;
      let firstNonEmpty = -1;
      levels.forEach((l, p) => {
        if (firstNonEmpty < 0 && l.hosts > 0) firstNonEmpty = p;
        const load = Math.floor((100 * l.hosts) / totalHosts);
        healthyLoad[p] = load;
        remaining -= load;
      });
      healthyLoad[firstNonEmpty]! += remaining;
    }
  }
  return { health, degradedHealth, healthyLoad, degradedLoad, panic, totalPanic };
}

/** Envoy `distributeLoad`: returns [first priority with availability, load left over]. */
function distributeLoad(load: number[], availability: readonly number[], total: number, normalizedTotal: number): [number, number] {
  let first = -1;
  for (let i = 0; i < availability.length; i++) {
    if (first < 0 && availability[i]! > 0) first = i;
    load[i] = Math.min(total, Math.floor((availability[i]! * 100) / normalizedTotal));
    total -= load[i]!;
  }
  return [first, total];
}

function sum(xs: readonly number[]): number {
  let s = 0;
  for (const x of xs) s += x;
  return s;
}
