// Reads HTTP/1.1 responses from a raw upstream connection: status line and headers, then the body framed by
// Content-Length, chunked coding (decoded, trailers kept) or connection close (RFC 9112 §6.3).

import type * as http from 'node:http';
import { headerName, TCHAR } from './h1-header-names';
import { addHeaderValue } from './h1-header-values';

/** Told about one response, in order: head, body chunks, then end or error (exactly one of them). */
export interface ResponseSink {
  onResponseHead(status: number, headers: http.IncomingHttpHeaders): void;
  /** A slice of the connection's reused read buffer: valid only during the call (copy to keep it). */
  onResponseBody(chunk: Buffer): void;
  /** `reusable`: the connection may carry another request (HTTP/1.1, no close, no stray bytes). */
  onResponseEnd(trailers: http.IncomingHttpHeaders | undefined, reusable: boolean): void;
  onResponseError(reason: string): void;
}

const enum State {
  Head,
  Length,
  ChunkSize,
  ChunkData,
  ChunkDataEnd,
  Trailers,
  UntilClose,
  Done,
}

const CR = 13;
const LF = 10;
const SP = 32;
const HTAB = 9;
/** Response heads above this are refused (node's default maxHeaderSize is 16 KiB; Envoy's 60 KiB). */
const MAX_RESPONSE_HEAD = 60 * 1024;
const MAX_CHUNK_LINE = 4096;


const HEX = new Int8Array(256).fill(-1);
for (let c = 0; c < 10; c += 1) HEX[48 + c] = c;
for (let c = 0; c < 6; c += 1) {
  HEX[65 + c] = 10 + c;
  HEX[97 + c] = 10 + c;
}

type Latin1Buffer = Buffer & { latin1Slice(start: number, end: number): string };

/**
 * One per attempt. Hop-by-hop fields the exchange strips from every non-101 response anyway (Transfer-Encoding,
 * Keep-Alive, Proxy-Connection, Upgrade, HTTP2-Settings, `Connection: keep-alive`) are left out of the header
 * object: deleting them later would turn the object into a slow dictionary; other Connection values stay so the
 * exchange strips the fields they name. Strict where a lax reader would let a response smuggle
 * bytes into the next one: CL with TE, differing duplicate CLs, bad chunk sizes, obs-fold, bare CR/LF and bytes
 * after a complete response all end the exchange with an error (the connection is then closed). 1xx interim
 * responses are skipped (as node's http client does without an 'information' listener); 101 is an error
 * (upgrades never take this path). Cost on the common path (one read holding head and a Content-Length body):
 * one pass over the head, no copy of the body.
 */
export class H1ResponseReader {
  private state = State.Done;
  private pending: Buffer | null = null;
  private remaining = 0;
  private headRequest = false;
  private reusable = true;
  private trailers: http.IncomingHttpHeaders | undefined;
  /** Bytes of trailer lines so far (bounded like a head). */
  private trailerBytes = 0;

  constructor(private readonly sink: ResponseSink) {}

  /** Expect a new response (to a HEAD request: no body whatever the headers say). */
  reset(headRequest: boolean): void {
    this.state = State.Head;
    this.pending = null;
    this.remaining = 0;
    this.headRequest = headRequest;
    this.reusable = true;
    this.trailers = undefined;
    this.trailerBytes = 0;
  }

  get done(): boolean {
    return this.state === State.Done;
  }

  /** True once the status line and headers were delivered. */
  get headReceived(): boolean {
    return this.state !== State.Head;
  }

