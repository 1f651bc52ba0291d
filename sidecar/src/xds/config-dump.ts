// Builds the /config_dump document: bootstrap, xDS connection and per-resource status, and the active snapshot.

import type { BootstrapConfig } from '../config/bootstrap-config';
import type { ConfigSnapshot } from '../config/config-snapshot';
import type { ConnectionStatus, ResourceStatus, TypeStatus, XdsClient } from './xds-client';

/** One resource's line in the dump (the domain value itself is under `active`). */
export interface DumpedResourceStatus {
  readonly name: string;
  readonly version: string;
  readonly status: ResourceStatus['status'];
  readonly error?: string;
  readonly lastUpdated: string;
}

export interface ConfigDump {
  readonly bootstrap: {
    readonly path: string | null;
    readonly overrides: Readonly<Record<string, string>>;
    readonly node: BootstrapConfig['node'];
    readonly admin: string;
    /** The read-only health and metrics server, null when off. */
    readonly health: string | null;
    readonly xdsServer: string | null;
    readonly xdsApiType: string | null;
    readonly staticListeners: readonly string[];
    readonly staticClusters: readonly string[];
    readonly warnings: BootstrapConfig['warnings'];
    readonly raw: unknown;
  };
  /** null when the sidecar runs from static config only. */
  readonly xds: {
    readonly connection: ConnectionStatus;
    readonly types: readonly TypeStatus[];
    /** By short type name (LDS, RDS, CDS, EDS): each resource's name, version, status, error, last update. */
    readonly resources: Readonly<Record<string, readonly DumpedResourceStatus[]>>;
    /** Dependencies the next snapshot still waits for (warming). */
    readonly pending: readonly string[];
  } | null;
  /** The snapshot in force (null before the first complete one). */
  readonly active: ConfigSnapshot | null;
}

/** Assembles the dump. Cost: proportional to the config size; admin-only, never on the request path. */
export function buildConfigDump(bootstrap: BootstrapConfig, client: XdsClient | undefined, active: ConfigSnapshot | undefined): ConfigDump {
  const hostPort = (a: { host: string; port: number }): string => (a.host.includes(':') ? `[${a.host}]:${a.port}` : `${a.host}:${a.port}`);
  return {
    bootstrap: {
      path: bootstrap.source.path,
      overrides: bootstrap.source.overrides,
      node: bootstrap.node,
      admin: hostPort(bootstrap.admin),
      health: bootstrap.health === null ? null : hostPort(bootstrap.health),
      xdsServer: bootstrap.xds === null ? null : hostPort(bootstrap.xds.address),
      xdsApiType: bootstrap.xds?.apiType ?? null,
      staticListeners: bootstrap.staticResources.listeners.map((l) => l.name),
      staticClusters: bootstrap.staticResources.clusters.map((c) => c.name),
      warnings: bootstrap.warnings,
      raw: bootstrap.source.raw,
    },
    xds:
      client === undefined
        ? null
        : {
            connection: client.connection,
            types: client.typeStatuses(),
            resources: resourcesByType(client),
            pending: client.pendingDependencies,
          },
    active: active ?? null,
  };
}

function resourcesByType(client: XdsClient): Record<string, DumpedResourceStatus[]> {
  const out: Record<string, DumpedResourceStatus[]> = {};
  for (const type of client.typeStatuses()) {
    out[type.shortName] = client.resourceStatuses(type.typeUrl).map((r) => ({
      name: r.name,
      version: r.version,
      status: r.status,
      ...(r.error !== undefined ? { error: r.error } : {}),
      lastUpdated: r.lastUpdated,
    }));
  }
  return out;
}
