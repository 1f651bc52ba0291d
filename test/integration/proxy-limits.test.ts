// Limits through the real sidecar: the circuit breaker's max_requests overflow (503 UO / gRPC UNAVAILABLE, no
// queueing) and the HTTP connection manager's timeouts (stream idle, route idle, request, connection idle,
// max_requests_per_connection), for HTTP/1.1 and HTTP/2 clients.

import * as assert from 'node:assert/strict';
import * as http2 from 'node:http2';
import * as grpc from '@grpc/grpc-js';
import type { Sidecar } from '../../sidecar/src/sidecar';
import { echoClient, startHttp1Backend, type Backend } from '../support/backends';
import { h1Request, type Reply } from '../support/http-clients';
import { rawExchange } from '../support/raw-exchange';
import { httpListener, listenerPort, startStaticSidecar, staticCluster } from '../support/sidecar';
import { startStallingBackend } from '../support/stalling-backend';

describe('circuit breaker overflow through meshlet (max_requests)', function () {
  this.timeout(20_000);
  let sidecar: Sidecar;
  let backend: Backend;
  let port: number;

  before(async () => {
    backend = await startHttp1Backend('slow');
    sidecar = await startStaticSidecar({
      listeners: [
        httpListener('limits', [
          { name: 'slow', domains: ['slow.test'], routes: [{ match: { prefix: '/' }, route: { cluster: 'limited' } }] },
          { name: 'grpc', domains: ['grpc.test'], routes: [{ match: { prefix: '/' }, route: { cluster: 'limited' } }] },
        ]),
      ],
      clusters: [staticCluster('limited', [backend.port], { circuit_breakers: { thresholds: [{ max_requests: 10 }] } })],
    });
    port = listenerPort(sidecar, 'limits');
  });

  after(async () => {
    await sidecar?.stop();
    await backend?.close();
  });

  it('50 concurrent slow requests with max_requests 10: 10 reach the backend, 40 get 503 UO at once (nothing queues)', async () => {
    const before = backend.requests;
    const overflowed: Reply[] = [];
    const all = Array.from({ length: 50 }, () =>
      h1Request(port, 'slow.test', '/echo?delay=1500').then((reply) => {
        // An overflow answer arrives while the admitted ones are still at the backend.
        if (reply.status === 503) overflowed.push(reply);
        return reply;
      }),
    );
    // The 40 overflow replies come back while the 10 admitted requests still sit in the backend's delay.
    while (overflowed.length < 40) await new Promise((resolve) => setTimeout(resolve, 10));
    assert.equal(sidecar.clusters.get('limited')?.breaker.requests, 10, 'the admitted requests are still in flight');
    const replies = await Promise.all(all);
    const statuses = replies.map((r) => r.status).sort((a, b) => a - b);
    assert.deepEqual(statuses, [...Array(10).fill(200), ...Array(40).fill(503)]);
    for (const reply of overflowed) {
      assert.equal(reply.headers['x-envoy-overloaded'], 'true');
      assert.match(reply.body.toString(), /overflow/);
    }
    assert.equal(backend.requests - before, 10, 'overflowed requests never reached the backend');
    assert.equal(sidecar.clusters.get('limited')?.breaker.requests, 0, 'every slot released');
  });

  it('a gRPC caller over the limit gets UNAVAILABLE', async () => {
    const holding = Array.from({ length: 10 }, () => h1Request(port, 'slow.test', '/echo?delay=1000'));
    const breaker = sidecar.clusters.get('limited')?.breaker;
    while ((breaker?.requests ?? 0) < 10) await new Promise((resolve) => setTimeout(resolve, 10));
    const client = echoClient(`127.0.0.1:${port}`, { 'grpc.default_authority': 'grpc.test' });
    try {
      const error = await new Promise<grpc.ServiceError>((resolve) => client.Unary({ message: 'x' }, new grpc.Metadata(), {}, (err) => resolve(err as grpc.ServiceError)));
      assert.equal(error.code, grpc.status.UNAVAILABLE);
      assert.match(error.details, /overflow/);
    } finally {
      client.close();
    }
    for (const reply of await Promise.all(holding)) assert.equal(reply.status, 200);
  });
});

