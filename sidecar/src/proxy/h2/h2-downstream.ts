// One request stream on meshlet's own HTTP/2 codec, as the exchange's Downstream: the decoded head, the request
// body as a minimal event source, and the response written as frames (HEADERS, DATA, trailing HEADERS).

import type * as http from 'node:http';
import type { H2HeaderBlock, H2HeaderObject } from '../../codec/http2/h2-header-block';
import { H2ErrorCode } from '../../codec/http2/h2-constants';
import type { H2Stream, H2StreamHandler } from '../../codec/http2/h2-stream';
import type { Host } from '../../upstream/host';
import type { Downstream, RequestBody, ResponseHeaders } from '../downstream';
import { openRawHttp1Attempt } from '../h1/raw-h1-attempt';
import type { AttemptCallbacks, UpstreamAttempt, UpstreamRequestHead } from '../upstream-attempt';
import { flattenHeaders, SCRATCH_FIELDS } from './h2-fields';

const EMPTY = Buffer.alloc(0);

/**
 * Invariants: `respond()` at most once; the response is complete after respond(endStream), end() or reset(); the
 * abort callback runs at most once, only when the client reset the stream or the connection went away before
 * that. The request body is delivered through `on('data')` / `on('end')` (the exchange registers both once);
 * `pause()` stops delivery and the peer's window with it. Cost per request: this object and the header object
 * the decoder filled; no node streams.
 */
export class H2Downstream implements Downstream, H2StreamHandler, RequestBody {
  readonly protocol = 'http2' as const;
  readonly method: string;
  readonly path: string;
  readonly authority: string;
  readonly headers: http.IncomingHttpHeaders;
  readonly hasBody: boolean;
  headersSent = false;
  private completed = false;
  private abortedFlag = false;
  private requestTrailers: H2HeaderObject | undefined;
  private onBodyData: ((chunk: Buffer) => void) | undefined;
  private onBodyEnd: (() => void) | undefined;
  /** Body bytes that arrived before anyone listened (the exchange registers its listeners right away). */
  private early: Buffer[] | undefined;
  private earlyEnd = false;
  private abortCallback: (() => void) | undefined;
  private drainCallback: (() => void) | undefined;

  constructor(
    private readonly stream: H2Stream,
    block: H2HeaderBlock,
    endStream: boolean,
    readonly scheme: string,
  ) {
    this.method = block.method;
    this.path = block.path;
    this.authority = block.authority;
    this.headers = block.headers as http.IncomingHttpHeaders;
    this.hasBody = !endStream;
    stream.handler = this;
  }

  get body(): RequestBody {
    return this;
  }

  get aborted(): boolean {
    return this.abortedFlag;
  }

  trailers(): http.IncomingHttpHeaders | undefined {
    return this.requestTrailers as http.IncomingHttpHeaders | undefined;
  }

  // === RequestBody ===

  on(event: 'data' | 'end', listener: ((chunk: Buffer) => void) | (() => void)): this {
    if (event === 'data') this.onBodyData = listener as (chunk: Buffer) => void;
    else this.onBodyEnd = listener as () => void;
    const early = this.early;
    if (early !== undefined && this.onBodyData !== undefined && (!this.earlyEnd || this.onBodyEnd !== undefined)) {
      this.early = undefined;
      for (const chunk of early) this.onBodyData(chunk);
      if (this.earlyEnd) this.onBodyEnd?.();
    }
    return this;
  }

  pause(): this {
    this.stream.pause();
    return this;
  }

  resume(): this {
    this.stream.resume();
    return this;
  }

  // === H2StreamHandler (request side) ===

  streamHeaders(): void {
    // Server role: HEADERS after the request head are trailers (streamTrailers); nothing else arrives here.
  }

  streamData(_stream: H2Stream, chunk: Buffer, endStream: boolean): void {
    if (this.onBodyData === undefined || (endStream && this.onBodyEnd === undefined)) {
      // Body before the exchange listened (it does as soon as it routed): keep it.
      const early = (this.early ??= []);
      if (chunk.length > 0) early.push(chunk);
      if (endStream) this.earlyEnd = true;
      return;
    }
    if (chunk.length > 0) this.onBodyData(chunk);
    if (endStream) this.onBodyEnd?.();
  }

  streamTrailers(_stream: H2Stream, trailers: H2HeaderObject): void {
    this.requestTrailers = trailers;
    this.streamData(this.stream, EMPTY, true);
  }

  streamReset(): void {
    if (this.completed) return;
    this.completed = true;
    this.abortedFlag = true;
    this.abortCallback?.();
  }

  streamDrain(): void {
    const callback = this.drainCallback;
    this.drainCallback = undefined;
    callback?.();
  }

  // === the response ===

  respond(status: number, headers: ResponseHeaders, endStream: boolean, _trailersExpected: boolean): void {
    if (this.headersSent || this.completed) return;
    this.headersSent = true;
    const fields = SCRATCH_FIELDS;
    fields[0] = ':status';
    fields[1] = String(status);
    const count = flattenHeaders(headers, fields, 2);
    if (endStream) this.completed = true;
    this.stream.sendHeaders(fields, count, endStream);
  }

  write(chunk: Buffer): boolean {
    if (this.completed || chunk.length === 0) return true;
    return this.stream.sendData(chunk, false);
  }

  onDrain(callback: () => void): void {
    this.drainCallback = callback;
  }

  end(trailers: ResponseHeaders | undefined): void {
    if (this.completed) return;
    this.completed = true;
    if (trailers !== undefined) {
      const fields = SCRATCH_FIELDS;
      const count = flattenHeaders(trailers, fields, 0);
      if (count > 0) {
        this.stream.sendTrailers(fields, count);
        return;
      }
    }
    this.stream.sendData(EMPTY, true);
  }

  reset(): void {
    if (this.completed) return;
    this.completed = true;
    this.stream.reset(H2ErrorCode.INTERNAL_ERROR);
  }

  onAbort(callback: () => void): void {
    this.abortCallback = callback;
  }

  /** A plaintext cluster gets the raw HTTP/1.1 keep-alive relay; TLS clusters keep the agent path (undefined). */
  openHttp1Attempt(host: Host, callbacks: AttemptCallbacks, head: UpstreamRequestHead): UpstreamAttempt | undefined {
    return openRawHttp1Attempt(host, callbacks, head);
  }
}
