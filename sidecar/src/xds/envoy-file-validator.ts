// `meshlet validate FILE`: checks any Envoy config file (bootstrap, xDS resource file, admin config dump) without starting anything.

import * as path from 'node:path';
import { ErrorCollector, type Validation } from '../core/validation';
import type { BootstrapConfig } from '../config/bootstrap-config';
import type { JsonValue } from '../config/endpoint-config';
import type { Bootstrap__Output } from '../../../xds-protos/generated/envoy/config/bootstrap/v3/Bootstrap';
import { bootstrapFromJson, bootstrapFromMessage, hasErrorsUnder, readConfigFile, type BootstrapLoadOptions } from './bootstrap-loader';
import { messageFromJson, messageFromJsonPartial } from './proto-json';
import { ProtoSchema, typeNameOf, type AnyMessage } from './proto-schema';
import { clusterLoadAssignmentResource } from './resources/cluster-load-assignment-resource';
import { clusterResource } from './resources/cluster-resource';
import { listenerResource } from './resources/listener-resource';
import type { DecodeContext, XdsResourceType } from './resources/resource-type';
import { routeConfigurationResource } from './resources/route-configuration-resource';

/** What kind of Envoy file it was, detected by shape. */
export type EnvoyFileKind = 'bootstrap' | 'resources' | 'config-dump';

export interface EnvoyFileReport {
  readonly kind: EnvoyFileKind;
  /** One line for the CLI: `ok: 2 listeners, 3 clusters, xDS server ...`. */
  readonly summary: string;
}

export interface EnvoyFileOptions extends BootstrapLoadOptions {
  /** Decoders for resource files and config dumps; default the four xDS resource decoders. */
  readonly resourceTypes?: ReadonlyArray<XdsResourceType<unknown>>;
}

const DISCOVERY_RESPONSE = 'envoy.service.discovery.v3.DiscoveryResponse';
const CONFIG_DUMP = 'envoy.admin.v3.ConfigDump';
const BOOTSTRAP_CONFIG_DUMP = 'envoy.admin.v3.BootstrapConfigDump';

/** Config-dump excerpt entries (a JSON list of `dynamic_active_clusters` items, say): key -> admin message type. */
const DUMP_ENTRY_TYPES: ReadonlyArray<readonly [string, string]> = [
  ['cluster', 'envoy.admin.v3.ClustersConfigDump.DynamicCluster'],
  ['active_state', 'envoy.admin.v3.ListenersConfigDump.DynamicListener'],
  ['warming_state', 'envoy.admin.v3.ListenersConfigDump.DynamicListener'],
  ['draining_state', 'envoy.admin.v3.ListenersConfigDump.DynamicListener'],
  ['listener', 'envoy.admin.v3.ListenersConfigDump.StaticListener'],
  ['route_config', 'envoy.admin.v3.RoutesConfigDump.DynamicRouteConfig'],
  ['endpoint_config', 'envoy.admin.v3.EndpointsConfigDump.DynamicEndpointConfig'],
];

/**
 * Validates one Envoy file, detecting its kind by shape: `{resources: [...]}` is an xDS resource file (Envoy's
 * filesystem DiscoveryResponse format), `{configs: [...]}` or a list of `{cluster: ...}`-style entries is an admin
 * config dump, any other object is a bootstrap. Runs exactly the checks `meshlet run` would (bootstrap) or the ADS
 * client would (resources) and returns every error with its field path. Never throws; starts nothing.
 */
export function validateEnvoyFile(file: string, options: EnvoyFileOptions = {}): Validation<EnvoyFileReport> {
  const parsed = readConfigFile(file);
  if (!parsed.ok) return parsed;
  return validateEnvoyJson(parsed.value, path.resolve(file), options);
}

/** `validateEnvoyFile` on already-parsed JSON. */
export function validateEnvoyJson(json: JsonValue, file: string | null, options: EnvoyFileOptions = {}): Validation<EnvoyFileReport> {
  if (Array.isArray(json)) return validateDumpEntries(json, options);
  if (json === null || typeof json !== 'object') {
    return { ok: false, errors: [{ path: '', message: `not an Envoy config: expected an object or a list, got ${JSON.stringify(json)}` }] };
  }
  if ('resources' in json) return validateResourceFile(json, options);
  if ('configs' in json) return validateConfigDump(json, options);
  const result = bootstrapFromJson(json, file, {}, options);
  if (!result.ok) return result;
  return { ok: true, value: { kind: 'bootstrap', summary: describeBootstrap(result.value) }, warnings: result.value.warnings };
}

