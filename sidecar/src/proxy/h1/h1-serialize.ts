// Header block serialization for the fast HTTP/1.1 path: a header object to "name: value\r\n" lines, refusing
// values that would split the message (CR, LF, NUL), as node's http module does (ERR_INVALID_CHAR).

import type * as http from 'node:http';

/** Thrown for a header value that cannot be written. */
export class InvalidHeaderError extends Error {
  readonly code = 'ERR_INVALID_CHAR';
}

/**
 * Serializes `headers` (lower-case names; string, number or string[] values; undefined skipped), leaving out
 * `skip` (a field the caller writes itself). Arrays become one line per value. Cost: one string concatenation per
 * field and a character scan of each value; names come from parsed heads or validated config.
 */
export function serializeHeaders(headers: http.OutgoingHttpHeaders | http.IncomingHttpHeaders, skip: string): string {
  let out = '';
  for (const name in headers) {
    if (name === skip) continue;
    const value = headers[name];
    if (value === undefined) continue;
    if (typeof value === 'string') {
      checkValue(name, value);
      out += `${name}: ${value}\r\n`;
    } else if (typeof value === 'number') {
      out += `${name}: ${value}\r\n`;
    } else {
      for (const item of value) {
        const text = String(item);
        checkValue(name, text);
        out += `${name}: ${text}\r\n`;
      }
    }
  }
  return out;
}

function checkValue(name: string, value: string): void {
  for (let i = 0; i < value.length; i += 1) {
    const c = value.charCodeAt(i);
    if (c === 13 || c === 10 || c === 0 || c > 255) throw new InvalidHeaderError(`invalid character in header "${name}"`);
  }
}
