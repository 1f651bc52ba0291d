// The contract between listener/ (accepts, sniffs, matches, terminates TLS) and proxy/ (serves the connection).

import type * as net from 'node:net';
import type * as tls from 'node:tls';
import type { HttpConnectionManagerConfig, TcpProxyConfig } from '../config/listener-config';

/**
 * What the listener learned about a downstream connection before handing it on. One frozen object per connection,
 * built once after filter-chain selection (and TLS termination, when the chain terminates TLS).
 */
export interface DownstreamConnectionInfo {
  /** The listener whose filter chain serves the connection (after a `use_original_dst` hand-off: the target). */
  readonly listenerName: string;
  readonly filterChainName: string;
  readonly remoteAddress: string;
  readonly remotePort: number;
  readonly localAddress: string;
  readonly localPort: number;
  /** Where the client meant to go: SO_ORIGINAL_DST when redirected by iptables, else the local address. */
  readonly originalDst: { readonly host: string; readonly port: number };
  readonly transportProtocol: 'tls' | 'raw_buffer';
  /** After TLS termination (or from tls_inspector when passed through): SNI, negotiated/offered ALPN. */
  readonly sni: string | undefined;
  readonly alpn: string | undefined;
  readonly tlsTerminated: boolean;
}

/** Returned by a handler so the listener can drain the connection (HTTP: Connection: close / GOAWAY; TCP: nothing). */
export interface ConnectionHandle {
  /** Ask the connection to finish gracefully. Idempotent. The listener destroys the socket after its drain timeout. */
  drain(): void;
}

/**
 * Implemented by proxy/, called by listener/ once per accepted connection. The socket is paused (`pause()`), with
 * any bytes read for sniffing unshifted back; from the call on, the handler owns reading and writing. Because it is
 * explicitly paused, adding a 'data' listener does not resume it: after `http.Server#emit('connection', socket)` call
 * `socket.resume()` (http2 sessions, `pipe()` and TLSSocket read the buffered bytes themselves). The listener keeps
 * the socket only to count it, drain it and destroy it at a drain deadline; a throwing handler gets the socket destroyed.
 */
export interface ConnectionHandlers {
  /** A connection whose filter chain ends in an HTTP connection manager, after TLS termination if any, with the detected codec. */
  http(socket: net.Socket | tls.TLSSocket, info: DownstreamConnectionInfo, hcm: HttpConnectionManagerConfig, codec: 'http1' | 'http2'): ConnectionHandle;
  /** A connection whose filter chain ends in tcp_proxy (bytes already read for sniffing are unshifted back). */
  tcp(socket: net.Socket | tls.TLSSocket, info: DownstreamConnectionInfo, config: TcpProxyConfig): ConnectionHandle;
}
