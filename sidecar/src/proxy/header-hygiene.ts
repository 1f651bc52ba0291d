// Request and response header hygiene of the HTTP connection manager: hop-by-hop headers, x-forwarded-*,
// x-request-id, via-based loop detection (conn_manager_utility.cc in Envoy).

import { randomFillSync } from 'node:crypto';
import type * as http from 'node:http';
import type { HttpConnectionManagerConfig } from '../config/listener-config';


/** Removes hop-by-hop headers (and those the Connection header names) in place. `te: trailers` survives, as in Envoy. */
export function stripHopByHop(headers: http.IncomingHttpHeaders | http.OutgoingHttpHeaders, keepUpgrade: boolean): void {
  const connection = headers['connection'];
  if (connection !== undefined) {
    for (const token of String(connection).split(',')) {
      const name = token.trim().toLowerCase();
      if (name !== '' && !(keepUpgrade && name === 'upgrade')) delete headers[name];
    }
  }
  // RFC 9110 §7.6.1 connection-specific headers, plus the HTTP/2-forbidden ones; never forwarded. Spelled out
  // (not a loop over a set): named loads on the usual one-shape header objects are the cheapest per request.
  const te = headers['te'];
  if (!keepUpgrade) {
    if (headers['connection'] !== undefined) delete headers['connection'];
    if (headers['upgrade'] !== undefined) delete headers['upgrade'];
  }
  if (headers['keep-alive'] !== undefined) delete headers['keep-alive'];
  if (headers['proxy-connection'] !== undefined) delete headers['proxy-connection'];
  if (headers['transfer-encoding'] !== undefined) delete headers['transfer-encoding'];
  if (headers['http2-settings'] !== undefined) delete headers['http2-settings'];
  if (te !== undefined) delete headers['te'];
  if (te !== undefined && String(te).split(',').some((t) => t.trim().toLowerCase() === 'trailers')) headers['te'] = 'trailers';
}

/** What the forwarding headers depend on. */
export interface ForwardingFacts {
  readonly remoteAddress: string;
  readonly scheme: string;
}

/**
 * x-forwarded-for / x-forwarded-proto / x-request-id as Envoy's HCM: with `use_remote_address` the remote address
 * is appended to XFF (unless `skip_xff_append`) and x-forwarded-proto is set to the real scheme; without it, XFF is
 * left as is and x-forwarded-proto is set only when absent. x-request-id is generated when absent (and
 * `generate_request_id`), and replaced at the edge unless `preserve_external_request_id`.
 */
export function applyForwardingHeaders(headers: http.IncomingHttpHeaders, hcm: HttpConnectionManagerConfig, facts: ForwardingFacts): void {
  if (hcm.useRemoteAddress) {
    if (!hcm.skipXffAppend) {
      const xff = headers['x-forwarded-for'];
      headers['x-forwarded-for'] = xff === undefined || xff === '' ? facts.remoteAddress : `${xff}, ${facts.remoteAddress}`;
    }
    headers['x-forwarded-proto'] = facts.scheme;
  } else if (headers['x-forwarded-proto'] === undefined) {
    headers['x-forwarded-proto'] = facts.scheme;
  }
  if (hcm.generateRequestId) {
    const edgeReplaces = hcm.useRemoteAddress && !hcm.preserveExternalRequestId;
    if (headers['x-request-id'] === undefined || edgeReplaces) headers['x-request-id'] = nextRequestId();
  }
}

/** Version 4 UUIDs made per refill: one randomFillSync and one string per 256 requests (as trace-context's pool). */
const UUID_POOL = 256;
const UUID_LENGTH = 36;
const uuidRandom = Buffer.allocUnsafe(UUID_POOL * 16);
const uuidText = Buffer.allocUnsafe(UUID_POOL * UUID_LENGTH);
const HEX_DIGITS = '0123456789abcdef';
let uuidString = '';
let uuidNext = UUID_POOL;

/** A random (version 4, RFC 9562 §5.4) UUID for x-request-id, cut from a pooled string. */
function nextRequestId(): string {
  if (uuidNext === UUID_POOL) refillRequestIds();
  const start = uuidNext * UUID_LENGTH;
  uuidNext += 1;
  return uuidString.slice(start, start + UUID_LENGTH);
}

function refillRequestIds(): void {
  randomFillSync(uuidRandom);
  let out = 0;
  for (let n = 0; n < UUID_POOL; n += 1) {
    const src = n * 16;
    uuidRandom[src + 6] = ((uuidRandom[src + 6] as number) & 0x0f) | 0x40; // version 4
    uuidRandom[src + 8] = ((uuidRandom[src + 8] as number) & 0x3f) | 0x80; // variant 10
    for (let i = 0; i < 16; i += 1) {
      if (i === 4 || i === 6 || i === 8 || i === 10) uuidText[out++] = 0x2d; // '-'
      const b = uuidRandom[src + i] as number;
      uuidText[out++] = HEX_DIGITS.charCodeAt(b >> 4);
      uuidText[out++] = HEX_DIGITS.charCodeAt(b & 15);
    }
  }
  uuidString = uuidText.toString('latin1');
  uuidNext = 0;
}

/**
 * Loop detection: each listener adds its own `via` token; a request that already carries this listener's token
 * has come back to it (a route or cluster pointing at meshlet itself) and is refused with 508.
 * Returns false for a loop.
 */
export function appendViaOrDetectLoop(headers: http.IncomingHttpHeaders, token: string): boolean {
  const via = headers['via'];
  if (via !== undefined) {
    for (const part of String(via).split(',')) {
      if (part.trim() === token) return false;
    }
    headers['via'] = `${via}, ${token}`;
  } else {
    headers['via'] = token;
  }
  return true;
}

/** Cleans an upstream response's headers for the downstream response, in place. */
export function cleanResponseHeaders(headers: http.IncomingHttpHeaders | http.OutgoingHttpHeaders, keepUpgrade: boolean): void {
  stripHopByHop(headers, keepUpgrade);
  for (const name in headers) {
    if (name.charCodeAt(0) === 58 /* ':' pseudo-header from HTTP/2 */) delete headers[name];
  }
}
