// Builds the envoy.config.core.v3.Node message the ADS client sends from the bootstrap's NodeConfig.

import type { JsonValue } from '../config/endpoint-config';
import type { NodeConfig } from '../config/bootstrap-config';
import type { Node } from '../../../xds-protos/generated/envoy/config/core/v3/Node';
import type { Struct } from '../../../xds-protos/generated/google/protobuf/Struct';
import type { Value } from '../../../xds-protos/generated/google/protobuf/Value';

/**
 * The Node for the first request of every stream. Metadata becomes a google.protobuf.Struct; note the
 * proto-loader shape of Value uses camelCase fields (`stringValue`), snake_case would be dropped silently
 * (specs/xds.md §2.3).
 */
export function nodeMessage(node: NodeConfig): Node {
  return {
    id: node.id,
    cluster: node.cluster,
    metadata: jsonToStruct(node.metadata),
    ...(node.locality !== null
      ? { locality: { region: node.locality.region, zone: node.locality.zone, sub_zone: node.locality.subZone } }
      : {}),
    user_agent_name: node.userAgentName,
    user_agent_version: node.userAgentVersion,
    client_features: [...node.clientFeatures],
  };
}

function jsonToStruct(object: { readonly [key: string]: JsonValue }): Struct {
  const fields: Record<string, Value> = {};
  for (const [key, value] of Object.entries(object)) fields[key] = jsonToValue(value);
  return { fields };
}

function jsonToValue(value: JsonValue): Value {
  if (value === null) return { nullValue: 'NULL_VALUE' };
  if (typeof value === 'boolean') return { boolValue: value };
  if (typeof value === 'number') return { numberValue: value };
  if (typeof value === 'string') return { stringValue: value };
  if (Array.isArray(value)) return { listValue: { values: value.map(jsonToValue) } };
  return { structValue: jsonToStruct(value as { readonly [key: string]: JsonValue }) };
}
