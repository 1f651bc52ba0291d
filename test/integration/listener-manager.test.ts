// ListenerManager on real sockets (127.0.0.1, port 0) with stub handlers: bind, hand-off, TLS, sniffing, update, drain.

import * as assert from 'node:assert/strict';
import { once } from 'node:events';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as http2 from 'node:http2';
import * as https from 'node:https';
import * as net from 'node:net';
import * as path from 'node:path';
import * as tls from 'node:tls';
import { createConfigSnapshot, type ConfigSnapshot } from '../../sidecar/src/config/config-snapshot';
import type { ListenerConfig } from '../../sidecar/src/config/listener-config';
import { parseClientHello } from '../../sidecar/src/listener/client-hello-parser';
import type { ConnectionHandle, ConnectionHandlers, DownstreamConnectionInfo } from '../../sidecar/src/listener/connection-handlers';
import { ListenerManager } from '../../sidecar/src/listener/listener-manager';
import { chain, listener, serverTls, tcpProxy, TLS_DIR } from '../unit/listener/listener-builders';

const CA = fs.readFileSync(path.join(TLS_DIR, 'ca.crt'));

/** What the stub handlers saw, per connection. */
interface Seen {
  kind: 'http' | 'tcp';
  info: DownstreamConnectionInfo;
  codec: 'http1' | 'http2' | undefined;
  drained: number;
  socket: net.Socket;
  /** tcp: the first bytes received. */
  bytes: Buffer;
}

/** Stub proxy: HTTP answers with what the listener told it; TCP echoes after recording the first bytes. */
class StubHandlers implements ConnectionHandlers {
  readonly seen: Seen[] = [];
  private readonly h1 = http.createServer((req, res) => this.answer(req.socket, res));
  private readonly h2 = http2.createServer((req, res) => this.answer(req.socket, res));

  private answer(socket: net.Socket, res: http.ServerResponse | http2.Http2ServerResponse): void {
    const s = this.seen.find((x) => x.socket === socket || (x.socket as unknown) === (socket as unknown as { _parent?: unknown })) ?? this.seen[this.seen.length - 1]!;
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ ...s.info, codec: s.codec }));
  }

  http(socket: net.Socket, info: DownstreamConnectionInfo, _hcm: unknown, codec: 'http1' | 'http2'): ConnectionHandle {
    const seen: Seen = { kind: 'http', info, codec, drained: 0, socket, bytes: Buffer.alloc(0) };
    this.seen.push(seen);
    if (codec === 'http2') this.h2.emit('connection', socket);
    else {
      this.h1.emit('connection', socket);
      socket.resume();
    }
    return { drain: () => { seen.drained++; } };
  }

  tcp(socket: net.Socket, info: DownstreamConnectionInfo): ConnectionHandle {
    const seen: Seen = { kind: 'tcp', info, codec: undefined, drained: 0, socket, bytes: Buffer.alloc(0) };
    this.seen.push(seen);
    socket.on('data', (d: Buffer) => {
      seen.bytes = Buffer.concat([seen.bytes, d]);
      socket.write(d);
    });
    socket.on('error', () => undefined);
    socket.resume();
    return { drain: () => { seen.drained++; socket.end(); } };
  }
}

let version = 0;
function snapshot(...listeners: ListenerConfig[]): ConfigSnapshot {
  return createConfigSnapshot(++version, Date.now(), { listeners: new Map(listeners.map((l) => [l.name, l])), routes: new Map(), clusters: new Map(), endpoints: new Map() });
}

function getJson(port: number, pathName = '/', agent: http.Agent | false = false): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    http.get({ host: '127.0.0.1', port, path: pathName, agent }, (res) => {
      let body = '';
      res.on('data', (c) => (body += c)).on('end', () => resolve(JSON.parse(body) as Record<string, unknown>));
    }).on('error', reject);
  });
}

