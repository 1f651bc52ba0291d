// Transparent mode for real: network namespaces, iptables REDIRECT (outbound to 15001, inbound to 15006), the
// SO_ORIGINAL_DST addon, use_original_dst hand-off and the loop guard. Skipped only where namespaces cannot be made.
// The same file is the proxy child (MESHLET_TRANSPARENT_CHILD=1), started inside the namespace as UID 1337.

import * as assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import * as http from 'node:http';
import * as net from 'node:net';
import { createConfigSnapshot } from '../../sidecar/src/config/config-snapshot';
import type { ListenerConfig } from '../../sidecar/src/config/listener-config';
import type { ConnectionHandle, ConnectionHandlers, DownstreamConnectionInfo } from '../../sidecar/src/listener/connection-handlers';
import { ListenerManager } from '../../sidecar/src/listener/listener-manager';
import { originalDstUnavailableReason } from '../../sidecar/src/listener/original-dst';
import type { Logger } from '../../sidecar/src/observability/logger';
import { inNs, letUidTraverseTo, sh, whyNoNamespaces } from '../support/netns';
import { chain, listener, tcpProxy } from '../unit/listener/listener-builders';

const PROXY_UID = 1337;
const POD_IP = '198.51.100.2';
const CLIENT_IP = '198.51.100.1';
const SERVICE_V4 = '198.51.100.7';
const SERVICE_V6 = '2001:db8::7';

// ---------------------------------------------------------------------------------------------------------------
// Child: the listener manager inside the pod namespace, plus an upstream on the service VIPs (port 8080).

/** Stub proxy: HTTP answers with the connection info; tcp_proxy passes through to the original destination. */
const childHandlers: ConnectionHandlers = {
  http(socket: net.Socket, info: DownstreamConnectionInfo): ConnectionHandle {
    const server = http.createServer((_req, res) => res.end(JSON.stringify(info)));
    server.emit('connection', socket);
    socket.resume();
    return { drain: () => socket.end() };
  },
  tcp(socket: net.Socket, info: DownstreamConnectionInfo): ConnectionHandle {
    // PassthroughCluster: dial where the client meant to go. As UID 1337 this is not captured again.
    const upstream = net.connect(info.originalDst.port, info.originalDst.host);
    upstream.on('error', () => socket.destroy());
    socket.on('error', () => upstream.destroy());
    socket.pipe(upstream).pipe(socket);
    return { drain: () => socket.end() };
  },
};

function childLogger(): Logger {
  const write = (level: string) => (obj: object, msg?: string): void => {
    process.stdout.write(`${JSON.stringify({ level, msg, ...obj })}\n`);
  };
  const logger: Logger = { debug: write('debug'), info: write('info'), warn: write('warn'), error: write('error'), child: () => logger, level: 'debug' };
  return logger;
}

async function runChild(): Promise<void> {
  for (const host of [SERVICE_V4, SERVICE_V6]) {
    net.createServer((s) => s.end(`upstream ${host} saw peer ${s.remoteAddress}\n`)).listen(8080, host);
  }
  const wildcard = (host: string, port: number): ListenerConfig['address'] => ({ kind: 'socket', host, port, protocol: 'TCP' });
  const passthrough = chain('PassthroughFilterChain', {}, tcpProxy('PassthroughCluster'));
  const listeners: ListenerConfig[] = [
    listener('virtualOutbound', 15001, [passthrough], { address: wildcard('0.0.0.0', 15001), useOriginalDst: true }),
    listener('virtualOutbound6', 15001, [passthrough], { address: wildcard('::', 15001), useOriginalDst: true }),
    listener('0.0.0.0_9080', 9080, [chain('http-9080', {})], { address: wildcard('0.0.0.0', 9080), bindToPort: false }),
    listener('virtualInbound', 15006, [chain('inbound|9080||', { destinationPort: 9080 }), chain('InboundPassthroughFilterChain', {}, tcpProxy('InboundPassthroughCluster'))], {
      address: wildcard('0.0.0.0', 15006),
      listenerFilters: [{ name: 'envoy.filters.listener.original_dst', kind: 'original_dst' }],
    }),
  ];
  const manager = new ListenerManager({ handlers: childHandlers, logger: childLogger() });
  const errors = await manager.apply(createConfigSnapshot(1, Date.now(), { listeners: new Map(listeners.map((l) => [l.name, l])), routes: new Map(), clusters: new Map(), endpoints: new Map() }));
  process.stdout.write(`${JSON.stringify({ ready: true, uid: process.getuid?.(), errors, addon: originalDstUnavailableReason() ?? 'loaded' })}\n`);
}

