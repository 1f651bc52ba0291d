// The fast HTTP/1.1 path for one downstream connection: reads request heads with the strict subset parser, runs
// each request through the exchange (one at a time, pipelined bytes held), and hands the connection to node:http
// (llhttp) at a request boundary whenever a request is outside what the fast path serves.

import type * as net from 'node:net';
import type { HttpConnectionManagerConfig } from '../../config/listener-config';
import type { DownstreamConnectionInfo } from '../../listener/connection-handlers';
import type { Downstream } from '../downstream';
import { requestHeaderTimeoutReply } from '../local-reply';
import { H1Downstream, type H1DownstreamOwner } from './h1-downstream';
import { HEAD_DEFER, HEAD_INCOMPLETE, parseRequestHead, type ParsedRequestHead } from './h1-request-parser';
import { readIntoSharedBuffer, restoreStreamReads } from './socket-read-buffer';

/** The per-connection state the proxy keeps (http-proxy's ConnectionContext): limits, idle timer, drain. */
export interface H1ConnectionContext {
  readonly info: DownstreamConnectionInfo;
  readonly hcm: HttpConnectionManagerConfig;
  readonly scheme: string;
  readonly draining: boolean;
  /** A request started (counts it, stops the idle timer, may start draining at max_requests_per_connection). */
  requestStarted(): void;
  /** The request is over (ends the socket when draining and idle, else re-arms the idle timer). */
  requestDone(): void;
  /** request_headers_timeout expired on this connection (counted as `downstream_rq_header_timeout`). */
  requestHeadersTimedOut(): void;
}

/** What the connection needs from the proxy. */
export interface H1ConnectionOwner<C extends H1ConnectionContext> {
  /** Runs one request (the exchange). */
  serve(downstream: Downstream, context: C): void;
  /** node:http takes the (paused) socket, with the unread bytes unshifted back into it. */
  fallback(socket: net.Socket): void;
}

/** Pipelined bytes held while a response is pending before reading stops (backpressure on the client). */
const MAX_HELD_BYTES = 64 * 1024;

/**
 * Owns the socket's reads from hand-over until close or fallback. Invariants: at most one request in flight;
 * the next head is parsed only after the response completed and the request body was read; fallback happens only
 * between requests (no response pending), so llhttp sees the byte stream from a request boundary on. Handlers are
 * bound once per connection; per request: the parsed head's header object, one H1Downstream, the exchange.
 */
export class H1Connection<C extends H1ConnectionContext> implements H1DownstreamOwner {
  private buffer: Buffer | null = null;
  private current: H1Downstream | null = null;
  private readonly head: ParsedRequestHead = { method: '', path: '', host: '', headers: {}, contentLength: 0, close: false };
  private closed = false;
  private clientEnded = false;
  private parsing = false;
  private readingPaused = false;
  /** HCM request_headers_timeout: armed while a partial request head waits for the rest (none when 0). */
  private headTimer: NodeJS.Timeout | undefined;
  /** Reads land in a shared reused buffer (onread) instead of 'data' events: bytes kept past a read are copied. */
  private readonly sharedReads: boolean;
  private readonly onDataBound = (chunk: Buffer): void => this.onBytes(chunk, chunk.length, false);
  private readonly onEndBound = (): void => this.onEnd();
  private readonly onCloseBound = (): void => this.onClose();

  constructor(
    readonly socket: net.Socket,
    private readonly context: C,
    private readonly owner: H1ConnectionOwner<C>,
  ) {
    socket.setNoDelay(true);
    socket.on('end', this.onEndBound);
    socket.on('close', this.onCloseBound);
    socket.on('error', ignoreError);
    this.sharedReads = readIntoSharedBuffer(socket, (buffer, length) => this.onBytes(buffer, length, true));
    if (!this.sharedReads) socket.on('data', this.onDataBound);
    socket.resume();
  }

  get draining(): boolean {
    return this.context.draining;
  }

  // === reading ===

  /** `data[0..length)` read from the socket; `transient`: the bytes are overwritten after the call. */
  private onBytes(data: Buffer, length: number, transient: boolean): void {
    if (this.closed) return;
    let start = 0;
    const current = this.current;
    if (current !== null && current.bodyRemaining > 0) {
      const n = Math.min(length, current.bodyRemaining);
      current.pushBody(slice(data, 0, n, transient));
      start = n;
      this.maybeNext(current);
      if (start === length) return;
    }
    if (this.buffer === null && this.current === null && !this.parsing) {
      // The usual case: whole heads in this read, parsed where they lie; only a partial tail is kept.
      const stop = this.serveFrom(data, start, length, transient);
      if (stop < length && !this.closed) this.hold(slice(data, stop, length, transient));
      return;
    }
    this.hold(slice(data, start, length, transient));
    if (this.current === null) this.parseNext();
  }

  /** Keeps bytes that wait for the current response (or complete a partial head), bounded by MAX_HELD_BYTES. */
  private hold(bytes: Buffer): void {
    this.buffer = this.buffer === null ? bytes : Buffer.concat([this.buffer, bytes]);
    // A request head started and is not complete: Envoy's request_headers_timeout runs until it is.
    if (this.current === null && this.headTimer === undefined && this.context.hcm.requestHeadersTimeoutMs > 0) {
      this.headTimer = setTimeout(onRequestHeadTimeout, this.context.hcm.requestHeadersTimeoutMs, this);
    }
    if (this.current !== null && this.buffer.length > MAX_HELD_BYTES) this.pauseReading();
  }

