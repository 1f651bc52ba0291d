// One upstream attempt of an exchange: an HTTP/1.1 request on the host's keep-alive pool, or a stream on its
// HTTP/2 session. Reports headers, body, end and failures (classified for retries and local replies).

import * as http from 'node:http';
import type * as http2 from 'node:http2';
import { FrameFlag, H2ErrorCode } from '../codec/http2/h2-constants';
import type * as net from 'node:net';
import type { Host } from '../upstream/host';
import type { AttemptOutcome } from './retry-state';

/** What the exchange learns from an attempt. One object (the exchange) implements it; no per-event closures there. */
export interface AttemptCallbacks {
  onUpstreamHeaders(attempt: UpstreamAttempt, status: number, headers: http.IncomingHttpHeaders, endStream: boolean): void;
  onUpstreamData(attempt: UpstreamAttempt, chunk: Buffer): void;
  onUpstreamEnd(attempt: UpstreamAttempt, trailers: http.IncomingHttpHeaders | undefined): void;
  /** The attempt failed (before or after response headers). Called at most once, never after `onUpstreamEnd`. */
  onUpstreamFailure(attempt: UpstreamAttempt, outcome: AttemptOutcome, error: Error): void;
}

/** The request head for upstream, already cleaned and rewritten by the exchange. */
export interface UpstreamRequestHead {
  readonly method: string;
  readonly path: string;
  readonly authority: string;
  readonly scheme: string;
  /** Lower-case headers without pseudo-headers and without hop-by-hop ones (except an upgrade's). */
  readonly headers: http.OutgoingHttpHeaders;
  readonly hasBody: boolean;
}

/** One try against one host. `abort()` is idempotent and silences further callbacks. */
export interface UpstreamAttempt {
  readonly host: Host;
  readonly protocol: 'http1' | 'http2';
  /** True once any request byte may have reached the host (for `reset-before-request`). */
  readonly requestSent: boolean;
  /** The connection was reused from the pool (an idle keep-alive socket the server may have closed meanwhile). */
  readonly reusedConnection: boolean;
  write(chunk: Buffer): boolean;
  onDrain(callback: () => void): void;
  end(): void;
  pause(): void;
  resume(): void;
  abort(): void;
}

