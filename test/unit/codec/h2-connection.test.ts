// H2Connection on real sockets: interop with node:http2 in both roles (concurrency, flow control with small
// windows, trailers, PING, GOAWAY, RST_STREAM, SETTINGS changes, CONTINUATION) and RFC 9113 error handling
// against a raw-frame peer that sends what well-behaved libraries never do.

import * as assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import * as http2 from 'node:http2';
import * as net from 'node:net';
import type { AddressInfo } from 'node:net';
import { H2Connection, type H2ConnectionOwner, type H2ConnectionSettings } from '../../../sidecar/src/codec/http2/h2-connection';
import type { H2HeaderBlock, H2HeaderObject } from '../../../sidecar/src/codec/http2/h2-header-block';
import type { H2Stream, H2StreamHandler } from '../../../sidecar/src/codec/http2/h2-stream';
import { connectH2 } from '../../support/http-clients';
import { data, E, F, frame, goaway, ping, priority, RawH2Peer, requestFields, rstStream, settings, T, u32, windowUpdate } from '../../support/h2-frames';

const until = async (condition: () => boolean): Promise<void> => {
  while (!condition()) await new Promise((r) => setTimeout(r, 5));
};
const SERVER_SETTINGS: H2ConnectionSettings = { role: 'server', streamWindow: 65_535, connectionWindow: 1024 * 1024, maxConcurrentStreams: 100, maxHeaderListSize: 64 * 1024, headerTableSize: 4096 };
const CLIENT_SETTINGS: H2ConnectionSettings = { ...SERVER_SETTINGS, role: 'client' };

/** One request as our server sees it. */
class ServerRequest implements H2StreamHandler {
  readonly chunks: Buffer[] = [];
  ended = false;
  trailers: H2HeaderObject | undefined;
  resetCode: number | undefined;
  readonly headers: H2HeaderObject;
  readonly path: string;
  private readonly done: Promise<void>;
  private settle!: () => void;
  private drainCb: (() => void) | undefined;

  constructor(
    readonly stream: H2Stream,
    block: H2HeaderBlock,
    private readonly server: TestServer,
  ) {
    this.headers = block.headers;
    this.path = block.path;
    this.done = new Promise((resolve) => (this.settle = resolve));
  }

  get body(): Buffer {
    return Buffer.concat(this.chunks);
  }

  /** Resolves when the request ended or was reset. */
  finished(): Promise<void> {
    return this.done;
  }

  streamHeaders(): void {}
  streamData(_s: H2Stream, chunk: Buffer, endStream: boolean): void {
    if (chunk.length > 0) this.chunks.push(Buffer.from(chunk));
    // A reader whose sink is full pauses on every chunk, the last one included (the exchange does this).
    if (this.server.pauseOnEveryChunk) this.stream.pause();
    if (endStream) this.end();
  }
  streamTrailers(_s: H2Stream, trailers: H2HeaderObject): void {
    this.trailers = trailers;
    this.end();
  }
  streamReset(_s: H2Stream, code: number): void {
    this.resetCode = code;
    this.settle();
  }
  streamDrain(): void {
    const cb = this.drainCb;
    this.drainCb = undefined;
    cb?.();
  }
  /** `callback` runs at the next streamDrain. */
  onDrainOnce(callback: () => void): void {
    this.drainCb = callback;
  }
  private end(): void {
    this.ended = true;
    this.settle();
    this.server.requestEnded(this);
  }
}

/** Our codec as a server on 127.0.0.1; by default echoes the body (with trailers when asked). */
class TestServer implements H2ConnectionOwner {
  readonly requests: ServerRequest[] = [];
  readonly connections: H2Connection[] = [];
  readonly rejected: string[] = [];
  goaways: Array<[number, number]> = [];
  port = 0;
  /** Pause every new stream (a reader that takes nothing: the peer's windows are not credited). */
  pauseNewStreams = false;
  /** Pause the stream in every streamData call (the test resumes it). */
  pauseOnEveryChunk = false;
  closedStreams = 0;
  /** Called when a request ended; default: echo. */
  onEnded: (r: ServerRequest) => void = (r) => echo(r);
  private readonly server: net.Server;

  constructor(private readonly settings: H2ConnectionSettings = SERVER_SETTINGS) {
    this.server = net.createServer((socket) => this.connections.push(new H2Connection(socket, this.settings, this)));
  }

  async listen(): Promise<this> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.port = (this.server.address() as AddressInfo).port;
    return this;
  }

  async close(): Promise<void> {
    for (const c of this.connections) c.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  onStream(_c: H2Connection, stream: H2Stream, block: H2HeaderBlock, endStream: boolean): void {
    const request = new ServerRequest(stream, block, this);
    stream.handler = request;
    this.requests.push(request);
    if (this.pauseNewStreams) stream.pause();
    if (endStream) request.streamData(stream, Buffer.alloc(0), true);
  }
  onStreamRejected(_c: H2Connection, reason: string): void {
    this.rejected.push(reason);
  }
  onRemoteSettings(): void {}
  onGoaway(_c: H2Connection, code: number, last: number): void {
    this.goaways.push([code, last]);
  }
  onStreamClosed(): void {
    this.closedStreams += 1;
  }
  onClose(): void {}
  requestEnded(r: ServerRequest): void {
    this.onEnded(r);
  }
}

function echo(r: ServerRequest): void {
  const body = r.body;
  const fields = [':status', '200', 'x-path', r.path];
  r.stream.sendHeaders(fields, fields.length, false);
  const wantsTrailers = r.headers['x-want-trailers'] === '1';
  writeAll(r, body, !wantsTrailers, () => {
    if (wantsTrailers) r.stream.sendTrailers(['x-length', String(body.length)], 2);
  });
}

/** Writes `body` respecting sendData's backpressure, in 16 KiB pieces. */
function writeAll(r: ServerRequest, body: Buffer, endStream: boolean, then: () => void = () => undefined): void {
  let offset = 0;
  const step = (): void => {
    while (offset < body.length) {
      const piece = body.subarray(offset, offset + 16384);
      offset += piece.length;
      const last = offset >= body.length;
      if (!r.stream.sendData(piece, last && endStream)) {
        if (last) then();
        else r.onDrainOnce(step);
        return;
      }
    }
    if (body.length === 0 && endStream) r.stream.sendData(Buffer.alloc(0), true);
    then();
  };
  step();
}

/** One response as our client sees it. */
class ClientExchange implements H2StreamHandler {
  status = 0;
  headers: H2HeaderObject = {};
  readonly chunks: Buffer[] = [];
  trailers: H2HeaderObject | undefined;
  resetCode: number | undefined;
  unprocessed = false;
  ended = false;
  readonly done: Promise<void>;
  private settle!: () => void;
  private drainCb: (() => void) | undefined;

  constructor(readonly stream: H2Stream) {
    stream.handler = this;
    this.done = new Promise((resolve) => (this.settle = resolve));
  }

  get body(): Buffer {
    return Buffer.concat(this.chunks);
  }

  streamHeaders(_s: H2Stream, block: H2HeaderBlock, endStream: boolean): void {
    this.status = block.status;
    this.headers = block.headers;
    if (endStream) this.finish();
  }
  streamData(_s: H2Stream, chunk: Buffer, endStream: boolean): void {
    if (chunk.length > 0) this.chunks.push(Buffer.from(chunk));
    if (endStream) this.finish();
  }
  streamTrailers(_s: H2Stream, trailers: H2HeaderObject): void {
    this.trailers = trailers;
    this.finish();
  }
  streamReset(_s: H2Stream, code: number, unprocessed: boolean): void {
    this.resetCode = code;
    this.unprocessed = unprocessed;
    this.settle();
  }
  streamDrain(): void {
    const cb = this.drainCb;
    this.drainCb = undefined;
    cb?.();
  }
  /** Sends `body` with backpressure, then END_STREAM (or trailers). */
  sendBody(body: Buffer, trailers?: string[]): void {
    let offset = 0;
    const step = (): void => {
      while (offset < body.length) {
        const piece = body.subarray(offset, offset + 16384);
        offset += piece.length;
        const last = offset >= body.length && trailers === undefined;
        if (!this.stream.sendData(piece, last) && offset < body.length) {
          this.drainCb = step;
          return;
        }
      }
      if (trailers !== undefined) this.stream.sendTrailers(trailers, trailers.length);
      else if (body.length === 0) this.stream.sendData(Buffer.alloc(0), true);
    };
    step();
  }
  private finish(): void {
    this.ended = true;
    this.settle();
  }
}

