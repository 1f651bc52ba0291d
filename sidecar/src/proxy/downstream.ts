// The downstream side of one HTTP exchange, the same for HTTP/1.1 (node:http) and HTTP/2 (node:http2 streams).

import type * as http from 'node:http';
import type * as http2 from 'node:http2';
import { FrameFlag } from '../codec/http2/h2-constants';
import type { Readable } from 'node:stream';
import type { Host } from '../upstream/host';
import type { AttemptCallbacks, UpstreamAttempt, UpstreamRequestHead } from './upstream-attempt';

export type HttpProtocol = 'http1' | 'http2';

/**
 * The request body as the exchange reads it: node's Readable satisfies it, and so do the own codecs' lighter
 * sources (proxy/h2). The exchange registers one 'data' and one 'end' listener.
 */
export interface RequestBody {
  on(event: 'data', listener: (chunk: Buffer) => void): unknown;
  on(event: 'end', listener: () => void): unknown;
  pause(): unknown;
  resume(): unknown;
}

/** Response headers as node takes them (lower-case names; no pseudo-headers). */
export type ResponseHeaders = http.OutgoingHttpHeaders;

/**
 * One downstream request/response. The exchange reads the request from it and writes the response through it;
 * the adapter hides whether node gave us `IncomingMessage`/`ServerResponse` or an `Http2Stream`.
 * Invariants: `respond()` at most once; `write`/`end` only after `respond()` without endStream.
 */
export interface Downstream {
  readonly protocol: HttpProtocol;
  readonly method: string;
  /** Request target as received: path and query. */
  readonly path: string;
  /** Host header (HTTP/1.1) or :authority (HTTP/2). */
  readonly authority: string;
  /** `http` or `https`, from the connection (TLS terminated or not). */
  readonly scheme: string;
  /** Request headers, lower-case, without pseudo-headers. Mutable: the exchange rewrites them in place for upstream. */
  readonly headers: http.IncomingHttpHeaders;
  /** The request body (request trailers, when any, come from `trailers()` once it ended). */
  readonly body: RequestBody;
  /** False when the request can have no body (HTTP/2 END_STREAM on headers, HTTP/1.1 without length or chunking). */
  readonly hasBody: boolean;
  readonly headersSent: boolean;
  /** True once the client went away or reset the stream. */
  readonly aborted: boolean;
  /** Request trailers, once the body ended (HTTP/2, or chunked HTTP/1.1). */
  trailers(): http.IncomingHttpHeaders | undefined;
  /**
   * Sends the response head. `endStream`: no body follows. `trailersExpected`: the body will end with trailers
   * (gRPC); HTTP/2 then keeps the stream open for a trailing HEADERS frame.
   */
  respond(status: number, headers: ResponseHeaders, endStream: boolean, trailersExpected: boolean): void;
  /** Writes a body chunk; false means wait for `onDrain`. */
  write(chunk: Buffer): boolean;
  onDrain(callback: () => void): void;
  /** Ends the response, with trailers when given and the protocol can carry them. */
  end(trailers: ResponseHeaders | undefined): void;
  /** Aborts the response after headers were sent (HTTP/2 RST_STREAM, HTTP/1.1 connection close). */
  reset(): void;
  /** Called once if the client goes away before the response completed. */
  onAbort(callback: () => void): void;
  /**
   * Optional: an HTTP/1.1 upstream attempt on this codec's own transport (the fast HTTP/1.1 path's raw keep-alive
   * sockets). undefined (or no method) = the agent path (Http1Attempt).
   */
  openHttp1Attempt?(host: Host, callbacks: AttemptCallbacks, head: UpstreamRequestHead): UpstreamAttempt | undefined;
}

/** The error a reset stream is destroyed with (node answers it with RST_STREAM INTERNAL_ERROR). */
const STREAM_RESET = Object.freeze(new Error('stream reset by meshlet'));
const WAIT_FOR_TRAILERS: http2.ServerStreamResponseOptions = Object.freeze({ waitForTrailers: true });
const OPEN_STREAM: http2.ServerStreamResponseOptions = Object.freeze({});

/** HTTP/1.1 request/response pair. */
export class Http1Downstream implements Downstream {
  readonly protocol = 'http1' as const;
  readonly method: string;
  readonly path: string;
  readonly authority: string;
  readonly hasBody: boolean;
  private abortedFlag = false;

  constructor(
    private readonly req: http.IncomingMessage,
    private readonly res: http.ServerResponse,
    readonly scheme: string,
  ) {
    this.method = req.method ?? 'GET';
    this.path = req.url ?? '/';
    this.authority = req.headers.host ?? '';
    const te = req.headers['transfer-encoding'];
    const length = req.headers['content-length'];
    this.hasBody = te !== undefined || (length !== undefined && length !== '0');
  }

  get headers(): http.IncomingHttpHeaders {
    return this.req.headers;
  }

  get body(): Readable {
    return this.req;
  }