const CONNECT_ERROR_CODES: ReadonlySet<string> = new Set(['ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH', 'EADDRNOTAVAIL', 'ETIMEDOUT', 'ENOTFOUND', 'EAI_AGAIN', 'ECONNABORTED', 'ERR_TLS_CERT_ALTNAME_INVALID', 'UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'DEPTH_ZERO_SELF_SIGNED_CERT', 'SELF_SIGNED_CERT_IN_CHAIN', 'CERT_HAS_EXPIRED', 'EPROTO', 'ERR_MESHLET_CONNECT_TIMEOUT', 'ERR_MESHLET_TLS_UNAVAILABLE']);

function errorCode(error: Error): string {
  return String((error as NodeJS.ErrnoException).code ?? '');
}

/** HTTP/1.1 attempt over the host's `http.Agent` (keep-alive, bounded, LIFO). */
export class Http1Attempt implements UpstreamAttempt {
  readonly protocol = 'http1' as const;
  requestSent = false;
  reusedConnection = false;
  private readonly request: http.ClientRequest;
  private response: http.IncomingMessage | undefined;
  private connected = false;
  private done = false;

  constructor(
    readonly host: Host,
    private readonly callbacks: AttemptCallbacks,
    head: UpstreamRequestHead,
  ) {
    const headers = head.headers;
    headers['host'] = head.authority;
    this.request = http.request({
      agent: host.http1.agent,
      host: host.address,
      port: host.port,
      method: head.method,
      path: head.path,
      headers,
      setHost: false,
    });
    const request = this.request;
    request.on('socket', (socket: net.Socket) => {
      if (socket.connecting) {
        // Over TLS the connection is usable (and verified) only at secureConnect.
        socket.once((socket as { encrypted?: boolean }).encrypted === true ? 'secureConnect' : 'connect', () => {
          this.connected = true;
        });
      } else {
        this.connected = true;
        this.reusedConnection = true;
      }
    });
    request.on('response', (response: http.IncomingMessage) => this.onResponse(response));
    request.on('error', (error: Error) => this.onError(error));
    if (!head.hasBody) this.end();
  }

  private onResponse(response: http.IncomingMessage): void {
    if (this.done) {
      response.resume();
      return;
    }
    this.response = response;
    this.requestSent = true;
    const status = response.statusCode ?? 502;
    this.callbacks.onUpstreamHeaders(this, status, response.headers, false);
    if (this.done) return;
    response.on('data', (chunk: Buffer) => {
      if (!this.done) this.callbacks.onUpstreamData(this, chunk);
    });
    response.on('end', () => {
      if (this.done) return;
      this.done = true;
      const trailers = response.trailers;
      this.callbacks.onUpstreamEnd(this, trailers !== undefined && Object.keys(trailers).length > 0 ? trailers : undefined);
    });
    response.on('error', (error: Error) => this.onError(error));
    response.on('aborted', () => this.onError(Object.assign(new Error('upstream response aborted'), { code: 'ECONNRESET' })));
  }

  private onError(error: Error): void {
    if (this.done) return;
    this.done = true;
    let outcome: AttemptOutcome;
    // Anything before the TCP (and TLS) connection is up is a connect failure (refused, timeout, TLS verification).
    if (!this.connected) outcome = { kind: 'connect_failure' };
    else outcome = { kind: 'reset', beforeRequestSent: !this.requestSent && this.response === undefined && !this.request.writableEnded };
    this.callbacks.onUpstreamFailure(this, outcome, error);
  }

  write(chunk: Buffer): boolean {
    this.requestSent = true;
    return this.request.write(chunk);
  }

  onDrain(callback: () => void): void {
    this.request.once('drain', callback);
  }

  end(): void {
    this.request.end();
  }

  pause(): void {
    this.response?.pause();
  }

  resume(): void {
    this.response?.resume();
  }

  abort(): void {
    if (this.done) return;
    this.done = true;
    this.request.destroy();
    this.response?.destroy();
  }
}

// node:http2's constants, from the codec's (RFC 9113 values): node:http2 itself loads only when the fallback runs.
const HTTP2_HEADER_STATUS = ':status';
const NGHTTP2_REFUSED_STREAM: number = H2ErrorCode.REFUSED_STREAM;
const NGHTTP2_CANCEL: number = H2ErrorCode.CANCEL;
const NGHTTP2_FLAG_END_STREAM: number = FrameFlag.END_STREAM;
const END_STREAM_OPTIONS: http2.ClientSessionRequestOptions = Object.freeze({ endStream: true });
const OPEN_STREAM_OPTIONS: http2.ClientSessionRequestOptions = Object.freeze({ endStream: false });

/** HTTP/2 attempt: one stream on the host's multiplexed session (gRPC stays HTTP/2 end to end, with trailers). */
export class Http2Attempt implements UpstreamAttempt {
  readonly protocol = 'http2' as const;
  requestSent = false;
  readonly reusedConnection: boolean;
  private readonly stream: http2.ClientHttp2Stream;
  private trailers: http.IncomingHttpHeaders | undefined;
  private gotHeaders = false;
  private done = false;

  constructor(
    readonly host: Host,
    private readonly callbacks: AttemptCallbacks,
    head: UpstreamRequestHead,
  ) {
    const session = host.http2.session();
    this.reusedConnection = !session.connecting;
    const headers: http2.OutgoingHttpHeaders = { ...head.headers };
    delete headers['host'];
    headers[':method'] = head.method;
    headers[':path'] = head.path;
    headers[':authority'] = head.authority;
    headers[':scheme'] = head.scheme;
    this.stream = session.request(headers, head.hasBody ? OPEN_STREAM_OPTIONS : END_STREAM_OPTIONS);
    const stream = this.stream;
    stream.on('response', (responseHeaders: http2.IncomingHttpHeaders & http2.IncomingHttpStatusHeader, flags: number) => {
      if (this.done) return;
      this.gotHeaders = true;
      this.requestSent = true;
      const status = Number(responseHeaders[HTTP2_HEADER_STATUS] ?? 502);
      this.callbacks.onUpstreamHeaders(this, status, responseHeaders as http.IncomingHttpHeaders, (flags & NGHTTP2_FLAG_END_STREAM) !== 0);
    });
    stream.on('data', (chunk: Buffer) => {
      if (!this.done) this.callbacks.onUpstreamData(this, chunk);
    });
    stream.on('trailers', (trailers: http.IncomingHttpHeaders) => {
      this.trailers = trailers;
    });
    stream.on('end', () => {
      if (this.done || !this.gotHeaders) return;
      this.done = true;
      this.callbacks.onUpstreamEnd(this, this.trailers);
    });
    stream.on('error', (error: Error) => this.onError(error));
    stream.on('close', () => {
      if (this.done) return;
      const rst = stream.rstCode;
      this.onError(Object.assign(new Error(`upstream stream closed (RST_STREAM code ${rst ?? 'none'})`), { code: rst === NGHTTP2_REFUSED_STREAM ? 'REFUSED_STREAM' : 'ECONNRESET' }));
    });
  }

  private onError(error: Error): void {
    if (this.done) return;
    this.done = true;
    const code = errorCode(error);
    let outcome: AttemptOutcome;
    if (code === 'REFUSED_STREAM' || /REFUSED_STREAM/.test(error.message)) outcome = { kind: 'refused_stream' };
    else if (!this.gotHeaders && CONNECT_ERROR_CODES.has(code)) outcome = { kind: 'connect_failure' };
    else outcome = { kind: 'reset', beforeRequestSent: !this.requestSent && !this.gotHeaders };
    this.callbacks.onUpstreamFailure(this, outcome, error);
  }

  write(chunk: Buffer): boolean {
    this.requestSent = true;
    return this.stream.write(chunk);
  }

  onDrain(callback: () => void): void {
    this.stream.once('drain', callback);
  }

  end(): void {
    if (!this.stream.writableEnded) this.stream.end();
  }

  pause(): void {
    this.stream.pause();
  }

  resume(): void {
    this.stream.resume();
  }

  abort(): void {
    if (this.done) return;
    this.done = true;
    if (!this.stream.destroyed) this.stream.close(NGHTTP2_CANCEL);
  }
}
