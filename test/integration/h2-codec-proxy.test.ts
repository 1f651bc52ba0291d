// meshlet's own HTTP/2 codec through a real sidecar, at the edges well-behaved clients never reach: resets in
// either direction mid-response, slow readers on either side (flow control must carry the backpressure, so
// memory stays bounded), 200 streams on one connection, upstream GOAWAY with streams in flight, refused
// upstream connections (HTTP and gRPC), downstream drain, upstream max_requests_per_connection.

import * as assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import * as http2 from 'node:http2';
import * as net from 'node:net';
import type { AddressInfo } from 'node:net';
import * as grpc from '@grpc/grpc-js';
import type { Sidecar } from '../../sidecar/src/sidecar';
import { echoClient, startH2cBackend, type Backend } from '../support/backends';
import { data, E, F, RawH2Peer, requestFields, T } from '../support/h2-frames';
import { connectH2 } from '../support/http-clients';
import { HTTP2_UPSTREAM, HTTP_OPTIONS_TYPE, httpListener, listenerPort, startStaticSidecar, staticCluster } from '../support/sidecar';

const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');
const FIVE_MB = 5 * 1024 * 1024;
const until = async (condition: () => boolean): Promise<void> => {
  while (!condition()) await new Promise((r) => setTimeout(r, 10));
};

/** Resolves once `read()` has stayed the same across 10 polls 30 ms apart (the writer is stuck, not slow). */
async function stalled(read: () => number): Promise<number> {
  let last = -1;
  let same = 0;
  while (same < 10) {
    await new Promise((r) => setTimeout(r, 30));
    const now = read();
    same = now === last ? same + 1 : 0;
    last = now;
  }
  return last;
}

/** A node:http2 backend whose behaviour the test scripts per path; it records what it saw. */
class ScriptedBackend {
  port = 0;
  sessions = 0;
  readonly streams: http2.ServerHttp2Stream[] = [];
  readonly resets: Array<{ path: string; code: number }> = [];
  /** Bytes the backend handed to stream.write for /download (for backpressure checks). */
  downloadWritten = 0;
  downloadBlocked = false;
  /** Bytes of the /upload body read so far. */
  uploadRead = 0;
  uploadStream: http2.ServerHttp2Stream | undefined;
  readonly server = http2.createServer();
  private readonly liveSessions = new Set<http2.ServerHttp2Session>();

  async start(): Promise<this> {
    this.server.on('session', (s) => {
      this.sessions += 1;
      this.liveSessions.add(s);
      s.on('close', () => this.liveSessions.delete(s));
      s.on('error', () => undefined);
    });
    this.server.on('stream', (stream, headers) => this.onStream(stream, headers));
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.port = (this.server.address() as AddressInfo).port;
    return this;
  }

