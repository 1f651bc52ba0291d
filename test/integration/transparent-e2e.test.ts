// Transparent mode end to end with the real sidecar: a `meshlet run` child process inside a pod network namespace
// (as the excluded proxy UID), Istio-shaped static listeners (virtualOutbound 15001 with use_original_dst,
// 0.0.0.0_9080 bind_to_port:false, virtualInbound 15006 with the original_dst listener filter) and clusters
// (outbound|9080||..., inbound|9080||, PassthroughCluster). iptables REDIRECT captures the app's traffic.
// Skipped, with the reason, only where network namespaces or iptables cannot be used.

import * as assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { originalDstUnavailableReason } from '../../sidecar/src/listener/original-dst';
import { inNs, letUidTraverseTo, sh, whyNoNamespaces } from '../support/netns';
import { HCM_TYPE, ROUTER_TYPE, TCP_PROXY_TYPE } from '../support/sidecar';

const repoRoot = path.resolve(__dirname, '..', '..', '..');
const MESHLET = path.join(repoRoot, 'sidecar', 'bin', 'meshlet.js');
const PROXY_UID = 1337;
const POD_IP = '198.51.100.2';
const PEER_IP = '198.51.100.1';
/** The reviews service address: assigned nowhere, reachable only through meshlet. */
const SERVICE_VIP = '10.96.0.10';
const SERVICE_HOST = 'reviews.default.svc.cluster.local';
/** Ports in the peer namespace: the reviews backend (HTTP) and a raw TCP echo reached by passthrough. */
const BACKEND_PORT = 8080;
const TCP_ECHO_PORT = 7070;
/** The app's own port inside the pod (what inbound|9080|| forwards to). */
const APP_PORT = 8081;
const OUTBOUND_CLUSTER = `outbound|9080||${SERVICE_HOST}`;
const INBOUND_CLUSTER = 'inbound|9080||';

/** A long-running Node process in a namespace; resolves once it printed `ready`. */
async function daemon(ns: string, script: string, argv: readonly string[] = []): Promise<{ child: ChildProcess; output: () => string }> {
  const child = spawn('ip', ['netns', 'exec', ns, ...argv, process.execPath, '-e', script], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (out += d));
  for (let i = 0; i < 400 && !out.includes('ready'); i++) await new Promise((r) => setTimeout(r, 25));
  assert.ok(out.includes('ready'), `daemon in ${ns} did not start: ${out}`);
  return { child, output: () => out };
}

/** HTTP server answering JSON: who it is, what it received and from where. */
const httpServer = (name: string, host: string, port: number): string =>
  `require('http').createServer((q, s) => { q.resume(); s.setHeader('content-type', 'application/json'); s.setHeader('x-served-by', ${JSON.stringify(name)}); ` +
  `s.end(JSON.stringify({ server: ${JSON.stringify(name)}, path: q.url, headers: q.headers, peer: q.socket.remoteAddress })); }).listen(${port}, ${JSON.stringify(host)}, () => console.log('ready'));`;

/** App script: one HTTP GET with a Host header, prints `status body`. */
const httpGet = (url: string, host: string): string =>
  `require('http').get(${JSON.stringify(url)}, { headers: { host: ${JSON.stringify(host)} } }, (r) => { let b=''; r.on('data', (c) => b += c).on('end', () => process.stdout.write(r.statusCode + ' ' + b)); }).on('error', (e) => { process.stdout.write('error ' + e.code); });`;

