// One host's plaintext HTTP/1.1 keep-alive connections as raw sockets (for the fast HTTP/1.1 relay in proxy/h1):
// bounded by max_connections, LIFO reuse, a FIFO queue at the cap, connect and idle timeouts, graceful close.

import * as net from 'node:net';
import type { TimerHandle } from '../../core/clock';
import { armConnectTimeout } from './connect-timeout';
import type { PoolStats } from './http1-pool';
import type { PoolSettings } from './pool-settings';

/** The user of a leased connection: gets its bytes and its end. Exactly one user at a time. */
export interface RawConnectionUser {
  /** A connection was handed over (queued leases only; `acquire` returns it directly otherwise). */
  onLease(connection: RawConnection): void;
  /**
   * Bytes read: `buffer[0..length)`. The buffer is the connection's reused read buffer (node `onread`), so the
   * bytes are valid only during the call: copy what must outlive it.
   */
  onConnectionData(buffer: Buffer, length: number): void;
  /** The peer closed its side (EOF). `close` follows. */
  onConnectionEnd(): void;
  /** The connection is gone (error or close) while leased; `error` when it failed (before or after connecting). */
  onConnectionClosed(error: Error | undefined): void;
}

/** One upstream socket and its bookkeeping. */
export class RawConnection {
  user: RawConnectionUser | null = null;
  /** TCP connect completed. */
  connected = false;
  /** Requests started on it (0 = fresh). */
  requests = 0;
  /** Sweep tick at which it became idle. */
  idleSince = 0;
  closed = false;
  /** Older than max_connection_duration: closed when released instead of reused. */
  expired = false;
  durationTimer: NodeJS.Timeout | undefined;
  error: Error | undefined;

  constructor(
    readonly socket: net.Socket,
    readonly pool: RawHttp1Pool,
  ) {}
}

const SWEEP_MS = 10_000;
/**
 * Per-connection read buffer. Reads land in it directly (`onread`): no Buffer allocation and no stream machinery
 * per read. 16 KiB x max connections is the pool's read memory (a 64-byte response is one read).
 */
const READ_BUFFER_BYTES = 16 * 1024;

/**
 * Plaintext HTTP/1.1 to one host (TLS clusters keep the agent path: Http1Pool). `acquire(user)` returns an idle
 * connection (most recently used first), or a new one when fewer than `maxConnections` exist (writes before the
 * TCP connect completes are buffered by the socket), or undefined: the user is queued and gets `onLease` when a
 * connection frees up. The user then owns the socket's reads until `release(connection, reusable)`.
 * Invariants: at most `settings.maxConnections` sockets; a connection is idle or leased to exactly one user; idle
 * connections that read anything, end or exceed the idle timeout are closed; connect (TCP) is bounded by the
 * cluster connect timeout (ProxyError UF). Cost per request: an array pop/push; no timers, no closures.
 */
export class RawHttp1Pool {
  readonly stats: PoolStats = { opened: 0, active: 0, connectFailures: 0, maxDurationReached: 0 };
  private readonly idle: RawConnection[] = [];
  private readonly waiting: RawConnectionUser[] = [];
  private readonly all = new Set<RawConnection>();
  private total = 0;
  private closing = false;
  private closedPromise: Promise<void> | null = null;
  private onDrained: (() => void) | null = null;
  private sweeper: TimerHandle | null = null;
  private tick = 0;

  constructor(
    readonly settings: PoolSettings,
    private readonly address: string,
    private readonly port: number,
    private readonly where: string,
  ) {}

  /** An idle or new connection for `user`, or undefined when queued (then `user.onLease` follows, or `onConnectionClosed` with the error). */
  acquire(user: RawConnectionUser): RawConnection | undefined {
    const idle = this.idle.pop();
    if (idle !== undefined) {
      idle.user = user;
      return idle;
    }
    if (this.total < this.settings.maxConnections && !this.closing) return this.open(user);
    this.waiting.push(user);
    return undefined;
  }

  /** Withdraws a queued user (its exchange gave up). */
  cancel(user: RawConnectionUser): void {
    const i = this.waiting.indexOf(user);
    if (i >= 0) this.waiting.splice(i, 1);
  }

  /** The user is done with `connection`: back to the pool when `reusable`, else closed. */
  release(connection: RawConnection, reusable: boolean): void {
    connection.user = null;
    if (connection.closed) return;
    const max = this.settings.maxRequestsPerConnection;
    if (!reusable || this.closing || connection.expired || (max !== null && connection.requests >= max)) {
      connection.socket.destroy();
      return;
    }
    const next = this.waiting.shift();
    if (next !== undefined) {
      connection.user = next;
      next.onLease(connection);
      return;
    }
    connection.idleSince = this.tick;
    this.idle.push(connection);
    if (this.sweeper === null && this.settings.idleTimeoutMs > 0) this.armSweeper();
  }

