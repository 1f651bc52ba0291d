// Differential test of the fast HTTP/1.1 path against node's llhttp: one corpus of request-smuggling shapes and
// plain requests, fed (1) to the fast parser and (2) on real sockets to a node:http server and to meshlet (fast
// path on); meshlet must accept and reject exactly what llhttp does, and the fast parser must never accept a head
// llhttp rejects (it defers everything it does not serve to llhttp).

import * as assert from 'node:assert/strict';
import * as http from 'node:http';
import * as net from 'node:net';
import { HEAD_DEFER, HEAD_INCOMPLETE, parseRequestHead, type ParsedRequestHead } from '../../../sidecar/src/proxy/h1/h1-request-parser';
import type { Sidecar } from '../../../sidecar/src/sidecar';
import { httpListener, listenerPort, startStaticSidecar, staticCluster } from '../../support/sidecar';

interface Entry {
  readonly name: string;
  readonly bytes: Buffer;
  /**
   * Sent one after another, each once the previous one got response bytes: otherwise node's server answers a bad
   * pipelined request with 400 and closes before answering the good one it already accepted.
   */
  readonly parts?: readonly Buffer[];
  /** The fast parser must serve this one (a plain request: the fast path is really exercised). */
  readonly fast?: boolean;
}

const entry = (name: string, text: string, fast = false): Entry => ({ name, bytes: Buffer.from(text, 'latin1'), fast });
const sequence = (name: string, texts: readonly string[], fast = false): Entry => ({
  ...entry(name, texts.join(''), fast),
  parts: texts.map((t) => Buffer.from(t, 'latin1')),
});
const H = 'Host: a.test\r\n';

