// The shared body of every resource decoder: PGV over the whole resource, then the typed decode, never throwing.

import { ErrorCollector } from '../../core/validation';
import { protoValidate } from '../proto-validate';
import type { DecodeContext, DecodedResource } from './resource-type';

/**
 * Runs PGV on `message` as `protoName`, then `decode` with a root collector (paths relative to the resource). Any
 * exception becomes an error; a null result without errors becomes one too, so an invalid result always says why.
 */
export function decodeResource<M, T>(
  ctx: DecodeContext,
  protoName: string,
  message: unknown,
  name: string,
  what: string,
  decode: (message: M, errors: ErrorCollector) => T | null,
): DecodedResource<T> {
  const errors = ErrorCollector.root();
  let value: T | null = null;
  try {
    errors.addAll(protoValidate(ctx.schema.type(protoName), message));
    value = decode(message as M, errors);
    if (value === null && !errors.hasErrors) errors.add(`${what} could not be decoded`);
  } catch (err) {
    errors.add(`internal error decoding ${what}: ${(err as Error).message}`);
  }
  return { name, result: errors.result(value as T) };
}

/** The resource's name field when it is a string (filled even for invalid resources, for NACK details). */
export function stringField(message: unknown, field: string): string {
  const value = typeof message === 'object' && message !== null ? (message as Record<string, unknown>)[field] : undefined;
  return typeof value === 'string' ? value : '';
}
