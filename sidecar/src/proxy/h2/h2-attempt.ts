// An upstream attempt as one stream on meshlet's own HTTP/2 codec (the host's RawHttp2Pool): gRPC and HTTP/2
// stay HTTP/2 end to end, with trailers; failures are classified for retries like the other attempts.

import type * as http from 'node:http';
import { H2ErrorCode, h2ErrorName } from '../../codec/http2/h2-constants';
import type { H2Connection } from '../../codec/http2/h2-connection';
import type { H2HeaderBlock, H2HeaderObject } from '../../codec/http2/h2-header-block';
import type { H2Stream, H2StreamHandler } from '../../codec/http2/h2-stream';
import type { Host } from '../../upstream/host';
import type { AttemptOutcome } from '../retry-state';
import type { AttemptCallbacks, UpstreamAttempt, UpstreamRequestHead } from '../upstream-attempt';
import { flattenHeaders, SCRATCH_FIELDS } from './h2-fields';

const EMPTY = Buffer.alloc(0);

/**
 * Invariants: callbacks stop after the first of end, failure or abort; 1xx responses are not passed on (the
 * exchange takes one final head). Cost per attempt: this object, the stream, one flat field list reused.
 */
export class H2Attempt implements UpstreamAttempt, H2StreamHandler {
  readonly protocol = 'http2' as const;
  requestSent = false;
  readonly reusedConnection: boolean;
  private readonly connection: H2Connection;
  private readonly stream: H2Stream;
  private gotHeaders = false;
  private done = false;
  private drainCallback: (() => void) | undefined;

  constructor(
    readonly host: Host,
    private readonly callbacks: AttemptCallbacks,
    head: UpstreamRequestHead,
  ) {
    const entry = host.rawHttp2.acquire();
    this.connection = entry.connection;
    this.reusedConnection = entry.connected;
    const stream = this.connection.openStream();
    this.stream = stream;
    stream.handler = this;
    const fields = SCRATCH_FIELDS;
    fields[0] = ':method';
    fields[1] = head.method;
    fields[2] = ':scheme';
    fields[3] = head.scheme;
    fields[4] = ':authority';
    fields[5] = head.authority;
    fields[6] = ':path';
    fields[7] = head.path;
    const headers = head.headers;
    const hostHeader = headers['host'];
    if (hostHeader !== undefined) delete headers['host'];
    const count = flattenHeaders(headers, fields, 8);
    if (hostHeader !== undefined) headers['host'] = hostHeader;
    stream.sendHeaders(fields, count, !head.hasBody);
  }

  // === H2StreamHandler ===

  streamHeaders(_stream: H2Stream, block: H2HeaderBlock, endStream: boolean): void {
    if (this.done || block.status < 200) return; // 1xx: informational, the final head follows
    this.gotHeaders = true;
    this.requestSent = true;
    if (endStream) this.done = true;
    this.callbacks.onUpstreamHeaders(this, block.status, block.headers as http.IncomingHttpHeaders, endStream);
  }

  streamData(_stream: H2Stream, chunk: Buffer, endStream: boolean): void {
    if (this.done) return;
    if (chunk.length > 0) this.callbacks.onUpstreamData(this, chunk);
    if (endStream && !this.done) {
      this.done = true;
      this.callbacks.onUpstreamEnd(this, undefined);
    }
  }

  streamTrailers(_stream: H2Stream, trailers: H2HeaderObject): void {
    if (this.done) return;
    this.done = true;
    this.callbacks.onUpstreamEnd(this, trailers as http.IncomingHttpHeaders);
  }

  streamReset(_stream: H2Stream, code: number, unprocessed: boolean): void {
    if (this.done) return;
    this.done = true;
    const connectionError = this.connection.error;
    let outcome: AttemptOutcome;
    if (code === H2ErrorCode.REFUSED_STREAM || unprocessed) outcome = { kind: 'refused_stream' };
    else if (!this.connection.established) outcome = { kind: 'connect_failure' };
    else outcome = { kind: 'reset', beforeRequestSent: !this.requestSent && !this.gotHeaders };
    const error = !this.connection.established && connectionError !== undefined ? connectionError : Object.assign(new Error(`upstream stream reset (${h2ErrorName(code)})${connectionError ? `: ${connectionError.message}` : ''}`), { code: code === H2ErrorCode.REFUSED_STREAM ? 'REFUSED_STREAM' : 'ECONNRESET' });
    this.callbacks.onUpstreamFailure(this, outcome, error);
  }

  streamDrain(): void {
    const callback = this.drainCallback;
    this.drainCallback = undefined;
    callback?.();
  }

  // === UpstreamAttempt ===

  write(chunk: Buffer): boolean {
    this.requestSent = true;
    return this.stream.sendData(chunk, false);
  }

  onDrain(callback: () => void): void {
    this.drainCallback = callback;
  }

  end(): void {
    this.stream.sendData(EMPTY, true);
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
    this.stream.reset(H2ErrorCode.CANCEL);
  }
}
