// Header names for the fast HTTP/1.1 path's parsers: the tchar table, and lower-case names without allocating
// (well-known names are matched on the raw bytes, case-insensitively, and returned as shared constant strings).

/** Names seen on most requests and responses (Envoy, Istio, gRPC, browsers, common servers). */
const KNOWN_NAMES = [
  'host', 'user-agent', 'accept', 'accept-encoding', 'accept-language', 'accept-ranges', 'age', 'authorization',
  'cache-control', 'connection', 'content-encoding', 'content-length', 'content-type', 'cookie', 'date', 'etag',
  'expires', 'keep-alive', 'last-modified', 'location', 'origin', 'pragma', 'referer', 'server', 'set-cookie',
  'te', 'trailer', 'transfer-encoding', 'upgrade', 'vary', 'via', 'x-be', 'x-request-id', 'x-forwarded-for',
  'x-forwarded-proto', 'x-forwarded-host', 'x-envoy-upstream-service-time', 'x-envoy-expected-rq-timeout-ms',
  'x-envoy-attempt-count', 'x-b3-traceid', 'x-b3-spanid', 'x-b3-parentspanid', 'x-b3-sampled', 'b3',
  'traceparent', 'tracestate', 'grpc-status', 'grpc-message', 'grpc-timeout', 'if-none-match',
  'if-modified-since', 'strict-transport-security', 'access-control-allow-origin', 'x-content-type-options',
] as const;

/** RFC 9110 tchar (llhttp's TOKEN table): the bytes a header name may have (1 = allowed). */
export const TCHAR = new Uint8Array(256);
for (const c of "!#$%&'*+-.^_`|~") TCHAR[c.charCodeAt(0)] = 1;
for (let c = 48; c <= 57; c += 1) TCHAR[c] = 1;
for (let c = 65; c <= 90; c += 1) TCHAR[c] = 1;
for (let c = 97; c <= 122; c += 1) TCHAR[c] = 1;

const BY_LENGTH: string[][] = [];
for (const name of KNOWN_NAMES) (BY_LENGTH[name.length] ??= []).push(name);

type Latin1Buffer = Buffer & { latin1Slice(start: number, end: number): string };

/**
 * The lower-case name in `buf[start..end)` (bytes already checked to be tchar). Known names come back as the
 * constant string (no allocation); others are sliced and lower-cased. `byte | 0x20` folds case: for tchar bytes
 * it can only map an upper-case letter to its lower-case form, never another tchar onto a letter, digit or '-'.
 */
export function headerName(buf: Buffer, start: number, end: number): string {
  const candidates = BY_LENGTH[end - start];
  if (candidates !== undefined) {
    for (let c = 0; c < candidates.length; c += 1) {
      const name = candidates[c] as string;
      let k = 0;
      while (k < name.length && ((buf[start + k] as number) | 0x20) === name.charCodeAt(k)) k += 1;
      if (k === name.length) return name;
    }
  }
  return (buf as Latin1Buffer).latin1Slice(start, end).toLowerCase();
}
