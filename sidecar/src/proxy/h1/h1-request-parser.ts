// The fast HTTP/1.1 path's request-head parser: accepts only plain, unambiguous request heads and defers anything
// else to node's llhttp, so it can never be more lenient than llhttp (request smuggling).

import type * as http from 'node:http';
import { headerName, TCHAR } from './h1-header-names';
import { addHeaderValue } from './h1-header-values';

/** A request head the fast path serves. Fields are overwritten per request (one object per connection). */
export interface ParsedRequestHead {
  method: string;
  /** origin-form request target (path and query), as received. */
  path: string;
  /** The single Host header. */
  host: string;
  /** Lower-case names; duplicates folded as node's IncomingMessage does. */
  headers: http.IncomingHttpHeaders;
  /** Content-Length, 0 when absent. */
  contentLength: number;
  /** `Connection: close` was sent: close after the response. */
  close: boolean;
}

/** Bytes not yet a complete head. */
export const HEAD_INCOMPLETE = 0;
/** Not a head the fast path serves: hand the bytes to llhttp (node:http), which accepts or rejects them. */
export const HEAD_DEFER = -1;

/**
 * Largest head the fast path parses. Larger ones go to llhttp, whose limit (the server's maxHeaderSize, 60 KiB)
 * then decides between serving and 431, exactly as without the fast path.
 */
export const MAX_FAST_HEAD_BYTES = 16 * 1024;
/** node:http keeps at most 2,000 headers (maxHeadersCount); beyond that we let node do what it does. */
const MAX_HEADERS = 2000;

/** Methods served here; every other method (CONNECT, TRACE, WebDAV...) goes to llhttp. */
const METHODS: ReadonlyMap<string, string> = new Map(['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS'].map((m) => [m, m]));

const CR = 13;
const LF = 10;
const SP = 32;
const HTAB = 9;
const COLON = 58;


/** Header value bytes llhttp accepts in strict mode: HTAB, visible ASCII, SP, obs-text (no CTLs, no DEL). */
const VCHAR = new Uint8Array(256);
VCHAR[HTAB] = 1;
for (let c = 0x20; c <= 0x7e; c += 1) VCHAR[c] = 1;
for (let c = 0x80; c <= 0xff; c += 1) VCHAR[c] = 1;

/** Request-target bytes: visible ASCII only (llhttp strict URL chars; no obs-text, no controls). */
const URLCHAR = new Uint8Array(256);
for (let c = 0x21; c <= 0x7e; c += 1) URLCHAR[c] = 1;

const VERSION = ' HTTP/1.1\r\n';

type Latin1Buffer = Buffer & { latin1Slice(start: number, end: number): string };

/**
 * Parses the request head at `buf[start..end)` into `out`. Returns the head length (through the blank line),
 * HEAD_INCOMPLETE, or HEAD_DEFER for anything outside the served subset: other versions or methods, non
 * origin-form targets, obs-fold, bare CR or LF, whitespace before a colon, invalid name/value/target bytes,
 * Transfer-Encoding (chunked bodies, CL+TE), a missing, duplicate or malformed Content-Length or Host, Upgrade,
 * Expect, more than 2,000 headers, heads over MAX_FAST_HEAD_BYTES. Cost: one pass over the head bytes, one string
 * per name and value.
 */
