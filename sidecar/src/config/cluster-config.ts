// Validated, immutable CDS input: cluster discovery, load balancing, outlier detection, circuit breakers, health checks, upstream protocol and TLS.

import type { EndpointConfig, JsonObject, MetadataConfig } from './endpoint-config';
import type { Http2OptionsConfig } from './listener-config';
import type { HeaderValueOptionConfig, StringMatcherConfig } from './route-config';
import type { UpstreamTransportSocketConfig } from './tls-config';

export type DiscoveryType = 'EDS' | 'STATIC' | 'STRICT_DNS' | 'LOGICAL_DNS' | 'ORIGINAL_DST';

export interface SlowStartConfig {
  readonly windowMs: number;
  /** Default 1.0. */
  readonly aggression: number;
  /** Default 10. */
  readonly minWeightPercent: number;
}

export interface ConsistentHashingConfig {
  readonly useHostnameForHashing: boolean;
  /** >= 100; null = unbounded (no bounded load). */
  readonly hashBalanceFactor: number | null;
}

/**
 * The load-balancing policy, from `load_balancing_policy` (first supported typed policy wins) or else `lb_policy`.
 * `peak_ewma` is meshlet's own latency-aware P2C (TypedStruct `type.googleapis.com/meshlet.lb.v1.PeakEwma`).
 */
export type LbPolicyConfig =
  | { readonly kind: 'round_robin'; readonly slowStart: SlowStartConfig | null }
  | {
      readonly kind: 'least_request';
      /** Default 2, >= 2. */
      readonly choiceCount: number;
      /** Default 1.0. */
      readonly activeRequestBias: number;
      /** True when the bias was configured explicitly (newest Envoy then forces the weighted algorithm). */
      readonly activeRequestBiasExplicit: boolean;
      readonly selectionMethod: 'N_CHOICES' | 'FULL_SCAN';
      readonly slowStart: SlowStartConfig | null;
    }
  | { readonly kind: 'random' }
  | {
      readonly kind: 'ring_hash';
      /** Default 1024. */
      readonly minimumRingSize: number;
      /** Default 8 388 608. */
      readonly maximumRingSize: number;
      readonly hashFunction: 'XX_HASH' | 'MURMUR_HASH_2';
      readonly consistentHashing: ConsistentHashingConfig;
    }
  | {
      readonly kind: 'maglev';
      /** Default 65537, prime. */
      readonly tableSize: number;
      readonly consistentHashing: ConsistentHashingConfig;
    }
  | { readonly kind: 'cluster_provided' }
  | {
      readonly kind: 'peak_ewma';
      /** EWMA decay time constant, default 10 000 ms (linkerd). */
      readonly decayMs: number;
      /** RTT assumed for a new endpoint, default 30 ms (linkerd). */
      readonly defaultRttMs: number;
    };

export type LbPolicyKind = LbPolicyConfig['kind'];

export interface CommonLbConfig {
  /** Percent, default 50; 0 disables panic mode. */
  readonly healthyPanicThresholdPercent: number;
  readonly zoneAware: {
    /** Percent, default 100. */
    readonly routingEnabledPercent: number;
    /** Default 6. */
    readonly minClusterSize: number;
    readonly failTrafficOnPanic: boolean;
  } | null;
  /** Locality weights from EDS are used (`locality_weighted_lb_config`, or a `wrr_locality` policy). */
  readonly localityWeighted: boolean;
  readonly ignoreNewHostsUntilFirstHc: boolean;
  /** Default 1000 ms. */
  readonly updateMergeWindowMs: number;
  readonly closeConnectionsOnHostSetChange: boolean;
}

/** `OutlierDetection`, every field with Envoy's default (specs/load-balancing.md §2.1). */
export interface OutlierDetectionConfig {
  readonly consecutive5xx: number;
  readonly intervalMs: number;
  readonly baseEjectionTimeMs: number;
  readonly maxEjectionPercent: number;
  readonly enforcingConsecutive5xx: number;
  readonly enforcingSuccessRate: number;
  readonly successRateMinimumHosts: number;
  readonly successRateRequestVolume: number;
  /** Divided by 1000 when used (1900 = 1.9). */
  readonly successRateStdevFactor: number;
  readonly consecutiveGatewayFailure: number;
  readonly enforcingConsecutiveGatewayFailure: number;
  readonly splitExternalLocalOriginErrors: boolean;
  readonly consecutiveLocalOriginFailure: number;
  readonly enforcingConsecutiveLocalOriginFailure: number;
  readonly enforcingLocalOriginSuccessRate: number;
  readonly failurePercentageThreshold: number;
  readonly enforcingFailurePercentage: number;
  readonly enforcingFailurePercentageLocalOrigin: number;
  readonly failurePercentageMinimumHosts: number;
  readonly failurePercentageRequestVolume: number;
  readonly maxEjectionTimeMs: number;
  readonly maxEjectionTimeJitterMs: number;
  readonly successfulActiveHealthCheckUnejectHost: boolean;
  readonly alwaysEjectOneHost: boolean;
}

