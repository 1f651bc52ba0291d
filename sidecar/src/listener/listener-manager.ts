// Listeners from config snapshots: bind, update in place, drain and remove; use_original_dst routing; SIGTERM drain.

import * as net from 'node:net';
import * as os from 'node:os';
import { isDeepStrictEqual } from 'node:util';
import type { ConfigSnapshot } from '../config/config-snapshot';
import type { FilterChainConfig, ListenerConfig } from '../config/listener-config';
import { systemClock, type Clock } from '../core/clock';
import { silentLogger, type Logger } from '../observability/logger';
import { ActiveListener, type ListenerStats } from './active-listener';
import type { ConnectionHandlers } from './connection-handlers';
import { DownstreamConnection, normalizeHost, type ConnectionRuntime } from './downstream-connection';
import { DownstreamTls } from './downstream-tls';
import { originalDst as nativeOriginalDst, originalDstUnavailableReason, type OriginalDestination } from './original-dst';

/** Envoy's `--drain-time-s` default (600 s). */
export const DEFAULT_DRAIN_TIMEOUT_MS = 600_000;

export interface ListenerManagerOptions {
  handlers: ConnectionHandlers;
  logger?: Logger;
  clock?: Clock;
  /** How long a draining connection may take before it is destroyed. Default 600 000 (Envoy's --drain-time-s). */
  drainTimeoutMs?: number;
  /** SO_ORIGINAL_DST reader; default the native addon (undefined when it is missing or the socket was not NATed). */
  originalDst?: (socket: net.Socket) => OriginalDestination | undefined;
}

/** A listener that could not be applied (bind error, ...). */
export interface ListenerApplyError {
  readonly listener: string;
  readonly error: string;
}

const kListener = Symbol('meshlet.activeListener');
type TaggedServer = net.Server & { [kListener]?: ActiveListener; [kManager]?: ListenerManager };
const kManager = Symbol('meshlet.listenerManager');

/**
 * Owns every listener of the process. `apply()` is serialised by the caller (one at a time). Envoy semantics:
 * - a changed listener on the same address keeps its bound server and uses the new chains for new connections;
 *   connections on chains that changed (deep comparison, as Envoy's in-place filter-chain update) are drained;
 * - a removed listener (or one whose address changed) stops accepting, and its connections drain;
 * - `bindToPort: false` listeners are only reached by hand-off from a `useOriginalDst` listener.
 */
export class ListenerManager implements ConnectionRuntime {
  readonly handlers: ConnectionHandlers;
  readonly logger: Logger;
  readonly clock: Clock;
  readonly drainTimeoutMs: number;
  readonly connections = new Set<DownstreamConnection>();
  private readonly readOriginalDst: (socket: net.Socket) => OriginalDestination | undefined;
  private readonly listeners = new Map<string, ActiveListener>();
  /** Hand-off targets by `host:port` (normalised host), bound or not. */
  private readonly byAddress = new Map<string, ActiveListener>();
  private readonly tls = new WeakMap<FilterChainConfig, DownstreamTls>();
  private localAddresses = new Set<string>();
  private loopLogged = false;
  private addonChecked = false;
  private stopped = false;
  /** Set while drain() waits: called when the last connection closes. */
  private onIdle: (() => void) | null = null;

  constructor(options: ListenerManagerOptions) {
    this.handlers = options.handlers;
    this.logger = options.logger ?? silentLogger();
    this.clock = options.clock ?? systemClock;
    this.drainTimeoutMs = options.drainTimeoutMs ?? DEFAULT_DRAIN_TIMEOUT_MS;
    this.readOriginalDst = options.originalDst ?? nativeOriginalDst;
    if (options.originalDst !== undefined) this.addonChecked = true;
  }

  /** Binds new listeners, updates changed ones, drains and closes removed ones. Errors are returned per listener, never thrown. */
  async apply(snapshot: ConfigSnapshot): Promise<ReadonlyArray<ListenerApplyError>> {
    const errors: ListenerApplyError[] = [];
    if (this.stopped) return errors;
    this.localAddresses = collectLocalAddresses();
    // Removals first (and listeners whose address changed), so a re-added address can bind.
    for (const [name, active] of this.listeners) {
      const next = snapshot.listeners.get(name);
      if (next === undefined || !sameBinding(active.config, next)) this.remove(name, active);
    }
    const binds: Array<Promise<void>> = [];
    for (const [name, config] of snapshot.listeners) {
      const active = this.listeners.get(name);
      if (active === undefined) {
        binds.push(this.add(config).then((error) => {
          if (error !== null) errors.push({ listener: name, error });
        }));
      } else if (active.config !== config) {
        this.update(active, config);
      }
    }
    await Promise.all(binds);
    this.rebuildAddressIndex();
    return errors;
  }

