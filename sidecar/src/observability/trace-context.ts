// Trace-context propagation headers: extract W3C traceparent, then B3 single, then B3 multi; inject the formats
// that arrived (W3C always). Hand-rolled parsers so an unsampled request allocates no OTel context objects.

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

const W3C = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-|$)/;
const HEX_ID = /^[0-9a-f]{16}([0-9a-f]{16})?$/;
const SPAN_ID = /^[0-9a-f]{16}$/;
const ZERO_TRACE = '00000000000000000000000000000000';
const ZERO_SPAN = '0000000000000000';

function header(headers: http.IncomingHttpHeaders, name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value[0] : value;
}

function padTrace(id: string): string {
  return id.length === 16 ? `0000000000000000${id}` : id;
}

/** `traceparent` per W3C Trace Context level 1 (version ff is invalid; later versions are read as 00). */
function parseW3c(value: string): { traceId: string; spanId: string; sampled: boolean } | undefined {
  const m = W3C.exec(value.trim().toLowerCase());
  if (m === null || m[1] === 'ff' || (m[1] === '00' && m[5] === '-')) return undefined;
  const traceId = m[2] as string;
  const spanId = m[3] as string;
  if (traceId === ZERO_TRACE || spanId === ZERO_SPAN) return undefined;
  return { traceId, spanId, sampled: (parseInt(m[4] as string, 16) & 1) === 1 };
}

/** Single `b3: {traceid}-{spanid}[-{1|0|d}[-{parent}]]` (openzipkin b3-propagation); a bare `0`/`1`/`d` has no ids. */
function parseB3Single(value: string): { traceId: string; spanId: string; sampled: boolean } | undefined {
  const parts = value.trim().toLowerCase().split('-');
  const [traceId, spanId, flag] = parts;
  if (traceId === undefined || spanId === undefined || !HEX_ID.test(traceId) || !SPAN_ID.test(spanId)) return undefined;
  return { traceId: padTrace(traceId), spanId, sampled: flag === '1' || flag === 'd' };
}

/** `x-b3-traceid`, `x-b3-spanid`, `x-b3-sampled` (`1`/`true`), `x-b3-flags: 1` (debug, implies sampled). */
function parseB3Multi(headers: http.IncomingHttpHeaders): { traceId: string; spanId: string; sampled: boolean } | undefined {
  const traceId = header(headers, 'x-b3-traceid')?.trim().toLowerCase();
  const spanId = header(headers, 'x-b3-spanid')?.trim().toLowerCase();
  if (traceId === undefined || spanId === undefined || !HEX_ID.test(traceId) || !SPAN_ID.test(spanId)) return undefined;
  const sampled = header(headers, 'x-b3-sampled')?.trim().toLowerCase();
  return { traceId: padTrace(traceId), spanId, sampled: sampled === '1' || sampled === 'true' || header(headers, 'x-b3-flags') === '1' };
}

/**
 * Reads the parent context: W3C `traceparent` first, then B3 single `b3`, then B3 multi `x-b3-*` (specs
 * observability §3.4: OTel's CompositePropagator would let the last one win; meshlet prefers W3C like Linkerd).
 * Cost: three property reads when no header is present.
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
  return { ...found, format, alsoB3: single !== undefined, alsoB3Multi: multi !== undefined };
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

const idBuffer = Buffer.alloc(24);

/** Fresh random ids for an unsampled root (no span object is created for it). */
export function randomTraceIds(): { traceId: string; spanId: string } {
  randomFillSync(idBuffer);
  return { traceId: idBuffer.toString('hex', 0, 16), spanId: idBuffer.toString('hex', 16, 24) };
}
