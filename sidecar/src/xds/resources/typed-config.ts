// Unpacks a typed_config Any: TypedStruct unwrapped to its inner type URL, vendored protos decoded and PGV-checked as Envoy does.

import type { ErrorCollector } from '../../core/validation';
import type { JsonObject } from '../../config/endpoint-config';
import { TYPE_URL_PREFIX, typeNameOf, type AnyMessage } from '../type-url';
import { protoValidate } from '../proto-validate';
import type { DecodeContext } from './resource-type';
import { structToJson } from './struct-json';
import type { TypedStruct__Output } from '../../../../xds-protos/generated/udpa/type/v1/TypedStruct';

export const UDPA_TYPED_STRUCT_TYPE_URL = 'type.googleapis.com/udpa.type.v1.TypedStruct';
export const XDS_TYPED_STRUCT_TYPE_URL = 'type.googleapis.com/xds.type.v3.TypedStruct';

/** What a typed_config holds, by its effective type URL (the inner one for a TypedStruct). */
export type UnpackedConfig =
  /** A vendored proto, decoded (proto-loader shape) and PGV-validated (violations already reported). */
  | { readonly kind: 'proto'; readonly typeUrl: string; readonly message: Record<string, unknown> }
  /** A TypedStruct: the inner type URL and its `value` as plain JSON. */
  | { readonly kind: 'struct'; readonly typeUrl: string; readonly value: JsonObject }
  /** A type we have no proto for; not decoded. */
  | { readonly kind: 'opaque'; readonly typeUrl: string };

/** Normalises `foo.Bar` or `example.com/foo.Bar` to `type.googleapis.com/foo.Bar` for comparisons. */
export function canonicalTypeUrl(typeUrl: string): string {
  return TYPE_URL_PREFIX + typeNameOf(typeUrl);
}

/**
 * Unpacks `any` into its effective config. Errors (undecodable bytes, PGV violations of the unpacked message) go to
 * `errors`, located at the Any field; returns null only when nothing usable could be decoded. Never throws.
 */
export function unpackTypedConfig(ctx: DecodeContext, any: AnyMessage, errors: ErrorCollector): UnpackedConfig | null {
  const typeUrl = canonicalTypeUrl(any.type_url);
  if (typeUrl === UDPA_TYPED_STRUCT_TYPE_URL || typeUrl === XDS_TYPED_STRUCT_TYPE_URL) {
    const ts = decodeAny<TypedStruct__Output>(ctx, any, typeUrl, errors);
    if (ts === null) return null;
    if (ts.type_url === '') {
      errors.add('TypedStruct has an empty type_url', 'type_url');
      return null;
    }
    return { kind: 'struct', typeUrl: canonicalTypeUrl(ts.type_url), value: structToJson(ts.value) };
  }
  const message = decodeAny<Record<string, unknown>>(ctx, any, typeUrl, errors);
  if (message === null) return ctx.schema.anyType(any) === undefined ? { kind: 'opaque', typeUrl } : null;
  return { kind: 'proto', typeUrl, message };
}

/**
 * Decodes an Any whose type must be `expectedTypeName` and PGV-validates it; reports a type mismatch or bad bytes.
 * For fields such as `typed_extension_protocol_options` whose content type is fixed.
 */
export function unpackExpected<T>(ctx: DecodeContext, any: AnyMessage, expectedTypeName: string, errors: ErrorCollector): T | null {
  const typeUrl = canonicalTypeUrl(any.type_url);
  if (typeNameOf(typeUrl) !== expectedTypeName) {
    errors.add(`expected a ${expectedTypeName}, got ${any.type_url}`, 'type_url');
    return null;
  }
  return decodeAny<T>(ctx, any, typeUrl, errors);
}

function decodeAny<T>(ctx: DecodeContext, any: AnyMessage, typeUrl: string, errors: ErrorCollector): T | null {
  const type = ctx.schema.findType(typeNameOf(typeUrl));
  if (type === undefined) return null;
  let message: T;
  try {
    message = ctx.schema.unpackAny<T>({ type_url: typeUrl, value: any.value }) as T;
  } catch (err) {
    errors.add(`cannot decode ${typeUrl}: ${(err as Error).message}`);
    return null;
  }
  errors.addAll(protoValidate(type, message));
  return message;
}
