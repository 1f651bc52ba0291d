// Serves the connections listeners hand over: HTTP/1.1 and HTTP/2 through node's servers into Exchanges, and
// tcp_proxy connections into TcpProxySessions. Implements listener/'s ConnectionHandlers.

import * as http from 'node:http';
import type * as http2 from 'node:http2';
import type * as net from 'node:net';
import { performance } from 'node:perf_hooks';
import type * as tls from 'node:tls';
import { Errors } from '../core/errors';
import type { HttpConnectionManagerConfig, TcpProxyConfig } from '../config/listener-config';
import type { ConnectionHandle, ConnectionHandlers, DownstreamConnectionInfo } from '../listener/connection-handlers';
import type { Logger } from '../observability/logger';
import type { UpstreamCluster } from '../upstream/upstream-cluster';
import { Http1Downstream, Http2Downstream, type Downstream } from './downstream';
import { Exchange, type ExchangeEnvironment } from './exchange';
import type { ExchangeObserver } from './exchange-observer';
import { requestHeaderTimeoutReply, sendLocalReply } from './local-reply';
import type { ProxyRuntime } from './proxy-runtime';
import { H1Connection, type H1ConnectionOwner } from './h1/h1-connection';
import type { H2Connection } from '../codec/http2/h2-connection';
import { H2ErrorCode } from '../codec/http2/h2-constants';
import { H2ServerConnection, serverSettings, type H2ServerOwner } from './h2/h2-server-connection';
import { TcpProxySession } from './tcp-proxy-session';
import { proxyUpgrade } from './upgrade-tunnel';

export interface HttpProxyOptions {
  /** The runtime in force; read once per request. undefined before the first complete config. */
  readonly runtime: () => ProxyRuntime | undefined;
  readonly clusters: { get(name: string): UpstreamCluster | undefined };
  readonly logger: Logger;
  /** Node id, for the `via` token of loop detection. */
  readonly nodeId: string;
  readonly random?: () => number;
  readonly retryBufferLimitBytes?: number;
  /** Told about every exchange and attempt (stats, outlier detection, tracing, access log). */
  readonly observers?: readonly ExchangeObserver[];
  /**
   * Serve plaintext HTTP/1.1 with the fast path (proxy/h1: raw sockets, strict head parser, raw upstream
   * keep-alive), node:http taking over any request it does not serve. Default: on, unless MESHLET_HTTP1_FAST=0.
   */
  readonly fastHttp1?: boolean;
  /**
   * Serve HTTP/2 (downstream and upstream) with meshlet's own codec (codec/http2) instead of node:http2.
   * Default: on, unless MESHLET_HTTP2_FAST=0.
   */
  readonly fastHttp2?: boolean;
}

const CONNECTION = Symbol('meshlet.connection');
/** Envoy's HCM delayed_close_timeout default: how long a connection we ended waits for the client's close. */
const DELAYED_CLOSE_MS = 1000;

/**
 * Per-connection state: what the listener told us, how to drain, and the HCM's connection limits: the idle timer
 * (common_http_protocol_options.idle_timeout, armed while no request is active), max_requests_per_connection,
 * max_connection_duration, and request_headers_timeout for HTTP/1.1 served by node:http.
 */
class ConnectionContext implements ConnectionHandle {
  activeRequests = 0;
  /** node:http: bytes of a request head arrived and the head is not complete yet (request_headers_timeout runs). */
  headPending = false;
  /** Requests started on this connection so far. */
  requests = 0;
  draining = false;
  session: http2.ServerHttp2Session | undefined;
  /** The connection on meshlet's own HTTP/2 codec, when it serves this one. */
  h2: H2Connection | undefined;
  /** node:http's response in progress on this connection (it serves one at a time), for drain's `connection: close`. */
  http1Response: http.ServerResponse | undefined;
  private idleTimer: NodeJS.Timeout | undefined;
  /** HCM common_http_protocol_options.max_connection_duration (none when unset or 0). */
  private durationTimer: NodeJS.Timeout | undefined;
  /** performance.now() when the connection last became idle (no active request). */
  private idleSince = performance.now();
  /** The socket closed: requests that end afterwards (their 'close' comes later) must not arm the idle timer. */
  private socketClosed = false;
  /** node:http: request_headers_timeout's timer, one per connection, re-armed with refresh() at each request head. */
  private headTimer: NodeJS.Timeout | undefined;