/** Our codec as a client connected to `port`. */
class TestClient implements H2ConnectionOwner {
  connection!: H2Connection;
  goaways: Array<[number, number]> = [];
  closedWith: Error | undefined | null = null;
  private settingsSeen!: Promise<void>;
  private closedPromise!: Promise<void>;

  static async connect(port: number, settings: H2ConnectionSettings = CLIENT_SETTINGS): Promise<TestClient> {
    const client = new TestClient();
    const socket = net.connect(port, '127.0.0.1');
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('error', reject);
    });
    let seen!: () => void;
    let closed!: () => void;
    client.settingsSeen = new Promise((resolve) => (seen = resolve));
    client.closedPromise = new Promise((resolve) => (closed = resolve));
    client.onRemoteSettings = () => seen();
    client.onClose = (_c, error) => {
      client.closedWith = error;
      closed();
    };
    client.connection = new H2Connection(socket, settings, client);
    client.connection.established = true;
    await client.settingsSeen;
    return client;
  }

  request(path: string, options: { method?: string; body?: Buffer; headers?: string[]; trailers?: string[] } = {}): ClientExchange {
    const stream = this.connection.openStream();
    const exchange = new ClientExchange(stream);
    const fields = [':method', options.method ?? (options.body ? 'POST' : 'GET'), ':scheme', 'http', ':authority', 'example.test', ':path', path, ...(options.headers ?? [])];
    const hasBody = options.body !== undefined || options.trailers !== undefined;
    stream.sendHeaders(fields, fields.length, !hasBody);
    if (hasBody) exchange.sendBody(options.body ?? Buffer.alloc(0), options.trailers);
    return exchange;
  }

  closed(): Promise<void> {
    return this.closedPromise;
  }

  onStream(): void {}
  onRemoteSettings(_c: H2Connection): void {}
  onGoaway(_c: H2Connection, code: number, last: number): void {
    this.goaways.push([code, last]);
  }
  onStreamClosed(): void {}
  onClose(_c: H2Connection, _e: Error | undefined): void {}
}

interface NodeReply {
  status: number;
  headers: http2.IncomingHttpHeaders;
  body: Buffer;
  trailers: http2.IncomingHttpHeaders | undefined;
  rstCode: number | undefined;
}

function nodeRequest(session: http2.ClientHttp2Session, path: string, options: { body?: Buffer; headers?: http2.OutgoingHttpHeaders; trailers?: http2.OutgoingHttpHeaders } = {}): Promise<NodeReply> {
  return new Promise((resolve, reject) => {
    const hasBody = options.body !== undefined;
    const req = session.request({ ':method': hasBody ? 'POST' : 'GET', ':path': path, ...options.headers }, { endStream: !hasBody, waitForTrailers: options.trailers !== undefined });
    const chunks: Buffer[] = [];
    let status = 0;
    let headers: http2.IncomingHttpHeaders = {};
    let trailers: http2.IncomingHttpHeaders | undefined;
    req.on('response', (h) => {
      status = Number(h[':status']);
      headers = h;
    });
    req.on('trailers', (t) => (trailers = t));
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('close', () => resolve({ status, headers, body: Buffer.concat(chunks), trailers, rstCode: req.rstCode === 0 && status !== 0 ? undefined : req.rstCode }));
    req.on('error', () => undefined);
    if (options.trailers !== undefined) req.on('wantTrailers', () => req.sendTrailers(options.trailers!));
    if (hasBody) req.end(options.body);
    void reject;
  });
}