const CORPUS: readonly Entry[] = [
  // plain requests the fast path serves
  entry('GET', `GET / HTTP/1.1\r\n${H}Connection: close\r\n\r\n`, true),
  entry('GET with query and headers', `GET /p/a?x=1&y=%20z HTTP/1.1\r\n${H}Accept: */*\r\nX-A: 1\r\nX-A: 2\r\nConnection: close\r\n\r\n`, true),
  entry('lower-case names, tabs in a value', `GET / HTTP/1.1\r\nhost: a.test\r\nx-v: a\tb  \r\nconnection: close\r\n\r\n`, true),
  entry('obs-text in a value', `GET / HTTP/1.1\r\n${H}X-L: caf\xe9\r\nConnection: close\r\n\r\n`, true),
  entry('POST with Content-Length', `POST /u HTTP/1.1\r\n${H}Content-Length: 5\r\nConnection: close\r\n\r\nhello`, true),
  entry('HEAD', `HEAD / HTTP/1.1\r\n${H}Connection: close\r\n\r\n`, true),
  entry('pipelined GETs', `GET /1 HTTP/1.1\r\n${H}\r\nGET /2 HTTP/1.1\r\n${H}Connection: close\r\n\r\n`, true),
  entry('fast request, then a chunked one (node takes over mid-connection)', `GET /1 HTTP/1.1\r\n${H}\r\nPOST /2 HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n5\r\nhello\r\n0\r\n\r\n`, true),
  sequence('fast request, then CL + TE smuggling', [`GET /1 HTTP/1.1\r\n${H}\r\n`, `POST / HTTP/1.1\r\n${H}Content-Length: 6\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nG`], true),
  sequence('fast request, then obs-fold', [`GET /1 HTTP/1.1\r\n${H}\r\n`, `GET /2 HTTP/1.1\r\n${H}X-F: a\r\n b\r\n\r\n`], true),
  entry('POST body, then a pipelined GET', `POST /u HTTP/1.1\r\n${H}Content-Length: 3\r\n\r\nabcGET /2 HTTP/1.1\r\n${H}Connection: close\r\n\r\n`, true),
  entry('empty header value', `GET / HTTP/1.1\r\n${H}X-E:\r\nConnection: close\r\n\r\n`, true),
  // Content-Length / Transfer-Encoding smuggling
  entry('CL + TE', `POST / HTTP/1.1\r\n${H}Content-Length: 6\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n0\r\n\r\nG`),
  entry('TE + CL', `POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\nContent-Length: 6\r\nConnection: close\r\n\r\n0\r\n\r\nG`),
  entry('duplicate CL, same value', `POST / HTTP/1.1\r\n${H}Content-Length: 5\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello`),
  entry('duplicate CL, different values', `POST / HTTP/1.1\r\n${H}Content-Length: 5\r\nContent-Length: 6\r\nConnection: close\r\n\r\nhello!`),
  entry('CL list', `POST / HTTP/1.1\r\n${H}Content-Length: 5, 5\r\nConnection: close\r\n\r\nhello`),
  entry('CL with a sign', `POST / HTTP/1.1\r\n${H}Content-Length: +5\r\nConnection: close\r\n\r\nhello`),
  entry('CL negative', `POST / HTTP/1.1\r\n${H}Content-Length: -1\r\nConnection: close\r\n\r\n`),
  entry('CL not a number', `POST / HTTP/1.1\r\n${H}Content-Length: five\r\nConnection: close\r\n\r\nhello`),
  entry('CL with inner space', `POST / HTTP/1.1\r\n${H}Content-Length: 1 0\r\nConnection: close\r\n\r\n0123456789`),
  entry('CL huge', `POST / HTTP/1.1\r\n${H}Content-Length: 99999999999999999999\r\nConnection: close\r\n\r\n`),
  entry('TE chunked, valid', `POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n5\r\nhello\r\n0\r\n\r\n`),
  entry('TE chunked, bad chunk size', `POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\nConnection: close\r\n\r\nzz\r\nhello\r\n0\r\n\r\n`),
  entry('TE chunked, negative chunk size', `POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n-5\r\nhello\r\n0\r\n\r\n`),
  entry('TE chunked, chunk size overflow', `POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\nConnection: close\r\n\r\nffffffffffffffffff1\r\nhello\r\n0\r\n\r\n`),
  entry('TE chunked, chunk size with space', `POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n5 5\r\nhello\r\n0\r\n\r\n`),
  entry('TE chunked, missing chunk CRLF', `POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n5\r\nhelloXX0\r\n\r\n`),
  entry('TE chunked, invalid chunk extension', `POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n5;\x01\r\nhello\r\n0\r\n\r\n`),
  entry('TE not chunked last', `POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked, identity\r\nConnection: close\r\n\r\n5\r\nhello\r\n0\r\n\r\n`),
  entry('TE xchunked', `POST / HTTP/1.1\r\n${H}Transfer-Encoding: xchunked\r\nConnection: close\r\n\r\n5\r\nhello\r\n0\r\n\r\n`),
  entry('TE duplicated', `POST / HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n5\r\nhello\r\n0\r\n\r\n`),
  entry('TE with obs-fold', `POST / HTTP/1.1\r\n${H}Transfer-Encoding:\r\n chunked\r\nConnection: close\r\n\r\n5\r\nhello\r\n0\r\n\r\n`),
  // folding, whitespace and invalid characters
  entry('obs-fold', `GET / HTTP/1.1\r\n${H}X-F: a\r\n b\r\nConnection: close\r\n\r\n`),
  entry('space before colon', `GET / HTTP/1.1\r\nHost : a.test\r\nConnection: close\r\n\r\n`),
  entry('tab before colon', `GET / HTTP/1.1\r\n${H}X-T\t: v\r\nConnection: close\r\n\r\n`),
  entry('invalid name character', `GET / HTTP/1.1\r\n${H}X(A): v\r\nConnection: close\r\n\r\n`),
  entry('empty header name', `GET / HTTP/1.1\r\n${H}: v\r\nConnection: close\r\n\r\n`),
  entry('NUL in a value', `GET / HTTP/1.1\r\n${H}X-N: a\x00b\r\nConnection: close\r\n\r\n`),
  entry('bare CR in a value', `GET / HTTP/1.1\r\n${H}X-C: a\rb\r\nConnection: close\r\n\r\n`),
  entry('control character in a value', `GET / HTTP/1.1\r\n${H}X-C: a\x7fb\r\nConnection: close\r\n\r\n`),
  entry('bare LF line ends', `GET / HTTP/1.1\n${H.replace('\r\n', '\n')}Connection: close\n\n`),
  entry('LF after header', `GET / HTTP/1.1\r\n${H}X-A: 1\nConnection: close\r\n\r\n`),
  entry('space in the target', `GET /a b HTTP/1.1\r\n${H}Connection: close\r\n\r\n`),
  entry('control character in the target', `GET /a\x01b HTTP/1.1\r\n${H}Connection: close\r\n\r\n`),
  entry('two spaces after the method', `GET  / HTTP/1.1\r\n${H}Connection: close\r\n\r\n`),
  entry('lower-case method', `get / HTTP/1.1\r\n${H}Connection: close\r\n\r\n`),
  entry('unknown method', `FOO / HTTP/1.1\r\n${H}Connection: close\r\n\r\n`),
  entry('HTTP/1.0', `GET / HTTP/1.0\r\n${H}\r\n`),
  entry('HTTP/2.0 in a request line', `GET / HTTP/2.0\r\n${H}Connection: close\r\n\r\n`),
  entry('bad version', `GET / HTTP/1.x\r\n${H}Connection: close\r\n\r\n`),
  entry('absolute-form target', `GET http://a.test/ HTTP/1.1\r\n${H}Connection: close\r\n\r\n`),
  entry('no Host', `GET / HTTP/1.1\r\nConnection: close\r\n\r\n`),
  entry('two Host headers', `GET / HTTP/1.1\r\n${H}${H}Connection: close\r\n\r\n`),
  entry('leading CRLF', `\r\nGET / HTTP/1.1\r\n${H}Connection: close\r\n\r\n`),
  // sizes
  entry('head of 20 KiB (under the 60 KiB limit)', `GET / HTTP/1.1\r\n${H}X-Big: ${'a'.repeat(20 * 1024)}\r\nConnection: close\r\n\r\n`),
  entry('oversized head (70 KiB)', `GET / HTTP/1.1\r\n${H}X-Big: ${'a'.repeat(70 * 1024)}\r\nConnection: close\r\n\r\n`),
  entry('many headers', `GET / HTTP/1.1\r\n${H}${Array.from({ length: 300 }, (_, i) => `X-H${i}: ${i}\r\n`).join('')}Connection: close\r\n\r\n`),
];