  /**
   * Feeds `chunk[0..length)` read from the connection. The bytes may be overwritten after the call (reused read
   * buffer): whatever must wait for more bytes is copied.
   */
  push(chunk: Buffer, length: number): void {
    let buf = chunk;
    let end = length;
    if (this.pending !== null) {
      buf = Buffer.concat([this.pending, chunk.subarray(0, length)]);
      end = buf.length;
      this.pending = null;
    }
    let i = 0;
    while (i < end) {
      switch (this.state) {
        case State.Head: {
          const used = this.readHead(buf, i, end);
          if (used === 0) {
            if (end - i > MAX_RESPONSE_HEAD) return this.fail('response head too large');
            this.pending = copy(buf, i, end);
            return;
          }
          if (used < 0) return;
          i += used;
          break;
        }
        case State.Length: {
          const n = Math.min(this.remaining, end - i);
          this.remaining -= n;
          const slice = i === 0 && n === buf.length ? buf : buf.subarray(i, i + n);
          i += n;
          this.sink.onResponseBody(slice);
          if (this.state !== State.Length) return; // aborted from the callback
          if (this.remaining === 0) this.finish(i < end);
          break;
        }
        case State.ChunkSize: {
          const used = this.readChunkSize(buf, i, end);
          if (used <= 0) return;
          i += used;
          break;
        }
        case State.ChunkData: {
          const n = Math.min(this.remaining, end - i);
          this.remaining -= n;
          const slice = buf.subarray(i, i + n);
          i += n;
          this.sink.onResponseBody(slice);
          if (this.state !== State.ChunkData) return;
          if (this.remaining === 0) this.state = State.ChunkDataEnd;
          break;
        }
        case State.ChunkDataEnd: {
          if (end - i < 2) {
            this.pending = copy(buf, i, end);
            return;
          }
          if (buf[i] !== CR || buf[i + 1] !== LF) return this.fail('invalid chunk terminator');
          i += 2;
          this.state = State.ChunkSize;
          break;
        }
        case State.Trailers: {
          const used = this.readTrailers(buf, i, end);
          if (used <= 0) return;
          i += used;
          break;
        }
        case State.UntilClose: {
          this.sink.onResponseBody(buf.subarray(i, end));
          return;
        }
        case State.Done:
          // Bytes after a complete response (or before any request): the connection cannot be trusted.
          this.reusable = false;
          return;
      }
    }
  }

  /** The connection closed (read EOF). Ends a read-until-close body; anything else unfinished is an error. */
  eof(): void {
    if (this.state === State.UntilClose) {
      this.state = State.Done;
      this.sink.onResponseEnd(undefined, false);
    } else if (this.state !== State.Done) {
      this.fail(this.state === State.Head ? 'connection closed before response' : 'connection closed mid-response');
    }
  }

  /** Stops delivering (the attempt was aborted). */
  abandon(): void {
    this.state = State.Done;
    this.pending = null;
    this.reusable = false;
  }

  private fail(reason: string): void {
    this.state = State.Done;
    this.pending = null;
    this.reusable = false;
    this.sink.onResponseError(reason);
  }

  private finish(strayBytes: boolean): void {
    this.state = State.Done;
    const reusable = this.reusable && !strayBytes;
    const trailers = this.trailers;
    this.trailers = undefined;
    this.sink.onResponseEnd(trailers, reusable);
  }

