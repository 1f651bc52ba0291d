// An HTTP/2 connection on a socket, for either role (RFC 9113): frame parsing and writing, SETTINGS, PING,
// GOAWAY, connection and stream flow control, header blocks through HPACK, stream life cycles. It replaces
// node:http2 on meshlet's data path: no per-stream node objects, one socket write per event-loop turn.

import type * as net from 'node:net';
import { performance } from 'node:perf_hooks';
import { CLIENT_PREFACE, DEFAULT_MAX_FRAME_SIZE, DEFAULT_WINDOW_SIZE, FRAME_HEADER_LENGTH, FrameFlag, FrameType, H2ErrorCode, MAX_STREAM_ID, MAX_WINDOW_SIZE, SettingId, h2ErrorName } from './h2-constants';
import { H2HeaderBlock } from './h2-header-block';
import { H2StreamTable } from './h2-stream-table';
import { H2Stream, STREAM_HIGH_WATER_MARK, type H2StreamOwner } from './h2-stream';
import { HpackDecoder } from './hpack/hpack-decoder';
import { HpackEncoder } from './hpack/hpack-encoder';
import { HpackError } from './hpack/hpack-error';

export type H2Role = 'server' | 'client';

/** What we announce and enforce. */
export interface H2ConnectionSettings {
  readonly role: H2Role;
  /** SETTINGS_INITIAL_WINDOW_SIZE we announce (each stream's receive window). */
  readonly streamWindow: number;
  /** Connection receive window (raised from 65,535 with a WINDOW_UPDATE at start). */
  readonly connectionWindow: number;
  /** SETTINGS_MAX_CONCURRENT_STREAMS we announce (server: streams the client may open). */
  readonly maxConcurrentStreams: number;
  /** SETTINGS_MAX_HEADER_LIST_SIZE we announce and enforce (Envoy: max_request_headers_kb, 60 KiB). */
  readonly maxHeaderListSize: number;
  /** SETTINGS_HEADER_TABLE_SIZE we announce (our HPACK decoder's table). */
  readonly headerTableSize: number;
}

/** What the connection's owner hears. */
export interface H2ConnectionOwner {
  /** Server role: a new request stream; set `stream.handler` before returning. `block` is reused after the call. */
  onStream(connection: H2Connection, stream: H2Stream, block: H2HeaderBlock, endStream: boolean): void;
  /** A request stream was refused or malformed and reset before `onStream` (for stats); optional. */
  onStreamRejected?(connection: H2Connection, reason: string): void;
  /** The peer's first SETTINGS arrived (client: the connection is usable at its real limits). */
  onRemoteSettings(connection: H2Connection): void;
  /** The peer sent GOAWAY: no new streams on this connection. */
  onGoaway(connection: H2Connection, errorCode: number, lastStreamId: number): void;
  /** A stream closed (any way); `activeStreams` already counts it out. */
  onStreamClosed(connection: H2Connection, stream: H2Stream): void;
  /** The socket closed; every stream was told first. */
  onClose(connection: H2Connection, error: Error | undefined): void;
}

const EMPTY = Buffer.alloc(0);
const ARENA_SIZE = 16 * 1024;
/** A CONTINUATION sequence may not grow a header block past this many times the header list limit. */
const MAX_BLOCK_FACTOR = 2;
/**
 * Control frames (PING and SETTINGS ACKs, RST_STREAM) we may have queued while the socket does not drain before
 * the peer is treated as flooding (CVE-2019-9512/9515; Envoy's max_outbound_frames). Above one read chunk's
 * worth (64 KiB of PINGs = 3,855 ACKs), so a peer that reads never reaches it.
 */
const MAX_OUTBOUND_CONTROL_FRAMES = 10_000;
/**
 * Rapid reset (CVE-2023-44487), as Envoy's overload.premature_reset_*: a request stream the client resets within
 * PREMATURE_RESET_MS of opening it is premature; once PREMATURE_RESET_MIN_STREAMS streams have closed on a
 * connection, more than half of them premature closes it.
 */
const PREMATURE_RESET_MS = 1000;
const PREMATURE_RESET_MIN_STREAMS = 500;
/** How long a half-closed connection waits for the peer's close (Envoy's default delayed_close_timeout, 1 s). */
const DELAYED_CLOSE_MS = 1000;
/** Not a wire flag: the header block is decoded (HPACK state stays in step) and discarded, its stream reset. */
const DISCARD_BLOCK = 0x100;
/**
 * Server role: how many ranges of stream ids the client skipped (never opened) we remember. Well-behaved clients
 * open ids in order and skip none; past this many gaps the oldest is forgotten and its ids count as closed.
 */
const MAX_SKIPPED_RANGES = 8;

/** Connection error: GOAWAY with `code`, then close (RFC 9113 §5.4.1). */
class ConnectionError extends Error {
  constructor(
    readonly code: number,
    message: string,
  ) {
    super(message);
  }
}

/** Flushes every connection that wrote during this turn of the event loop (one socket write each). */
const dirty: H2Connection[] = [];
let flushScheduled = false;
function flushDirty(): void {
  flushScheduled = false;
  for (let i = 0; i < dirty.length; i++) dirty[i]!.flush();
  dirty.length = 0;
}

/**
 * Invariants: frames are appended to `arena` in the order they are produced (HPACK state stays in step with the
 * peer) and written once per microtask checkpoint; DATA never exceeds min(stream window, connection window, peer
 * max frame size); a stream is in `streams` until both sides ended or it was reset; every stream hears exactly one
 * of: end of both directions, or `onReset`. Cost per request-response (unary): one HeaderBlock object reused, one
 * H2Stream, one header object, frames written into a reused arena, one socket write per turn.
 */