/** The bootstrap meshlet runs with: Istio's names and shapes, static. */
function bootstrap(): object {
  const hcm = (statPrefix: string, routeName: string, virtualHost: object): object => ({
    name: 'envoy.filters.network.http_connection_manager',
    typed_config: {
      '@type': HCM_TYPE,
      stat_prefix: statPrefix,
      codec_type: 'AUTO',
      route_config: { name: routeName, virtual_hosts: [virtualHost] },
      http_filters: [{ name: 'envoy.filters.http.router', typed_config: { '@type': ROUTER_TYPE } }],
    },
  });
  const tcpProxy = (cluster: string): object => ({ name: 'envoy.filters.network.tcp_proxy', typed_config: { '@type': TCP_PROXY_TYPE, stat_prefix: cluster, cluster } });
  const address = (host: string, port: number): object => ({ socket_address: { address: host, port_value: port } });
  const staticCluster = (name: string, host: string, port: number): object => ({
    name,
    type: 'STATIC',
    connect_timeout: '1s',
    load_assignment: { cluster_name: name, endpoints: [{ lb_endpoints: [{ endpoint: { address: address(host, port) } }] }] },
  });
  return {
    node: { id: `sidecar~${POD_IP}~productpage-v1.default~default.svc.cluster.local`, cluster: 'productpage.default' },
    admin: { address: address('127.0.0.1', 15000) },
    static_resources: {
      listeners: [
        {
          name: 'virtualOutbound',
          address: address('0.0.0.0', 15001),
          use_original_dst: true,
          traffic_direction: 'OUTBOUND',
          filter_chains: [{ name: 'PassthroughFilterChain', filters: [tcpProxy('PassthroughCluster')] }],
        },
        {
          name: '0.0.0.0_9080',
          address: address('0.0.0.0', 9080),
          bind_to_port: false,
          traffic_direction: 'OUTBOUND',
          filter_chains: [
            {
              filters: [
                hcm('outbound_0.0.0.0_9080', '9080', {
                  name: `${SERVICE_HOST}:9080`,
                  domains: [SERVICE_HOST, `${SERVICE_HOST}:9080`, 'reviews', 'reviews:9080', SERVICE_VIP, `${SERVICE_VIP}:9080`],
                  routes: [{ name: 'default', match: { prefix: '/' }, route: { cluster: OUTBOUND_CLUSTER } }],
                }),
              ],
            },
          ],
        },
        {
          name: 'virtualInbound',
          address: address('0.0.0.0', 15006),
          traffic_direction: 'INBOUND',
          listener_filters: [{ name: 'envoy.filters.listener.original_dst', typed_config: { '@type': 'type.googleapis.com/envoy.extensions.filters.listener.original_dst.v3.OriginalDst' } }],
          filter_chains: [
            {
              name: INBOUND_CLUSTER,
              filter_chain_match: { destination_port: 9080 },
              filters: [
                hcm('inbound_0.0.0.0_9080', INBOUND_CLUSTER, {
                  name: 'inbound|http|9080',
                  domains: ['*'],
                  routes: [{ name: 'default', match: { prefix: '/' }, route: { cluster: INBOUND_CLUSTER } }],
                }),
              ],
            },
            { name: 'InboundPassthroughFilterChain', filters: [tcpProxy('InboundPassthroughCluster')] },
          ],
        },
      ],
      clusters: [
        staticCluster(OUTBOUND_CLUSTER, PEER_IP, BACKEND_PORT),
        staticCluster(INBOUND_CLUSTER, '127.0.0.1', APP_PORT),
        { name: 'PassthroughCluster', type: 'ORIGINAL_DST', lb_policy: 'CLUSTER_PROVIDED', connect_timeout: '1s' },
        { name: 'InboundPassthroughCluster', type: 'ORIGINAL_DST', lb_policy: 'CLUSTER_PROVIDED', connect_timeout: '1s' },
      ],
    },
  };
}