  constructor(
    readonly socket: net.Socket,
    readonly info: DownstreamConnectionInfo,
    readonly hcm: HttpConnectionManagerConfig,
    readonly scheme: string,
    private readonly observers: readonly ExchangeObserver[],
  ) {
    this.armIdleTimer(hcm.idleTimeoutMs);
    const maxDuration = hcm.maxConnectionDurationMs;
    // unref: as the idle timer, it never keeps the process alive on its own.
    if (maxDuration !== null && maxDuration > 0) this.durationTimer = setTimeout(onConnectionDurationReached, maxDuration, this).unref();
  }

  /**
   * A request (HTTP/1.1) or stream (HTTP/2) started. Envoy drains the connection once it has carried
   * max_requests_per_connection requests: HTTP/1.1 answers this one with `connection: close`, HTTP/2 sends GOAWAY.
   */
  requestStarted(): void {
    this.headPending = false;
    this.activeRequests += 1;
    this.requests += 1;
    // The idle timer stays armed across requests (clearing and re-arming it per request costs a timer each
    // time); when it fires it checks whether the connection has really been idle for idle_timeout.
    const max = this.hcm.maxRequestsPerConnection;
    if (max !== null && max > 0 && this.requests >= max) this.drain();
  }

  requestDone(): void {
    if (this.activeRequests > 0) this.activeRequests -= 1;
    if (this.activeRequests > 0) return;
    if (this.draining) {
      if (this.session === undefined && this.h2 === undefined) this.socket.end();
    } else {
      this.idleSince = performance.now();
      this.armIdleTimer(this.hcm.idleTimeoutMs);
    }
  }

  private armIdleTimer(delayMs: number): void {
    if (this.hcm.idleTimeoutMs <= 0 || this.idleTimer !== undefined || this.draining || this.socketClosed) return;
    // unref: the connection's socket is what keeps the process alive, never its idle timer (a timer armed by a
    // request that ended with the socket kept a SIGTERM'd meshlet running for up to idle_timeout, 1 h by default).
    this.idleTimer = setTimeout(onConnectionIdle, delayMs, this).unref();
  }

  /**
   * Envoy's connection idle timeout: no active request for idle_timeout -> close (HTTP/2: GOAWAY, then close).
   * The timer may fire early (armed before the last request): then it waits out the rest of the idle time; while a
   * request is active it stops, and requestDone arms it again.
   */
  idleTimedOut(): void {
    this.idleTimer = undefined;
    if (this.activeRequests > 0 || this.draining) return;
    const remaining = this.idleSince + this.hcm.idleTimeoutMs - performance.now();
    if (remaining > 1) this.armIdleTimer(Math.ceil(remaining));
    else this.drain();
  }

  /**
   * max_connection_duration expired (Envoy onConnectionDurationTimeout): the connection drains, closing at once when
   * idle; HTTP/1.1 says `connection: close` on the response in flight, HTTP/2 sends GOAWAY and closes once its
   * streams finished.
   */
  durationReached(): void {
    this.durationTimer = undefined;
    if (this.socketClosed) return;
    for (const observer of this.observers) observer.connectionDurationReached?.(this.info.listenerName);
    this.drain();
  }

  /**
   * node:http: the first bytes of a request head arrived (no request active). Envoy's request_headers_timeout runs
   * from the first byte of a request until its headers are complete (requestStarted); one timer per connection,
   * refreshed rather than re-created.
   */
  headStarted(): void {
    this.headPending = true;
    if (this.headTimer === undefined) this.headTimer = setTimeout(onRequestHeadersTimeout, this.hcm.requestHeadersTimeoutMs, this).unref();
    else this.headTimer.refresh();
  }

  /**
   * node:http: request_headers_timeout fired. If the head is still incomplete: 408 "request header timeout"
   * written on the socket (node has no request object yet), then close (Envoy onRequestHeaderTimeout).
   */
  headTimerFired(): void {
    if (!this.headPending || this.socketClosed) return;
    this.headPending = false;
    this.requestHeadersTimedOut();
    const socket = this.socket;
    if (socket.writable) socket.end(requestHeaderTimeoutReply(), 'latin1');
    setTimeout(destroySocket, DELAYED_CLOSE_MS, socket).unref();
  }

