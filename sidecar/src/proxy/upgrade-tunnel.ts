// HTTP/1.1 upgrades (WebSocket and others enabled by upgrade_configs): route, pick a host, replay the upgrade
// request upstream, relay the 101 and then pipe raw bytes both ways.

import * as http from 'node:http';
import type * as net from 'node:net';
import { Errors, type ErrorKind } from '../core/errors';
import type { HttpConnectionManagerConfig } from '../config/listener-config';
import type { DownstreamConnectionInfo } from '../listener/connection-handlers';
import { ObjectHeaderMap, type HeaderObject } from '../router/header-map';
import type { RouteRequest } from '../router/route-request';
import type { UpstreamCluster } from '../upstream/upstream-cluster';
import { applyForwardingHeaders } from './header-hygiene';
import type { ProxyRuntime } from './proxy-runtime';

const STATUS_TEXT = (status: number): string => `${status} ${http.STATUS_CODES[status] ?? ''}`.trimEnd();

function rawReply(socket: net.Socket, kind: ErrorKind | { httpStatus: number }): void {
  socket.end(`HTTP/1.1 ${STATUS_TEXT(kind.httpStatus)}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n`);
}

/** Serializes a response head for the raw downstream socket. */
function responseHead(status: number, statusMessage: string | undefined, rawHeaders: readonly string[]): string {
  let head = `HTTP/1.1 ${status} ${statusMessage ?? http.STATUS_CODES[status] ?? ''}\r\n`;
  for (let i = 0; i + 1 < rawHeaders.length; i += 2) head += `${rawHeaders[i]}: ${rawHeaders[i + 1]}\r\n`;
  return `${head}\r\n`;
}

/**
 * Envoy's upgrade handling in the HCM + router: an upgrade is allowed only when an HCM `upgrade_configs` entry
 * enables its type (else 403, as Envoy answers); the route picks the cluster like any request; the upstream's
 * answer (101 or not) goes back as is; after a 101 both sockets are piped until either closes.
 */
export function proxyUpgrade(
  req: http.IncomingMessage,
  socket: net.Socket,
  head: Buffer,
  info: DownstreamConnectionInfo,
  hcm: HttpConnectionManagerConfig,
  runtime: ProxyRuntime | undefined,
  clusters: { get(name: string): UpstreamCluster | undefined },
  random: () => number,
): void {
  socket.on('error', () => socket.destroy());
  const upgradeType = String(req.headers['upgrade'] ?? '').toLowerCase();
  if (!hcm.upgradeConfigs.some((u) => u.enabled && u.upgradeType.toLowerCase() === upgradeType)) {
    rawReply(socket, { httpStatus: 403 });
    return;
  }
  const headers = req.headers as HeaderObject;
  const request: RouteRequest = {
    authority: req.headers.host ?? '',
    path: req.url ?? '/',
    method: req.method ?? 'GET',
    headers: new ObjectHeaderMap(headers),
    isGrpc: false,
    scheme: info.tlsTerminated ? 'https' : 'http',
  };
  const match = runtime?.routeTable(hcm)?.match(request);
  if (match === undefined || match.route.action.kind !== 'route') {
    rawReply(socket, Errors.noRoute);
    return;
  }
  const route = match.route;
  const clusterName = route.selectCluster(request, random());
  const cluster = clusterName === undefined ? undefined : clusters.get(clusterName);
  if (cluster === undefined) {
    rawReply(socket, Errors.noCluster);
    return;
  }
  const host = cluster.pick({ originalDst: info.originalDst });
  if (host === undefined) {
    rawReply(socket, Errors.noHealthyHost);
    return;
  }
  applyForwardingHeaders(req.headers, hcm, { remoteAddress: info.remoteAddress, scheme: request.scheme ?? 'http' });
  route.applyRequestHeaders(request.headers, {
    request,
    downstreamRemoteIp: info.remoteAddress,
    downstreamRemotePort: info.remotePort,
    downstreamLocalIp: info.localAddress,
    downstreamLocalPort: info.localPort,
    upstreamHost: null,
    protocol: 'HTTP/1.1',
    startTimeMs: Date.now(),
  }, clusterName);
  const authority = route.hostRewrite(request, clusterName) ?? request.authority;
  host.activeRequests += 1;
  const upstream = http.request({
    host: host.address,
    port: host.port,
    method: request.method,
    path: route.rewritePath(request.path),
    headers: { ...req.headers, host: authority },
    agent: false,
    setHost: false,
  });
  let released = false;
  const release = (): void => {
    if (!released) {
      released = true;
      host.activeRequests -= 1;
    }
  };
  upstream.on('upgrade', (res: http.IncomingMessage, upstreamSocket: net.Socket, upstreamHead: Buffer) => {
    socket.write(responseHead(res.statusCode ?? 101, res.statusMessage, res.rawHeaders));
    if (upstreamHead.length > 0) socket.write(upstreamHead);
    if (head.length > 0) upstreamSocket.write(head);
    upstreamSocket.pipe(socket);
    socket.pipe(upstreamSocket);
    const close = (): void => {
      release();
      upstreamSocket.destroy();
      socket.destroy();
    };
    upstreamSocket.on('error', close);
    upstreamSocket.on('close', close);
    socket.on('close', close);
  });
  upstream.on('response', (res: http.IncomingMessage) => {
    // The upstream refused the upgrade: relay its answer and close.
    socket.write(responseHead(res.statusCode ?? 502, res.statusMessage, res.rawHeaders));
    res.pipe(socket);
    res.on('end', release);
  });
  upstream.on('error', () => {
    release();
    if (!socket.destroyed) rawReply(socket, Errors.connectFailure);
  });
  upstream.end();
}
