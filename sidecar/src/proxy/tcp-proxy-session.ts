// One tcp_proxy connection: pick a cluster and host, connect (with connect attempts), pipe both ways, idle timeout.

import * as net from 'node:net';
import type * as tls from 'node:tls';
import type { TcpProxyConfig } from '../config/listener-config';
import type { ConnectionHandle, DownstreamConnectionInfo } from '../listener/connection-handlers';
import type { Logger } from '../observability/logger';
import type { UpstreamCluster } from '../upstream/upstream-cluster';
import type { Host } from '../upstream/host';

/**
 * Envoy's tcp_proxy filter for one downstream connection: the cluster (or a weighted one), a host from its
 * balancer (ORIGINAL_DST: the connection's original destination), up to `max_connect_attempts` connects, then a
 * bidirectional pipe with backpressure; either side closing closes the other; `idle_timeout` closes both.
 */
export class TcpProxySession implements ConnectionHandle {
  private upstream: net.Socket | undefined;
  private attempts = 0;
  private closed = false;
  private readonly triedHosts = new Set<Host>();

  constructor(
    private readonly downstream: net.Socket | tls.TLSSocket,
    private readonly info: DownstreamConnectionInfo,
    private readonly config: TcpProxyConfig,
    private readonly clusters: { get(name: string): UpstreamCluster | undefined },
    private readonly random: () => number,
    private readonly logger: Logger,
    private readonly onClosed: (session: TcpProxySession) => void,
  ) {}

  start(): void {
    this.downstream.on('error', () => this.destroy());
    this.downstream.on('close', () => this.destroy());
    this.downstream.pause();
    this.connect();
  }

  private clusterName(): string {
    const spec = this.config.cluster;
    if (spec.kind === 'cluster') return spec.name;
    const total = spec.clusters.reduce((sum, c) => sum + c.weight, 0);
    let point = this.random() * total;
    for (const entry of spec.clusters) {
      point -= entry.weight;
      if (point < 0) return entry.name;
    }
    return spec.clusters[spec.clusters.length - 1]?.name ?? '';
  }

  private connect(): void {
    if (this.closed) return;
    this.attempts += 1;
    const name = this.clusterName();
    const cluster = this.clusters.get(name);
    if (cluster === undefined) {
      this.logger.debug({ cluster: name, listener: this.info.listenerName }, 'tcp_proxy: no cluster (NC)');
      this.destroy();
      return;
    }
    const host = cluster.pick({ exclude: this.triedHosts, maxSelectionAttempts: 1, originalDst: this.info.originalDst });
    if (host === undefined) {
      this.logger.debug({ cluster: name }, 'tcp_proxy: no healthy upstream (UH)');
      this.destroy();
      return;
    }
    this.triedHosts.add(host);
    host.activeRequests += 1;
    const upstream = net.connect({ host: host.address, port: host.port });
    this.upstream = upstream;
    upstream.setNoDelay(true);
    const connectTimer = setTimeout(() => upstream.destroy(Object.assign(new Error('connect timeout'), { code: 'ETIMEDOUT' })), cluster.config.connectTimeoutMs);
    connectTimer.unref();
    upstream.once('connect', () => {
      clearTimeout(connectTimer);
      this.pipe(upstream);
    });
    upstream.once('error', (error: NodeJS.ErrnoException) => {
      clearTimeout(connectTimer);
      if (this.closed) return;
      if (upstream.connecting || !upstream.readable) {
        host.activeRequests -= 1;
        this.upstream = undefined;
        if (this.attempts < this.config.maxConnectAttempts) {
          this.connect();
          return;
        }
        this.logger.debug({ cluster: name, host: host.key, code: error.code }, 'tcp_proxy: upstream connect failed (UF)');
      }
      this.destroy();
    });
    upstream.once('close', () => {
      if (host.activeRequests > 0) host.activeRequests -= 1;
      if (this.upstream === upstream) this.downstream.end();
    });
  }

  private pipe(upstream: net.Socket): void {
    const downstream = this.downstream;
    downstream.pipe(upstream);
    upstream.pipe(downstream);
    downstream.resume();
    if (this.config.idleTimeoutMs > 0) {
      downstream.setTimeout(this.config.idleTimeoutMs, () => this.destroy());
      upstream.setTimeout(this.config.idleTimeoutMs, () => this.destroy());
    }
  }

  /** TCP has no graceful signal: the connection keeps going until it closes or the listener's drain deadline. */
  drain(): void {}

  destroy(): void {
    if (this.closed) return;
    this.closed = true;
    this.upstream?.destroy();
    this.downstream.destroy();
    this.onClosed(this);
  }
}
