// Builds complete ConfigSnapshots from static bootstrap resources plus the xDS cache, and publishes only complete ones.

import { systemClock, type Clock } from '../core/clock';
import { createConfigSnapshot, sameSnapshotContent, type ConfigSnapshotContent } from '../config/config-snapshot';
import type { SnapshotStore } from '../config/snapshot-store';
import type { Logger } from '../observability/logger';
import type { XdsResourceType } from './resources/resource-type';

/** The logging surface the xDS parts use (pino-compatible). */
export type XdsLogger = Pick<Logger, 'debug' | 'info' | 'warn' | 'error'>;

/** Static bootstrap resources, already decoded, by name. Always part of every snapshot. */
export type StaticResources = Partial<ConfigSnapshotContent>;

/** Whether a named dependency can be used: it has data, is known to be absent (give up on it), or is still awaited. */
export type Resolution = 'value' | 'absent' | 'pending';

/** What the assembler reads from the xDS cache (the XdsClient implements it). */
export interface DynamicResourceView {
  /** Type URLs subscribed as wildcard (LDS, CDS): all their resources are roots of the snapshot. */
  readonly wildcardTypeUrls: readonly string[];
  /** The last good value of each resource of a type, by name (read for wildcard types, once per assembly). */
  values(typeUrl: string): ReadonlyMap<string, unknown>;
  /** The last good value of one resource, or undefined. */
  value(typeUrl: string, name: string): unknown;
  /**
   * A named resource's state: `value`; `absent` once it does not exist (delta removal, or its referrers'
   * `initial_fetch_timeout` expired) or was rejected without a last good value; else `pending` (blocks publication,
   * for ever when every referrer waits forever, as istiod's 0s asks).
   */
  resolution(typeUrl: string, name: string): Resolution;
  /** For a wildcard type: its first response arrived or its initial fetch timed out. */
  typeSettled(typeUrl: string): boolean;
}

export interface SnapshotAssemblerOptions {
  readonly store: SnapshotStore;
  /** The four resource types (LDS, RDS, CDS, EDS); `dependencies()` drives completeness. */
  readonly resourceTypes: readonly XdsResourceType<unknown>[];
  readonly staticResources?: StaticResources;
  readonly clock?: Clock;
  readonly logger?: XdsLogger;
}

export type AssembleResult = 'published' | 'unchanged' | 'incomplete';

type ContentKey = keyof ConfigSnapshotContent;

const CONTENT_KEY: Readonly<Record<XdsResourceType<unknown>['shortName'], ContentKey>> = {
  LDS: 'listeners',
  RDS: 'routes',
  CDS: 'clusters',
  EDS: 'endpoints',
};

const NO_DYNAMIC_RESOURCES: DynamicResourceView = {
  wildcardTypeUrls: [],
  values: () => new Map(),
  value: () => undefined,
  resolution: () => 'absent',
  typeSettled: () => true,
};

/**
 * The dependency manager (Envoy warming, grpc-js-xds A74): a snapshot is published only when every listener's
 * RDS names and every cluster's EDS names (each type's `dependencies()`, followed transitively) have data or were
 * given up on; until then the previous snapshot keeps serving. Named resources nothing refers to are left out.
 * Static resources win over dynamic ones of the same name. A publish that would change nothing is skipped.
 * Cost: O(resources + dependencies) per call; the XdsClient calls it after each change.
 */
export class SnapshotAssembler {
  private readonly store: SnapshotStore;
  private readonly clock: Clock;
  private readonly logger: XdsLogger | undefined;
  private readonly typesByUrl = new Map<string, XdsResourceType<unknown>>();
  private readonly statics: ConfigSnapshotContent;
  private readonly warnedTypes = new Set<string>();
  private missingNow: readonly string[] = [];

  constructor(options: SnapshotAssemblerOptions) {
    this.store = options.store;
    this.clock = options.clock ?? systemClock;
    this.logger = options.logger;
    for (const type of options.resourceTypes) this.typesByUrl.set(type.typeUrl, type);
    const s = options.staticResources ?? {};
    this.statics = {
      listeners: s.listeners ?? new Map(),
      routes: s.routes ?? new Map(),
      clusters: s.clusters ?? new Map(),
      endpoints: s.endpoints ?? new Map(),
    };
  }