  /** request_headers_timeout expired (either HTTP/1.1 path): Envoy's `downstream_rq_header_timeout`. */
  requestHeadersTimedOut(): void {
    for (const observer of this.observers) observer.requestHeadersTimedOut?.(this.info.listenerName);
  }

  /** The socket closed: nothing left to time. */
  closed(): void {
    this.socketClosed = true;
    if (this.idleTimer !== undefined) clearTimeout(this.idleTimer);
    this.idleTimer = undefined;
    if (this.durationTimer !== undefined) clearTimeout(this.durationTimer);
    this.durationTimer = undefined;
    if (this.headTimer !== undefined) clearTimeout(this.headTimer);
    this.headTimer = undefined;
  }

  /** HTTP/1.1: close when idle, else `connection: close` on the current response; HTTP/2: GOAWAY. */
  drain(): void {
    if (this.draining) return;
    this.draining = true;
    if (this.idleTimer !== undefined) {
      clearTimeout(this.idleTimer);
      this.idleTimer = undefined;
    }
    if (this.session !== undefined) {
      if (!this.session.closed && !this.session.destroyed) this.session.close();
      return;
    }
    if (this.h2 !== undefined) {
      this.h2.goaway();
      return;
    }
    if (this.activeRequests === 0) this.socket.end();
    // node:http: the response in progress says `connection: close` (node then closes after it); the fast path's
    // H1Downstream reads `draining` itself.
    else if (this.http1Response !== undefined && !this.http1Response.headersSent) this.http1Response.setHeader('connection', 'close');
  }
}

type SocketWithContext = net.Socket & { [CONNECTION]?: ConnectionContext };
/** Responses and HTTP/2 streams carry their connection's context too, for module-level 'close' handlers. */
type WithContext = { [CONNECTION]?: ConnectionContext };

function onConnectionIdle(context: ConnectionContext): void {
  context.idleTimedOut();
}

function onConnectionDurationReached(context: ConnectionContext): void {
  context.durationReached();
}

function onRequestHeadersTimeout(context: ConnectionContext): void {
  context.headTimerFired();
}

function destroySocket(socket: net.Socket): void {
  if (!socket.destroyed) socket.destroy();
}

/**
 * node:http connections with request_headers_timeout: bytes while no request is active are the start of a request
 * head. (A head pipelined behind a request in flight is not timed; node:http parses it only after that one ends.)
 */
function onNodeHttp1Data(this: SocketWithContext): void {
  const context = this[CONNECTION];
  if (context !== undefined && context.activeRequests === 0 && !context.headPending) context.headStarted();
}

function onContextSocketClose(this: SocketWithContext): void {
  this[CONNECTION]?.closed();
}

/** An HTTP/1.1 response ended or its connection went away ('close' follows 'finish' as well). */
function onHttp1ResponseClose(this: http.ServerResponse & WithContext): void {
  const context = this[CONNECTION];
  if (context === undefined) return;
  if (context.http1Response === this) context.http1Response = undefined;
  context.requestDone();
}

function onHttp2StreamClose(this: http2.ServerHttp2Stream & WithContext): void {
  this[CONNECTION]?.requestDone();
}

/**
 * The proxy's connection handlers. One `http.Server` and one `http2.Http2Server` (never listening: connections
 * are injected with `emit('connection')`) serve every HTTP connection; the per-connection context rides on the
 * socket. Hot path: one Downstream adapter and one Exchange per request, no per-request closures here.
 */
export class HttpProxy implements ConnectionHandlers, ExchangeEnvironment {
  private readonly h1: http.Server;
  /** node:http2's server for the fallback codec (MESHLET_HTTP2_FAST=0), created on its first connection. */
  private h2: http2.Http2Server | undefined;
  private readonly viaTokens = new Map<string, string>();
  readonly clusters: { get(name: string): UpstreamCluster | undefined };
  readonly random: () => number;
  readonly retryBufferLimitBytes: number;
  readonly observers: ExchangeObserver[];
  private readonly tcpSessions = new Set<TcpProxySession>();
  /** Requests in flight (for drain and tests). */
  activeExchanges = 0;

