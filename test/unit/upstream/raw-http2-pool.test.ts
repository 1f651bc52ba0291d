// RawHttp2Pool against a node:http2 server on 127.0.0.1: connections are shared, retired at
// max_requests_per_connection and when their stream ids run out, and closed gracefully.

import * as assert from 'node:assert/strict';
import * as http2 from 'node:http2';
import type { AddressInfo } from 'node:net';
import type { H2HeaderBlock } from '../../../sidecar/src/codec/http2/h2-header-block';
import type { H2Stream, H2StreamHandler } from '../../../sidecar/src/codec/http2/h2-stream';
import { systemClock } from '../../../sidecar/src/core/clock';
import type { PoolSettings } from '../../../sidecar/src/upstream/pool/pool-settings';
import { RawHttp2Pool, type PooledH2Connection } from '../../../sidecar/src/upstream/pool/raw-http2-pool';

const quietLogger = { debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined, child: () => quietLogger } as unknown as PoolSettings['logger'];

function poolSettings(overrides: Partial<PoolSettings> = {}): PoolSettings {
  return {
    clusterName: 'test',
    connectTimeoutMs: 1000,
    maxConnections: 1024,
    idleTimeoutMs: 0,
    maxRequestsPerConnection: null,
    maxConnectionDurationMs: null,
    localAddress: null,
    http2: { maxConcurrentStreams: 2 ** 31 - 1, initialStreamWindowSize: 65_535, initialConnectionWindowSize: 65_535, allowConnect: false, hpackTableSize: 4096, keepaliveIntervalMs: null, keepaliveTimeoutMs: null },
    tls: null,
    protocol: 'http2',
    clock: systemClock,
    logger: quietLogger,
    onAlpn: () => undefined,
    onMaxDurationReached: () => undefined,
    ...overrides,
  } as PoolSettings;
}

/** One GET on a pooled connection; resolves with the status. */
function get(entry: PooledH2Connection, path: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const stream = entry.connection.openStream();
    const handler: H2StreamHandler = {
      streamHeaders: (_s: H2Stream, block: H2HeaderBlock, endStream: boolean) => {
        if (endStream) resolve(block.status);
      },
      streamData: () => undefined,
      streamTrailers: () => undefined,
      streamReset: (_s: H2Stream, code: number) => reject(new Error(`reset ${code}`)),
      streamDrain: () => undefined,
    };
    stream.handler = handler;
    const fields = [':method', 'GET', ':scheme', 'http', ':authority', 'backend', ':path', path];
    stream.sendHeaders(fields, fields.length, true);
  });
}

describe('RawHttp2Pool', function () {
  this.timeout(10_000);
  let server: http2.Http2Server;
  let port: number;
  let sessions: number;
  let pool: RawHttp2Pool | undefined;

  beforeEach(async () => {
    sessions = 0;
    server = http2.createServer();
    server.on('session', (s) => {
      sessions += 1;
      s.on('error', () => undefined);
    });
    server.on('stream', (stream) => stream.respond({ ':status': 204 }, { endStream: true }));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
  });
  afterEach(async () => {
    pool?.destroy();
    pool = undefined;
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  it('shares one connection between sequential and concurrent streams', async () => {
    pool = new RawHttp2Pool(poolSettings(), '127.0.0.1', port, 'backend');
    assert.equal(await get(pool.acquire(), '/a'), 204);
    const statuses = await Promise.all([1, 2, 3].map((i) => get(pool!.acquire(), `/c${i}`)));
    assert.deepEqual(statuses, [204, 204, 204]);
    assert.equal(sessions, 1);
  });

  it('max_requests_per_connection 2: a new connection every 2 streams', async () => {
    pool = new RawHttp2Pool(poolSettings({ maxRequestsPerConnection: 2 }), '127.0.0.1', port, 'backend');
    for (let i = 0; i < 5; i++) assert.equal(await get(pool.acquire(), `/r${i}`), 204);
    assert.equal(sessions, 3);
  });

  it('a connection whose stream ids run out is not handed out again; the next stream uses a new one', async () => {
    pool = new RawHttp2Pool(poolSettings(), '127.0.0.1', port, 'backend');
    const first = pool.acquire();
    assert.equal(await get(first, '/first'), 204);
    // Skip ahead to the last client stream id (2^31 - 1) instead of opening a billion streams.
    (first.connection as unknown as { nextStreamId: number }).nextStreamId = 2 ** 31 - 1;
    const last = pool.acquire();
    assert.equal(last, first);
    assert.equal(await get(last, '/last-id'), 204);
    assert.equal(first.connection.streamIdsLeft, 0);
    const next = pool.acquire();
    assert.notEqual(next, first, 'a connection without stream ids must not be reused');
    assert.equal(await get(next, '/next'), 204);
    assert.equal(sessions, 2);
  });

  it('close() resolves once every connection closed', async () => {
    pool = new RawHttp2Pool(poolSettings(), '127.0.0.1', port, 'backend');
    assert.equal(await get(pool.acquire(), '/a'), 204);
    await pool.close();
    assert.equal(pool.connections, 0);
  });
});