  /** Bound addresses, e.g. for tests with port 0: name -> {host, port}. */
  addresses(): ReadonlyMap<string, { readonly host: string; readonly port: number }> {
    const out = new Map<string, { readonly host: string; readonly port: number }>();
    for (const [name, active] of this.listeners) if (active.bound !== null) out.set(name, active.bound);
    return out;
  }

  /** Per-listener counters (live objects): downstream connections total/active, no filter chain match. */
  stats(): ReadonlyMap<string, Readonly<ListenerStats>> {
    const out = new Map<string, Readonly<ListenerStats>>();
    for (const [name, active] of this.listeners) out.set(name, active.stats);
    return out;
  }

  /** Stop accepting everywhere and drain every connection (SIGTERM); resolves when all closed or after timeoutMs (then destroys). */
  async drain(timeoutMs: number): Promise<void> {
    this.stopped = true;
    for (const active of this.listeners.values()) this.stopAccepting(active);
    for (const c of [...this.connections]) c.drain();
    if (this.connections.size === 0) return;
    await new Promise<void>((resolve) => {
      const deadline = this.clock.setTimeout(() => finish(), timeoutMs);
      const finish = (): void => {
        this.onIdle = null;
        deadline.cancel();
        for (const c of [...this.connections]) c.destroy();
        resolve();
      };
      this.onIdle = finish;
    });
  }

  /** Stops every listener and destroys every connection at once. */
  async close(): Promise<void> {
    this.stopped = true;
    const closing: Array<Promise<void>> = [];
    for (const active of this.listeners.values()) {
      const server = active.server;
      if (server !== null) closing.push(new Promise<void>((resolve) => server.close(() => resolve())));
      this.stopAccepting(active);
    }
    for (const c of [...this.connections]) c.destroy();
    this.listeners.clear();
    this.byAddress.clear();
    await Promise.all(closing);
  }

  // --- ConnectionRuntime -------------------------------------------------------------------------------------

  originalDst(socket: net.Socket): OriginalDestination | undefined {
    if (!this.addonChecked) {
      this.addonChecked = true;
      const reason = originalDstUnavailableReason();
      if (reason !== undefined) this.logger.error({ error: reason }, 'original destination unavailable');
    }
    return this.readOriginalDst(socket);
  }

  isOwnAddress(dst: OriginalDestination, socket: net.Socket): boolean {
    if (dst.port === socket.localPort && dst.host === normalizeHost(socket.localAddress)) return true;
    for (const active of this.listeners.values()) {
      const bound = active.bound;
      if (bound === null || bound.port !== dst.port) continue;
      if (bound.host === dst.host) return true;
      if (isWildcard(bound.host) && (this.localAddresses.has(dst.host) || isLoopbackHost(dst.host))) return true;
    }
    return false;
  }

  listenerFor(dst: OriginalDestination): ActiveListener | undefined {
    return this.byAddress.get(addressKey(dst.host, dst.port)) ?? this.byAddress.get(addressKey(net.isIPv6(dst.host) ? '::' : '0.0.0.0', dst.port));
  }

  untrack(connection: DownstreamConnection): void {
    this.connections.delete(connection);
    if (this.connections.size === 0 && this.onIdle !== null) this.onIdle();
  }

  tlsFor(chain: FilterChainConfig): DownstreamTls {
    let t = this.tls.get(chain);
    if (t === undefined) {
      t = DownstreamTls.prepare(chain);
      this.tls.set(chain, t);
    }
    return t;
  }

  refusedLoop(fields: object): void {
    if (!this.loopLogged) {
      this.loopLogged = true;
      this.logger.warn(fields, 'refused a connection whose original destination is meshlet itself (not redirected; would loop); further ones are logged at debug');
    } else this.logger.debug(fields, 'refused a connection to meshlet itself');
  }

  // --- internals ---------------------------------------------------------------------------------------------

  private async add(config: ListenerConfig): Promise<string | null> {
    const active = new ActiveListener(config);
    this.prepareTls(active);
    this.listeners.set(config.name, active);
    if (!config.bindToPort) return null;
    if (config.address.kind !== 'socket') {
      this.listeners.delete(config.name);
      return 'pipe listeners are not supported';
    }
    const error = await this.bind(active, config.address.host, config.address.port);
    if (error !== null) this.listeners.delete(config.name);
    return error;
  }

