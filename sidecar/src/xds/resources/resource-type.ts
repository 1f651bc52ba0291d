// The contract every xDS resource decoder implements (LDS, RDS, CDS, EDS): proto-loader object -> Validation<domain config>.

import type { Validation } from '../../core/validation';
import type { ProtoSchema } from '../proto-schema';

export const LISTENER_TYPE_URL = 'type.googleapis.com/envoy.config.listener.v3.Listener';
export const ROUTE_CONFIGURATION_TYPE_URL = 'type.googleapis.com/envoy.config.route.v3.RouteConfiguration';
export const CLUSTER_TYPE_URL = 'type.googleapis.com/envoy.config.cluster.v3.Cluster';
export const CLUSTER_LOAD_ASSIGNMENT_TYPE_URL = 'type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment';

/** What a decoder needs besides the message itself. */
export interface DecodeContext {
  readonly schema: ProtoSchema;
  /** Bootstrap cluster names that are xDS servers: an api_config_source GRPC naming one of these means "the ADS stream" (go-control-plane's example does this). */
  readonly adsClusterNames: ReadonlySet<string>;
  /** Told once per ignored (telemetry-like) filter type URL, for a log line. */
  readonly onIgnored?: (typeUrl: string, where: string) => void;
}

/** One decoded resource: its name (filled even when invalid, for NACK details) and the validation result. */
export interface DecodedResource<T> {
  readonly name: string;
  readonly result: Validation<T>;
}

/**
 * Named resources of one type that a resource needs before it is complete, with the `initial_fetch_timeout` of the
 * ConfigSource that refers to them (the HCM's `rds.config_source`, the cluster's `eds_cluster_config.eds_config`).
 */
export interface ResourceDependency {
  readonly typeUrl: string;
  readonly names: readonly string[];
  /**
   * How long (ms) this referrer waits for each name before going on without it (Envoy's `initial_fetch_timeout` on
   * the referring ConfigSource): 0 = wait forever (what istiod sends); absent = Envoy's default, 15 000.
   */
  readonly initialFetchTimeoutMs?: number;
}

/** One xDS resource type: identity, SotW semantics, decoder and dependency extraction. */
export interface XdsResourceType<T> {
  /** e.g. type.googleapis.com/envoy.config.cluster.v3.Cluster */
  readonly typeUrl: string;
  /** e.g. envoy.config.cluster.v3.Cluster */
  readonly protoName: string;
  readonly shortName: 'LDS' | 'RDS' | 'CDS' | 'EDS';
  /** true for LDS and CDS (full-state in SotW: a missing resource is deleted). */
  readonly allResourcesRequiredInSotW: boolean;
  /** Decodes one resource already decoded from bytes into proto-loader __Output shape. Never throws. Errors have paths relative to the resource (e.g. `connect_timeout`). The name is filled even when invalid. */
  decode(ctx: DecodeContext, message: unknown): DecodedResource<T>;
  /**
   * Resources of other types this one needs before it is complete (LDS -> RDS names, CDS -> EDS service name). One
   * group per distinct `initialFetchTimeoutMs`; a name may appear in several groups.
   */
  dependencies(value: T): readonly ResourceDependency[];
}
