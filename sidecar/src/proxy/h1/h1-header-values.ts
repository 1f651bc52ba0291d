// How repeated header fields fold into one header object, the way node's IncomingMessage does it, so the fast
// HTTP/1.1 path hands the exchange the same header shapes as node:http.

import type * as http from 'node:http';

/** Fields where node keeps only the first occurrence (IncomingMessage#_addHeaderLine, matchKnownFields). */
const FIRST_WINS: ReadonlySet<string> = new Set([
  'content-type',
  'content-length',
  'user-agent',
  'referer',
  'host',
  'authorization',
  'proxy-authorization',
  'if-modified-since',
  'if-unmodified-since',
  'from',
  'location',
  'max-forwards',
  'retry-after',
  'etag',
  'last-modified',
  'server',
  'age',
  'expires',
]);

/**
 * Adds one field line (`name` already lower-case) to `headers`: set-cookie collects an array, cookie joins with
 * "; ", the FIRST_WINS fields drop repeats, every other field joins with ", ". Cost: one property read; the
 * set lookup only for repeats.
 */
export function addHeaderValue(headers: http.IncomingHttpHeaders, name: string, value: string): void {
  const previous = headers[name];
  if (previous === undefined) {
    headers[name] = name === 'set-cookie' ? [value] : value;
    return;
  }
  if (Array.isArray(previous)) {
    previous.push(value);
  } else if (name === 'cookie') {
    headers[name] = `${previous}; ${value}`;
  } else if (!FIRST_WINS.has(name)) {
    headers[name] = `${previous}, ${value}`;
  }
}
