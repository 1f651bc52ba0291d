// The fast HTTP/1.1 path for one downstream connection: reads request heads with the strict subset parser, runs
// each request through the exchange (one at a time, pipelined bytes held), and hands the connection to node:http
// (llhttp) at a request boundary whenever a request is outside what the fast path serves.

import type * as net from 'node:net';
import type { HttpConnectionManagerConfig } from '../../config/listener-config';
import type { DownstreamConnectionInfo } from '../../listener/connection-handlers';
import type { Downstream } from '../downstream';
import { H1Downstream, type H1DownstreamOwner } from './h1-downstream';
import { HEAD_DEFER, HEAD_INCOMPLETE, parseRequestHead, type ParsedRequestHead } from './h1-request-parser';

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
  private readonly onDataBound = (chunk: Buffer): void => this.onData(chunk);
  private readonly onEndBound = (): void => this.onEnd();
  private readonly onCloseBound = (): void => this.onClose();

  constructor(
    readonly socket: net.Socket,
    private readonly context: C,
    private readonly owner: H1ConnectionOwner<C>,
  ) {
    socket.setNoDelay(true);
    socket.on('data', this.onDataBound);
    socket.on('end', this.onEndBound);
    socket.on('close', this.onCloseBound);
    socket.on('error', ignoreError);
    socket.resume();
  }

  get draining(): boolean {
    return this.context.draining;
  }

  // === reading ===

  private onData(data: Buffer): void {
    let chunk = data;
    const current = this.current;
    if (current !== null && current.bodyRemaining > 0) {
      const n = Math.min(chunk.length, current.bodyRemaining);
      current.pushBody(n === chunk.length ? chunk : chunk.subarray(0, n));
      if (n === chunk.length) {
        this.maybeNext(current);
        return;
      }
      chunk = chunk.subarray(n);
      this.maybeNext(current);
    }
    this.buffer = this.buffer === null ? chunk : Buffer.concat([this.buffer, chunk]);
    if (this.current !== null) {
      if (this.buffer.length > MAX_HELD_BYTES) this.pauseReading();
      return;
    }
    this.parseNext();
  }

  /** Serves every complete request in the buffer, one at a time. */
  private parseNext(): void {
    if (this.parsing) return;
    this.parsing = true;
    try {
      while (this.buffer !== null && this.current === null && !this.closed) {
        const buf = this.buffer;
        const used = parseRequestHead(buf, 0, buf.length, this.head);
        if (used === HEAD_INCOMPLETE) return;
        if (used === HEAD_DEFER) {
          this.handOver();
          return;
        }
        const downstream = new H1Downstream(this, this.head, this.context.scheme);
        let rest = used;
        const take = Math.min(buf.length - used, downstream.bodyRemaining);
        if (take > 0) {
          downstream.pushBody(buf.subarray(used, used + take));
          rest += take;
        }
        this.buffer = rest === buf.length ? null : buf.subarray(rest);
        this.current = downstream;
        this.context.requestStarted();
        this.owner.serve(downstream, this.context);
      }
    } finally {
      this.parsing = false;
    }
  }

  /** Gives the connection to node:http: everything not yet parsed goes back into the socket for llhttp. */
  private handOver(): void {
    const socket = this.socket;
    socket.removeListener('data', this.onDataBound);
    socket.removeListener('end', this.onEndBound);
    socket.removeListener('close', this.onCloseBound);
    socket.removeListener('error', ignoreError);
    socket.pause();
    const rest = this.buffer;
    this.buffer = null;
    this.closed = true;
    if (rest !== null) socket.unshift(rest);
    this.owner.fallback(socket);
  }

  private onEnd(): void {
    this.clientEnded = true;
    if (this.current === null && !this.closed) this.socket.end();
  }

  private onClose(): void {
    this.closed = true;
    this.buffer = null;
    const current = this.current;
    if (current !== null) {
      this.current = null;
      current.connectionLost();
      this.context.requestDone();
    }
  }

  // === H1DownstreamOwner ===

  responseFinished(downstream: H1Downstream): void {
    // A request body nobody reads (local reply before the body ended) is read and dropped, as node's server does.
    if (downstream.bodyRemaining > 0 && !downstream.aborted) downstream.body.resume();
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

  /** The request is over once its response completed and its body was read; then the next one may start. */
  private maybeNext(downstream: H1Downstream): void {
    if (downstream !== this.current || !downstream.responseComplete || downstream.bodyRemaining > 0) return;
    this.current = null;
    this.context.requestDone();
    if (downstream.closeAfter || this.clientEnded || this.context.draining) {
      this.closed = true;
      this.buffer = null;
      if (!this.socket.destroyed) this.socket.end();
      return;
    }
    if (this.closed) return;
    this.resumeReading();
    if (this.buffer !== null) this.parseNext();
  }
}

function ignoreError(): void {
  // 'close' follows; the exchange learns of it there.
}