  /** Serves every complete request in the held bytes, one at a time. */
  private parseNext(): void {
    const buf = this.buffer;
    if (this.parsing || buf === null) return;
    this.buffer = null;
    const stop = this.serveFrom(buf, 0, buf.length, false);
    if (stop < buf.length && !this.closed) this.hold(buf.subarray(stop));
  }

  /**
   * Serves the requests in `buf[start..end)` while none is in flight; returns where it stopped (a partial head,
   * or the bytes after the request now in flight). Hands the connection over at a head the fast path defers.
   */
  private serveFrom(buf: Buffer, start: number, end: number, transient: boolean): number {
    this.parsing = true;
    let i = start;
    try {
      while (i < end && this.current === null && !this.closed) {
        const used = parseRequestHead(buf, i, end, this.head);
        if (used === HEAD_INCOMPLETE) return i;
        if (used === HEAD_DEFER) {
          this.handOver(slice(buf, i, end, transient));
          return end;
        }
        if (this.headTimer !== undefined) this.clearHeadTimer();
        const downstream = new H1Downstream(this, this.head, this.context.scheme);
        i += used;
        const take = Math.min(end - i, downstream.bodyRemaining);
        if (take > 0) {
          downstream.pushBody(slice(buf, i, i + take, transient));
          i += take;
        }
        this.current = downstream;
        this.context.requestStarted();
        this.owner.serve(downstream, this.context);
      }
      return i;
    } finally {
      this.parsing = false;
    }
  }

  /** Gives the connection to node:http: everything not yet parsed goes back into the socket for llhttp. */
  private handOver(unparsed: Buffer): void {
    const socket = this.socket;
    if (this.sharedReads) restoreStreamReads(socket);
    else socket.removeListener('data', this.onDataBound);
    socket.removeListener('end', this.onEndBound);
    socket.removeListener('close', this.onCloseBound);
    socket.removeListener('error', ignoreError);
    socket.pause();
    if (this.headTimer !== undefined) this.clearHeadTimer();
    const held = this.buffer;
    this.buffer = null;
    this.closed = true;
    const rest = held === null ? unparsed : Buffer.concat([unparsed, held]);
    if (rest.length > 0) socket.unshift(rest);
    this.owner.fallback(socket);
  }

  private onEnd(): void {
    this.clientEnded = true;
    if (this.current === null && !this.closed) this.socket.end();
  }

  private onClose(): void {
    this.closed = true;
    this.buffer = null;
    if (this.headTimer !== undefined) this.clearHeadTimer();
    const current = this.current;
    if (current !== null) {
      this.current = null;
      current.connectionLost();
      this.context.requestDone();
    }
  }

  // === H1DownstreamOwner ===

  responseFinished(downstream: H1Downstream): void {
    if (downstream.bodyRemaining > 0 && downstream === this.current) {
      // The response completed before the request body was read (a local reply, an early upstream answer): it said
      // `connection: close`, and the connection ends now (Envoy doEndStream resets the stream, closing HTTP/1.1).
      this.current = null;
      this.context.requestDone();
      this.closeSocket();
      return;
    }
    this.maybeNext(downstream);
  }

  pauseReading(): void {
    if (this.readingPaused) return;
    this.readingPaused = true;
    this.socket.pause();
  }

  resumeReading(): void {
    if (!this.readingPaused) return;
    this.readingPaused = false;
    this.socket.resume();
  }

  private clearHeadTimer(): void {
    clearTimeout(this.headTimer);
    this.headTimer = undefined;
  }

  /**
   * @internal request_headers_timeout expired with a partial head: 408 "request header timeout" (no response flag),
   * then the connection closes (Envoy onRequestHeaderTimeout).
   */
  requestHeadTimedOut(): void {
    this.headTimer = undefined;
    if (this.closed || this.current !== null) return;
    this.context.requestHeadersTimedOut();
    this.socket.write(requestHeaderTimeoutReply(), 'latin1');
    this.closeSocket();
  }

  /**
   * Ends the connection: FIN after the response, then what the client still sends is read and dropped until it
   * closes too, or destroyed after DELAYED_CLOSE_MS (Envoy's delayed_close_timeout, 1 s by default), so a client
   * still uploading gets the response rather than a reset.
   */
  private closeSocket(): void {
    this.closed = true;
    this.buffer = null;
    const socket = this.socket;
    if (socket.destroyed) return;
    socket.end();
    this.resumeReading();
    setTimeout(destroySocket, DELAYED_CLOSE_MS, socket).unref();
  }

  /** The request is over once its response completed and its body was read; then the next one may start. */
  private maybeNext(downstream: H1Downstream): void {
    if (downstream !== this.current || !downstream.responseComplete || downstream.bodyRemaining > 0) return;
    this.current = null;
    this.context.requestDone();
    if (downstream.closeAfter || this.clientEnded || this.context.draining) {
      this.closeSocket();
      return;
    }
    if (this.closed) return;
    this.resumeReading();
    if (this.buffer !== null) this.parseNext();
  }
}

/** `buf[start..end)`, copied when the bytes are about to be overwritten (a shared read buffer). */
function slice(buf: Buffer, start: number, end: number, transient: boolean): Buffer {
  if (!transient) return start === 0 && end === buf.length ? buf : buf.subarray(start, end);
  return Buffer.from(buf.subarray(start, end));
}

function onRequestHeadTimeout(connection: H1Connection<H1ConnectionContext>): void {
  connection.requestHeadTimedOut();
}

/** Envoy's HCM delayed_close_timeout default. */
const DELAYED_CLOSE_MS = 1000;

function destroySocket(socket: net.Socket): void {
  socket.destroy();
}

function ignoreError(): void {
  // 'close' follows; the exchange learns of it there.
}
