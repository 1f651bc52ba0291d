// The composition root: wires bootstrap -> xDS client -> snapshot store -> clusters, routes, listeners -> proxy,
// and the admin server. The one file that imports from every folder; nothing imports it but main.ts and tests.

import type { BootstrapConfig } from './config/bootstrap-config';
import type { ClusterConfig } from './config/cluster-config';
import type { ListenerConfig } from './config/listener-config';
import { SnapshotStore } from './config/snapshot-store';
import type { ConfigSnapshot } from './config/config-snapshot';
import { AdminServer } from './admin/admin-server';
import { ListenerManager } from './listener/listener-manager';
import { HttpProxy } from './proxy/http-proxy';
import { ProxyRuntime } from './proxy/proxy-runtime';
import { ClusterManager } from './upstream/cluster-manager';
import { PeakEwmaObserver } from './upstream/lb/peak-ewma-observer';
import { silentLogger, type Logger } from './observability/logger';
import { AccessLog } from './observability/access-log';
import { ExchangeStats } from './observability/exchange-stats';
import type { TracingObserver, ListenerTracePolicy } from './observability/tracing-observer';
import type { TracingOptions } from './observability/tracing-options';
import { statsPrometheusEndpoint } from './admin/stats-prometheus-endpoint';
import { probeEndpoints } from './admin/probe-endpoints';
import { configDumpEndpoint } from './admin/config-dump-endpoint';
import { healthEndpoints } from './admin/health-endpoints';
import { statsEndpoint } from './admin/stats-endpoint';
import { loggingEndpoints } from './admin/logging-endpoint';
import { drainEndpoint } from './admin/drain-endpoint';
import { dashboardEndpoints } from './admin/dashboard-endpoint';
import { ClustersEndpoint } from './admin/clusters-endpoint';
import { explainEndpoint } from './admin/explain-endpoint';
import { RouteExplainer } from './proxy/route-explainer';
import type { MetricsSources } from './admin/metrics-collector';
import type { BackoffOptions } from './core/backoff';
import { buildConfigDump } from './xds/config-dump';
import { nodeMessage } from './xds/node-message';
import { SnapshotAssembler, type StaticResources } from './xds/snapshot-assembler';
import type { XdsClient } from './xds/xds-client';
import { clusterLoadAssignmentResource } from './xds/resources/cluster-load-assignment-resource';
import { clusterResource } from './xds/resources/cluster-resource';
import { listenerResource } from './xds/resources/listener-resource';
import { routeConfigurationResource } from './xds/resources/route-configuration-resource';
import type { DecodeContext, XdsResourceType } from './xds/resources/resource-type';

// Loaded only when used (issue 3, peak RSS): the ADS client and its credentials pull in @grpc/grpc-js, tracing the
// OpenTelemetry SDK and exporters; a static bootstrap without --otlp-endpoint never loads either.
const xdsClientModule = (): typeof import('./xds/xds-client') => require('./xds/xds-client') as typeof import('./xds/xds-client');
const protoSchemaModule = (): typeof import('./xds/proto-schema') => require('./xds/proto-schema') as typeof import('./xds/proto-schema');
const xdsCredentialsModule = (): typeof import('./xds/xds-credentials') => require('./xds/xds-credentials') as typeof import('./xds/xds-credentials');
const tracingModule = (): typeof import('./observability/tracing-observer') => require('./observability/tracing-observer') as typeof import('./observability/tracing-observer');

/** LDS, RDS, CDS, EDS: the resource types meshlet subscribes to. */
const RESOURCE_TYPES: readonly XdsResourceType<unknown>[] = [
  listenerResource,
  routeConfigurationResource,
  clusterResource,
  clusterLoadAssignmentResource,
] as readonly XdsResourceType<unknown>[];

export interface SidecarOptions {
  readonly logger?: Logger;
  /** Reconnect backoff for the ADS stream (tests shorten it). */
  readonly xdsBackoff?: BackoffOptions;
  /** Extra grpc-js channel options for the ADS channel (tests shorten grpc's own reconnect backoff). */
  readonly xdsChannelOptions?: Readonly<Record<string, number | string>>;
  /** OTLP tracing; null or absent = off. */
  readonly tracing?: TracingOptions | null;
  /** Access log destination (`stdout` or a file path); null or absent = off. */
  readonly accessLog?: string | null;
}

