// Loads the Envoy v3 bootstrap (file + env vars + flags) into a validated BootstrapConfig, reporting every problem at once.

import * as fs from 'node:fs';
import * as path from 'node:path';
import type * as YamlModule from 'yaml';
import { ErrorCollector, joinPath, type FieldError, type Validation } from '../core/validation';
import {
  BOOTSTRAP_ENV,
  DEFAULT_ADMIN_ADDRESS,
  NODE_IDENTITY_ENV,
  type BootstrapConfig,
  type BootstrapFlags,
  type HostPort,
  type NodeConfig,
  type XdsApiType,
  type XdsServerConfig,
  type XdsTlsConfig,
  type XdsTokenConfig,
} from '../config/bootstrap-config';
import type { ClusterConfig } from '../config/cluster-config';
import type { UpstreamTransportSocketConfig } from '../config/tls-config';
import type { JsonObject, JsonValue } from '../config/endpoint-config';
import { DEFAULT_INITIAL_FETCH_TIMEOUT_MS, type ListenerConfig } from '../config/listener-config';
import type { Bootstrap__Output } from '../../../xds-protos/generated/envoy/config/bootstrap/v3/Bootstrap';
import type { Cluster__Output } from '../../../xds-protos/generated/envoy/config/cluster/v3/Cluster';
import type { ConfigSource__Output } from '../../../xds-protos/generated/envoy/config/core/v3/ConfigSource';
import type { ApiConfigSource__Output } from '../../../xds-protos/generated/envoy/config/core/v3/ApiConfigSource';
import { messageFromJsonPartial } from './proto-json';
import { ProtoSchema } from './proto-schema';
import { protoValidate } from './proto-validate';
import { clusterResource } from './resources/cluster-resource';
import { listenerResource } from './resources/listener-resource';
import { decodeConfigSource } from './resources/config-source';
import type { DecodeContext, XdsResourceType } from './resources/resource-type';
import { structToJson } from './resources/struct-json';

const BOOTSTRAP_TYPE = 'envoy.config.bootstrap.v3.Bootstrap';

/** The YAML parser, loaded only for a YAML file (a JSON bootstrap never pays for it; issue 3, peak RSS). */
const yamlModule = (): typeof YamlModule => require('yaml') as typeof YamlModule;

/** The decoders static resources go through: the same ones the ADS client uses. */
export interface BootstrapDecoders {
  readonly listener: XdsResourceType<ListenerConfig>;
  readonly cluster: XdsResourceType<ClusterConfig>;
}

export interface BootstrapLoadOptions {
  /** Env vars to read overrides from; default `process.env`. */
  readonly env?: Readonly<Record<string, string | undefined>>;
  readonly schema?: ProtoSchema;
  readonly decoders?: BootstrapDecoders;
  /** `node.user_agent_version` when the file does not set it (the package version). */
  readonly version?: string;
}

/** The flag behind each override, for error paths (`--xds: invalid address ...`). */
const FLAG_NAMES: Readonly<Record<keyof typeof BOOTSTRAP_ENV, string>> = {
  xdsAddress: '--xds',
  nodeId: '--node-id',
  nodeCluster: '--node-cluster',
  adminAddress: '--admin',
  healthAddress: '--health-address',
  xdsDelta: '--xds-delta',
  xdsCa: '--xds-ca',
  xdsServerName: '--xds-server-name',
  xdsToken: '--xds-token',
  xdsTokenAudience: '--xds-token-audience',
};

/**
 * Loads the bootstrap: reads `flags.bootstrapPath` if given (with only `--xds` and `--node-id`, no file is
 * needed), converts it as Envoy would, decodes the static listeners and clusters with the xDS decoders and applies
 * env-var and flag overrides. Every problem (file syntax, unknown fields, unsupported features, bad overrides) is
 * returned at once, each with its field path. Never throws. Synchronous: it runs once at start.
 */
export function loadBootstrap(flags: BootstrapFlags, options: BootstrapLoadOptions = {}): Validation<BootstrapConfig> {
  if (flags.bootstrapPath === undefined) return bootstrapFromJson(undefined, null, flags, options);
  const absolute = path.resolve(flags.bootstrapPath);
  const file = readConfigFile(absolute);
  if (!file.ok) return file;
  return bootstrapFromJson(file.value, absolute, flags, options);
}

/**
 * Reads a YAML or JSON config file into plain JSON (`.json` -> JSON, anything else YAML, which also reads JSON).
 * Syntax errors carry the file name and line. Never throws.
 */
