// google.protobuf.Duration (proto-loader shape: {seconds: '5', nanos: 0}) -> milliseconds.

/** A Duration as proto-loader decodes it (`seconds` is an int64 string). */
export interface DurationLike {
  readonly seconds: string | number;
  readonly nanos: number;
}

/** Milliseconds (fractional ms kept) of a set Duration, or null when unset. */
export function durationMs(d: DurationLike | null | undefined): number | null {
  if (d === null || d === undefined) return null;
  return Number(d.seconds) * 1000 + d.nanos / 1e6;
}

/** Milliseconds of a Duration, or `fallback` when unset. */
export function durationMsOr(d: DurationLike | null | undefined, fallback: number): number {
  return durationMs(d) ?? fallback;
}
