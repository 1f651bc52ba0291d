// One accepted connection from accept to hand-over: original destination, listener filters (peek), use_original_dst
// hand-off, filter-chain match, TLS termination, codec detection, then the proxy's handler; tracked until it closes.

import type * as net from 'node:net';
import type * as tls from 'node:tls';
import type { FilterChainConfig, HttpConnectionManagerConfig } from '../config/listener-config';
import type { Clock, TimerHandle } from '../core/clock';
import type { Logger } from '../observability/logger';
import type { ActiveListener, TrackedConnection } from './active-listener';
import { parseClientHello } from './client-hello-parser';
import type { ConnectionHandle, ConnectionHandlers, DownstreamConnectionInfo } from './connection-handlers';
import type { DownstreamTls, TlsPeer } from './downstream-tls';
import { selectFilterChain } from './filter-chain-matcher';
import { sniffHttp, startsWithH2Preface } from './http-sniffer';
import type { OriginalDestination } from './original-dst';

/** What a connection needs from the ListenerManager (kept as an interface: no import cycle). */
export interface ConnectionRuntime {
  readonly handlers: ConnectionHandlers;
  readonly logger: Logger;
  readonly clock: Clock;
  readonly drainTimeoutMs: number;
  /** SO_ORIGINAL_DST, or undefined when there is none. */
  originalDst(socket: net.Socket): OriginalDestination | undefined;
  /** True when `dst` is one of meshlet's own bound listener addresses (or the socket's own: not redirected). */
  isOwnAddress(dst: OriginalDestination, socket: net.Socket): boolean;
  /** The listener a `use_original_dst` listener hands `dst` to: exact ip:port, else 0.0.0.0/[::]:port; undefined: none. */
  listenerFor(dst: OriginalDestination): ActiveListener | undefined;
  /** The TLS terminator of a chain (prepared at apply). */
  tlsFor(chain: FilterChainConfig): DownstreamTls;
  /** Logs a loop refusal (warn once, then debug). */
  refusedLoop(fields: object): void;
  /** Every connection, for drain()/close(): added at accept, removed by `untrack` when it closes. */
  readonly connections: Set<DownstreamConnection>;
  untrack(connection: DownstreamConnection): void;
}

const kConnection = Symbol('meshlet.downstreamConnection');
type Tagged = net.Socket & { [kConnection]?: DownstreamConnection };

const enum Phase {
  Inspecting,
  Handshaking,
  SniffingCodec,
  Served,
  Closed,
}

const EMPTY = Buffer.alloc(0);

/** Strips the `::ffff:` of a v4-mapped address (Node reports IPv4 peers of dual-stack sockets that way). */
export function normalizeHost(host: string | undefined): string {
  if (host === undefined) return '';
  return host.startsWith('::ffff:') && host.includes('.') ? host.slice(7) : host;
}

/**
 * Fixed-shape per-connection state; module-level socket handlers find it through a symbol on the socket.
 * Invariant: once `phase` is Served the handler owns the socket; before, this object owns reading (peeking).
 */
export class DownstreamConnection implements TrackedConnection, TlsPeer {
  private readonly rt: ConnectionRuntime;
  private readonly raw: net.Socket;
  private socket: net.Socket | tls.TLSSocket;
  private listener: ActiveListener;
  private phase = Phase.Inspecting;
  private peeked: Buffer = EMPTY;
  private reading = false;
  private eof = false;
  private timer: TimerHandle | null = null;
  private drainTimer: TimerHandle | null = null;
  private counted = false;
  private handedOff = false;
  private drainRequested = false;
  private restored = false;
  private originalDstValue: OriginalDestination;
  /** tls_inspector: '' not run yet / undecided. */
  private transport: '' | 'tls' | 'raw_buffer' = '';
  private serverName = '';
  private offeredAlpn: readonly string[] = [];
  /** http_inspector: undefined = undecided, null = not HTTP. */
  private httpProtocol: string | null | undefined = undefined;
  private terminator: DownstreamTls | null = null;
  chain: FilterChainConfig | null = null;
  private handle: ConnectionHandle | null = null;

  constructor(rt: ConnectionRuntime, listener: ActiveListener, raw: net.Socket) {
    this.rt = rt;
    this.raw = raw;
    this.socket = raw;
    this.listener = listener;
    this.originalDstValue = { host: normalizeHost(raw.localAddress), port: raw.localPort ?? 0 };
    (raw as Tagged)[kConnection] = this;
    raw.on('error', onSocketError);
    raw.on('close', onSocketClose);
    rt.connections.add(this);
    listener.connections.add(this);
  }

