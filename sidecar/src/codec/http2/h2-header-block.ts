// One decoded HTTP/2 header block (request, response or trailers) and its validation (RFC 9113 §8.2-8.3).
// It is the HPACK decoder's sink: fields go straight into a header object the way node:http2 builds one.

import type { HeaderSink } from './hpack/hpack-decoder';

export type HeaderBlockKind = 'request' | 'response' | 'trailers';

/** Header object as node's IncomingHttpHeaders: lower-case names, duplicates joined, set-cookie an array. */
export type H2HeaderObject = Record<string, string | string[]>;

/**
 * Fields node:http2 keeps only once (a duplicate is dropped), as in its toHeaderObject. content-length duplicates
 * are checked separately: differing values make the message malformed (RFC 9110 §8.6).
 */
const SINGLE_VALUE: ReadonlySet<string> = new Set(['age', 'authorization', 'content-type', 'etag', 'expires', 'from', 'host', 'if-modified-since', 'if-unmodified-since', 'last-modified', 'location', 'max-forwards', 'proxy-authorization', 'referer', 'retry-after', 'server', 'user-agent']);

/** Connection-specific fields are malformed in HTTP/2 (RFC 9113 §8.2.2). */
const CONNECTION_SPECIFIC: ReadonlySet<string> = new Set(['connection', 'proxy-connection', 'keep-alive', 'transfer-encoding', 'upgrade']);

/** Names already checked (lower-case token characters); bounded so hostile peers cannot grow it forever. */
const validNames = new Set<string>();
const MAX_CACHED_NAMES = 2048;

/** RFC 9110 tchar, lower-case only: ! # $ % & ' * + - . ^ _ ` | ~ DIGIT a-z. */
const NAME_CHAR = new Uint8Array(128);
for (const c of "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyz") NAME_CHAR[c.charCodeAt(0)] = 1;

function validName(name: string): boolean {
  if (validNames.has(name)) return true;
  if (name.length === 0) return false;
  for (let i = 0; i < name.length; i++) {
    const c = name.charCodeAt(i);
    if (c >= 128 || NAME_CHAR[c] === 0) return false;
  }
  if (validNames.size < MAX_CACHED_NAMES) validNames.add(name);
  return true;
}

/** No NUL, CR or LF anywhere, no leading or trailing SP/HTAB (RFC 9113 §8.2.1). */
function validValue(value: string): boolean {
  const n = value.length;
  if (n === 0) return true;
  let c = value.charCodeAt(0);
  if (c === 0x20 || c === 0x09) return false;
  c = value.charCodeAt(n - 1);
  if (c === 0x20 || c === 0x09) return false;
  for (let i = 0; i < n; i++) {
    c = value.charCodeAt(i);
    if (c < 0x20 && c !== 0x09) return false;
    if (c === 0x7f) return false;
  }
  return true;
}

/**
 * Collects one block. Reused per connection: `begin()` resets it and gives it a fresh header object (which the
 * stream then owns). After decoding, `error` names the first malformation (null when the block is valid) and
 * `finish()` checks the required pseudo-headers. Size accounting per RFC 9113 §6.5.2 (name + value + 32).
 */
export class H2HeaderBlock implements HeaderSink {
  kind: HeaderBlockKind = 'request';
  method = '';
  scheme = '';
  path = '';
  authority = '';
  status = 0;
  /** content-length as declared, -1 when absent. */
  contentLength = -1;
  headers: H2HeaderObject = {};
  error: string | null = null;
  /** The block exceeded the header list size limit (a 431 for requests, a reset otherwise). */
  tooLarge = false;
  private size = 0;
  private sawRegular = false;
  private pseudoSeen = 0;

  constructor(private readonly maxListSize: number) {}

  begin(kind: HeaderBlockKind): void {
    this.kind = kind;
    this.method = '';
    this.scheme = '';
    this.path = '';
    this.authority = '';
    this.status = 0;
    this.contentLength = -1;
    this.headers = {};
    this.error = null;
    this.tooLarge = false;
    this.size = 0;
    this.sawRegular = false;
    this.pseudoSeen = 0;
  }

  header(name: string, value: string): void {
    this.size += name.length + value.length + 32;
    if (this.size > this.maxListSize) {
      this.tooLarge = true;
      this.error ??= 'header list too large';
      return;
    }
    if (this.error !== null) return;
    if (name.charCodeAt(0) === 58 /* ':' */) {
      this.pseudo(name, value);
      return;
    }
    this.sawRegular = true;
    if (!validName(name)) {
      this.error = `invalid header name ${JSON.stringify(name)}`;
      return;
    }
    if (!validValue(value)) {
      this.error = `invalid value for header ${name}`;
      return;
    }
    if (CONNECTION_SPECIFIC.has(name)) {
      this.error = `connection-specific header ${name}`;
      return;
    }
    const headers = this.headers;
    const existing = headers[name];
    if (name === 'te' && value !== 'trailers') {
      this.error = 'te other than "trailers"';
      return;
    }
    if (name === 'content-length') {
      if (!/^[0-9]{1,15}$/.test(value) || (existing !== undefined && existing !== value)) {
        this.error = 'invalid content-length';
        return;
      }
      this.contentLength = Number(value);
    }
    if (existing === undefined) {
      headers[name] = name === 'set-cookie' ? [value] : value;
      return;
    }
    if (name === 'set-cookie') (existing as string[]).push(value);
    // RFC 9113 §8.2.3: cookie crumbs are joined with "; " for HTTP/1.1 and for anyone reading one value.
    else if (name === 'cookie') headers[name] = `${existing as string}; ${value}`;
    else if (!SINGLE_VALUE.has(name) && name !== 'content-length') headers[name] = `${existing as string}, ${value}`;
  }

  private pseudo(name: string, value: string): void {
    if (this.sawRegular) {
      this.error = `pseudo-header ${name} after regular headers`;
      return;
    }
    let bit = 0;
    if (this.kind === 'request') {
      switch (name) {
        case ':method':
          bit = 1;
          this.method = value;
          break;
        case ':scheme':
          bit = 2;
          this.scheme = value;
          break;
        case ':path':
          bit = 4;
          this.path = value;
          break;
        case ':authority':
          bit = 8;
          this.authority = value;
          break;
      }
    } else if (this.kind === 'response' && name === ':status') {
      bit = 16;
      this.status = /^[0-9]{3}$/.test(value) ? Number(value) : 0;
      if (this.status === 0) this.error = 'invalid :status';
    }
    if (bit === 0) {
      this.error = `unexpected pseudo-header ${name}`;
      return;
    }
    if ((this.pseudoSeen & bit) !== 0) {
      this.error = `duplicate ${name}`;
      return;
    }
    if (!validValue(value) || (bit !== 8 && value.length === 0)) {
      this.error = `invalid value for ${name}`;
      return;
    }
    this.pseudoSeen |= bit;
  }

  /** Required pseudo-headers present (RFC 9113 §8.3.1); sets `error` otherwise. CONNECT is not served. */
  finish(): void {
    if (this.error !== null) return;
    if (this.kind === 'request') {
      if (this.method === 'CONNECT') this.error = 'CONNECT is not supported over HTTP/2';
      else if ((this.pseudoSeen & 7) !== 7) this.error = 'missing :method, :scheme or :path';
      else if (this.authority === '') {
        const host = this.headers['host'];
        if (typeof host === 'string') this.authority = host;
      }
    } else if (this.kind === 'response' && (this.pseudoSeen & 16) === 0) {
      this.error = 'missing :status';
    }
  }
}
