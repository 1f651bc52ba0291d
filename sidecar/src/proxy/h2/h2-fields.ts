// Header objects (node's shape) to the flat [name, value, ...] list the HTTP/2 codec encodes.

import type { ResponseHeaders } from '../downstream';

/**
 * One scratch list for every block: encoding is synchronous, so the list is free again as soon as a
 * sendHeaders/sendTrailers call returns.
 */
export const SCRATCH_FIELDS: string[] = [];

/** Hop-by-hop / connection-specific fields never go into an HTTP/2 block (RFC 9113 §8.2.2). */
function connectionSpecific(name: string): boolean {
  switch (name) {
    case 'connection':
    case 'keep-alive':
    case 'proxy-connection':
    case 'transfer-encoding':
    case 'upgrade':
      return true;
    default:
      return false;
  }
}

/**
 * Appends `headers` to `fields` from index `at`; returns the new length. Names are lower-cased (route header
 * mutations may carry capitals), pseudo-headers and connection-specific fields are skipped, arrays become one
 * field per value, numbers become strings, undefined values are skipped.
 */
export function flattenHeaders(headers: ResponseHeaders, fields: string[], at: number): number {
  let n = at;
  for (const key in headers) {
    const value = headers[key];
    if (value === undefined) continue;
    const name = key.toLowerCase();
    if (name.charCodeAt(0) === 58 /* ':' */ || connectionSpecific(name)) continue;
    if (typeof value === 'string') {
      fields[n++] = name;
      fields[n++] = value;
    } else if (typeof value === 'number') {
      fields[n++] = name;
      fields[n++] = String(value);
    } else {
      for (let i = 0; i < value.length; i++) {
        fields[n++] = name;
        fields[n++] = String(value[i]);
      }
    }
  }
  return n;
}