export class H2Connection implements H2StreamOwner {
  readonly streams = new H2StreamTable<H2Stream>();
  activeStreams = 0;
  /**
   * Peer's SETTINGS_MAX_CONCURRENT_STREAMS (streams we may have open). Until its SETTINGS arrive, 100 (RFC 9113
   * §6.5.2 recommends at least that; nghttp2 assumes it too).
   */
  peerMaxConcurrentStreams = 100;
  /** The peer's first SETTINGS arrived. */
  remoteSettingsReceived = false;
  goawayReceived = false;
  goawaySent = false;
  closed = false;
  /** Set by the owner once the transport is up (client role: TCP, and TLS with ALPN checked). */
  established = false;
  /** Highest stream id the peer opened (server) / we opened (client). */
  lastPeerStreamId = 0;
  private nextStreamId: number;
  private readonly decoder: HpackDecoder;
  private readonly encoder = new HpackEncoder();
  private readonly block: H2HeaderBlock;
  private peerInitialWindow = DEFAULT_WINDOW_SIZE;
  private peerMaxFrameSize = DEFAULT_MAX_FRAME_SIZE;
  private connSendWindow = DEFAULT_WINDOW_SIZE;
  private connRecvWindow: number;
  private connRecvUnacked = 0;
  /** Client role: streams opened (ids taken) whose HEADERS wait for a free slot under the peer's limit. */
  private readonly pendingOpens: H2Stream[] = [];
  /** Client role: our streams whose HEADERS went out and that are not closed. */
  private streamsOnWire = 0;
  /** Streams with DATA waiting for window, in the order they blocked. */
  private readonly blocked: H2Stream[] = [];
  /** Bytes read but not yet a whole frame. */
  private pending: Buffer | null = null;
  private prefaceRemaining: number;
  /** CONTINUATION state: the stream whose header block is open, its fragments so far. */
  private continuationStream = 0;
  private continuationFlags = 0;
  private continuationParts: Buffer[] | null = null;
  private continuationBytes = 0;
  private arena = Buffer.allocUnsafe(ARENA_SIZE);
  private arenaUsed = 0;
  private queuedForFlush = false;
  private pingCallbacks: Array<() => void> = [];
  /** Server role: request streams closed so far, and how many of them the client reset prematurely. */
  private requestStreamsClosed = 0;
  private prematureResets = 0;
  /** Control frames written since the socket last had nothing buffered (flood detection). */
  private outboundControlFrames = 0;
  /**
   * Server role: ranges [first, last] of client stream ids below lastPeerStreamId that were never opened, as
   * pairs, oldest first (allocated at the first gap; bounded by MAX_SKIPPED_RANGES).
   */
  private skippedRanges: Uint32Array | null = null;
  private skippedRangeCount = 0;
  private closeError: Error | undefined;
  private readonly onDataBound = (chunk: Buffer): void => this.onData(chunk);
  private readonly onCloseBound = (): void => this.onSocketClose();
  private readonly onErrorBound = (error: Error): void => {
    this.closeError ??= error;
  };
  private readonly onDrainBound = (): void => this.onSocketDrain();

  constructor(
    readonly socket: net.Socket,
    readonly settings: H2ConnectionSettings,
    private readonly owner: H2ConnectionOwner,
  ) {
    const server = settings.role === 'server';
    this.nextStreamId = server ? 2 : 1;
    this.prefaceRemaining = server ? CLIENT_PREFACE.length : 0;
    this.decoder = new HpackDecoder(settings.headerTableSize);
    this.block = new H2HeaderBlock(settings.maxHeaderListSize);
    this.connRecvWindow = DEFAULT_WINDOW_SIZE;
    socket.setNoDelay(true);
    socket.on('data', this.onDataBound);
    socket.on('close', this.onCloseBound);
    socket.on('error', this.onErrorBound);
    socket.on('drain', this.onDrainBound);
    if (!server) this.append(CLIENT_PREFACE, 0, CLIENT_PREFACE.length);
    this.writeSettings();
    if (settings.connectionWindow > DEFAULT_WINDOW_SIZE) {
      const increment = Math.min(settings.connectionWindow, MAX_WINDOW_SIZE) - DEFAULT_WINDOW_SIZE;
      this.connRecvWindow += increment;
      this.writeWindowUpdate(0, increment);
    }
    socket.resume();
  }

  /** Why the connection failed or closed (socket error, connection error), when known. */
  get error(): Error | undefined {
    return this.closeError;
  }

  /** Client role: streams we may still open on this connection. */
  get canOpenStream(): boolean {
    return !this.closed && !this.goawayReceived && !this.goawaySent && this.nextStreamId <= MAX_STREAM_ID && this.activeStreams < this.peerMaxConcurrentStreams;
  }

  /** Client role: stream ids left for streams we open (2^30 per connection, RFC 9113 §5.1.1). */
  get streamIdsLeft(): number {
    return this.nextStreamId > MAX_STREAM_ID ? 0 : (MAX_STREAM_ID - this.nextStreamId) / 2 + 1;
  }

  /** Client role: a new stream; send its HEADERS with `stream.sendHeaders` right away. */
  openStream(): H2Stream {
    const id = this.nextStreamId;
    this.nextStreamId += 2;
    const stream = new H2Stream(id, this, this.peerInitialWindow, this.settings.streamWindow);
    this.streams.add(stream);
    this.activeStreams += 1;
    this.lastPeerStreamId = id;
    return stream;
  }

  /** PING; `callback` runs when the ACK arrives (keepalive). */
  ping(callback: () => void): void {
    this.pingCallbacks.push(callback);
    const at = this.reserve(FRAME_HEADER_LENGTH + 8);
    this.frameHeader(at, 8, FrameType.PING, 0, 0);
    this.arena.fill(0, at + FRAME_HEADER_LENGTH, at + FRAME_HEADER_LENGTH + 8);
  }

  /**
   * Graceful close: GOAWAY (NO_ERROR) with the last stream we will process; the socket ends once the open streams
   * finish. Server role: streams the client opens afterwards are ignored (RFC 9113 §6.8).
   */
  goaway(code: number = H2ErrorCode.NO_ERROR): void {
    if (this.closed) return;
    if (!this.goawaySent) {
      this.goawaySent = true;
      this.writeGoaway(this.settings.role === 'server' ? this.lastPeerStreamId : 0, code);
    }
    if (this.activeStreams === 0) this.endSocket();
  }

  /** Closes at once: every open stream is reset (their handlers hear onReset). */
  destroy(error?: Error): void {
    if (this.closed) return;
    this.closeError ??= error;
    this.socket.destroy();
  }

  // === reading ===

  private onData(chunk: Buffer): void {
    if (this.closed) return;
    let buf = chunk;
    if (this.pending !== null) {
      buf = Buffer.concat([this.pending, chunk]);
      this.pending = null;
    }
    try {
      let offset = 0;
      if (this.prefaceRemaining > 0) offset = this.readPreface(buf);
      const end = buf.length;
      while (offset + FRAME_HEADER_LENGTH <= end) {
        const length = (buf[offset]! << 16) | (buf[offset + 1]! << 8) | buf[offset + 2]!;
        if (length > DEFAULT_MAX_FRAME_SIZE) throw new ConnectionError(H2ErrorCode.FRAME_SIZE_ERROR, `frame of ${length} bytes exceeds SETTINGS_MAX_FRAME_SIZE`);
        const frameEnd = offset + FRAME_HEADER_LENGTH + length;
        if (frameEnd > end) break;
        const type = buf[offset + 3]!;
        const flags = buf[offset + 4]!;
        const streamId = buf.readUInt32BE(offset + 5) & 0x7fffffff;
        this.onFrame(buf, type, flags, streamId, offset + FRAME_HEADER_LENGTH, frameEnd);
        if (this.closed || this.socket.destroyed) return;
        offset = frameEnd;
      }
      if (offset < end) this.pending = offset === 0 ? buf : buf.subarray(offset);
    } catch (error) {
      if (error instanceof ConnectionError) this.connectionError(error.code, error.message);
      else if (error instanceof HpackError) this.connectionError(H2ErrorCode.COMPRESSION_ERROR, error.message);
      else throw error;
    }
  }

  private readPreface(buf: Buffer): number {
    const done = CLIENT_PREFACE.length - this.prefaceRemaining;
    const n = Math.min(this.prefaceRemaining, buf.length);
    if (buf.compare(CLIENT_PREFACE, done, done + n, 0, n) !== 0) {
      // Not HTTP/2 at all: close without a GOAWAY (RFC 9113 §3.4).
      this.prefaceRemaining = 0;
      this.destroy(new Error('invalid HTTP/2 connection preface'));
      return buf.length;
    }
    this.prefaceRemaining -= n;
    return n;
  }

