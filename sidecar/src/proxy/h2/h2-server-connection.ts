// A downstream HTTP/2 connection on meshlet's own codec: each request stream becomes an H2Downstream run by the
// proxy's exchange; the connection context counts streams (idle timeout, max requests, drain with GOAWAY).

import type * as net from 'node:net';
import type { HttpConnectionManagerConfig } from '../../config/listener-config';
import { H2Connection, type H2ConnectionOwner, type H2ConnectionSettings } from '../../codec/http2/h2-connection';
import type { H2HeaderBlock } from '../../codec/http2/h2-header-block';
import type { H2Stream } from '../../codec/http2/h2-stream';
import { h2Settings } from '../../codec/http2/h2-settings';
import type { Downstream } from '../downstream';
import { H2Downstream } from './h2-downstream';

/** The per-connection state the proxy keeps (http-proxy's ConnectionContext). */
export interface H2ServerContext {
  readonly scheme: string;
  /** A stream started (counts it; may start draining at max_requests_per_connection). */
  requestStarted(): void;
  /** A stream ended (re-arms the idle timer, or finishes a drain). */
  requestDone(): void;
}

/** What the connection needs from the proxy. */
export interface H2ServerOwner<C extends H2ServerContext> {
  serve(downstream: Downstream, context: C): void;
}

/** The codec settings a connection manager's http2_protocol_options and max_request_headers_kb give. */
export function serverSettings(hcm: HttpConnectionManagerConfig): H2ConnectionSettings {
  return h2Settings('server', hcm.http2, hcm.maxRequestHeadersKb * 1024);
}

const TOO_LARGE_FIELDS = [':status', '431', 'content-length', '0'];

/** Invariants: every stream handed to the proxy was counted with requestStarted and is uncounted exactly once. */
export class H2ServerConnection<C extends H2ServerContext> implements H2ConnectionOwner {
  readonly connection: H2Connection;

  constructor(
    socket: net.Socket,
    settings: H2ConnectionSettings,
    private readonly context: C,
    private readonly owner: H2ServerOwner<C>,
  ) {
    this.connection = new H2Connection(socket, settings, this);
  }

  onStream(_connection: H2Connection, stream: H2Stream, block: H2HeaderBlock, endStream: boolean): void {
    this.context.requestStarted();
    const downstream = new H2Downstream(stream, block, endStream, this.context.scheme);
    if (block.tooLarge) {
      // Envoy answers headers over max_request_headers_kb with 431.
      stream.sendHeaders(TOO_LARGE_FIELDS, TOO_LARGE_FIELDS.length, true);
      return;
    }
    this.owner.serve(downstream, this.context);
  }

  onStreamClosed(): void {
    this.context.requestDone();
  }

  onRemoteSettings(): void {
    // Nothing to wait for: the client may open streams before our SETTINGS ACK.
  }

  onGoaway(): void {
    // The client is going away: its open streams finish, the socket closes after them.
  }

  onClose(): void {
    // The socket's 'close' reaches the connection context directly.
  }
}