describe('transparent mode end to end: meshlet run in a pod namespace with iptables capture', function () {
  this.timeout(40_000);
  const suffix = `${process.pid}${Math.floor(Math.random() * 1e6)}`;
  const pod = `mlepod${suffix}`;
  const peer = `mlepeer${suffix}`;
  const vethPod = `ep${suffix}`.slice(0, 15);
  const vethPeer = `eq${suffix}`.slice(0, 15);
  const children: ChildProcess[] = [];
  let meshlet: { child: ChildProcess; output: () => string } | undefined;
  let dir: string | undefined;
  let restoreModes: (() => void) | undefined;
  let created = false;

  before(async function () {
    const why = whyNoNamespaces(['ip', 'iptables', 'setpriv', 'ps']);
    if (why !== undefined) {
      process.stdout.write(`    skipped: transparent mode end to end needs network namespaces: ${why}\n`);
      this.skip();
    }
    const reason = originalDstUnavailableReason();
    assert.equal(reason, undefined, `the SO_ORIGINAL_DST addon must be built for this test: ${reason}`);
    sh('ip', 'netns', 'add', pod);
    created = true;
    sh('ip', 'netns', 'add', peer);
    const P = (...a: string[]): string => sh('ip', 'netns', 'exec', pod, ...a);
    const Q = (...a: string[]): string => sh('ip', 'netns', 'exec', peer, ...a);
    P('ip', 'link', 'set', 'lo', 'up');
    Q('ip', 'link', 'set', 'lo', 'up');
    sh('ip', 'link', 'add', vethPod, 'netns', pod, 'type', 'veth', 'peer', 'name', vethPeer, 'netns', peer);
    P('ip', 'addr', 'add', `${POD_IP}/24`, 'dev', vethPod);
    Q('ip', 'addr', 'add', `${PEER_IP}/24`, 'dev', vethPeer);
    P('ip', 'link', 'set', vethPod, 'up');
    Q('ip', 'link', 'set', vethPeer, 'up');
    // The pod reaches everything (service VIPs included) through its veth, like a pod's default route.
    P('ip', 'route', 'add', 'default', 'via', PEER_IP);
    // Istio's capture: app egress (not the proxy's UID, not loopback) -> 15001; everything inbound -> 15006.
    P('iptables', '-t', 'nat', '-A', 'OUTPUT', '-p', 'tcp', '-m', 'owner', '!', '--uid-owner', String(PROXY_UID), '!', '-d', '127.0.0.1/32', '-j', 'REDIRECT', '--to-ports', '15001');
    P('iptables', '-t', 'nat', '-A', 'PREROUTING', '-p', 'tcp', '-j', 'REDIRECT', '--to-ports', '15006');

    // The peer namespace: the reviews backend and a TCP echo. The pod: the app on 127.0.0.1:APP_PORT.
    const backend = await daemon(peer, httpServer('reviews-backend', PEER_IP, BACKEND_PORT));
    const echo = await daemon(peer, `require('net').createServer((s) => s.once('data', (d) => s.end('echo from peer, peer saw ' + s.remoteAddress + ': ' + d))).listen(${TCP_ECHO_PORT}, ${JSON.stringify(PEER_IP)}, () => console.log('ready'));`);
    const app = await daemon(pod, httpServer('pod-app', '127.0.0.1', APP_PORT));
    children.push(backend.child, echo.child, app.child);

    // meshlet itself: a real `meshlet run` in the pod namespace as the proxy UID (excluded from capture).
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'meshlet-e2e-'));
    fs.chmodSync(dir, 0o755);
    const file = path.join(dir, 'bootstrap.json');
    fs.writeFileSync(file, JSON.stringify(bootstrap()), { mode: 0o644 });
    restoreModes = letUidTraverseTo(MESHLET);
    const child = spawn('ip', ['netns', 'exec', pod, 'setpriv', `--reuid=${PROXY_UID}`, `--regid=${PROXY_UID}`, '--clear-groups', process.execPath, MESHLET, 'run', '--bootstrap', file, '--drain-timeout', '1'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout!.on('data', (d) => (out += d));
    child.stderr!.on('data', (d) => (out += d));
    meshlet = { child, output: () => out };
    children.push(child);
    // Ready once /ready (admin, inside the namespace) answers 200.
    const ready = await inNs(
      pod,
      `(async () => { for (let i = 0; i < 400; i++) { try { const r = await fetch('http://127.0.0.1:15000/ready'); if (r.status === 200) { process.stdout.write('200'); return; } } catch {} await new Promise((r) => setTimeout(r, 25)); } process.stdout.write('never'); })();`,
    );
    assert.equal(ready, '200', `meshlet did not become ready: ${out}`);
  });

  after(async () => {
    if (meshlet !== undefined && meshlet.child.exitCode === null) {
      // A clean stop (SIGTERM drain) first, so a regression there shows up in the output.
      meshlet.child.kill('SIGTERM');
      await new Promise((r) => setTimeout(r, 300));
    }
    for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
    if (created) {
      spawnSync('ip', ['netns', 'del', pod]);
      spawnSync('ip', ['netns', 'del', peer]);
    }
    if (dir !== undefined) fs.rmSync(dir, { recursive: true, force: true });
    restoreModes?.();
  });

  it('outbound: the app calls the service VIP:9080 -> 15001 -> 0.0.0.0_9080 -> outbound|9080||reviews... -> the backend in the peer namespace', async () => {
    const out = await inNs(pod, httpGet(`http://${SERVICE_VIP}:9080/reviews/1`, `${SERVICE_HOST}:9080`));
    assert.match(out, /^200 /, `${out}\n${meshlet?.output()}`);
    const body = JSON.parse(out.slice(4)) as { server: string; path: string; headers: Record<string, string>; peer: string };
    assert.equal(body.server, 'reviews-backend');
    assert.equal(body.path, '/reviews/1');
    assert.equal(body.peer, POD_IP, 'the backend is dialled by meshlet from the pod');
    assert.ok(body.headers['x-request-id'], 'the request went through the HTTP connection manager');
    // The bare VIP as the Host works too (the virtual host lists it).
    assert.match(await inNs(pod, httpGet(`http://${SERVICE_VIP}:9080/`, `${SERVICE_VIP}:9080`)), /^200 .*reviews-backend/);
  });

  it('outbound passthrough: a TCP call to an address:port with no listener goes through PassthroughCluster to the real destination', async () => {
    const captured = (): number => Number(/^\s*(\d+)/.exec(sh('ip', 'netns', 'exec', pod, 'iptables', '-t', 'nat', '-L', 'OUTPUT', '-v', '-x', '-n').split('\n').find((l) => l.includes('redir ports 15001')) ?? '')?.[1] ?? -1);
    const before = captured();
    const script = `const s = require('net').connect(${TCP_ECHO_PORT}, ${JSON.stringify(PEER_IP)}, () => s.write('ping')); let b = ''; s.on('data', (d) => b += d); s.on('error', (e) => { b = b || 'error ' + e.code; }); s.on('close', () => process.stdout.write(b || 'closed'));`;
    assert.equal(await inNs(pod, script), `echo from peer, peer saw ${POD_IP}: ping`);
    assert.ok(captured() > before, 'the call was captured by the OUTPUT REDIRECT rule (so it went through 15001)');
  });

  it('inbound: a client in the peer namespace calls pod-ip:9080 -> 15006 -> chain inbound|9080|| -> 127.0.0.1:APP_PORT', async () => {
    const out = await inNs(peer, httpGet(`http://${POD_IP}:9080/ratings`, `productpage.default.svc.cluster.local:9080`));
    assert.match(out, /^200 /, `${out}\n${meshlet?.output()}`);
    const body = JSON.parse(out.slice(4)) as { server: string; path: string; headers: Record<string, string>; peer: string };
    assert.equal(body.server, 'pod-app');
    assert.equal(body.path, '/ratings');
    assert.equal(body.peer, '127.0.0.1', 'meshlet delivers to the app over loopback');
    assert.ok(body.headers['x-request-id'], 'the request went through the HTTP connection manager');
  });

  it('meshlet runs as the proxy UID and stops cleanly on SIGTERM', async () => {
    const child = meshlet!.child;
    assert.equal(sh('ps', '-o', 'uid=', '-p', String(child.pid)).trim(), String(PROXY_UID));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    child.kill('SIGTERM');
    assert.equal(await exited, 0, meshlet!.output());
  });
});