  private onFrame(buf: Buffer, type: number, flags: number, streamId: number, start: number, end: number): void {
    if (this.continuationStream !== 0 && type !== FrameType.CONTINUATION) throw new ConnectionError(H2ErrorCode.PROTOCOL_ERROR, 'expected CONTINUATION');
    switch (type) {
      case FrameType.DATA:
        this.onDataFrame(buf, flags, streamId, start, end);
        return;
      case FrameType.HEADERS:
        this.onHeadersFrame(buf, flags, streamId, start, end);
        return;
      case FrameType.PRIORITY:
        if (streamId === 0) throw new ConnectionError(H2ErrorCode.PROTOCOL_ERROR, 'PRIORITY on stream 0');
        if (end - start !== 5) this.streamError(streamId, H2ErrorCode.FRAME_SIZE_ERROR);
        return;
      case FrameType.RST_STREAM:
        this.onRstStream(buf, streamId, start, end);
        return;
      case FrameType.SETTINGS:
        this.onSettings(buf, flags, streamId, start, end);
        return;
      case FrameType.PUSH_PROMISE:
        // We announce SETTINGS_ENABLE_PUSH 0 and never push.
        throw new ConnectionError(H2ErrorCode.PROTOCOL_ERROR, 'PUSH_PROMISE is not allowed');
      case FrameType.PING:
        this.onPing(buf, flags, streamId, start, end);
        return;
      case FrameType.GOAWAY:
        this.onGoawayFrame(buf, streamId, start, end);
        return;
      case FrameType.WINDOW_UPDATE:
        this.onWindowUpdate(buf, streamId, start, end);
        return;
      case FrameType.CONTINUATION:
        this.onContinuation(buf, flags, streamId, start, end);
        return;
      default:
        return; // unknown frame types are ignored (RFC 9113 §4.1)
    }
  }

  /** Payload bounds after padding (and `extra` leading bytes, e.g. priority). */
  private static unpad(buf: Buffer, flags: number, start: number, end: number, extra: number): [number, number] {
    let s = start;
    let e = end;
    if ((flags & FrameFlag.PADDED) !== 0) {
      if (e - s < 1) throw new ConnectionError(H2ErrorCode.FRAME_SIZE_ERROR, 'padded frame without pad length');
      const pad = buf[s]!;
      s += 1;
      if (pad > e - s - extra) throw new ConnectionError(H2ErrorCode.PROTOCOL_ERROR, 'padding exceeds the frame payload');
      e -= pad;
    }
    if (e - s < extra) throw new ConnectionError(H2ErrorCode.FRAME_SIZE_ERROR, 'frame too short');
    return [s + extra, e];
  }

  private onDataFrame(buf: Buffer, flags: number, streamId: number, start: number, end: number): void {
    if (streamId === 0) throw new ConnectionError(H2ErrorCode.PROTOCOL_ERROR, 'DATA on stream 0');
    const frameLength = end - start;
    // Connection flow control counts the whole payload, padding included (RFC 9113 §6.9.1). Like the stream
    // window, it is credited back only as bytes are consumed (Envoy: nghttp2_session_consume on drain), so held
    // bodies of slow readers are bounded by the connection window, not by streams x stream window.
    if (frameLength > this.connRecvWindow) throw new ConnectionError(H2ErrorCode.FLOW_CONTROL_ERROR, 'connection window exceeded');
    this.connRecvWindow -= frameLength;
    const [s, e] = H2Connection.unpad(buf, flags, start, end, 0);
    const stream = this.streams.get(streamId);
    if (stream === undefined) {
      if (this.isIdle(streamId)) throw new ConnectionError(H2ErrorCode.PROTOCOL_ERROR, `DATA on idle stream ${streamId}`);
      // A closed stream, most often one we reset (RST_STREAM NO_ERROR after a complete response, RFC 9113 §8.1):
      // DATA the peer had in flight is ignored (§5.1 "closed": MUST ignore frames after sending RST_STREAM), its
      // bytes given back to the connection window. nghttp2 does the same (NGHTTP2_ERR_IGN_PAYLOAD).
      this.creditConnection(frameLength);
      return;
    }
    if (stream.remoteEnded) {
      this.creditConnection(frameLength);
      this.streamError(streamId, H2ErrorCode.STREAM_CLOSED);
      return;
    }
    if (frameLength > stream.recvWindow) {
      this.creditConnection(frameLength);
      this.streamError(streamId, H2ErrorCode.FLOW_CONTROL_ERROR);
      return;
    }
    stream.recvWindow -= frameLength;
    // Padding is credited back at once; the data itself when the reader takes it.
    const padding = frameLength - (e - s);
    if (padding > 0) this.creditStream(stream, padding);
    const endStream = (flags & FrameFlag.END_STREAM) !== 0;
    if (this.settings.role === 'client' && !stream.finalHeaders) {
      this.creditConnection(e - s);
      this.streamError(streamId, H2ErrorCode.PROTOCOL_ERROR);
      return;
    }
    stream.receivedLength += e - s;
    if (stream.expectedLength >= 0 && (stream.receivedLength > stream.expectedLength || (endStream && stream.receivedLength !== stream.expectedLength))) {
      // A body longer or shorter than its content-length is malformed (RFC 9113 §8.1.1): never forward it.
      this.creditConnection(e - s);
      this.streamError(streamId, H2ErrorCode.PROTOCOL_ERROR);
      return;
    }
    if (endStream) stream.remoteEnded = true;
    this.deliverData(stream, e > s ? buf.subarray(s, e) : EMPTY, endStream);
  }

  private deliverData(stream: H2Stream, data: Buffer, endStream: boolean): void {
    if (stream.paused || stream.inbound !== null) {
      // Held until the reader resumes; credited to the peer only then (backpressure through the stream window).
      const held = (stream.inbound ??= []);
      if (data.length > 0) held.push(data);
      if (endStream) stream.inboundEnd = true;
      return;
    }
    if (data.length === 0 && !endStream) return;
    stream.handler?.streamData(stream, data, endStream);
    if (data.length > 0) this.creditStream(stream, data.length);
    if (endStream) this.maybeClose(stream);
  }

  /** The reader resumed: deliver what was held (body, then trailers or the end), crediting as it goes. */
  streamResumed(stream: H2Stream): void {
    const held = stream.inbound;
    if (held === null) return;
    while (held.length > 0 && !stream.paused && !stream.closed) {
      const data = held.shift()!;
      const last = held.length === 0 && stream.inboundEnd && stream.inboundTrailers === null;
      if (last) {
        // The end goes out with this chunk: nothing is held any more, even if the reader pauses in the call
        // (else the stream would wait forever for a resume that a finished reader never sends).
        stream.inbound = null;
        stream.inboundEnd = false;
      }
      stream.handler?.streamData(stream, data, last);
      this.creditStream(stream, data.length);
      if (last) {
        this.maybeClose(stream);
        this.scheduleFlush();
        return;
      }
    }
    if (held.length > 0 || stream.paused || stream.closed) return;
    stream.inbound = null;
    if (stream.inboundEnd) {
      stream.inboundEnd = false;
      const trailers = stream.inboundTrailers;
      stream.inboundTrailers = null;
      if (trailers !== null) stream.handler?.streamTrailers(stream, trailers);
      else stream.handler?.streamData(stream, EMPTY, true);
      this.maybeClose(stream);
    }
    this.scheduleFlush();
  }

