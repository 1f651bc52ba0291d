// One request/response on a fast-path HTTP/1.1 connection, as the exchange's Downstream: the parsed head, a
// lazily created body stream, and a response written straight to the socket (head and first body bytes in one write).

import * as http from 'node:http';
import type * as net from 'node:net';
import { Readable } from 'node:stream';
import type { Host } from '../../upstream/host';
import type { Downstream, ResponseHeaders } from '../downstream';
import type { AttemptCallbacks, UpstreamAttempt, UpstreamRequestHead } from '../upstream-attempt';
import type { ParsedRequestHead } from './h1-request-parser';
import { openRawHttp1Attempt } from './raw-h1-attempt';
import { serializeHeaders } from './h1-serialize';

/** What the downstream needs from its connection. */
export interface H1DownstreamOwner {
  readonly socket: net.Socket;
  /** True when the connection is draining: the response says `connection: close`. */
  readonly draining: boolean;
  /** The response was fully written (or reset). */
  responseFinished(downstream: H1Downstream): void;
  /** The request body stream wants no more bytes for now / wants more. */
  pauseReading(): void;
  resumeReading(): void;
}

const STATUS_LINES: string[] = [];
for (const code of Object.keys(http.STATUS_CODES)) STATUS_LINES[Number(code)] = `HTTP/1.1 ${code} ${http.STATUS_CODES[code] ?? ''}\r\n`;
const LAST_CHUNK = '0\r\n';
const CRLF = '\r\n';

type Latin1Buffer = Buffer & { latin1Write(text: string, offset: number): number };

/**
 * Invariants: `respond()` at most once; the response is complete after `respond(endStream)`, `end()` or
 * `reset()`, and the owner hears `responseFinished` exactly once. Framing out: the upstream's Content-Length when
 * given, else chunked (trailers go in the last chunk), `content-length: 0` for an empty response; none for HEAD,
 * 1xx, 204 and 304. Cost per request: the head object from the parser, one response head string, one socket write
 * when the body arrives with the head.
 */
export class H1Downstream implements Downstream {
  readonly protocol = 'http1' as const;
  readonly method: string;
  readonly path: string;
  readonly authority: string;
  readonly headers: http.IncomingHttpHeaders;
  readonly hasBody: boolean;
  /** Request body bytes still to read from the connection. */
  bodyRemaining: number;
  /** Close the connection after this response (the request said so, or the connection drains). */
  closeAfter: boolean;
  headersSent = false;
  responseComplete = false;
  private abortedFlag = false;
  private abortCallback: (() => void) | undefined;
  private bodyStream: Readable | undefined;
  private pendingHead: string | null = null;
  private chunked = false;
  private bodyless = false;

  constructor(
    private readonly owner: H1DownstreamOwner,
    head: ParsedRequestHead,
    readonly scheme: string,
  ) {
    this.method = head.method;
    this.path = head.path;
    this.authority = head.host;
    this.headers = head.headers;
    this.hasBody = head.contentLength > 0;
    this.bodyRemaining = head.contentLength;
    this.closeAfter = head.close;
  }

  get body(): Readable {
    if (this.bodyStream === undefined) {
      const owner = this.owner;
      this.bodyStream = new Readable({
        read(): void {
          owner.resumeReading();
        },
      });
      if (this.bodyRemaining === 0) this.bodyStream.push(null);
    }
    return this.bodyStream;
  }

  get aborted(): boolean {
    return this.abortedFlag;
  }

  /** Request body bytes from the connection. */
  pushBody(chunk: Buffer): void {
    const body = this.body;
    this.bodyRemaining -= chunk.length;
    if (!body.push(chunk)) this.owner.pauseReading();
    if (this.bodyRemaining === 0) body.push(null);
  }

  /** The connection closed before the response completed. */
  connectionLost(): void {
    if (this.responseComplete) return;
    this.responseComplete = true;
    this.abortedFlag = true;
    if (this.bodyStream !== undefined && this.bodyRemaining > 0) this.bodyStream.destroy();
    this.abortCallback?.();
  }

