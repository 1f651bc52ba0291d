// Trace-context propagation headers: extract W3C traceparent, then B3 single, then B3 multi; inject the formats
// that arrived (W3C always). Hand-written fixed-offset parsers (no regexes, no split, no lower-casing copies of
// valid lower-case input) so an unsampled request allocates no OTel context objects and little else.

import type * as http from 'node:http';
import { randomFillSync } from 'node:crypto';

/** The header formats meshlet reads and writes. */
export type TraceHeaderFormat = 'w3c' | 'b3' | 'b3multi';

/** A parent span context found in request headers. */
export interface IncomingTraceContext {
  /** 32 lower-case hex digits (64-bit B3 ids are left-padded with zeros, as the B3 spec allows). */
  readonly traceId: string;
  /** 16 lower-case hex digits. */
  readonly spanId: string;
  readonly sampled: boolean;
  /** The format the context was read from (W3C wins when several are present, as Envoy and Linkerd do). */
  readonly format: TraceHeaderFormat;
  /** B3 headers also present (re-emitted on inject so B3-only services keep their context). */
  readonly alsoB3: boolean;
  readonly alsoB3Multi: boolean;
}

const ZERO_TRACE = '00000000000000000000000000000000';
const ZERO_SPAN = '0000000000000000';
const DASH = 0x2d;

/** Per char code below 128: 0 = not hex, 1 = lower-case hex digit, 2 = upper-case A-F. */
const HEX_KIND = new Uint8Array(128);
/** Per char code below 128: the digit's value (meaningful where HEX_KIND is not 0). */
const HEX_VALUE = new Uint8Array(128);
for (let i = 0; i < 16; i += 1) {
  const lower = '0123456789abcdef'.charCodeAt(i);
  HEX_KIND[lower] = 1;
  HEX_VALUE[lower] = i;
  if (i >= 10) {
    const upper = 'ABCDEF'.charCodeAt(i - 10);
    HEX_KIND[upper] = 2;
    HEX_VALUE[upper] = i;
  }
}

/** The hex kinds of value[start, end) OR-ed: 0 if any char is not a hex digit, 1 all lower case, 3 some upper case. */
function hexRun(value: string, start: number, end: number): number {
  let kinds = 1;
  for (let i = start; i < end; i += 1) {
    const code = value.charCodeAt(i);
    const kind = code < 128 ? (HEX_KIND[code] as number) : 0;
    if (kind === 0) return 0;
    kinds |= kind;
  }
  return kinds;
}

/** value[start, end) as lower-case hex, or undefined when it is not all hex digits. */
function hexField(value: string, start: number, end: number): string | undefined {
  const kinds = hexRun(value, start, end);
  if (kinds === 0) return undefined;
  const field = value.substring(start, end);
  return kinds === 1 ? field : field.toLowerCase();
}

/** Header values normally arrive trimmed; trim only when an end is not a visible ASCII char. */
function trimmed(value: string): string {
  const n = value.length;
  if (n === 0) return value;
  const a = value.charCodeAt(0);
  const z = value.charCodeAt(n - 1);
  return a > 0x20 && a < 0x7f && z > 0x20 && z < 0x7f ? value : value.trim();
}

function header(headers: http.IncomingHttpHeaders, name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value[0] : value;
}

function padTrace(id: string): string {
  return id.length === 16 ? `0000000000000000${id}` : id;
}

/** What a parser found (before the format is known). */
interface Found {
  readonly traceId: string;
  readonly spanId: string;
  readonly sampled: boolean;
}

/**
 * `traceparent` per W3C Trace Context level 1: `vv-{32 hex}-{16 hex}-ff`, 55 chars for version 00; later versions
 * may append `-...` (read as 00); version ff and all-zero ids are invalid. Upper-case hex is accepted and lowered.
 */