  /** `n` bytes of the stream were consumed: credit the connection always, the stream while it can receive. */
  private creditStream(stream: H2Stream, n: number): void {
    this.creditConnection(n);
    if (stream.closed || stream.remoteEnded) return; // nothing more to receive on it: no stream credit needed
    stream.recvUnacked += n;
    const window = this.settings.streamWindow;
    if (stream.recvUnacked >= window / 2) {
      stream.recvWindow += stream.recvUnacked;
      this.writeWindowUpdate(stream.id, stream.recvUnacked);
      stream.recvUnacked = 0;
    }
  }

  private creditConnection(n: number): void {
    this.connRecvUnacked += n;
    const window = Math.max(this.settings.connectionWindow, DEFAULT_WINDOW_SIZE);
    if (this.connRecvUnacked >= window / 2) {
      this.connRecvWindow += this.connRecvUnacked;
      this.writeWindowUpdate(0, this.connRecvUnacked);
      this.connRecvUnacked = 0;
    }
  }

  private onHeadersFrame(buf: Buffer, flags: number, streamId: number, start: number, end: number): void {
    if (streamId === 0) throw new ConnectionError(H2ErrorCode.PROTOCOL_ERROR, 'HEADERS on stream 0');
    const [s, e] = H2Connection.unpad(buf, flags, start, end, (flags & FrameFlag.PRIORITY) !== 0 ? 5 : 0);
    let blockFlags = flags;
    // A stream cannot depend on itself (RFC 9113 §5.3.1): a stream error, and the request is never served.
    if ((flags & FrameFlag.PRIORITY) !== 0 && (buf.readUInt32BE(s - 5) & 0x7fffffff) === streamId) blockFlags |= DISCARD_BLOCK;
    if ((flags & FrameFlag.END_HEADERS) !== 0) {
      this.onHeaderBlock(streamId, blockFlags, buf, s, e);
      return;
    }
    this.continuationStream = streamId;
    this.continuationFlags = blockFlags;
    this.continuationParts = [Buffer.from(buf.subarray(s, e))];
    this.continuationBytes = e - s;
  }

  private onContinuation(buf: Buffer, flags: number, streamId: number, start: number, end: number): void {
    if (this.continuationStream === 0 || streamId !== this.continuationStream) throw new ConnectionError(H2ErrorCode.PROTOCOL_ERROR, 'unexpected CONTINUATION');
    this.continuationBytes += end - start;
    // CONTINUATION floods (CVE-2024-27316 class): bound the block before decoding it.
    if (this.continuationBytes > this.settings.maxHeaderListSize * MAX_BLOCK_FACTOR) throw new ConnectionError(H2ErrorCode.ENHANCE_YOUR_CALM, 'header block too large');
    this.continuationParts!.push(Buffer.from(buf.subarray(start, end)));
    if ((flags & FrameFlag.END_HEADERS) === 0) return;
    const block = Buffer.concat(this.continuationParts!);
    const headerFlags = this.continuationFlags;
    this.continuationStream = 0;
    this.continuationParts = null;
    this.continuationBytes = 0;
    this.onHeaderBlock(streamId, headerFlags, block, 0, block.length);
  }

  private onHeaderBlock(streamId: number, flags: number, buf: Buffer, start: number, end: number): void {
    const endStream = (flags & FrameFlag.END_STREAM) !== 0;
    const block = this.block;
    const stream = this.streams.get(streamId);
    const server = this.settings.role === 'server';
    if ((flags & DISCARD_BLOCK) !== 0) {
      block.begin('trailers');
      this.decoder.decode(buf, start, end, block);
      if (server && (streamId & 1) === 1 && streamId > this.lastPeerStreamId) this.lastPeerStreamId = streamId;
      this.streamError(streamId, H2ErrorCode.PROTOCOL_ERROR);
      return;
    }
    if (stream === undefined) {
      if (server && this.isIdle(streamId)) {
        this.newRequestStream(streamId, endStream, buf, start, end);
        return;
      }
      // A closed stream (we reset it, or it finished): decode to keep HPACK in step, then answer STREAM_CLOSED.
      block.begin('trailers');
      this.decoder.decode(buf, start, end, block);
      if (!server && this.isIdle(streamId)) throw new ConnectionError(H2ErrorCode.PROTOCOL_ERROR, `HEADERS on idle stream ${streamId}`);
      // A client stream id below one already used that was never opened: a new stream out of order is a
      // connection error (RFC 9113 §5.1.1). An id that was opened and is closed stays a stream error (§5.1).
      if (server && this.wasSkipped(streamId)) throw new ConnectionError(H2ErrorCode.PROTOCOL_ERROR, `HEADERS opening stream ${streamId} below stream ${this.lastPeerStreamId}`);
      this.writeRstStream(streamId, H2ErrorCode.STREAM_CLOSED);
      return;
    }
    const trailers = server || stream.finalHeaders;
    block.begin(trailers ? 'trailers' : 'response');
    this.decoder.decode(buf, start, end, block);
    block.finish();
    if (stream.remoteEnded) {
      this.streamError(streamId, H2ErrorCode.STREAM_CLOSED);
      return;
    }
    if (block.error !== null || (trailers && !endStream)) {
      this.streamError(streamId, H2ErrorCode.PROTOCOL_ERROR);
      return;
    }
    if (trailers) {
      if (stream.expectedLength >= 0 && stream.receivedLength !== stream.expectedLength) {
        this.streamError(streamId, H2ErrorCode.PROTOCOL_ERROR);
        return;
      }
      stream.remoteEnded = true;
      if (stream.paused || stream.inbound !== null) {
        // Trailers wait behind held DATA; the header object is the stream's own (begin() makes a new one).
        stream.inbound ??= [];
        stream.inboundEnd = true;
        stream.inboundTrailers = block.headers;
        return;
      }
      stream.handler?.streamTrailers(stream, block.headers);
      this.maybeClose(stream);
      return;
    }
    // Client role: response headers. 1xx are informational (a final status follows), except 101 (not in HTTP/2).
    if (block.status >= 100 && block.status < 200) {
      if (endStream || block.status === 101) this.streamError(streamId, H2ErrorCode.PROTOCOL_ERROR);
      else stream.handler?.streamHeaders(stream, block, false);
      return;
    }
    stream.finalHeaders = true;
    // Responses to HEAD and 304s carry the content-length of a body they do not have (RFC 9113 §8.1.1).
    stream.expectedLength = stream.headRequest || block.status === 304 ? -1 : block.contentLength;
    if (endStream) {
      stream.remoteEnded = true;
      if (stream.expectedLength > 0) {
        this.streamError(streamId, H2ErrorCode.PROTOCOL_ERROR);
        return;
      }
    }
    stream.handler?.streamHeaders(stream, block, endStream);
    if (endStream) this.maybeClose(stream);
  }