export const DEFAULT_OUTLIER_DETECTION: OutlierDetectionConfig = Object.freeze({
  consecutive5xx: 5,
  intervalMs: 10_000,
  baseEjectionTimeMs: 30_000,
  maxEjectionPercent: 10,
  enforcingConsecutive5xx: 100,
  enforcingSuccessRate: 100,
  successRateMinimumHosts: 5,
  successRateRequestVolume: 100,
  successRateStdevFactor: 1900,
  consecutiveGatewayFailure: 5,
  enforcingConsecutiveGatewayFailure: 0,
  splitExternalLocalOriginErrors: false,
  consecutiveLocalOriginFailure: 5,
  enforcingConsecutiveLocalOriginFailure: 100,
  enforcingLocalOriginSuccessRate: 100,
  failurePercentageThreshold: 85,
  enforcingFailurePercentage: 0,
  enforcingFailurePercentageLocalOrigin: 0,
  failurePercentageMinimumHosts: 5,
  failurePercentageRequestVolume: 50,
  maxEjectionTimeMs: 300_000,
  maxEjectionTimeJitterMs: 0,
  successfulActiveHealthCheckUnejectHost: true,
  alwaysEjectOneHost: false,
});

/** `CircuitBreakers.Thresholds` for one routing priority. */
export interface CircuitBreakerThresholdsConfig {
  /** Default 1024. */
  readonly maxConnections: number;
  /** Default 1024. */
  readonly maxPendingRequests: number;
  /** Default 1024. */
  readonly maxRequests: number;
  /** Default 3; replaced by `retryBudget` when that is set. */
  readonly maxRetries: number;
  /** null = unlimited. */
  readonly maxConnectionPools: number | null;
  readonly trackRemaining: boolean;
  readonly retryBudget: { readonly budgetPercent: number; readonly minRetryConcurrency: number } | null;
}

export const DEFAULT_CIRCUIT_BREAKER_THRESHOLDS: CircuitBreakerThresholdsConfig = Object.freeze({
  maxConnections: 1024,
  maxPendingRequests: 1024,
  maxRequests: 1024,
  maxRetries: 3,
  maxConnectionPools: null,
  trackRemaining: false,
  retryBudget: null,
});

export interface CircuitBreakersConfig {
  readonly default: CircuitBreakerThresholdsConfig;
  readonly high: CircuitBreakerThresholdsConfig;
  /** Per-host `max_connections` (the only per-host threshold Envoy honours); null = unlimited. */
  readonly perHostMaxConnections: { readonly default: number | null; readonly high: number | null };
}

export type HealthCheckerConfig =
  | {
      readonly kind: 'http';
      /** '' = the endpoint hostname, else the cluster name. */
      readonly host: string;
      readonly path: string;
      readonly method: string;
      /** Half-open ranges [start, end); default [[200, 201]]. */
      readonly expectedStatuses: readonly (readonly [number, number])[];
      readonly retriableStatuses: readonly (readonly [number, number])[];
      readonly requestHeadersToAdd: readonly HeaderValueOptionConfig[];
      readonly requestHeadersToRemove: readonly string[];
      readonly codec: 'HTTP1' | 'HTTP2';
      readonly serviceNameMatcher: StringMatcherConfig | null;
      readonly send: Uint8Array | null;
      readonly receive: readonly Uint8Array[];
    }
  | { readonly kind: 'tcp'; readonly send: Uint8Array | null; readonly receive: readonly Uint8Array[] }
  | { readonly kind: 'grpc'; readonly serviceName: string; readonly authority: string };