function h2Json(authority: string, options: http2.SecureClientSessionOptions = {}): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    const session = http2.connect(authority, options);
    session.on('error', reject);
    const req = session.request({ ':path': '/' });
    let body = '';
    req.on('data', (c) => (body += c)).on('end', () => {
      session.close();
      resolve(JSON.parse(body) as Record<string, unknown>);
    });
    req.on('error', reject);
  });
}

/** Resolves with true when the server closes the connection without data, false when it answers. */
function closedWithoutAnswer(port: number, send = 'GET / HTTP/1.1\r\nHost: x\r\n\r\n'): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1', () => socket.write(send));
    let got = false;
    socket.on('data', () => { got = true; });
    socket.on('error', () => undefined);
    socket.on('close', () => resolve(!got));
  });
}

const delay = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe('listener/listener-manager (integration)', () => {
  let handlers: StubHandlers;
  let manager: ListenerManager;
  beforeEach(() => {
    handlers = new StubHandlers();
    manager = new ListenerManager({ handlers, drainTimeoutMs: 300 });
  });
  afterEach(async () => {
    await manager.close();
  });

  function portOf(name: string): number {
    const a = manager.addresses().get(name);
    assert.ok(a, `listener ${name} is bound`);
    return a.port;
  }

  it('binds port 0, reports the real port and serves HTTP/1.1 with the connection info', async () => {
    assert.deepEqual(await manager.apply(snapshot(listener('l1', 0, [chain('c1', {}, undefined)]))), []);
    const port = portOf('l1');
    assert.ok(port > 0);
    const body = await getJson(port);
    assert.equal(body['listenerName'], 'l1');
    assert.equal(body['filterChainName'], 'c1');
    assert.equal(body['codec'], 'http1');
    assert.equal(body['transportProtocol'], 'raw_buffer');
    assert.equal(body['tlsTerminated'], false);
    assert.deepEqual(body['originalDst'], { host: '127.0.0.1', port });
    assert.equal(body['localPort'], port);
    assert.equal(manager.stats().get('l1')!.downstreamCxTotal, 1);
  });

  it('codec AUTO: the h2 preface gives http2, a request line http1; with and without http_inspector', async () => {
    await manager.apply(snapshot(
      listener('auto', 0, [chain('c', {})]),
      listener('inspected', 0, [chain('h2c', { applicationProtocols: ['h2c'] }), chain('h1', { applicationProtocols: ['http/1.1'] })], { listenerFilters: [{ name: 'envoy.filters.listener.http_inspector', kind: 'http_inspector' }] }),
    ));
    assert.equal((await h2Json(`http://127.0.0.1:${portOf('auto')}`))['codec'], 'http2');
    assert.equal((await getJson(portOf('auto')))['codec'], 'http1');
    const viaH2 = await h2Json(`http://127.0.0.1:${portOf('inspected')}`);
    assert.deepEqual([viaH2['codec'], viaH2['filterChainName']], ['http2', 'h2c']);
    const viaH1 = await getJson(portOf('inspected'));
    assert.deepEqual([viaH1['codec'], viaH1['filterChainName']], ['http1', 'h1']);
  });

  it('codec HTTP1 / HTTP2 fixed: no sniffing', async () => {
    await manager.apply(snapshot(listener('h2only', 0, [chain('c', {}, { ...(chain('x').network as object), codec: 'HTTP2' } as never)])));
    assert.equal((await h2Json(`http://127.0.0.1:${portOf('h2only')}`))['codec'], 'http2');
  });

  describe('use_original_dst hand-off (injected original destination)', () => {
    let dst: { host: string; port: number } | undefined;
    beforeEach(() => {
      dst = undefined;
      manager = new ListenerManager({ handlers, drainTimeoutMs: 300, originalDst: () => dst });
    });
    const outbound = (): ListenerConfig => listener('virtualOutbound', 0, [chain('virtualOutbound-catchall-tcp', {}, tcpProxy('PassthroughCluster'))], { useOriginalDst: true });
    const wildcard = listener('0.0.0.0_9080', 9080, [chain('http-9080', {})], { address: { kind: 'socket', host: '0.0.0.0', port: 9080, protocol: 'TCP' }, bindToPort: false });
    const exact = listener('10.96.0.1_9080', 9080, [chain('vip-9080', {}, tcpProxy('vip'))], { address: { kind: 'socket', host: '10.96.0.1', port: 9080, protocol: 'TCP' }, bindToPort: false });

    it('bind_to_port false listeners are not bound', async () => {
      await manager.apply(snapshot(outbound(), wildcard, exact));
      assert.deepEqual([...manager.addresses().keys()], ['virtualOutbound']);
    });

    it('hands to 0.0.0.0:port when no exact ip:port listener exists', async () => {
      await manager.apply(snapshot(outbound(), wildcard, exact));
      dst = { host: '10.96.0.7', port: 9080 };
      const body = await getJson(portOf('virtualOutbound'));
      assert.deepEqual([body['listenerName'], body['filterChainName']], ['0.0.0.0_9080', 'http-9080']);
      assert.deepEqual(body['originalDst'], { host: '10.96.0.7', port: 9080 });
      assert.equal(manager.stats().get('0.0.0.0_9080')!.downstreamCxTotal, 1);
      assert.equal(manager.stats().get('virtualOutbound')!.downstreamCxTotal, 0);
    });

    it('the exact ip:port listener wins over the wildcard one', async () => {
      await manager.apply(snapshot(outbound(), wildcard, exact));
      dst = { host: '10.96.0.1', port: 9080 };
      const socket = net.connect(portOf('virtualOutbound'), '127.0.0.1');
      socket.write('ping');
      await once(socket, 'data');
      socket.destroy();
      const seen = handlers.seen[0]!;
      assert.deepEqual([seen.kind, seen.info.listenerName, seen.info.filterChainName], ['tcp', '10.96.0.1_9080', 'vip-9080']);
    });

    it('no listener for the destination: the accepting listener\'s own chains (passthrough)', async () => {
      await manager.apply(snapshot(outbound(), wildcard));
      dst = { host: '192.0.2.1', port: 443 };
      const socket = net.connect(portOf('virtualOutbound'), '127.0.0.1');
      socket.write('hello');
      const [echo] = await once(socket, 'data');
      socket.destroy();
      assert.equal(String(echo), 'hello');
      assert.deepEqual([handlers.seen[0]!.info.listenerName, handlers.seen[0]!.info.filterChainName], ['virtualOutbound', 'virtualOutbound-catchall-tcp']);
      assert.deepEqual(handlers.seen[0]!.info.originalDst, { host: '192.0.2.1', port: 443 });
    });

    it('refuses a connection whose original destination is meshlet itself (no loop)', async () => {
      await manager.apply(snapshot(outbound(), listener('bound', 0, [chain('b', {})])));
      dst = { host: '127.0.0.1', port: portOf('virtualOutbound') };
      assert.equal(await closedWithoutAnswer(portOf('virtualOutbound')), true);
      dst = { host: '127.0.0.1', port: portOf('bound') };
      assert.equal(await closedWithoutAnswer(portOf('virtualOutbound')), true);
      assert.equal(handlers.seen.length, 0);
    });

    it('the original_dst listener filter sets the destination used for destination_port matching', async () => {
      await manager.apply(snapshot(listener('virtualInbound', 0, [
        chain('inbound-9080', { destinationPort: 9080 }),
        chain('inbound-passthrough', {}, tcpProxy('InboundPassthroughCluster')),
      ], { listenerFilters: [{ name: 'envoy.filters.listener.original_dst', kind: 'original_dst' }] })));
      dst = { host: '10.0.0.5', port: 9080 };
      const body = await getJson(portOf('virtualInbound'));
      assert.deepEqual([body['listenerName'], body['filterChainName']], ['virtualInbound', 'inbound-9080']);
      assert.deepEqual(body['originalDst'], { host: '10.0.0.5', port: 9080 });
    });
  });

  describe('TLS', () => {
    const tlsInspector = { name: 'envoy.filters.listener.tls_inspector', kind: 'tls_inspector' as const };

    it('terminates TLS and picks the codec from ALPN: h2 and http/1.1', async () => {
      await manager.apply(snapshot(listener('tls', 0, [chain('tls', {}, undefined, serverTls(['h2', 'http/1.1']))])));
      const port = portOf('tls');
      const viaH2 = await h2Json(`https://localhost:${port}`, { ca: CA });
      assert.deepEqual([viaH2['codec'], viaH2['alpn'], viaH2['tlsTerminated'], viaH2['transportProtocol'], viaH2['sni']], ['http2', 'h2', true, 'tls', 'localhost']);
      const viaH1 = await new Promise<Record<string, unknown>>((resolve, reject) => {
        https.get({ host: '127.0.0.1', servername: 'localhost', port, ca: CA, ALPNProtocols: ['http/1.1'], agent: false } as https.RequestOptions, (res) => {
          let body = '';
          res.on('data', (c) => (body += c)).on('end', () => resolve(JSON.parse(body) as Record<string, unknown>));
        }).on('error', reject);
      });
      assert.deepEqual([viaH1['codec'], viaH1['alpn']], ['http1', 'http/1.1']);
    });

    it('AUTO without negotiated ALPN sniffs the preface inside TLS', async () => {
      await manager.apply(snapshot(listener('tls', 0, [chain('tls', {}, undefined, serverTls([]))])));
      const body = await new Promise<Record<string, unknown>>((resolve, reject) => {
        https.get({ host: '127.0.0.1', servername: 'localhost', port: portOf('tls'), ca: CA, agent: false }, (res) => {
          let b = '';
          res.on('data', (c) => (b += c)).on('end', () => resolve(JSON.parse(b) as Record<string, unknown>));
        }).on('error', reject);
      });
      assert.deepEqual([body['codec'], body['alpn']], ['http1', undefined]);
    });

    it('tls_inspector: chains by SNI, and a passthrough TLS chain gets the untouched ClientHello', async () => {
      await manager.apply(snapshot(listener('sni', 0, [
        chain('a', { serverNames: ['a.test'], transportProtocol: 'tls' }, undefined, serverTls(['http/1.1'])),
        chain('wild', { serverNames: ['*.test'], transportProtocol: 'tls' }, undefined, serverTls(['http/1.1'])),
        chain('pass', { serverNames: ['pass.test'], transportProtocol: 'tls' }, tcpProxy('pass')),
        chain('plain', { transportProtocol: 'raw_buffer' }),
      ], { listenerFilters: [tlsInspector] })));
      const port = portOf('sni');
      const viaTls = (servername: string): Promise<Record<string, unknown>> => new Promise((resolve, reject) => {
        // *.test is a single-label wildcard Node's client refuses; the test is about the server's chain choice.
        https.get({ host: '127.0.0.1', servername, port, ca: CA, agent: false, checkServerIdentity: () => undefined }, (res) => {
          let b = '';
          res.on('data', (c) => (b += c)).on('end', () => resolve(JSON.parse(b) as Record<string, unknown>));
        }).on('error', reject);
      });
      assert.equal((await viaTls('a.test'))['filterChainName'], 'a');
      assert.equal((await viaTls('other.test'))['filterChainName'], 'wild');
      assert.equal((await getJson(port))['filterChainName'], 'plain');
      // Passthrough: the tcp handler must see the ClientHello exactly as sent.
      const client = tls.connect({ host: '127.0.0.1', port, servername: 'pass.test', ALPNProtocols: ['h2'], rejectUnauthorized: false });
      client.on('error', () => undefined);
      for (let i = 0; i < 100 && !handlers.seen.some((s) => s.kind === 'tcp' && s.bytes.length > 0); i++) await delay(10);
      client.destroy();
      const pass = handlers.seen.find((s) => s.kind === 'tcp')!;
      assert.deepEqual([pass.info.filterChainName, pass.info.transportProtocol, pass.info.sni, pass.info.alpn, pass.info.tlsTerminated], ['pass', 'tls', 'pass.test', 'h2', false]);
      const hello = parseClientHello(pass.bytes);
      assert.equal(hello.kind, 'tls');
      assert.equal(hello.kind === 'tls' && hello.serverName, 'pass.test');
    });

    it('an SDS-referenced certificate closes the connection (never plaintext)', async () => {
      const sds = serverTls([], { common: { ...serverTls().common, certificates: [{ kind: 'sds', name: 'default' }] } });
      await manager.apply(snapshot(listener('sds', 0, [chain('mtls', {}, undefined, sds)])));
      assert.equal(await closedWithoutAnswer(portOf('sds')), true);
      assert.equal(handlers.seen.length, 0);
    });

    it('require_client_certificate: refused without a client certificate, served with one', async () => {
      await manager.apply(snapshot(listener('mtls', 0, [chain('mtls', {}, undefined, serverTls(['http/1.1'], { requireClientCertificate: true }, true))])));
      const port = portOf('mtls');
      const request = (extra: https.RequestOptions): Promise<unknown> => new Promise((resolve, reject) => {
        https.get({ host: '127.0.0.1', servername: 'localhost', port, ca: CA, agent: false, ...extra }, (res) => {
          let b = '';
          res.on('data', (c) => (b += c)).on('end', () => resolve(JSON.parse(b)));
        }).on('error', reject);
      });
      await assert.rejects(request({}));
      const ok = (await request({ cert: fs.readFileSync(path.join(TLS_DIR, 'client.crt')), key: fs.readFileSync(path.join(TLS_DIR, 'client.key')) })) as Record<string, unknown>;
      assert.equal(ok['filterChainName'], 'mtls');
    });

    it('listener filter timeout: closes, or goes on as raw_buffer with continue_on_listener_filters_timeout', async () => {
      await manager.apply(snapshot(
        listener('strict', 0, [chain('tcp', {}, tcpProxy())], { listenerFilters: [tlsInspector], listenerFiltersTimeoutMs: 100 }),
        listener('lenient', 0, [chain('tcp', { transportProtocol: 'raw_buffer' }, tcpProxy())], { listenerFilters: [tlsInspector], listenerFiltersTimeoutMs: 100, continueOnListenerFiltersTimeout: true }),
      ));
      const strict = net.connect(portOf('strict'), '127.0.0.1');
      strict.on('error', () => undefined);
      await once(strict, 'close');
      const lenient = net.connect(portOf('lenient'), '127.0.0.1');
      await delay(200);
      lenient.write('late');
      const [echo] = await once(lenient, 'data');
      lenient.destroy();
      assert.equal(String(echo), 'late');
      assert.deepEqual(handlers.seen.map((s) => s.info.listenerName), ['lenient']);
    });
  });

  it('no filter chain match: closed and counted (NFCF)', async () => {
    await manager.apply(snapshot(listener('nfcf', 0, [chain('tls-only', { transportProtocol: 'tls' })])));
    assert.equal(await closedWithoutAnswer(portOf('nfcf')), true);
    assert.equal(manager.stats().get('nfcf')!.noFilterChainMatch, 1);
    assert.equal(manager.stats().get('nfcf')!.downstreamCxActive, 0);
  });

  it('EADDRINUSE is reported per listener, not thrown, and the others still bind', async () => {
    const blocker = net.createServer();
    await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', () => r()));
    const taken = (blocker.address() as net.AddressInfo).port;
    try {
      const errors = await manager.apply(snapshot(listener('taken', taken, [chain('c')]), listener('free', 0, [chain('c')])));
      assert.equal(errors.length, 1);
      assert.equal(errors[0]!.listener, 'taken');
      assert.match(errors[0]!.error, /EADDRINUSE/);
      assert.ok(manager.addresses().has('free'));
      assert.ok(!manager.addresses().has('taken'));
    } finally {
      blocker.close();
    }
  });

  it('update in place: same port, new chains for new connections, changed chains drained, unchanged kept', async () => {
    const v1 = listener('l', 0, [chain('keep', { destinationPort: null, sourcePorts: [] }, tcpProxy('keep')), chain('change', { transportProtocol: 'tls' }, tcpProxy('old'))]);
    await manager.apply(snapshot(v1));
    const port = portOf('l');
    const held = net.connect(port, '127.0.0.1');
    held.write('x');
    await once(held, 'data');
    // v2 keeps chain 'keep' structurally (new object), changes the tls chain, and adds an HTTP chain on port match.
    const v2 = listener('l', port, [chain('keep', {}, tcpProxy('keep')), chain('change', { transportProtocol: 'tls' }, tcpProxy('new'))], { address: v1.address });
    await manager.apply(snapshot(v2));
    assert.equal(portOf('l'), port);
    assert.equal(handlers.seen[0]!.drained, 0, 'a connection on an unchanged chain is not drained');
    const v3 = listener('l', port, [chain('http', {})], { address: v1.address });
    await manager.apply(snapshot(v3));
    assert.equal(portOf('l'), port, 'no rebind');
    assert.equal(handlers.seen[0]!.drained, 1, 'a connection on a removed chain is drained');
    await once(held, 'close');
    assert.equal((await getJson(port))['filterChainName'], 'http');
  });

  it('a changed chain whose handler ignores drain is destroyed after drainTimeoutMs', async () => {
    await manager.apply(snapshot(listener('l', 0, [chain('h1', {})])));
    const port = portOf('l');
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    await getJson(port, '/', agent);
    const socket = handlers.seen[0]!.socket;
    await manager.apply(snapshot(listener('l', port, [chain('h1-v2', {})], { address: { kind: 'socket', host: '127.0.0.1', port, protocol: 'TCP' } })));
    assert.equal(handlers.seen[0]!.drained, 1);
    await once(socket, 'close');
    agent.destroy();
  });

  it('removal: stops accepting, drains connections, then the port is free', async () => {
    await manager.apply(snapshot(listener('gone', 0, [chain('tcp', {}, tcpProxy())])));
    const port = portOf('gone');
    const held = net.connect(port, '127.0.0.1');
    held.write('x');
    await once(held, 'data');
    await manager.apply(snapshot());
    assert.equal(manager.addresses().size, 0);
    assert.equal(handlers.seen[0]!.drained, 1);
    await once(held, 'close');
    const refused = net.connect(port, '127.0.0.1');
    const [error] = (await once(refused, 'error')) as [NodeJS.ErrnoException];
    assert.equal(error.code, 'ECONNREFUSED');
  });

  it('drain() (SIGTERM): stops accepting, drains every connection, resolves when they closed or at the timeout', async () => {
    await manager.apply(snapshot(listener('tcp', 0, [chain('tcp', {}, tcpProxy())]), listener('http', 0, [chain('h', {})])));
    const tcpPort = portOf('tcp');
    const httpPort = portOf('http');
    const held = net.connect(tcpPort, '127.0.0.1');
    held.write('x');
    await once(held, 'data');
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    await getJson(httpPort, '/', agent);
    const started = Date.now();
    await manager.drain(400);
    const took = Date.now() - started;
    // The tcp stub ends on drain; the http stub ignores it, so it is destroyed at the per-connection drain timeout (300).
    assert.ok(took >= 250 && took < 1000, `waited ${took} ms for the stubborn connection`);
    assert.deepEqual(handlers.seen.map((s) => s.drained), [1, 1]);
    assert.equal(manager.connections.size, 0);
    const refused = net.connect(tcpPort, '127.0.0.1');
    const [error] = (await once(refused, 'error')) as [NodeJS.ErrnoException];
    assert.equal(error.code, 'ECONNREFUSED');
    agent.destroy();
  });

  it('drain() resolves at once when every connection closes on drain', async () => {
    await manager.apply(snapshot(listener('tcp', 0, [chain('tcp', {}, tcpProxy())])));
    const held = net.connect(portOf('tcp'), '127.0.0.1');
    held.on('end', () => held.end());
    held.write('x');
    await once(held, 'data');
    const started = Date.now();
    await manager.drain(5000);
    assert.ok(Date.now() - started < 1000);
  });

});
