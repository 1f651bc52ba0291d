// The validated, immutable bootstrap: who this sidecar is, where its admin (and health) servers listen, where its xDS server is,
// and the static listeners and clusters (decoded by the same decoders as xDS resources).

import type { FieldError } from '../core/validation';
import type { JsonObject, JsonValue } from './endpoint-config';
import type { ListenerConfig } from './listener-config';
import type { ClusterConfig } from './cluster-config';
import type { DataSourceConfig } from './tls-config';

/** A `HOST:PORT` pair (admin address, xDS server). `host` is an IP or a DNS name. */
export interface HostPort {
  readonly host: string;
  readonly port: number;
}

/** `envoy.config.core.v3.Node`: sent on the first request of every xDS stream. */
export interface NodeConfig {
  /** Must match what the control plane expects (istiod: `sidecar~IP~pod.ns~ns.svc.cluster.local`). */
  readonly id: string;
  readonly cluster: string;
  /** `node.metadata` as plain JSON (istiod reads NAMESPACE, INSTANCE_IPS, CLUSTER_ID, ISTIO_VERSION, LABELS...). */
  readonly metadata: JsonObject;
  readonly locality: NodeLocalityConfig | null;
  /** Defaults to `meshlet` and the package version when the file does not set them. */
  readonly userAgentName: string;
  readonly userAgentVersion: string;
  readonly clientFeatures: readonly string[];
}

export interface NodeLocalityConfig {
  readonly region: string;
  readonly zone: string;
  readonly subZone: string;
}

/** `SOTW` = StreamAggregatedResources (`api_type: GRPC`), `DELTA` = DeltaAggregatedResources (`DELTA_GRPC`, `--xds-delta`). */
export type XdsApiType = 'SOTW' | 'DELTA';

/** The ADS server: `dynamic_resources.ads_config` (or `--xds`). */
export interface XdsServerConfig {
  readonly address: HostPort;
  readonly apiType: XdsApiType;
  /**
   * Bootstrap cluster names that stand for the xDS server (`envoy_grpc.cluster_name` of `ads_config`). A config
   * source naming one of them in an `api_config_source` means "the ADS stream" (go-control-plane does this).
   */
  readonly clusterNames: readonly string[];
  /** Subscribe to LDS (wildcard) over ADS: `dynamic_resources.lds_config` is set, or the server came from `--xds` only. */
  readonly dynamicListeners: boolean;
  /** Subscribe to CDS (wildcard) over ADS: `dynamic_resources.cds_config` is set, or the server came from `--xds` only. */
  readonly dynamicClusters: boolean;
  /** `dynamic_resources.lds_config.initial_fetch_timeout`, default 15000; 0 = wait forever. */
  readonly ldsInitialFetchTimeoutMs: number;
  /** `dynamic_resources.cds_config.initial_fetch_timeout`, default 15000; 0 = wait forever. */
  readonly cdsInitialFetchTimeoutMs: number;
  /** TLS to the server (`--xds-ca`, or the xDS cluster's UpstreamTlsContext); absent = plaintext. */
  readonly tls?: XdsTlsConfig;
  /** Bearer token sent on every new stream (`--xds-token`); needs `tls`. */
  readonly token?: XdsTokenConfig;
}

/** TLS to the xDS server: istiod on 15012 is verified against the mesh root CA (specs/xds.md §4.4). */
export interface XdsTlsConfig {
  /** The trusted CA bundle (PEM). */
  readonly ca: DataSourceConfig;
  /** Name the server certificate must carry (and SNI); default the address host, e.g. `istiod.istio-system.svc`. */
  readonly serverName?: string;
  /** Client certificate for mTLS (the bootstrap's tls_certificates). */
  readonly clientCertificate?: { readonly certificateChain: DataSourceConfig; readonly privateKey: DataSourceConfig };
}

/**
 * `authorization: Bearer <token>` from a file, re-read for every new stream so a rotated projected
 * ServiceAccount token is picked up on reconnect (the kubelet rewrites it before it expires).
 */
export interface XdsTokenConfig {
  readonly file: string;
  /** Expected `aud` claim (`istio-ca` for istiod): a token for another audience is reported, not silently sent. */
  readonly audience?: string;
}

/** Where the bootstrap came from, for `/config_dump` and log lines. */
export interface BootstrapSource {
  /** The file given with `--bootstrap` (absolute), or null when built from flags and env vars only. */
  readonly path: string | null;
  /** The file as parsed (YAML/JSON -> plain JSON), or `{}` without a file. */
  readonly raw: JsonValue;
  /** The flags and env vars that overrode the file, e.g. `{ "--xds": "127.0.0.1:18000" }`. */
  readonly overrides: Readonly<Record<string, string>>;
}

/**
 * The whole validated bootstrap. Immutable; `xds === null` means static config only. The static resources are
 * already decoded and validated, exactly as the same resources arriving over ADS would be.
 */