describe('H2Connection with node:http2 as the peer', function () {
  this.timeout(20_000);

  describe('our server, node client', () => {
    let server: TestServer;
    let session: http2.ClientHttp2Session | undefined;
    beforeEach(async () => {
      server = await new TestServer().listen();
    });
    afterEach(async () => {
      session?.destroy();
      session = undefined;
      await server.close();
    });

    it('serves 100 concurrent streams with bodies, each answered with its own body', async () => {
      session = await connectH2(server.port);
      const bodies = Array.from({ length: 100 }, (_, i) => randomBytes(1000 + i * 37));
      const replies = await Promise.all(bodies.map((b, i) => nodeRequest(session!, `/s${i}`, { body: b })));
      replies.forEach((r, i) => {
        assert.equal(r.status, 200);
        assert.equal(r.headers['x-path'], `/s${i}`);
        assert.ok(r.body.equals(bodies[i]!), `body ${i}`);
      });
    });

    it('moves 3 MB each way through a 1,000-byte client window and a 16 KiB server stream window', async () => {
      await server.close();
      server = await new TestServer({ ...SERVER_SETTINGS, streamWindow: 16_384, connectionWindow: 65_535 }).listen();
      session = await connectH2(server.port, { settings: { initialWindowSize: 1000 } });
      const body = randomBytes(3 * 1024 * 1024);
      const [a, b] = await Promise.all([nodeRequest(session, '/big1', { body }), nodeRequest(session, '/big2', { body: body.subarray(0, 200_000) })]);
      assert.equal(a.status, 200);
      assert.ok(a.body.equals(body));
      assert.ok(b.body.equals(body.subarray(0, 200_000)));
    });

    it('delivers request trailers and sends response trailers', async () => {
      session = await connectH2(server.port);
      const reply = await nodeRequest(session, '/t', { body: Buffer.from('hello'), headers: { 'x-want-trailers': '1' }, trailers: { 'x-client-trailer': 'yes' } });
      assert.equal(reply.body.toString(), 'hello');
      assert.equal(reply.trailers?.['x-length'], '5');
      assert.equal(server.requests[0]!.trailers?.['x-client-trailer'], 'yes');
    });

    it('answers node PINGs', async () => {
      session = await connectH2(server.port);
      const rtt = await new Promise<number>((resolve, reject) => session!.ping((err, duration) => (err ? reject(err) : resolve(duration))));
      assert.ok(rtt >= 0);
    });

    it('a client RST_STREAM reaches the stream handler; other streams continue', async () => {
      session = await connectH2(server.port);
      server.onEnded = () => undefined; // hold every response
      const req = session.request({ ':method': 'POST', ':path': '/held' });
      req.on('error', () => undefined);
      req.write('partial');
      while (server.requests.length === 0) await new Promise((r) => setTimeout(r, 5));
      req.close(http2.constants.NGHTTP2_CANCEL);
      while (server.requests[0]!.resetCode === undefined) await new Promise((r) => setTimeout(r, 5));
      assert.equal(server.requests[0]!.resetCode, E.CANCEL);
      server.onEnded = (r) => echo(r);
      const reply = await nodeRequest(session, '/after', { body: Buffer.from('x') });
      assert.equal(reply.body.toString(), 'x');
    });

    it('a server reset reaches node as RST_STREAM with our code', async () => {
      session = await connectH2(server.port);
      server.onEnded = (r) => r.stream.reset(E.INTERNAL_ERROR);
      const reply = await nodeRequest(session, '/reset');
      assert.equal(reply.rstCode, E.INTERNAL_ERROR);
    });

    it('refuses streams above SETTINGS_MAX_CONCURRENT_STREAMS with REFUSED_STREAM', async () => {
      await server.close();
      server = await new TestServer({ ...SERVER_SETTINGS, maxConcurrentStreams: 2 }).listen();
      server.onEnded = () => undefined;
      // A raw client: node itself would queue the third stream instead of sending it.
      const peer = await RawH2Peer.connect(server.port);
      peer.start(peer.headers(1, requestFields('/a')), peer.headers(3, requestFields('/b')), peer.headers(5, requestFields('/c')));
      assert.equal(await peer.rstCode(5), E.REFUSED_STREAM);
      assert.equal(server.requests.length, 2);
      peer.close();
    });

    it('our GOAWAY lets node finish in-flight streams, then the connection closes', async () => {
      session = await connectH2(server.port);
      let held: ServerRequest | undefined;
      server.onEnded = (r) => (held = r);
      const pending = nodeRequest(session, '/inflight');
      while (held === undefined) await new Promise((r) => setTimeout(r, 5));
      const goawaySeen = new Promise<number>((resolve) => session!.once('goaway', (code, last) => resolve(last)));
      server.connections[0]!.goaway();
      assert.equal(await goawaySeen, 1);
      echo(held);
      const reply = await pending;
      assert.equal(reply.status, 200);
      await new Promise<void>((resolve) => (session!.closed ? resolve() : session!.once('close', () => resolve())));
    });

    it('node GOAWAY is reported to the owner; the connection closes when streams finish', async () => {
      session = await connectH2(server.port);
      await nodeRequest(session, '/one');
      session.goaway(0, 0);
      while (server.goaways.length === 0) await new Promise((r) => setTimeout(r, 5));
      assert.deepEqual(server.goaways[0], [0, 0]);
    });

    it('a peer SETTINGS_INITIAL_WINDOW_SIZE decrease and increase mid-stream keeps the body intact', async () => {
      session = await connectH2(server.port, { settings: { initialWindowSize: 65_535 } });
      const body = randomBytes(2 * 1024 * 1024);
      const pending = nodeRequest(session, '/resize', { body });
      session.settings({ initialWindowSize: 500 });
      await new Promise((r) => setTimeout(r, 20));
      session.settings({ initialWindowSize: 200_000 });
      const reply = await pending;
      assert.ok(reply.body.equals(body));
    });

    it('CONTINUATION both ways: a 40 KiB request header and a 40 KiB response header', async () => {
      session = await connectH2(server.port, { maxHeaderListPairs: 1000, maxSendHeaderBlockLength: 200_000 } as http2.ClientSessionOptions);
      const big = 'v'.repeat(40 * 1024);
      server.onEnded = (r) => {
        const fields = [':status', '200', 'x-big-back', String(r.headers['x-big']).toUpperCase()];
        r.stream.sendHeaders(fields, fields.length, true);
      };
      const reply = await nodeRequest(session, '/big-headers', { headers: { 'x-big': big } });
      assert.equal(server.requests[0]!.headers['x-big'], big);
      assert.equal(reply.headers['x-big-back'], big.toUpperCase());
    });
  });

  describe('node server, our client', () => {
    let nodeServer: http2.Http2Server;
    let port: number;
    let client: TestClient | undefined;
    let sessions: http2.ServerHttp2Session[];
    let handler: (stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders) => void;

    async function startNode(options: http2.ServerOptions = {}): Promise<void> {
      sessions = [];
      nodeServer = http2.createServer(options);
      nodeServer.on('session', (s) => sessions.push(s));
      nodeServer.on('stream', (stream, headers) => handler(stream, headers));
      await new Promise<void>((resolve) => nodeServer.listen(0, '127.0.0.1', resolve));
      port = (nodeServer.address() as AddressInfo).port;
    }

    function nodeEcho(stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders): void {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('error', () => undefined);
      stream.on('end', () => {
        const body = Buffer.concat(chunks);
        const trailers = headers['x-want-trailers'] === '1';
        stream.respond({ ':status': 200, 'x-path': headers[':path'] as string }, { waitForTrailers: trailers });
        if (trailers) stream.once('wantTrailers', () => stream.sendTrailers({ 'x-length': String(body.length) }));
        stream.end(body);
      });
    }

    beforeEach(async () => {
      handler = nodeEcho;
      await startNode();
    });
    afterEach(async () => {
      client?.connection.destroy();
      client = undefined;
      for (const s of sessions) s.destroy();
      await new Promise<void>((resolve) => nodeServer.close(() => resolve()));
    });

    it('100 concurrent streams with bodies', async () => {
      client = await TestClient.connect(port);
      const bodies = Array.from({ length: 100 }, (_, i) => randomBytes(500 + i * 51));
      const exchanges = bodies.map((b, i) => client!.request(`/c${i}`, { body: b }));
      await Promise.all(exchanges.map((x) => x.done));
      exchanges.forEach((x, i) => {
        assert.equal(x.status, 200);
        assert.ok(x.body.equals(bodies[i]!), `body ${i}`);
      });
      assert.equal(client.connection.activeStreams, 0);
    });

    it('3 MB each way with node initialWindowSize 1000 and our stream window 16 KiB', async () => {
      await new Promise<void>((resolve) => nodeServer.close(() => resolve()));
      await startNode({ settings: { initialWindowSize: 1000 } });
      client = await TestClient.connect(port, { ...CLIENT_SETTINGS, streamWindow: 16_384, connectionWindow: 65_535 });
      const body = randomBytes(3 * 1024 * 1024);
      const x = client.request('/big', { body });
      await x.done;
      assert.equal(x.resetCode, undefined);
      assert.ok(x.body.equals(body));
    });

    it('request and response trailers', async () => {
      client = await TestClient.connect(port);
      let nodeTrailers: http2.IncomingHttpHeaders | undefined;
      handler = (stream, headers) => {
        stream.on('trailers', (t) => (nodeTrailers = t));
        nodeEcho(stream, headers);
      };
      const x = client.request('/t', { body: Buffer.from('abc'), headers: ['x-want-trailers', '1'], trailers: ['x-req-trailer', 'r'] });
      await x.done;
      assert.equal(x.body.toString(), 'abc');
      assert.equal(x.trailers?.['x-length'], '3');
      assert.equal(nodeTrailers?.['x-req-trailer'], 'r');
    });

    it('a HEAD response and a 304 may carry content-length without DATA (RFC 9113 §8.1.1)', async () => {
      client = await TestClient.connect(port);
      handler = (stream, headers) => {
        stream.on('error', () => undefined);
        stream.respond({ ':status': headers[':path'] === '/304' ? 304 : 200, 'content-length': '1234' }, { endStream: true });
      };
      const fields = [':method', 'HEAD', ':scheme', 'http', ':authority', 'example.test', ':path', '/head'];
      const head = new ClientExchange(client.connection.openStream());
      head.stream.sendHeaders(fields, fields.length, true);
      const notModified = client.request('/304');
      await Promise.all([head.done, notModified.done]);
      assert.equal(head.resetCode, undefined);
      assert.equal(head.status, 200);
      assert.equal(head.headers['content-length'], '1234');
      assert.equal(notModified.resetCode, undefined);
      assert.equal(notModified.status, 304);
    });

    it('PING is acknowledged by node', async () => {
      client = await TestClient.connect(port);
      await new Promise<void>((resolve) => client!.connection.ping(resolve));
    });

    it('node RST_STREAM reaches our stream handler', async () => {
      client = await TestClient.connect(port);
      handler = (stream) => {
        stream.on('error', () => undefined);
        stream.close(http2.constants.NGHTTP2_ENHANCE_YOUR_CALM);
      };
      const x = client.request('/rst');
      await x.done;
      assert.equal(x.resetCode, E.ENHANCE_YOUR_CALM);
      assert.equal(client.connection.activeStreams, 0);
    });

    it('our RST_STREAM reaches node', async () => {
      client = await TestClient.connect(port);
      const nodeReset = new Promise<number>((resolve) => {
        handler = (stream) => {
          stream.on('error', () => undefined);
          stream.on('close', () => resolve(stream.rstCode));
        };
      });
      const x = client.request('/cancel', { body: undefined, headers: [], method: 'POST' } as never);
      x.stream.sendData(Buffer.from('part'), false);
      await new Promise((r) => setTimeout(r, 20));
      x.stream.reset(E.CANCEL);
      assert.equal(await nodeReset, E.CANCEL);
    });

    it('node GOAWAY: streams above last_stream_id are reported unprocessed, the rest complete', async () => {
      client = await TestClient.connect(port);
      const held: http2.ServerHttp2Stream[] = [];
      handler = (stream) => {
        stream.on('error', () => undefined);
        held.push(stream);
      };
      const first = client.request('/first');
      while (held.length === 0) await new Promise((r) => setTimeout(r, 5));
      sessions[0]!.goaway(0, 1);
      const second = client.request('/second');
      void second;
      while (client.goaways.length === 0) await new Promise((r) => setTimeout(r, 5));
      assert.equal(client.connection.canOpenStream, false);
      held[0]!.respond({ ':status': 204 }, { endStream: true });
      await first.done;
      assert.equal(first.status, 204);
    });

    it('node SETTINGS_MAX_CONCURRENT_STREAMS limits canOpenStream', async () => {
      await new Promise<void>((resolve) => nodeServer.close(() => resolve()));
      await startNode({ settings: { maxConcurrentStreams: 1 } });
      handler = (stream) => stream.on('error', () => undefined);
      client = await TestClient.connect(port);
      assert.equal(client.connection.peerMaxConcurrentStreams, 1);
      client.request('/only');
      assert.equal(client.connection.canOpenStream, false);
    });

    it('node SETTINGS window decrease and increase mid-upload keeps the body intact', async () => {
      client = await TestClient.connect(port);
      const body = randomBytes(2 * 1024 * 1024);
      const x = client.request('/resize', { body });
      sessions[0]!.settings({ initialWindowSize: 300 });
      await new Promise((r) => setTimeout(r, 20));
      sessions[0]!.settings({ initialWindowSize: 300_000 });
      await x.done;
      assert.ok(x.body.equals(body));
    });

    it('CONTINUATION both ways: 40 KiB header to node and back', async () => {
      await new Promise<void>((resolve) => nodeServer.close(() => resolve()));
      await startNode({ maxHeaderListSize: 200_000 } as http2.ServerOptions);
      client = await TestClient.connect(port);
      const big = 'w'.repeat(40 * 1024);
      handler = (stream, headers) => stream.respond({ ':status': 200, 'x-back': String(headers['x-big']) }, { endStream: true });
      const x = client.request('/h', { headers: ['x-big', big] });
      await x.done;
      assert.equal(x.headers['x-back'], big);
    });
  });
});

