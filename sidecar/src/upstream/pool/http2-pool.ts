// One host's HTTP/2 sessions (h2c or TLS with ALPN h2): multiplexed, bounded by max concurrent streams, GOAWAY-aware, with keepalive pings.

import type * as http2 from 'node:http2';
import * as net from 'node:net';
import type { TimerHandle } from '../../core/clock';
import { Errors, ProxyError } from '../../core/errors';
import { connectHttp2UpstreamSocket } from './http2-upstream-socket';
import type { PoolStats } from './http1-pool';
import type { PoolSettings } from './pool-settings';

/** One session and the streams it carries now. */
class SessionEntry {
  active = 0;
  connected = false;
  pingTimer: TimerHandle | null = null;
  pingDeadline: TimerHandle | null = null;
  durationTimer: NodeJS.Timeout | undefined;
  readonly onStreamClose = (): void => {
    this.active -= 1;
  };
  constructor(readonly session: http2.ClientHttp2Session) {}
}

/**
 * HTTP/2 to one host. `session()` hands out a connected-or-connecting session with a free stream slot; the caller
 * opens its stream with `session.request()` right away (the slot is counted from that call until the stream
 * closes). Invariants: a session that received GOAWAY or closed is never handed out again (its open streams
 * finish; Node closes it gracefully on GOAWAY NO_ERROR); a new session is opened when every session is at
 * min(peer SETTINGS_MAX_CONCURRENT_STREAMS, cluster `max_concurrent_streams`) and fewer than `maxConnections`
 * exist (at the cap the least loaded one is used and nghttp2 queues the stream). Connect (TCP + TLS) is bounded
 * by the cluster connect timeout; failures surface as the session's error (ProxyError UF) and on its streams.
 * Cost of `session()`: a scan of the (usually one) live sessions, no allocation.
 */
export class Http2Pool {
  readonly stats: PoolStats = { opened: 0, active: 0, connectFailures: 0, maxDurationReached: 0 };
  private readonly entries: SessionEntry[] = [];
  private readonly all = new Set<SessionEntry>();
  private closing: Promise<void> | null = null;
  private onDrained: (() => void) | null = null;

  constructor(
    private readonly settings: PoolSettings,
    private readonly address: string,
    private readonly port: number,
    private readonly where: string,
  ) {}

  /**
   * A session for one new stream. Throws ProxyError (UF) when the cluster's TLS cannot be set up (it never
   * falls back to plaintext) or the pool is closed.
   */
  session(): http2.ClientHttp2Session {
    let best: SessionEntry | undefined;
    for (let i = 0; i < this.entries.length; i++) {
      const e = this.entries[i]!;
      if (e.session.closed || e.session.destroyed) continue; // its 'close' event is on its way
      if (e.active < this.streamLimit(e)) return e.session;
      if (best === undefined || e.active < best.active) best = e;
    }
    if (best !== undefined && this.entries.length >= this.settings.maxConnections) return best.session;
    return this.open().session;
  }

  /** Sessions currently handed out for new streams. */
  get sessions(): number {
    return this.entries.length;
  }

  private streamLimit(e: SessionEntry): number {
    const configured = this.settings.http2.maxConcurrentStreams;
    const remote = e.connected ? (e.session.remoteSettings.maxConcurrentStreams ?? Infinity) : Infinity;
    return Math.min(configured, remote);
  }

