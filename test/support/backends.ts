// Real backends on 127.0.0.1 for data-plane tests: HTTP/1.1, h2c, HTTP/2 over TLS, and gRPC (echo service).

import * as fs from 'node:fs';
import * as http from 'node:http';
import * as http2 from 'node:http2';
import type { AddressInfo } from 'node:net';
import * as path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';

const repoRoot = path.resolve(__dirname, '..', '..', '..');
export const TLS_DIR = path.join(repoRoot, 'test', 'fixtures', 'tls');
export const tlsFile = (name: string): string => path.join(TLS_DIR, name);

/** A running backend: its port, how many requests it served, and how to stop it. */
export interface Backend {
  readonly name: string;
  readonly port: number;
  requests: number;
  close(): Promise<void>;
}

/**
 * The echo behaviour every HTTP backend shares, driven by the query string:
 * `status=N` answers N; `delay=MS` waits first; `trailers=1` adds trailers; `/info` answers JSON with what was
 * received (method, path, headers); anything else echoes the request body. Every response carries `x-backend`.
 */
async function echo(name: string, method: string, url: string, headers: http.IncomingHttpHeaders, body: AsyncIterable<Buffer>, reply: (status: number, headers: http.OutgoingHttpHeaders, body: Buffer, trailers?: http.OutgoingHttpHeaders) => void): Promise<void> {
  const parsed = new URL(url, 'http://backend');
  const chunks: Buffer[] = [];
  for await (const chunk of body) chunks.push(chunk);
  const received = Buffer.concat(chunks);
  const delay = Number(parsed.searchParams.get('delay') ?? 0);
  if (delay > 0) await new Promise((resolve) => setTimeout(resolve, delay));
  const status = Number(parsed.searchParams.get('status') ?? 200);
  const trailers = parsed.searchParams.get('trailers') === '1' ? { 'x-trailer-one': 'one', 'x-body-length': String(received.length) } : undefined;
  if (parsed.pathname.startsWith('/info')) {
    const info = Buffer.from(JSON.stringify({ backend: name, method, path: url, headers, bodyLength: received.length }));
    reply(status, { 'content-type': 'application/json', 'x-backend': name }, info, trailers);
    return;
  }
  reply(status, { 'content-type': headers['content-type'] ?? 'application/octet-stream', 'x-backend': name }, received, trailers);
}

/**
 * `forcedStatus`: answer every request with this status (a failing backend). `delayMs`: wait this long before
 * answering (a slow backend). Both are read per request, so a test may change them on the options object it passed.
 */
