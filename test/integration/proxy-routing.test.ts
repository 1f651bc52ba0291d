// Route features and local replies through the real sidecar: what a user of Envoy's router expects.

import * as assert from 'node:assert/strict';
import * as net from 'node:net';
import * as grpc from '@grpc/grpc-js';
import type { Sidecar } from '../../sidecar/src/sidecar';
import { echoClient, startGrpcBackend, startHttp1Backend, type Backend } from '../support/backends';
import { HTTP2_UPSTREAM, httpListener, listenerPort, startStaticSidecar, staticCluster } from '../support/sidecar';
import { h1Request } from '../support/http-clients';

/** A port nothing listens on (bound then closed). */
async function closedPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** A backend that accepts and then resets every connection (an upstream reset before any response byte). */
async function resettingBackend(): Promise<{ port: number; close(): Promise<void> }> {
  const server = net.createServer((socket) => socket.once('data', () => socket.resetAndDestroy()));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { port: (server.address() as net.AddressInfo).port, close: () => new Promise<void>((r) => server.close(() => r())) };
}

describe('routing and local replies through meshlet', function () {
  this.timeout(30_000);
  let sidecar: Sidecar;
  let port: number;
  let a: Backend;
  let b: Backend;
  let flaky: Backend;
  let grpcBackend: Backend;
  let refused: number;
  let resetter: { port: number; close(): Promise<void> };

  before(async () => {
    a = await startHttp1Backend('a');
    b = await startHttp1Backend('b');
    flaky = await startHttp1Backend('flaky', { forcedStatus: 503 });
    grpcBackend = await startGrpcBackend('grpc');
    refused = await closedPort();
    resetter = await resettingBackend();
    const route = (match: object, action: object, extra: object = {}): object => ({ match, route: action, ...extra });
    sidecar = await startStaticSidecar({
      listeners: [
        httpListener('edge', [
          {
            name: 'features',
            domains: ['features.test'],
            request_headers_to_add: [{ header: { key: 'x-vhost', value: 'features' } }],
            routes: [
              { match: { prefix: '/direct' }, direct_response: { status: 200, body: { inline_string: 'hello from meshlet' } } },
              { match: { prefix: '/old' }, redirect: { path_redirect: '/new', response_code: 'PERMANENT_REDIRECT' } },
              { match: { prefix: '/secure' }, redirect: { https_redirect: true } },
              route({ prefix: '/api/v1/' }, { cluster: 'a', prefix_rewrite: '/info/' }),
              route({ safe_regex: { regex: '^/users/([0-9]+)/profile$' } }, { cluster: 'a', regex_rewrite: { pattern: { regex: '^/users/([0-9]+)/profile$' }, substitution: '/info?user=\\1' } }),
              route({ prefix: '/host' }, { cluster: 'a', host_rewrite_literal: 'rewritten.example', prefix_rewrite: '/info' }),
              route({ prefix: '/headers' }, { cluster: 'a', prefix_rewrite: '/info' }, {
                request_headers_to_add: [{ header: { key: 'x-added', value: '%DOWNSTREAM_REMOTE_ADDRESS_WITHOUT_PORT%' } }],
                request_headers_to_remove: ['x-secret'],
                response_headers_to_add: [{ header: { key: 'x-served-by', value: 'meshlet' } }],
                response_headers_to_remove: ['x-backend'],
              }),
              route({ prefix: '/weighted' }, { weighted_clusters: { clusters: [{ name: 'a', weight: 30 }, { name: 'b', weight: 70 }] } }),
              route({ prefix: '/by-header' }, { cluster_header: 'x-cluster' }),
              route({ prefix: '/retry-5xx' }, { cluster: 'flaky_then_a', retry_policy: { retry_on: '5xx', num_retries: 3, retry_host_predicate: [{ name: 'envoy.retry_host_predicates.previous_hosts', typed_config: { '@type': 'type.googleapis.com/envoy.extensions.retry.host.previous_hosts.v3.PreviousHostsPredicate' } }], host_selection_retry_max_attempts: 5 } }),
              route({ prefix: '/no-retry' }, { cluster: 'flaky_then_a' }),
              route({ prefix: '/timeout' }, { cluster: 'a', timeout: '0.2s' }),
              route({ prefix: '/per-try' }, { cluster: 'a', timeout: '5s', retry_policy: { retry_on: '5xx', num_retries: 2, per_try_timeout: '0.1s' } }),
              route({ prefix: '/missing-cluster' }, { cluster: 'does_not_exist' }),
              route({ prefix: '/no-hosts' }, { cluster: 'empty' }),
              route({ prefix: '/refused-retried' }, { cluster: 'refused_then_a', retry_policy: { retry_on: 'connect-failure', num_retries: 2 } }),
              route({ prefix: '/refused' }, { cluster: 'refused' }),
              route({ prefix: '/reset' }, { cluster: 'resetter' }),
              route({ prefix: '/' }, { cluster: 'a' }),
            ],
          },
          { name: 'grpc', domains: ['grpc.test'], routes: [{ match: { prefix: '/meshlet.test.Echo/Unary' }, route: { cluster: 'refused' } }, { match: { prefix: '/' }, route: { cluster: 'grpc_empty' } }] },
        ]),
      ],
      clusters: [
        staticCluster('a', [a.port]),
        staticCluster('b', [b.port]),
        staticCluster('flaky_then_a', [flaky.port, a.port], { lb_policy: 'ROUND_ROBIN' }),
        staticCluster('empty', []),
        staticCluster('refused', [refused]),
        staticCluster('refused_then_a', [refused, a.port]),
        staticCluster('resetter', [resetter.port]),
        staticCluster('grpc_empty', [], HTTP2_UPSTREAM),
        staticCluster('grpc', [grpcBackend.port], HTTP2_UPSTREAM),
      ],
    });
    port = listenerPort(sidecar, 'edge');
  });

  after(async () => {
    await sidecar?.stop();
    for (const backend of [a, b, flaky, grpcBackend]) await backend?.close();
    await resetter?.close();
  });

  const get = (path: string, headers: Record<string, string> = {}, host = 'features.test') => h1Request(port, host, path, { headers });

  it('direct_response and redirects', async () => {
    const direct = await get('/direct');
    assert.equal(direct.status, 200);
    assert.equal(direct.body.toString(), 'hello from meshlet');
    const moved = await get('/old/thing?x=1');
    assert.equal(moved.status, 308);
    assert.equal(moved.headers.location, 'http://features.test/new?x=1');
    const secure = await get('/secure/page');
    assert.equal(secure.status, 301);
    assert.equal(secure.headers.location, 'https://features.test/secure/page');
  });

  it('prefix, regex and host rewrites reach the backend', async () => {
    const info = async (path: string) => JSON.parse((await get(path)).body.toString()) as { path: string; headers: Record<string, string> };
    assert.equal((await info('/api/v1/items?q=2')).path, '/info/items?q=2');
    assert.equal((await info('/users/42/profile')).path, '/info?user=42');
    const host = await info('/host');
    assert.equal(host.headers['host'], 'rewritten.example');
  });

  it('request and response header add/remove, at route and virtual host level', async () => {
    const reply = await get('/headers', { 'x-secret': 'hide me' });
    const seen = JSON.parse(reply.body.toString()) as { headers: Record<string, string> };
    assert.equal(seen.headers['x-added'], '127.0.0.1');
    assert.equal(seen.headers['x-vhost'], 'features');
    assert.equal(seen.headers['x-secret'], undefined);
    assert.equal(reply.headers['x-served-by'], 'meshlet');
    assert.equal(reply.headers['x-backend'], undefined);
  });

  it('weighted clusters split 30/70 within ±5% over 2,000 requests, and cluster_header picks the cluster', async () => {
    const counts = { a: 0, b: 0 };
    const agentless = async (): Promise<void> => {
      const reply = await get('/weighted');
      counts[reply.headers['x-backend'] as 'a' | 'b'] += 1;
    };
    for (let batch = 0; batch < 40; batch += 1) await Promise.all(Array.from({ length: 50 }, agentless));
    const shareA = counts.a / 2000;
    assert.ok(Math.abs(shareA - 0.3) <= 0.05, `share of a ${shareA}`);
    assert.equal((await get('/by-header', { 'x-cluster': 'b' })).headers['x-backend'], 'b');
    assert.equal((await get('/by-header')).status, 503, 'missing cluster header: no cluster');
  });

  it('retries a 5xx on another host (previous_hosts), and without a retry policy the 5xx reaches the client', async () => {
    const flakyBefore = flaky.requests;
    for (let i = 0; i < 10; i += 1) {
      const reply = await get('/retry-5xx');
      assert.equal(reply.status, 200, 'the retry lands on the healthy host');
      assert.equal(reply.headers['x-backend'], 'a');
    }
    assert.ok(flaky.requests - flakyBefore >= 3, 'round robin sent first attempts to the failing host');
    const statuses: number[] = [];
    for (let i = 0; i < 10; i += 1) statuses.push((await get('/no-retry')).status);
    assert.ok(statuses.includes(503), 'no retry policy: the upstream 503 reaches the client');
    assert.ok(statuses.includes(200));
  });

  it('retries a connect failure on the next host (connect-failure)', async () => {
    for (let i = 0; i < 6; i += 1) assert.equal((await get('/refused-retried')).status, 200);
  });

  it('route timeout answers 504 UT; per-try timeout retries and then answers 504', async () => {
    const slow = await get('/timeout?delay=1000');
    assert.equal(slow.status, 504);
    assert.equal(slow.body.toString(), 'upstream request timeout');
    const before = a.requests;
    const perTry = await get('/per-try?delay=400');
    assert.equal(perTry.status, 504);
    assert.equal(a.requests - before, 3, 'per-try timeout is retried: 1 + 2 attempts');
  });

  it('local replies for HTTP clients: NR 404, NC 503, UH 503, UF 503, UR 503', async () => {
    assert.equal((await get('/', {}, 'unknown.test')).status, 404);
    const nc = await get('/missing-cluster');
    assert.equal(nc.status, 503);
    const uh = await get('/no-hosts');
    assert.equal(uh.status, 503);
    assert.equal(uh.body.toString(), 'no healthy upstream');
    const uf = await get('/refused');
    assert.equal(uf.status, 503);
    assert.match(uf.body.toString(), /reset reason: connection failure/);
    const ur = await get('/reset');
    assert.equal(ur.status, 503);
    assert.match(ur.body.toString(), /reset reason: (remote reset|connection termination)/);
  });

  it('local replies for gRPC clients are trailers-only with the matching gRPC status', async () => {
    const client = echoClient(`127.0.0.1:${port}`, { 'grpc.default_authority': 'grpc.test' });
    try {
      const unary = await new Promise<grpc.ServiceError>((resolve) => client.Unary({ message: 'x' }, new grpc.Metadata(), {}, (err) => resolve(err as grpc.ServiceError)));
      assert.equal(unary.code, grpc.status.UNAVAILABLE, 'UF -> UNAVAILABLE');
      assert.match(unary.details, /connection failure/);
      const streamError = await new Promise<grpc.ServiceError>((resolve) => {
        const call = client.ServerStream({ message: 'x' });
        call.on('error', (err: grpc.ServiceError) => resolve(err));
        call.on('data', () => undefined);
      });
      assert.equal(streamError.code, grpc.status.UNAVAILABLE, 'UH -> UNAVAILABLE');
      assert.match(streamError.details, /no healthy upstream/);
    } finally {
      client.close();
    }
    const other = echoClient(`127.0.0.1:${port}`, { 'grpc.default_authority': 'nowhere.test' });
    try {
      const nr = await new Promise<grpc.ServiceError>((resolve) => other.Unary({ message: 'x' }, new grpc.Metadata(), {}, (err) => resolve(err as grpc.ServiceError)));
      assert.equal(nr.code, grpc.status.UNIMPLEMENTED, 'NR -> UNIMPLEMENTED');
    } finally {
      other.close();
    }
  });

  it('bad requests get a 4xx and the proxy keeps serving', async () => {
    const raw = await new Promise<string>((resolve) => {
      const socket = net.connect(port, '127.0.0.1', () => socket.write('GET / HTTP/1.1\r\nHost: features.test\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n'));
      let data = '';
      socket.on('data', (c) => (data += c.toString()));
      socket.on('close', () => resolve(data));
      socket.on('error', () => resolve(data));
    });
    assert.match(raw, /^HTTP\/1\.1 400/);
    assert.equal((await get('/direct')).status, 200);
  });
});
