// google.protobuf.Struct / Value (proto-loader camelCase fields: stringValue, structValue...) and Metadata -> plain JSON.

import type { JsonObject, JsonValue, MetadataConfig } from '../../config/endpoint-config';
import type { Struct__Output } from '../../../../xds-protos/generated/google/protobuf/Struct';
import type { Value__Output } from '../../../../xds-protos/generated/google/protobuf/Value';

/** Converts a Struct to a plain JSON object (null/absent -> {}). */
export function structToJson(struct: Struct__Output | null | undefined): JsonObject {
  const out: Record<string, JsonValue> = {};
  if (struct === null || struct === undefined) return out;
  for (const [key, value] of Object.entries(struct.fields ?? {})) out[key] = valueToJson(value);
  return out;
}

/** Converts one google.protobuf.Value. */
export function valueToJson(value: Value__Output | null | undefined): JsonValue {
  if (value === null || value === undefined) return null;
  switch (value.kind) {
    case 'stringValue':
      return value.stringValue ?? '';
    case 'numberValue':
      return value.numberValue ?? 0;
    case 'boolValue':
      return value.boolValue ?? false;
    case 'structValue':
      return structToJson(value.structValue);
    case 'listValue':
      return (value.listValue?.values ?? []).map(valueToJson);
    default:
      return null;
  }
}

/** `core.v3.Metadata.filter_metadata` as plain JSON (typed_filter_metadata is not kept). */
export function metadataToJson(metadata: { readonly filter_metadata: { readonly [key: string]: Struct__Output } } | null | undefined): MetadataConfig {
  const out: Record<string, JsonObject> = {};
  if (metadata === null || metadata === undefined) return out;
  for (const [key, struct] of Object.entries(metadata.filter_metadata ?? {})) out[key] = structToJson(struct);
  return out;
}
