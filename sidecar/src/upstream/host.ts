// The runtime endpoint: address, weight, priority, locality, health flags, active requests, and its pools.

import * as net from 'node:net';
import type { LocalityConfig, MetadataConfig } from '../config/endpoint-config';
import { Http1Pool } from './pool/http1-pool';
import { Http2Pool } from './pool/http2-pool';
import { RawHttp1Pool } from './pool/raw-http1-pool';
import { RawHttp2Pool } from './pool/raw-http2-pool';
import type { PoolSettings } from './pool/pool-settings';

/** Told when a host's weight or health flags change, so the owner rebuilds its balancers (off the hot path). */
export interface HostObserver {
  onHostChanged(host: Host): void;
}

const NO_LOCALITY: LocalityConfig = Object.freeze({ region: '', zone: '', subZone: '' });
const NO_METADATA: MetadataConfig = Object.freeze({});

/** `10.0.0.1:9080`, `[::1]:9080`: the identity of a host within its cluster (Envoy `address().asString()`). */
export function hostKey(address: string, port: number): string {
  return net.isIPv6(address) ? `[${address}]:${port}` : `${address}:${port}`;
}

/**
 * One upstream endpoint of one cluster, kept across config updates while its address stays in the cluster
 * (pools, counters and flags survive). `healthFlags` bits each have one owner (host-health-flags.ts); writing
 * `healthFlags` or `weight` tells the cluster to rebuild its balancers before the next pick. Pools are created
 * on first use with the settings the cluster gives for this host (its transport socket).
 * Cost: field reads; `http1` / `http2` getters allocate only the first time.
 */
export class Host {
  readonly key: string;
  readonly address: string;
  readonly port: number;
  /** EDS `hostname` (or the DNS name a STRICT_DNS/LOGICAL_DNS host came from); '' when none. */
  hostname = '';
  priority = 0;
  locality: LocalityConfig = NO_LOCALITY;
  metadata: MetadataConfig = NO_METADATA;
  /** Requests in flight to this host; the proxy increments before an attempt and decrements after it. */
  activeRequests = 0;
  /** Set by a pick (ORIGINAL_DST cleanup looks at it). */
  used = false;
  /** Clock time the host joined its cluster (Envoy `creationTime()`): slow start counts from it. Owner: the cluster. */
  addedAtMs = 0;
  /** Clock time of the last active health check pass that made it healthy (Envoy `lastHcPassTime()`); slow start counts from it when set. Owner: health/. */
  lastHcPassAtMs: number | null = null;
  private weightValue = 1;
  private flags = 0;
  private observer: HostObserver | null = null;
  private settings: PoolSettings;
  private h1: Http1Pool | null = null;
  private raw1: RawHttp1Pool | null = null;
  private h2: Http2Pool | null = null;
  private raw2: RawHttp2Pool | null = null;

  constructor(address: string, port: number, settings: PoolSettings) {
    this.address = address;
    this.port = port;
    this.key = hostKey(address, port);
    this.settings = settings;
  }

  /** `load_balancing_weight`, >= 1. */
  get weight(): number {
    return this.weightValue;
  }
  set weight(value: number) {
    if (value === this.weightValue) return;
    this.weightValue = value;
    this.observer?.onHostChanged(this);
  }

  /** HostHealthFlags bits. Change only the bits your subsystem owns: `host.healthFlags |= F` / `&= ~F`. */
  get healthFlags(): number {
    return this.flags;
  }
  set healthFlags(value: number) {
    if (value === this.flags) return;
    this.flags = value;
    this.observer?.onHostChanged(this);
  }

  /** The cluster that owns this host (one observer; set by the cluster). */
  observe(observer: HostObserver | null): void {
    this.observer = observer;
  }

  get http1(): Http1Pool {
    return (this.h1 ??= new Http1Pool(this.settings, `${this.settings.clusterName} ${this.key}`));
  }

  /** Plaintext HTTP/1.1 as raw keep-alive sockets, for the fast HTTP/1.1 relay (proxy/h1); TLS clusters use `http1`. */
  get rawHttp1(): RawHttp1Pool {
    return (this.raw1 ??= new RawHttp1Pool(this.settings, this.address, this.port, `${this.settings.clusterName} ${this.key}`));
  }

  get http2(): Http2Pool {
    return (this.h2 ??= new Http2Pool(this.settings, this.address, this.port, `${this.settings.clusterName} ${this.key}`));
  }

  /** HTTP/2 (h2c or TLS) on meshlet's own codec (codec/http2), for the data path; `http2` is node:http2's. */
  get rawHttp2(): RawHttp2Pool {
    return (this.raw2 ??= new RawHttp2Pool(this.settings, this.address, this.port, `${this.settings.clusterName} ${this.key}`));
  }

  /** The settings this host's pools are (or will be) made with. */
  get poolSettings(): PoolSettings {
    return this.settings;
  }

  /** True once a pool exists (a connection may be open). */
  get hasPools(): boolean {
    return this.h1 !== null || this.h2 !== null || this.raw1 !== null || this.raw2 !== null;
  }

  /**
   * New pool settings (cluster TLS, timeouts or limits changed): existing pools drain gracefully in the
   * background and new connections use the new settings. No-op when the settings object is the same.
   */
  replacePoolSettings(settings: PoolSettings): void {
    if (settings === this.settings) return;
    this.settings = settings;
    void this.closePools();
  }

  /** Graceful close of both pools (idle connections now, busy ones after their exchange). */
  closePools(): Promise<void> {
    const closing: Promise<void>[] = [];
    if (this.h1 !== null) closing.push(this.h1.close());
    if (this.raw1 !== null) closing.push(this.raw1.close());
    if (this.h2 !== null) closing.push(this.h2.close());
    if (this.raw2 !== null) closing.push(this.raw2.close());
    this.h1 = null;
    this.raw1 = null;
    this.h2 = null;
    this.raw2 = null;
    return Promise.all(closing).then(() => undefined);
  }

  /** Closes every connection now. */
  destroyPools(): void {
    this.h1?.destroy();
    this.raw1?.destroy();
    this.h2?.destroy();
    this.raw2?.destroy();
    this.h1 = null;
    this.raw1 = null;
    this.h2 = null;
    this.raw2 = null;
  }
}
