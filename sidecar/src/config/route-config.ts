// Validated, immutable RDS input: RouteConfiguration -> virtual hosts -> routes, with Envoy's defaults applied.

/** `type.matcher.v3.StringMatcher` (and the legacy header match forms). `safe_regex` is ECMAScript-compatible RE2. */
export type StringMatcherConfig =
  | { readonly kind: 'exact' | 'prefix' | 'suffix' | 'contains'; readonly value: string; readonly ignoreCase: boolean }
  | { readonly kind: 'safe_regex'; readonly regex: string };

/** `HeaderMatcher`. `invert` flips the result; `treatMissingHeaderAsEmpty` matches an absent header as "". */
export interface HeaderMatcherConfig {
  readonly name: string;
  readonly match:
    | StringMatcherConfig
    | { readonly kind: 'present'; readonly present: boolean }
    /** `range_match`: start inclusive, end exclusive, on the header parsed as an integer. */
    | { readonly kind: 'range'; readonly start: number; readonly end: number };
  readonly invert: boolean;
  readonly treatMissingHeaderAsEmpty: boolean;
}

/** `QueryParameterMatcher`: a string match on the first value, or presence. */
export interface QueryParameterMatcherConfig {
  readonly name: string;
  readonly match: StringMatcherConfig | { readonly kind: 'present' };
}

export type HeaderAppendAction = 'APPEND_IF_EXISTS_OR_ADD' | 'ADD_IF_ABSENT' | 'OVERWRITE_IF_EXISTS_OR_ADD' | 'OVERWRITE_IF_EXISTS';

/** `HeaderValueOption`; the legacy `append` BoolValue is folded into `appendAction` (true: append, false: overwrite). */
export interface HeaderValueOptionConfig {
  readonly key: string;
  readonly value: string;
  readonly appendAction: HeaderAppendAction;
  readonly keepEmptyValue: boolean;
}

/** Header mutations at one level (route config, virtual host, route, weighted cluster). */
export interface HeaderMutationsConfig {
  readonly requestHeadersToAdd: readonly HeaderValueOptionConfig[];
  readonly requestHeadersToRemove: readonly string[];
  readonly responseHeadersToAdd: readonly HeaderValueOptionConfig[];
  readonly responseHeadersToRemove: readonly string[];
}

/** A typed_per_filter_config entry, kept opaque (filters that read it decode it themselves). */
export interface OpaqueTypedConfig {
  readonly typeUrl: string;
  readonly value: Uint8Array;
  readonly isOptional: boolean;
}

export type TypedPerFilterConfig = { readonly [filterName: string]: OpaqueTypedConfig };

export type RoutePathMatch =
  | { readonly kind: 'prefix'; readonly value: string }
  | { readonly kind: 'path'; readonly value: string }
  | { readonly kind: 'safe_regex'; readonly regex: string }
  | { readonly kind: 'path_separated_prefix'; readonly value: string };

export interface RouteMatchConfig {
  readonly path: RoutePathMatch;
  /** Default true; applies to prefix/path matches. */
  readonly caseSensitive: boolean;
  readonly headers: readonly HeaderMatcherConfig[];
  readonly queryParameters: readonly QueryParameterMatcherConfig[];
  /** Match only gRPC requests (content-type application/grpc*). */
  readonly grpc: boolean;
  /** `runtime_fraction` default value as a fraction in [0,1], null when unset. */
  readonly runtimeFraction: number | null;
}

export interface RetryBackOffConfig {
  /** Default 25 ms. */
  readonly baseIntervalMs: number;
  /** Default 10 x base. */
  readonly maxIntervalMs: number;
}

export type RetryHostPredicate = 'previous_hosts' | 'omit_canary_hosts';

/** `RetryPolicy` (route or virtual host; the innermost one wins, no merging). */
export interface RetryPolicyConfig {
  /** Comma list split and trimmed: `5xx`, `gateway-error`, `connect-failure`, `retriable-status-codes`, gRPC ones... */
  readonly retryOn: readonly string[];
  /** Default 1. */
  readonly numRetries: number;
  /** null: no per-try timeout (the route timeout covers all tries). */
  readonly perTryTimeoutMs: number | null;
  readonly perTryIdleTimeoutMs: number | null;
  readonly retryBackOff: RetryBackOffConfig;
  readonly retriableStatusCodes: readonly number[];
  readonly retriableHeaders: readonly HeaderMatcherConfig[];
  readonly retriableRequestHeaders: readonly HeaderMatcherConfig[];
  readonly retryHostPredicates: readonly RetryHostPredicate[];
  /** Default 1 ("if unspecified, retrying once"). */
  readonly hostSelectionRetryMaxAttempts: number;
}

export type HashPolicyConfig =
  | { readonly kind: 'header'; readonly headerName: string; readonly regexRewrite: RegexRewriteConfig | null; readonly terminal: boolean }
  | { readonly kind: 'cookie'; readonly name: string; readonly ttlMs: number | null; readonly path: string; readonly terminal: boolean }
  | { readonly kind: 'source_ip'; readonly terminal: boolean }
  | { readonly kind: 'query_parameter'; readonly name: string; readonly terminal: boolean }
  | { readonly kind: 'filter_state'; readonly key: string; readonly terminal: boolean };

