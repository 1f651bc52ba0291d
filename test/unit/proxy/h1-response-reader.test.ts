// The fast path's upstream response reader: framing (Content-Length, chunked with trailers, until close, bodyless),
// reads split anywhere, and the strictness that keeps one response from smuggling bytes into the next.

import * as assert from 'node:assert/strict';
import type * as http from 'node:http';
import { H1ResponseReader, type ResponseSink } from '../../../sidecar/src/proxy/h1/h1-response-reader';

interface Outcome {
  status?: number;
  headers?: http.IncomingHttpHeaders;
  body: string;
  trailers?: http.IncomingHttpHeaders | undefined;
  reusable?: boolean;
  error?: string;
  ends: number;
}

/** Feeds `text` to a fresh reader in pieces of `split` bytes, through one reused buffer as the pool does. */
function read(text: string, options: { split?: number; head?: boolean; eof?: boolean } = {}): Outcome {
  const out: Outcome = { body: '', ends: 0 };
  const sink: ResponseSink = {
    onResponseHead(status, headers) {
      out.status = status;
      out.headers = headers;
    },
    onResponseBody(chunk) {
      out.body += chunk.toString('latin1');
    },
    onResponseEnd(trailers, reusable) {
      out.trailers = trailers;
      out.reusable = reusable;
      out.ends += 1;
    },
    onResponseError(reason) {
      out.error = reason;
      out.ends += 1;
    },
  };
  const reader = new H1ResponseReader(sink);
  reader.reset(options.head === true);
  const bytes = Buffer.from(text, 'latin1');
  const readBuffer = Buffer.alloc(16 * 1024);
  const step = options.split ?? bytes.length;
  for (let i = 0; i < bytes.length; i += step) {
    const n = bytes.copy(readBuffer, 0, i, Math.min(bytes.length, i + step));
    reader.push(readBuffer, n);
    readBuffer.fill(0x21); // the pool reuses its buffer: nothing may be read from it after the call
  }
  if (options.eof === true) reader.eof();
  return out;
}

const OK = 'HTTP/1.1 200 OK\r\n';

describe('fast HTTP/1.1 path: upstream response reader', () => {
  it('Content-Length body, in one read and split into 1-byte reads; hop-by-hop fields stay out', () => {
    const text = `${OK}Server: nginx\r\nContent-Length: 5\r\nConnection: keep-alive\r\nKeep-Alive: timeout=5\r\nX-A: 1\r\nX-A: 2\r\nSet-Cookie: a=1\r\nSet-Cookie: b=2\r\n\r\nhello`;
    for (const split of [undefined, 1, 7]) {
      const out = read(text, split === undefined ? {} : { split });
      assert.equal(out.status, 200);
      assert.equal(out.body, 'hello');
      assert.equal(out.reusable, true);
      assert.equal(out.ends, 1);
      assert.deepEqual(out.headers, { server: 'nginx', 'content-length': '5', 'x-a': '1, 2', 'set-cookie': ['a=1', 'b=2'] });
    }
  });

  it('chunked body is decoded and trailers kept, whatever the read boundaries', () => {
    const text = `${OK}Transfer-Encoding: chunked\r\nTrailer: grpc-status\r\n\r\n5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nGrpc-Status: 0\r\nX-T: a\r\n\r\n`;
    for (const split of [undefined, 1, 3, 10]) {
      const out = read(text, split === undefined ? {} : { split });
      assert.equal(out.error, undefined, `split ${split}`);
      assert.equal(out.body, 'hello world');
      assert.deepEqual(out.trailers, { 'grpc-status': '0', 'x-t': 'a' });
      assert.equal(out.headers?.['transfer-encoding'], undefined);
      assert.equal(out.reusable, true);
    }
  });

  it('no length: body until close, connection not reused; HTTP/1.0 and Connection: close not reused', () => {
    const out = read(`${OK}X: y\r\n\r\nuntil the end`, { eof: true });
    assert.equal(out.body, 'until the end');
    assert.equal(out.reusable, false);
    assert.equal(read('HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n').reusable, false);
    const closed = read(`${OK}Content-Length: 0\r\nConnection: close\r\n\r\n`);
    assert.equal(closed.reusable, false);
    assert.equal(closed.headers?.['connection'], 'close', 'kept: the exchange strips the fields it names');
  });

  it('HEAD, 204 and 304 have no body whatever the headers say; 1xx interim responses are skipped', () => {
    const head = read(`${OK}Content-Length: 64\r\n\r\n`, { head: true });
    assert.equal(head.ends, 1);
    assert.equal(head.headers?.['content-length'], '64');
    assert.equal(read('HTTP/1.1 204 No Content\r\n\r\n').ends, 1);
    assert.equal(read('HTTP/1.1 304 Not Modified\r\nContent-Length: 10\r\n\r\n').ends, 1);
    const early = read(`HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\nHTTP/1.1 100 Continue\r\n\r\n${OK}Content-Length: 2\r\n\r\nok`, { split: 5 });
    assert.equal(early.status, 200);
    assert.equal(early.body, 'ok');
  });

  it('refuses what could smuggle a response: CL+TE, differing CLs, bad CL, bad chunk sizes, obs-fold, bare LF, 101', () => {
    const bad: Record<string, string> = {
      'CL + TE': `${OK}Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n`,
      'differing CLs': `${OK}Content-Length: 5\r\nContent-Length: 6\r\n\r\nhello!`,
      'CL with a sign': `${OK}Content-Length: +5\r\n\r\nhello`,
      'chunk size not hex': `${OK}Transfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n`,
      'chunk size overflow': `${OK}Transfer-Encoding: chunked\r\n\r\nfffffffffffffffff\r\n`,
      'chunk without CRLF': `${OK}Transfer-Encoding: chunked\r\n\r\n5\r\nhelloXX0\r\n\r\n`,
      'obs-fold': `${OK}X: a\r\n b\r\nContent-Length: 0\r\n\r\n`,
      'bare LF': `HTTP/1.1 200 OK\nContent-Length: 0\n\n`,
      'NUL in a value': `${OK}X: a\x00b\r\nContent-Length: 0\r\n\r\n`,
      'space before colon': `${OK}X : a\r\nContent-Length: 0\r\n\r\n`,
      'bad status': 'HTTP/1.1 2000 OK\r\n\r\n',
      'not HTTP': 'SSH-2.0-OpenSSH\r\n\r\n',
      '101 without an upgrade': 'HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\n\r\n',
    };
    for (const [name, text] of Object.entries(bad)) {
      const out = read(text);
      assert.ok(out.error !== undefined, `${name}: accepted (${out.status})`);
      assert.equal(out.ends, 1, name);
    }
  });

  it('bytes after a complete response, or an EOF mid-response, never leave a reusable connection', () => {
    assert.equal(read(`${OK}Content-Length: 2\r\n\r\nokHTTP/1.1 200 OK\r\n`).reusable, false);
    const cut = read(`${OK}Content-Length: 10\r\n\r\nshort`, { eof: true });
    assert.match(cut.error ?? '', /closed mid-response/);
    assert.match(read('', { eof: true }).error ?? '', /closed before response/);
  });
});
