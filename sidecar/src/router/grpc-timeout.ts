// The grpc-timeout header: parse to milliseconds and format, as Envoy's Grpc::Common::getGrpcTimeout / toGrpcTimeout.

/** TimeoutValue is a positive integer of at most 8 digits (gRPC over HTTP/2 spec). */
const MAX_GRPC_TIMEOUT_VALUE = 99_999_999;
const TIMEOUT = /^(\d+)([HMSmun])$/;

/**
 * `grpc-timeout` in ms, or undefined when absent or malformed. Units H, M, S, m exactly; u and n are rounded up to
 * the next whole ms (Envoy: "timeout++" when the ms conversion truncated).
 */
export function parseGrpcTimeoutMs(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const m = TIMEOUT.exec(value);
  if (m === null) return undefined;
  const n = Number(m[1]);
  if (n > MAX_GRPC_TIMEOUT_VALUE) return undefined;
  switch (m[2]) {
    case 'H': return n * 3_600_000;
    case 'M': return n * 60_000;
    case 'S': return n * 1000;
    case 'm': return n;
    case 'u': return Math.ceil(n / 1000);
    default: return Math.ceil(n / 1_000_000);
  }
}

/** Formats ms as `grpc-timeout`: `<ms>m`, or coarser units when the value needs more than 8 digits (Envoy's toGrpcTimeout). */
export function formatGrpcTimeout(ms: number): string {
  let value = Math.floor(ms);
  if (value <= MAX_GRPC_TIMEOUT_VALUE) return `${value}m`;
  value = Math.floor(value / 1000);
  if (value <= MAX_GRPC_TIMEOUT_VALUE) return `${value}S`;
  value = Math.floor(value / 60);
  if (value <= MAX_GRPC_TIMEOUT_VALUE) return `${value}M`;
  value = Math.floor(value / 60);
  return `${Math.min(value, MAX_GRPC_TIMEOUT_VALUE)}H`;
}