export function parseRequestHead(buffer: Buffer, start: number, end: number, out: ParsedRequestHead): number {
  const buf = buffer as Latin1Buffer;
  const limit = Math.min(end, start + MAX_FAST_HEAD_BYTES);
  // Request line: METHOD SP origin-form SP HTTP/1.1 CRLF
  let i = start;
  while (i < limit && buf[i] !== SP) {
    const c = buf[i] as number;
    if (c < 65 || c > 90) return HEAD_DEFER;
    i += 1;
  }
  if (i >= limit) return incomplete(end, start);
  const method = i - start === 3 && buf[start] === 71 && buf[start + 1] === 69 && buf[start + 2] === 84 ? 'GET' : METHODS.get(buf.latin1Slice(start, i));
  if (method === undefined) return HEAD_DEFER;
  i += 1;
  const pathStart = i;
  if (i < limit && buf[i] !== 0x2f /* '/' */) return HEAD_DEFER;
  while (i < limit && buf[i] !== SP) {
    if (URLCHAR[buf[i] as number] === 0) return HEAD_DEFER;
    i += 1;
  }
  if (i >= limit) return incomplete(end, start);
  const pathEnd = i;
  for (let k = 0; k < VERSION.length; k += 1, i += 1) {
    if (i >= limit) return incomplete(end, start);
    if (buf[i] !== VERSION.charCodeAt(k)) return HEAD_DEFER;
  }
  const headers: http.IncomingHttpHeaders = {};
  let host: string | undefined;
  let contentLength = -1;
  let close = false;
  let count = 0;
  for (;;) {
    if (i >= limit) return incomplete(end, start);
    let c = buf[i] as number;
    if (c === CR) {
      if (i + 1 >= limit) return incomplete(end, start);
      if (buf[i + 1] !== LF) return HEAD_DEFER;
      i += 2;
      break;
    }
    // Header name: tchar+ immediately followed by ':' (no whitespace before the colon; no obs-fold line).
    const nameStart = i;
    while (TCHAR[c] === 1) {
      i += 1;
      if (i >= limit) return incomplete(end, start);
      c = buf[i] as number;
    }
    if (c !== COLON || i === nameStart) return HEAD_DEFER;
    const nameEnd = i;
    i += 1;
    while (i < limit && (buf[i] === SP || buf[i] === HTAB)) i += 1;
    const valueStart = i;
    let valueEnd = i;
    for (;;) {
      if (i >= limit) return incomplete(end, start);
      c = buf[i] as number;
      if (c === CR) break;
      if (VCHAR[c] === 0) return HEAD_DEFER;
      i += 1;
      if (c !== SP && c !== HTAB) valueEnd = i;
    }
    if (i + 1 >= limit) return incomplete(end, start);
    if (buf[i + 1] !== LF) return HEAD_DEFER;
    i += 2;
    if (i < limit && (buf[i] === SP || buf[i] === HTAB)) return HEAD_DEFER; // obs-fold
    count += 1;
    if (count > MAX_HEADERS) return HEAD_DEFER;
    const name = headerName(buf, nameStart, nameEnd);
    const value = buf.latin1Slice(valueStart, valueEnd);
    switch (name) {
      case 'host':
        if (host !== undefined || value === '') return HEAD_DEFER;
        host = value;
        break;
      case 'content-length':
        if (contentLength !== -1 || !isDigits(value)) return HEAD_DEFER;
        contentLength = Number(value);
        if (!Number.isSafeInteger(contentLength)) return HEAD_DEFER;
        break;
      case 'transfer-encoding':
      case 'upgrade':
      case 'expect':
      case '__proto__': // would set the header object's prototype
        return HEAD_DEFER;
      case 'connection': {
        const lower = value.toLowerCase();
        if (lower.includes('upgrade')) return HEAD_DEFER;
        if (lower.includes('close')) close = true;
        break;
      }
      default:
        break;
    }
    addHeaderValue(headers, name, value);
  }
  if (host === undefined) return HEAD_DEFER; // node:http answers 400 (requireHostHeader)
  out.method = method;
  out.path = buf.latin1Slice(pathStart, pathEnd);
  out.host = host;
  out.headers = headers;
  out.contentLength = contentLength === -1 ? 0 : contentLength;
  out.close = close;
  return i - start;
}

/** Incomplete, unless the head is already too long for the fast path (then llhttp decides). */
function incomplete(end: number, start: number): number {
  return end - start >= MAX_FAST_HEAD_BYTES ? HEAD_DEFER : HEAD_INCOMPLETE;
}

function isDigits(value: string): boolean {
  if (value.length === 0 || value.length > 15) return false;
  for (let k = 0; k < value.length; k += 1) {
    const c = value.charCodeAt(k);
    if (c < 48 || c > 57) return false;
  }
  return true;
}
