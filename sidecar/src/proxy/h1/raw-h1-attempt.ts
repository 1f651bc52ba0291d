// One HTTP/1.1 upstream attempt on a raw keep-alive socket from the host's RawHttp1Pool: writes the request head
// once, relays the body, reads the response with H1ResponseReader and reports to the exchange.

import type * as http from 'node:http';
import type { Host } from '../../upstream/host';
import type { RawConnection, RawConnectionUser } from '../../upstream/pool/raw-http1-pool';
import type { AttemptCallbacks, UpstreamAttempt, UpstreamRequestHead } from '../upstream-attempt';
import type { AttemptOutcome } from '../retry-state';
import { H1ResponseReader, type ResponseSink } from './h1-response-reader';
import { serializeHeaders } from './h1-serialize';

const CHUNK_END = Buffer.from('0\r\n\r\n', 'latin1');
const CRLF = Buffer.from('\r\n', 'latin1');

/**
 * Same contract as Http1Attempt (agent path), so the exchange's retries, timeouts and observers apply unchanged.
 * Only for plaintext clusters (TLS keeps the agent). The request head is one string written once; a body goes as
 * received (Content-Length) or chunk-coded when it has no length. The connection goes back to the pool only after
 * a complete response to a completely sent request on a connection the reader found reusable.
 */
export class RawH1Attempt implements UpstreamAttempt, RawConnectionUser, ResponseSink {
  readonly protocol = 'http1' as const;
  requestSent = false;
  reusedConnection = false;
  private connection: RawConnection | undefined;
  private readonly reader: H1ResponseReader;
  private head: string;
  private readonly chunked: boolean;
  private readonly isHead: boolean;
  /** Body written before a queued lease got its connection. */
  private queued: Buffer[] | undefined;
  private ended = false;
  private done = false;
  private drainCallback: (() => void) | undefined;

  constructor(
    readonly host: Host,
    private readonly callbacks: AttemptCallbacks,
    head: UpstreamRequestHead,
  ) {
    const headers = head.headers;
    this.chunked = head.hasBody && headers['content-length'] === undefined;
    this.isHead = head.method === 'HEAD';
    let text = `${head.method} ${head.path} HTTP/1.1\r\nhost: ${head.authority}\r\n`;
    text += serializeHeaders(headers, 'host');
    if (this.chunked) text += 'transfer-encoding: chunked\r\n';
    this.head = `${text}\r\n`;
    this.reader = new H1ResponseReader(this);
    const connection = host.rawHttp1.acquire(this);
    if (connection !== undefined) this.attach(connection);
    if (!head.hasBody) this.end();
  }

  private attach(connection: RawConnection): void {
    this.connection = connection;
    this.reusedConnection = connection.requests > 0;
    connection.requests += 1;
    this.reader.reset(this.isHead);
    const socket = connection.socket;
    const queued = this.queued;
    this.queued = undefined;
    if (queued === undefined) socket.write(this.head, 'latin1');
    else {
      socket.cork();
      socket.write(this.head, 'latin1');
      for (const chunk of queued) socket.write(chunk);
      socket.uncork();
    }
    this.head = '';
    if (this.drainCallback !== undefined && !socket.writableNeedDrain) {
      const callback = this.drainCallback;
      this.drainCallback = undefined;
      callback();
    }
  }

  // === RawConnectionUser ===

  onLease(connection: RawConnection): void {
    if (this.done) {
      connection.pool.release(connection, true);
      return;
    }
    this.attach(connection);
  }

  onConnectionData(buffer: Buffer, length: number): void {
    if (!this.done) this.reader.push(buffer, length);
  }

  onConnectionEnd(): void {
    if (!this.done) this.reader.eof();
  }

  onConnectionClosed(error: Error | undefined): void {
    const connected = this.connection?.connected === true;
    if (this.done) return;
    if (error === undefined) {
      this.reader.eof();
      if (this.done) return;
    }
    this.connection = undefined;
    this.fail(error ?? Object.assign(new Error('upstream connection closed'), { code: 'ECONNRESET' }), connected);
  }