  trailers(): http.IncomingHttpHeaders | undefined {
    return undefined; // chunked request bodies (the only ones with trailers) never take the fast path
  }

  /** A plaintext cluster gets the raw keep-alive relay; TLS clusters keep the agent path (undefined). */
  openHttp1Attempt(host: Host, callbacks: AttemptCallbacks, head: UpstreamRequestHead): UpstreamAttempt | undefined {
    return openRawHttp1Attempt(host, callbacks, head);
  }

  respond(status: number, headers: ResponseHeaders, endStream: boolean, _trailersExpected: boolean): void {
    if (this.headersSent || this.responseComplete) return;
    this.headersSent = true;
    this.bodyless = this.method === 'HEAD' || status < 200 || status === 204 || status === 304;
    let head = STATUS_LINES[status] ?? `HTTP/1.1 ${status} Unknown\r\n`;
    head += serializeHeaders(headers, 'connection');
    if (!this.bodyless && headers['content-length'] === undefined) {
      if (endStream) head += 'content-length: 0\r\n';
      else {
        head += 'transfer-encoding: chunked\r\n';
        this.chunked = true;
      }
    }
    // Envoy encodeHeaders: a response that starts before the request was fully received ends the HTTP/1.1
    // connection (the rest of the body is never read); so does a draining connection.
    if (this.owner.draining || this.bodyRemaining > 0) this.closeAfter = true;
    if (this.closeAfter) head += 'connection: close\r\n';
    head += CRLF;
    if (endStream) {
      this.writeText(head);
      this.complete();
    } else {
      this.pendingHead = head;
    }
  }

  /**
   * `chunk` may be a slice of an upstream connection's reused read buffer (RawH1Attempt): it is copied here
   * (into the combined head+body buffer, or as is) before node may hold it for a pending write.
   */
  write(chunk: Buffer): boolean {
    if (this.responseComplete || this.bodyless || chunk.length === 0) return true;
    const socket = this.owner.socket;
    if (socket.destroyed) return true;
    const head = this.pendingHead;
    if (head !== null) {
      // Head and body bytes from the same upstream read leave in one write (one syscall, one packet).
      this.pendingHead = null;
      const prefix = this.chunked ? `${head}${chunk.length.toString(16)}\r\n` : head;
      const out = Buffer.allocUnsafe(prefix.length + chunk.length + (this.chunked ? 2 : 0)) as Latin1Buffer;
      out.latin1Write(prefix, 0);
      chunk.copy(out, prefix.length);
      if (this.chunked) out.latin1Write(CRLF, prefix.length + chunk.length);
      return socket.write(out);
    }
    if (!this.chunked) return socket.write(Buffer.from(chunk));
    socket.cork();
    socket.write(`${chunk.length.toString(16)}\r\n`, 'latin1');
    socket.write(Buffer.from(chunk));
    const ok = socket.write(CRLF, 'latin1');
    socket.uncork();
    return ok;
  }

  onDrain(callback: () => void): void {
    this.owner.socket.once('drain', callback);
  }

  end(trailers: ResponseHeaders | undefined): void {
    if (this.responseComplete) return;
    let tail = '';
    if (this.chunked) tail = trailers === undefined ? `${LAST_CHUNK}${CRLF}` : `${LAST_CHUNK}${serializeHeaders(trailers, '')}${CRLF}`;
    const head = this.pendingHead;
    this.pendingHead = null;
    if (head !== null) this.writeText(head + tail);
    else if (tail !== '') this.writeText(tail);
    this.complete();
  }

  reset(): void {
    if (this.responseComplete) return;
    this.responseComplete = true;
    this.closeAfter = true;
    // HTTP/1.1 has no stream reset: closing the connection is the only signal of a truncated response.
    this.owner.socket.destroy();
    this.owner.responseFinished(this);
  }

  onAbort(callback: () => void): void {
    this.abortCallback = callback;
  }

  private writeText(text: string): void {
    const socket = this.owner.socket;
    if (!socket.destroyed) socket.write(text, 'latin1');
  }

  private complete(): void {
    this.responseComplete = true;
    this.owner.responseFinished(this);
  }
}
