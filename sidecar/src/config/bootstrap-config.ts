// The validated, immutable bootstrap: who this sidecar is, where its admin server listens, where its xDS server is,
// and the static listeners and clusters (decoded by the same decoders as xDS resources).

import type { FieldError } from '../core/validation';
import type { JsonObject, JsonValue } from './endpoint-config';
import type { ListenerConfig } from './listener-config';
import type { ClusterConfig } from './cluster-config';

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
  readonly xds: XdsServerConfig | null;
  readonly staticResources: {
    readonly listeners: readonly ListenerConfig[];
    readonly clusters: readonly ClusterConfig[];
  };
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
  /** `--xds-delta` (env `MESHLET_XDS_DELTA=1`): delta xDS instead of state-of-the-world. */
  readonly xdsDelta?: boolean;
}

/** The env var behind each flag. */
export const BOOTSTRAP_ENV = {
  xdsAddress: 'MESHLET_XDS_ADDRESS',
  nodeId: 'MESHLET_NODE_ID',
  nodeCluster: 'MESHLET_NODE_CLUSTER',
  adminAddress: 'MESHLET_ADMIN_ADDRESS',
  xdsDelta: 'MESHLET_XDS_DELTA',
} as const;