export interface RegexRewriteConfig {
  readonly regex: string;
  readonly substitution: string;
}

export interface WeightedClusterEntryConfig extends HeaderMutationsConfig {
  readonly name: string;
  readonly weight: number;
  readonly hostRewriteLiteral: string | null;
  readonly typedPerFilterConfig: TypedPerFilterConfig;
}

export type ClusterSpecifierConfig =
  | { readonly kind: 'cluster'; readonly name: string }
  /** `totalWeight` is the sum of the entries' weights (Envoy ignores the deprecated total_weight). */
  | { readonly kind: 'weighted'; readonly clusters: readonly WeightedClusterEntryConfig[]; readonly totalWeight: number }
  | { readonly kind: 'cluster_header'; readonly header: string };

export type HostRewriteConfig =
  | { readonly kind: 'literal'; readonly value: string }
  | { readonly kind: 'auto' }
  | { readonly kind: 'header'; readonly header: string }
  | { readonly kind: 'path_regex'; readonly regex: string; readonly substitution: string };

export interface UpgradeSettingConfig {
  readonly upgradeType: string;
  readonly enabled: boolean;
}

/** `RouteAction`: forward to a cluster. */
export interface ForwardActionConfig {
  readonly kind: 'route';
  readonly cluster: ClusterSpecifierConfig;
  readonly clusterNotFoundResponseCode: 'SERVICE_UNAVAILABLE' | 'NOT_FOUND' | 'INTERNAL_SERVER_ERROR';
  readonly prefixRewrite: string | null;
  readonly regexRewrite: RegexRewriteConfig | null;
  readonly hostRewrite: HostRewriteConfig | null;
  /** Default 15 000; 0 disables the route timeout. */
  readonly timeoutMs: number;
  readonly idleTimeoutMs: number | null;
  /** Route retry policy, or null (then the virtual host's applies, if any). */
  readonly retryPolicy: RetryPolicyConfig | null;
  readonly hashPolicies: readonly HashPolicyConfig[];
  /** Legacy gRPC timeout handling: null = `grpc-timeout` ignored; 0 = no cap. */
  readonly maxGrpcTimeoutMs: number | null;
  readonly grpcTimeoutOffsetMs: number | null;
  readonly maxStreamDuration: {
    readonly maxStreamDurationMs: number | null;
    readonly grpcTimeoutHeaderMaxMs: number | null;
    readonly grpcTimeoutHeaderOffsetMs: number | null;
  } | null;
  readonly priority: 'DEFAULT' | 'HIGH';
  readonly upgradeConfigs: readonly UpgradeSettingConfig[];
}

export interface DirectResponseActionConfig {
  readonly kind: 'direct_response';
  readonly status: number;
  /** Inline body, or null for none. */
  readonly body: string | null;
}

export interface RedirectActionConfig {
  readonly kind: 'redirect';
  /** `https_redirect: true` is folded into scheme 'https'. */
  readonly scheme: string | null;
  readonly host: string | null;
  readonly port: number | null;
  readonly path:
    | { readonly kind: 'path'; readonly value: string }
    | { readonly kind: 'prefix'; readonly value: string }
    | { readonly kind: 'regex'; readonly regex: string; readonly substitution: string }
    | null;
  readonly responseCode: 301 | 302 | 303 | 307 | 308;
  readonly stripQuery: boolean;
}

export type RouteActionConfig = ForwardActionConfig | DirectResponseActionConfig | RedirectActionConfig;

/** One `Route`. */
export interface RouteEntryConfig extends HeaderMutationsConfig {
  readonly name: string;
  readonly match: RouteMatchConfig;
  readonly action: RouteActionConfig;
  readonly typedPerFilterConfig: TypedPerFilterConfig;
}

export interface VirtualHostConfig extends HeaderMutationsConfig {
  readonly name: string;
  /** Exact, `*.suffix`, `prefix*` or `*` (lower-cased). */
  readonly domains: readonly string[];
  readonly routes: readonly RouteEntryConfig[];
  readonly requireTls: 'NONE' | 'EXTERNAL_ONLY' | 'ALL';
  readonly retryPolicy: RetryPolicyConfig | null;
  readonly hashPolicies: readonly HashPolicyConfig[];
  readonly typedPerFilterConfig: TypedPerFilterConfig;
  readonly includeRequestAttemptCount: boolean;
  readonly includeAttemptCountInResponse: boolean;
}

/** A validated `RouteConfiguration` (from RDS or inline in an HTTP connection manager). */
export interface RouteConfig extends HeaderMutationsConfig {
  readonly name: string;
  readonly virtualHosts: readonly VirtualHostConfig[];
  /** null: unset (Envoy: validate when inline/static, not for RDS). */
  readonly validateClusters: boolean | null;
  readonly mostSpecificHeaderMutationsWins: boolean;
  /** Default 4096. */
  readonly maxDirectResponseBodySizeBytes: number;
  readonly typedPerFilterConfig: TypedPerFilterConfig;
}

export const DEFAULT_ROUTE_TIMEOUT_MS = 15_000;
export const DEFAULT_RETRY_BASE_INTERVAL_MS = 25;
export const DEFAULT_NUM_RETRIES = 1;
export const DEFAULT_MAX_DIRECT_RESPONSE_BODY_BYTES = 4096;
