// Test helpers: the ADS path (encode -> decode bytes -> resource decoder) and a recording DecodeContext.

import * as assert from 'node:assert/strict';
import { formatErrors, type Validation } from '../../../../sidecar/src/core/validation';
import { ProtoSchema } from '../../../../sidecar/src/xds/proto-schema';
import type { DecodeContext, DecodedResource, XdsResourceType } from '../../../../sidecar/src/xds/resources/resource-type';

export const schema = ProtoSchema.get();

export interface RecordingContext extends DecodeContext {
  readonly ignored: Array<{ typeUrl: string; where: string }>;
}

export function context(adsClusterNames: readonly string[] = ['xds-grpc']): RecordingContext {
  const ignored: Array<{ typeUrl: string; where: string }> = [];
  return { schema, adsClusterNames: new Set(adsClusterNames), onIgnored: (typeUrl, where) => ignored.push({ typeUrl, where }), ignored };
}

/** Encodes `object` as the resource proto, decodes the bytes (as an ADS response would be), then runs the decoder. */
export function decodeVia<T>(type: XdsResourceType<T>, object: object, ctx: DecodeContext = context()): DecodedResource<T> {
  const message = schema.decode<unknown>(type.protoName, schema.encode(type.protoName, object));
  return type.decode(ctx, message);
}

export function expectValid<T>(result: Validation<T>): T {
  if (!result.ok) assert.fail(`expected valid, got:\n${formatErrors(result.errors)}`);
  return result.value;
}

export function expectErrors<T>(result: Validation<T>): readonly { path: string; message: string }[] {
  if (result.ok) assert.fail('expected errors, decoded fine');
  return result.errors;
}

export function hasError(errors: readonly { path: string; message: string }[], path: string, messagePart: string | RegExp): boolean {
  return errors.some((e) => e.path === path && (typeof messagePart === 'string' ? e.message.includes(messagePart) : messagePart.test(e.message)));
}
