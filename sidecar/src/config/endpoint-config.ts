// Validated, immutable EDS input: a ClusterLoadAssignment as priorities of localities of endpoints, with Envoy's defaults applied.

/** Plain JSON, as `google.protobuf.Struct` metadata is converted. */
export type JsonValue = null | boolean | number | string | readonly JsonValue[] | { readonly [key: string]: JsonValue };
export type JsonObject = { readonly [key: string]: JsonValue };

/** `filter_metadata`: filter name (`istio`, `envoy.transport_socket_match`, `envoy.lb`) -> plain JSON object. */
export type MetadataConfig = { readonly [filter: string]: JsonObject };

/** A network address: `host` is an IP or a DNS name (STRICT_DNS/LOGICAL_DNS), `port` 0..65535. */
export type AddressConfig =
  | { readonly kind: 'socket'; readonly host: string; readonly port: number; readonly protocol: 'TCP' | 'UDP' }
  | { readonly kind: 'pipe'; readonly path: string; readonly mode: number };

/** EDS `health_status`. UNKNOWN and HEALTHY count as healthy; DRAINING is unhealthy and excluded (specs/load-balancing.md §3.4). */
export type EndpointHealthStatus = 'UNKNOWN' | 'HEALTHY' | 'UNHEALTHY' | 'DRAINING' | 'TIMEOUT' | 'DEGRADED';

export interface LocalityConfig {
  readonly region: string;
  readonly zone: string;
  readonly subZone: string;
}

/** One `LbEndpoint`. */
export interface LbEndpointConfig {
  readonly address: AddressConfig;
  readonly hostname: string;
  readonly healthStatus: EndpointHealthStatus;
  /** `load_balancing_weight`, default 1 (must be >= 1). */
  readonly loadBalancingWeight: number;
  readonly metadata: MetadataConfig;
  /** `endpoint.health_check_config`: where active health checks go for this endpoint. */
  readonly healthCheck: {
    readonly portValue: number | null;
    readonly hostname: string;
    readonly disableActiveHealthCheck: boolean;
  };
}

/** One `LocalityLbEndpoints`. */
export interface LocalityEndpointsConfig {
  readonly locality: LocalityConfig;
  readonly priority: number;
  /** Locality weight; null when unset (such a locality gets no load under locality-weighted LB). */
  readonly loadBalancingWeight: number | null;
  readonly endpoints: readonly LbEndpointConfig[];
  readonly metadata: MetadataConfig;
}

export interface DropOverloadConfig {
  readonly category: string;
  /** Drop probability in parts per million. */
  readonly dropPerMillion: number;
}

/**
 * A validated `ClusterLoadAssignment` (the EDS resource; also a cluster's inline `load_assignment`). `priorities[p]` lists the localities at priority p (0 = highest);
 * a priority with no localities is an empty array (gaps allowed, as Envoy).
 */
export interface EndpointConfig {
  readonly clusterName: string;
  readonly priorities: readonly (readonly LocalityEndpointsConfig[])[];
  readonly policy: {
    /** Percent, default 140. */
    readonly overprovisioningFactor: number;
    readonly weightedPriorityHealth: boolean;
    readonly endpointStaleAfterMs: number | null;
    readonly dropOverloads: readonly DropOverloadConfig[];
  };
}

/** The same type under its proto name. */
export type ClusterLoadAssignmentConfig = EndpointConfig;

export const DEFAULT_OVERPROVISIONING_FACTOR = 140;