function describeBootstrap(bootstrap: BootstrapConfig): string {
  const { listeners, clusters } = bootstrap.staticResources;
  const xds = bootstrap.xds;
  const server = xds === null
    ? 'no xDS server (static config only)'
    : `xDS server ${xds.address.host}:${xds.address.port} (${xds.apiType === 'DELTA' ? 'delta' : 'state of the world'}${[
      xds.dynamicListeners ? ', LDS' : '',
      xds.dynamicClusters ? ', CDS' : '',
    ].join('')})`;
  return `ok: ${plural(listeners.length, 'listener')}, ${plural(clusters.length, 'cluster')}, ${server}`;
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

// ---- resource files and config dumps ------------------------------------------------------------------

/** Walks decoded messages, decoding every xDS resource Any it meets and counting them. */
class ResourceChecker {
  readonly counts = new Map<string, number>();
  private readonly byTypeUrl: ReadonlyMap<string, XdsResourceType<unknown>>;

  constructor(
    private readonly schema: ProtoSchema,
    private readonly options: EnvoyFileOptions,
    readonly ec: ErrorCollector,
  ) {
    const types = options.resourceTypes ?? defaultResourceTypes();
    this.byTypeUrl = new Map(types.map((t) => [t.typeUrl, t]));
  }

  /** Decodes one resource Any with its decoder; unknown and v2 types are errors naming the type. */
  resource(any: AnyMessage, ec: ErrorCollector): void {
    const type = this.byTypeUrl.get(any.type_url);
    if (type === undefined) {
      ec.add(unsupportedTypeMessage(any.type_url));
      return;
    }
    let message: unknown;
    try {
      message = this.schema.unpackAny(any);
    } catch (error) {
      ec.add(`cannot decode ${typeNameOf(any.type_url)}: ${(error as Error).message}`);
      return;
    }
    const ctx: DecodeContext = {
      schema: this.schema,
      adsClusterNames: new Set(),
      onIgnored: (typeUrl, where) => ec.warn(`${typeUrl} is not implemented; ignored`, where === '' ? undefined : where),
    };
    let decoded;
    try {
      decoded = type.decode(ctx, message);
    } catch (error) {
      ec.add(`internal error while decoding ${typeNameOf(any.type_url)}: ${(error as Error).message}`);
      return;
    }
    if (decoded.result.ok) {
      for (const w of decoded.result.warnings ?? []) ec.warn(w.message, w.path === '' ? undefined : w.path);
      const name = typeNameOf(type.protoName).split('.').pop() ?? type.protoName;
      this.counts.set(name, (this.counts.get(name) ?? 0) + 1);
    } else {
      ec.addAll(decoded.result.errors);
    }
  }

  /** Any value inside a config dump: resources are decoded, dump sections unpacked and walked, bootstraps checked. */
  walk(value: unknown, ec: ErrorCollector): void {
    if (value === null || typeof value !== 'object' || Buffer.isBuffer(value) || value instanceof Uint8Array) return;
    if (Array.isArray(value)) {
      value.forEach((item, i) => this.walk(item, ec.at(i)));
      return;
    }
    const record = value as Record<string, unknown>;
    if (typeof record['type_url'] === 'string' && record['value'] instanceof Uint8Array) {
      this.any(record as unknown as AnyMessage, ec);
      return;
    }
    for (const [key, child] of Object.entries(record)) this.walk(child, ec.at(key));
  }

  private any(any: AnyMessage, ec: ErrorCollector): void {
    if (any.type_url === '') return;
    if (this.byTypeUrl.has(any.type_url)) {
      this.resource(any, ec);
      return;
    }
    const typeName = typeNameOf(any.type_url);
    if (this.schema.findType(typeName) === undefined) {
      if (typeName.startsWith('envoy.api.v2.')) ec.add(unsupportedTypeMessage(any.type_url));
      else ec.warn(`${typeName} is not checked`);
      return;
    }
    const unpacked = this.schema.unpackAny<Record<string, unknown>>(any);
    if (typeName === BOOTSTRAP_CONFIG_DUMP) {
      const bootstrap = unpacked?.['bootstrap'] as Bootstrap__Output | null | undefined;
      if (bootstrap !== null && bootstrap !== undefined) {
        const result = bootstrapFromMessage(bootstrap, {}, this.options);
        if (result.ok) {
          for (const w of result.value.warnings) ec.warn(w.message, w.path === '' ? 'bootstrap' : `bootstrap.${w.path}`);
          this.counts.set('Bootstrap', (this.counts.get('Bootstrap') ?? 0) + 1);
        } else {
          ec.addAll(result.errors, 'bootstrap');
        }
      }
      return;
    }
    this.walk(unpacked, ec);
  }

  summary(kind: string): string {
    const parts = [...this.counts].map(([name, n]) => `${n} ${name}`);
    return `ok: ${kind} with ${parts.length === 0 ? 'no resources' : parts.join(', ')}`;
  }
}

function unsupportedTypeMessage(typeUrl: string): string {
  const typeName = typeNameOf(typeUrl);
  if (typeName.startsWith('envoy.api.v2.')) return `${typeName} is an xDS v2 type, which is not supported (Envoy removed v2); use the v3 type`;
  return `resource type ${typeName || '(none)'} is not supported (meshlet reads Listener, RouteConfiguration, Cluster and ClusterLoadAssignment)`;
}

function validateResourceFile(json: object, options: EnvoyFileOptions): Validation<EnvoyFileReport> {
  const schema = options.schema ?? ProtoSchema.get();
  const checker = new ResourceChecker(schema, options, ErrorCollector.root());
  const converted = messageFromJsonPartial<{ resources: AnyMessage[] }>(schema, DISCOVERY_RESPONSE, json);
  checker.ec.addAll(converted.errors);
  converted.value?.resources.forEach((any, i) => {
    const itemEc = checker.ec.at('resources').at(i);
    if (!hasErrorsUnder(converted.errors, itemEc.path)) checker.resource(any, itemEc);
  });
  return checker.ec.result<EnvoyFileReport>({ kind: 'resources', summary: checker.summary('resource file') });
}

function validateConfigDump(json: object, options: EnvoyFileOptions): Validation<EnvoyFileReport> {
  const schema = options.schema ?? ProtoSchema.get();
  const checker = new ResourceChecker(schema, options, ErrorCollector.root());
  const converted = messageFromJson<{ configs: AnyMessage[] }>(schema, CONFIG_DUMP, json);
  if (!converted.ok) return converted;
  checker.walk(converted.value, checker.ec);
  return checker.ec.result<EnvoyFileReport>({ kind: 'config-dump', summary: checker.summary('config dump') });
}

/** A JSON list of config-dump entries (`[{"version_info": ..., "cluster": {...}}]`, as Envoy's docs excerpt them). */
function validateDumpEntries(entries: readonly JsonValue[], options: EnvoyFileOptions): Validation<EnvoyFileReport> {
  const schema = options.schema ?? ProtoSchema.get();
  const checker = new ResourceChecker(schema, options, ErrorCollector.root());
  entries.forEach((entry, i) => {
    const entryEc = checker.ec.at(i);
    const keys = entry !== null && typeof entry === 'object' && !Array.isArray(entry) ? Object.keys(entry) : [];
    const typeName = DUMP_ENTRY_TYPES.find(([key]) => keys.includes(key))?.[1];
    if (typeName === undefined) {
      entryEc.add('not a config dump entry: expected an object with cluster, listener, route_config or endpoint_config');
      return;
    }
    const converted = messageFromJson(schema, typeName, entry);
    if (converted.ok) checker.walk(converted.value, entryEc);
    else entryEc.addAll(converted.errors);
  });
  return checker.ec.result<EnvoyFileReport>({ kind: 'config-dump', summary: checker.summary('config dump excerpt') });
}

function defaultResourceTypes(): ReadonlyArray<XdsResourceType<unknown>> {
  return [listenerResource, routeConfigurationResource, clusterResource, clusterLoadAssignmentResource] as ReadonlyArray<XdsResourceType<unknown>>;
}