export function readConfigFile(file: string): Validation<JsonValue> {
  const ec = ErrorCollector.root(file);
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    ec.add(code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'is a directory, not a file' : `cannot read: ${(error as Error).message}`);
    return ec.result(null);
  }
  if (text.trim() === '') {
    ec.add('the file is empty');
    return ec.result(null);
  }
  if (file.toLowerCase().endsWith('.json')) {
    try {
      return ec.result(JSON.parse(text) as JsonValue);
    } catch (error) {
      ec.add(`invalid JSON: ${(error as Error).message}`);
      return ec.result(null);
    }
  }
  const doc = yamlModule().parseDocument(text, { merge: true, uniqueKeys: true, prettyErrors: true });
  for (const error of doc.errors) {
    const where = error.linePos?.[0];
    ec.add(`invalid YAML${where === undefined ? '' : ` at line ${where.line}, column ${where.col}`}: ${firstLine(error.message)}`);
  }
  if (ec.hasErrors) return ec.result(null);
  try {
    return ec.result(doc.toJS({ maxAliasCount: 1000 }) as JsonValue);
  } catch (error) {
    ec.add(`invalid YAML: ${firstLine((error as Error).message)}`);
    return ec.result(null);
  }
}

/**
 * The bootstrap from already-parsed JSON (`undefined` = no file). `file` is recorded as the source.
 * Same checks and overrides as `loadBootstrap`.
 */
export function bootstrapFromJson(
  raw: unknown,
  file: string | null,
  flags: BootstrapFlags,
  options: BootstrapLoadOptions = {},
): Validation<BootstrapConfig> {
  const ec = ErrorCollector.root();
  let bootstrap: Bootstrap__Output | undefined;
  if (raw !== undefined) {
    if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
      ec.add(`a bootstrap must be an object, got ${Array.isArray(raw) ? 'a list' : JSON.stringify(raw)}`);
    } else {
      // Best effort: fields that do not convert are reported and left out, so every other check still runs.
      const converted = messageFromJsonPartial<Bootstrap__Output>(options.schema ?? ProtoSchema.get(), BOOTSTRAP_TYPE, raw);
      bootstrap = converted.value;
      ec.addAll(converted.errors);
    }
  }
  return buildBootstrap(bootstrap, { path: file, raw: (raw ?? {}) as JsonValue }, flags, options, ec);
}

/** The bootstrap from an already-decoded Bootstrap message (e.g. from a config dump). Same checks and overrides. */
export function bootstrapFromMessage(
  bootstrap: Bootstrap__Output,
  flags: BootstrapFlags,
  options: BootstrapLoadOptions = {},
): Validation<BootstrapConfig> {
  return buildBootstrap(bootstrap, { path: null, raw: {} }, flags, options, ErrorCollector.root());
}

function buildBootstrap(
  bootstrap: Bootstrap__Output | undefined,
  source: { readonly path: string | null; readonly raw: JsonValue },
  flags: BootstrapFlags,
  options: BootstrapLoadOptions,
  ec: ErrorCollector,
): Validation<BootstrapConfig> {
  const schema = options.schema ?? ProtoSchema.get();
  const decoders = options.decoders ?? { listener: listenerResource, cluster: clusterResource };
  const overrides = resolveOverrides(flags, options.env ?? process.env, ec);
  if (bootstrap !== undefined) checkBootstrapFields(bootstrap, ec);
  const ads = bootstrap === undefined ? undefined : readAdsConfig(bootstrap, ec.at('dynamic_resources'));
  const adsClusterNames = new Set(ads?.clusterName === undefined ? [] : [ads.clusterName]);
  const statics: StaticResources = bootstrap === undefined
    ? { listeners: [], clusters: [] }
    : decodeStaticResources(bootstrap, { schema, adsClusterNames }, decoders, ec);

  const xds = resolveXds(bootstrap, ads, overrides, statics, ec);
  if (xds === null) checkStaticClosure(statics, decoders, ec);
  const node = resolveNode(bootstrap, overrides, options.version ?? '', options.env ?? process.env, ec);
  if (xds !== null && node.id === '') {
    ec.add('a node id is required with an xDS server (node.id in the bootstrap, --node-id or MESHLET_NODE_ID)', 'node.id');
  }
  const admin = resolveAdmin(bootstrap, overrides, ec);
  const localClusterName = resolveLocalCluster(bootstrap, statics, ec);

  return ec.result<BootstrapConfig>({
    node,
    admin,
    // Flag or env var only: Envoy's bootstrap has no such server (Istio's pilot-agent serves 15021 itself).
    health: overrides.healthAddress ?? null,
    xds,
    localClusterName,
    staticResources: { listeners: statics.listeners.map((l) => l.value), clusters: statics.clusters.map((c) => c.value) },
    warnings: ec.warnings,
    source: { ...source, overrides: overrides.applied },
  });
}

