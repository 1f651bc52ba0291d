// Turns a catalogue error into the response the client sees: HTTP status and body, or a trailers-only gRPC reply.

import { Errors, type ErrorKind } from '../core/errors';
import type { Downstream, ResponseHeaders } from './downstream';

/** Envoy's local reply bodies (router.cc / conn_manager_impl.cc), so clients and scripts see familiar text. */
const BODIES: ReadonlyMap<ErrorKind, string> = new Map([
  [Errors.noRoute, ''],
  [Errors.noCluster, ''],
  [Errors.noHealthyHost, 'no healthy upstream'],
  [Errors.connectFailure, 'upstream connect error or disconnect/reset before headers. reset reason: connection failure'],
  [Errors.upstreamReset, 'upstream connect error or disconnect/reset before headers. reset reason: remote reset'],
  [Errors.upstreamConnectionTermination, 'upstream connect error or disconnect/reset before headers. reset reason: connection termination'],
  [Errors.upstreamProtocolError, 'upstream connect error or disconnect/reset before headers. reset reason: protocol error'],
  [Errors.upstreamTimeout, 'upstream request timeout'],
  [Errors.perTryTimeout, 'upstream request timeout'],
  [Errors.overflow, 'upstream connect error or disconnect/reset before headers. reset reason: overflow'],
  [Errors.streamIdleTimeout, 'stream timeout'],
  [Errors.requestTimeout, 'request timeout'],
  [Errors.maxDurationTimeout, 'downstream duration timeout'],
  [Errors.maxDurationTimeoutIncompleteRequest, 'downstream duration timeout'],
  [Errors.upstreamMaxStreamDuration, 'upstream max stream duration reached'],
  [Errors.upstreamMaxStreamDurationIncompleteRequest, 'upstream max stream duration reached'],
  [Errors.requestHeaderTimeout, 'request header timeout'],
  [Errors.downstreamProtocolError, 'bad request'],
  [Errors.loopDetected, 'loop detected'],
  [Errors.draining, 'listener draining'],
]);

/** The text body of `kind`'s local reply (Envoy's wording), `details` when Envoy has none. */
export function localReplyBody(kind: ErrorKind): string {
  return BODIES.get(kind) ?? kind.details;
}

/**
 * The raw HTTP/1.1 408 for request_headers_timeout, written straight to a socket whose request head never completed
 * (no request object exists yet), then the connection closes (Envoy onRequestHeaderTimeout).
 */
export function requestHeaderTimeoutReply(): string {
  const body = localReplyBody(Errors.requestHeaderTimeout);
  return `HTTP/1.1 ${Errors.requestHeaderTimeout.httpStatus} Request Timeout\r\ncontent-length: ${body.length}\r\ncontent-type: text/plain\r\nconnection: close\r\n\r\n${body}`;
}

/** Percent-encodes a grpc-message as the gRPC HTTP/2 spec asks (printable ASCII except '%' kept). */
export function encodeGrpcMessage(message: string): string {
  let out = '';
  for (const byte of Buffer.from(message, 'utf8')) {
    out += byte >= 0x20 && byte <= 0x7e && byte !== 0x25 ? String.fromCharCode(byte) : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

/**
 * Sends the local reply for `kind`. gRPC requests get HTTP 200 with `grpc-status`/`grpc-message` in a
 * trailers-only response (what Envoy's `sendLocalReply` does for gRPC); others get the HTTP status and a short
 * text body. If the response already started, the stream is reset instead (the only signal left).
 */
export function sendLocalReply(downstream: Downstream, kind: ErrorKind, isGrpc: boolean, extraHeaders?: ResponseHeaders): void {
  if (downstream.aborted) return;
  if (downstream.headersSent) {
    downstream.reset();
    return;
  }
  const body = localReplyBody(kind);
  if (isGrpc) {
    const headers: ResponseHeaders = {
      ...extraHeaders,
      'content-type': 'application/grpc',
      'grpc-status': String(kind.grpcStatus),
      'grpc-message': encodeGrpcMessage(body === '' ? kind.details : body),
    };
    downstream.respond(200, headers, true, false);
    return;
  }
  const headers: ResponseHeaders = { ...extraHeaders, 'content-length': Buffer.byteLength(body), 'content-type': 'text/plain' };
  if (kind === Errors.overflow) headers['x-envoy-overloaded'] = 'true';
  if (body === '') {
    downstream.respond(kind.httpStatus, headers, true, false);
    return;
  }
  downstream.respond(kind.httpStatus, headers, false, false);
  downstream.write(Buffer.from(body));
  downstream.end(undefined);
}