  /** Runs the listener's stage: original destination, then its listener filters. */
  start(): void {
    const l = this.listener;
    if (!this.restored && (l.config.useOriginalDst || l.hasListenerFilter('original_dst'))) {
      const dst = this.rt.originalDst(this.raw);
      if (dst !== undefined) {
        const normalized = { host: normalizeHost(dst.host), port: dst.port };
        if (this.rt.isOwnAddress(normalized, this.raw)) {
          // Envoy/Istio guard against loops: a connection to meshlet itself (not redirected) is never forwarded.
          this.rt.refusedLoop({ listener: l.config.name, originalDst: normalized, remote: `${this.raw.remoteAddress}:${this.raw.remotePort}` });
          this.destroy();
          return;
        }
        this.originalDstValue = normalized;
        this.restored = true;
      }
    }
    if (!l.hasListenerFilter('tls_inspector') && !l.hasListenerFilter('http_inspector')) {
      this.finishInspecting();
      return;
    }
    const timeoutMs = l.config.listenerFiltersTimeoutMs;
    if (timeoutMs > 0) this.timer = this.rt.clock.setTimeout(this.onInspectTimeout, timeoutMs);
    this.startReading();
    this.inspect();
  }

  private readonly onInspectTimeout = (): void => {
    this.timer = null;
    if (this.phase !== Phase.Inspecting) return;
    // Envoy: continue_on_listener_filters_timeout decides between going on with what is known and closing.
    if (this.listener.config.continueOnListenerFiltersTimeout) this.finishInspecting();
    else {
      this.rt.logger.debug({ listener: this.listener.config.name }, 'listener filters timed out; closing');
      this.destroy();
    }
  };

  /** Runs the configured inspectors on the bytes so far; finishes when each has decided (or at EOF). */
  private inspect(): void {
    const l = this.listener;
    let waiting = false;
    if (this.transport === '' && l.hasListenerFilter('tls_inspector')) {
      const hello = parseClientHello(this.peeked);
      if (hello.kind === 'need_more') waiting = true;
      else if (hello.kind === 'too_large') {
        this.rt.logger.debug({ listener: l.config.name }, 'ClientHello too large; closing');
        this.destroy();
        return;
      } else if (hello.kind === 'tls') {
        this.transport = 'tls';
        this.serverName = hello.serverName;
        this.offeredAlpn = hello.alpn;
      } else this.transport = 'raw_buffer';
    }
    // Envoy's http_inspector skips connections a tls_inspector found to be TLS.
    if (!waiting && this.httpProtocol === undefined && this.transport !== 'tls' && l.hasListenerFilter('http_inspector')) {
      const sniffed = sniffHttp(this.peeked);
      if (sniffed === 'need_more') waiting = true;
      else this.httpProtocol = sniffed === 'none' ? null : sniffed;
    }
    if (!waiting || this.eof) this.finishInspecting();
  }

  /** Listener filters done: hand off (use_original_dst), or choose the chain and go on. */
  private finishInspecting(): void {
    if (this.timer !== null) {
      this.timer.cancel();
      this.timer = null;
    }
    const from = this.listener;
    if (from.config.useOriginalDst && this.restored && !this.handedOff) {
      this.handedOff = true;
      const target = this.rt.listenerFor(this.originalDstValue);
      if (target !== undefined && target !== from) {
        // Envoy hands the socket to the target, which runs its own listener filters; no further redirect.
        from.connections.delete(this);
        this.listener = target;
        target.connections.add(this);
        this.start();
        return;
      }
    }
    this.selectChain();
  }