  private newRequestStream(streamId: number, endStream: boolean, buf: Buffer, start: number, end: number): void {
    const block = this.block;
    block.begin('request');
    this.decoder.decode(buf, start, end, block);
    block.finish();
    if ((streamId & 1) === 0) throw new ConnectionError(H2ErrorCode.PROTOCOL_ERROR, `client opened even stream ${streamId}`);
    if (streamId > this.lastPeerStreamId + 2) this.rememberSkipped(this.lastPeerStreamId + 2, streamId - 2);
    this.lastPeerStreamId = streamId;
    if (this.goawaySent) return; // RFC 9113 §6.8: streams above our GOAWAY's last id are ignored
    if (this.activeStreams >= this.settings.maxConcurrentStreams) {
      this.writeRstStream(streamId, H2ErrorCode.REFUSED_STREAM);
      this.owner.onStreamRejected?.(this, 'max concurrent streams');
      return;
    }
    if (block.error !== null && !block.tooLarge) {
      this.writeRstStream(streamId, H2ErrorCode.PROTOCOL_ERROR);
      this.owner.onStreamRejected?.(this, block.error);
      return;
    }
    const stream = new H2Stream(streamId, this, this.peerInitialWindow, this.settings.streamWindow);
    stream.openedAt = performance.now();
    stream.remoteEnded = endStream;
    stream.expectedLength = block.contentLength;
    if (endStream && block.contentLength > 0) {
      this.writeRstStream(streamId, H2ErrorCode.PROTOCOL_ERROR);
      return;
    }
    this.streams.add(stream);
    this.activeStreams += 1;
    this.owner.onStream(this, stream, block, endStream);
    if (stream.handler === null && !stream.closed) this.resetStream(stream, H2ErrorCode.REFUSED_STREAM);
    else if (endStream) this.maybeClose(stream);
  }

  private onRstStream(buf: Buffer, streamId: number, start: number, end: number): void {
    if (streamId === 0) throw new ConnectionError(H2ErrorCode.PROTOCOL_ERROR, 'RST_STREAM on stream 0');
    if (end - start !== 4) throw new ConnectionError(H2ErrorCode.FRAME_SIZE_ERROR, 'RST_STREAM payload must be 4 bytes');
    const stream = this.streams.get(streamId);
    if (stream === undefined) {
      if (this.isIdle(streamId)) throw new ConnectionError(H2ErrorCode.PROTOCOL_ERROR, `RST_STREAM on idle stream ${streamId}`);
      return;
    }
    const code = buf.readUInt32BE(start);
    // A server may answer a complete response with RST_STREAM(NO_ERROR) to stop our request body (RFC 9113 §8.1).
    if (code === H2ErrorCode.NO_ERROR && stream.remoteEnded) {
      stream.localEnded = true;
      this.dropQueue(stream);
      this.maybeClose(stream);
      return;
    }
    this.closeStream(stream);
    stream.handler?.streamReset(stream, code, code === H2ErrorCode.REFUSED_STREAM);
    if (this.settings.role === 'server' && performance.now() - stream.openedAt < PREMATURE_RESET_MS) {
      this.prematureResets += 1;
      if (this.requestStreamsClosed >= PREMATURE_RESET_MIN_STREAMS && this.prematureResets * 2 > this.requestStreamsClosed) {
        throw new ConnectionError(H2ErrorCode.ENHANCE_YOUR_CALM, `${this.prematureResets} of ${this.requestStreamsClosed} streams reset prematurely`);
      }
    }
  }

  private onSettings(buf: Buffer, flags: number, streamId: number, start: number, end: number): void {
    if (streamId !== 0) throw new ConnectionError(H2ErrorCode.PROTOCOL_ERROR, 'SETTINGS on a stream');
    if ((flags & FrameFlag.ACK) !== 0) {
      if (end !== start) throw new ConnectionError(H2ErrorCode.FRAME_SIZE_ERROR, 'SETTINGS ACK with a payload');
      return;
    }
    if ((end - start) % 6 !== 0) throw new ConnectionError(H2ErrorCode.FRAME_SIZE_ERROR, 'SETTINGS payload not a multiple of 6');
    let windowDelta = 0;
    // The first SETTINGS replaces our assumption of 100: without the setting, the peer's limit is none.
    if (!this.remoteSettingsReceived) this.peerMaxConcurrentStreams = Infinity;
    for (let at = start; at < end; at += 6) {
      const id = buf.readUInt16BE(at);
      const value = buf.readUInt32BE(at + 2);
      switch (id) {
        case SettingId.HEADER_TABLE_SIZE:
          this.encoder.setPeerMaxTableSize(value);
          break;
        case SettingId.ENABLE_PUSH:
          if (value > 1 || (this.settings.role === 'client' && value !== 0)) throw new ConnectionError(H2ErrorCode.PROTOCOL_ERROR, 'invalid SETTINGS_ENABLE_PUSH');
          break;
        case SettingId.MAX_CONCURRENT_STREAMS:
          this.peerMaxConcurrentStreams = value;
          break;
        case SettingId.INITIAL_WINDOW_SIZE:
          if (value > MAX_WINDOW_SIZE) throw new ConnectionError(H2ErrorCode.FLOW_CONTROL_ERROR, 'SETTINGS_INITIAL_WINDOW_SIZE above 2^31-1');
          windowDelta += value - this.peerInitialWindow;
          this.peerInitialWindow = value;
          break;
        case SettingId.MAX_FRAME_SIZE:
          if (value < DEFAULT_MAX_FRAME_SIZE || value > 16_777_215) throw new ConnectionError(H2ErrorCode.PROTOCOL_ERROR, 'invalid SETTINGS_MAX_FRAME_SIZE');
          this.peerMaxFrameSize = value;
          break;
        default:
          break; // MAX_HEADER_LIST_SIZE is advisory; unknown settings are ignored
      }
    }
    this.writeFrame(FrameType.SETTINGS, FrameFlag.ACK, 0, EMPTY, 0, 0);
    this.countControlFrame();
    if (windowDelta !== 0) {
      for (let i = 0; i < this.streams.size; i++) {
        const stream = this.streams.item(i);
        stream.sendWindow += windowDelta;
        if (stream.sendWindow > MAX_WINDOW_SIZE) throw new ConnectionError(H2ErrorCode.FLOW_CONTROL_ERROR, 'stream window above 2^31-1');
      }
      if (windowDelta > 0) this.flushBlocked();
    }
    if (this.pendingOpens.length > 0) this.openPendingStreams();
    if (!this.remoteSettingsReceived) {
      this.remoteSettingsReceived = true;
      this.owner.onRemoteSettings(this);
    }
  }

  private onPing(buf: Buffer, flags: number, streamId: number, start: number, end: number): void {
    if (streamId !== 0) throw new ConnectionError(H2ErrorCode.PROTOCOL_ERROR, 'PING on a stream');
    if (end - start !== 8) throw new ConnectionError(H2ErrorCode.FRAME_SIZE_ERROR, 'PING payload must be 8 bytes');
    if ((flags & FrameFlag.ACK) !== 0) {
      this.pingCallbacks.shift()?.();
      return;
    }
    this.writeFrame(FrameType.PING, FrameFlag.ACK, 0, buf, start, end);
    this.countControlFrame();
  }