/** `HealthCheck` with Envoy's interval defaults resolved (specs/load-balancing.md §3.1). */
export interface HealthCheckConfig {
  readonly timeoutMs: number;
  readonly intervalMs: number;
  readonly initialJitterMs: number;
  readonly intervalJitterMs: number;
  readonly intervalJitterPercent: number;
  readonly unhealthyThreshold: number;
  readonly healthyThreshold: number;
  /** Default true. */
  readonly reuseConnection: boolean;
  /** Default 60 000. */
  readonly noTrafficIntervalMs: number;
  /** Default = noTrafficIntervalMs. */
  readonly noTrafficHealthyIntervalMs: number;
  /** Default = intervalMs. */
  readonly unhealthyIntervalMs: number;
  /** Default = unhealthyIntervalMs. */
  readonly unhealthyEdgeIntervalMs: number;
  /** Default = intervalMs. */
  readonly healthyEdgeIntervalMs: number;
  readonly alwaysLogHealthCheckFailures: boolean;
  readonly checker: HealthCheckerConfig;
}

/**
 * Upstream HTTP protocol selection from `typed_extension_protocol_options["envoy.extensions.upstreams.http.v3.HttpProtocolOptions"]`
 * (or the deprecated cluster fields). Without any, Envoy speaks HTTP/1.1 upstream.
 */
export interface UpstreamHttpProtocolConfig {
  readonly protocol: 'http1' | 'http2' | 'use_downstream' | 'auto';
  readonly http2: Http2OptionsConfig;
  /** Default 3 600 000; 0 disables. */
  readonly idleTimeoutMs: number;
  readonly maxConnectionDurationMs: number | null;
  readonly maxStreamDurationMs: number | null;
  readonly maxRequestsPerConnection: number | null;
  readonly maxHeadersCount: number | null;
  readonly autoSni: boolean;
  readonly autoSanValidation: boolean;
}

export interface TransportSocketMatchConfig {
  readonly name: string;
  /** Matched against endpoint metadata `envoy.transport_socket_match` (every key must be equal); {} matches all. */
  readonly match: JsonObject;
  readonly transportSocket: UpstreamTransportSocketConfig;
}

export interface OriginalDstLbConfig {
  readonly useHttpHeader: boolean;
  /** Default `x-envoy-original-dst-host` when useHttpHeader. */
  readonly httpHeaderName: string;
  readonly upstreamPortOverride: number | null;
}

/** A validated `Cluster`. */
export interface ClusterConfig {
  readonly name: string;
  readonly discoveryType: DiscoveryType;
  /** EDS only: `eds_cluster_config.service_name`, or the cluster name when empty. */
  readonly edsServiceName: string | null;
  /** EDS only: the `eds_config` (always the ADS stream); `initialFetchTimeoutMs` 0 = forever. */
  readonly edsConfig: { readonly initialFetchTimeoutMs: number } | null;
  /** Inline endpoints (STATIC, STRICT_DNS, LOGICAL_DNS; allowed on EDS too). */
  readonly loadAssignment: EndpointConfig | null;
  /** Default 5000. */
  readonly connectTimeoutMs: number;
  /** Default 1 MiB. */
  readonly perConnectionBufferLimitBytes: number;
  readonly lbPolicy: LbPolicyConfig;
  readonly commonLbConfig: CommonLbConfig;
  readonly outlierDetection: OutlierDetectionConfig | null;
  readonly circuitBreakers: CircuitBreakersConfig;
  readonly healthChecks: readonly HealthCheckConfig[];
  readonly upstreamHttp: UpstreamHttpProtocolConfig;
  /** null = plaintext unless a transport socket match applies. */
  readonly transportSocket: UpstreamTransportSocketConfig | null;
  readonly transportSocketMatches: readonly TransportSocketMatchConfig[];
  readonly dnsLookupFamily: 'AUTO' | 'V4_ONLY' | 'V6_ONLY' | 'V4_PREFERRED' | 'ALL';
  /** Default 5000. */
  readonly dnsRefreshRateMs: number;
  readonly respectDnsTtl: boolean;
  readonly originalDstLbConfig: OriginalDstLbConfig | null;
  /** ORIGINAL_DST host cleanup, default 5000. */
  readonly cleanupIntervalMs: number;
  /** `upstream_bind_config.source_address` (Istio binds inbound passthrough to 127.0.0.6). */
  readonly upstreamBindAddress: { readonly host: string; readonly port: number } | null;
  readonly ignoreHealthOnHostRemoval: boolean;
  readonly closeConnectionsOnHostHealthFailure: boolean;
  readonly metadata: MetadataConfig;
}

export const DEFAULT_CONNECT_TIMEOUT_MS = 5_000;
export const DEFAULT_HEALTHY_PANIC_THRESHOLD_PERCENT = 50;
export const DEFAULT_DNS_REFRESH_RATE_MS = 5_000;
export const PEAK_EWMA_TYPE_URL = 'type.googleapis.com/meshlet.lb.v1.PeakEwma';