// ---- overrides ----------------------------------------------------------------------------------

interface Overrides {
  readonly xdsAddress?: HostPort;
  readonly nodeId?: string;
  readonly nodeCluster?: string;
  readonly adminAddress?: HostPort;
  readonly healthAddress?: HostPort;
  readonly xdsDelta?: boolean;
  readonly xdsCa?: string;
  readonly xdsServerName?: string;
  readonly xdsToken?: string;
  readonly xdsTokenAudience?: string;
  /** For the record: which flag or env var set what. */
  readonly applied: Readonly<Record<string, string>>;
}

function resolveOverrides(flags: BootstrapFlags, env: Readonly<Record<string, string | undefined>>, ec: ErrorCollector): Overrides {
  const applied: Record<string, string> = {};
  /** The flag value, else the env var value, with the name it came from (for error paths). */
  const pick = (key: keyof typeof BOOTSTRAP_ENV): { value: string; from: string } | undefined => {
    const flag = flags[key];
    if (flag !== undefined && flag !== false) {
      const value = flag === true ? '1' : flag;
      applied[FLAG_NAMES[key]] = value;
      return { value, from: FLAG_NAMES[key] };
    }
    const envValue = env[BOOTSTRAP_ENV[key]];
    if (envValue !== undefined && envValue !== '') {
      applied[BOOTSTRAP_ENV[key]] = envValue;
      return { value: envValue, from: BOOTSTRAP_ENV[key] };
    }
    return undefined;
  };
  const out: { -readonly [K in keyof Overrides]: Overrides[K] } = { applied };
  const xds = pick('xdsAddress');
  if (xds !== undefined) {
    const parsed = parseHostPort(xds.value, ec.at(xds.from), 1);
    if (parsed !== undefined) out.xdsAddress = parsed;
  }
  for (const key of ['adminAddress', 'healthAddress'] as const) {
    const picked = pick(key);
    if (picked === undefined) continue;
    const parsed = parseHostPort(picked.value, ec.at(picked.from), 0);
    if (parsed !== undefined) out[key] = parsed;
  }
  const nodeId = pick('nodeId');
  if (nodeId !== undefined) out.nodeId = nodeId.value;
  const nodeCluster = pick('nodeCluster');
  if (nodeCluster !== undefined) out.nodeCluster = nodeCluster.value;
  for (const key of ['xdsCa', 'xdsServerName', 'xdsToken', 'xdsTokenAudience'] as const) {
    const picked = pick(key);
    if (picked !== undefined) out[key] = picked.value;
  }
  const delta = pick('xdsDelta');
  if (delta !== undefined) {
    const v = delta.value.toLowerCase();
    if (['1', 'true', 'yes', 'on'].includes(v)) out.xdsDelta = true;
    else if (['0', 'false', 'no', 'off'].includes(v)) out.xdsDelta = false;
    else ec.at(delta.from).add(`expected 1/true or 0/false, got "${delta.value}"`);
  }
  return out;
}

/** `HOST:PORT`, `[::1]:PORT`; the port must be in [minPort, 65535]. */
export function parseHostPort(text: string, ec: ErrorCollector, minPort = 1): HostPort | undefined {
  const match = /^(?:\[([^\]]+)\]|([^:[\]]+)):(\d+)$/.exec(text.trim());
  const port = match === null ? NaN : Number(match[3]);
  if (match === null || !(port >= minPort && port <= 65535)) {
    ec.add(`invalid address "${text}" (expected HOST:PORT with a port from ${minPort} to 65535)`);
    return undefined;
  }
  return { host: match[1] ?? match[2] ?? '', port };
}

// ---- top-level fields -----------------------------------------------------------------------------