  private selectChain(): void {
    const l = this.listener;
    const raw = this.raw;
    // tls_inspector sets the offered ALPN list, http_inspector (plaintext only) the sniffed protocol.
    const applicationProtocols = typeof this.httpProtocol === 'string' ? [this.httpProtocol] : this.offeredAlpn;
    const source = normalizeHost(raw.remoteAddress);
    const chain = selectFilterChain(l.config, {
      destinationHost: this.originalDstValue.host,
      destinationPort: this.originalDstValue.port,
      serverName: this.serverName,
      transportProtocol: this.transport === '' ? 'raw_buffer' : this.transport,
      applicationProtocols,
      directSourceHost: source,
      sourceHost: source,
      sourcePort: raw.remotePort ?? 0,
    });
    if (chain === null) {
      l.stats.noFilterChainMatch++;
      this.rt.logger.warn({ listener: l.config.name, remote: `${source}:${raw.remotePort}`, originalDst: this.originalDstValue, transportProtocol: this.transport || 'raw_buffer', sni: this.serverName, alpn: applicationProtocols, flag: 'NFCF' }, 'no filter chain matched; closing');
      this.destroy();
      return;
    }
    this.chain = chain;
    this.counted = true;
    l.stats.downstreamCxTotal++;
    l.stats.downstreamCxActive++;
    if (!this.stopReading(raw)) return;
    if (chain.transportSocket !== null && chain.transportSocket.kind === 'tls') {
      const terminator = this.rt.tlsFor(chain);
      if (terminator.unavailable !== null) {
        this.rt.logger.error({ listener: l.config.name, filterChain: chain.name, error: terminator.unavailable }, 'filter chain cannot terminate TLS; closing the connection');
        this.destroy();
        return;
      }
      this.phase = Phase.Handshaking;
      this.terminator = terminator;
      terminator.terminate(raw, this);
      return;
    }
    this.dispatch();
  }

  tlsEstablished(socket: tls.TLSSocket): void {
    if (this.phase === Phase.Closed) {
      socket.destroy();
      return;
    }
    this.terminator = null;
    this.socket = socket;
    (socket as Tagged)[kConnection] = this;
    socket.on('error', onSocketError);
    socket.on('close', onSocketClose);
    this.dispatch();
  }

  tlsFailed(reason: string): void {
    this.terminator = null;
    this.rt.logger.debug({ listener: this.listener.config.name, filterChain: this.chain?.name, error: reason }, 'downstream TLS handshake failed');
    this.destroy();
  }

  /** After TLS (if any): the codec for HTTP chains (sniffing the preface if AUTO needs it), or tcp_proxy. */
  private dispatch(): void {
    const network = this.chain!.network;
    if (network.kind === 'tcp_proxy') {
      this.serve();
      return;
    }
    const codec = this.fixedCodec(network);
    if (codec !== undefined) {
      this.serve(codec);
      return;
    }
    this.phase = Phase.SniffingCodec;
    // Waiting for the first bytes is bounded like an idle connection (HCM idle_timeout; 0 disables).
    if (network.idleTimeoutMs > 0) this.timer = this.rt.clock.setTimeout(this.onSniffTimeout, network.idleTimeoutMs);
    this.startReading();
    this.sniffCodec();
  }

  /** HTTP1/HTTP2 as configured; AUTO: negotiated ALPN, else what http_inspector saw on plaintext; undefined: sniff. */
  private fixedCodec(hcm: HttpConnectionManagerConfig): 'http1' | 'http2' | undefined {
    if (hcm.codec === 'HTTP1') return 'http1';
    if (hcm.codec === 'HTTP2') return 'http2';
    const alpn = this.negotiatedAlpn();
    if (alpn !== undefined) return alpn === 'h2' ? 'http2' : 'http1';
    if (this.socket === this.raw && typeof this.httpProtocol === 'string') return this.httpProtocol === 'h2c' ? 'http2' : 'http1';
    return undefined;
  }

  private readonly onSniffTimeout = (): void => {
    this.timer = null;
    if (this.phase === Phase.SniffingCodec) this.destroy();
  };

  private sniffCodec(): void {
    const h2 = startsWithH2Preface(this.peeked);
    if (h2 === undefined && !this.eof) return;
    if (this.timer !== null) {
      this.timer.cancel();
      this.timer = null;
    }
    if (!this.stopReading(this.socket)) return;
    this.serve(h2 === true ? 'http2' : 'http1');
  }

  private negotiatedAlpn(): string | undefined {
    if (this.socket === this.raw) return undefined;
    const alpn = (this.socket as tls.TLSSocket).alpnProtocol;
    return typeof alpn === 'string' && alpn !== '' ? alpn : undefined;
  }