  private bind(active: ActiveListener, host: string, port: number): Promise<string | null> {
    const server: TaggedServer = net.createServer();
    server[kListener] = active;
    server[kManager] = this;
    return new Promise((resolve) => {
      const onError = (error: NodeJS.ErrnoException): void => {
        server.close();
        resolve(`cannot bind ${host}:${port}: ${error.code ?? error.message}`);
      };
      server.once('error', onError);
      // Envoy binds [::] IPv6-only unless ipv4_compat is set (which meshlet's config does not carry).
      server.listen({ host, port, ipv6Only: host === '::' }, () => {
        server.removeListener('error', onError);
        server.on('error', onServerError);
        server.on('connection', onServerConnection);
        const address = server.address() as net.AddressInfo;
        active.server = server;
        active.bound = { host: normalizeHost(address.address), port: address.port };
        resolve(null);
      });
    });
  }

  private update(active: ActiveListener, config: ListenerConfig): void {
    active.config = config;
    this.prepareTls(active);
    const chains = config.defaultFilterChain === null ? config.filterChains : [...config.filterChains, config.defaultFilterChain];
    // Envoy's in-place filter chain update: only connections whose chain is gone or changed drain.
    for (const c of [...active.connections]) {
      const chain = c.chain;
      if (chain === null) continue;
      if (!chains.some((next) => next === chain || isDeepStrictEqual(next, chain))) c.drain();
    }
  }

  private remove(name: string, active: ActiveListener): void {
    this.listeners.delete(name);
    active.removed = true;
    this.stopAccepting(active);
    for (const c of [...active.connections]) c.drain();
  }

  private stopAccepting(active: ActiveListener): void {
    const server = active.server;
    if (server === null) return;
    active.server = null;
    active.bound = null;
    server.removeListener('connection', onServerConnection);
    server.close();
  }

  /** Loads each TLS chain's certificates at apply time, logging a chain that cannot terminate TLS once. */
  private prepareTls(active: ActiveListener): void {
    const config = active.config;
    for (const chain of config.defaultFilterChain === null ? config.filterChains : [...config.filterChains, config.defaultFilterChain]) {
      if (chain.transportSocket === null || chain.transportSocket.kind !== 'tls' || this.tls.has(chain)) continue;
      const t = this.tlsFor(chain);
      if (t.unavailable !== null) this.logger.error({ listener: config.name, filterChain: chain.name, error: t.unavailable }, 'filter chain cannot terminate TLS; its connections will be closed');
    }
  }

  private rebuildAddressIndex(): void {
    this.byAddress.clear();
    for (const active of this.listeners.values()) {
      const a = active.config.address;
      if (a.kind === 'socket') this.byAddress.set(addressKey(normalizeHost(a.host), a.port), active);
    }
  }

  /** @internal A bound server accepted a socket. */
  accept(active: ActiveListener, socket: net.Socket): void {
    if (this.stopped || active.removed) {
      socket.destroy();
      return;
    }
    new DownstreamConnection(this, active, socket).start();
  }
}

function onServerConnection(this: TaggedServer, socket: net.Socket): void {
  this[kManager]!.accept(this[kListener]!, socket);
}

function onServerError(this: TaggedServer, error: Error): void {
  this[kManager]!.logger.error({ listener: this[kListener]!.config.name, error: error.message }, 'listener socket error');
}

/** Same bound socket: address and bind_to_port unchanged (anything else is an in-place update). */
function sameBinding(a: ListenerConfig, b: ListenerConfig): boolean {
  return a.bindToPort === b.bindToPort && isDeepStrictEqual(a.address, b.address);
}

function addressKey(host: string, port: number): string {
  return net.isIPv6(host) ? `[${host}]:${port}` : `${host}:${port}`;
}

function isWildcard(host: string): boolean {
  return host === '0.0.0.0' || host === '::';
}

function isLoopbackHost(host: string): boolean {
  return host === '::1' || host.startsWith('127.');
}

/** This host's interface addresses (for "is this original destination meshlet itself?" on wildcard listeners). */
function collectLocalAddresses(): Set<string> {
  const out = new Set<string>();
  for (const list of Object.values(os.networkInterfaces())) for (const a of list ?? []) out.add(normalizeHost(a.address));
  return out;
}
