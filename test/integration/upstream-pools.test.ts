// Upstream pools against real servers on 127.0.0.1: keep-alive reuse, max_connections, config swaps, h2c multiplexing, GOAWAY, TLS, DNS.

import * as assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import * as http from 'node:http';
import * as http2 from 'node:http2';
import * as https from 'node:https';
import * as net from 'node:net';
import * as path from 'node:path';
import * as tls from 'node:tls';
import type { AddressInfo } from 'node:net';
import type { ClusterConfig } from '../../sidecar/src/config/cluster-config';
import type { UpstreamTlsConfig } from '../../sidecar/src/config/tls-config';
import { ClusterManager } from '../../sidecar/src/upstream/cluster-manager';
import type { Host } from '../../sidecar/src/upstream/host';
import { assignment, clusterConfig, snapshot, staticCluster } from '../unit/upstream/upstream-fixtures';

const TLS_DIR = path.resolve(__dirname, '..', '..', '..', 'test', 'fixtures', 'tls');
const pem = (name: string): string => readFileSync(path.join(TLS_DIR, name), 'utf8');

interface Response {
  status: number;
  body: string;
}

function h1get(host: Host, pathname = '/'): Promise<Response> {
  return new Promise((resolve, reject) => {
    const req = http.request({ agent: host.http1.agent, host: host.address, port: host.port, path: pathname }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

function h2get(host: Host, pathname = '/'): Promise<Response> {
  return new Promise((resolve, reject) => {
    let stream: http2.ClientHttp2Stream;
    try {
      stream = host.http2.session().request({ ':path': pathname, ':method': 'GET' });
    } catch (error) {
      reject(error);
      return;
    }
    let status = 0;
    let body = '';
    stream.setEncoding('utf8');
    stream.on('response', (headers) => (status = Number(headers[':status'])));
    stream.on('data', (c: string) => (body += c));
    stream.on('end', () => resolve({ status, body }));
    stream.on('error', reject);
  });
}

function listen(server: net.Server): Promise<number> {
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port)));
}

/** An HTTP/1.1 backend that counts accepted connections and can delay its answers. */
class H1Backend {
  readonly server: http.Server;
  accepted = 0;
  open = new Set<net.Socket>();
  delayMs = 0;
  port = 0;
  constructor() {
    this.server = http.createServer((req, res) => {
      setTimeout(() => res.end(`ok ${req.url} from ${req.socket.remotePort}`), this.delayMs);
    });
    this.server.on('connection', (s: net.Socket) => {
      this.accepted += 1;
      this.open.add(s);
      s.on('close', () => this.open.delete(s));
    });
  }
  async start(): Promise<this> {
    this.port = await listen(this.server);
    return this;
  }
  stop(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((r) => this.server.close(() => r()));
  }
}

async function until(check: () => boolean, what: string, timeoutMs = 2000): Promise<void> {
  const start = Date.now();
  while (!check()) {
    if (Date.now() - start > timeoutMs) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

function upstreamTls(overrides: Partial<UpstreamTlsConfig['common']> & { sni?: string } = {}): UpstreamTlsConfig {
  const { sni, ...common } = overrides;
  return {
    kind: 'tls',
    sni: sni ?? 'localhost',
    allowRenegotiation: false,
    common: {
      minVersion: 'TLS_AUTO',
      maxVersion: 'TLS_AUTO',
      cipherSuites: [],
      alpnProtocols: [],
      certificates: [{ kind: 'files', certificateChain: { kind: 'filename', path: path.join(TLS_DIR, 'client.crt') }, privateKey: { kind: 'inline', value: pem('client.key') } }],
      validation: {
        trustedCa: { kind: 'filename', path: path.join(TLS_DIR, 'ca.crt') },
        trustedCaSdsName: null,
        matchSubjectAltNames: [{ kind: 'exact', value: 'localhost', ignoreCase: false }],
        verifyCertificateSpki: [],
        verifyCertificateHash: [],
        acceptUntrusted: false,
      },
      ...common,
    },
  };
}

describe('upstream pools (integration)', function () {
  this.timeout(10_000);
  const cleanups: (() => Promise<void> | void)[] = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });

  function manager(): ClusterManager {
    const m = new ClusterManager();
    cleanups.push(() => m.close());
    return m;
  }

  async function h1backend(): Promise<H1Backend> {
    const b = await new H1Backend().start();
    cleanups.push(() => b.stop());
    return b;
  }

  describe('HTTP/1.1', () => {
    it('100 sequential requests reuse one keep-alive connection', async () => {
      const backend = await h1backend();
      const m = manager();
      m.apply(snapshot([staticCluster('a', [{ host: '127.0.0.1', port: backend.port }])]));
      const host = m.get('a')!.pick({})!;
      for (let i = 0; i < 100; i++) assert.equal((await h1get(host, `/${i}`)).status, 200);
      assert.equal(backend.accepted, 1);
      assert.equal(host.http1.stats.opened, 1);
      assert.equal(host.http1.stats.active, 1);
    });

    it('concurrency is bounded by the circuit breaker max_connections', async () => {
      const backend = await h1backend();
      backend.delayMs = 30;
      const m = manager();
      const base = clusterConfig('a');
      m.apply(snapshot([staticCluster('a', [{ host: '127.0.0.1', port: backend.port }], { circuitBreakers: { ...base.circuitBreakers, default: { ...base.circuitBreakers.default, maxConnections: 4 } } })]));
      const host = m.get('a')!.pick({})!;
      const results = await Promise.all(Array.from({ length: 40 }, (_, i) => h1get(host, `/${i}`)));
      assert.ok(results.every((r) => r.status === 200));
      assert.equal(backend.accepted, 4);
      assert.equal(host.http1.stats.opened, 4);
    });

    it('pools survive apply() of a new snapshot with the same hosts; a removed host has its pool closed', async () => {
      const b1 = await h1backend();
      const b2 = await h1backend();
      const m = manager();
      const endpoints = [
        { host: '127.0.0.1', port: b1.port },
        { host: '127.0.0.1', port: b2.port },
      ];
      m.apply(snapshot([staticCluster('a', endpoints)]));
      const cluster = m.get('a')!;
      const [h1, h2] = cluster.hosts as Host[];
      await h1get(h1!);
      await h1get(h2!);
      const pool1 = h1!.http1;
      // A new snapshot: new config objects, same hosts (and an unrelated change).
      m.apply(snapshot([staticCluster('a', endpoints, { lbPolicy: { kind: 'random' } })]));
      assert.equal(cluster.hosts[0], h1);
      assert.equal(h1!.http1, pool1);
      await h1get(h1!);
      assert.equal(b1.accepted, 1, 'still the first connection');
      // Remove the second host: its idle connection is closed.
      m.apply(snapshot([staticCluster('a', [endpoints[0]!])]));
      await until(() => b2.open.size === 0, 'the removed host connection to close');
      assert.equal(cluster.hosts.length, 1);
      assert.equal(b1.open.size, 1, 'the kept host keeps its connection');
    });

    it('graceful close: a busy connection finishes its response first', async () => {
      const backend = await h1backend();
      backend.delayMs = 100;
      const m = manager();
      m.apply(snapshot([staticCluster('a', [{ host: '127.0.0.1', port: backend.port }])]));
      const host = m.get('a')!.pick({})!;
      const pending = h1get(host, '/slow');
      await until(() => backend.accepted === 1, 'the request to arrive');
      m.apply(snapshot([]));
      const response = await pending;
      assert.equal(response.status, 200);
      await until(() => backend.open.size === 0, 'the connection to close after its response');
    });

    it('a refused connection fails the request; connect timeout on a stalled TLS handshake is UF', async () => {
      const silent = net.createServer(() => undefined); // accepts TCP, never answers the ClientHello
      const port = await listen(silent);
      cleanups.push(() => new Promise<void>((r) => silent.close(() => r())));
      const sockets: net.Socket[] = [];
      silent.on('connection', (s) => sockets.push(s));
      cleanups.push(() => sockets.forEach((s) => s.destroy()));
      const m = manager();
      m.apply(snapshot([staticCluster('t', [{ host: '127.0.0.1', port }], { connectTimeoutMs: 150, transportSocket: upstreamTls() })]));
      const host = m.get('t')!.pick({})!;
      const started = Date.now();
      await assert.rejects(h1get(host), (e: Error & { kind?: { flag: string } }) => e.kind?.flag === 'UF' && /connect timeout after 150 ms/.test(e.message));
      assert.ok(Date.now() - started < 2000);
      await until(() => host.http1.stats.connectFailures === 1 && host.http1.stats.active === 0, 'the failed socket to be counted');

      const closed = net.createServer();
      const closedPort = await listen(closed);
      await new Promise<void>((r) => closed.close(() => r()));
      m.apply(snapshot([staticCluster('r', [{ host: '127.0.0.1', port: closedPort }])]));
      const refused = m.get('r')!.pick({})!;
      await assert.rejects(h1get(refused), /ECONNREFUSED/);
      await assert.rejects(h2get(refused), /ECONNREFUSED/);
    });
  });

  describe('HTTP/2', () => {
    async function h2cBackend(): Promise<{ server: http2.Http2Server; port: number; sessions: http2.ServerHttp2Session[] }> {
      const server = http2.createServer();
      const sessions: http2.ServerHttp2Session[] = [];
      server.on('session', (s) => sessions.push(s));
      server.on('stream', (stream, headers) => {
        const delay = headers[':path'] === '/slow' ? 150 : 5;
        setTimeout(() => {
          if (stream.closed) return;
          stream.respond({ ':status': 200 });
          stream.end(`h2 ${headers[':path']}`);
        }, delay);
      });
      const port = await listen(server);
      cleanups.push(() => {
        for (const s of sessions) s.destroy();
        return new Promise<void>((r) => server.close(() => r()));
      });
      return { server, port, sessions };
    }

    function h2cluster(port: number, overrides: Partial<ClusterConfig> = {}): ClusterManager {
      const m = manager();
      const base = clusterConfig('h2');
      m.apply(snapshot([staticCluster('h2', [{ host: '127.0.0.1', port }], { upstreamHttp: { ...base.upstreamHttp, protocol: 'http2' }, ...overrides })]));
      return m;
    }

    it('h2c: 100 concurrent streams share one TCP connection', async () => {
      const backend = await h2cBackend();
      const m = h2cluster(backend.port);
      const host = m.get('h2')!.pick({})!;
      assert.equal(m.get('h2')!.upstreamProtocol('http1'), 'http2');
      const results = await Promise.all(Array.from({ length: 100 }, (_, i) => h2get(host, `/${i}`)));
      assert.ok(results.every((r, i) => r.status === 200 && r.body === `h2 /${i}`));
      assert.equal(backend.sessions.length, 1);
      assert.equal(host.http2.stats.opened, 1);
    });

    it('a session over max_concurrent_streams opens another connection', async () => {
      const backend = await h2cBackend();
      const base = clusterConfig('h2');
      const m = h2cluster(backend.port, { upstreamHttp: { ...base.upstreamHttp, protocol: 'http2', http2: { ...base.upstreamHttp.http2, maxConcurrentStreams: 10 } } });
      const host = m.get('h2')!.pick({})!;
      const results = await Promise.all(Array.from({ length: 25 }, () => h2get(host, '/slow')));
      assert.ok(results.every((r) => r.status === 200));
      assert.equal(backend.sessions.length, 3);
    });

    it('reconnects after the server closes the connection', async () => {
      const backend = await h2cBackend();
      const m = h2cluster(backend.port);
      const host = m.get('h2')!.pick({})!;
      assert.equal((await h2get(host)).status, 200);
      const first = host.http2.session();
      backend.sessions[0]!.destroy();
      await until(() => first.closed || first.destroyed, 'the client session to see the close');
      assert.equal((await h2get(host, '/again')).body, 'h2 /again');
      assert.notEqual(host.http2.session(), first);
      assert.equal(backend.sessions.length, 2);
    });

    it('GOAWAY: the in-flight stream finishes on the old session, new streams go to a fresh one', async () => {
      const backend = await h2cBackend();
      const m = h2cluster(backend.port);
      const host = m.get('h2')!.pick({})!;
      const slow = h2get(host, '/slow');
      await until(() => backend.sessions.length === 1, 'the session');
      const old = host.http2.session();
      await new Promise((r) => setTimeout(r, 20));
      backend.sessions[0]!.goaway(http2.constants.NGHTTP2_NO_ERROR, 1); // stream 1 (the slow one) may finish
      await until(() => host.http2.sessions === 0, 'the pool to retire the session');
      const fresh = await h2get(host, '/after');
      assert.equal(fresh.status, 200);
      assert.equal((await slow).body, 'h2 /slow');
      assert.notEqual(host.http2.session(), old);
      assert.equal(backend.sessions.length, 2);
    });

    it('keepalive pings are sent when connection_keepalive is set', async () => {
      const backend = await h2cBackend();
      const base = clusterConfig('h2');
      const m = h2cluster(backend.port, { upstreamHttp: { ...base.upstreamHttp, protocol: 'http2', http2: { ...base.upstreamHttp.http2, keepaliveIntervalMs: 20, keepaliveTimeoutMs: 1000 } } });
      const host = m.get('h2')!.pick({})!;
      await h2get(host);
      let pings = 0;
      backend.sessions[0]!.on('ping', () => (pings += 1));
      await until(() => pings >= 2, 'two keepalive pings');
    });
  });

  describe('TLS upstream', () => {
    async function tlsBackend(): Promise<{ port: number; seen: { servername: string | false; alpn: string | false; clientCert: boolean }[] }> {
      const seen: { servername: string | false; alpn: string | false; clientCert: boolean }[] = [];
      const server = http2.createSecureServer({ key: pem('server.key'), cert: pem('server.crt'), ca: pem('ca.crt'), requestCert: true, rejectUnauthorized: false, allowHTTP1: true, ALPNProtocols: ['h2', 'http/1.1'] }, (req, res) => {
        res.end(`tls ${req.httpVersion}`);
      });
      server.on('secureConnection', (s: tls.TLSSocket) => {
        seen.push({ servername: (s as tls.TLSSocket & { servername?: string | false }).servername ?? false, alpn: s.alpnProtocol ?? false, clientCert: s.authorized });
      });
      const sessions: http2.ServerHttp2Session[] = [];
      server.on('session', (s) => sessions.push(s));
      const sockets: net.Socket[] = [];
      server.on('connection', (s: net.Socket) => sockets.push(s));
      const port = await listen(server);
      cleanups.push(() => {
        sessions.forEach((s) => s.destroy());
        sockets.forEach((s) => s.destroy());
        return new Promise<void>((r) => server.close(() => r()));
      });
      return { port, seen };
    }

    it('HTTP/2 over TLS: SNI sent, ALPN h2 chosen, CA and SAN verified, client certificate presented', async () => {
      const backend = await tlsBackend();
      const m = manager();
      const base = clusterConfig('s');
      m.apply(snapshot([staticCluster('s', [{ host: '127.0.0.1', port: backend.port }], { transportSocket: upstreamTls(), upstreamHttp: { ...base.upstreamHttp, protocol: 'auto' } })]));
      const cluster = m.get('s')!;
      assert.equal(cluster.upstreamProtocol('http1'), 'http2');
      const host = cluster.pick({})!;
      assert.deepEqual(await h2get(host), { status: 200, body: 'tls 2.0' });
      assert.deepEqual(backend.seen, [{ servername: 'localhost', alpn: 'h2', clientCert: true }]);
    });

    it('auto over TLS: a server that answers ALPN http/1.1 fails that h2 attempt (UF) and the cluster switches to HTTP/1.1', async () => {
      const server = https.createServer({ key: pem('server.key'), cert: pem('server.crt'), ALPNProtocols: ['http/1.1'] }, (_req, res) => res.end('h1 only'));
      const port = await listen(server);
      cleanups.push(() => {
        server.closeAllConnections();
        return new Promise<void>((r) => server.close(() => r()));
      });
      const m = manager();
      const base = clusterConfig('s');
      m.apply(snapshot([staticCluster('s', [{ host: '127.0.0.1', port }], { transportSocket: upstreamTls(), upstreamHttp: { ...base.upstreamHttp, protocol: 'auto' } })]));
      const cluster = m.get('s')!;
      const host = cluster.pick({})!;
      assert.equal(cluster.upstreamProtocol('http2'), 'http2');
      await assert.rejects(h2get(host), /did not negotiate h2|ERR_HTTP2|closed/);
      assert.equal(cluster.upstreamProtocol('http2'), 'http1');
      assert.deepEqual(await h1get(host), { status: 200, body: 'h1 only' });
    });

    it('HTTP/1.1 over TLS through the https agent, ALPN http/1.1', async () => {
      const backend = await tlsBackend();
      const m = manager();
      m.apply(snapshot([staticCluster('s', [{ host: '127.0.0.1', port: backend.port }], { transportSocket: upstreamTls() })]));
      const host = m.get('s')!.pick({})!;
      assert.equal(host.http1.secure, true);
      assert.deepEqual(await h1get(host), { status: 200, body: 'tls 1.1' });
      assert.deepEqual(await h1get(host), { status: 200, body: 'tls 1.1' });
      assert.deepEqual(backend.seen, [{ servername: 'localhost', alpn: 'http/1.1', clientCert: true }]);
    });

    it('SAN matchers: prefix and suffix pass; a mismatch is refused', async () => {
      const backend = await tlsBackend();
      const m = manager();
      const withSan = (name: string, matcher: { kind: 'exact' | 'prefix' | 'suffix'; value: string }) => {
        const t = upstreamTls();
        return staticCluster(name, [{ host: '127.0.0.1', port: backend.port }], {
          transportSocket: { ...t, common: { ...t.common, validation: { ...t.common.validation!, matchSubjectAltNames: [{ ...matcher, ignoreCase: false }] } } },
        });
      };
      m.apply(snapshot([withSan('prefix', { kind: 'prefix', value: 'local' }), withSan('suffix', { kind: 'suffix', value: '.test' }), withSan('wrong', { kind: 'exact', value: 'reviews.default.svc' })]));
      assert.equal((await h1get(m.get('prefix')!.pick({})!)).status, 200);
      assert.equal((await h1get(m.get('suffix')!.pick({})!)).status, 200);
      await assert.rejects(h1get(m.get('wrong')!.pick({})!), /match none of the configured subject alt name matchers/);
      await assert.rejects(h2get(m.get('wrong')!.pick({})!), /match none of the configured subject alt name matchers|ERR_HTTP2|closed/);
    });

    it('an untrusted server certificate is refused', async () => {
      const backend = await tlsBackend();
      const m = manager();
      const t = upstreamTls();
      m.apply(snapshot([staticCluster('s', [{ host: '127.0.0.1', port: backend.port }], { transportSocket: { ...t, common: { ...t.common, validation: { ...t.common.validation!, trustedCa: { kind: 'inline', value: pem('client.crt') } } } } })]));
      await assert.rejects(h1get(m.get('s')!.pick({})!), /certificate|self.signed|issuer/i);
    });

    it('TLS from SDS (Istio mTLS) fails with UF and never sends plaintext', async () => {
      const backend = await h1backend();
      const m = manager();
      const t = upstreamTls();
      m.apply(snapshot([staticCluster('istio', [{ host: '127.0.0.1', port: backend.port }], { transportSocket: { ...t, common: { ...t.common, certificates: [{ kind: 'sds', name: 'default' }] } } })]));
      const host = m.get('istio')!.pick({})!;
      await assert.rejects(h1get(host), (e: Error & { kind?: { flag: string } }) => e.kind?.flag === 'UF' && /SDS secret "default"/.test(e.message));
      assert.throws(() => host.http2.session(), /SDS secret "default"/);
      assert.equal(backend.accepted, 0, 'nothing was sent');
    });
  });

  describe('STRICT_DNS', () => {
    it('resolves localhost and serves requests through it', async () => {
      const backend = await h1backend();
      const m = manager();
      m.apply(snapshot([clusterConfig('dns', { discoveryType: 'STRICT_DNS', dnsLookupFamily: 'V4_ONLY', loadAssignment: assignment('dns', [[{ host: 'localhost', port: backend.port }]]) })]));
      const cluster = m.get('dns')!;
      await cluster.ready;
      assert.deepEqual(cluster.hosts.map((h) => h.key), [`127.0.0.1:${backend.port}`]);
      assert.equal((await h1get(cluster.pick({})!)).status, 200);
    });
  });
});
