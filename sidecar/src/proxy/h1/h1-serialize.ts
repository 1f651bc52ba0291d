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

/** CR, LF and NUL split or truncate a message; characters above U+00FF do not fit a latin1 head. */
const UNSAFE = /[\r\n\0\u0100-\uffff]/;

function checkValue(name: string, value: string): void {
  if (UNSAFE.test(value)) throw new InvalidHeaderError(`invalid character in header "${name}"`);
}