  private serve(codec?: 'http1' | 'http2'): void {
    const chain = this.chain!;
    const raw = this.raw;
    const terminated = this.socket !== raw;
    const tlsSocket = this.socket as tls.TLSSocket;
    const alpn = terminated ? this.negotiatedAlpn() : this.offeredAlpn[0];
    const sni = terminated && typeof tlsSocket.servername === 'string' && tlsSocket.servername !== '' ? tlsSocket.servername : this.serverName;
    const info: DownstreamConnectionInfo = Object.freeze({
      listenerName: this.listener.config.name,
      filterChainName: chain.name,
      remoteAddress: normalizeHost(raw.remoteAddress),
      remotePort: raw.remotePort ?? 0,
      localAddress: normalizeHost(raw.localAddress),
      localPort: raw.localPort ?? 0,
      originalDst: this.originalDstValue,
      transportProtocol: terminated || this.transport === 'tls' ? 'tls' : 'raw_buffer',
      sni: sni === '' ? undefined : sni,
      alpn,
      tlsTerminated: terminated,
    });
    this.phase = Phase.Served;
    try {
      this.handle = chain.network.kind === 'http' ? this.rt.handlers.http(this.socket, info, chain.network, codec ?? 'http1') : this.rt.handlers.tcp(this.socket, info, chain.network);
    } catch (error) {
      this.rt.logger.error({ listener: info.listenerName, filterChain: chain.name, error: (error as Error).message }, 'connection handler threw; closing');
      this.destroy();
      return;
    }
    if (this.drainRequested) this.handle.drain();
  }

  drain(): void {
    if (this.phase === Phase.Closed) return;
    if (!this.drainRequested) {
      this.drainRequested = true;
      this.drainTimer = this.rt.clock.setTimeout(this.onDrainTimeout, this.rt.drainTimeoutMs);
    }
    if (this.handle !== null) this.handle.drain();
  }

  private readonly onDrainTimeout = (): void => {
    this.drainTimer = null;
    this.destroy();
  };

  destroy(): void {
    if (this.socket !== this.raw) this.socket.destroy();
    this.raw.destroy();
    this.closed();
  }

  /** Idempotent: untracks and uncounts. */
  closed(): void {
    if (this.phase === Phase.Closed) return;
    this.phase = Phase.Closed;
    if (this.timer !== null) this.timer.cancel();
    if (this.drainTimer !== null) this.drainTimer.cancel();
    this.timer = null;
    this.drainTimer = null;
    if (this.terminator !== null) this.terminator.abandon(this.raw);
    if (this.counted) this.listener.stats.downstreamCxActive--;
    this.listener.connections.delete(this);
    this.rt.untrack(this);
  }

  private startReading(): void {
    const socket = this.socket as Tagged;
    socket[kConnection] = this;
    if (this.reading) return;
    this.reading = true;
    this.eof = false;
    socket.on('data', onPeekData);
    socket.on('end', onPeekEnd);
    socket.resume();
  }

  /** Stops peeking and gives the bytes back: the next reader sees the stream from its first byte. */
  private stopReading(socket: net.Socket): boolean {
    if (this.reading) {
      this.reading = false;
      socket.removeListener('data', onPeekData);
      socket.removeListener('end', onPeekEnd);
    }
    socket.pause();
    const peeked = this.peeked;
    this.peeked = EMPTY;
    // After 'end' a stream refuses unshift (ERR_STREAM_UNSHIFT_AFTER_END_EVENT): a client that half-closed before we
    // decided loses those bytes, so close instead of serving a truncated stream.
    if (peeked.length === 0) return true;
    if (!this.eof) {
      socket.unshift(peeked);
      return true;
    }
    this.destroy();
    return false;
  }

  /** @internal module-level 'data' handler. */
  onData(chunk: Buffer): void {
    this.peeked = this.peeked.length === 0 ? chunk : Buffer.concat([this.peeked, chunk]);
    this.advance();
  }

  /** @internal module-level 'end' handler. */
  onEnd(): void {
    this.eof = true;
    this.advance();
  }

  private advance(): void {
    if (this.phase === Phase.Inspecting) this.inspect();
    else if (this.phase === Phase.SniffingCodec) this.sniffCodec();
  }
}

function onPeekData(this: Tagged, chunk: Buffer): void {
  this[kConnection]?.onData(chunk);
}

function onPeekEnd(this: Tagged): void {
  this[kConnection]?.onEnd();
}

function onSocketClose(this: Tagged): void {
  this[kConnection]?.closed();
}

function onSocketError(this: Tagged, error: Error): void {
  // Resets and the like: 'close' follows and untracks. Handlers attach their own listeners for their purposes.
  void error;
}