export async function startHttp1Backend(name: string, options: { forcedStatus?: number; delayMs?: number } = {}): Promise<Backend> {
  const server = http.createServer(async (req, res) => {
    backend.requests += 1;
    if (options.delayMs !== undefined && options.delayMs > 0) await new Promise((resolve) => setTimeout(resolve, options.delayMs));
    if (options.forcedStatus !== undefined) {
      req.resume();
      res.writeHead(options.forcedStatus, { 'x-backend': name, 'content-length': 0 }).end();
      return;
    }
    void echo(name, req.method ?? 'GET', req.url ?? '/', req.headers, req, (status, headers, body, trailers) => {
      if (trailers !== undefined) {
        res.writeHead(status, { ...headers, trailer: Object.keys(trailers).join(', ') });
        res.write(body);
        res.addTrailers(trailers);
        res.end();
      } else {
        res.writeHead(status, { ...headers, 'content-length': body.length });
        res.end(body);
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const backend: Backend = {
    name,
    port: (server.address() as AddressInfo).port,
    requests: 0,
    close: () => new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
  return backend;
}

function serveHttp2(name: string, server: http2.Http2Server | http2.Http2SecureServer, backend: { requests: number }): void {
  server.on('stream', (stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders) => {
    backend.requests += 1;
    stream.on('error', () => undefined);
    const plain: http.IncomingHttpHeaders = {};
    for (const key of Object.keys(headers)) if (!key.startsWith(':')) plain[key] = headers[key] as string;
    plain[':authority'] = String(headers[':authority'] ?? '');
    void echo(name, String(headers[':method']), String(headers[':path']), plain, stream, (status, out, body, trailers) => {
      if (stream.destroyed) return;
      stream.respond({ ...out, ':status': status }, trailers !== undefined ? { waitForTrailers: true } : {});
      if (trailers !== undefined) stream.once('wantTrailers', () => stream.sendTrailers(trailers));
      stream.end(body);
    });
  });
}

export async function startH2cBackend(name: string): Promise<Backend> {
  const server = http2.createServer();
  const sessions = new Set<http2.ServerHttp2Session>();
  server.on('session', (s) => {
    sessions.add(s);
    s.on('close', () => sessions.delete(s));
  });
  const backend: Backend = { name, port: 0, requests: 0, close: async () => undefined };
  serveHttp2(name, server, backend);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return Object.assign(backend, {
    port: (server.address() as AddressInfo).port,
    close: () => new Promise<void>((resolve) => {
      for (const s of sessions) s.destroy();
      server.close(() => resolve());
    }),
  });
}

export async function startTlsBackend(name: string): Promise<Backend> {
  const server = http2.createSecureServer({
    key: fs.readFileSync(tlsFile('server.key')),
    cert: fs.readFileSync(tlsFile('server.crt')),
    allowHTTP1: true,
  });
  const sessions = new Set<http2.ServerHttp2Session>();
  server.on('session', (s) => {
    sessions.add(s);
    s.on('close', () => sessions.delete(s));
  });
  const backend: Backend = { name, port: 0, requests: 0, close: async () => undefined };
  serveHttp2(name, server, backend);
  server.on('request', (req: http2.Http2ServerRequest, res: http2.Http2ServerResponse) => {
    if (req.httpVersionMajor === 2) return; // handled by 'stream'
    backend.requests += 1;
    void echo(name, req.method, req.url, req.headers as http.IncomingHttpHeaders, req as unknown as AsyncIterable<Buffer>, (status, headers, body) => {
      res.writeHead(status, { ...headers, 'content-length': body.length });
      res.end(body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return Object.assign(backend, {
    port: (server.address() as AddressInfo).port,
    close: () => new Promise<void>((resolve) => {
      for (const s of sessions) s.destroy();
      server.close(() => resolve());
    }),
  });
}

// === gRPC ===

const ECHO_PROTO = path.join(repoRoot, 'test', 'fixtures', 'echo.proto');

/** The test Echo service (test/fixtures/echo.proto) as a grpc-js package definition. */
export function echoPackage(): grpc.GrpcObject {
  const definition = protoLoader.loadSync(ECHO_PROTO, { keepCase: true, longs: String, defaults: true });
  return grpc.loadPackageDefinition(definition);
}

export interface EchoMessage {
  message: string;
  payload?: Buffer;
  backend?: string;
}

type EchoServiceClient = grpc.Client & {
  Unary(req: EchoMessage, metadata: grpc.Metadata, options: grpc.CallOptions, cb: (err: grpc.ServiceError | null, res?: EchoMessage) => void): grpc.ClientUnaryCall;
  ServerStream(req: EchoMessage, metadata?: grpc.Metadata): grpc.ClientReadableStream<EchoMessage>;
  ClientStream(cb: (err: grpc.ServiceError | null, res?: EchoMessage) => void): grpc.ClientWritableStream<EchoMessage>;
  Bidi(): grpc.ClientDuplexStream<EchoMessage, EchoMessage>;
};

export function echoClient(address: string, options: grpc.ClientOptions = {}): EchoServiceClient {
  const pkg = echoPackage() as unknown as { meshlet: { test: { Echo: new (address: string, creds: grpc.ChannelCredentials, options: grpc.ClientOptions) => EchoServiceClient } } };
  return new pkg.meshlet.test.Echo(address, grpc.credentials.createInsecure(), options);
}

/**
 * A gRPC Echo server. Unary answers the message (a message `fail:CODE` fails with that status and message
 * `failed on NAME`); ServerStream sends the message back 3 times; ClientStream joins what it got; Bidi echoes each
 * message. Every reply carries `backend`; trailing metadata `x-backend` too.
 */
export async function startGrpcBackend(name: string): Promise<Backend> {
  const server = new grpc.Server();
  const pkg = echoPackage() as unknown as { meshlet: { test: { Echo: { service: grpc.ServiceDefinition } } } };
  const backend: Backend = { name, port: 0, requests: 0, close: async () => undefined };
  const trailing = (): grpc.Metadata => {
    const md = new grpc.Metadata();
    md.set('x-backend', name);
    return md;
  };
  server.addService(pkg.meshlet.test.Echo.service, {
    Unary: (call: grpc.ServerUnaryCall<EchoMessage, EchoMessage>, callback: grpc.sendUnaryData<EchoMessage>) => {
      backend.requests += 1;
      const failure = /^fail:(\d+)$/.exec(call.request.message);
      if (failure !== null) {
        callback({ code: Number(failure[1]), details: `failed on ${name}`, metadata: trailing() } as grpc.ServiceError);
        return;
      }
      callback(null, { message: call.request.message, payload: call.request.payload ?? Buffer.alloc(0), backend: name }, trailing());
    },
    ServerStream: (call: grpc.ServerWritableStream<EchoMessage, EchoMessage>) => {
      backend.requests += 1;
      for (let i = 0; i < 3; i += 1) call.write({ message: `${call.request.message}#${i}`, backend: name });
      call.end(trailing());
    },
    ClientStream: (call: grpc.ServerReadableStream<EchoMessage, EchoMessage>, callback: grpc.sendUnaryData<EchoMessage>) => {
      backend.requests += 1;
      const parts: string[] = [];
      let bytes = 0;
      call.on('data', (m: EchoMessage) => {
        parts.push(m.message);
        bytes += m.payload?.length ?? 0;
      });
      call.on('end', () => callback(null, { message: `${parts.join(',')}|${bytes}`, backend: name }, trailing()));
    },
    Bidi: (call: grpc.ServerDuplexStream<EchoMessage, EchoMessage>) => {
      backend.requests += 1;
      call.on('data', (m: EchoMessage) => call.write({ message: m.message, payload: m.payload ?? Buffer.alloc(0), backend: name }));
      call.on('end', () => call.end(trailing()));
    },
  });
  const port = await new Promise<number>((resolve, reject) => {
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (error, bound) => (error ? reject(error) : resolve(bound)));
  });
  return Object.assign(backend, {
    port,
    close: () => new Promise<void>((resolve) => {
      server.forceShutdown();
      resolve();
    }),
  });
}