/** Telemetry and tuning we accept and ignore (a warning each): they change no routing behaviour. */
const IGNORED_FIELDS: Readonly<Record<string, string>> = {
  stats_sinks: 'stats sinks',
  stats_config: 'stats config',
  stats_flush_interval: 'stats flush interval',
  stats_flush_on_admin: 'stats flush on admin',
  deferred_stat_options: 'deferred stats',
  stats_server_version_override: 'stats server version',
  layered_runtime: 'runtime layers',
  overload_manager: 'the overload manager',
  watchdog: 'watchdogs',
  watchdogs: 'watchdogs',
  tracing: 'the bootstrap tracing provider (meshlet exports traces with its own OpenTelemetry exporter)',
  enable_dispatcher_stats: 'dispatcher stats',
  flags_path: 'flags_path',
  fatal_actions: 'fatal actions',
  perf_tracing_file_path: 'perf tracing',
  application_log_config: 'application log format',
  memory_allocator_manager: 'memory allocator settings',
  grpc_async_client_manager_config: 'gRPC async client cache settings',
  default_regex_engine: 'regex engine choice',
  node_context_params: 'node context params',
  inline_headers: 'inline header registration',
  use_tcp_for_dns_lookups: 'DNS resolver options (meshlet uses the system resolver)',
  dns_resolution_config: 'DNS resolver options (meshlet uses the system resolver)',
  typed_dns_resolver_config: 'DNS resolver options (meshlet uses the system resolver)',
};

/** Features that change behaviour and that meshlet does not implement: an error each, never silently ignored. */
const UNSUPPORTED_FIELDS: Readonly<Record<string, string>> = {
  hds_config: 'the health discovery service (HDS)',
  header_prefix: 'a custom header prefix (x-envoy- is fixed)',
  bootstrap_extensions: 'bootstrap extensions',
  config_sources: 'xdstp config sources',
  default_config_source: 'xdstp default config source',
  default_socket_interface: 'custom socket interfaces',
  certificate_provider_instances: 'certificate provider instances',
  xds_delegate_extension: 'xDS delegate extensions',
  xds_config_tracker_extension: 'xDS config tracker extensions',
  listener_manager: 'custom listener managers',
  'cluster_manager.load_stats_config': 'the load reporting service (LRS)',
  'cluster_manager.upstream_bind_config': 'an upstream bind address',
  'static_resources.secrets': 'static SDS secrets',
  'dynamic_resources.lds_resources_locator': 'xdstp resource locators',
  'dynamic_resources.cds_resources_locator': 'xdstp resource locators',
  'admin.socket_options': 'admin socket options',
};

const IGNORED_NESTED: Readonly<Record<string, string>> = {
  'cluster_manager.outlier_detection': 'the outlier detection event log',
  'admin.access_log': 'the admin access log',
  'admin.access_log_path': 'the admin access log',
  'admin.profile_path': 'the CPU profiler',
};

/** True when a proto-loader field holds something other than its default. */
function isSet(value: unknown): boolean {
  if (value === null || value === undefined || value === '' || value === false || value === 0 || value === '0') return false;
  if (Array.isArray(value)) return value.length > 0;
  // An empty map decodes as {}; an unset message as null (a set one has its default fields).
  if (typeof value === 'object' && Object.keys(value).length === 0) return false;
  return true;
}

function fieldAt(message: unknown, dotted: string): unknown {
  let value: unknown = message;
  for (const part of dotted.split('.')) {
    if (value === null || typeof value !== 'object') return undefined;
    value = (value as Record<string, unknown>)[part];
  }
  return value;
}

function checkBootstrapFields(bootstrap: Bootstrap__Output, ec: ErrorCollector): void {
  for (const [field, what] of Object.entries(IGNORED_FIELDS)) {
    if (isSet(fieldAt(bootstrap, field))) ec.warn(`${what} is not implemented; ignored`, field);
  }
  for (const [field, what] of Object.entries(IGNORED_NESTED)) {
    if (isSet(fieldAt(bootstrap, field))) ec.warn(`${what} is not implemented; ignored`, field);
  }
  for (const [field, what] of Object.entries(UNSUPPORTED_FIELDS)) {
    if (isSet(fieldAt(bootstrap, field))) ec.add(`${what} is not supported`, field);
  }
  const schema = ProtoSchema.get();
  const checks: Array<[string, string, unknown]> = [
    ['node', 'envoy.config.core.v3.Node', bootstrap.node],
    ['admin', 'envoy.config.bootstrap.v3.Admin', bootstrap.admin],
    ['dynamic_resources', 'envoy.config.bootstrap.v3.Bootstrap.DynamicResources', bootstrap.dynamic_resources],
  ];
  for (const [field, typeName, message] of checks) {
    if (message !== null && message !== undefined) ec.addAll(protoValidate(schema.type(typeName), message), field);
  }
}

/**
 * `cluster_manager.local_cluster_name`: must name a static cluster, as Envoy's ClusterManagerImpl requires ("local
 * cluster '<name>' must be defined"); empty = no local cluster.
 */
