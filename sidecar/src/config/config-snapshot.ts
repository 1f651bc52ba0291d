// The immutable runtime config: every listener, route configuration, cluster and load assignment in force at once.

import type { ClusterConfig } from './cluster-config';
import type { EndpointConfig } from './endpoint-config';
import type { ListenerConfig } from './listener-config';
import type { RouteConfig } from './route-config';

/**
 * One complete, self-consistent config (ARCHITECTURE "Complete snapshots, swapped whole"): every RDS name a
 * listener needs and every EDS name a cluster needs is present, or was given up on (initial fetch timeout,
 * does-not-exist). Static bootstrap resources are always included. Never mutated after creation; a change is a
 * new snapshot with a higher `version`.
 */
export interface ConfigSnapshot {
  /** Increases by one per published snapshot in a process (1 = the first). */
  readonly version: number;
  /** When the snapshot was assembled, ISO 8601. */
  readonly createdAt: string;
  /** By listener name. */
  readonly listeners: ReadonlyMap<string, ListenerConfig>;
  /** By RouteConfiguration name (RDS names; inline route configs stay inside their listener). */
  readonly routes: ReadonlyMap<string, RouteConfig>;
  /** By cluster name. */
  readonly clusters: ReadonlyMap<string, ClusterConfig>;
  /** By ClusterLoadAssignment name (the EDS service name, or the cluster name when it has none). */
  readonly endpoints: ReadonlyMap<string, EndpointConfig>;
}

/** The four resource maps of a snapshot, without its identity. */
export type ConfigSnapshotContent = Pick<ConfigSnapshot, 'listeners' | 'routes' | 'clusters' | 'endpoints'>;

/** Builds a frozen snapshot object (the maps are the caller's; hand over fresh ones and don't touch them after). */
export function createConfigSnapshot(version: number, createdAtMs: number, content: ConfigSnapshotContent): ConfigSnapshot {
  return Object.freeze({
    version,
    createdAt: new Date(createdAtMs).toISOString(),
    listeners: content.listeners,
    routes: content.routes,
    clusters: content.clusters,
    endpoints: content.endpoints,
  });
}

/** True when both hold exactly the same value objects under the same names (identity, not deep equality). */
export function sameSnapshotContent(a: ConfigSnapshotContent, b: ConfigSnapshotContent): boolean {
  return sameMap(a.listeners, b.listeners) && sameMap(a.routes, b.routes) && sameMap(a.clusters, b.clusters) && sameMap(a.endpoints, b.endpoints);
}

function sameMap<V>(a: ReadonlyMap<string, V>, b: ReadonlyMap<string, V>): boolean {
  if (a.size !== b.size) return false;
  for (const [name, value] of a) {
    if (b.get(name) !== value) return false;
  }
  return true;
}
