// Duration limits through the real sidecar, as Envoy enforces them: the stream's max duration (route / HCM
// max_stream_duration, grpc-timeout; flag DT), the cluster's max_stream_duration per attempt (UMSDR, retried on
// reset), request_headers_timeout, and max_connection_duration downstream (HCM) and upstream (cluster), with the
// counters they leave on /stats/prometheus.

import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as http2 from 'node:http2';
import type * as net from 'node:net';
import * as tls from 'node:tls';
import * as grpc from '@grpc/grpc-js';
import type { Sidecar } from '../../sidecar/src/sidecar';
import { echoClient, startHttp1Backend, tlsFile, type Backend } from '../support/backends';
import { connectH2, h1Request, h2Request } from '../support/http-clients';
import { rawExchange } from '../support/raw-exchange';
import { DOWNSTREAM_TLS_TYPE, HTTP_OPTIONS_TYPE, HTTP2_UPSTREAM, httpListener, listenerPort, startStaticSidecar, staticCluster } from '../support/sidecar';
import { startStallingBackend } from '../support/stalling-backend';

/** A backend that takes requests (HTTP/1.1 or h2c) and never answers; counts requests and accepted connections. */
interface SilentBackend {
  readonly port: number;
  requests: number;
  connections: number;
  closedConnections: number;
  close(): Promise<void>;
}

