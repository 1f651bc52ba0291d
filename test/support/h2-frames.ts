// A raw HTTP/2 peer for codec tests: builds frames byte by byte (RFC 9113 §4-6) and reads what the other side
// sends back, so tests can send what no well-behaved library would (bad lengths, interleaved blocks, floods).

import * as net from 'node:net';
import { HpackDecoder, type HeaderSink } from '../../sidecar/src/codec/http2/hpack/hpack-decoder';
import { HpackEncoder } from '../../sidecar/src/codec/http2/hpack/hpack-encoder';

export const PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');

export const T = { DATA: 0, HEADERS: 1, PRIORITY: 2, RST_STREAM: 3, SETTINGS: 4, PUSH_PROMISE: 5, PING: 6, GOAWAY: 7, WINDOW_UPDATE: 8, CONTINUATION: 9 } as const;
export const F = { END_STREAM: 1, ACK: 1, END_HEADERS: 4, PADDED: 8, PRIORITY: 0x20 } as const;
export const E = { NO_ERROR: 0, PROTOCOL_ERROR: 1, INTERNAL_ERROR: 2, FLOW_CONTROL_ERROR: 3, STREAM_CLOSED: 5, FRAME_SIZE_ERROR: 6, REFUSED_STREAM: 7, CANCEL: 8, COMPRESSION_ERROR: 9, ENHANCE_YOUR_CALM: 11 } as const;

export interface Frame {
  type: number;
  flags: number;
  streamId: number;
  payload: Buffer;
}

/** One frame: 9-byte header and payload (the length field is the payload's, whatever it holds). */
export function frame(type: number, flags: number, streamId: number, payload: Buffer = Buffer.alloc(0)): Buffer {
  const header = Buffer.alloc(9);
  header.writeUIntBE(payload.length, 0, 3);
  header[3] = type;
  header[4] = flags;
  header.writeUInt32BE(streamId >>> 0, 5);
  return Buffer.concat([header, payload]);
}

export function settings(entries: Array<[number, number]> = [], ack = false): Buffer {
  const payload = Buffer.alloc(entries.length * 6);
  entries.forEach(([id, value], i) => {
    payload.writeUInt16BE(id, i * 6);
    payload.writeUInt32BE(value >>> 0, i * 6 + 2);
  });
  return frame(T.SETTINGS, ack ? F.ACK : 0, 0, payload);
}

export function u32(...values: number[]): Buffer {
  const b = Buffer.alloc(values.length * 4);
  values.forEach((v, i) => b.writeUInt32BE(v >>> 0, i * 4));
  return b;
}

export const data = (streamId: number, body: Buffer | string, endStream = false): Buffer => frame(T.DATA, endStream ? F.END_STREAM : 0, streamId, Buffer.from(body));
export const windowUpdate = (streamId: number, increment: number): Buffer => frame(T.WINDOW_UPDATE, 0, streamId, u32(increment));
export const rstStream = (streamId: number, code: number): Buffer => frame(T.RST_STREAM, 0, streamId, u32(code));
export const ping = (payload = Buffer.alloc(8), ack = false): Buffer => frame(T.PING, ack ? F.ACK : 0, 0, payload);
export const goaway = (lastStreamId: number, code: number): Buffer => frame(T.GOAWAY, 0, 0, u32(lastStreamId, code));
export const priority = (streamId: number, dependsOn: number, weight = 15): Buffer => frame(T.PRIORITY, 0, streamId, Buffer.concat([u32(dependsOn), Buffer.from([weight])]));

/** Request fields a valid client sends; `extra` adds (or, with a pseudo name, repeats) fields in order. */
export function requestFields(path = '/', extra: Array<[string, string]> = [], method = 'GET'): Array<[string, string]> {
  return [[':method', method], [':scheme', 'http'], [':authority', 'example.test'], [':path', path], ...extra];
}

/** A raw peer: one socket, one HPACK encoder/decoder pair, every frame it receives kept in order. */
export class RawH2Peer {
  readonly frames: Frame[] = [];
  closed = false;
  private readonly encoder = new HpackEncoder();
  private readonly decoder = new HpackDecoder(4096);
  private pending = Buffer.alloc(0);
  private readonly waiters: Array<() => void> = [];
  /** Server side: the client preface still to skip before frames. */
  private prefaceToSkip = 0;