  /** Static resources of a type (by type URL), by name. */
  staticValues(typeUrl: string): ReadonlyMap<string, unknown> {
    const type = this.typesByUrl.get(typeUrl);
    return type === undefined ? new Map() : this.statics[CONTENT_KEY[type.shortName]];
  }

  /** What blocked the last `assemble()` (e.g. `RDS '9080'`, `CDS (first response)`); empty when it completed. */
  get missing(): readonly string[] {
    return this.missingNow;
  }

  /**
   * Publishes a new snapshot if the config is complete and differs from the current one. With no view
   * (no xDS server configured), the static resources alone.
   */
  assemble(view: DynamicResourceView = NO_DYNAMIC_RESOURCES): AssembleResult {
    const content: { [K in ContentKey]: Map<string, unknown> } = {
      listeners: new Map(),
      routes: new Map(),
      clusters: new Map(),
      endpoints: new Map(),
    };
    const missing: string[] = [];
    const queue: Array<{ type: XdsResourceType<unknown>; value: unknown }> = [];
    const add = (type: XdsResourceType<unknown>, name: string, value: unknown): void => {
      const map = content[CONTENT_KEY[type.shortName]];
      if (map.has(name)) return;
      map.set(name, value);
      queue.push({ type, value });
    };

    for (const type of this.typesByUrl.values()) {
      for (const [name, value] of this.statics[CONTENT_KEY[type.shortName]]) add(type, name, value);
    }
    for (const typeUrl of view.wildcardTypeUrls) {
      const type = this.typesByUrl.get(typeUrl);
      if (type === undefined) continue;
      if (!view.typeSettled(typeUrl)) missing.push(`${type.shortName} (first response)`);
      for (const [name, value] of view.values(typeUrl)) add(type, name, value);
    }
    for (let i = 0; i < queue.length; i++) {
      const { type, value } = queue[i] as { type: XdsResourceType<unknown>; value: unknown };
      for (const dependency of type.dependencies(value)) {
        const depType = this.typesByUrl.get(dependency.typeUrl);
        if (depType === undefined) {
          this.warnUnknownType(dependency.typeUrl);
          continue;
        }
        const statics = this.statics[CONTENT_KEY[depType.shortName]];
        for (const name of dependency.names) {
          const staticValue = statics.get(name);
          if (staticValue !== undefined) {
            add(depType, name, staticValue);
            continue;
          }
          const resolution = view.resolution(depType.typeUrl, name);
          if (resolution === 'value') {
            const value = view.value(depType.typeUrl, name);
            if (value !== undefined) add(depType, name, value);
          } else if (resolution === 'pending') {
            missing.push(`${depType.shortName} '${name}'`);
          }
        }
      }
    }

    this.missingNow = missing;
    if (missing.length > 0) return 'incomplete';
    const current = this.store.current;
    const typed = content as unknown as ConfigSnapshotContent;
    if (current !== undefined && sameSnapshotContent(current, typed)) return 'unchanged';
    const snapshot = createConfigSnapshot((current?.version ?? 0) + 1, this.clock.now(), typed);
    try {
      this.store.publish(snapshot);
    } catch (error) {
      this.logger?.error({ err: error, version: snapshot.version }, 'a config snapshot subscriber failed');
    }
    this.logger?.info(
      { version: snapshot.version, listeners: typed.listeners.size, routes: typed.routes.size, clusters: typed.clusters.size, endpoints: typed.endpoints.size },
      'config snapshot published',
    );
    return 'published';
  }

  private warnUnknownType(typeUrl: string): void {
    if (this.warnedTypes.has(typeUrl)) return;
    this.warnedTypes.add(typeUrl);
    this.logger?.warn({ typeUrl }, 'a resource depends on a type that is not configured; the dependency is ignored');
  }
}
