// One host's HTTP/2 connections on meshlet's own codec (h2c, or TLS with ALPN h2): multiplexed, bounded by
// max concurrent streams and max connections, GOAWAY-aware, with keepalive pings and an idle timeout.

import type * as tls from 'node:tls';
import { performance } from 'node:perf_hooks';
import { H2Connection, type H2ConnectionOwner, type H2ConnectionSettings } from '../../codec/http2/h2-connection';
import { H2ErrorCode } from '../../codec/http2/h2-constants';
import { h2Settings } from '../../codec/http2/h2-settings';
import type { TimerHandle } from '../../core/clock';
import { Errors, ProxyError } from '../../core/errors';
import { connectHttp2UpstreamSocket } from './http2-upstream-socket';
import type { PoolStats } from './http1-pool';
import type { PoolSettings } from './pool-settings';

/** One connection and the pool's facts about it. */
export class PooledH2Connection {
  /** TCP (and TLS, ALPN checked) established. */
  connected = false;
  /** Streams opened on it so far (max_requests_per_connection). */
  streamsOpened = 0;
  retired = false;
  idleSince = performance.now();
  idleTimer: NodeJS.Timeout | undefined;
  durationTimer: NodeJS.Timeout | undefined;
  pingTimer: TimerHandle | null = null;
  pingDeadline: TimerHandle | null = null;
  constructor(readonly connection: H2Connection) {}
}

/**
 * `acquire()` hands out a connection (connected or connecting) with a free stream slot; the caller opens its
 * stream on it at once. A new connection is opened when every live one is at min(peer
 * SETTINGS_MAX_CONCURRENT_STREAMS, cluster max_concurrent_streams) and fewer than `maxConnections` exist; at the
 * cap the least loaded one is used (the peer may refuse the stream: REFUSED_STREAM, retriable). A connection that
 * received GOAWAY, reached max_requests_per_connection or closed is never handed out again; its streams finish.
 * Connect (TCP + TLS) is bounded by the cluster connect timeout. Cost of `acquire()`: a scan of the (usually
 * one) live connections, no allocation.
 */
export class RawHttp2Pool implements H2ConnectionOwner {
  readonly stats: PoolStats = { opened: 0, active: 0, connectFailures: 0, maxDurationReached: 0 };
  private readonly live: PooledH2Connection[] = [];
  private readonly all = new Map<H2Connection, PooledH2Connection>();
  private closing: Promise<void> | null = null;
  private onDrained: (() => void) | null = null;
  private readonly codecSettings: H2ConnectionSettings;

  constructor(
    private readonly settings: PoolSettings,
    private readonly address: string,
    private readonly port: number,
    private readonly where: string,
  ) {
    // Response header blocks up to 96 KiB (Envoy's max_response_headers_kb default is 80 KiB).
    this.codecSettings = h2Settings('client', settings.http2, 96 * 1024);
  }

  /** Connections currently handed out for new streams. */
  get connections(): number {
    return this.live.length;
  }

  /**
   * A connection for one new stream. Throws ProxyError (UF) when the cluster's TLS cannot be set up (never a
   * plaintext fallback) or the pool is closed.
   */
  acquire(): PooledH2Connection {
    let best: PooledH2Connection | undefined;
    const configured = this.settings.http2.maxConcurrentStreams;
    for (let i = 0; i < this.live.length; i++) {
      const entry = this.live[i]!;
      const c = entry.connection;
      if (!c.canOpenStream && (c.closed || c.goawayReceived || c.goawaySent)) continue;
      const limit = Math.min(configured, c.peerMaxConcurrentStreams);
      if (c.activeStreams < limit) return this.lease(entry);
      if (best === undefined || c.activeStreams < best.connection.activeStreams) best = entry;
    }
    if (best !== undefined && this.live.length >= this.settings.maxConnections) return this.lease(best);
    return this.lease(this.open());
  }

  private lease(entry: PooledH2Connection): PooledH2Connection {
    entry.streamsOpened += 1;
    const max = this.settings.maxRequestsPerConnection;
    // The caller opens its stream next: when that takes the last stream id, the connection is done (it drains
    // with GOAWAY once idle), as Envoy does when stream ids run out. ~30 h at 10k requests/s on one connection.
    if ((max !== null && max > 0 && entry.streamsOpened >= max) || entry.connection.streamIdsLeft <= 1) this.retire(entry);
    return entry;
  }

  private open(): PooledH2Connection {
    if (this.closing !== null) throw new ProxyError(Errors.connectFailure, `${this.where}: pool closed`);
    const { settings } = this;
    const tlsSettings = settings.tls;
    if (tlsSettings?.unavailable) {
      this.stats.connectFailures += 1;
      throw new ProxyError(Errors.connectFailure, `${this.where}: TLS required but unavailable: ${tlsSettings.unavailable}`);
    }
    const socket = connectHttp2UpstreamSocket(this.address, this.port, settings, this.where);
    const connection = new H2Connection(socket, this.codecSettings, this);
    const entry = new PooledH2Connection(connection);
    this.stats.opened += 1;
    this.stats.active += 1;
    this.live.push(entry);
    this.all.set(connection, entry);
    const maxDuration = settings.maxConnectionDurationMs;
    if (maxDuration !== null && maxDuration > 0) entry.durationTimer = setTimeout(onDurationTimer, maxDuration, this, entry).unref();
    socket.once(tlsSettings === null ? 'connect' : 'secureConnect', () => {
      if (tlsSettings !== null) {
        const negotiated = (socket as tls.TLSSocket).alpnProtocol ?? false;
        settings.onAlpn(negotiated);
        if (negotiated !== 'h2' && tlsSettings.alpn.length === 0) {
          connection.destroy(new ProxyError(Errors.connectFailure, `${this.where}: the server did not negotiate h2 over ALPN (got ${negotiated || 'none'})`));
          return;
        }
      }
      entry.connected = true;
      connection.established = true;
      this.armPing(entry);
    });
    socket.unref();
    return entry;
  }

