// One HTTP/2 stream: its state (RFC 9113 §5.1), flow-control windows and the queue of DATA waiting for window.
// The connection does the framing; the stream is what adapters (downstream request, upstream attempt) hold.

import type { H2HeaderBlock, H2HeaderObject } from './h2-header-block';

/** What a stream's user hears. One object per stream implements it (no per-event closures). */
export interface H2StreamHandler {
  /** Client role: response headers (1xx included). `block` is reused after the call; its `headers` object is not. */
  streamHeaders(stream: H2Stream, block: H2HeaderBlock, endStream: boolean): void;
  /** Trailers: the peer's side of the stream ended with them. */
  streamTrailers(stream: H2Stream, trailers: H2HeaderObject): void;
  /**
   * Body bytes (a view of the connection's read chunk: copy it to keep it past this call). An empty chunk with
   * endStream = the body ended without trailers.
   */
  streamData(stream: H2Stream, chunk: Buffer, endStream: boolean): void;
  /**
   * The stream ended abnormally: RST_STREAM from the peer (code), the connection closed or failed. `unprocessed`:
   * the peer never processed it (REFUSED_STREAM, or above a GOAWAY's last stream id), so a retry is safe.
   */
  streamReset(stream: H2Stream, code: number, unprocessed: boolean): void;
  /** The stream can take more DATA after a `sendData` returned false. */
  streamDrain(stream: H2Stream): void;
}

/** The connection's side of a stream (implemented by H2Connection). */
export interface H2StreamOwner {
  sendHeaders(stream: H2Stream, fields: readonly string[], count: number, endStream: boolean): void;
  sendData(stream: H2Stream, chunk: Buffer, endStream: boolean): boolean;
  sendTrailers(stream: H2Stream, fields: readonly string[], count: number): void;
  resetStream(stream: H2Stream, code: number): void;
  streamResumed(stream: H2Stream): void;
}

/** Queued outbound DATA above this makes `sendData` return false (backpressure to the writer). */
export const STREAM_HIGH_WATER_MARK = 64 * 1024;

/**
 * Invariants: `handler` is set by whoever accepted/opened the stream before any event; once `closed` nothing
 * more is delivered or sent. `sendWindow` may go negative after a SETTINGS_INITIAL_WINDOW_SIZE decrease
 * (RFC 9113 §6.9.2). Inbound DATA is held (`inbound`) while paused and credited to the peer only when delivered,
 * so a slow reader stops the peer after one stream window.
 */
export class H2Stream {
  handler: H2StreamHandler | null = null;
  /** We sent END_STREAM (or queued it behind flow control). */
  localEnded = false;
  /** The peer sent END_STREAM. */
  remoteEnded = false;
  closed = false;
  /** Peer's flow-control window for our DATA on this stream. */
  sendWindow: number;
  /** Bytes delivered to the handler and not yet credited back with WINDOW_UPDATE. */
  recvUnacked = 0;
  /** Bytes the peer may still send before our next WINDOW_UPDATE. */
  recvWindow: number;
  /** DATA waiting for flow-control window, with END_STREAM/trailers after it. */
  queue: Buffer[] | null = null;
  queuedBytes = 0;
  queuedEnd = false;
  queuedTrailers: string[] | null = null;
  /** The writer was told "false" and waits for onDrain. */
  needDrain = false;
  paused = false;
  inbound: Buffer[] | null = null;
  inboundEnd = false;
  inboundTrailers: H2HeaderObject | null = null;
  /** Request/response content-length, -1 when absent, and the DATA bytes seen (RFC 9113 §8.1.1). */
  expectedLength = -1;
  receivedLength = 0;
  /** Response HEADERS with a final status seen (client role): later HEADERS are trailers. */
  finalHeaders = false;
  /** Client role: HEADERS waiting for a stream slot under the peer's limit (null once sent), with END_STREAM? */
  pendingOpen: string[] | null = null;
  pendingOpenEnd = false;
  /** Client role: our HEADERS went out and the stream counts against the peer's limit. */
  onWire = false;
  /** Server role: performance.now() when the request arrived (premature reset detection). */
  openedAt = 0;
  /** Client role: the request was HEAD (the response's content-length describes no DATA). */
  headRequest = false;
  /** For the owner of the stream (e.g. the request's connection context). */
  context: unknown = undefined;

  constructor(
    readonly id: number,
    private readonly owner: H2StreamOwner,
    sendWindow: number,
    recvWindow: number,
  ) {
    this.sendWindow = sendWindow;
    this.recvWindow = recvWindow;
  }

  /** HEADERS (+CONTINUATION) from a flat [name, value, ...] list; pseudo-headers first, names lower-case. */
  sendHeaders(fields: readonly string[], count: number, endStream: boolean): void {
    this.owner.sendHeaders(this, fields, count, endStream);
  }

  /** DATA; false = queued above the high-water mark (wait for streamDrain). The chunk is copied. */
  sendData(chunk: Buffer, endStream: boolean): boolean {
    return this.owner.sendData(this, chunk, endStream);
  }

  /** Trailing HEADERS with END_STREAM (after any queued DATA). */
  sendTrailers(fields: readonly string[], count: number): void {
    this.owner.sendTrailers(this, fields, count);
  }

  /** RST_STREAM with `code`; the handler hears nothing more. */
  reset(code: number): void {
    this.owner.resetStream(this, code);
  }

  /** Stop delivering inbound DATA (and stop crediting the peer's window). */
  pause(): void {
    this.paused = true;
  }

  resume(): void {
    if (!this.paused) return;
    this.paused = false;
    this.owner.streamResumed(this);
  }
}