function parseW3c(raw: string): Found | undefined {
  const value = raw.length === 55 ? raw : trimmed(raw);
  const n = value.length;
  if (n < 55 || value.charCodeAt(2) !== DASH || value.charCodeAt(35) !== DASH || value.charCodeAt(52) !== DASH) return undefined;
  const version = hexRun(value, 0, 2);
  if (version === 0 || hexRun(value, 53, 55) === 0) return undefined;
  const v0 = value.charCodeAt(0);
  const v1 = value.charCodeAt(1);
  if ((v0 | 0x20) === 0x66 && (v1 | 0x20) === 0x66) return undefined; // ff
  if (n > 55 && (value.charCodeAt(55) !== DASH || (v0 === 0x30 && v1 === 0x30))) return undefined; // 00 is exactly 55
  const traceId = hexField(value, 3, 35);
  const spanId = traceId === undefined ? undefined : hexField(value, 36, 52);
  if (traceId === undefined || spanId === undefined || traceId === ZERO_TRACE || spanId === ZERO_SPAN) return undefined;
  return { traceId, spanId, sampled: ((HEX_VALUE[value.charCodeAt(54)] as number) & 1) === 1 };
}

/** A B3 trace id: 16 or 32 hex digits. */
function b3TraceId(value: string, start: number, end: number): string | undefined {
  const length = end - start;
  if (length !== 16 && length !== 32) return undefined;
  const id = hexField(value, start, end);
  return id === undefined ? undefined : padTrace(id);
}

/** Single `b3: {traceid}-{spanid}[-{1|0|d}[-{parent}]]` (openzipkin b3-propagation); a bare `0`/`1`/`d` has no ids. */
function parseB3Single(raw: string): Found | undefined {
  const value = trimmed(raw);
  const dash = value.indexOf('-');
  if (dash < 0) return undefined;
  const traceId = b3TraceId(value, 0, dash);
  if (traceId === undefined) return undefined;
  const spanEnd = dash + 17;
  if (value.length < spanEnd || (value.length > spanEnd && value.charCodeAt(spanEnd) !== DASH)) return undefined;
  const spanId = hexField(value, dash + 1, spanEnd);
  if (spanId === undefined) return undefined;
  // The sampling field is exactly `1` or `d` (either case) and ends the value or is followed by `-{parent}`.
  let sampled = false;
  if (value.length >= spanEnd + 2 && (value.length === spanEnd + 2 || value.charCodeAt(spanEnd + 2) === DASH)) {
    const flag = value.charCodeAt(spanEnd + 1) | 0x20;
    sampled = flag === 0x31 || flag === 0x64;
  }
  return { traceId, spanId, sampled };
}

/** `x-b3-traceid`, `x-b3-spanid`, `x-b3-sampled` (`1`/`true`), `x-b3-flags: 1` (debug, implies sampled). */
function parseB3Multi(headers: http.IncomingHttpHeaders): Found | undefined {
  const rawTrace = header(headers, 'x-b3-traceid');
  const rawSpan = header(headers, 'x-b3-spanid');
  if (rawTrace === undefined || rawSpan === undefined) return undefined;
  const traceValue = trimmed(rawTrace);
  const spanValue = trimmed(rawSpan);
  const traceId = b3TraceId(traceValue, 0, traceValue.length);
  const spanId = spanValue.length === 16 ? hexField(spanValue, 0, 16) : undefined;
  if (traceId === undefined || spanId === undefined) return undefined;
  const sampledRaw = header(headers, 'x-b3-sampled');
  const sampled = sampledRaw === undefined ? '' : trimmed(sampledRaw).toLowerCase();
  return { traceId, spanId, sampled: sampled === '1' || sampled === 'true' || header(headers, 'x-b3-flags') === '1' };
}

/**
 * Reads the parent context: W3C `traceparent` first, then B3 single `b3`, then B3 multi `x-b3-*` (specs
 * observability §3.4: OTel's CompositePropagator would let the last one win; meshlet prefers W3C like Linkerd).
 * Cost: three property reads when no header is present; one fixed-offset scan and one small object otherwise.
 */
export function extractTraceContext(headers: http.IncomingHttpHeaders): IncomingTraceContext | undefined {
  const tp = header(headers, 'traceparent');
  const b3 = header(headers, 'b3');
  const hasMulti = headers['x-b3-traceid'] !== undefined;
  if (tp === undefined && b3 === undefined && !hasMulti) return undefined;
  const w3c = tp === undefined ? undefined : parseW3c(tp);
  const single = b3 === undefined ? undefined : parseB3Single(b3);
  const multi = hasMulti ? parseB3Multi(headers) : undefined;
  const found = w3c ?? single ?? multi;
  if (found === undefined) return undefined;
  const format: TraceHeaderFormat = w3c !== undefined ? 'w3c' : single !== undefined ? 'b3' : 'b3multi';
  return { traceId: found.traceId, spanId: found.spanId, sampled: found.sampled, format, alsoB3: single !== undefined, alsoB3Multi: multi !== undefined };
}