  /** Returns bytes used (>0), 0 when incomplete, -1 after failing. */
  private readHead(buffer: Buffer, start: number, end: number): number {
    const buf = buffer as Latin1Buffer;
    // "HTTP/1.x SSS reason CRLF"
    if (end - start < 14) return end - start >= 5 && !prefixOk(buf, start, end) ? this.failHead('invalid status line') : 0;
    if (!prefixOk(buf, start, end)) return this.failHead('invalid status line');
    const minor = buf[start + 7];
    if ((minor !== 48 && minor !== 49) || buf[start + 8] !== SP) return this.failHead('invalid status line');
    const d0 = (buf[start + 9] as number) - 48;
    const d1 = (buf[start + 10] as number) - 48;
    const d2 = (buf[start + 11] as number) - 48;
    if (d0 < 1 || d0 > 5 || d1 < 0 || d1 > 9 || d2 < 0 || d2 > 9) return this.failHead('invalid status code');
    const status = d0 * 100 + d1 * 10 + d2;
    let i = start + 12;
    if (buf[i] !== SP && buf[i] !== CR) return this.failHead('invalid status line');
    while (i < end && buf[i] !== CR) {
      const c = buf[i] as number;
      if ((c < 0x20 && c !== HTAB) || c === 0x7f) return this.failHead('invalid reason phrase');
      i += 1;
    }
    if (i + 1 >= end) return 0;
    if (buf[i + 1] !== LF) return this.failHead('invalid status line');
    i += 2;
    const headers: http.IncomingHttpHeaders = {};
    let contentLength = -1;
    let chunked = false;
    let transferEncoding = false;
    let close = minor === 48;
    for (;;) {
      if (i >= end) return 0;
      if (buf[i] === CR) {
        if (i + 1 >= end) return 0;
        if (buf[i + 1] !== LF) return this.failHead('invalid header line');
        i += 2;
        break;
      }
      const nameStart = i;
      while (i < end && TCHAR[buf[i] as number] === 1) i += 1;
      if (i >= end) return 0;
      if (buf[i] !== 58 /* ':' */ || i === nameStart) return this.failHead('invalid header name');
      const nameEnd = i;
      i += 1;
      while (i < end && (buf[i] === SP || buf[i] === HTAB)) i += 1;
      const valueStart = i;
      let valueEnd = i;
      while (i < end && buf[i] !== CR) {
        const c = buf[i] as number;
        if ((c < 0x20 && c !== HTAB) || c === 0x7f) return this.failHead('invalid header value');
        i += 1;
        if (c !== SP && c !== HTAB) valueEnd = i;
      }
      if (i + 1 >= end) return 0;
      if (buf[i + 1] !== LF) return this.failHead('invalid header line');
      i += 2;
      if (i < end && (buf[i] === SP || buf[i] === HTAB)) return this.failHead('obs-fold in response');
      const name = headerName(buf, nameStart, nameEnd);
      const value = buf.latin1Slice(valueStart, valueEnd);
      if (name === 'content-length') {
        const n = digits(buf, valueStart, valueEnd);
        if (n < 0) return this.failHead('invalid content-length');
        if (contentLength !== -1 && contentLength !== n) return this.failHead('conflicting content-length');
        contentLength = n;
      } else if (name === 'transfer-encoding') {
        transferEncoding = true;
        chunked = /(?:^|,)\s*chunked\s*$/i.test(value);
        continue;
      } else if (name === 'connection') {
        const lower = value.toLowerCase();
        if (lower === 'keep-alive') continue;
        if (/(?:^|,)\s*close\s*(?:,|$)/.test(lower)) close = true;
      } else if (name === 'keep-alive' || name === 'proxy-connection' || name === 'upgrade' || name === 'http2-settings') {
        continue;
      } else if (name === '__proto__') {
        return this.failHead('invalid header name');
      }
      addHeaderValue(headers, name, value);
    }
    const used = i - start;
    if (status < 200) {
      if (status === 101) return this.failHead('unexpected 101 Switching Protocols');
      return used; // interim response: skip it, the final one follows
    }
    if (transferEncoding && contentLength !== -1) return this.failHead('both content-length and transfer-encoding');
    if (close) this.reusable = false;
    const bodyless = this.headRequest || status === 204 || status === 304;
    if (bodyless) this.state = State.Done;
    else if (chunked) this.state = State.ChunkSize;
    else if (transferEncoding || contentLength === -1) {
      this.state = State.UntilClose;
      this.reusable = false;
    } else if (contentLength === 0) this.state = State.Done;
    else {
      this.state = State.Length;
      this.remaining = contentLength;
    }
    this.sink.onResponseHead(status, headers);
    if (this.state === State.Done) {
      this.finish(i < end);
      return -1;
    }
    return used;
  }

  private failHead(reason: string): number {
    this.fail(reason);
    return -1;
  }