/** An h2 request that reports how it ended: a status and body, or the stream's error code. */
function h2Outcome(session: http2.ClientHttp2Session, path: string, authority: string): Promise<{ status: number; body: string; error?: string }> {
  return new Promise((resolve) => {
    const stream = session.request({ ':path': path, ':authority': authority });
    let status = 0;
    let body = '';
    stream.setEncoding('utf8');
    stream.on('response', (h) => (status = Number(h[':status'])));
    stream.on('data', (c: string) => (body += c));
    stream.on('error', () => undefined);
    // A reset stream may still emit 'end' first; how it ended is known at 'close'.
    stream.on('close', () => resolve(stream.rstCode === http2.constants.NGHTTP2_NO_ERROR ? { status, body } : { status, body, error: `rst ${stream.rstCode}` }));
  });
}

describe('HTTP connection manager timeouts and connection limits', function () {
  this.timeout(20_000);
  let sidecar: Sidecar;
  let echo: Backend;
  let stalling: { port: number; close(): Promise<void> };
  let idlePort: number;
  let requestPort: number;
  let connPort: number;
  /** `path status flag` of every finished exchange. */
  const endings: string[] = [];

  before(async () => {
    echo = await startHttp1Backend('echo');
    stalling = await startStallingBackend();
    const routes = [
      { match: { prefix: '/no-idle' }, route: { cluster: 'echo', idle_timeout: '0s' } },
      { match: { prefix: '/route-idle' }, route: { cluster: 'echo', idle_timeout: '0.2s' } },
      { match: { prefix: '/stall' }, route: { cluster: 'stalling' } },
      { match: { prefix: '/trickle' }, route: { cluster: 'stalling' } },
      { match: { prefix: '/' }, route: { cluster: 'echo' } },
    ];
    const vhosts = [{ name: 'all', domains: ['*'], routes }];
    sidecar = await startStaticSidecar({
      listeners: [
        // stream_idle_timeout 400 ms; one route disables it, one shortens it to 200 ms.
        httpListener('idle', vhosts, { stream_idle_timeout: '0.4s' }),
        httpListener('request', vhosts, { request_timeout: '0.3s' }),
        httpListener('conn', vhosts, { common_http_protocol_options: { idle_timeout: '0.3s', max_requests_per_connection: 2 } }),
      ],
      clusters: [staticCluster('echo', [echo.port]), staticCluster('stalling', [stalling.port])],
    });
    sidecar.proxy.observers.push({ exchangeEnded: (exchange, summary) => endings.push(`${exchange.path} ${summary.status} ${summary.flag ?? '-'}`) });
    idlePort = listenerPort(sidecar, 'idle');
    requestPort = listenerPort(sidecar, 'request');
    connPort = listenerPort(sidecar, 'conn');
  });

  after(async () => {
    await sidecar?.stop();
    await echo?.close();
    await stalling?.close();
  });

  it('stream_idle_timeout before the response started: 408 "stream timeout" (HTTP/1.1 and HTTP/2), flag SI', async () => {
    const reply = await h1Request(idlePort, 'svc.test', '/echo?delay=2000');
    assert.equal(reply.status, 408);
    assert.equal(reply.body.toString(), 'stream timeout');
    const session = http2.connect(`http://127.0.0.1:${idlePort}`);
    try {
      const viaH2 = await h2Outcome(session, '/echo?delay=2000', 'svc.test');
      assert.deepEqual(viaH2, { status: 408, body: 'stream timeout' });
    } finally {
      session.close();
    }
    assert.deepEqual(endings.filter((e) => e.startsWith('/echo?delay=2000')), ['/echo?delay=2000 408 SI', '/echo?delay=2000 408 SI']);
  });

  it('stream_idle_timeout after the response started: the stream is reset (HTTP/1.1 connection closed, HTTP/2 RST_STREAM)', async () => {
    const h1 = await rawExchange(idlePort, [{ data: 'GET /stall HTTP/1.1\r\nhost: svc.test\r\n\r\n', afterMs: 0 }], 5000);
    assert.ok(h1.closedByServer, 'the connection is closed by meshlet');
    assert.match(h1.data, /^HTTP\/1\.1 200/);
    assert.match(h1.data, /partial/);
    assert.doesNotMatch(h1.data, /\r\n0\r\n\r\n$/, 'the chunked body never ended cleanly');
    const session = http2.connect(`http://127.0.0.1:${idlePort}`);
    session.on('error', () => undefined);
    try {
      const viaH2 = await h2Outcome(session, '/stall', 'svc.test');
      assert.equal(viaH2.status, 200);
      assert.equal(viaH2.body, 'partial');
      assert.ok(viaH2.error !== undefined, `the stream was reset: ${JSON.stringify(viaH2)}`);
    } finally {
      session.close();
    }
    assert.deepEqual(endings.filter((e) => e.startsWith('/stall')), ['/stall 200 SI', '/stall 200 SI']);
  });

  it('activity keeps a stream alive past the idle timeout (a response trickling for 800 ms)', async () => {
    const reply = await h1Request(idlePort, 'svc.test', '/trickle');
    assert.equal(reply.status, 200);
    assert.equal(reply.body.toString().split('\n').filter(Boolean).length, 8);
  });

  it('route idle_timeout overrides the HCM one: 0s disables it, 0.2s shortens it', async () => {
    assert.equal((await h1Request(idlePort, 'svc.test', '/no-idle/echo?delay=700')).status, 200);
    const short = await h1Request(idlePort, 'svc.test', '/route-idle/echo?delay=1500');
    assert.equal(short.status, 408);
    assert.equal(short.body.toString(), 'stream timeout');
  });

  it('request_timeout: a request body still incomplete after it gets 408 "request timeout"; a slow response does not', async () => {
    const slowUpload = await rawExchange(
      requestPort,
      [
        { data: 'POST /echo HTTP/1.1\r\nhost: svc.test\r\ncontent-length: 10\r\n\r\nhello', afterMs: 0 },
        { data: 'world', afterMs: 1500 },
      ],
      5000,
      /request timeout$/,
    );
    assert.match(slowUpload.data, /^HTTP\/1\.1 408/);
    assert.match(slowUpload.data, /request timeout$/);
    // The timeout covers receiving the request, not the response: a complete request may wait for a slow backend.
    const slowResponse = await h1Request(requestPort, 'svc.test', '/echo?delay=700', { body: Buffer.from('complete') });
    assert.equal(slowResponse.status, 200);
    assert.equal(slowResponse.body.toString(), 'complete');
  });

  it('connection idle_timeout closes an idle HTTP/1.1 connection and sends GOAWAY on an idle HTTP/2 one', async () => {
    const h1 = await rawExchange(connPort, [{ data: 'GET /echo HTTP/1.1\r\nhost: svc.test\r\n\r\n', afterMs: 0 }], 5000);
    assert.match(h1.data, /^HTTP\/1\.1 200/);
    assert.ok(h1.closedByServer, 'the idle keep-alive connection was closed by meshlet');
    const session = http2.connect(`http://127.0.0.1:${connPort}`);
    session.on('error', () => undefined);
    const goaway = new Promise<void>((resolve) => session.once('goaway', () => resolve()));
    const closed = new Promise<void>((resolve) => session.once('close', () => resolve()));
    assert.equal((await h2Outcome(session, '/echo', 'svc.test')).status, 200);
    await goaway;
    await closed;
  });

  it('max_requests_per_connection 2: the 2nd HTTP/1.1 response says connection: close; HTTP/2 gets GOAWAY after 2 streams', async () => {
    const request = 'GET /echo HTTP/1.1\r\nhost: svc.test\r\n\r\n';
    const h1 = await rawExchange(connPort, [{ data: request, afterMs: 0 }, { data: request, afterMs: 100 }], 5000);
    const heads = h1.data.split('HTTP/1.1 ').filter(Boolean);
    assert.equal(heads.length, 2, h1.data);
    assert.doesNotMatch(heads[0]!, /connection: close/i);
    assert.match(heads[1]!, /connection: close/i);
    assert.ok(h1.closedByServer);
    const session = http2.connect(`http://127.0.0.1:${connPort}`);
    session.on('error', () => undefined);
    let goawayAfter = -1;
    let completed = 0;
    session.once('goaway', () => (goawayAfter = completed));
    assert.equal((await h2Outcome(session, '/echo', 'svc.test')).status, 200);
    completed += 1;
    const second = h2Outcome(session, '/echo?delay=200', 'svc.test');
    assert.equal((await second).status, 200, 'the stream that reached the limit completes');
    completed += 1;
    while (goawayAfter < 0) await new Promise((r) => setTimeout(r, 10));
    assert.equal(goawayAfter, 1, 'GOAWAY came with the 2nd stream, before it completed');
    session.close();
  });
});