/** The observability parts of a running sidecar (tests flush them). */
export interface SidecarTelemetry {
  readonly stats: ExchangeStats;
  readonly tracing: TracingObserver | undefined;
  readonly accessLog: AccessLog | undefined;
}

/** A running sidecar. `stop()` closes the admin and health servers and the xDS stream; the process may then exit. */
export interface Sidecar {
  readonly bootstrap: BootstrapConfig;
  /** Complete config snapshots; `store.current` is what the data plane reads once per request. */
  readonly store: SnapshotStore;
  /** undefined when running from static config only. */
  readonly xdsClient: XdsClient | undefined;
  readonly admin: AdminServer;
  /** The read-only health and metrics server (`--health-address`); undefined when off. */
  readonly health: AdminServer | undefined;
  readonly clusters: ClusterManager;
  readonly listeners: ListenerManager;
  readonly proxy: HttpProxy;
  readonly telemetry: SidecarTelemetry;
  /** Resolves once the listeners of the current snapshot are bound (tests wait on it after a config change). */
  whenListenersApplied(): Promise<void>;
  /** SIGTERM: /ready answers 503, listeners stop accepting, in-flight requests finish (or are cut at the deadline). */
  drain(timeoutMs: number): Promise<void>;
  stop(): Promise<void>;
}

/**
 * Starts a sidecar from a validated bootstrap: static resources are published at once when they are complete;
 * with an xDS server, the ADS client streams LDS/RDS/CDS/EDS and publishes complete snapshots into the store.
 * The admin server answers /ready (200 once a first complete snapshot exists) and /config_dump; the optional health
 * server only /ready, /live, /healthz/ready and the Prometheus text.
 */