  /** chunk-size [; ext] CRLF. Returns bytes used, 0 when incomplete (kept pending), -1 after failing. */
  private readChunkSize(buf: Buffer, start: number, end: number): number {
    let i = start;
    let size = 0;
    let digits = 0;
    while (i < end && HEX[buf[i] as number] !== -1) {
      size = size * 16 + (HEX[buf[i] as number] as number);
      digits += 1;
      if (digits > 12) return this.failChunk('chunk size too large');
      i += 1;
    }
    if (i >= end) return this.keep(buf, start, end);
    if (digits === 0) return this.failChunk('invalid chunk size');
    if (buf[i] === 0x3b /* ';' chunk extension */) {
      while (i < end && buf[i] !== CR) {
        const c = buf[i] as number;
        if ((c < 0x20 && c !== HTAB) || c === 0x7f) return this.failChunk('invalid chunk extension');
        i += 1;
      }
    } else {
      while (i < end && (buf[i] === SP || buf[i] === HTAB)) i += 1;
    }
    if (i + 1 >= end) return this.keep(buf, start, end);
    if (buf[i] !== CR || buf[i + 1] !== LF) return this.failChunk('invalid chunk size line');
    i += 2;
    if (size === 0) this.state = State.Trailers;
    else {
      this.state = State.ChunkData;
      this.remaining = size;
    }
    return i - start;
  }

  /** Trailer fields then CRLF. */
  private readTrailers(buffer: Buffer, start: number, end: number): number {
    const buf = buffer as Latin1Buffer;
    let i = start;
    // Lines before `i` are already in this.trailers: an incomplete read keeps only the current line.
    for (;;) {
      if (i + 1 >= end) return this.keep(buf, i, end);
      if (buf[i] === CR) {
        if (buf[i + 1] !== LF) return this.failChunk('invalid trailer line');
        i += 2;
        this.finish(i < end);
        return -1;
      }
      const lineEnd = buf.indexOf(CR, i);
      if (lineEnd < 0 || lineEnd + 1 >= end) return this.keep(buf, i, end);
      if (buf[lineEnd + 1] !== LF) return this.failChunk('invalid trailer line');
      const colon = buf.indexOf(58, i);
      if (colon < 0 || colon > lineEnd || colon === i) return this.failChunk('invalid trailer');
      for (let k = i; k < colon; k += 1) if (TCHAR[buf[k] as number] !== 1) return this.failChunk('invalid trailer name');
      for (let k = colon + 1; k < lineEnd; k += 1) {
        const c = buf[k] as number;
        if ((c < 0x20 && c !== HTAB) || c === 0x7f) return this.failChunk('invalid trailer value');
      }
      this.trailerBytes += lineEnd + 2 - i;
      if (this.trailerBytes > MAX_RESPONSE_HEAD) return this.failChunk('trailers too large');
      const name = buf.latin1Slice(i, colon).toLowerCase();
      if (name !== '__proto__') addHeaderValue((this.trailers ??= {}), name, buf.latin1Slice(colon + 1, lineEnd).trim());
      i = lineEnd + 2;
    }
  }

  private keep(buf: Buffer, start: number, end: number): number {
    if (end - start > MAX_CHUNK_LINE + MAX_RESPONSE_HEAD) return this.failChunk('chunk line too long');
    this.pending = copy(buf, start, end);
    return 0;
  }

  private failChunk(reason: string): number {
    this.fail(reason);
    return -1;
  }
}

/** The decimal number in `buf[start..end)` (1 to 15 digits), or -1. */
function digits(buf: Buffer, start: number, end: number): number {
  if (end <= start || end - start > 15) return -1;
  let n = 0;
  for (let k = start; k < end; k += 1) {
    const d = (buf[k] as number) - 48;
    if (d < 0 || d > 9) return -1;
    n = n * 10 + d;
  }
  return n;
}

/** A copy of `buf[start..end)` that survives the read buffer's reuse. */
function copy(buf: Buffer, start: number, end: number): Buffer {
  return Buffer.from(buf.subarray(start, end));
}

/** "HTTP/1." */
function prefixOk(buf: Buffer, start: number, end: number): boolean {
  const prefix = 'HTTP/1.';
  for (let k = 0; k < prefix.length && start + k < end; k += 1) if (buf[start + k] !== prefix.charCodeAt(k)) return false;
  return true;
}