  // === ResponseSink ===

  onResponseHead(status: number, headers: http.IncomingHttpHeaders): void {
    if (this.done) return;
    this.requestSent = true;
    this.callbacks.onUpstreamHeaders(this, status, headers, false);
  }

  onResponseBody(chunk: Buffer): void {
    if (!this.done) this.callbacks.onUpstreamData(this, chunk);
  }

  onResponseEnd(trailers: http.IncomingHttpHeaders | undefined, reusable: boolean): void {
    if (this.done) return;
    this.done = true;
    const connection = this.connection;
    this.connection = undefined;
    // A response that ends before the request was fully sent leaves the request framing open: never reuse.
    if (connection !== undefined) {
      if (connection.socket.isPaused()) connection.socket.resume();
      connection.pool.release(connection, reusable && this.ended);
    }
    this.callbacks.onUpstreamEnd(this, trailers);
  }

  onResponseError(reason: string): void {
    this.fail(Object.assign(new Error(`upstream protocol error: ${reason}`), { code: 'HPE_INVALID_RESPONSE' }), true);
  }

  /** `connected`: the TCP connection had been established (else it is a connect failure). */
  private fail(error: Error, connected: boolean): void {
    if (this.done) return;
    this.done = true;
    const connection = this.connection;
    this.connection = undefined;
    if (connection !== undefined) connection.pool.release(connection, false);
    let outcome: AttemptOutcome;
    if (!connected && !this.reader.headReceived) outcome = { kind: 'connect_failure' };
    else outcome = { kind: 'reset', beforeRequestSent: !this.requestSent && !this.reader.headReceived && !this.ended };
    this.callbacks.onUpstreamFailure(this, outcome, error);
  }

  // === UpstreamAttempt ===

  write(chunk: Buffer): boolean {
    if (this.done) return true;
    this.requestSent = true;
    const connection = this.connection;
    if (connection === undefined) {
      const queued = (this.queued ??= []);
      if (!this.chunked) queued.push(chunk);
      else if (chunk.length > 0) queued.push(Buffer.from(`${chunk.length.toString(16)}\r\n`, 'latin1'), chunk, CRLF);
      return false;
    }
    const socket = connection.socket;
    if (!this.chunked) return socket.write(chunk);
    if (chunk.length === 0) return true;
    socket.cork();
    socket.write(`${chunk.length.toString(16)}\r\n`, 'latin1');
    socket.write(chunk);
    const ok = socket.write(CRLF);
    socket.uncork();
    return ok;
  }

  onDrain(callback: () => void): void {
    const connection = this.connection;
    if (connection === undefined) this.drainCallback = callback;
    else connection.socket.once('drain', callback);
  }

  end(): void {
    if (this.ended) return;
    this.ended = true;
    if (!this.chunked || this.done) return;
    const connection = this.connection;
    if (connection === undefined) (this.queued ??= []).push(CHUNK_END);
    else connection.socket.write(CHUNK_END);
  }

  pause(): void {
    if (!this.done) this.connection?.socket.pause();
  }

  resume(): void {
    if (!this.done) this.connection?.socket.resume();
  }

  abort(): void {
    if (this.done) return;
    this.done = true;
    this.reader.abandon();
    const connection = this.connection;
    this.connection = undefined;
    if (connection !== undefined) connection.pool.release(connection, false);
    else this.host.rawHttp1.cancel(this);
  }
}

/** The raw keep-alive relay for a plaintext cluster; undefined for TLS clusters (they keep the agent path). */
export function openRawHttp1Attempt(host: Host, callbacks: AttemptCallbacks, head: UpstreamRequestHead): UpstreamAttempt | undefined {
  return host.poolSettings.tls === null ? new RawH1Attempt(host, callbacks, head) : undefined;
}