describe('H2Connection server against a raw-frame peer (RFC 9113 error handling)', function () {
  this.timeout(10_000);
  let server: TestServer;
  let peer: RawH2Peer;
  beforeEach(async () => {
    server = await new TestServer().listen();
    peer = await RawH2Peer.connect(server.port);
  });
  afterEach(async () => {
    peer.close();
    await server.close();
  });

  it('a bad preface closes the connection without frames', async () => {
    peer.send(Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n'));
    await peer.waitClosed();
    assert.ok(!peer.frames.some((f) => f.type === T.GOAWAY));
  });

  it('a frame larger than 16384 -> GOAWAY FRAME_SIZE_ERROR', async () => {
    peer.start(frame(T.DATA, 0, 1, Buffer.alloc(16_385)));
    assert.equal(await peer.goawayCode(), E.FRAME_SIZE_ERROR);
    await peer.waitClosed();
  });

  it('DATA on stream 0 -> GOAWAY PROTOCOL_ERROR', async () => {
    peer.start(data(0, 'x'));
    assert.equal(await peer.goawayCode(), E.PROTOCOL_ERROR);
  });

  it('DATA on an idle stream -> GOAWAY PROTOCOL_ERROR', async () => {
    peer.start(data(7, 'x'));
    assert.equal(await peer.goawayCode(), E.PROTOCOL_ERROR);
  });

  it('HEADERS inside a CONTINUATION sequence -> GOAWAY PROTOCOL_ERROR', async () => {
    const block = peer.block(requestFields('/a'));
    peer.start(frame(T.HEADERS, F.END_STREAM, 1, block.subarray(0, 3)), peer.headers(3, requestFields('/b')));
    assert.equal(await peer.goawayCode(), E.PROTOCOL_ERROR);
    assert.equal(server.requests.length, 0);
  });

  it('CONTINUATION on another stream -> GOAWAY PROTOCOL_ERROR', async () => {
    const block = peer.block(requestFields('/a'));
    peer.start(frame(T.HEADERS, F.END_STREAM, 1, block.subarray(0, 3)), frame(T.CONTINUATION, F.END_HEADERS, 3, block.subarray(3)));
    assert.equal(await peer.goawayCode(), E.PROTOCOL_ERROR);
  });

  it('a split header block with CONTINUATION is assembled', async () => {
    const block = peer.block(requestFields('/split'));
    peer.start(frame(T.HEADERS, F.END_STREAM, 1, block.subarray(0, 2)), frame(T.CONTINUATION, 0, 1, block.subarray(2, 5)), frame(T.CONTINUATION, F.END_HEADERS, 1, block.subarray(5)));
    const headers = await peer.waitForType(T.HEADERS, 1);
    assert.deepEqual(peer.decode(headers.payload).slice(0, 2), [[':status', '200'], ['x-path', '/split']]);
  });

  it('an even stream id from a client -> GOAWAY PROTOCOL_ERROR', async () => {
    peer.start(peer.headers(2, requestFields('/even')));
    assert.equal(await peer.goawayCode(), E.PROTOCOL_ERROR);
    assert.equal(server.requests.length, 0);
  });

  it('HEADERS opening a lower stream id the client skipped -> GOAWAY PROTOCOL_ERROR (RFC 9113 §5.1.1)', async () => {
    // Opening 5 closed 3 implicitly, but 3 was never opened: a new stream below one already used is a
    // connection error, and the request is never served.
    server.onEnded = () => undefined;
    peer.start(peer.headers(5, requestFields('/five')), peer.headers(3, requestFields('/three')));
    assert.equal(await peer.goawayCode(), E.PROTOCOL_ERROR);
    const goaway = await peer.waitForType(T.GOAWAY);
    assert.equal(goaway.payload.readUInt32BE(0), 5, 'last stream id: the highest the client opened');
    await peer.waitClosed();
    assert.equal(server.requests.length, 1);
    assert.ok(!peer.frames.some((f) => f.type === T.RST_STREAM && f.streamId === 3));
  });

  it('HEADERS on a lower stream that was opened and closed -> RST_STREAM STREAM_CLOSED, the connection stays up', async () => {
    // Served and finished: the client's late HEADERS (e.g. trailers racing our response) is a stream error (§5.1 closed).
    peer.start(peer.headers(1, requestFields('/one')));
    await peer.waitFor((f) => f.streamId === 1 && (f.flags & F.END_STREAM) !== 0);
    peer.send(peer.headers(3, requestFields('/three')), peer.headers(1, [['x-late', 'trailer']]));
    assert.equal(await peer.rstCode(1), E.STREAM_CLOSED);
    await peer.waitFor((f) => f.streamId === 3 && (f.flags & F.END_STREAM) !== 0);
    await peer.roundTrip();
    assert.ok(!peer.frames.some((f) => f.type === T.GOAWAY));
    assert.equal(server.requests.length, 2);
  });

  it('a client that skipped ids is still served; only HEADERS on a skipped id is a connection error', async () => {
    // Gaps 3 and 7..9 are remembered; 1 and 5 were opened and answer STREAM_CLOSED.
    peer.start(peer.headers(1, requestFields('/1')), peer.headers(5, requestFields('/5')), peer.headers(11, requestFields('/11')));
    await peer.waitFor((f) => f.streamId === 11 && (f.flags & F.END_STREAM) !== 0);
    peer.send(peer.headers(5, [['x-late', 'trailer']]));
    assert.equal(await peer.rstCode(5), E.STREAM_CLOSED);
    await peer.roundTrip();
    assert.ok(!peer.frames.some((f) => f.type === T.GOAWAY));
    peer.send(peer.headers(9, requestFields('/9')));
    assert.equal(await peer.goawayCode(), E.PROTOCOL_ERROR);
    assert.equal(server.requests.length, 3);
  });

  it('DATA after our RST_STREAM(NO_ERROR) is discarded: no reply, the connection window is credited (RFC 9113 §5.1, §8.1)', async () => {
    await server.close();
    server = await new TestServer({ ...SERVER_SETTINGS, connectionWindow: 65_535 }).listen();
    peer.close();
    peer = await RawH2Peer.connect(server.port);
    // The server answers as soon as the request headers arrive, while the body is still coming.
    server.onStream = function (this: TestServer, c: H2Connection, stream: H2Stream, block: H2HeaderBlock, endStream: boolean): void {
      TestServer.prototype.onStream.call(this, c, stream, block, endStream);
      const fields = [':status', '200'];
      stream.sendHeaders(fields, fields.length, false);
      stream.sendData(Buffer.from('done'), true);
    };
    peer.start(peer.headers(1, requestFields('/early', [], 'POST'), false));
    assert.equal(await peer.rstCode(1), E.NO_ERROR);
    await peer.waitFor((f) => f.type === T.DATA && f.streamId === 1 && (f.flags & F.END_STREAM) !== 0);
    // DATA the client had in flight: 4 x 16,000 bytes, nearly the whole 65,535 connection window.
    const before = peer.frames.length;
    peer.send(data(1, Buffer.alloc(16_000)), data(1, Buffer.alloc(16_000)), data(1, Buffer.alloc(16_000)), data(1, Buffer.alloc(16_000)));
    await peer.roundTrip();
    const after = peer.frames.slice(before);
    assert.ok(!after.some((f) => f.type === T.RST_STREAM || f.type === T.GOAWAY), `ignored, got ${peer.describe()}`);
    const credited = after.filter((f) => f.type === T.WINDOW_UPDATE && f.streamId === 0).reduce((n, f) => n + f.payload.readUInt32BE(0), 0);
    assert.ok(credited >= 32_000, `connection window credited for discarded DATA (${credited})`);
    // The connection still carries a new request with a body beyond what the discarded DATA used up.
    peer.send(peer.headers(3, requestFields('/next', [], 'POST'), false), data(3, Buffer.alloc(16_000)), data(3, 'end', true));
    await peer.waitFor((f) => f.type === T.HEADERS && f.streamId === 3);
    assert.equal(server.requests.length, 2);
  });

  it('WINDOW_UPDATE of 0 on a stream -> RST_STREAM PROTOCOL_ERROR', async () => {
    server.onEnded = () => undefined;
    peer.start(peer.headers(1, requestFields('/w')), windowUpdate(1, 0));
    assert.equal(await peer.rstCode(1), E.PROTOCOL_ERROR);
    await server.requests[0]!.finished();
    assert.equal(server.requests[0]!.resetCode, E.PROTOCOL_ERROR);
  });

  it('WINDOW_UPDATE of 0 on the connection -> GOAWAY PROTOCOL_ERROR', async () => {
    peer.start(windowUpdate(0, 0));
    assert.equal(await peer.goawayCode(), E.PROTOCOL_ERROR);
  });

  it('stream window overflow -> RST_STREAM FLOW_CONTROL_ERROR', async () => {
    server.onEnded = () => undefined;
    peer.start(peer.headers(1, requestFields('/o')), windowUpdate(1, 2 ** 31 - 1));
    assert.equal(await peer.rstCode(1), E.FLOW_CONTROL_ERROR);
  });

  it('connection window overflow -> GOAWAY FLOW_CONTROL_ERROR', async () => {
    peer.start(windowUpdate(0, 2 ** 31 - 1));
    assert.equal(await peer.goawayCode(), E.FLOW_CONTROL_ERROR);
  });

  it('DATA beyond the stream window -> RST_STREAM FLOW_CONTROL_ERROR, the excess never delivered', async () => {
    server.onEnded = () => undefined;
    server.pauseNewStreams = true; // a slow reader: no credit goes back
    const chunks = Array.from({ length: 5 }, () => data(1, Buffer.alloc(16_000, 1)));
    peer.start(peer.headers(1, requestFields('/flood', [], 'POST'), false), ...chunks);
    assert.equal(await peer.rstCode(1), E.FLOW_CONTROL_ERROR);
    assert.ok(server.requests[0]!.body.length <= 65_535);
  });

  it('DATA beyond the connection window -> GOAWAY FLOW_CONTROL_ERROR', async () => {
    await server.close();
    server = await new TestServer({ ...SERVER_SETTINGS, connectionWindow: 65_535, streamWindow: 1024 * 1024 }).listen();
    peer.close();
    peer = await RawH2Peer.connect(server.port);
    server.onEnded = () => undefined;
    server.pauseNewStreams = true; // slow readers: the connection window only refills as handlers take bytes
    // 3 streams x 30,000 bytes: each within its 1 MiB stream window, together beyond the 65,535 connection window.
    const frames: Buffer[] = [];
    for (const id of [1, 3, 5]) frames.push(peer.headers(id, requestFields('/flood', [], 'POST'), false), data(id, Buffer.alloc(15_000, 1)), data(id, Buffer.alloc(15_000, 1)));
    peer.start(...frames);
    assert.equal(await peer.goawayCode(), E.FLOW_CONTROL_ERROR);
  });

  it('held DATA of a reset stream is given back to the connection window; resumed streams are credited', async () => {
    await server.close();
    server = await new TestServer({ ...SERVER_SETTINGS, connectionWindow: 65_535, streamWindow: 1024 * 1024 }).listen();
    peer.close();
    peer = await RawH2Peer.connect(server.port);
    server.onEnded = () => undefined;
    server.pauseNewStreams = true;
    peer.start(peer.headers(1, requestFields('/held', [], 'POST'), false), data(1, Buffer.alloc(16_000)), data(1, Buffer.alloc(16_000)), data(1, Buffer.alloc(16_000)));
    await peer.roundTrip();
    assert.ok(!peer.frames.some((f) => f.type === T.WINDOW_UPDATE && f.streamId === 0), 'held bytes are not credited');
    const before = peer.frames.length;
    peer.send(rstStream(1, E.CANCEL));
    await peer.waitFor((f) => peer.frames.indexOf(f) >= before && f.type === T.WINDOW_UPDATE && f.streamId === 0, 'connection WINDOW_UPDATE');
    // The window is back: another 48,000 bytes on a new (resumed) stream are accepted and delivered.
    peer.send(peer.headers(3, requestFields('/next', [], 'POST'), false), data(3, Buffer.alloc(16_000)), data(3, Buffer.alloc(16_000)), data(3, Buffer.alloc(16_000), true));
    await peer.roundTrip();
    const next = server.requests[1]!;
    next.stream.resume();
    await next.finished();
    assert.equal(next.body.length, 48_000);
    assert.ok(!peer.frames.some((f) => f.type === T.GOAWAY));
  });

  it('a reader that pauses on the last chunk of a held body still lets the stream close once answered', async () => {
    server.pauseNewStreams = true;
    server.pauseOnEveryChunk = true;
    peer.start(peer.headers(1, requestFields('/paused-end', [], 'POST'), false), data(1, 'one'), data(1, 'two', true));
    await peer.roundTrip();
    const r = server.requests[0]!;
    while (!r.ended) {
      r.stream.resume(); // one chunk per resume: the reader pauses again in each streamData
      await new Promise((resolve) => setImmediate(resolve));
    }
    assert.equal(r.body.toString(), 'onetwo');
    await peer.waitForType(T.HEADERS, 1); // echoed
    await peer.waitFor((f) => f.streamId === 1 && (f.flags & F.END_STREAM) !== 0 && f.type === T.DATA);
    await peer.roundTrip();
    assert.equal(server.connections[0]!.activeStreams, 0, 'the stream was closed');
    assert.equal(server.closedStreams, 1);
  });

  it('a PING flood from a peer that reads nothing closes the connection instead of buffering the ACKs', async () => {
    peer.socket.pause();
    peer.start();
    while (server.connections.length === 0) await new Promise((r) => setImmediate(r));
    const connection = server.connections[0]!;
    const batch = Buffer.concat(Array.from({ length: 10_000 }, () => ping(Buffer.from('floodflo'))));
    let sent = 0;
    // Without a bound, 3 million PING ACKs (51 MB) would sit in the socket buffer; the kernel takes a few MB.
    while (!connection.closed && !peer.socket.destroyed && sent < 3_000_000) {
      peer.socket.write(batch);
      sent += 10_000;
      await new Promise((r) => setImmediate(r));
    }
    await until(() => connection.closed);
    assert.match(String(connection.error?.message), /flood/);
  });

  it('many PINGs from a peer that reads them are all answered', async () => {
    const payloads = Array.from({ length: 3000 }, (_, i) => Buffer.from(String(i).padStart(8, '0')));
    peer.start(...payloads.map((p) => ping(p)));
    await peer.waitFor((f) => f.type === T.PING && f.payload.equals(payloads[2999]!));
    assert.equal(peer.frames.filter((f) => f.type === T.PING).length, 3000);
  });

  it('rapid reset: 600 streams opened and reset at once -> GOAWAY ENHANCE_YOUR_CALM, connection closed', async () => {
    server.onEnded = () => undefined;
    const frames: Buffer[] = [];
    for (let i = 0; i < 600; i++) frames.push(peer.headers(1 + 2 * i, requestFields('/rr', [], 'POST'), false), rstStream(1 + 2 * i, E.CANCEL));
    peer.start(...frames);
    assert.equal(await peer.goawayCode(), E.ENHANCE_YOUR_CALM);
    await peer.waitClosed();
    assert.ok(server.requests.length <= 600);
  });

  it('a client that cancels a third of 900 streams is not cut off', async () => {
    const frames: Buffer[] = [];
    for (let i = 0; i < 900; i++) {
      const id = 1 + 2 * i;
      if (i % 3 === 0) frames.push(peer.headers(id, requestFields('/cancelled', [], 'POST'), false), rstStream(id, E.CANCEL));
      else frames.push(peer.headers(id, requestFields('/served')));
    }
    peer.start(...frames);
    await peer.waitFor((f) => f.type === T.HEADERS && f.streamId === 1 + 2 * 899);
    await peer.roundTrip();
    assert.ok(!peer.frames.some((f) => f.type === T.GOAWAY));
    assert.equal(server.requests.filter((r) => r.path === '/served').length, 600);
  });

  it('SETTINGS with a length not a multiple of 6 -> GOAWAY FRAME_SIZE_ERROR', async () => {
    peer.send(Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n'), frame(T.SETTINGS, 0, 0, Buffer.alloc(5)));
    assert.equal(await peer.goawayCode(), E.FRAME_SIZE_ERROR);
  });

  it('SETTINGS_INITIAL_WINDOW_SIZE above 2^31-1 -> GOAWAY FLOW_CONTROL_ERROR', async () => {
    peer.start(settings([[4, 2 ** 31]]));
    assert.equal(await peer.goawayCode(), E.FLOW_CONTROL_ERROR);
  });

  it('SETTINGS_MAX_FRAME_SIZE below 16384 -> GOAWAY PROTOCOL_ERROR', async () => {
    peer.start(settings([[5, 1000]]));
    assert.equal(await peer.goawayCode(), E.PROTOCOL_ERROR);
  });

  it('SETTINGS ACK with a payload -> GOAWAY FRAME_SIZE_ERROR', async () => {
    peer.start(frame(T.SETTINGS, F.ACK, 0, Buffer.alloc(6)));
    assert.equal(await peer.goawayCode(), E.FRAME_SIZE_ERROR);
  });

  it('PING with a bad length -> GOAWAY FRAME_SIZE_ERROR', async () => {
    peer.start(frame(T.PING, 0, 0, Buffer.alloc(7)));
    assert.equal(await peer.goawayCode(), E.FRAME_SIZE_ERROR);
  });

  it('PING is answered with the same payload', async () => {
    const payload = Buffer.from('12345678');
    peer.start(ping(payload));
    const ack = await peer.waitFor((f) => f.type === T.PING && f.flags === F.ACK);
    assert.ok(ack.payload.equals(payload));
  });

  it('PUSH_PROMISE to a server -> GOAWAY PROTOCOL_ERROR', async () => {
    peer.start(frame(T.PUSH_PROMISE, F.END_HEADERS, 1, Buffer.concat([u32(2), peer.block(requestFields('/p'))])));
    assert.equal(await peer.goawayCode(), E.PROTOCOL_ERROR);
  });

  const malformed: Array<[string, Array<[string, string]>]> = [
    ['an upper-case header name', requestFields('/m', [['X-Upper', 'v']])],
    ['a connection header', requestFields('/m', [['connection', 'keep-alive']])],
    ['a transfer-encoding header', requestFields('/m', [['transfer-encoding', 'chunked']])],
    ['te: gzip', requestFields('/m', [['te', 'gzip']])],
    ['a missing :path', [[':method', 'GET'], [':scheme', 'http'], [':authority', 'a']]],
    ['an empty :path', [[':method', 'GET'], [':scheme', 'http'], [':authority', 'a'], [':path', '']]],
    ['a pseudo-header after a regular one', [[':method', 'GET'], [':scheme', 'http'], ['x-a', 'b'], [':path', '/']]],
    ['a duplicate :path', [...requestFields('/m'), [':path', '/n']] as Array<[string, string]>],
    ['an unknown pseudo-header', requestFields('/m', [[':protocol', 'websocket']]).sort((a, b) => Number(b[0].startsWith(':')) - Number(a[0].startsWith(':')))],
    ['a response pseudo-header in a request', [[':status', '200'], ...requestFields('/m')]],
    ['CR/LF in a value', requestFields('/m', [['x-smuggle', 'a\r\nx-evil: 1']])],
    ['NUL in a value', requestFields('/m', [['x-nul', 'a\u0000b']])],
    ['a leading space in a value', requestFields('/m', [['x-space', ' v']])],
    ['two differing content-lengths', requestFields('/m', [['content-length', '1'], ['content-length', '2']])],
  ];
  for (const [what, fields] of malformed) {
    it(`${what} -> RST_STREAM PROTOCOL_ERROR, never reaches the owner`, async () => {
      peer.start(peer.headers(1, fields));
      assert.equal(await peer.rstCode(1), E.PROTOCOL_ERROR);
      await peer.roundTrip();
      assert.equal(server.requests.length, 0);
      assert.equal(server.rejected.length, 1);
      // The connection is still usable.
      peer.send(peer.headers(3, requestFields('/ok')));
      await peer.waitForType(T.HEADERS, 3);
    });
  }

  it('content-length with END_STREAM on HEADERS and no body -> RST_STREAM PROTOCOL_ERROR', async () => {
    peer.start(peer.headers(1, requestFields('/cl', [['content-length', '5']], 'POST'), true));
    assert.equal(await peer.rstCode(1), E.PROTOCOL_ERROR);
    await peer.roundTrip();
    assert.equal(server.requests.length, 0);
  });

  it('DATA longer than content-length -> RST_STREAM PROTOCOL_ERROR, the excess never delivered', async () => {
    server.onEnded = () => undefined;
    peer.start(peer.headers(1, requestFields('/cl', [['content-length', '3']], 'POST'), false), data(1, 'abcdef', true));
    assert.equal(await peer.rstCode(1), E.PROTOCOL_ERROR);
    await peer.roundTrip();
    assert.equal(server.requests[0]!.body.length, 0);
    assert.equal(server.requests[0]!.ended, false);
    assert.equal(server.requests[0]!.resetCode, E.PROTOCOL_ERROR);
  });

  it('DATA shorter than content-length -> RST_STREAM PROTOCOL_ERROR, the end never delivered', async () => {
    server.onEnded = () => undefined;
    peer.start(peer.headers(1, requestFields('/cl', [['content-length', '10']], 'POST'), false), data(1, 'abc', true));
    assert.equal(await peer.rstCode(1), E.PROTOCOL_ERROR);
    await peer.roundTrip();
    assert.equal(server.requests[0]!.ended, false);
    assert.equal(server.requests[0]!.resetCode, E.PROTOCOL_ERROR);
  });

  it('a CONTINUATION flood is cut off with GOAWAY', async () => {
    const block = peer.block(requestFields('/flood'));
    const frames = [frame(T.HEADERS, F.END_STREAM, 1, block)];
    const filler = Buffer.alloc(16_000, 0x80 | 1); // would decode as indexed :authority, never finished
    for (let i = 0; i < 20; i++) frames.push(frame(T.CONTINUATION, 0, 1, filler));
    peer.start(...frames);
    const code = await peer.goawayCode();
    assert.ok(code === E.ENHANCE_YOUR_CALM || code === E.PROTOCOL_ERROR, `code ${code}`);
    await peer.waitClosed();
    assert.equal(server.requests.length, 0);
  });

  it('unknown frame types are ignored', async () => {
    peer.start(frame(0xfa, 0xff, 0, Buffer.from('whatever')), frame(0x42, 0, 1, Buffer.alloc(3)), peer.headers(1, requestFields('/after-unknown')));
    await peer.waitForType(T.HEADERS, 1);
    assert.ok(!peer.frames.some((f) => f.type === T.GOAWAY));
  });

  it('PRIORITY frames are accepted (before and during a stream)', async () => {
    peer.start(priority(3, 0), priority(1, 0), peer.headers(1, requestFields('/prio')), priority(1, 3));
    await peer.waitForType(T.HEADERS, 1);
    await peer.roundTrip();
    assert.ok(!peer.frames.some((f) => f.type === T.GOAWAY || f.type === T.RST_STREAM));
  });

  it('HEADERS depending on its own stream -> RST_STREAM PROTOCOL_ERROR, never reaches the owner', async () => {
    const block = peer.block(requestFields('/self'));
    const payload = Buffer.concat([u32(1), Buffer.from([15]), block]);
    peer.start(frame(T.HEADERS, F.END_HEADERS | F.END_STREAM | F.PRIORITY, 1, payload), peer.headers(3, requestFields('/next')));
    assert.equal(await peer.rstCode(1), E.PROTOCOL_ERROR);
    await peer.waitForType(T.HEADERS, 3);
    assert.deepEqual(server.requests.map((r) => r.path), ['/next']);
  });

  it('HEADERS + CONTINUATION depending on its own stream -> RST_STREAM PROTOCOL_ERROR, HPACK stays in step', async () => {
    const block = peer.block(requestFields('/self', [['x-indexed', 'one']]));
    const payload = Buffer.concat([u32(1), Buffer.from([15]), block.subarray(0, 4)]);
    peer.start(frame(T.HEADERS, F.END_STREAM | F.PRIORITY, 1, payload), frame(T.CONTINUATION, F.END_HEADERS, 1, block.subarray(4)), peer.headers(3, requestFields('/next', [['x-indexed', 'one']])));
    assert.equal(await peer.rstCode(1), E.PROTOCOL_ERROR);
    await peer.waitForType(T.HEADERS, 3);
    assert.deepEqual(server.requests.map((r) => r.path), ['/next']);
    assert.equal(server.requests[0]!.headers['x-indexed'], 'one');
  });

  it('a PRIORITY frame on an idle stream does not stop a later HEADERS on it', async () => {
    peer.start(priority(5, 0), peer.headers(1, requestFields('/one')), peer.headers(5, requestFields('/five')));
    await peer.waitForType(T.HEADERS, 5);
  });

  it('HPACK garbage -> GOAWAY COMPRESSION_ERROR', async () => {
    peer.start(frame(T.HEADERS, F.END_HEADERS | F.END_STREAM, 1, Buffer.from([0xff, 0xff, 0xff, 0xff, 0x0f])));
    assert.equal(await peer.goawayCode(), E.COMPRESSION_ERROR);
  });

  it('RST_STREAM on an idle stream -> GOAWAY PROTOCOL_ERROR', async () => {
    peer.start(rstStream(9, E.CANCEL));
    assert.equal(await peer.goawayCode(), E.PROTOCOL_ERROR);
  });

  it('a client RST_STREAM mid-request reaches the handler and nothing more is delivered', async () => {
    server.onEnded = () => undefined;
    peer.start(peer.headers(1, requestFields('/r', [], 'POST'), false), data(1, 'abc'), rstStream(1, E.CANCEL), data(1, 'late', true));
    await peer.roundTrip();
    const r = server.requests[0]!;
    assert.equal(r.resetCode, E.CANCEL);
    assert.equal(r.body.toString(), 'abc');
    assert.ok(!peer.frames.some((f) => f.type === T.GOAWAY));
  });

  it('GOAWAY from the client is reported to the owner', async () => {
    peer.start(goaway(0, E.NO_ERROR));
    while (server.goaways.length === 0) await new Promise((r) => setTimeout(r, 5));
    assert.deepEqual(server.goaways[0], [E.NO_ERROR, 0]);
  });

  it('trailers without END_STREAM -> RST_STREAM PROTOCOL_ERROR', async () => {
    server.onEnded = () => undefined;
    peer.start(peer.headers(1, requestFields('/t', [], 'POST'), false), peer.headers(1, [['x-trailer', 'v']], false));
    assert.equal(await peer.rstCode(1), E.PROTOCOL_ERROR);
  });

  it('a stream error keeps HPACK in step: a later stream decodes fine', async () => {
    server.onEnded = (r) => echo(r);
    peer.start(peer.headers(1, requestFields('/bad', [['X-Bad', 'v'], ['x-indexed', 'kept']])), peer.headers(3, requestFields('/good', [['x-indexed', 'kept']])));
    const h = await peer.waitForType(T.HEADERS, 3);
    assert.ok(peer.decode(h.payload).some(([n, v]) => n === 'x-path' && v === '/good'));
  });
});

describe('H2Connection client against a raw-frame server', function () {
  this.timeout(10_000);
  let listener: net.Server;
  let peer: RawH2Peer;
  let client: TestClient;

  beforeEach(async () => {
    let accepted!: (p: RawH2Peer) => void;
    const acceptedPeer = new Promise<RawH2Peer>((resolve) => (accepted = resolve));
    listener = net.createServer((socket) => {
      const p = RawH2Peer.accept(socket);
      p.send(settings([[3, 100]]));
      accepted(p);
    });
    await new Promise<void>((resolve) => listener.listen(0, '127.0.0.1', resolve));
    client = await TestClient.connect((listener.address() as AddressInfo).port);
    peer = await acceptedPeer;
  });
  afterEach(async () => {
    client.connection.destroy();
    peer.close();
    await new Promise<void>((resolve) => listener.close(() => resolve()));
  });

  /** The request HEADERS our client sent on `id` (the raw server reads them to keep its HPACK decoder in step). */
  async function requestArrived(id: number): Promise<void> {
    const f = await peer.waitForType(T.HEADERS, id);
    peer.decode(f.payload);
  }

  it('PUSH_PROMISE to our client -> GOAWAY PROTOCOL_ERROR', async () => {
    const x = client.request('/p');
    await requestArrived(1);
    peer.send(frame(T.PUSH_PROMISE, F.END_HEADERS, 1, Buffer.concat([u32(2), peer.block(requestFields('/pushed'))])));
    assert.equal(await peer.goawayCode(), E.PROTOCOL_ERROR);
    await x.done;
    assert.ok(x.resetCode !== undefined);
  });

  it('a response body longer than its content-length -> RST_STREAM PROTOCOL_ERROR, the handler hears a reset', async () => {
    const x = client.request('/cl');
    await requestArrived(1);
    peer.send(peer.headers(1, [[':status', '200'], ['content-length', '3']], false), data(1, 'abcdef', true));
    assert.equal(await peer.rstCode(1), E.PROTOCOL_ERROR);
    await x.done;
    assert.equal(x.ended, false);
    assert.equal(x.resetCode, E.PROTOCOL_ERROR);
    assert.equal(x.body.length, 0);
  });

  it('DATA before the response HEADERS -> RST_STREAM PROTOCOL_ERROR', async () => {
    const x = client.request('/early');
    await requestArrived(1);
    peer.send(data(1, 'too early'));
    assert.equal(await peer.rstCode(1), E.PROTOCOL_ERROR);
    await x.done;
    assert.equal(x.resetCode, E.PROTOCOL_ERROR);
  });

  it('a 100 Continue then the final response', async () => {
    const x = client.request('/continue');
    await requestArrived(1);
    peer.send(peer.headers(1, [[':status', '100']], false), peer.headers(1, [[':status', '201']], false), data(1, 'done', true));
    await x.done;
    assert.equal(x.status, 201);
    assert.equal(x.body.toString(), 'done');
  });

  it('response HEADERS on a stream we never opened -> GOAWAY PROTOCOL_ERROR', async () => {
    peer.send(peer.headers(3, [[':status', '200']]));
    assert.equal(await peer.goawayCode(), E.PROTOCOL_ERROR);
  });

  it('server GOAWAY: streams above last_stream_id are reset as unprocessed, the rest complete', async () => {
    const xs = [client.request('/1'), client.request('/3'), client.request('/5')];
    for (const id of [1, 3, 5]) await requestArrived(id);
    peer.send(goaway(1, E.NO_ERROR));
    await Promise.all([xs[1]!.done, xs[2]!.done]);
    assert.deepEqual(xs.slice(1).map((x) => [x.resetCode, x.unprocessed]), [[E.REFUSED_STREAM, true], [E.REFUSED_STREAM, true]]);
    assert.equal(client.connection.canOpenStream, false);
    peer.send(peer.headers(1, [[':status', '204']]));
    await xs[0]!.done;
    assert.equal(xs[0]!.status, 204);
    await peer.waitClosed();
  });

  it('after GOAWAY our client closes the socket even if the server never closes its side', async () => {
    peer.socket.allowHalfOpen = true; // a server that ignores our FIN
    (peer.socket as unknown as { _readableState: { autoDestroy: boolean } })._readableState.autoDestroy = false;
    peer.send(goaway(0, E.NO_ERROR));
    await client.closed();
    assert.equal(client.connection.closed, true);
  });

  it('streams beyond the server SETTINGS_MAX_CONCURRENT_STREAMS wait for a slot, in id order, instead of being refused', async () => {
    peer.send(settings([[3, 2]]));
    await peer.roundTrip();
    const first = client.request('/a');
    const second = client.request('/b');
    const post = client.request('/c', { body: Buffer.from('body-c') });
    const cancelled = client.request('/d');
    const withTrailers = client.request('/e', { body: Buffer.from('x'), trailers: ['x-t', '1'] });
    cancelled.stream.reset(E.CANCEL); // while waiting: never on the wire, so no RST_STREAM either
    await requestArrived(1);
    await requestArrived(3);
    await peer.roundTrip();
    assert.equal(peer.frames.filter((f) => f.type === T.HEADERS).length, 2, 'only 2 streams open at once');
    peer.send(peer.headers(1, [[':status', '200']]));
    await requestArrived(5);
    const body = await peer.waitFor((f) => f.type === T.DATA && f.streamId === 5 && (f.flags & F.END_STREAM) !== 0);
    assert.equal(body.payload.toString(), 'body-c');
    peer.send(peer.headers(3, [[':status', '200']]));
    await requestArrived(9);
    await peer.waitFor((f) => f.type === T.HEADERS && f.streamId === 9 && (f.flags & F.END_STREAM) !== 0); // trailers
    peer.send(peer.headers(5, [[':status', '201']]), peer.headers(9, [[':status', '202']]));
    await Promise.all([first.done, second.done, post.done, withTrailers.done]);
    assert.deepEqual([first.status, second.status, post.status, withTrailers.status], [200, 200, 201, 202]);
    assert.equal(cancelled.resetCode, undefined);
    assert.ok(!peer.frames.some((f) => f.streamId === 7), 'the stream cancelled while waiting never reached the wire');
    assert.deepEqual(peer.frames.filter((f) => f.type === T.HEADERS).map((f) => f.streamId), [1, 3, 5, 9, 9]);
    assert.equal(client.connection.activeStreams, 0);
  });

  it('a server GOAWAY resets streams still waiting for a slot as unprocessed', async () => {
    peer.send(settings([[3, 1]]));
    await peer.roundTrip();
    const open = client.request('/open');
    const waiting = client.request('/waiting');
    await requestArrived(1);
    peer.send(goaway(1, E.NO_ERROR));
    await waiting.done;
    assert.deepEqual([waiting.resetCode, waiting.unprocessed], [E.REFUSED_STREAM, true]);
    peer.send(peer.headers(1, [[':status', '200']]));
    await open.done;
    assert.equal(open.status, 200);
  });

  it('RST_STREAM REFUSED_STREAM is reported as unprocessed (safe to retry)', async () => {
    const x = client.request('/refused');
    await requestArrived(1);
    peer.send(rstStream(1, E.REFUSED_STREAM));
    await x.done;
    assert.equal(x.resetCode, E.REFUSED_STREAM);
    assert.equal(x.unprocessed, true);
  });

  it('RST_STREAM NO_ERROR after a complete response stops our request body without failing the stream', async () => {
    const stream = client.connection.openStream();
    const x = new ClientExchange(stream);
    const fields = [':method', 'POST', ':scheme', 'http', ':authority', 'a', ':path', '/early-answer'];
    stream.sendHeaders(fields, fields.length, false);
    stream.sendData(Buffer.from('part'), false);
    await requestArrived(1);
    peer.send(peer.headers(1, [[':status', '413']], true), rstStream(1, E.NO_ERROR));
    await x.done;
    assert.equal(x.status, 413);
    assert.equal(x.resetCode, undefined);
    await peer.roundTrip();
    assert.equal(client.connection.activeStreams, 0);
  });

  it('padded DATA: the payload is delivered, the padding is not', async () => {
    const x = client.request('/padded');
    await requestArrived(1);
    const payload = Buffer.concat([Buffer.from([5]), Buffer.from('hello'), Buffer.alloc(5)]);
    peer.send(peer.headers(1, [[':status', '200']], false), frame(T.DATA, F.PADDED | F.END_STREAM, 1, payload));
    await x.done;
    assert.equal(x.body.toString(), 'hello');
  });
});
