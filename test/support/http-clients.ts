// Small HTTP/1.1 and HTTP/2 clients for tests: one request, the whole reply (status, headers, body, trailers).

import * as http from 'node:http';
import * as http2 from 'node:http2';

export interface Reply {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
  trailers: http.IncomingHttpHeaders;
}

/** One HTTP/1.1 request on a fresh connection (or on `agent`'s connections when given). */
export function h1Request(port: number, host: string, path: string, options: { method?: string; body?: Buffer; headers?: http.OutgoingHttpHeaders; agent?: http.Agent } = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, method: options.method ?? (options.body ? 'POST' : 'GET'), path, headers: { host, ...options.headers }, agent: options.agent ?? false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks), trailers: res.trailers }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(options.body);
  });
}

/** One HTTP/2 request on a session. */
export function h2Request(session: http2.ClientHttp2Session, authority: string, path: string, options: { method?: string; body?: Buffer; headers?: http2.OutgoingHttpHeaders } = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const stream = session.request({ ':method': options.method ?? (options.body ? 'POST' : 'GET'), ':path': path, ':authority': authority, ...options.headers }, { endStream: options.body === undefined });
    let status = 0;
    let headers: http.IncomingHttpHeaders = {};
    let trailers: http.IncomingHttpHeaders = {};
    const chunks: Buffer[] = [];
    stream.on('response', (h) => {
      status = Number(h[':status']);
      headers = h as http.IncomingHttpHeaders;
    });
    stream.on('trailers', (t) => {
      trailers = t as http.IncomingHttpHeaders;
    });
    stream.on('data', (c: Buffer) => chunks.push(c));
    stream.on('end', () => resolve({ status, headers, body: Buffer.concat(chunks), trailers }));
    stream.on('error', reject);
    if (options.body !== undefined) stream.end(options.body);
  });
}


/** A node:http2 client session to 127.0.0.1:`port`, resolved once the server's SETTINGS arrived; errors are ignored. */
export async function connectH2(port: number, options: http2.ClientSessionOptions = {}): Promise<http2.ClientHttp2Session> {
  const session = http2.connect(`http://127.0.0.1:${port}`, options);
  session.on('error', () => undefined);
  await new Promise<void>((resolve, reject) => {
    session.once('remoteSettings', () => resolve());
    session.once('error', reject);
  });
  return session;
}