  /** The fast HTTP/1.1 path's hooks into this proxy; undefined when it is off. */
  private readonly h1Fast: H1ConnectionOwner<ConnectionContext> | undefined;
  /** The own HTTP/2 codec's hook into this proxy; undefined when node:http2 serves HTTP/2. */
  private readonly h2Fast: H2ServerOwner<ConnectionContext> | undefined;
  /** Upstream HTTP/2 attempts use the own codec (ExchangeEnvironment). */
  readonly ownHttp2: boolean;

  constructor(private readonly options: HttpProxyOptions) {
    this.clusters = options.clusters;
    this.random = options.random ?? Math.random;
    this.retryBufferLimitBytes = options.retryBufferLimitBytes ?? 1024 * 1024;
    this.observers = [...(options.observers ?? [])];
    // Envoy's max_request_headers_kb default is 60 KiB; node's default is 16 KiB. Idle keep-alive connections are
    // closed by the HCM's idle_timeout (ConnectionContext), not node's keepAliveTimeout. No headersTimeout or
    // requestTimeout: node enforces them from a check interval it starts on 'listening', and this server never
    // listens; request_headers_timeout is the HCM's, per connection (ConnectionContext.headStarted).
    this.h1 = http.createServer({ maxHeaderSize: 60 * 1024, keepAliveTimeout: 0 }, (req, res) => this.onHttp1Request(req, res));
    this.h1Fast = (options.fastHttp1 ?? process.env['MESHLET_HTTP1_FAST'] !== '0')
      ? {
          serve: (downstream, context) => this.serve(downstream, context),
          // node:http (llhttp) takes the connection at a request boundary; the context stays on the socket.
          fallback: (socket) => this.serveWithNodeHttp1(socket),
        }
      : undefined;
    this.ownHttp2 = options.fastHttp2 ?? process.env['MESHLET_HTTP2_FAST'] !== '0';
    this.h2Fast = this.ownHttp2 ? { serve: (downstream, context) => this.serve(downstream, context) } : undefined;
    this.h1.on('clientError', onClientError);
    this.h1.on('upgrade', (req: http.IncomingMessage, socket: net.Socket, head: Buffer) => {
      const context = (socket as SocketWithContext)[CONNECTION];
      if (context === undefined) {
        socket.destroy();
        return;
      }
      // An upgraded stream is active for its whole life: the connection idle timer must not cut the tunnel.
      context.requestStarted();
      proxyUpgrade(req, socket, head, context.info, context.hcm, this.options.runtime(), this.clusters, this.random);
    });
  }

  /** node:http2 loads only here, for the fallback codec: the own codec serves HTTP/2 by default (issue 3, RSS). */
  private nodeHttp2Server(): http2.Http2Server {
    if (this.h2 !== undefined) return this.h2;
    const server = (require('node:http2') as typeof import('node:http2')).createServer({ settings: { enablePush: false }, maxSessionMemory: 64 });
    server.on('session', (session: http2.ServerHttp2Session) => {
      const socket = session.socket as SocketWithContext;
      const context = socket[CONNECTION];
      if (context !== undefined) context.session = session;
      session.on('error', () => undefined);
    });
    server.on('stream', (stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders, flags: number) => this.onHttp2Stream(stream, headers, flags));
    this.h2 = server;
    return server;
  }

  // === ConnectionHandlers ===

  http(socket: net.Socket | tls.TLSSocket, info: DownstreamConnectionInfo, hcm: HttpConnectionManagerConfig, codec: 'http1' | 'http2'): ConnectionHandle {
    const context = new ConnectionContext(socket, info, hcm, info.tlsTerminated ? 'https' : 'http', this.observers);
    (socket as SocketWithContext)[CONNECTION] = context;
    socket.once('close', onContextSocketClose);
    if (codec === 'http2' && this.h2Fast !== undefined) {
      context.h2 = new H2ServerConnection(socket, serverSettings(hcm), context, this.h2Fast).connection;
    } else if (codec === 'http2') {
      // The HTTP/2 session consumes the socket's handle directly (and takes the unshifted preface from its
      // buffer); resuming the JS stream here would steal bytes from nghttp2.
      this.nodeHttp2Server().emit('connection', socket);
    } else if (this.h1Fast !== undefined && !info.tlsTerminated) {
      new H1Connection(socket, context, this.h1Fast);
    } else {
      this.serveWithNodeHttp1(socket);
    }
    return context;
  }