  async close(): Promise<void> {
    for (const s of this.liveSessions) s.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private onStream(stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders): void {
    const path = String(headers[':path']);
    stream.on('error', () => undefined);
    stream.on('close', () => {
      if (stream.rstCode !== 0) this.resets.push({ path, code: stream.rstCode });
    });
    this.streams.push(stream);
    if (path.startsWith('/hold')) {
      // Headers and a first chunk, then nothing until the test acts.
      stream.respond({ ':status': 200 });
      stream.write(Buffer.alloc(1000, 1));
      return;
    }
    if (path.startsWith('/reset-mid')) {
      stream.respond({ ':status': 200 });
      // destroy() sends RST_STREAM INTERNAL_ERROR (close(code) after a write ends the stream cleanly in node 20).
      stream.write(Buffer.alloc(1000, 1), () => setImmediate(() => stream.destroy(new Error('backend failure'))));
      return;
    }
    if (path.startsWith('/download')) {
      this.download(stream);
      return;
    }
    if (path.startsWith('/upload')) {
      this.uploadStream = stream;
      stream.pause(); // the test resumes it
      const hash = createHash('sha256');
      stream.on('data', (c: Buffer) => {
        this.uploadRead += c.length;
        hash.update(c);
      });
      stream.on('end', () => stream.respond({ ':status': 200, 'x-length': String(this.uploadRead), 'x-sha': hash.digest('hex') }, { endStream: true }));
      return;
    }
    if (path.startsWith('/early')) {
      // The whole response at once, the request body never read.
      stream.respond({ ':status': 200 });
      stream.end('answered early');
      return;
    }
    if (path.startsWith('/wait')) return; // answered by the test (GOAWAY scenarios)
    stream.resume();
    stream.on('end', () => stream.respond({ ':status': 200, 'x-path': path }, { endStream: true }));
  }

  /** 5 MB in 64 KiB writes, each after the previous drained: a blocked write means flow control said stop. */
  private download(stream: http2.ServerHttp2Stream): void {
    stream.respond({ ':status': 200, 'content-length': String(FIVE_MB) });
    const chunk = randomBytes(64 * 1024);
    const next = (): void => {
      while (this.downloadWritten < FIVE_MB) {
        this.downloadWritten += chunk.length;
        const last = this.downloadWritten >= FIVE_MB;
        const ok = last ? (stream.end(chunk), true) : stream.write(chunk);
        if (!ok) {
          this.downloadBlocked = true;
          stream.once('drain', () => {
            this.downloadBlocked = false;
            next();
          });
          return;
        }
      }
    };
    next();
  }

  /** Answers every held /wait stream with 200 and its path. */
  answerWaiting(): void {
    for (const s of this.streams) if (!s.closed && !s.headersSent) s.respond({ ':status': 200, 'x-answered': 'yes' }, { endStream: true });
  }
}

interface Outcome {
  status: number;
  headers: http2.IncomingHttpHeaders;
  body: Buffer;
  rstCode: number;
}

function request(session: http2.ClientHttp2Session, authority: string, path: string, body?: Buffer): Promise<Outcome> {
  return new Promise((resolve) => {
    const req = session.request({ ':method': body ? 'POST' : 'GET', ':path': path, ':authority': authority }, { endStream: body === undefined });
    const chunks: Buffer[] = [];
    let status = 0;
    let headers: http2.IncomingHttpHeaders = {};
    req.on('response', (h) => {
      status = Number(h[':status']);
      headers = h;
    });
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('error', () => undefined);
    req.on('close', () => resolve({ status, headers, body: Buffer.concat(chunks), rstCode: req.rstCode }));
    if (body) req.end(body);
  });
}

describe('meshlet HTTP/2 codec through the proxy: resets, backpressure, GOAWAY, failures', function () {
  this.timeout(30_000);
  let sidecar: Sidecar;
  let backend: ScriptedBackend;
  let echoBackend: Backend;
  let port: number;
  let closedPort: number;
  /** A backend that takes 10 concurrent streams (SETTINGS_MAX_CONCURRENT_STREAMS), answering each a little later. */
  let narrow: http2.Http2Server;
  /** An HTTP/1.1 upstream that records every byte it receives and never answers (smuggling checks). */
  let recorder: net.Server;
  const recorded: Buffer[] = [];

  before(async () => {
    backend = await new ScriptedBackend().start();
    echoBackend = await startH2cBackend('h2c-echo');
    recorder = net.createServer((socket) => {
      socket.on('data', (chunk: Buffer) => recorded.push(chunk));
      socket.on('error', () => undefined);
    });
    await new Promise<void>((resolve) => recorder.listen(0, '127.0.0.1', resolve));
    narrow = http2.createServer({ settings: { maxConcurrentStreams: 10 } });
    narrow.on('stream', (stream) => {
      stream.on('error', () => undefined);
      setTimeout(() => stream.respond({ ':status': 200 }, { endStream: true }), 20);
    });
    await new Promise<void>((resolve) => narrow.listen(0, '127.0.0.1', resolve));
    const spare = net.createServer();
    await new Promise<void>((resolve) => spare.listen(0, '127.0.0.1', resolve));
    closedPort = (spare.address() as AddressInfo).port;
    await new Promise<void>((resolve) => spare.close(() => resolve()));
    const retry = { retry_on: 'reset,refused-stream', num_retries: 2 };
    const maxRequests = {
      typed_extension_protocol_options: {
        'envoy.extensions.upstreams.http.v3.HttpProtocolOptions': { '@type': HTTP_OPTIONS_TYPE, common_http_protocol_options: { max_requests_per_connection: 2 }, explicit_http_config: { http2_protocol_options: {} } },
      },
    };
    sidecar = await startStaticSidecar({
      listeners: [
        httpListener('in', [
          { name: 'scripted', domains: ['scripted.test'], routes: [{ match: { prefix: '/wait' }, route: { cluster: 'scripted', retry_policy: retry } }, { match: { prefix: '/' }, route: { cluster: 'scripted', timeout: '0s' } }] },
          { name: 'echo', domains: ['echo.test'], routes: [{ match: { prefix: '/' }, route: { cluster: 'echo' } }] },
          { name: 'limited', domains: ['limited.test'], routes: [{ match: { prefix: '/' }, route: { cluster: 'limited' } }] },
          { name: 'recorder', domains: ['recorder.test'], routes: [{ match: { prefix: '/' }, route: { cluster: 'recorder' } }] },
          { name: 'narrow', domains: ['narrow.test'], routes: [{ match: { prefix: '/' }, route: { cluster: 'narrow' } }] },
          { name: 'refused', domains: ['refused.test'], routes: [{ match: { prefix: '/' }, route: { cluster: 'refused' } }] },
          { name: 'grpc-refused', domains: ['*'], routes: [{ match: { prefix: '/', grpc: {} }, route: { cluster: 'refused' } }] },
        ]),
      ],
      clusters: [
        staticCluster('scripted', [backend.port], HTTP2_UPSTREAM),
        staticCluster('echo', [echoBackend.port], HTTP2_UPSTREAM),
        staticCluster('limited', [backend.port], maxRequests),
        staticCluster('refused', [closedPort], HTTP2_UPSTREAM),
        staticCluster('narrow', [(narrow.address() as AddressInfo).port], { ...HTTP2_UPSTREAM, circuit_breakers: { thresholds: [{ max_connections: 1 }] } }),
        staticCluster('recorder', [(recorder.address() as AddressInfo).port]),
      ],
    });
    port = listenerPort(sidecar, 'in');
  });

  after(async () => {
    await sidecar?.stop();
    await backend?.close();
    await echoBackend?.close();
    await new Promise<void>((resolve) => recorder.close(() => resolve()));
    await new Promise<void>((resolve) => narrow.close(() => resolve()));
  });

  it('a client reset mid-response cancels the upstream stream (the backend sees RST_STREAM)', async () => {
    const session = await connectH2(port);
    const req = session.request({ ':path': '/hold-cancel', ':authority': 'scripted.test' });
    req.on('error', () => undefined);
    await new Promise<void>((resolve) => req.once('data', () => resolve()));
    req.close(http2.constants.NGHTTP2_CANCEL);
    await until(() => backend.resets.some((r) => r.path === '/hold-cancel'));
    assert.equal(backend.resets.find((r) => r.path === '/hold-cancel')!.code, http2.constants.NGHTTP2_CANCEL);
    session.close();
  });

  it('a backend reset mid-response resets the client stream (the body is not ended cleanly)', async () => {
    const session = await connectH2(port);
    const outcome = await request(session, 'scripted.test', '/reset-mid');
    assert.equal(outcome.status, 200);
    assert.notEqual(outcome.rstCode, http2.constants.NGHTTP2_NO_ERROR, 'the client must see a reset, not a clean end');
    assert.equal(outcome.body.length, 1000);
    session.close();
  });

  it('a client that does not read a 5 MB response stops the backend through flow control, then gets every byte', async () => {
    backend.downloadWritten = 0;
    const session = await connectH2(port);
    const req = session.request({ ':path': '/download', ':authority': 'scripted.test' });
    req.on('error', () => undefined);
    req.pause();
    const stuckAt = await stalled(() => backend.downloadWritten);
    assert.ok(backend.downloadBlocked, 'the backend write is blocked waiting for drain');
    // What meshlet may hold: our stream windows (1 MiB upstream + 64 KiB queue + the client's 64 KiB window)
    // plus node's own buffers on both ends; far less than the 5 MB body.
    assert.ok(stuckAt < 3 * 1024 * 1024, `backend got ${stuckAt} bytes out while the client read nothing`);
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.resume();
    await new Promise<void>((resolve) => req.on('close', () => resolve()));
    assert.equal(Buffer.concat(chunks).length, FIVE_MB);
    session.close();
  });

  it('a backend that does not read a 5 MB upload stops the client through flow control, then gets every byte', async () => {
    backend.uploadRead = 0;
    backend.uploadStream = undefined;
    const session = await connectH2(port);
    const body = randomBytes(FIVE_MB);
    const req = session.request({ ':method': 'POST', ':path': '/upload', ':authority': 'scripted.test' });
    req.on('error', () => undefined);
    let sent = 0;
    let blocked = false;
    const piece = 64 * 1024;
    const pump = (): void => {
      while (sent < body.length) {
        const chunk = body.subarray(sent, sent + piece);
        sent += chunk.length;
        if (sent >= body.length) {
          req.end(chunk);
          return;
        }
        if (!req.write(chunk)) {
          blocked = true;
          req.once('drain', () => {
            blocked = false;
            pump();
          });
          return;
        }
      }
    };
    const response = new Promise<http2.IncomingHttpHeaders>((resolve) => req.on('response', resolve));
    pump();
    await until(() => backend.uploadStream !== undefined);
    const stuckAt = await stalled(() => sent);
    assert.ok(blocked, 'the client write is blocked waiting for drain');
    assert.ok(stuckAt < 3 * 1024 * 1024, `the client got ${stuckAt} bytes out while the backend read nothing`);
    backend.uploadStream!.resume();
    const headers = await response;
    assert.equal(headers['x-length'], String(FIVE_MB));
    assert.equal(headers['x-sha'], sha(body));
    session.close();
  });

  it('a complete response before the 5 MB request body: the client gets it all, then RST_STREAM(NO_ERROR) stops the upload (RFC 9113 §8.1)', async () => {
    const session = await connectH2(port);
    const req = session.request({ ':method': 'POST', ':path': '/early-upload', ':authority': 'scripted.test' });
    req.on('error', () => undefined);
    let sent = 0;
    // A slow uploader: 16 KiB per timer tick, as long as the stream is open.
    const pump = (): void => {
      if (req.closed || req.destroyed || sent >= FIVE_MB) return;
      const chunk = Buffer.alloc(16 * 1024, 7);
      sent += chunk.length;
      if (sent >= FIVE_MB) req.end(chunk);
      else req.write(chunk);
      setTimeout(pump, 2);
    };
    const chunks: Buffer[] = [];
    const response = new Promise<http2.IncomingHttpHeaders>((resolve) => req.on('response', resolve));
    req.on('data', (c: Buffer) => chunks.push(c));
    pump();
    const headers = await response;
    await new Promise<void>((resolve) => req.on('close', () => resolve()));
    assert.equal(headers[':status'], 200);
    assert.equal(Buffer.concat(chunks).toString(), 'answered early');
    assert.equal(req.rstCode, http2.constants.NGHTTP2_NO_ERROR);
    assert.ok(sent < FIVE_MB, `the client stopped sending (${sent} of ${FIVE_MB} bytes)`);
    // The connection is still good for another request.
    const second = await request(session, 'scripted.test', '/after-early');
    assert.equal(second.status, 200);
    assert.equal(second.headers['x-path'], '/after-early');
    session.close();
  });

  it('DATA the client had in flight after our RST_STREAM(NO_ERROR) is discarded without a connection error', async () => {
    const peer = await RawH2Peer.connect(port);
    const fields = requestFields('/early-raw', [], 'POST').map(([n, v]): [string, string] => (n === ':authority' ? [n, 'scripted.test'] : [n, v]));
    peer.start(peer.headers(1, fields, false), data(1, Buffer.alloc(16_000)));
    await peer.waitFor((f) => f.streamId === 1 && f.type === T.DATA && (f.flags & F.END_STREAM) !== 0, 'the end of the response');
    assert.equal(await peer.rstCode(1), E.NO_ERROR);
    for (let i = 0; i < 3; i++) peer.send(data(1, Buffer.alloc(16_000)));
    await peer.roundTrip();
    assert.ok(!peer.frames.some((f) => f.type === T.GOAWAY || (f.type === T.RST_STREAM && f.streamId === 1 && f.payload.readUInt32BE(0) !== E.NO_ERROR)), peer.describe());
    const next = requestFields('/after-raw').map(([n, v]): [string, string] => (n === ':authority' ? [n, 'scripted.test'] : [n, v]));
    peer.send(peer.headers(3, next));
    const answer = await peer.waitForType(T.HEADERS, 3);
    assert.deepEqual(peer.decode(answer.payload)[0], [':status', '200']);
    peer.close();
  });

  it('DATA beyond content-length: the client gets RST_STREAM PROTOCOL_ERROR and no byte of it reaches an HTTP/1.1 upstream', async () => {
    const peer = await RawH2Peer.connect(port);
    const fields = requestFields('/smuggle', [['content-length', '3']], 'POST').map(([n, v]): [string, string] => (n === ':authority' ? [n, 'recorder.test'] : [n, v]));
    peer.start(peer.headers(1, fields, false), data(1, 'abcGET /evil HTTP/1.1\r\nhost: x\r\n\r\n', true));
    assert.equal(await peer.rstCode(1), E.PROTOCOL_ERROR);
    await peer.roundTrip();
    await new Promise((r) => setTimeout(r, 50)); // let anything in flight reach the recorder
    const seen = Buffer.concat(recorded).toString('latin1');
    assert.doesNotMatch(seen, /evil/);
    assert.doesNotMatch(seen, /abc/);
    peer.close();
  });

  it('malformed requests (upper-case name, connection header, CR/LF in a value) never reach the upstream', async () => {
    const peer = await RawH2Peer.connect(port);
    const base = (path: string, extra: Array<[string, string]>): Array<[string, string]> => [[':method', 'GET'], [':scheme', 'http'], [':authority', 'recorder.test'], [':path', path], ...extra];
    peer.start(peer.headers(1, base('/malformed-upper', [['X-Upper', 'v']])), peer.headers(3, base('/malformed-conn', [['connection', 'close']])), peer.headers(5, base('/malformed-crlf', [['x-a', 'v\r\nx-evil: 1']])));
    for (const id of [1, 3, 5]) assert.equal(await peer.rstCode(id), E.PROTOCOL_ERROR);
    await peer.roundTrip();
    await new Promise((r) => setTimeout(r, 50));
    assert.doesNotMatch(Buffer.concat(recorded).toString('latin1'), /malformed/);
    peer.close();
  });

  it('200 concurrent streams on one client connection to an h2c backend', async () => {
    const session = await connectH2(port);
    const bodies = Array.from({ length: 200 }, (_, i) => randomBytes(100 + i * 13));
    const outcomes = await Promise.all(bodies.map((b, i) => request(session, 'echo.test', `/echo?i=${i}`, b)));
    outcomes.forEach((o, i) => {
      assert.equal(o.status, 200, `stream ${i}`);
      assert.ok(o.body.equals(bodies[i]!), `body ${i}`);
    });
    session.close();
  });

  it('50 streams to a backend that takes 10 at a time over its one allowed connection: all 200, none refused', async () => {
    const session = await connectH2(port);
    assert.equal((await request(session, 'narrow.test', '/warm')).status, 200); // the backend's SETTINGS are known
    const outcomes = await Promise.all(Array.from({ length: 50 }, (_, i) => request(session, 'narrow.test', `/n${i}`)));
    assert.deepEqual(outcomes.map((o) => o.status), Array.from({ length: 50 }, () => 200));
    session.close();
  });

  it('an upstream GOAWAY with streams in flight: streams above last_stream_id are retried, the others complete', async () => {
    const session = await connectH2(port);
    const before = backend.streams.length;
    const sessionsBefore = backend.sessions;
    const pending = [0, 1, 2].map((i) => request(session, 'scripted.test', `/wait?i=${i}`));
    await until(() => backend.streams.length - before >= 3);
    const first = backend.streams[before]!;
    // Only the first stream will be processed on this connection; nghttp2 drops the others.
    first.session!.goaway(http2.constants.NGHTTP2_NO_ERROR, first.id!);
    await until(() => backend.streams.length - before >= 5); // the two retried streams arrived on a new connection
    assert.ok(backend.sessions > sessionsBefore, 'the retries used a new upstream connection');
    backend.answerWaiting();
    const outcomes = await Promise.all(pending);
    for (const o of outcomes) {
      assert.equal(o.status, 200);
      assert.equal(o.headers['x-answered'], 'yes');
    }
    session.close();
  });

  it('a refused upstream connection: 503 with UF for HTTP/2 requests', async () => {
    const session = await connectH2(port);
    const o = await request(session, 'refused.test', '/x');
    assert.equal(o.status, 503);
    assert.match(o.body.toString(), /connect|connection/i);
    session.close();
  });

  it('a refused upstream connection: UNAVAILABLE for gRPC', async () => {
    const client = echoClient(`127.0.0.1:${port}`);
    try {
      const err = await new Promise<grpc.ServiceError | null>((resolve) => client.Unary({ message: 'hi' }, new grpc.Metadata(), {}, (e) => resolve(e)));
      assert.ok(err !== null);
      assert.equal(err.code, grpc.status.UNAVAILABLE);
    } finally {
      client.close();
    }
  });

  it('upstream max_requests_per_connection 2 on HTTP/2: a new upstream connection every 2 streams', async () => {
    const session = await connectH2(port);
    const before = backend.sessions;
    for (let i = 0; i < 5; i++) assert.equal((await request(session, 'limited.test', `/plain?i=${i}`)).status, 200);
    assert.equal(backend.sessions - before, 3);
    session.close();
  });

  it('downstream drain sends GOAWAY and lets the in-flight stream finish', async () => {
    const session = await connectH2(port);
    const before = backend.streams.length;
    const pending = request(session, 'scripted.test', '/wait-drain');
    await until(() => backend.streams.length > before);
    const goaway = new Promise<void>((resolve) => session.once('goaway', () => resolve()));
    const drained = sidecar.drain(10_000);
    await goaway;
    backend.answerWaiting();
    const o = await pending;
    assert.equal(o.status, 200);
    await drained;
    session.close();
  });
});
