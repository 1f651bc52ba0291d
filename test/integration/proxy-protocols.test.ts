// Requests through the real sidecar to real backends, for each protocol: HTTP/1.1, h2c, HTTP/2 over TLS (both
// directions) and gRPC (unary and every streaming kind). Bodies of 1 MB, headers, trailers and status codes.

import * as assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as http2 from 'node:http2';
import * as https from 'node:https';
import * as grpc from '@grpc/grpc-js';
import type { Sidecar } from '../../sidecar/src/sidecar';
import { echoClient, startGrpcBackend, startH2cBackend, startHttp1Backend, startTlsBackend, tlsFile, type Backend, type EchoMessage } from '../support/backends';
import { h1Request, h2Request, type Reply } from '../support/http-clients';
import { DOWNSTREAM_TLS_TYPE, HTTP2_UPSTREAM, httpListener, listenerPort, startStaticSidecar, staticCluster, UPSTREAM_TLS_TYPE } from '../support/sidecar';

const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

// Both HTTP/2 implementations: meshlet's own codec (default) and node:http2 (MESHLET_HTTP2_FAST=0, the fallback).
for (const http2Codec of ['own codec', 'node:http2'] as const) {
  describe(`proxying through meshlet, per protocol (HTTP/2: ${http2Codec})`, function () {
    this.timeout(30_000);
    let sidecar: Sidecar;
    const backends: Record<string, Backend[]> = {};
    let plainPort: number;
    let tlsPort: number;

    before(async () => {
      backends['h1'] = [await startHttp1Backend('h1-a'), await startHttp1Backend('h1-b')];
      backends['h2c'] = [await startH2cBackend('h2c-a'), await startH2cBackend('h2c-b')];
      backends['tls'] = [await startTlsBackend('tls-a'), await startTlsBackend('tls-b')];
      backends['grpc'] = [await startGrpcBackend('grpc-a'), await startGrpcBackend('grpc-b')];
      const ports = (name: string): number[] => (backends[name] ?? []).map((b) => b.port);
      const upstreamTls = {
        transport_socket: {
          name: 'envoy.transport_sockets.tls',
          typed_config: { '@type': UPSTREAM_TLS_TYPE, sni: 'localhost', common_tls_context: { alpn_protocols: ['h2'], validation_context: { trusted_ca: { filename: tlsFile('ca.crt') } } } },
        },
      };
      const vhosts = [
        { name: 'h1', domains: ['h1.test'], routes: [{ match: { prefix: '/' }, route: { cluster: 'h1' } }] },
        { name: 'h2c', domains: ['h2c.test'], routes: [{ match: { prefix: '/' }, route: { cluster: 'h2c' } }] },
        { name: 'tls', domains: ['tls.test'], routes: [{ match: { prefix: '/' }, route: { cluster: 'tls' } }] },
        { name: 'grpc', domains: ['grpc.test'], routes: [{ match: { prefix: '/', grpc: {} }, route: { cluster: 'grpc', timeout: '0s' } }] },
      ];
      const savedFlag = process.env['MESHLET_HTTP2_FAST'];
      if (http2Codec === 'node:http2') process.env['MESHLET_HTTP2_FAST'] = '0';
      else delete process.env['MESHLET_HTTP2_FAST'];
      sidecar = await startStaticSidecar({
        listeners: [
          httpListener('plain', vhosts),
          httpListener('tls_in', vhosts, {}, {
            transport_socket: {
              name: 'envoy.transport_sockets.tls',
              typed_config: {
                '@type': DOWNSTREAM_TLS_TYPE,
                common_tls_context: {
                  alpn_protocols: ['h2', 'http/1.1'],
                  tls_certificates: [{ certificate_chain: { filename: tlsFile('server.crt') }, private_key: { filename: tlsFile('server.key') } }],
                },
              },
            },
          }),
        ],
        clusters: [
          staticCluster('h1', ports('h1')),
          staticCluster('h2c', ports('h2c'), HTTP2_UPSTREAM),
          staticCluster('tls', ports('tls'), { ...HTTP2_UPSTREAM, ...upstreamTls }),
          staticCluster('grpc', ports('grpc'), HTTP2_UPSTREAM),
        ],
      });
      if (savedFlag === undefined) delete process.env['MESHLET_HTTP2_FAST'];
      else process.env['MESHLET_HTTP2_FAST'] = savedFlag;
      plainPort = listenerPort(sidecar, 'plain');
      tlsPort = listenerPort(sidecar, 'tls_in');
    });

    after(async () => {
      await sidecar?.stop();
      for (const list of Object.values(backends)) for (const b of list) await b.close();
    });

    const payload = randomBytes(1024 * 1024);

    it('HTTP/1.1 -> HTTP/1.1: 1 MB both ways, headers, status codes and trailers, across both backends', async () => {
      const seen = new Set<string>();
      for (let i = 0; i < 4; i += 1) {
        const reply = await h1Request(plainPort, 'h1.test', '/echo', { body: payload, headers: { 'content-type': 'application/x-test', 'x-custom': 'kept' } });
        assert.equal(reply.status, 200);
        assert.equal(reply.body.length, payload.length);
        assert.equal(sha(reply.body), sha(payload));
        seen.add(String(reply.headers['x-backend']));
      }
      assert.deepEqual([...seen].sort(), ['h1-a', 'h1-b']);
      const info = JSON.parse((await h1Request(plainPort, 'h1.test', '/info', { headers: { 'x-custom': 'kept', connection: 'keep-alive, x-hop', 'x-hop': 'dropped' } })).body.toString());
      assert.equal(info.headers['x-custom'], 'kept');
      assert.equal(info.headers['x-hop'], undefined, 'headers named in Connection are hop-by-hop');
      assert.ok(info.headers['x-request-id'], 'x-request-id generated');
      assert.equal(info.headers['x-forwarded-proto'], 'http');
      assert.equal((await h1Request(plainPort, 'h1.test', '/echo?status=418')).status, 418);
      const withTrailers = await h1Request(plainPort, 'h1.test', '/echo?trailers=1', { body: Buffer.from('abc') });
      assert.equal(withTrailers.trailers['x-trailer-one'], 'one');
    });

    it('h2c -> h2c: 1 MB both ways, trailers and status codes', async () => {
      const session = http2.connect(`http://127.0.0.1:${plainPort}`);
      try {
        const seen = new Set<string>();
        const replies = await Promise.all([0, 1, 2, 3].map(() => h2Request(session, 'h2c.test', '/echo?trailers=1', { body: payload })));
        for (const reply of replies) {
          assert.equal(reply.status, 200);
          assert.equal(sha(reply.body), sha(payload));
          assert.equal(reply.trailers['x-body-length'], String(payload.length));
          seen.add(String(reply.headers['x-backend']));
        }
        assert.deepEqual([...seen].sort(), ['h2c-a', 'h2c-b']);
        assert.equal((await h2Request(session, 'h2c.test', '/echo?status=503')).status, 503);
      } finally {
        session.close();
      }
    });

    it('HTTP/1.1 -> h2c and h2c -> HTTP/1.1 (protocol translation both ways)', async () => {
      const viaH1 = await h1Request(plainPort, 'h2c.test', '/echo', { body: payload });
      assert.equal(sha(viaH1.body), sha(payload));
      const session = http2.connect(`http://127.0.0.1:${plainPort}`);
      try {
        const viaH2 = await h2Request(session, 'h1.test', '/echo', { body: payload });
        assert.equal(viaH2.status, 200);
        assert.equal(sha(viaH2.body), sha(payload));
      } finally {
        session.close();
      }
    });

    it('HTTP/2 over TLS in and out (ALPN h2 both sides), 1 MB, and HTTP/1.1 over TLS in', async () => {
      const ca = fs.readFileSync(tlsFile('ca.crt'));
      const session = http2.connect(`https://localhost:${tlsPort}`, { ca, servername: 'localhost' });
      try {
        const reply = await h2Request(session, 'tls.test', '/echo', { body: payload });
        assert.equal(reply.status, 200);
        assert.equal(sha(reply.body), sha(payload));
        assert.match(String(reply.headers['x-backend']), /^tls-[ab]$/);
      } finally {
        session.close();
      }
      const overTls = await new Promise<Reply>((resolve, reject) => {
        const options: https.RequestOptions = { host: '127.0.0.1', port: tlsPort, servername: 'localhost', ca, path: '/info', headers: { host: 'h1.test' }, agent: false };
        const req = https.request(options, (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks), trailers: {} }));
        });
        req.on('error', reject);
        req.end();
      });
      assert.equal(overTls.status, 200);
      assert.equal(JSON.parse(overTls.body.toString()).headers['x-forwarded-proto'], 'https');
    });

    describe('gRPC', () => {
      let client: ReturnType<typeof echoClient>;
      before(() => {
        client = echoClient(`127.0.0.1:${plainPort}`, { 'grpc.default_authority': 'grpc.test', 'grpc.max_receive_message_length': 8 * 1024 * 1024 });
      });
      after(() => client.close());

      it('unary: message and 1 MB payload unchanged, both backends, trailing metadata', async () => {
        const seen = new Set<string>();
        for (let i = 0; i < 4; i += 1) {
          const { reply, trailers } = await new Promise<{ reply: EchoMessage; trailers: grpc.Metadata }>((resolve, reject) => {
            let trailing = new grpc.Metadata();
            const call = client.Unary({ message: `hello ${i}`, payload }, new grpc.Metadata(), {}, (error, response) => (error !== null ? reject(error) : resolve({ reply: response as EchoMessage, trailers: trailing })));
            call.on('status', (status: grpc.StatusObject) => {
              trailing = status.metadata;
            });
          });
          assert.equal(reply.message, `hello ${i}`);
          assert.equal(sha(reply.payload ?? Buffer.alloc(0)), sha(payload));
          seen.add(String(reply.backend));
          await new Promise((r) => setImmediate(r));
          assert.ok(trailers instanceof grpc.Metadata);
        }
        assert.deepEqual([...seen].sort(), ['grpc-a', 'grpc-b']);
      });

      it('unary errors: the gRPC status and message arrive unchanged', async () => {
        const error = await new Promise<grpc.ServiceError>((resolve) => {
          client.Unary({ message: 'fail:7' }, new grpc.Metadata(), {}, (err) => resolve(err as grpc.ServiceError));
        });
        assert.equal(error.code, grpc.status.PERMISSION_DENIED);
        assert.match(error.details, /^failed on grpc-[ab]$/);
      });

      it('server streaming, client streaming and bidi', async () => {
        const streamed: string[] = [];
        await new Promise<void>((resolve, reject) => {
          const call = client.ServerStream({ message: 'ss' });
          call.on('data', (m: EchoMessage) => streamed.push(m.message));
          call.on('end', () => resolve());
          call.on('error', reject);
        });
        assert.deepEqual(streamed, ['ss#0', 'ss#1', 'ss#2']);

        const joined = await new Promise<EchoMessage>((resolve, reject) => {
          const call = client.ClientStream((err, res) => (err !== null ? reject(err) : resolve(res as EchoMessage)));
          for (const part of ['a', 'b', 'c']) call.write({ message: part, payload: payload.subarray(0, 100_000) });
          call.end();
        });
        assert.equal(joined.message, 'a,b,c|300000');

        const echoed: string[] = [];
        await new Promise<void>((resolve, reject) => {
          const call = client.Bidi();
          call.on('data', (m: EchoMessage) => {
            echoed.push(m.message);
            if (echoed.length === 3) call.end();
          });
          call.on('end', () => resolve());
          call.on('error', reject);
          call.write({ message: 'x' });
          call.write({ message: 'y' });
          call.write({ message: 'z' });
        });
        assert.deepEqual(echoed, ['x', 'y', 'z']);
      });
    });
  });
}
