// The socket under an upstream HTTP/2 connection, for both HTTP/2 pools (meshlet's codec and the node:http2
// fallback): plain TCP for h2c, or TLS offering the cluster's ALPN (`h2`, or `h2,http/1.1` for AUTO), with the
// cluster connect_timeout armed over TCP connect plus handshake (Envoy `connect_timeout`).

import * as net from 'node:net';
import type * as tls from 'node:tls';
import { armConnectTimeout } from './connect-timeout';
import type { PoolSettings } from './pool-settings';

export function connectHttp2UpstreamSocket(host: string, port: number, settings: PoolSettings, where: string): net.Socket {
  const tlsSettings = settings.tls;
  const localAddress = settings.localAddress ?? undefined;
  let socket: net.Socket;
  if (tlsSettings === null) {
    socket = net.connect({ host, port, ...(localAddress ? { localAddress } : {}) });
  } else {
    const alpn = tlsSettings.alpnFor(settings.protocol === 'auto' ? 'auto' : 'http2');
    // node:tls loads with the first TLS upstream, not at start (issue 3, RSS).
    socket = (require('node:tls') as typeof tls).connect({ ...tlsSettings.options, host, port, ALPNProtocols: alpn, ...(localAddress ? { localAddress } : {}) });
  }
  armConnectTimeout(socket, settings.connectTimeoutMs, tlsSettings !== null, settings.clock, where);
  return socket;
}
