// Limits through the real sidecar: the circuit breaker's max_requests overflow (503 UO / gRPC UNAVAILABLE, no
// queueing) and the HTTP connection manager's timeouts (stream idle, route idle, request, connection idle,
// max_requests_per_connection), for HTTP/1.1 and HTTP/2 clients.

import * as assert from 'node:assert/strict';
import * as grpc from '@grpc/grpc-js';
import type { Sidecar } from '../../sidecar/src/sidecar';
import { echoClient, startHttp1Backend, type Backend } from '../support/backends';
import { h1Request, type Reply } from '../support/http-clients';
import { httpListener, listenerPort, startStaticSidecar, staticCluster } from '../support/sidecar';

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