  // === H2ConnectionOwner ===

  onStream(connection: H2Connection): void {
    // Servers do not open streams toward us (push is disabled); the codec resets anything that arrives.
    void connection;
  }

  onRemoteSettings(): void {
    // The limits are read from the connection at each acquire().
  }

  onGoaway(connection: H2Connection): void {
    const entry = this.all.get(connection);
    if (entry !== undefined) this.retire(entry);
  }

  onStreamClosed(connection: H2Connection): void {
    if (connection.activeStreams > 0) return;
    const entry = this.all.get(connection);
    if (entry === undefined) return;
    if (entry.retired) {
      connection.goaway();
      return;
    }
    entry.idleSince = performance.now();
    this.armIdleTimer(entry, this.settings.idleTimeoutMs);
  }

  onClose(connection: H2Connection, error: Error | undefined): void {
    const entry = this.all.get(connection);
    if (entry === undefined) return;
    this.retire(entry);
    if (!entry.connected) this.stats.connectFailures += 1;
    if (error !== undefined) this.settings.logger.debug({ cluster: this.settings.clusterName, host: this.where, err: error.message }, 'upstream HTTP/2 connection closed');
    entry.pingTimer?.cancel();
    entry.pingDeadline?.cancel();
    if (entry.idleTimer !== undefined) clearTimeout(entry.idleTimer);
    if (entry.durationTimer !== undefined) clearTimeout(entry.durationTimer);
    this.all.delete(connection);
    this.stats.active -= 1;
    if (this.all.size === 0) this.onDrained?.();
  }

  // === timers ===

  private armIdleTimer(entry: PooledH2Connection, delayMs: number): void {
    if (this.settings.idleTimeoutMs <= 0 || entry.idleTimer !== undefined) return;
    entry.idleTimer = setTimeout(onIdleTimer, delayMs, this, entry).unref();
  }

  /** HttpProtocolOptions idle_timeout: no stream for that long -> GOAWAY and close. */
  idleTimerFired(entry: PooledH2Connection): void {
    entry.idleTimer = undefined;
    const c = entry.connection;
    if (c.closed || c.activeStreams > 0) return;
    const remaining = entry.idleSince + this.settings.idleTimeoutMs - performance.now();
    if (remaining > 1) {
      this.armIdleTimer(entry, Math.ceil(remaining));
      return;
    }
    this.retire(entry);
    c.goaway();
  }

  /**
   * max_connection_duration passed (Envoy ActiveClient::onConnectionDurationTimeout): no new streams; GOAWAY and
   * close now when idle, else once its streams finished (onStreamClosed).
   */
  durationTimerFired(entry: PooledH2Connection): void {
    entry.durationTimer = undefined;
    const c = entry.connection;
    if (c.closed) return;
    this.stats.maxDurationReached += 1;
    this.settings.onMaxDurationReached();
    this.retire(entry);
    if (c.activeStreams === 0) c.goaway();
  }

  /** `connection_keepalive`: a PING every interval; no ACK within the timeout closes the connection. */
  private armPing(entry: PooledH2Connection): void {
    const interval = this.settings.http2.keepaliveIntervalMs;
    if (interval === null || interval <= 0) return;
    const timeoutMs = this.settings.http2.keepaliveTimeoutMs ?? 20_000;
    const clock = this.settings.clock;
    entry.pingTimer = clock.setTimeout(() => {
      entry.pingTimer = null;
      const c = entry.connection;
      if (c.closed) return;
      entry.pingDeadline = clock.setTimeout(() => {
        entry.pingDeadline = null;
        c.destroy(new ProxyError(Errors.upstreamConnectionTermination, `${this.where}: keepalive ping not acknowledged within ${timeoutMs} ms`));
      }, timeoutMs);
      c.ping(() => {
        entry.pingDeadline?.cancel();
        entry.pingDeadline = null;
        this.armPing(entry);
      });
    }, interval);
  }

  private retire(entry: PooledH2Connection): void {
    entry.retired = true;
    const i = this.live.indexOf(entry);
    if (i >= 0) this.live.splice(i, 1);
  }

  /** Graceful close: no new connections; each closes (GOAWAY) once its streams finish. Resolves when all closed. */
  close(): Promise<void> {
    if (this.closing !== null) return this.closing;
    this.live.length = 0;
    this.closing = this.all.size === 0 ? Promise.resolve() : new Promise<void>((resolve) => (this.onDrained = resolve));
    for (const entry of this.all.values()) {
      entry.retired = true;
      entry.connection.goaway(H2ErrorCode.NO_ERROR);
    }
    return this.closing;
  }

  /** Closes every connection now. */
  destroy(): void {
    this.live.length = 0;
    for (const entry of this.all.values()) entry.connection.destroy();
  }
}

function onIdleTimer(pool: RawHttp2Pool, entry: PooledH2Connection): void {
  pool.idleTimerFired(entry);
}

function onDurationTimer(pool: RawHttp2Pool, entry: PooledH2Connection): void {
  pool.durationTimerFired(entry);
}