  /** Idle connections (for stats and tests). */
  get idleConnections(): number {
    return this.idle.length;
  }

  /** Graceful close: idle connections close now, leased ones when released. Resolves when all are closed. */
  close(): Promise<void> {
    if (this.closedPromise !== null) return this.closedPromise;
    this.closing = true;
    for (const connection of this.idle.splice(0)) connection.socket.destroy();
    for (const user of this.waiting.splice(0)) user.onConnectionClosed(new Error(`${this.where}: pool closed`));
    this.closedPromise = this.total === 0 ? Promise.resolve() : new Promise<void>((resolve) => (this.onDrained = resolve));
    return this.closedPromise;
  }

  /** Closes every connection now. */
  destroy(): void {
    this.closing = true;
    for (const connection of this.all) connection.socket.destroy();
    for (const user of this.waiting.splice(0)) user.onConnectionClosed(new Error(`${this.where}: pool destroyed`));
  }

  private open(user: RawConnectionUser): RawConnection {
    let connection: RawConnection | undefined;
    const readBuffer = Buffer.allocUnsafe(READ_BUFFER_BYTES);
    const onread: net.OnReadOpts = {
      buffer: readBuffer,
      callback: (length: number): boolean => {
        const current = connection?.user ?? null;
        if (current !== null) current.onConnectionData(readBuffer, length);
        else socket.destroy(); // an idle connection must stay silent
        return true;
      },
    };
    const options: net.TcpNetConnectOpts = { host: this.address, port: this.port, noDelay: true, onread };
    if (this.settings.localAddress !== null) options.localAddress = this.settings.localAddress;
    const socket = net.connect(options);
    connection = new RawConnection(socket, this);
    connection.user = user;
    this.total += 1;
    this.stats.opened += 1;
    this.stats.active += 1;
    this.all.add(connection);
    armConnectTimeout(socket, this.settings.connectTimeoutMs, false, this.settings.clock, this.where);
    const maxDuration = this.settings.maxConnectionDurationMs;
    if (maxDuration !== null && maxDuration > 0) connection.durationTimer = setTimeout(onRawConnectionExpired, maxDuration, connection).unref();
    socket.on('connect', () => {
      (connection as RawConnection).connected = true;
    });
    socket.on('end', () => {
      const current = connection?.user ?? null;
      if (current !== null) current.onConnectionEnd();
    });
    socket.on('error', (error: Error) => {
      (connection as RawConnection).error ??= error;
    });
    socket.on('close', () => this.onClose(connection as RawConnection));
    return connection;
  }

  /**
   * @internal max_connection_duration passed (Envoy ActiveClient::onConnectionDurationTimeout): an idle connection
   * closes now, a leased one when released.
   */
  connectionExpired(connection: RawConnection): void {
    connection.durationTimer = undefined;
    if (connection.closed) return;
    connection.expired = true;
    this.stats.maxDurationReached += 1;
    this.settings.onMaxDurationReached();
    if (connection.user === null) connection.socket.destroy();
  }

  private onClose(connection: RawConnection): void {
    connection.closed = true;
    if (connection.durationTimer !== undefined) clearTimeout(connection.durationTimer);
    this.total -= 1;
    this.stats.active -= 1;
    if (!connection.connected) this.stats.connectFailures += 1;
    this.all.delete(connection);
    const i = this.idle.indexOf(connection);
    if (i >= 0) this.idle.splice(i, 1);
    const user = connection.user;
    connection.user = null;
    if (user !== null) user.onConnectionClosed(connection.error);
    // A slot freed up: open a connection for the first queued user.
    if (!this.closing && this.waiting.length > 0 && this.total < this.settings.maxConnections) {
      const next = this.waiting.shift() as RawConnectionUser;
      next.onLease(this.open(next));
    }
    if (this.total === 0) this.onDrained?.();
  }

  /** Closes connections idle for longer than the idle timeout (checked every SWEEP_MS, no per-request timer). */
  private armSweeper(): void {
    const interval = Math.min(SWEEP_MS, this.settings.idleTimeoutMs);
    this.sweeper = this.settings.clock.setTimeout(() => {
      this.sweeper = null;
      this.tick += 1;
      // Idle for more than `limit` whole intervals: between 1 and 1 + 1/limit times the idle timeout.
      const limit = Math.ceil(this.settings.idleTimeoutMs / interval);
      for (const connection of [...this.idle]) {
        if (this.tick - connection.idleSince > limit) connection.socket.destroy();
      }
      if (this.idle.length > 0) this.armSweeper();
    }, interval);
  }
}

function onRawConnectionExpired(connection: RawConnection): void {
  connection.pool.connectionExpired(connection);
}