  /** node:http serves the connection (TLS-terminated, MESHLET_HTTP1_FAST=0, or handed over by the fast path). */
  private serveWithNodeHttp1(socket: net.Socket): void {
    this.h1.emit('connection', socket);
    // request_headers_timeout needs the first byte of each request head: a 'data' listener, added after node's
    // (it then reads through 'data' events instead of consuming the handle), only where the HCM sets the timeout.
    if (((socket as SocketWithContext)[CONNECTION]?.hcm.requestHeadersTimeoutMs ?? 0) > 0) socket.on('data', onNodeHttp1Data);
    socket.resume();
  }

  tcp(socket: net.Socket | tls.TLSSocket, info: DownstreamConnectionInfo, config: TcpProxyConfig): ConnectionHandle {
    const session = new TcpProxySession(socket, info, config, this.clusters, this.random, this.options.logger, (s) => this.tcpSessions.delete(s));
    this.tcpSessions.add(session);
    session.start();
    return session;
  }

  // === requests ===

  private onHttp1Request(req: http.IncomingMessage, res: http.ServerResponse): void {
    const context = (req.socket as SocketWithContext)[CONNECTION];
    if (context === undefined) {
      res.writeHead(500).end();
      return;
    }
    context.requestStarted();
    if (context.draining) res.setHeader('connection', 'close');
    (res as http.ServerResponse & WithContext)[CONNECTION] = context;
    context.http1Response = res;
    res.once('close', onHttp1ResponseClose);
    this.serve(new Http1Downstream(req, res, context.scheme), context);
  }

  private onHttp2Stream(stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders, flags: number): void {
    const context = (stream.session?.socket as SocketWithContext | undefined)?.[CONNECTION];
    if (context === undefined) {
      stream.close(H2ErrorCode.INTERNAL_ERROR);
      return;
    }
    stream.on('error', () => undefined);
    context.requestStarted();
    (stream as http2.ServerHttp2Stream & WithContext)[CONNECTION] = context;
    stream.once('close', onHttp2StreamClose);
    this.serve(new Http2Downstream(stream, headers, flags, context.scheme), context);
  }

  private serve(downstream: Downstream, context: ConnectionContext): void {
    const runtime = this.options.runtime();
    if (runtime === undefined) {
      const contentType = downstream.headers['content-type'];
      sendLocalReply(downstream, Errors.noRoute, contentType !== undefined && contentType.startsWith('application/grpc'));
      return;
    }
    this.activeExchanges += 1;
    const exchange = new Exchange(this, runtime, downstream, context.info, context.hcm);
    try {
      exchange.start();
    } catch (error) {
      this.options.logger.error({ err: error }, 'request failed inside the proxy');
      sendLocalReply(downstream, Errors.upstreamReset, false);
    }
  }

  // === ExchangeEnvironment ===

  viaToken(listenerName: string): string {
    let token = this.viaTokens.get(listenerName);
    if (token === undefined) {
      token = `meshlet/${this.options.nodeId}/${listenerName}`.replace(/[\s,]/g, '_');
      this.viaTokens.set(listenerName, token);
    }
    return token;
  }

  onExchangeDone(_exchange: Exchange): void {
    this.activeExchanges -= 1;
  }

  /** Closes the internal servers' sessions (they never listen). */
  close(): void {
    this.h1.close();
    this.h2?.close();
    for (const session of this.tcpSessions) session.destroy();
  }
}

/** Malformed HTTP/1.1 (llhttp rejected it): 400 and close, never a crash (Envoy: DPE). */
function onClientError(error: NodeJS.ErrnoException, socket: net.Socket): void {
  // The head was answered (rejected): request_headers_timeout no longer applies to it.
  const context = (socket as SocketWithContext)[CONNECTION];
  if (context !== undefined) context.headPending = false;
  if (!socket.writable) {
    socket.destroy();
    return;
  }
  const status = error.code === 'HPE_HEADER_OVERFLOW' ? '431 Request Header Fields Too Large' : '400 Bad Request';
  socket.end(`HTTP/1.1 ${status}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n`);
}