function resolveLocalCluster(bootstrap: Bootstrap__Output | undefined, statics: StaticResources, ec: ErrorCollector): string | null {
  const name = bootstrap?.cluster_manager?.local_cluster_name ?? '';
  if (name === '') return null;
  if (!statics.clusters.some((c) => c.value.name === name)) ec.add(`local cluster '${name}' must be defined in static_resources.clusters`, 'cluster_manager.local_cluster_name');
  return name;
}

// ---- node and admin ------------------------------------------------------------------------------

function resolveNode(
  bootstrap: Bootstrap__Output | undefined,
  overrides: Overrides,
  version: string,
  env: Readonly<Record<string, string | undefined>>,
  ec: ErrorCollector,
): NodeConfig {
  const node = bootstrap?.node ?? null;
  const locality = node?.locality ?? null;
  if (node !== null && node.extensions.length > 0) ec.warn('node extensions are informational; ignored', 'node.extensions');
  const identity = podIdentity(env, ec, overrides.applied);
  return {
    id: overrides.nodeId ?? (node?.id !== undefined && node.id !== '' ? node.id : undefined) ?? identity.nodeId ?? '',
    cluster: overrides.nodeCluster ?? node?.cluster ?? '',
    metadata: { ...structToJson(node?.metadata), ...identity.metadata },
    locality: locality === null ? null : { region: locality.region, zone: locality.zone, subZone: locality.sub_zone },
    userAgentName: node !== null && node.user_agent_name !== '' ? node.user_agent_name : 'meshlet',
    userAgentVersion: node?.user_agent_version !== undefined && node.user_agent_version !== '' ? node.user_agent_version : version,
    clientFeatures: node?.client_features ?? [],
  };
}

/**
 * Node metadata from the pod identity env vars the injector sets (NODE_IDENTITY_ENV, MESHLET_NODE_LABELS,
 * MESHLET_NODE_METADATA), and the istiod node id when POD_NAME, POD_NAMESPACE and INSTANCE_IP are all set.
 * Env values win over the file's metadata; MESHLET_NODE_METADATA wins over the single variables.
 */
function podIdentity(
  env: Readonly<Record<string, string | undefined>>,
  ec: ErrorCollector,
  applied: Record<string, string>,
): { readonly nodeId?: string; readonly metadata: JsonObject } {
  const metadata: Record<string, JsonValue> = {};
  const get = (name: string): string | undefined => {
    const value = env[name];
    if (value === undefined || value === '') return undefined;
    applied[name] = value;
    return value;
  };
  for (const [name, key] of Object.entries(NODE_IDENTITY_ENV)) {
    const value = get(name);
    if (value !== undefined) metadata[key] = value;
  }
  const json = (name: string, key: string | null): void => {
    const value = get(name);
    if (value === undefined) return;
    let parsed: unknown;
    try {
      parsed = JSON.parse(value);
    } catch {
      parsed = undefined;
    }
    if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
      ec.add(`expected a JSON object, got ${JSON.stringify(value.slice(0, 80))}`, name);
      return;
    }
    if (key === null) Object.assign(metadata, parsed);
    else metadata[key] = parsed as JsonObject;
  };
  json('MESHLET_NODE_LABELS', 'LABELS');
  json('MESHLET_NODE_METADATA', null);
  const pod = env['POD_NAME'];
  const ns = env['POD_NAMESPACE'];
  const ip = env['INSTANCE_IP'];
  const derived = pod !== undefined && pod !== '' && ns !== undefined && ns !== '' && ip !== undefined && ip !== ''
    ? `sidecar~${ip}~${pod}.${ns}~${ns}.svc.cluster.local`
    : undefined;
  return { ...(derived === undefined ? {} : { nodeId: derived }), metadata };
}

function resolveAdmin(bootstrap: Bootstrap__Output | undefined, overrides: Overrides, ec: ErrorCollector): HostPort {
  if (overrides.adminAddress !== undefined) return overrides.adminAddress;
  const address = bootstrap?.admin?.address ?? null;
  if (address === null) return DEFAULT_ADMIN_ADDRESS;
  const socket = address.socket_address ?? null;
  if (socket === null) {
    ec.add('only a socket_address is supported for the admin server', 'admin.address');
    return DEFAULT_ADMIN_ADDRESS;
  }
  if (socket.port_specifier === 'named_port') {
    ec.add('named ports are not supported; use port_value', 'admin.address.socket_address.named_port');
  }
  return { host: socket.address, port: socket.port_value ?? 0 };
}

// ---- dynamic resources ------------------------------------------------------------------------------

