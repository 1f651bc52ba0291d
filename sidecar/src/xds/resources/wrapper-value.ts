// google.protobuf wrapper types (UInt32Value, BoolValue...; proto-loader shape `{value}` or null) -> plain values.

/** The wrapped value, or `fallback` when the wrapper is unset. uint64/int64 strings become numbers. */
export function wrapperValue<T extends number | boolean | string>(w: { readonly value: T | string } | null | undefined, fallback: T): T {
  if (w === null || w === undefined) return fallback;
  return (typeof fallback === 'number' ? Number(w.value) : w.value) as T;
}

/** The wrapped number, or null when unset. */
export function optionalNumber(w: { readonly value: number | string } | null | undefined): number | null {
  return w === null || w === undefined ? null : Number(w.value);
}