export interface BootstrapConfig {
  readonly node: NodeConfig;
  /** `admin.address.socket_address`, default 127.0.0.1:15000. */
  readonly admin: HostPort;
  /**
   * The read-only health and metrics server (`--health-address`, Istio's 15021/15090, Linkerd's 4191): GET /ready,
   * /live, /healthz/ready, /metrics, /stats/prometheus and nothing else, so probes and scrapes can reach the pod IP
   * while admin stays on loopback. null = off (the default).
   */
  readonly health: HostPort | null;
  readonly xds: XdsServerConfig | null;
  readonly staticResources: {
    readonly listeners: readonly ListenerConfig[];
    readonly clusters: readonly ClusterConfig[];
  };
  /**
   * `cluster_manager.local_cluster_name`: the static cluster listing this service's own instances (with their
   * localities). Set = zone-aware routing for every cluster that uses neither locality weights nor a hash policy
   * (Envoy `ZoneAwareLoadBalancerBase`, specs/load-balancing.md §1.9); null = off.
   */
  readonly localClusterName: string | null;
  /** Accepted but ignored parts (stats sinks, runtime, tracing providers, ...), each with its field path. */
  readonly warnings: readonly FieldError[];
  readonly source: BootstrapSource;
}

export const DEFAULT_ADMIN_ADDRESS: HostPort = { host: '127.0.0.1', port: 15000 };

/**
 * Values from command-line flags. Precedence: flags beat env vars (`MESHLET_*`), which beat the file. With only
 * `xdsAddress` and `nodeId`, no file is needed.
 */
export interface BootstrapFlags {
  /** `--bootstrap FILE`: YAML (`.yaml`/`.yml`, or anything not `.json`) or JSON. */
  readonly bootstrapPath?: string;
  /** `--xds HOST:PORT` (env `MESHLET_XDS_ADDRESS`). */
  readonly xdsAddress?: string;
  /** `--node-id` (env `MESHLET_NODE_ID`). */
  readonly nodeId?: string;
  /** `--node-cluster` (env `MESHLET_NODE_CLUSTER`). */
  readonly nodeCluster?: string;
  /** `--admin HOST:PORT` (env `MESHLET_ADMIN_ADDRESS`); default 127.0.0.1:15000. */
  readonly adminAddress?: string;
  /** `--health-address HOST:PORT` (env `MESHLET_HEALTH_ADDRESS`): the read-only health and metrics server; off by default. */
  readonly healthAddress?: string;
  /** `--xds-delta` (env `MESHLET_XDS_DELTA=1`): delta xDS instead of state-of-the-world. */
  readonly xdsDelta?: boolean;
  /** `--xds-ca FILE` (env `MESHLET_XDS_CA`): TLS to the xDS server, trusting this CA bundle. */
  readonly xdsCa?: string;
  /** `--xds-server-name NAME` (env `MESHLET_XDS_SERVER_NAME`): name to verify; default the address host. */
  readonly xdsServerName?: string;
  /** `--xds-token FILE` (env `MESHLET_XDS_TOKEN`): bearer token file, re-read per stream. */
  readonly xdsToken?: string;
  /** `--xds-token-audience AUD` (env `MESHLET_XDS_TOKEN_AUDIENCE`): the audience the token must have. */
  readonly xdsTokenAudience?: string;
}

/** The env var behind each flag. */
export const BOOTSTRAP_ENV = {
  xdsAddress: 'MESHLET_XDS_ADDRESS',
  nodeId: 'MESHLET_NODE_ID',
  nodeCluster: 'MESHLET_NODE_CLUSTER',
  adminAddress: 'MESHLET_ADMIN_ADDRESS',
  healthAddress: 'MESHLET_HEALTH_ADDRESS',
  xdsDelta: 'MESHLET_XDS_DELTA',
  xdsCa: 'MESHLET_XDS_CA',
  xdsServerName: 'MESHLET_XDS_SERVER_NAME',
  xdsToken: 'MESHLET_XDS_TOKEN',
  xdsTokenAudience: 'MESHLET_XDS_TOKEN_AUDIENCE',
} as const;

/**
 * Pod identity env vars (Istio's names, set by the injector from the downward API) and what they fill in
 * `node.metadata`. With POD_NAME, POD_NAMESPACE and INSTANCE_IP and no explicit node id, the id is
 * `sidecar~INSTANCE_IP~POD_NAME.POD_NAMESPACE~POD_NAMESPACE.svc.cluster.local` (istiod's format).
 * `MESHLET_NODE_LABELS` (JSON object) becomes LABELS; `MESHLET_NODE_METADATA` (JSON object) is merged last.
 */
export const NODE_IDENTITY_ENV = {
  POD_NAME: 'NAME',
  POD_NAMESPACE: 'NAMESPACE',
  INSTANCE_IP: 'INSTANCE_IPS',
  SERVICE_ACCOUNT: 'SERVICE_ACCOUNT',
  CLUSTER_ID: 'CLUSTER_ID',
  ISTIO_VERSION: 'ISTIO_VERSION',
  INTERCEPTION_MODE: 'INTERCEPTION_MODE',
} as const;