// ---------------------------------------------------------------------------------------------------------------
// Test: namespaces, rules, the child, and an app in the namespace.

/** App script: one HTTP GET, prints the body. */
const httpGet = (url: string): string => `require('http').get(${JSON.stringify(url)}, (r) => { let b=''; r.on('data', (c) => b += c).on('end', () => process.stdout.write(b)); }).on('error', (e) => { process.stdout.write('error ' + e.code); });`;
/** App script: connect, print what comes back (or "closed" when closed without data). */
const tcpRead = (host: string, port: number): string => `const s = require('net').connect(${port}, ${JSON.stringify(host)}); let b=''; s.on('data', (d) => b += d); s.on('error', (e) => { b = b || ('error ' + e.code); }); s.on('close', () => process.stdout.write(b || 'closed'));`;

if (process.env['MESHLET_TRANSPARENT_CHILD'] === '1') {
  runChild().catch((error: unknown) => {
    process.stdout.write(`${JSON.stringify({ fatal: String(error) })}\n`);
    process.exit(1);
  });
} else {
  describe('transparent interception in a network namespace (iptables REDIRECT + SO_ORIGINAL_DST)', function () {
    this.timeout(30_000);
    const suffix = `${process.pid}${Math.floor(Math.random() * 1e6)}`;
    const pod = `mlpod${suffix}`;
    const client = `mlcli${suffix}`;
    let proxy: ChildProcess | null = null;
    let proxyOut = '';
    let created = false;
    let restoreModes: (() => void) | undefined;

    before(async function () {
      const why = whyNoNamespaces();
      if (why !== undefined) {
        process.stdout.write(`    skipped: transparent interception needs network namespaces: ${why}\n`);
        this.skip();
      }
      const reason = originalDstUnavailableReason();
      assert.equal(reason, undefined, `the SO_ORIGINAL_DST addon must be built for this test: ${reason}`);
      sh('ip', 'netns', 'add', pod);
      created = true;
      sh('ip', 'netns', 'add', client);
      const P = (...a: string[]): string => sh('ip', 'netns', 'exec', pod, ...a);
      const C = (...a: string[]): string => sh('ip', 'netns', 'exec', client, ...a);
      P('ip', 'link', 'set', 'lo', 'up');
      C('ip', 'link', 'set', 'lo', 'up');
      // veth between the client namespace and the pod namespace.
      sh('ip', 'link', 'add', `vp${suffix}`.slice(0, 15), 'netns', pod, 'type', 'veth', 'peer', 'name', `vc${suffix}`.slice(0, 15), 'netns', client);
      P('ip', 'addr', 'add', `${POD_IP}/24`, 'dev', `vp${suffix}`.slice(0, 15));
      C('ip', 'addr', 'add', `${CLIENT_IP}/24`, 'dev', `vc${suffix}`.slice(0, 15));
      P('ip', 'link', 'set', `vp${suffix}`.slice(0, 15), 'up');
      C('ip', 'link', 'set', `vc${suffix}`.slice(0, 15), 'up');
      // "Service" VIPs exist only inside the pod namespace (its lo), with a real upstream on port 8080.
      P('ip', 'addr', 'add', `${SERVICE_V4}/32`, 'dev', 'lo');
      P('ip', '-6', 'addr', 'add', `${SERVICE_V6}/128`, 'dev', 'lo', 'nodad');
      // Istio's capture: app egress (not the proxy's UID, not loopback) -> 15001; inbound -> 15006.
      for (const t of ['iptables', 'ip6tables']) {
        const loopback = t === 'iptables' ? '127.0.0.1/32' : '::1/128';
        P(t, '-t', 'nat', '-A', 'OUTPUT', '-p', 'tcp', '-m', 'owner', '!', '--uid-owner', String(PROXY_UID), '!', '-d', loopback, '-j', 'REDIRECT', '--to-ports', '15001');
        P(t, '-t', 'nat', '-A', 'PREROUTING', '-p', 'tcp', '-j', 'REDIRECT', '--to-ports', '15006');
      }
      restoreModes = letUidTraverseTo(__filename);
      proxy = spawn('ip', ['netns', 'exec', pod, 'setpriv', `--reuid=${PROXY_UID}`, `--regid=${PROXY_UID}`, '--clear-groups', process.execPath, __filename], {
        env: { ...process.env, MESHLET_TRANSPARENT_CHILD: '1' },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      proxy.stdout!.on('data', (d) => (proxyOut += d));
      proxy.stderr!.on('data', (d) => (proxyOut += d));
      for (let i = 0; i < 200 && !proxyOut.includes('"ready"'); i++) await new Promise((r) => setTimeout(r, 25));
      const ready = proxyOut.split('\n').find((l) => l.includes('"ready"'));
      assert.ok(ready, `proxy child did not start: ${proxyOut}`);
      assert.deepEqual(JSON.parse(ready), { ready: true, uid: PROXY_UID, errors: [], addon: 'loaded' });
    });

    after(() => {
      if (proxy !== null) proxy.kill('SIGKILL');
      restoreModes?.();
      if (created) {
        spawnSync('ip', ['netns', 'del', pod]);
        spawnSync('ip', ['netns', 'del', client]);
      }
    });

    it('outbound: the app calls service-ip:9080, iptables sends it to 15001, it is handed to bind_to_port:false 0.0.0.0_9080', async () => {
      const body = JSON.parse(await inNs(pod, httpGet(`http://${SERVICE_V4}:9080/reviews`))) as DownstreamConnectionInfo;
      assert.equal(body.listenerName, '0.0.0.0_9080');
      assert.equal(body.filterChainName, 'http-9080');
      assert.deepEqual(body.originalDst, { host: SERVICE_V4, port: 9080 });
      assert.equal(body.localPort, 15001);
    });

    it('outbound IPv4 without a listener for the port: passthrough to the original destination (proxy UID not recaptured)', async () => {
      assert.equal(await inNs(pod, tcpRead(SERVICE_V4, 8080)), `upstream ${SERVICE_V4} saw peer ${SERVICE_V4}\n`);
    });

    it('outbound IPv6 (IP6T_SO_ORIGINAL_DST): passthrough to [service-ip]:8080', async () => {
      assert.equal(await inNs(pod, tcpRead(SERVICE_V6, 8080)), `upstream ${SERVICE_V6} saw peer ${SERVICE_V6}\n`);
    });

    it('inbound: a client in another namespace calls pod-ip:9080, PREROUTING sends it to 15006, original_dst picks the 9080 chain', async () => {
      const body = JSON.parse(await inNs(client, httpGet(`http://${POD_IP}:9080/`))) as DownstreamConnectionInfo;
      assert.equal(body.listenerName, 'virtualInbound');
      assert.equal(body.filterChainName, 'inbound|9080||');
      assert.deepEqual(body.originalDst, { host: POD_IP, port: 9080 });
      assert.equal(body.remoteAddress, CLIENT_IP);
      assert.equal(body.localPort, 15006);
    });

    it('loop guard: a connection whose original destination is meshlet itself is refused', async () => {
      // Redirected, original destination pod-ip:15001 (meshlet's own wildcard listener).
      assert.equal(await inNs(pod, tcpRead(POD_IP, 15001)), 'closed');
      // Not redirected (loopback is excluded): SO_ORIGINAL_DST reports the socket's own address.
      assert.equal(await inNs(pod, tcpRead('127.0.0.1', 15001)), 'closed');
      assert.match(proxyOut, /refused a connection whose original destination is meshlet itself/);
    });
  });
}