interface AdsConfig {
  readonly apiType: XdsApiType;
  /** `envoy_grpc.cluster_name`: resolved to an address once the static clusters are known. */
  readonly clusterName?: string;
  /** `google_grpc.target_uri`. */
  readonly address?: HostPort;
  readonly dynamicListeners: boolean;
  readonly dynamicClusters: boolean;
  readonly ldsInitialFetchTimeoutMs: number;
  readonly cdsInitialFetchTimeoutMs: number;
}

function readAdsConfig(bootstrap: Bootstrap__Output, ec: ErrorCollector): AdsConfig | undefined {
  const dynamic = bootstrap.dynamic_resources;
  if (dynamic === null) return undefined;
  const source = dynamic.ads_config;
  let apiType: XdsApiType = 'SOTW';
  let clusterName: string | undefined;
  let address: HostPort | undefined;
  if (source !== null) {
    const adsEc = ec.at('ads_config');
    apiType = apiTypeOf(source, adsEc);
    if (source.transport_api_version === 'V2') adsEc.add('xDS v2 is not supported; use transport_api_version V3', 'transport_api_version');
    if (source.cluster_names.length > 0) adsEc.add('cluster_names is for REST config sources; use grpc_services', 'cluster_names');
    if (source.config_validators.length > 0) adsEc.add('config validators are not supported', 'config_validators');
    const service = source.grpc_services[0];
    if (service === undefined) {
      adsEc.add('ads_config needs one grpc_services entry (envoy_grpc.cluster_name or google_grpc.target_uri)', 'grpc_services');
    } else {
      if (source.grpc_services.length > 1) adsEc.warn('only the first gRPC service is used', 'grpc_services');
      const serviceEc = adsEc.at('grpc_services').at(0);
      const { envoy_grpc: envoy, google_grpc: google } = service;
      if (envoy !== null && envoy !== undefined) {
        clusterName = envoy.cluster_name;
        if (envoy.authority !== '') serviceEc.warn('the authority override is ignored', 'envoy_grpc.authority');
      } else if (google !== null && google !== undefined) {
        address = parseHostPort(google.target_uri.replace(/^(dns|ipv4|ipv6):(\/\/[^/]*\/)?/, ''), serviceEc.at('google_grpc').at('target_uri'), 1);
        if (google.channel_credentials !== null || google.call_credentials.length > 0) {
          serviceEc.add('credentials for the xDS server (TLS, tokens) are not supported', 'google_grpc.channel_credentials');
        }
      }
      if (service.initial_metadata.length > 0) serviceEc.add('initial metadata for the xDS server is not supported', 'initial_metadata');
    }
  }
  const lds = readConfigSource(dynamic.lds_config, clusterName, ec.at('lds_config'));
  const cds = readConfigSource(dynamic.cds_config, clusterName, ec.at('cds_config'));
  if (source === null && (lds !== undefined || cds !== undefined)) {
    ec.add('lds_config/cds_config use ADS, which needs ads_config with the xDS server (or --xds)', 'ads_config');
  }
  return {
    apiType,
    ...(clusterName === undefined ? {} : { clusterName }),
    ...(address === undefined ? {} : { address }),
    dynamicListeners: lds !== undefined,
    dynamicClusters: cds !== undefined,
    ldsInitialFetchTimeoutMs: lds ?? DEFAULT_INITIAL_FETCH_TIMEOUT_MS,
    cdsInitialFetchTimeoutMs: cds ?? DEFAULT_INITIAL_FETCH_TIMEOUT_MS,
  };
}

function apiTypeOf(source: ApiConfigSource__Output, ec: ErrorCollector): XdsApiType {
  switch (source.api_type) {
    case 'GRPC':
    case 'AGGREGATED_GRPC':
      return 'SOTW';
    case 'DELTA_GRPC':
    case 'AGGREGATED_DELTA_GRPC':
      return 'DELTA';
    default:
      ec.add(`api_type ${source.api_type} is not supported; use GRPC or DELTA_GRPC`, 'api_type');
      return 'SOTW';
  }
}

/** An LDS/CDS config source: only the ADS stream; its initial fetch timeout in ms, or undefined when unset or invalid (reported). */
function readConfigSource(source: ConfigSource__Output | null, adsCluster: string | undefined, ec: ErrorCollector): number | undefined {
  if (source === null) return undefined;
  if (source.resource_api_version === 'V2') ec.add('xDS v2 is not supported; use resource_api_version V3', 'resource_api_version');
  if (source.authorities.length > 0) ec.add('xdstp authorities are not supported', 'authorities');
  const schema = ProtoSchema.get();
  const decoded = decodeConfigSource({ schema, adsClusterNames: new Set(adsCluster === undefined ? [] : [adsCluster]) }, source, ec);
  return decoded?.initialFetchTimeoutMs;
}