export async function createSidecar(bootstrap: BootstrapConfig, options: SidecarOptions = {}): Promise<Sidecar> {
  const logger = options.logger ?? silentLogger();
  const store = new SnapshotStore();
  const staticResources: StaticResources = {
    listeners: new Map<string, ListenerConfig>(bootstrap.staticResources.listeners.map((l) => [l.name, l])),
    clusters: new Map<string, ClusterConfig>(bootstrap.staticResources.clusters.map((c) => [c.name, c])),
  };
  for (const warning of bootstrap.warnings) logger.warn({ path: warning.path }, warning.message);

  // Data plane: clusters first (routes may point at new clusters), then the runtime routes read, then listeners.
  const clusters = new ClusterManager({ logger: logger.child({ component: 'upstream' }), localClusterName: bootstrap.localClusterName, localLocality: bootstrap.node.locality });
  let runtime: ProxyRuntime | undefined;
  // Observers: stats always; the access log before tracing, so it reads the trace id before the span ends.
  let tracePolicies = new Map<string, ListenerTracePolicy>();
  const stats = new ExchangeStats();
  const tracing = options.tracing == null ? undefined : new (tracingModule().TracingObserver)({ tracing: options.tracing, listenerPolicy: (name) => tracePolicies.get(name) });
  const accessLog = options.accessLog == null ? undefined : new AccessLog({ destination: options.accessLog, ...(tracing !== undefined ? { traceIds: (exchange: object) => tracing.traceIds(exchange) } : {}) });
  const telemetry: SidecarTelemetry = { stats, tracing, accessLog };
  const proxy = new HttpProxy({
    observers: [new PeakEwmaObserver(), clusters.outlierObserver, stats, ...(accessLog !== undefined ? [accessLog] : []), ...(tracing !== undefined ? [tracing] : [])],
    runtime: () => runtime,
    clusters,
    logger: logger.child({ component: 'proxy' }),
    nodeId: bootstrap.node.id,
  });
  const listeners = new ListenerManager({ handlers: proxy, logger: logger.child({ component: 'listener' }) });
  let listenersApplied: Promise<void> = Promise.resolve();
  let listenersReady = false;
  let draining = false;
  const applySnapshot = (snapshot: ConfigSnapshot): void => {
    clusters.apply(snapshot);
    runtime = ProxyRuntime.build(snapshot);
    tracePolicies = listenerTracePolicies(snapshot);
    // Listener updates are async (bind); apply them in order, one at a time.
    listenersApplied = listenersApplied.then(async () => {
      const failures = await listeners.apply(snapshot);
      for (const failure of failures) logger.error({ listener: failure.listener, error: failure.error }, 'listener could not be applied');
      listenersReady = true;
    });
  };

  store.subscribe((snapshot: ConfigSnapshot) => {
    applySnapshot(snapshot);
    logger.info(
      {
        version: snapshot.version,
        listeners: snapshot.listeners.size,
        routes: snapshot.routes.size,
        clusters: snapshot.clusters.size,
        endpoints: snapshot.endpoints.size,
      },
      'config snapshot applied',
    );
  });

  let xdsClient: XdsClient | undefined;
  const xds = bootstrap.xds;
  if (xds === null) {
    new SnapshotAssembler({ store, resourceTypes: RESOURCE_TYPES, staticResources, logger }).assemble();
    await listenersApplied;
  } else {
    // The proto schema is needed only to decode ADS responses: a static sidecar holds no reference to it.
    const ignoredOnce = new Set<string>();
    const decodeContext: DecodeContext = {
      schema: protoSchemaModule().ProtoSchema.get(),
      adsClusterNames: new Set(xds.clusterNames),
      onIgnored: (typeUrl, where) => {
        if (ignoredOnce.has(typeUrl)) return;
        ignoredOnce.add(typeUrl);
        logger.info({ typeUrl, where }, 'ignoring filter meshlet does not implement (telemetry-like, safe to skip)');
      },
    };
    const wildcardTypeUrls: string[] = [];
    if (xds.dynamicListeners) wildcardTypeUrls.push(listenerResource.typeUrl);
    if (xds.dynamicClusters) wildcardTypeUrls.push(clusterResource.typeUrl);
    // TLS (+ bearer token) to istiod:15012; reading the CA fails start with the file name.
    const security = xds.tls === undefined ? undefined : xdsCredentialsModule().xdsConnectionSecurity(xds.tls, xds.token, logger.child({ component: 'xds' }));
    xdsClient = new (xdsClientModule().XdsClient)({
      server: `${xds.address.host.includes(':') ? `[${xds.address.host}]` : xds.address.host}:${xds.address.port}`,
      node: nodeMessage(bootstrap.node),
      delta: xds.apiType === 'DELTA',
      resourceTypes: RESOURCE_TYPES,
      wildcardTypeUrls,
      decodeContext,
      initialFetchTimeoutsMs: {
        [listenerResource.typeUrl]: xds.ldsInitialFetchTimeoutMs,
        [clusterResource.typeUrl]: xds.cdsInitialFetchTimeoutMs,
      },
      staticResources,
      store,
      logger: logger.child({ component: 'xds' }),
      ...(options.xdsBackoff !== undefined ? { backoff: options.xdsBackoff } : {}),
      ...(options.xdsChannelOptions !== undefined || security !== undefined ? { channelOptions: { ...security?.channelOptions, ...options.xdsChannelOptions } } : {}),
      ...(security === undefined ? {} : { credentials: security.credentials }),
      ...(security?.callMetadata === undefined ? {} : { callMetadata: security.callMetadata }),
      userAgentVersion: bootstrap.node.userAgentVersion,
    });
  }

  const metricsSources: MetricsSources = {
    clusters,
    exchangeStats: stats,
    listenerStats: () => listeners.stats(),
    xdsClient: () => xdsClient,
    outlierStats: (cluster) => clusters.outlierDetector(cluster)?.stats,
    healthCheckStats: (cluster) => clusters.healthChecker(cluster)?.stats,
    extra: (out) => {
      if (tracing !== undefined) out.counter('meshlet_tracing_spans_started', 'Spans started (sampled requests and retried attempts)', {}, tracing.spansStarted);
      if (accessLog !== undefined) {
        out.counter('meshlet_access_log_lines', 'Access log lines written', {}, accessLog.lines);
        out.counter('meshlet_access_log_dropped', 'Access log lines dropped (buffer full)', {}, accessLog.dropped);
      }
    },
  };
  const drain = async (timeoutMs: number): Promise<void> => {
    draining = true;
    await listeners.drain(timeoutMs);
  };

  const explainer = new RouteExplainer({
    runtime: () => runtime,
    clusters,
    listenerAddresses: () => listeners.addresses(),
    outlierDetector: (cluster) => clusters.outlierDetector(cluster),
  });
  // Envoy answers /ready once initialised (first config applied, listeners bound) and 503 while draining; the admin
  // and health servers read this one function.
  const isReady = (): boolean => store.current !== undefined && listenersReady && !draining;
  // The health server binds first: by the time the admin /ready can answer 200, the probes' port is up too.
  let health: AdminServer | undefined;
  let admin: AdminServer;
  try {
    health = bootstrap.health === null
      ? undefined
      : await AdminServer.start({ host: bootstrap.health.host, port: bootstrap.health.port, name: 'health', endpoints: healthEndpoints(isReady, metricsSources) });
    admin = await AdminServer.start({
      host: bootstrap.admin.host,
      port: bootstrap.admin.port,
      endpoints: [
        ...probeEndpoints(isReady),
        configDumpEndpoint(() => buildConfigDump(bootstrap, xdsClient, store.current)),
        statsPrometheusEndpoint(metricsSources),
        statsEndpoint(metricsSources),
        ...loggingEndpoints(logger),
        drainEndpoint((timeoutMs) => drain(timeoutMs)),
        ...dashboardEndpoints({ nodeId: bootstrap.node.id, clusters, exchangeStats: stats, xdsClient: () => xdsClient }),
        new ClustersEndpoint(clusters),
        explainEndpoint((query) => explainer.explain(query)),
      ],
    });
  } catch (error) {
    // A bind failure is a start error: release what is already open so the caller can exit (or a test go on).
    xdsClient?.stop();
    await health?.stop();
    await listenersApplied.catch(() => undefined);
    await listeners.close();
    proxy.close();
    await clusters.close();
    throw error;
  }
  logger.info({ admin: admin.address, health: health?.address ?? null, xds: xds === null ? null : `${xds.address.host}:${xds.address.port}`, node: bootstrap.node.id }, 'meshlet started');
  xdsClient?.start();

  let stopped = false;
  return {
    bootstrap,
    store,
    xdsClient,
    admin,
    health,
    clusters,
    listeners,
    proxy,
    telemetry,
    whenListenersApplied: () => listenersApplied,
    drain,
    async stop() {
      if (stopped) return;
      stopped = true;
      xdsClient?.stop();
      await listenersApplied.catch(() => undefined);
      await listeners.close();
      proxy.close();
      await clusters.close();
      await health?.stop();
      await admin.stop();
      await accessLog?.close();
      await tracing?.shutdown();
    },
  };
}

/**
 * Per listener: SERVER spans on INBOUND listeners, CLIENT on OUTBOUND (Envoy `getSpanKind` without
 * spawn_upstream_span; UNSPECIFIED counts as inbound), and the HCM `tracing` random x overall sampling percentage.
 */
function listenerTracePolicies(snapshot: ConfigSnapshot): Map<string, ListenerTracePolicy> {
  const out = new Map<string, ListenerTracePolicy>();
  for (const listener of snapshot.listeners.values()) {
    const chains = listener.defaultFilterChain === null ? listener.filterChains : [...listener.filterChains, listener.defaultFilterChain];
    const hcm = chains.map((c) => c.network).find((n) => n.kind === 'http');
    const t = hcm?.kind === 'http' ? hcm.tracing : null;
    out.set(listener.name, {
      kind: listener.trafficDirection === 'OUTBOUND' ? 'client' : 'server',
      samplingPercent: t === null ? undefined : (t.randomSamplingPercent * t.overallSamplingPercent) / 100,
    });
  }
  return out;
}