/**
 * The verdict on one response: llhttp's refusals are 400, 431 (head too large), 501/505 (method, version); any
 * other status means the request was parsed and served (meshlet may route it elsewhere than the reference: 404).
 */
function verdict(status: number): string {
  return status === 400 || status === 431 || status === 501 || status === 505 ? `reject ${status}` : 'accept';
}

/** Sends the entry, returns the status codes of the responses read until the server closes or goes quiet. */
function exchange(port: number, e: Entry): Promise<number[]> {
  const parts = [...(e.parts ?? [e.bytes])];
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    let text = '';
    let timer: NodeJS.Timeout | undefined;
    const done = (): void => {
      clearTimeout(timer);
      socket.destroy();
      resolve([...text.matchAll(/HTTP\/1\.[01] (\d{3}) /g)].map((m) => Number(m[1])));
    };
    const quiet = (): void => {
      clearTimeout(timer);
      timer = setTimeout(done, 400);
    };
    socket.on('connect', () => {
      socket.write(parts.shift() as Buffer);
      quiet();
    });
    socket.on('data', (chunk: Buffer) => {
      text += chunk.toString('latin1');
      const next = parts.shift();
      if (next !== undefined) socket.write(next);
      quiet();
    });
    socket.on('close', done);
    socket.on('error', () => undefined);
  });
}

/** The reference: node's HTTP/1.1 server with the proxy's options; answers 200 once a request body was read. */
function llhttpServer(): http.Server {
  return http.createServer({ maxHeaderSize: 60 * 1024 }, (req, res) => {
    req.resume();
    req.on('end', () => res.end('ok'));
  });
}

function listen(server: net.Server): Promise<number> {
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve((server.address() as net.AddressInfo).port)));
}

function head(): ParsedRequestHead {
  return { method: '', path: '', host: '', headers: {}, contentLength: 0, close: false };
}

describe('fast HTTP/1.1 parser vs llhttp (differential)', function () {
  this.timeout(30_000);
  let reference: http.Server;
  let backend: http.Server;
  let referencePort: number;
  let sidecar: Sidecar;
  let meshletPort: number;
  const verdicts = new Map<string, number[]>();

  before(async () => {
    reference = llhttpServer();
    referencePort = await listen(reference);
    backend = llhttpServer();
    const backendPort = await listen(backend);
    sidecar = await startStaticSidecar({
      listeners: [httpListener('diff', [{ name: 'all', domains: ['*'], routes: [{ match: { prefix: '/' }, route: { cluster: 'backend' } }] }])],
      clusters: [staticCluster('backend', [backendPort])],
    });
    meshletPort = listenerPort(sidecar, 'diff');
    const results = await Promise.all(CORPUS.map((e) => exchange(referencePort, e)));
    CORPUS.forEach((e, i) => verdicts.set(e.name, results[i] ?? []));
  });

  after(async () => {
    await sidecar?.stop();
    reference?.close();
    backend?.close();
  });

  it('the fast parser accepts only heads llhttp accepts, and serves the plain ones itself', () => {
    for (const e of CORPUS) {
      const used = parseRequestHead(e.bytes, 0, e.bytes.length, head());
      const reference = verdicts.get(e.name) ?? [];
      if (used > 0) assert.equal(reference[0], 200, `${e.name}: the fast parser accepts what llhttp answers with ${reference[0] ?? 'nothing'}`);
      if (e.fast === true) assert.ok(used > 0, `${e.name}: expected the fast path to serve it, parser returned ${used}`);
      else assert.ok(used === HEAD_DEFER || used === HEAD_INCOMPLETE || reference[0] === 200, `${e.name}: parser returned ${used}`);
    }
  });

  it('meshlet accepts and rejects exactly what llhttp does (same verdict sequence per connection)', async () => {
    const results = await Promise.all(CORPUS.map((e) => exchange(meshletPort, e)));
    const mismatches: string[] = [];
    CORPUS.forEach((e, i) => {
      const expected = (verdicts.get(e.name) ?? []).map(verdict);
      const actual = (results[i] ?? []).map(verdict);
      if (JSON.stringify(actual) !== JSON.stringify(expected)) mismatches.push(`${e.name}: llhttp ${JSON.stringify(expected)}, meshlet ${JSON.stringify(actual)}`);
    });
    assert.deepEqual(mismatches, []);
  });

  it('the corpus has both outcomes', () => {
    const accepted = [...verdicts.values()].filter((v) => v[0] === 200).length;
    assert.ok(accepted >= 8 && accepted < CORPUS.length - 15, `accepted ${accepted} of ${CORPUS.length}`);
  });
});