  private onGoawayFrame(buf: Buffer, streamId: number, start: number, end: number): void {
    if (streamId !== 0) throw new ConnectionError(H2ErrorCode.PROTOCOL_ERROR, 'GOAWAY on a stream');
    if (end - start < 8) throw new ConnectionError(H2ErrorCode.FRAME_SIZE_ERROR, 'GOAWAY payload too short');
    const lastStreamId = buf.readUInt32BE(start) & 0x7fffffff;
    const code = buf.readUInt32BE(start + 4);
    this.goawayReceived = true;
    // Streams we opened above the peer's last stream id were never processed: safe to retry elsewhere.
    for (const stream of this.streams.snapshot()) {
      if (stream.id > lastStreamId && (stream.id & 1) === (this.settings.role === 'client' ? 1 : 0)) {
        this.closeStream(stream);
        stream.handler?.streamReset(stream, H2ErrorCode.REFUSED_STREAM, true);
      }
    }
    this.owner.onGoaway(this, code, lastStreamId);
    if (this.activeStreams === 0) this.endSocket();
  }

  private onWindowUpdate(buf: Buffer, streamId: number, start: number, end: number): void {
    if (end - start !== 4) throw new ConnectionError(H2ErrorCode.FRAME_SIZE_ERROR, 'WINDOW_UPDATE payload must be 4 bytes');
    const increment = buf.readUInt32BE(start) & 0x7fffffff;
    if (streamId === 0) {
      if (increment === 0) throw new ConnectionError(H2ErrorCode.PROTOCOL_ERROR, 'WINDOW_UPDATE of 0');
      this.connSendWindow += increment;
      if (this.connSendWindow > MAX_WINDOW_SIZE) throw new ConnectionError(H2ErrorCode.FLOW_CONTROL_ERROR, 'connection window above 2^31-1');
      this.flushBlocked();
      return;
    }
    const stream = this.streams.get(streamId);
    if (stream === undefined) {
      if (this.isIdle(streamId)) throw new ConnectionError(H2ErrorCode.PROTOCOL_ERROR, `WINDOW_UPDATE on idle stream ${streamId}`);
      return;
    }
    if (increment === 0) {
      this.streamError(streamId, H2ErrorCode.PROTOCOL_ERROR);
      return;
    }
    stream.sendWindow += increment;
    if (stream.sendWindow > MAX_WINDOW_SIZE) {
      this.streamError(streamId, H2ErrorCode.FLOW_CONTROL_ERROR);
      return;
    }
    if (stream.queue !== null) this.flushBlocked();
  }

  /**
   * Server role: the client jumped from stream first - 2 to last + 2. Unlike nghttp2, which keeps no record and
   * ignores such HEADERS (nghttp2_session_on_request_headers_received: "we cannot remember all streams we
   * observed so far"), we keep the gaps: clients open ids in order, so the list is empty in practice and an id
   * that was opened is never mistaken for a skipped one. Past MAX_SKIPPED_RANGES the oldest gap is forgotten
   * (its ids then answer STREAM_CLOSED, the lenient side).
   */
  private rememberSkipped(first: number, last: number): void {
    const ranges = (this.skippedRanges ??= new Uint32Array(MAX_SKIPPED_RANGES * 2));
    if (this.skippedRangeCount === MAX_SKIPPED_RANGES) {
      ranges.copyWithin(0, 2);
      this.skippedRangeCount -= 1;
    }
    ranges[this.skippedRangeCount * 2] = first;
    ranges[this.skippedRangeCount * 2 + 1] = last;
    this.skippedRangeCount += 1;
  }

  /** Server role: `streamId` lies in a remembered gap (the client never opened it). */
  private wasSkipped(streamId: number): boolean {
    const ranges = this.skippedRanges;
    if (ranges === null) return false;
    for (let i = 0; i < this.skippedRangeCount; i++) {
      if (streamId >= ranges[i * 2]! && streamId <= ranges[i * 2 + 1]!) return true;
    }
    return false;
  }

  /** A stream id the peer (server role) or we (client role) have not used yet. */
  private isIdle(streamId: number): boolean {
    const peerInitiated = this.settings.role === 'server' ? (streamId & 1) === 1 : (streamId & 1) === 0;
    if (peerInitiated) return streamId > this.lastPeerStreamId;
    return streamId >= this.nextStreamId;
  }

  // === writing (H2StreamOwner) ===

  sendHeaders(stream: H2Stream, fields: readonly string[], count: number, endStream: boolean): void {
    if (stream.closed || stream.localEnded) return;
    if (endStream) stream.localEnded = true;
    if (this.settings.role === 'client') {
      stream.headRequest = isHeadRequest(fields, count);
      if (this.pendingOpens.length > 0 || this.streamsOnWire >= this.peerMaxConcurrentStreams) {
        // Never above the peer's SETTINGS_MAX_CONCURRENT_STREAMS (it would refuse the stream): the stream waits
        // for a slot, in id order, with any DATA queued behind it, as nghttp2 (Envoy's codec) does.
        stream.pendingOpen = fields.slice(0, count);
        stream.pendingOpenEnd = endStream;
        this.pendingOpens.push(stream);
        return;
      }
      stream.onWire = true;
      this.streamsOnWire += 1;
    }
    this.writeHeaderBlock(stream.id, fields, count, endStream);
    if (endStream) this.localEnd(stream);
  }

  /** Client role: sends the HEADERS of waiting streams while the peer's limit allows, then their queued DATA. */
  private openPendingStreams(): void {
    const pending = this.pendingOpens;
    while (pending.length > 0 && this.streamsOnWire < this.peerMaxConcurrentStreams) {
      const stream = pending.shift()!;
      const fields = stream.pendingOpen!;
      stream.pendingOpen = null;
      stream.onWire = true;
      this.streamsOnWire += 1;
      this.writeHeaderBlock(stream.id, fields, fields.length, stream.pendingOpenEnd);
      if (stream.pendingOpenEnd) this.localEnd(stream);
      else if (stream.queue !== null) this.blocked.push(stream);
    }
    this.flushBlocked();
  }

  sendData(stream: H2Stream, chunk: Buffer, endStream: boolean): boolean {
    if (stream.closed || stream.localEnded) return true;
    if (endStream) stream.localEnded = true;
    if (stream.queue === null && stream.pendingOpen === null) {
      let offset = 0;
      const length = chunk.length;
      while (offset < length) {
        const n = Math.min(length - offset, stream.sendWindow, this.connSendWindow, this.peerMaxFrameSize);
        if (n <= 0) break;
        stream.sendWindow -= n;
        this.connSendWindow -= n;
        const last = offset + n === length;
        this.writeFrame(FrameType.DATA, last && endStream ? FrameFlag.END_STREAM : 0, stream.id, chunk, offset, offset + n);
        offset += n;
      }
      if (offset === length) {
        if (length === 0 && endStream) this.writeFrame(FrameType.DATA, FrameFlag.END_STREAM, stream.id, EMPTY, 0, 0);
        if (endStream) this.localEnd(stream);
        return this.socketWritable(stream);
      }
      stream.queue = [Buffer.from(chunk.subarray(offset))];
      stream.queuedBytes = length - offset;
      this.blocked.push(stream);
    } else {
      // Behind earlier queued DATA, or (client role) behind HEADERS still waiting for a stream slot.
      const queue = (stream.queue ??= []);
      if (chunk.length > 0) {
        queue.push(Buffer.from(chunk));
        stream.queuedBytes += chunk.length;
      }
    }
    if (endStream) stream.queuedEnd = true;
    if (stream.queuedBytes >= STREAM_HIGH_WATER_MARK) {
      stream.needDrain = true;
      return false;
    }
    return this.socketWritable(stream);
  }

