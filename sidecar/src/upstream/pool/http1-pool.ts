// One host's HTTP/1.1 keep-alive pool: an http(s).Agent bounded by max_connections, with connect timeout, TLS and graceful close.

import * as http from 'node:http';
import type * as https from 'node:https';
import type * as net from 'node:net';
import type { Duplex } from 'node:stream';
import { Errors, ProxyError } from '../../core/errors';
import { armConnectTimeout } from './connect-timeout';
import type { PoolSettings } from './pool-settings';

/** Connection counters of one pool (Envoy `upstream_cx_*` per host). */
export interface PoolStats {
  /** Connections opened since the pool was created (`upstream_cx_total`). */
  opened: number;
  /** Connections open now, idle or busy (`upstream_cx_active`). */
  active: number;
  /** Connections that failed before being usable: refused, timed out, TLS refused (`upstream_cx_connect_fail`). */
  connectFailures: number;
  /** Connections retired at the cluster's max_connection_duration (`upstream_cx_max_duration_reached`). */
  maxDurationReached: number;
}

const kRequests = Symbol('requestsOnConnection');
type CountedSocket = Duplex & { [kRequests]?: number };
const kConnected = Symbol('connected');
type ConnectedSocket = net.Socket & { [kConnected]?: boolean };
/** The socket outlived max_connection_duration: not kept alive for another request. */
const kExpired = Symbol('expired');
type ExpiringSocket = Duplex & { [kExpired]?: boolean };

/**
 * HTTP/1.1 to one host. Use: `http.request({ agent: pool.agent, host: h.address, port: h.port, ... })`, for TLS
 * clusters too: the agent does the TLS itself (it reports `protocol` 'http:' so plain `http.request` accepts it).
 * Invariants: at most `settings.maxConnections` sockets (more requests queue inside the agent, LIFO reuse of
 * idle sockets keeps the pool warm and small); every socket connects (TCP + TLS) within the cluster connect
 * timeout or fails with a ProxyError UF; a cluster whose TLS cannot be set up fails every connection with UF
 * and never sends plaintext. Cost per request: whatever Node's Agent costs; nothing is allocated here.
 */
export class Http1Pool {
  readonly agent: http.Agent;
  /** True when connections are TLS (the cluster's transport socket for this host). */
  readonly secure: boolean;
  readonly stats: PoolStats = { opened: 0, active: 0, connectFailures: 0, maxDurationReached: 0 };
  private closing = false;
  private closed: Promise<void> | null = null;
  private onDrained: (() => void) | null = null;

  constructor(
    private readonly settings: PoolSettings,
    private readonly where: string,
  ) {
    const tls = settings.tls;
    const common: http.AgentOptions = {
      keepAlive: true,
      scheduling: 'lifo',
      maxSockets: settings.maxConnections,
      maxFreeSockets: settings.maxConnections,
      ...(settings.idleTimeoutMs > 0 ? { timeout: settings.idleTimeoutMs } : {}),
    };
    if (settings.localAddress !== null) (common as { localAddress?: string }).localAddress = settings.localAddress;
    // node:https (and node:tls) load with the first TLS upstream pool, not at start (issue 3, RSS).
    const httpsModule = tls === null ? undefined : (require('node:https') as typeof https);
    if (httpsModule === undefined || tls === null) {
      this.secure = false;
      this.agent = new http.Agent(common);
    } else {
      this.secure = true;
      this.agent = new httpsModule.Agent({ ...common, ...tls.options, ALPNProtocols: tls.alpnFor('http1') });
      // http.request() checks options.protocol against agent.protocol; the TLS is the agent's business.
      (this.agent as unknown as { protocol: string }).protocol = 'http:';
    }
    const agent = this.agent as http.Agent & { createConnection: typeof http.Agent.prototype.createConnection };
    const base = (httpsModule === undefined ? http.Agent : httpsModule.Agent).prototype.createConnection;
    agent.createConnection = (options, callback) => this.connect(base, options, callback);
    const baseKeepAlive = agent.keepSocketAlive;
    agent.keepSocketAlive = (socket: Duplex) => this.keepAlive(baseKeepAlive, socket);
  }

  private connect(
    base: typeof http.Agent.prototype.createConnection,
    options: http.ClientRequestArgs,
    callback?: (err: Error | null, stream: Duplex) => void,
  ): Duplex | null | undefined {
    const unavailable = this.settings.tls?.unavailable;
    if (unavailable) {
      this.stats.connectFailures += 1;
      const error = new ProxyError(Errors.connectFailure, `${this.where}: TLS required but unavailable: ${unavailable}`);
      process.nextTick(() => callback?.(error, undefined as unknown as Duplex));
      return undefined;
    }
    const socket = base.call(this.agent, options, callback) as net.Socket;
    this.stats.opened += 1;
    this.stats.active += 1;
    armConnectTimeout(socket, this.settings.connectTimeoutMs, this.secure, this.settings.clock, this.where);
    socket.once(this.secure ? 'secureConnect' : 'connect', markConnected);
    const maxDuration = this.settings.maxConnectionDurationMs;
    const durationTimer = maxDuration !== null && maxDuration > 0 ? setTimeout(onSocketExpired, maxDuration, this, socket).unref() : undefined;
    socket.once('close', () => {
      if (durationTimer !== undefined) clearTimeout(durationTimer);
      this.stats.active -= 1;
      if ((socket as ConnectedSocket)[kConnected] !== true) this.stats.connectFailures += 1;
      if (this.stats.active === 0) this.onDrained?.();
    });
    return socket;
  }

  private keepAlive(base: (socket: Duplex) => unknown, socket: CountedSocket & ExpiringSocket): boolean {
    if (this.closing || socket[kExpired] === true) return false;
    const max = this.settings.maxRequestsPerConnection;
    if (max !== null) {
      const n = (socket[kRequests] ?? 0) + 1;
      socket[kRequests] = n;
      if (n >= max) return false;
    }
    return base.call(this.agent, socket) !== false;
  }

  /**
   * @internal max_connection_duration passed: an idle socket closes now, a busy one after its response (the agent
   * does not keep it alive).
   */
  socketExpired(socket: net.Socket): void {
    if (socket.destroyed) return;
    this.stats.maxDurationReached += 1;
    this.settings.onMaxDurationReached();
    (socket as ExpiringSocket)[kExpired] = true;
    for (const list of Object.values(this.agent.freeSockets)) {
      if (list !== undefined && list.includes(socket)) socket.destroy();
    }
  }

  /** Sockets waiting for reuse (idle). */
  get idleConnections(): number {
    let n = 0;
    for (const list of Object.values(this.agent.freeSockets)) n += list?.length ?? 0;
    return n;
  }

  /**
   * Graceful close: idle sockets close now, busy ones after their current response (keep-alive refused).
   * Resolves when every socket is closed. Idempotent.
   */
  close(): Promise<void> {
    if (this.closed !== null) return this.closed;
    this.closing = true;
    for (const list of Object.values(this.agent.freeSockets)) for (const s of list ?? []) s.destroy();
    this.closed = this.stats.active === 0 ? Promise.resolve() : new Promise<void>((resolve) => (this.onDrained = resolve));
    return this.closed;
  }

  /** Closes every socket now, busy or not (process exit). */
  destroy(): void {
    this.closing = true;
    this.agent.destroy();
  }
}

function onSocketExpired(pool: Http1Pool, socket: net.Socket): void {
  pool.socketExpired(socket);
}

function markConnected(this: ConnectedSocket): void {
  this[kConnected] = true;
}