async function startSilentBackend(protocol: 'http1' | 'h2c'): Promise<SilentBackend> {
  const sockets = new Set<net.Socket>();
  const server = protocol === 'http1' ? http.createServer() : http2.createServer();
  const backend: SilentBackend = { port: 0, requests: 0, connections: 0, closedConnections: 0, close: async () => undefined };
  server.on('connection', (socket: net.Socket) => {
    backend.connections += 1;
    sockets.add(socket);
    socket.on('close', () => {
      backend.closedConnections += 1;
      sockets.delete(socket);
    });
  });
  if (protocol === 'http1') server.on('request', (req: http.IncomingMessage) => {
    backend.requests += 1;
    req.resume();
  });
  else server.on('stream', (stream: http2.ServerHttp2Stream) => {
    backend.requests += 1;
    stream.on('error', () => undefined);
    stream.resume();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return Object.assign(backend, {
    port: (server.address() as net.AddressInfo).port,
    close: () => new Promise<void>((resolve) => {
      for (const socket of sockets) socket.destroy();
      server.close(() => resolve());
    }),
  });
}

/** An HTTP/1.1 or h2c backend answering `ok` that counts accepted and closed connections. */
async function startCountingBackend(protocol: 'http1' | 'h2c'): Promise<SilentBackend> {
  const answer = (req: http.IncomingMessage | http2.Http2ServerRequest, res: http.ServerResponse | http2.Http2ServerResponse): void => {
    backend.requests += 1;
    req.resume();
    req.on('end', () => res.writeHead(200, { 'content-length': 2 }).end('ok'));
  };
  // Keep-alive connections stay open on the backend's side: only meshlet closes them here.
  const server = protocol === 'http1' ? http.createServer({ keepAliveTimeout: 60_000 }, answer) : http2.createServer(answer);
  const backend: SilentBackend = { port: 0, requests: 0, connections: 0, closedConnections: 0, close: async () => undefined };
  server.on('connection', (socket: net.Socket) => {
    backend.connections += 1;
    socket.on('close', () => (backend.closedConnections += 1));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return Object.assign(backend, {
    port: (server.address() as net.AddressInfo).port,
    close: () => new Promise<void>((resolve) => {
      if (server instanceof http.Server) server.closeAllConnections();
      server.close(() => resolve());
    }),
  });
}

/** `common_http_protocol_options` for a cluster, HTTP/1.1 or HTTP/2 upstream. */
function clusterOptions(common: Record<string, string>, protocol: 'http1' | 'http2' = 'http1'): Record<string, unknown> {
  return {
    typed_extension_protocol_options: {
      'envoy.extensions.upstreams.http.v3.HttpProtocolOptions': {
        '@type': HTTP_OPTIONS_TYPE,
        common_http_protocol_options: common,
        explicit_http_config: protocol === 'http2' ? { http2_protocol_options: {} } : { http_protocol_options: {} },
      },
    },
  };
}

const waitFor = async (condition: () => boolean): Promise<void> => {
  while (!condition()) await new Promise((resolve) => setTimeout(resolve, 10));
};

/** A TLS connection to a listener that terminates TLS with the test certificate, offering only http/1.1. */
function connectTls(port: number): net.Socket {
  return tls.connect({ host: '127.0.0.1', port, servername: 'localhost', ca: fs.readFileSync(tlsFile('ca.crt')), ALPNProtocols: ['http/1.1'] });
}

/** The value of one counter on the admin's /stats/prometheus (undefined when absent). */
async function scrapeCounter(adminPort: number, name: string, labels: string): Promise<number | undefined> {
  const text = await new Promise<string>((resolve, reject) => {
    http.get({ host: '127.0.0.1', port: adminPort, path: '/stats/prometheus' }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve(body));
    }).on('error', reject);
  });
  const line = text.split('\n').find((l) => l.startsWith(`${name}{${labels}}`));
  return line === undefined ? undefined : Number(line.slice(line.lastIndexOf(' ') + 1));
}

// Both HTTP/2 implementations (downstream and upstream): meshlet's own codec and node:http2 (MESHLET_HTTP2_FAST=0);
// with node:http2, plaintext HTTP/1.1 is node:http's too (MESHLET_HTTP1_FAST=0). TLS-terminated HTTP/1.1 is
// always node:http's.
for (const http2Codec of ['own codec', 'node:http2'] as const) describe(`max stream duration, request headers timeout and max connection duration (HTTP/2: ${http2Codec})`, function () {
  this.timeout(20_000);
  let sidecar: Sidecar;
  let echo: Backend;
  let silentH1: SilentBackend;
  let silentH2: SilentBackend;
  let counting: SilentBackend;
  let countingH2: SilentBackend;
  let stalling: { port: number; close(): Promise<void> };
  let streamPort: number;
  let upstreamPort: number;
  let headersPort: number;
  let headersTlsPort: number;
  let connPort: number;
  /** `path status flag` of every finished exchange. */
  const endings: string[] = [];

  before(async () => {
    echo = await startHttp1Backend('echo');
    silentH1 = await startSilentBackend('http1');
    silentH2 = await startSilentBackend('h2c');
    counting = await startCountingBackend('http1');
    countingH2 = await startCountingBackend('h2c');
    stalling = await startStallingBackend();
    // What istiod sends for a VirtualService `timeout: 0.3s`.
    const istio = { timeout: '0.3s', max_stream_duration: { max_stream_duration: '0.3s', grpc_timeout_header_max: '0.3s' } };
    const streamRoutes = [
      { name: 'grpc', domains: ['grpc.test'], routes: [{ match: { prefix: '/' }, route: { cluster: 'silent-h2', ...istio } }] },
      {
        name: 'all',
        domains: ['*'],
        routes: [
          { match: { prefix: '/istio' }, route: { cluster: 'silent-h1', ...istio } },
          // An explicit 0 disables the limit, the HCM's (200 ms) included.
          { match: { prefix: '/unlimited' }, route: { cluster: 'echo', max_stream_duration: { max_stream_duration: '0s' } } },
          { match: { prefix: '/fallback' }, route: { cluster: 'silent-h1', timeout: '0s' } },
          { match: { prefix: '/upload' }, route: { cluster: 'silent-h1', max_stream_duration: { max_stream_duration: '0.3s' } } },
          { match: { prefix: '/stall' }, route: { cluster: 'stalling', max_stream_duration: { max_stream_duration: '0.3s' } } },
        ],
      },
    ];
    const upstreamRoutes = [{
      name: 'all',
      domains: ['*'],
      routes: [
        { match: { prefix: '/umsdr-retry' }, route: { cluster: 'umsdr-retry', retry_policy: { retry_on: 'reset', num_retries: 2 } } },
        { match: { prefix: '/umsdr' }, route: { cluster: 'umsdr' } },
        { match: { prefix: '/aging-h2' }, route: { cluster: 'aging-h2' } },
        { match: { prefix: '/aging' }, route: { cluster: 'aging' } },
        { match: { prefix: '/' }, route: { cluster: 'echo' } },
      ],
    }];
    const savedFlag = process.env['MESHLET_HTTP2_FAST'];
    const savedH1Flag = process.env['MESHLET_HTTP1_FAST'];
    if (http2Codec === 'node:http2') process.env['MESHLET_HTTP2_FAST'] = '0';
    else delete process.env['MESHLET_HTTP2_FAST'];
    if (http2Codec === 'node:http2') process.env['MESHLET_HTTP1_FAST'] = '0';
    else delete process.env['MESHLET_HTTP1_FAST'];
    const terminateTls = {
      transport_socket: {
        name: 'envoy.transport_sockets.tls',
        typed_config: {
          '@type': DOWNSTREAM_TLS_TYPE,
          common_tls_context: { alpn_protocols: ['http/1.1'], tls_certificates: [{ certificate_chain: { filename: tlsFile('server.crt') }, private_key: { filename: tlsFile('server.key') } }] },
        },
      },
    };
    sidecar = await startStaticSidecar({
      listeners: [
        httpListener('stream', streamRoutes, { common_http_protocol_options: { max_stream_duration: '0.2s' } }),
        httpListener('upstream', upstreamRoutes),
        httpListener('headers', upstreamRoutes, { request_headers_timeout: '0.2s' }),
        httpListener('headers-tls', upstreamRoutes, { request_headers_timeout: '0.2s' }, terminateTls),
        httpListener('conn', upstreamRoutes, { common_http_protocol_options: { max_connection_duration: '0.3s' } }),
      ],
      clusters: [
        staticCluster('echo', [echo.port]),
        staticCluster('silent-h1', [silentH1.port]),
        staticCluster('silent-h2', [silentH2.port], HTTP2_UPSTREAM),
        staticCluster('stalling', [stalling.port]),
        staticCluster('umsdr', [silentH1.port], clusterOptions({ max_stream_duration: '0.2s' })),
        staticCluster('umsdr-retry', [silentH1.port, echo.port], clusterOptions({ max_stream_duration: '0.2s' })),
        staticCluster('aging', [counting.port], clusterOptions({ max_connection_duration: '0.3s' })),
        staticCluster('aging-h2', [countingH2.port], clusterOptions({ max_connection_duration: '0.3s' }, 'http2')),
      ],
    });
    if (savedFlag === undefined) delete process.env['MESHLET_HTTP2_FAST'];
    else process.env['MESHLET_HTTP2_FAST'] = savedFlag;
    if (savedH1Flag === undefined) delete process.env['MESHLET_HTTP1_FAST'];
    else process.env['MESHLET_HTTP1_FAST'] = savedH1Flag;
    sidecar.proxy.observers.push({ exchangeEnded: (exchange, summary) => endings.push(`${exchange.path} ${summary.status} ${summary.flag ?? '-'}`) });
    streamPort = listenerPort(sidecar, 'stream');
    upstreamPort = listenerPort(sidecar, 'upstream');
    headersPort = listenerPort(sidecar, 'headers');
    headersTlsPort = listenerPort(sidecar, 'headers-tls');
    connPort = listenerPort(sidecar, 'conn');
  });

  after(async () => {
    await sidecar?.stop();
    await echo?.close();
    await silentH1?.close();
    await silentH2?.close();
    await counting?.close();
    await countingH2?.close();
    await stalling?.close();
  });

  describe('downstream max stream duration', () => {
    it('an Istio-shaped route (timeout + max_stream_duration) to a backend that never answers: 504 "downstream duration timeout", flag DT', async () => {
      const reply = await h1Request(streamPort, 'svc.test', '/istio');
      assert.equal(reply.status, 504);
      assert.equal(reply.body.toString(), 'downstream duration timeout');
      assert.ok(endings.includes('/istio 504 DT'), endings.join('\n'));
      const session = await connectH2(streamPort);
      try {
        const viaH2 = await h2Request(session, 'svc.test', '/istio');
        assert.equal(viaH2.status, 504);
      } finally {
        session.close();
      }
    });

    it('gRPC on that route: a 10 s deadline is cut to the route limit, a 100 ms one (grpc-timeout) is kept; both DEADLINE_EXCEEDED', async () => {
      const client = echoClient(`127.0.0.1:${streamPort}`, { 'grpc.default_authority': 'grpc.test' });
      try {
        const call = (deadlineMs: number): Promise<grpc.ServiceError> =>
          new Promise((resolve) => client.Unary({ message: 'x' }, new grpc.Metadata(), { deadline: Date.now() + deadlineMs }, (err) => resolve(err as grpc.ServiceError)));
        const long = await call(10_000);
        assert.equal(long.code, grpc.status.DEADLINE_EXCEEDED);
        assert.match(long.details, /downstream duration timeout/);
        const short = await call(100);
        assert.equal(short.code, grpc.status.DEADLINE_EXCEEDED);
      } finally {
        client.close();
      }
    });

    it('max_stream_duration 0s on the route: no limit (a backend answering after 500 ms is heard)', async () => {
      const reply = await h1Request(streamPort, 'svc.test', '/unlimited/echo?delay=500');
      assert.equal(reply.status, 200);
    });

    it('a route without max_stream_duration falls back to the HCM common_http_protocol_options.max_stream_duration', async () => {
      const reply = await h1Request(streamPort, 'svc.test', '/fallback');
      assert.equal(reply.status, 504);
      assert.ok(endings.includes('/fallback 504 DT'), endings.join('\n'));
    });

    it('a request body still arriving when the duration expires: 408 and the HTTP/1.1 connection closes', async () => {
      const upload = await rawExchange(streamPort, [{ data: 'POST /upload HTTP/1.1\r\nhost: svc.test\r\ncontent-length: 10\r\n\r\nhello', afterMs: 0 }], 5000);
      assert.match(upload.data, /^HTTP\/1\.1 408/);
      assert.match(upload.data, /connection: close/i);
      assert.match(upload.data, /downstream duration timeout$/);
      assert.ok(upload.closedByServer, 'meshlet closed the connection');
      assert.ok(endings.includes('/upload 408 DT'), endings.join('\n'));
    });

    it('a response already streaming when the duration expires: HTTP/1.1 connection closed, HTTP/2 stream reset', async () => {
      const h1 = await rawExchange(streamPort, [{ data: 'GET /stall HTTP/1.1\r\nhost: svc.test\r\n\r\n', afterMs: 0 }], 5000);
      assert.match(h1.data, /^HTTP\/1\.1 200/);
      assert.ok(h1.closedByServer, 'meshlet closed the connection');
      assert.doesNotMatch(h1.data, /\r\n0\r\n\r\n$/, 'the chunked body never ended cleanly');
      const session = await connectH2(streamPort);
      try {
        await assert.rejects(h2Request(session, 'svc.test', '/stall'));
      } finally {
        session.close();
      }
      assert.deepEqual(endings.filter((e) => e.startsWith('/stall')), ['/stall 200 DT', '/stall 200 DT']);
    });
  });

  it('any response before the request body was fully received (404 NR here) says connection: close and ends the HTTP/1.1 connection', async () => {
    const early = await rawExchange(streamPort, [{ data: 'POST /nowhere HTTP/1.1\r\nhost: svc.test\r\ncontent-length: 10\r\n\r\nhel', afterMs: 0 }], 5000);
    assert.match(early.data, /^HTTP\/1\.1 404/);
    assert.match(early.data, /connection: close/i);
    assert.ok(early.closedByServer, 'meshlet closed the connection');
  });

  describe('cluster max_stream_duration (per attempt)', () => {
    it('expires: the upstream request is reset and the client gets 504 "upstream max stream duration reached", flag UMSDR', async () => {
      // Envoy's router answers Utility::maybeRequestTimeoutCode: 504 once the request was fully received, else 408.
      const reply = await h1Request(upstreamPort, 'svc.test', '/umsdr');
      assert.equal(reply.status, 504);
      assert.equal(reply.body.toString(), 'upstream max stream duration reached');
      assert.ok(endings.includes('/umsdr 504 UMSDR'), endings.join('\n'));
      const upload = await rawExchange(upstreamPort, [{ data: 'POST /umsdr HTTP/1.1\r\nhost: svc.test\r\ncontent-length: 10\r\n\r\nhello', afterMs: 0 }], 5000);
      assert.match(upload.data, /^HTTP\/1\.1 408/);
      assert.ok(upload.closedByServer);
    });

    it('with retry_on reset: retried on the other host, which answers', async () => {
      const before = silentH1.requests;
      for (let i = 0; i < 2; i += 1) {
        const reply = await h1Request(upstreamPort, 'svc.test', '/umsdr-retry/echo');
        assert.equal(reply.status, 200);
      }
      assert.ok(silentH1.requests > before, 'one attempt went to the silent host first');
    });
  });

  it('request_headers_timeout: half a request head, then nothing: 408 "request header timeout" and the connection closes', async () => {
    const stalled = await rawExchange(headersPort, [{ data: 'GET /echo HTTP/1.1\r\nhost: svc.te', afterMs: 0 }], 5000);
    assert.match(stalled.data, /^HTTP\/1\.1 408/);
    assert.match(stalled.data, /request header timeout$/);
    assert.ok(stalled.closedByServer);
    // A complete head in time is served.
    assert.equal((await h1Request(headersPort, 'svc.test', '/echo')).status, 200);
  });

  it('request_headers_timeout over TLS (node:http): half a request head, then nothing: 408 "request header timeout" and the connection closes', async () => {
    const stalled = await rawExchange(headersTlsPort, [{ data: 'GET /echo HTTP/1.1\r\nhost: svc.te', afterMs: 0 }], 5000, undefined, () => connectTls(headersTlsPort));
    assert.match(stalled.data, /^HTTP\/1\.1 408/);
    assert.match(stalled.data, /connection: close/i);
    assert.match(stalled.data, /request header timeout$/);
    assert.ok(stalled.closedByServer);
  });

  it('request_headers_timeout over TLS runs from the first byte of each request, not from the end of the previous one', async () => {
    // Idle for 400 ms (twice the timeout) between two requests, the second head sent in two parts: both served.
    const writes = [
      { data: 'GET /echo HTTP/1.1\r\nhost: svc.test\r\n\r\n', afterMs: 0 },
      { data: 'GET /echo HTTP/1.1\r\nhost: s', afterMs: 400 },
      { data: 'vc.test\r\nconnection: close\r\n\r\n', afterMs: 450 },
    ];
    const exchange = await rawExchange(headersTlsPort, writes, 5000, undefined, () => connectTls(headersTlsPort));
    assert.equal(exchange.data.match(/HTTP\/1\.1 200/g)?.length, 2, exchange.data);
    assert.doesNotMatch(exchange.data, /408/);
  });

  it('request_headers_timeout on a connection the fast path handed to node:http (an HTTP/1.0 head): 408 and close', async () => {
    const stalled = await rawExchange(headersPort, [{ data: 'GET /echo HTTP/1.0\r\nhost: svc.te', afterMs: 0 }], 5000);
    assert.match(stalled.data, /^HTTP\/1\.1 408/);
    assert.match(stalled.data, /request header timeout$/);
    assert.ok(stalled.closedByServer);
  });

  describe('HCM max_connection_duration', () => {
    it('HTTP/1.1: the response in flight says connection: close and the socket closes; an idle connection closes at once', async () => {
      const busy = await rawExchange(connPort, [{ data: 'GET /echo?delay=600 HTTP/1.1\r\nhost: svc.test\r\n\r\n', afterMs: 0 }], 5000);
      assert.match(busy.data, /^HTTP\/1\.1 200/);
      assert.match(busy.data, /connection: close/i);
      assert.ok(busy.closedByServer);
      const idle = await rawExchange(connPort, [{ data: 'GET /echo HTTP/1.1\r\nhost: svc.test\r\n\r\n', afterMs: 0 }], 5000);
      assert.match(idle.data, /^HTTP\/1\.1 200/);
      assert.doesNotMatch(idle.data, /connection: close/i);
      assert.ok(idle.closedByServer, 'closed when the duration expired, idle');
    });

    it('HTTP/2: GOAWAY, the stream in flight completes, then the connection closes', async () => {
      const session = await connectH2(connPort);
      const goaway = new Promise<void>((resolve) => session.once('goaway', () => resolve()));
      const closed = new Promise<void>((resolve) => session.once('close', () => resolve()));
      const reply = await h2Request(session, 'svc.test', '/echo?delay=600');
      assert.equal(reply.status, 200);
      await goaway;
      await closed;
    });
  });

  for (const [protocol, path] of [['HTTP/1.1', '/aging'], ['HTTP/2', '/aging-h2']] as const) {
    it(`cluster max_connection_duration (${protocol}): an older upstream connection takes no new request and is closed once idle`, async () => {
      const backend = protocol === 'HTTP/1.1' ? counting : countingH2;
      const accepted = backend.connections;
      const closedBefore = backend.closedConnections;
      assert.equal((await h1Request(upstreamPort, 'svc.test', path)).status, 200);
      assert.equal(backend.connections, accepted + 1);
      await new Promise((resolve) => setTimeout(resolve, 400));
      assert.equal((await h1Request(upstreamPort, 'svc.test', path)).status, 200);
      assert.equal(backend.connections, accepted + 2, 'the second request opened a new upstream connection');
      await waitFor(() => backend.closedConnections > closedBefore);
    });
  }

  // A child suite: mocha runs it after the tests and suites above (a suite's own tests run before its children).
  describe('counters', () => it('downstream_rq_header_timeout and downstream_cx_max_duration_reached per HCM, upstream_cx_max_duration_reached per cluster', async () => {
    const admin = sidecar.admin!.port;
    // The 408s above: half a head on `headers` (fast path or node:http) and after a hand-over; one over TLS.
    assert.equal(await scrapeCounter(admin, 'envoy_http_downstream_rq_header_timeout', 'envoy_http_conn_manager_prefix="headers"'), 2);
    assert.equal(await scrapeCounter(admin, 'envoy_http_downstream_rq_header_timeout', 'envoy_http_conn_manager_prefix="headers-tls"'), 1);
    assert.equal(await scrapeCounter(admin, 'envoy_http_downstream_rq_header_timeout', 'envoy_http_conn_manager_prefix="upstream"'), 0);
    // Three connections to `conn` (HTTP/1.1 busy and idle, HTTP/2), each drained by max_connection_duration.
    assert.equal(await scrapeCounter(admin, 'envoy_http_downstream_cx_max_duration_reached', 'envoy_http_conn_manager_prefix="conn"'), 3);
    assert.equal(await scrapeCounter(admin, 'envoy_http_downstream_cx_max_duration_reached', 'envoy_http_conn_manager_prefix="stream"'), 0);
    // The aging clusters retired at least the connection of their first request.
    assert.ok((await scrapeCounter(admin, 'envoy_cluster_upstream_cx_max_duration_reached', 'envoy_cluster_name="aging"'))! >= 1);
    assert.ok((await scrapeCounter(admin, 'envoy_cluster_upstream_cx_max_duration_reached', 'envoy_cluster_name="aging-h2"'))! >= 1);
    assert.equal(await scrapeCounter(admin, 'envoy_cluster_upstream_cx_max_duration_reached', 'envoy_cluster_name="echo"'), 0);
  }));
});