  private constructor(readonly socket: net.Socket) {
    socket.on('data', (chunk: Buffer) => {
      this.pending = Buffer.concat([this.pending, chunk]);
      if (this.prefaceToSkip > 0) {
        const n = Math.min(this.prefaceToSkip, this.pending.length);
        this.prefaceToSkip -= n;
        this.pending = this.pending.subarray(n);
      }
      while (this.pending.length >= 9) {
        const length = this.pending.readUIntBE(0, 3);
        if (this.pending.length < 9 + length) break;
        this.frames.push({ type: this.pending[3]!, flags: this.pending[4]!, streamId: this.pending.readUInt32BE(5) & 0x7fffffff, payload: Buffer.from(this.pending.subarray(9, 9 + length)) });
        this.pending = this.pending.subarray(9 + length);
      }
      this.wake();
    });
    socket.on('close', () => {
      this.closed = true;
      this.wake();
    });
    socket.on('error', () => undefined);
  }

  static connect(port: number): Promise<RawH2Peer> {
    return new Promise((resolve, reject) => {
      const socket = net.connect(port, '127.0.0.1', () => resolve(new RawH2Peer(socket)));
      socket.once('error', reject);
    });
  }

  /** Wraps a socket accepted by a test server (the raw peer plays the server). */
  static accept(socket: net.Socket): RawH2Peer {
    const peer = new RawH2Peer(socket);
    peer.prefaceToSkip = PREFACE.length;
    return peer;
  }

  /** HPACK block for `fields` from this peer's encoder (keeps its dynamic table in step with the other side). */
  block(fields: Array<[string, string]>): Buffer {
    const flat = fields.flat();
    return Buffer.from(this.encoder.encode(flat, flat.length));
  }

  headers(streamId: number, fields: Array<[string, string]>, endStream = true, endHeaders = true): Buffer {
    return frame(T.HEADERS, (endStream ? F.END_STREAM : 0) | (endHeaders ? F.END_HEADERS : 0), streamId, this.block(fields));
  }

  /** The client preface with an empty SETTINGS, then `frames`. */
  start(...frames: Buffer[]): void {
    this.send(PREFACE, settings(), ...frames);
  }

  send(...frames: Buffer[]): void {
    if (!this.socket.destroyed) this.socket.write(Buffer.concat(frames));
  }

  /** Decodes a received HEADERS payload (no padding/priority) into [name, value] pairs. */
  decode(payload: Buffer): Array<[string, string]> {
    const out: Array<[string, string]> = [];
    const sink: HeaderSink = { header: (name, value) => out.push([name, value]) };
    this.decoder.decode(payload, 0, payload.length, sink);
    return out;
  }

  /** Resolves with the first received frame matching `match` (already received or later); rejects if the socket closes first. */
  async waitFor(match: (f: Frame) => boolean, what = 'frame'): Promise<Frame> {
    for (;;) {
      const found = this.frames.find(match);
      if (found !== undefined) return found;
      if (this.closed) throw new Error(`connection closed before ${what}; frames: ${this.describe()}`);
      await new Promise<void>((resolve) => this.waiters.push(resolve));
    }
  }

  waitForType(type: number, streamId?: number): Promise<Frame> {
    return this.waitFor((f) => f.type === type && (streamId === undefined || f.streamId === streamId), `frame type ${type}`);
  }

  /** The GOAWAY's error code, waiting for it. */
  async goawayCode(): Promise<number> {
    const f = await this.waitForType(T.GOAWAY);
    return f.payload.readUInt32BE(4);
  }

  /** The RST_STREAM code for `streamId`, waiting for it. */
  async rstCode(streamId: number): Promise<number> {
    const f = await this.waitForType(T.RST_STREAM, streamId);
    return f.payload.readUInt32BE(0);
  }

  /** Resolves once the other side closed the socket. */
  async waitClosed(): Promise<void> {
    while (!this.closed) await new Promise<void>((resolve) => this.waiters.push(resolve));
  }

  /** A PING round trip: every frame the other side sent before its ACK is in `frames` afterwards. */
  async roundTrip(): Promise<void> {
    const marker = Buffer.from(`rt${Math.random().toString(36).slice(2, 8)}`.padEnd(8, 'x').slice(0, 8));
    this.send(ping(marker));
    await this.waitFor((f) => f.type === T.PING && (f.flags & F.ACK) !== 0 && f.payload.equals(marker), 'PING ACK');
  }

  describe(): string {
    return this.frames.map((f) => `${f.type}/${f.flags}/${f.streamId}(${f.payload.length})`).join(' ');
  }

  close(): void {
    this.socket.destroy();
  }

  private wake(): void {
    const waiters = this.waiters.splice(0);
    for (const w of waiters) w();
  }
}