/**
 * Writes the context of the span the upstream request belongs to: `traceparent` always (tracestate is forwarded
 * as received), plus `b3` and/or `x-b3-*` when those arrived, so each hop keeps the formats its callers use.
 */
export function injectTraceContext(
  headers: http.OutgoingHttpHeaders,
  traceId: string,
  spanId: string,
  sampled: boolean,
  incoming: IncomingTraceContext | undefined,
): void {
  headers['traceparent'] = `00-${traceId}-${spanId}-${sampled ? '01' : '00'}`;
  if (incoming === undefined) return;
  if (incoming.format === 'b3' || incoming.alsoB3) headers['b3'] = `${traceId}-${spanId}-${sampled ? '1' : '0'}`;
  if (incoming.format === 'b3multi' || incoming.alsoB3Multi) {
    headers['x-b3-traceid'] = traceId;
    headers['x-b3-spanid'] = spanId;
    headers['x-b3-sampled'] = sampled ? '1' : '0';
    delete headers['x-b3-parentspanid'];
  }
}

/** Length of `00-{32 hex}-{16 hex}-00`. */
const TRACEPARENT_LENGTH = 55;
/** Unsampled traceparent values made per refill: one randomFillSync and one string per 256 requests. */
const POOL_SIZE = 256;
const RANDOM_BYTES = 24;
const poolRandom = Buffer.allocUnsafe(POOL_SIZE * RANDOM_BYTES);
const poolText = Buffer.allocUnsafe(POOL_SIZE * TRACEPARENT_LENGTH);
/** Byte -> its high and low lower-case hex digit (char codes). */
const HEX_PAIR_HI = new Uint8Array(256);
const HEX_PAIR_LO = new Uint8Array(256);
for (let b = 0; b < 256; b += 1) {
  HEX_PAIR_HI[b] = '0123456789abcdef'.charCodeAt(b >> 4);
  HEX_PAIR_LO[b] = '0123456789abcdef'.charCodeAt(b & 15);
}
let poolString = '';
let poolNext = POOL_SIZE;

/** Writes `bytes` random bytes from poolRandom[src] as hex at poolText[dst]; an all-zero id gets a final 1. */
function writeHexId(src: number, dst: number, bytes: number): void {
  let any = 0;
  for (let i = 0; i < bytes; i += 1) {
    const b = poolRandom[src + i] as number;
    any |= b;
    poolText[dst + 2 * i] = HEX_PAIR_HI[b] as number;
    poolText[dst + 2 * i + 1] = HEX_PAIR_LO[b] as number;
  }
  if (any === 0) poolText[dst + 2 * bytes - 1] = 0x31; // W3C: all-zero ids are invalid (p = 2^-64 per span id)
}

function refillPool(): void {
  randomFillSync(poolRandom);
  for (let i = 0; i < POOL_SIZE; i += 1) {
    const src = i * RANDOM_BYTES;
    const dst = i * TRACEPARENT_LENGTH;
    poolText[dst] = 0x30;
    poolText[dst + 1] = 0x30;
    poolText[dst + 2] = DASH;
    writeHexId(src, dst + 3, 16);
    poolText[dst + 35] = DASH;
    writeHexId(src + 16, dst + 36, 8);
    poolText[dst + 52] = DASH;
    poolText[dst + 53] = 0x30;
    poolText[dst + 54] = 0x30;
  }
  poolString = poolText.toString('latin1');
  poolNext = 0;
}

/**
 * A fresh unsampled `traceparent` (`00-{random trace id}-{random span id}-00`) for a request that starts no span.
 * Made in batches: one randomFillSync and one hex conversion per 256 values; each call is one substring of the
 * batch string (V8 shares the characters, no copy). Ids are from the CSPRNG, never all zero.
 */
export function freshUnsampledTraceparent(): string {
  if (poolNext === POOL_SIZE) refillPool();
  const start = poolNext * TRACEPARENT_LENGTH;
  poolNext += 1;
  return poolString.substring(start, start + TRACEPARENT_LENGTH);
}
