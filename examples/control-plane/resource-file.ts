// Resource files for the control plane: Envoy's filesystem DiscoveryResponse format (YAML or JSON) -> resources per type URL.

import * as YAML from 'yaml';
import { ErrorCollector, type Validation } from '../../sidecar/src/core/validation';
import { messageFromJson } from '../../sidecar/src/xds/proto-json';
import { typeNameOf, type ProtoSchema } from '../../sidecar/src/xds/proto-schema';
import {
  CLUSTER_LOAD_ASSIGNMENT_TYPE_URL,
  CLUSTER_TYPE_URL,
  LISTENER_TYPE_URL,
  ROUTE_CONFIGURATION_TYPE_URL,
} from '../../sidecar/src/xds/resources/resource-type';
import type { ResourceInput } from './control-plane-server';

/** The types a resource file may hold, and the field that names each. */
const NAME_FIELD: ReadonlyMap<string, 'name' | 'cluster_name'> = new Map([
  [LISTENER_TYPE_URL, 'name'],
  [ROUTE_CONFIGURATION_TYPE_URL, 'name'],
  [CLUSTER_TYPE_URL, 'name'],
  [CLUSTER_LOAD_ASSIGNMENT_TYPE_URL, 'cluster_name'],
]);

/**
 * Parses a resources file:
 *
 * ```yaml
 * version_info: "optional, ignored"
 * resources:
 * - "@type": type.googleapis.com/envoy.config.cluster.v3.Cluster
 *   name: service_a
 *   ...
 * ```
 *
 * Listeners, RouteConfigurations, Clusters and ClusterLoadAssignments may be mixed in one list; fields follow the
 * proto3 JSON mapping with Envoy's lenient forms (`messageFromJson`). Returns the resources per type URL in file
 * order (every one of the four types present, possibly empty), or every error with its path
 * (`resources[2].connect_timeout: ...`). Never throws.
 */
export function parseResourceFile(schema: ProtoSchema, text: string): Validation<Map<string, ResourceInput[]>> {
  const ec = ErrorCollector.root();
  const document = YAML.parseDocument(text, { prettyErrors: false });
  if (document.errors.length > 0) {
    for (const error of document.errors) ec.add(`syntax: ${error.message}`);
    return ec.result(new Map());
  }
  const root: unknown = document.toJS();
  const byType = new Map<string, ResourceInput[]>([...NAME_FIELD.keys()].map((typeUrl) => [typeUrl, []]));
  if (typeof root !== 'object' || root === null || Array.isArray(root)) {
    ec.add('expected an object with a "resources" list');
    return ec.result(byType);
  }
  for (const key of Object.keys(root)) {
    if (key !== 'resources' && key !== 'version_info' && key !== 'versionInfo') ec.add(`unknown field "${key}"`, key);
  }
  const list: unknown = (root as Record<string, unknown>)['resources'];
  if (list === undefined || list === null) return ec.result(byType);
  const entries = Array.isArray(list) ? list : [list];
  const seen = new Set<string>();
  entries.forEach((entry: unknown, index) => {
    const at = ec.at('resources').at(index);
    if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) {
      at.add('expected an object with "@type"');
      return;
    }
    const { '@type': typeUrl, ...fields } = entry as Record<string, unknown>;
    const nameField = typeof typeUrl === 'string' ? NAME_FIELD.get(typeUrl) : undefined;
    if (typeof typeUrl !== 'string' || nameField === undefined) {
      at.add(`"@type" must be one of ${[...NAME_FIELD.keys()].join(', ')}; got ${JSON.stringify(typeUrl) ?? 'nothing'}`, '@type');
      return;
    }
    const message = messageFromJson<Record<string, unknown>>(schema, typeNameOf(typeUrl), fields);
    if (!message.ok) {
      at.addAll(message.errors);
      return;
    }
    const name = message.value[nameField];
    if (typeof name !== 'string' || name === '') {
      at.add('is required', nameField);
      return;
    }
    if (seen.has(`${typeUrl} ${name}`)) {
      at.add(`duplicate ${typeNameOf(typeUrl)} "${name}"`, nameField);
      return;
    }
    seen.add(`${typeUrl} ${name}`);
    byType.get(typeUrl)?.push({ name, message: message.value });
  });
  return ec.result(byType);
}