  sendTrailers(stream: H2Stream, fields: readonly string[], count: number): void {
    if (stream.closed || stream.localEnded) return;
    stream.localEnded = true;
    if (stream.queue !== null || stream.pendingOpen !== null) {
      stream.queue ??= [];
      stream.queuedTrailers = fields.slice(0, count);
      stream.queuedEnd = true;
      return;
    }
    this.writeHeaderBlock(stream.id, fields, count, true);
    this.localEnd(stream);
  }

  resetStream(stream: H2Stream, code: number): void {
    if (stream.closed) return;
    const neverSent = stream.pendingOpen !== null;
    this.closeStream(stream);
    // A stream whose HEADERS never went out is idle for the peer: RST_STREAM on it would be a PROTOCOL_ERROR.
    if (!neverSent) this.writeRstStream(stream.id, code);
  }

  /** False (and a later onDrain) when the socket's own buffer is full. */
  private socketWritable(stream: H2Stream): boolean {
    if (this.socket.writableNeedDrain) {
      stream.needDrain = true;
      return false;
    }
    return true;
  }

  /** We sent END_STREAM: a server whose request is still streaming stops it (RST_STREAM NO_ERROR, RFC 9113 §8.1). */
  private localEnd(stream: H2Stream): void {
    if (!stream.remoteEnded && this.settings.role === 'server') {
      this.closeStream(stream);
      this.writeRstStream(stream.id, H2ErrorCode.NO_ERROR);
      return;
    }
    this.maybeClose(stream);
  }

  private flushBlocked(): void {
    const blocked = this.blocked;
    let i = 0;
    while (i < blocked.length && this.connSendWindow > 0) {
      const stream = blocked[i]!;
      if (stream.closed || stream.queue === null) {
        blocked.splice(i, 1);
        continue;
      }
      this.flushStreamQueue(stream);
      if (stream.queue === null) blocked.splice(i, 1);
      else i += 1;
    }
  }

  private flushStreamQueue(stream: H2Stream): void {
    const queue = stream.queue!;
    let endSent = false;
    while (queue.length > 0) {
      const chunk = queue[0]!;
      const n = Math.min(chunk.length, stream.sendWindow, this.connSendWindow, this.peerMaxFrameSize);
      if (n <= 0) return;
      stream.sendWindow -= n;
      this.connSendWindow -= n;
      stream.queuedBytes -= n;
      const whole = n === chunk.length;
      const last = whole && queue.length === 1 && stream.queuedEnd && stream.queuedTrailers === null;
      this.writeFrame(FrameType.DATA, last ? FrameFlag.END_STREAM : 0, stream.id, chunk, 0, n);
      endSent = last;
      if (whole) queue.shift();
      else queue[0] = chunk.subarray(n);
    }
    stream.queue = null;
    if (stream.queuedEnd) {
      const trailers = stream.queuedTrailers;
      stream.queuedTrailers = null;
      // Without trailers, END_STREAM went out on the last DATA frame above (or, for an empty body, goes now).
      if (trailers !== null) this.writeHeaderBlock(stream.id, trailers, trailers.length, true);
      else if (!endSent) this.writeFrame(FrameType.DATA, FrameFlag.END_STREAM, stream.id, EMPTY, 0, 0);
      this.localEnd(stream);
    }
    if (stream.needDrain && !stream.closed) {
      stream.needDrain = false;
      stream.handler?.streamDrain(stream);
    }
  }

  private dropQueue(stream: H2Stream): void {
    stream.queue = null;
    stream.queuedBytes = 0;
    stream.queuedTrailers = null;
  }

  /**
   * A peer that makes us answer (PING, SETTINGS, frames on closed streams) but reads nothing would grow our
   * socket buffer without bound: past the limit the connection is closed.
   */
  private countControlFrame(): void {
    if (++this.outboundControlFrames <= MAX_OUTBOUND_CONTROL_FRAMES || this.socket.destroyed) return;
    this.destroy(new Error(`HTTP/2 flood: more than ${MAX_OUTBOUND_CONTROL_FRAMES} control frames queued while the peer reads nothing`));
  }

  private onSocketDrain(): void {
    this.outboundControlFrames = 0;
    for (let i = 0; i < this.streams.size; i++) {
      const stream = this.streams.item(i);
      if (stream.needDrain && stream.queue === null) {
        stream.needDrain = false;
        stream.handler?.streamDrain(stream);
      }
    }
  }

  private maybeClose(stream: H2Stream): void {
    if (stream.closed || !stream.localEnded || !stream.remoteEnded || stream.queue !== null) return;
    if (stream.inbound !== null) return; // held inbound data still to deliver
    this.closeStream(stream);
  }

  private closeStream(stream: H2Stream): void {
    if (stream.closed) return;
    stream.closed = true;
    this.dropQueue(stream);
    if (stream.pendingOpen !== null) {
      stream.pendingOpen = null;
      const i = this.pendingOpens.indexOf(stream);
      if (i >= 0) this.pendingOpens.splice(i, 1);
    }
    const held = stream.inbound;
    if (held !== null) {
      // Held DATA is dropped unread: give its bytes back to the connection window.
      stream.inbound = null;
      let bytes = 0;
      for (let i = 0; i < held.length; i++) bytes += held[i]!.length;
      if (bytes > 0 && !this.closed) this.creditConnection(bytes);
    }
    this.streams.delete(stream.id);
    this.activeStreams -= 1;
    if (this.settings.role === 'server') this.requestStreamsClosed += 1;
    else if (stream.onWire) {
      stream.onWire = false;
      this.streamsOnWire -= 1;
      if (this.pendingOpens.length > 0 && !this.closed && !this.goawayReceived) this.openPendingStreams();
    }
    this.owner.onStreamClosed(this, stream);
    if (this.activeStreams === 0 && (this.goawaySent || this.goawayReceived)) this.endSocket();
  }

  /** Stream error (RFC 9113 §5.4.2): RST_STREAM to the peer, the handler hears onReset. */
  private streamError(streamId: number, code: number): void {
    const stream = this.streams.get(streamId);
    this.writeRstStream(streamId, code);
    if (stream === undefined) return;
    this.closeStream(stream);
    stream.handler?.streamReset(stream, code, false);
  }