function resolveXds(
  bootstrap: Bootstrap__Output | undefined,
  ads: AdsConfig | undefined,
  overrides: Overrides,
  statics: StaticResources,
  ec: ErrorCollector,
): XdsServerConfig | null {
  let address = overrides.xdsAddress ?? ads?.address;
  if (address === undefined && ads?.clusterName !== undefined) {
    address = xdsClusterAddress(bootstrap?.static_resources?.clusters ?? [], ads.clusterName, ec);
  }
  if (address === undefined) return null;
  const adsCluster = statics.clusters.find((c) => c.value.name === ads?.clusterName)?.value;
  const tls = resolveXdsTls(adsCluster?.transportSocket ?? null, overrides, ec);
  let token: XdsTokenConfig | undefined;
  if (overrides.xdsToken !== undefined) {
    if (tls === undefined) ec.add('a bearer token needs TLS to the xDS server (--xds-ca), or it would travel in clear text', '--xds-token');
    token = { file: overrides.xdsToken, ...(overrides.xdsTokenAudience === undefined ? {} : { audience: overrides.xdsTokenAudience }) };
  } else if (overrides.xdsTokenAudience !== undefined) {
    ec.add('--xds-token-audience needs --xds-token', '--xds-token-audience');
  }
  const fromFile = ads !== undefined && (ads.dynamicListeners || ads.dynamicClusters) ? ads : undefined;
  return {
    address,
    apiType: overrides.xdsDelta === true ? 'DELTA' : overrides.xdsDelta === false ? 'SOTW' : ads?.apiType ?? 'SOTW',
    clusterNames: ads?.clusterName === undefined ? [] : [ads.clusterName],
    // With --xds and no dynamic_resources in the file, subscribe to both (the flags-only setup).
    dynamicListeners: fromFile?.dynamicListeners ?? true,
    dynamicClusters: fromFile?.dynamicClusters ?? true,
    ldsInitialFetchTimeoutMs: ads?.ldsInitialFetchTimeoutMs ?? DEFAULT_INITIAL_FETCH_TIMEOUT_MS,
    cdsInitialFetchTimeoutMs: ads?.cdsInitialFetchTimeoutMs ?? DEFAULT_INITIAL_FETCH_TIMEOUT_MS,
    ...(tls === undefined ? {} : { tls }),
    ...(token === undefined ? {} : { token }),
  };
}

/** TLS from `--xds-ca` / `--xds-server-name`, else from the xDS cluster's UpstreamTlsContext (file or inline CA). */
function resolveXdsTls(socket: UpstreamTransportSocketConfig | null, overrides: Overrides, ec: ErrorCollector): XdsTlsConfig | undefined {
  if (overrides.xdsCa !== undefined) {
    return { ca: { kind: 'filename', path: overrides.xdsCa }, ...(overrides.xdsServerName === undefined ? {} : { serverName: overrides.xdsServerName }) };
  }
  if (socket === null || socket.kind !== 'tls') {
    if (overrides.xdsServerName !== undefined) ec.add('--xds-server-name needs TLS (--xds-ca)', '--xds-server-name');
    return undefined;
  }
  const where = 'static_resources.clusters(xDS server).transport_socket';
  const ca = socket.common.validation?.trustedCa ?? null;
  if (ca === null) {
    ec.add('TLS to the xDS server needs validation_context.trusted_ca (the mesh root CA); meshlet never connects unverified', where);
    return undefined;
  }
  const cert = socket.common.certificates[0];
  if (cert !== undefined && cert.kind !== 'files') ec.add('SDS client certificates are not supported for the xDS server', where);
  const serverName = overrides.xdsServerName ?? (socket.sni === '' ? undefined : socket.sni);
  return {
    ca,
    ...(serverName === undefined ? {} : { serverName }),
    ...(cert !== undefined && cert.kind === 'files' ? { clientCertificate: { certificateChain: cert.certificateChain, privateKey: cert.privateKey } } : {}),
  };
}

