// Reads of accepted sockets into the shared buffer (onread switched in place), the way back to stream reads, and
// the fast HTTP/1.1 path on top of it: pipelining, split heads and bodies, hand-over to llhttp mid-connection.

import * as assert from 'node:assert/strict';
import * as http from 'node:http';
import * as net from 'node:net';
import { once } from 'node:events';
import { readIntoSharedBuffer, restoreStreamReads } from '../../../sidecar/src/proxy/h1/socket-read-buffer';
import type { Sidecar } from '../../../sidecar/src/sidecar';
import { httpListener, listenerPort, startStaticSidecar, staticCluster } from '../../support/sidecar';

/** A server socket and its client, the server side paused with `sniffed` unshifted (as the listener leaves it). */
async function acceptedPair(sniffed: string): Promise<{ server: net.Server; accepted: net.Socket; client: net.Socket }> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  const accepting = once(server, 'connection') as Promise<[net.Socket]>;
  const client = net.connect(port, '127.0.0.1');
  const [accepted] = await accepting;
  if (sniffed !== '') {
    client.write(sniffed);
    const [first] = (await once(accepted, 'data')) as [Buffer];
    accepted.pause();
    accepted.unshift(first);
  } else {
    accepted.pause();
  }
  return { server, accepted, client };
}

function collect(target: string[]): (buffer: Buffer, length: number) => void {
  return (buffer, length) => target.push(buffer.toString('latin1', 0, length));
}

async function until(check: () => boolean): Promise<void> {
  while (!check()) await new Promise((resolve) => setImmediate(resolve));
}

describe('h1 socket reads into a shared buffer', function () {
  this.timeout(10_000);

  it('delivers the bytes the listener unshifted first, then later reads, then end', async () => {
    const { server, accepted, client } = await acceptedPair('sniffed ');
    const seen: string[] = [];
    assert.equal(readIntoSharedBuffer(accepted, collect(seen)), true);
    assert.deepEqual(seen, ['sniffed ']);
    accepted.resume();
    const ended = once(accepted, 'end');
    client.write('more');
    await until(() => seen.join('') === 'sniffed more');
    client.end();
    await ended;
    accepted.destroy();
    server.close();
  });

  it('pause() stops reading and resume() restarts it', async () => {
    const { server, accepted, client } = await acceptedPair('');
    const seen: string[] = [];
    assert.equal(readIntoSharedBuffer(accepted, collect(seen)), true);
    accepted.resume();
    client.write('a');
    await until(() => seen.join('') === 'a');
    accepted.pause();
    client.write('b');
    await new Promise((resolve) => setTimeout(resolve, 50));
    assert.equal(seen.join(''), 'a', 'no read while paused');
    accepted.resume();
    await until(() => seen.join('') === 'ab');
    client.destroy();
    accepted.destroy();
    server.close();
  });

  it('after restoreStreamReads the socket reads as a stream again (copies, data events)', async () => {
    const { server, accepted, client } = await acceptedPair('');
    const seen: string[] = [];
    assert.equal(readIntoSharedBuffer(accepted, collect(seen)), true);
    accepted.resume();
    client.write('x');
    await until(() => seen.length === 1);
    restoreStreamReads(accepted);
    const chunks: Buffer[] = [];
    accepted.on('data', (chunk: Buffer) => chunks.push(chunk));
    client.write('yz');
    await until(() => Buffer.concat(chunks).toString() === 'yz');
    assert.deepEqual(seen, ['x']);
    client.write('w');
    await until(() => Buffer.concat(chunks).toString() === 'yzw');
    assert.equal(chunks[0]?.toString(), 'yz', 'a later read does not overwrite an earlier chunk (copies)');
    client.destroy();
    accepted.destroy();
    server.close();
  });

  it('refuses a socket it cannot switch (no handle): the caller keeps data events', () => {
    assert.equal(readIntoSharedBuffer(new net.Socket(), () => undefined), false);
  });
});

describe('fast HTTP/1.1 path over shared-buffer reads', function () {
  this.timeout(20_000);
  let backend: http.Server;
  let sidecar: Sidecar;
  let port: number;

  before(async () => {
    backend = http.createServer((req, res) => {
      const parts: Buffer[] = [];
      req.on('data', (chunk: Buffer) => parts.push(chunk));
      req.on('end', () => res.end(`${req.method} ${req.url} ${Buffer.concat(parts).toString()}|`));
    });
    await new Promise<void>((resolve) => backend.listen(0, '127.0.0.1', resolve));
    sidecar = await startStaticSidecar({
      listeners: [httpListener('onread', [{ name: 'all', domains: ['*'], routes: [{ match: { prefix: '/' }, route: { cluster: 'backend' } }] }])],
      clusters: [staticCluster('backend', [(backend.address() as net.AddressInfo).port])],
    });
    port = listenerPort(sidecar, 'onread');
  });

  after(async () => {
    await sidecar?.stop();
    backend?.close();
  });

  /** Writes `parts` one after another (each after a pause), returns every response body read until `count`. */
  async function send(parts: readonly string[], count: number): Promise<string[]> {
    const socket = net.connect(port, '127.0.0.1');
    await once(socket, 'connect');
    let text = '';
    socket.on('data', (chunk: Buffer) => (text += chunk.toString('latin1')));
    for (const part of parts) {
      socket.write(part);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    await until(() => (text.match(/\|/g) ?? []).length >= count);
    socket.destroy();
    return [...text.matchAll(/\r\n\r\n(?:[0-9a-f]+\r\n)?([^|]*)\|/g)].map((m) => m[1] ?? '');
  }

  const get = (path: string): string => `GET ${path} HTTP/1.1\r\nHost: a.test\r\n\r\n`;
  const post = (path: string, body: string): string => `POST ${path} HTTP/1.1\r\nHost: a.test\r\nContent-Length: ${body.length}\r\n\r\n${body}`;

  it('serves pipelined requests from one read, in order', async () => {
    assert.deepEqual(await send([get('/1') + get('/2') + post('/3', 'body') + get('/4')], 4), ['GET /1 ', 'GET /2 ', 'POST /3 body', 'GET /4 ']);
  });

  it('serves heads and bodies split across reads', async () => {
    const whole = post('/split', 'abcdef') + get('/after');
    const cut1 = whole.indexOf('Content');
    const cut2 = whole.indexOf('abc') + 2;
    assert.deepEqual(await send([whole.slice(0, cut1), whole.slice(cut1, cut2), whole.slice(cut2)], 2), ['POST /split abcdef', 'GET /after ']);
  });

  it('hands the connection to llhttp mid-pipeline and llhttp reads the rest', async () => {
    // A chunked body is outside the fast path: llhttp takes over at that request boundary, with the bytes after it.
    const chunked = 'POST /chunked HTTP/1.1\r\nHost: a.test\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nxyz\r\n0\r\n\r\n';
    assert.deepEqual(await send([get('/fast') + chunked + get('/llhttp1'), get('/llhttp2')], 4), ['GET /fast ', 'POST /chunked xyz', 'GET /llhttp1 ', 'GET /llhttp2 ']);
  });
});