  private open(): SessionEntry {
    if (this.closing !== null) throw new ProxyError(Errors.connectFailure, `${this.where}: pool closed`);
    const tlsSettings = this.settings.tls;
    if (tlsSettings?.unavailable) {
      this.stats.connectFailures += 1;
      throw new ProxyError(Errors.connectFailure, `${this.where}: TLS required but unavailable: ${tlsSettings.unavailable}`);
    }
    const { settings } = this;
    const host = this.address;
    const port = this.port;
    const authorityHost = net.isIPv6(host) ? `[${host}]` : host;
    const createConnection = (): net.Socket => connectHttp2UpstreamSocket(host, port, settings, this.where);
    const h2 = settings.http2;
    // node:http2 loads only when this fallback pool connects (the own codec is the default; issue 3, RSS).
    const session = (require('node:http2') as typeof http2).connect(`${tlsSettings === null ? 'http' : 'https'}://${authorityHost}:${port}`, {
      createConnection,
      settings: {
        enablePush: false,
        initialWindowSize: h2.initialStreamWindowSize,
        ...(h2.hpackTableSize >= 0 ? { headerTableSize: h2.hpackTableSize } : {}),
      },
    });
    const entry = new SessionEntry(session);
    this.stats.opened += 1;
    this.stats.active += 1;
    this.entries.push(entry);
    this.all.add(entry);

    // Count streams: wrap this session's request() once (not per request).
    const request = session.request;
    session.request = function countedRequest(this: http2.ClientHttp2Session, headers, options) {
      const stream = request.call(this, headers, options);
      entry.active += 1;
      stream.once('close', entry.onStreamClose);
      return stream;
    } as typeof session.request;

    session.on('connect', () => {
      if (tlsSettings !== null) {
        // ALPN is checked once the session is set up: destroying the socket inside its own 'secureConnect'
        // (before Node's HTTP/2 setup listener) aborts the process.
        const alpn = session.alpnProtocol ?? false;
        settings.onAlpn(alpn);
        if (alpn !== 'h2' && tlsSettings.alpn.length === 0) {
          session.destroy(new ProxyError(Errors.connectFailure, `${this.where}: the server did not negotiate h2 over ALPN (got ${alpn || 'none'})`));
          return;
        }
      }
      entry.connected = true;
      if (h2.initialConnectionWindowSize > 65_535) {
        try {
          session.setLocalWindowSize(h2.initialConnectionWindowSize);
        } catch {
          // The session closed under us; 'close' cleans up.
        }
      }
      this.armPing(entry);
    });
    session.on('error', (error: Error) => {
      settings.logger.debug({ cluster: settings.clusterName, host: this.where, err: error.message }, 'upstream HTTP/2 session error');
    });
    // GOAWAY: no new streams on this session (Node closes it once its streams finish, or destroys it on an error code).
    session.on('goaway', () => this.retire(entry));
    session.on('close', () => {
      this.retire(entry);
      if (!entry.connected) this.stats.connectFailures += 1;
      entry.pingTimer?.cancel();
      entry.pingDeadline?.cancel();
      if (entry.durationTimer !== undefined) clearTimeout(entry.durationTimer);
      this.all.delete(entry);
      this.stats.active -= 1;
      if (this.all.size === 0) this.onDrained?.();
    });
    const maxDuration = settings.maxConnectionDurationMs;
    if (maxDuration !== null && maxDuration > 0) entry.durationTimer = setTimeout(onSessionExpired, maxDuration, this, entry).unref();
    if (settings.idleTimeoutMs > 0) {
      session.setTimeout(settings.idleTimeoutMs, () => {
        if (entry.active === 0) {
          this.retire(entry);
          session.close();
        }
      });
    }
    session.unref();
    return entry;
  }

  /** `connection_keepalive`: a PING every interval; no ack within the timeout closes the session. */
  private armPing(entry: SessionEntry): void {
    const interval = this.settings.http2.keepaliveIntervalMs;
    if (interval === null || interval <= 0) return;
    const timeoutMs = this.settings.http2.keepaliveTimeoutMs ?? 20_000;
    const clock = this.settings.clock;
    entry.pingTimer = clock.setTimeout(() => {
      entry.pingTimer = null;
      if (entry.session.destroyed || entry.session.closed) return;
      entry.pingDeadline = clock.setTimeout(() => {
        entry.pingDeadline = null;
        entry.session.destroy(new ProxyError(Errors.upstreamConnectionTermination, `${this.where}: keepalive ping not acknowledged within ${timeoutMs} ms`));
      }, timeoutMs);
      try {
        entry.session.ping((error) => {
          entry.pingDeadline?.cancel();
          entry.pingDeadline = null;
          if (!error) this.armPing(entry);
        });
      } catch {
        entry.pingDeadline?.cancel();
      }
    }, interval);
  }

  /**
   * @internal max_connection_duration passed (Envoy ActiveClient::onConnectionDurationTimeout): no new streams;
   * node's graceful close sends GOAWAY and closes once the open streams finished.
   */
  sessionExpired(entry: SessionEntry): void {
    entry.durationTimer = undefined;
    if (entry.session.closed || entry.session.destroyed) return;
    this.stats.maxDurationReached += 1;
    this.settings.onMaxDurationReached();
    this.retire(entry);
    entry.session.close();
  }

  private retire(entry: SessionEntry): void {
    const i = this.entries.indexOf(entry);
    if (i >= 0) this.entries.splice(i, 1);
  }

  /** Graceful close: no new sessions; each session closes once its streams finish. Resolves when all are closed. */
  close(): Promise<void> {
    if (this.closing !== null) return this.closing;
    this.entries.length = 0;
    this.closing = this.all.size === 0 ? Promise.resolve() : new Promise<void>((resolve) => (this.onDrained = resolve));
    for (const e of this.all) e.session.close();
    return this.closing;
  }

  /** Closes every session now. */
  destroy(): void {
    this.entries.length = 0;
    for (const e of this.all) e.session.destroy();
  }
}

function onSessionExpired(pool: Http2Pool, entry: SessionEntry): void {
  pool.sessionExpired(entry);
}