/** The single endpoint of the static cluster that ads_config names. */
function xdsClusterAddress(clusters: readonly Cluster__Output[], name: string, ec: ErrorCollector): HostPort | undefined {
  const index = clusters.findIndex((c) => c.name === name);
  const cluster = clusters[index];
  if (cluster === undefined) {
    ec.add(`the xDS server cluster "${name}" is not a static cluster`, 'dynamic_resources.ads_config.grpc_services[0].envoy_grpc.cluster_name');
    return undefined;
  }
  const clusterEc = ec.at('static_resources').at('clusters').at(index);
  const endpoints = (cluster.load_assignment?.endpoints ?? []).flatMap((locality) => locality.lb_endpoints);
  const socket = endpoints[0]?.endpoint?.address?.socket_address ?? null;
  if (socket === null) {
    clusterEc.add('the xDS server cluster needs a load_assignment with one socket_address endpoint', 'load_assignment');
    return undefined;
  }
  if (endpoints.length > 1) clusterEc.warn('the xDS server cluster has several endpoints; meshlet connects to the first', 'load_assignment');
  return { host: socket.address, port: socket.port_value ?? 0 };
}

// ---- static resources ----------------------------------------------------------------------------------

function decodeStaticResources(
  bootstrap: Bootstrap__Output,
  ctx: Omit<DecodeContext, 'onIgnored'>,
  decoders: BootstrapDecoders,
  ec: ErrorCollector,
): StaticResources {
  const statics = bootstrap.static_resources;
  return {
    listeners: decodeAll(statics?.listeners ?? [], decoders.listener, ctx, ec.at('static_resources').at('listeners'), 'listener'),
    clusters: decodeAll(statics?.clusters ?? [], decoders.cluster, ctx, ec.at('static_resources').at('clusters'), 'cluster'),
  };
}

/** Decoded static resources, each with its index in the file (for error paths). */
interface StaticResources {
  readonly listeners: ReadonlyArray<Indexed<ListenerConfig>>;
  readonly clusters: ReadonlyArray<Indexed<ClusterConfig>>;
}

interface Indexed<T> {
  readonly index: number;
  readonly value: T;
}

function decodeAll<T>(
  messages: readonly { name: string }[],
  type: XdsResourceType<T>,
  baseCtx: Omit<DecodeContext, 'onIgnored'>,
  ec: ErrorCollector,
  kind: string,
): Array<Indexed<T>> {
  const out: Array<Indexed<T>> = [];
  const seen = new Map<string, number>();
  messages.forEach((message, i) => {
    const itemEc = ec.at(i);
    // Envoy names unnamed static listeners itself; the decoders require a name.
    const named = message.name === '' ? { ...message, name: `${kind}_${i}` } : message;
    if (message.name !== '') {
      const first = seen.get(message.name);
      if (first !== undefined) itemEc.add(`duplicate ${kind} name "${message.name}" (also ${kind}s[${first}])`, 'name');
      else seen.set(message.name, i);
    }
    // Already reported by the JSON conversion (the message is missing those fields): decoding would only add noise.
    if (hasErrorsUnder(ec.errors, itemEc.path)) return;
    const ctx: DecodeContext = {
      ...baseCtx,
      onIgnored: (typeUrl, where) => itemEc.warn(`${typeUrl} is not implemented; ignored`, where),
    };
    let decoded;
    try {
      decoded = type.decode(ctx, named);
    } catch (error) {
      itemEc.add(`internal error while decoding the ${kind}: ${(error as Error).message}`);
      return;
    }
    if (decoded.result.ok) {
      out.push({ index: i, value: decoded.result.value });
      for (const w of decoded.result.warnings ?? []) itemEc.warn(w.message, w.path === '' ? undefined : w.path);
    } else {
      itemEc.addAll(decoded.result.errors);
    }
  });
  return out;
}

/** Without an xDS server, RDS routes and EDS endpoints can never arrive: say so instead of waiting forever. */
function checkStaticClosure(statics: StaticResources, decoders: BootstrapDecoders, ec: ErrorCollector): void {
  const report = <T>(items: ReadonlyArray<Indexed<T>>, type: XdsResourceType<T>, field: string): void => {
    for (const { index, value } of items) {
      for (const dep of type.dependencies(value)) {
        if (dep.names.length === 0) continue;
        ec.add(`needs ${dep.typeUrl.split('.').pop() ?? dep.typeUrl} ${dep.names.map((n) => `"${n}"`).join(', ')} from an xDS server, but none is configured (dynamic_resources.ads_config or --xds)`, joinPath(joinPath('static_resources', field), index));
      }
    }
  };
  report(statics.listeners, decoders.listener, 'listeners');
  report(statics.clusters, decoders.cluster, 'clusters');
}

/** True when some error is located at `path` or inside it. */
export function hasErrorsUnder(errors: readonly FieldError[], path: string): boolean {
  return errors.some((e) => e.path === path || e.path.startsWith(`${path}.`) || e.path.startsWith(`${path}[`));
}

function firstLine(text: string): string {
  return text.split('\n')[0] ?? text;
}