  private connectionError(code: number, message: string): void {
    if (this.closed) return;
    this.closeError ??= new Error(`HTTP/2 ${h2ErrorName(code)}: ${message}`);
    if (!this.goawaySent) {
      this.goawaySent = true;
      this.writeGoaway(this.lastPeerStreamId, code);
    }
    this.flush();
    this.socket.end();
    this.socket.destroySoon?.();
    setImmediate(destroySocket, this.socket);
  }

  /**
   * Half-closes after the last frames, then closes for good if the peer has not closed within
   * DELAYED_CLOSE_MS (Envoy's delayed_close_timeout): a peer that never closes its side must not keep the
   * socket (and a pool's close) waiting forever.
   */
  private endSocket(): void {
    this.flush();
    if (this.socket.destroyed || this.socket.writableEnded) return;
    this.socket.end();
    setTimeout(destroySocket, DELAYED_CLOSE_MS, this.socket).unref();
  }

  private onSocketClose(): void {
    if (this.closed) return;
    this.closed = true;
    const error = this.closeError;
    for (const stream of this.streams.snapshot()) {
      this.closeStream(stream);
      stream.handler?.streamReset(stream, H2ErrorCode.CANCEL, false);
    }
    this.owner.onClose(this, error);
  }

  // === frames into the arena ===

  private writeSettings(): void {
    const s = this.settings;
    const entries: Array<[number, number]> = [];
    if (s.role === 'client') entries.push([SettingId.ENABLE_PUSH, 0]);
    if (s.role === 'server') entries.push([SettingId.MAX_CONCURRENT_STREAMS, s.maxConcurrentStreams]);
    if (s.streamWindow !== DEFAULT_WINDOW_SIZE) entries.push([SettingId.INITIAL_WINDOW_SIZE, s.streamWindow]);
    if (s.headerTableSize !== 4096) entries.push([SettingId.HEADER_TABLE_SIZE, s.headerTableSize]);
    entries.push([SettingId.MAX_HEADER_LIST_SIZE, s.maxHeaderListSize]);
    const at = this.reserve(FRAME_HEADER_LENGTH + entries.length * 6);
    this.frameHeader(at, entries.length * 6, FrameType.SETTINGS, 0, 0);
    let p = at + FRAME_HEADER_LENGTH;
    for (const [id, value] of entries) {
      this.arena.writeUInt16BE(id, p);
      this.arena.writeUInt32BE(value, p + 2);
      p += 6;
    }
  }

  private writeWindowUpdate(streamId: number, increment: number): void {
    const at = this.reserve(FRAME_HEADER_LENGTH + 4);
    this.frameHeader(at, 4, FrameType.WINDOW_UPDATE, 0, streamId);
    this.arena.writeUInt32BE(increment, at + FRAME_HEADER_LENGTH);
  }

  private writeRstStream(streamId: number, code: number): void {
    this.countControlFrame();
    const at = this.reserve(FRAME_HEADER_LENGTH + 4);
    this.frameHeader(at, 4, FrameType.RST_STREAM, 0, streamId);
    this.arena.writeUInt32BE(code, at + FRAME_HEADER_LENGTH);
  }

  private writeGoaway(lastStreamId: number, code: number): void {
    const at = this.reserve(FRAME_HEADER_LENGTH + 8);
    this.frameHeader(at, 8, FrameType.GOAWAY, 0, 0);
    this.arena.writeUInt32BE(lastStreamId, at + FRAME_HEADER_LENGTH);
    this.arena.writeUInt32BE(code, at + FRAME_HEADER_LENGTH + 4);
  }

  private writeHeaderBlock(streamId: number, fields: readonly string[], count: number, endStream: boolean): void {
    const block = this.encoder.encode(fields, count);
    const max = this.peerMaxFrameSize;
    if (block.length <= max) {
      this.writeFrame(FrameType.HEADERS, FrameFlag.END_HEADERS | (endStream ? FrameFlag.END_STREAM : 0), streamId, block, 0, block.length);
      return;
    }
    // The encoder's scratch buffer is valid until its next encode: every fragment is copied into the arena now.
    this.writeFrame(FrameType.HEADERS, endStream ? FrameFlag.END_STREAM : 0, streamId, block, 0, max);
    let offset = max;
    while (offset < block.length) {
      const n = Math.min(max, block.length - offset);
      this.writeFrame(FrameType.CONTINUATION, offset + n === block.length ? FrameFlag.END_HEADERS : 0, streamId, block, offset, offset + n);
      offset += n;
    }
  }

  private writeFrame(type: number, flags: number, streamId: number, payload: Buffer, start: number, end: number): void {
    const length = end - start;
    const at = this.reserve(FRAME_HEADER_LENGTH + length);
    this.frameHeader(at, length, type, flags, streamId);
    if (length > 0) payload.copy(this.arena, at + FRAME_HEADER_LENGTH, start, end);
  }

  private frameHeader(at: number, length: number, type: number, flags: number, streamId: number): void {
    const a = this.arena;
    a[at] = length >>> 16;
    a[at + 1] = (length >>> 8) & 0xff;
    a[at + 2] = length & 0xff;
    a[at + 3] = type;
    a[at + 4] = flags;
    a.writeUInt32BE(streamId, at + 5);
  }

  /** Room for `n` more bytes in the arena; returns where they start. Schedules the flush. */
  private reserve(n: number): number {
    if (this.arenaUsed + n > this.arena.length) {
      const grown = Buffer.allocUnsafe(Math.max(this.arena.length * 2, this.arenaUsed + n));
      this.arena.copy(grown, 0, 0, this.arenaUsed);
      this.arena = grown;
    }
    const at = this.arenaUsed;
    this.arenaUsed += n;
    this.scheduleFlush();
    return at;
  }

  private append(bytes: Buffer, start: number, end: number): void {
    const at = this.reserve(end - start);
    bytes.copy(this.arena, at, start, end);
  }

  private scheduleFlush(): void {
    if (this.queuedForFlush) return;
    this.queuedForFlush = true;
    dirty.push(this);
    if (!flushScheduled) {
      flushScheduled = true;
      queueMicrotask(flushDirty);
    }
  }

  /** Writes what the arena holds (one socket write). */
  flush(): void {
    this.queuedForFlush = false;
    const n = this.arenaUsed;
    if (n === 0) return;
    this.arenaUsed = 0;
    const socket = this.socket;
    if (socket.destroyed || !socket.writable) return;
    // node may keep the buffer until the kernel takes it: hand it a copy sized to the frames and keep the arena.
    const out = Buffer.allocUnsafe(n);
    this.arena.copy(out, 0, 0, n);
    socket.write(out);
    // Everything went to the kernel: the peer is reading, the flood count starts over.
    if (socket.writableLength === 0) this.outboundControlFrames = 0;
  }
}

/** The request's pseudo-headers (first in the list) say :method HEAD. */
function isHeadRequest(fields: readonly string[], count: number): boolean {
  for (let i = 0; i + 1 < count && fields[i]!.charCodeAt(0) === 58 /* ':' */; i += 2) {
    if (fields[i] === ':method') return fields[i + 1] === 'HEAD';
  }
  return false;
}

function destroySocket(socket: net.Socket): void {
  if (!socket.destroyed) socket.destroy();
}