  get headersSent(): boolean {
    return this.res.headersSent;
  }

  get aborted(): boolean {
    return this.abortedFlag || this.res.destroyed;
  }

  trailers(): http.IncomingHttpHeaders | undefined {
    const trailers = this.req.trailers;
    return trailers !== undefined && Object.keys(trailers).length > 0 ? trailers : undefined;
  }

  respond(status: number, headers: ResponseHeaders, endStream: boolean, _trailersExpected: boolean): void {
    // Envoy encodeHeaders: a response before the request was fully received ends the HTTP/1.1 connection.
    if (!this.req.complete) headers['connection'] = 'close';
    this.res.writeHead(status, headers);
    if (endStream) this.res.end();
  }

  write(chunk: Buffer): boolean {
    return this.res.write(chunk);
  }

  onDrain(callback: () => void): void {
    this.res.once('drain', callback);
  }

  end(trailers: ResponseHeaders | undefined): void {
    // Node sends trailers only with chunked encoding; with a content-length they are dropped, as any
    // HTTP/1.1 proxy must (RFC 9110 §6.5).
    if (trailers !== undefined && !this.res.hasHeader('content-length')) this.res.addTrailers(trailers as http.OutgoingHttpHeaders);
    this.res.end();
  }

  reset(): void {
    this.res.destroy();
  }

  onAbort(callback: () => void): void {
    // 'close' on the response before it finished = the client went away.
    this.res.once('close', () => {
      if (!this.res.writableFinished) {
        this.abortedFlag = true;
        callback();
      }
    });
  }
}

/** HTTP/2 stream (native API, so trailers-only gRPC responses and trailers are exact). */
export class Http2Downstream implements Downstream {
  readonly protocol = 'http2' as const;
  readonly method: string;
  readonly path: string;
  readonly authority: string;
  readonly headers: http.IncomingHttpHeaders;
  readonly hasBody: boolean;
  private requestTrailers: http.IncomingHttpHeaders | undefined;
  private pendingTrailers: ResponseHeaders | undefined;
  private abortedFlag = false;
  /** The response was fully handed to node (END_STREAM queued). */
  private completed = false;
  private wantsTrailers = false;

  constructor(
    private readonly stream: http2.ServerHttp2Stream,
    rawHeaders: http2.IncomingHttpHeaders,
    flags: number,
    readonly scheme: string,
  ) {
    this.method = String(rawHeaders[':method'] ?? 'GET');
    this.path = String(rawHeaders[':path'] ?? '/');
    this.authority = String(rawHeaders[':authority'] ?? rawHeaders.host ?? '');
    const headers: http.IncomingHttpHeaders = {};
    for (const name in rawHeaders) {
      if (name.charCodeAt(0) !== 58 /* ':' */) headers[name] = rawHeaders[name] as string | string[];
    }
    this.headers = headers;
    this.hasBody = (flags & FrameFlag.END_STREAM) === 0;
    stream.once('trailers', (trailers: http.IncomingHttpHeaders) => {
      this.requestTrailers = trailers;
    });
    stream.on('wantTrailers', () => {
      this.stream.sendTrailers(this.pendingTrailers ?? {});
    });
  }

  get body(): Readable {
    return this.stream;
  }

  get headersSent(): boolean {
    return this.stream.headersSent;
  }

  get aborted(): boolean {
    return this.abortedFlag || this.stream.destroyed;
  }

  trailers(): http.IncomingHttpHeaders | undefined {
    return this.requestTrailers;
  }

  respond(status: number, headers: ResponseHeaders, endStream: boolean, trailersExpected: boolean): void {
    if (this.stream.destroyed) return;
    const out: http2.OutgoingHttpHeaders = { ...headers, ':status': status };
    if (endStream) this.completed = true;
    this.wantsTrailers = !endStream && trailersExpected;
    this.stream.respond(out, endStream ? { endStream: true } : this.wantsTrailers ? WAIT_FOR_TRAILERS : OPEN_STREAM);
  }

  write(chunk: Buffer): boolean {
    return this.stream.write(chunk);
  }

  onDrain(callback: () => void): void {
    this.stream.once('drain', callback);
  }

  end(trailers: ResponseHeaders | undefined): void {
    if (this.stream.destroyed) return;
    this.completed = true;
    this.pendingTrailers = trailers;
    // Trailers that arrive on a response we did not open for them are dropped (the head is already sent).
    this.stream.end();
  }

  reset(): void {
    this.completed = true;
    // Not close(code): on a stream whose writable side is open, node ends it (END_STREAM) before the RST_STREAM,
    // so the client would see a clean, truncated response. destroy(error) sends RST_STREAM(INTERNAL_ERROR) at once.
    if (!this.stream.destroyed) this.stream.destroy(STREAM_RESET);
  }

  onAbort(callback: () => void): void {
    this.stream.once('close', () => {
      if (!this.completed) {
        this.abortedFlag = true;
        callback();
      }
    });
  }
}
