// SIGTERM with requests in flight, on a real `meshlet run` child process: every request completes with 200,
// /ready answers 503 during the drain, new connections are refused, and the process exits 0 as soon as the
// in-flight work is done (not at the end of --drain-timeout).

import * as assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as http2 from 'node:http2';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { startHttp1Backend, type Backend } from '../support/backends';
import { h1Request, h2Request, type Reply } from '../support/http-clients';
import { httpListener, staticCluster } from '../support/sidecar';

const repoRoot = path.resolve(__dirname, '..', '..', '..');
const MESHLET = path.join(repoRoot, 'sidecar', 'bin', 'meshlet.js');
const IN_FLIGHT = 12;
const BACKEND_DELAY_MS = 1000;
const DRAIN_TIMEOUT_S = 5;

/** A port that was free a moment ago (the child binds it by number). */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

function connectOutcome(port: number): Promise<string> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve('connected');
    });
    socket.once('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? error.message));
  });
}

function readyStatus(adminPort: number): Promise<number> {
  return new Promise((resolve, reject) => {
    http.get({ host: '127.0.0.1', port: adminPort, path: '/ready', agent: false }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    }).on('error', reject);
  });
}

describe('SIGTERM with requests in flight (meshlet run as a child process)', function () {
  this.timeout(30_000);
  let backend: Backend;
  let dir: string;
  let child: ChildProcess | undefined;
  let output = '';

  before(async () => {
    backend = await startHttp1Backend('slow');
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'meshlet-sigterm-'));
  });

  after(async () => {
    if (child !== undefined && child.exitCode === null) child.kill('SIGKILL');
    await backend?.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('drains: in-flight requests complete with 200, /ready 503, new connections refused, exit 0 once idle', async () => {
    const listenerPort = await freePort();
    const adminPort = await freePort();
    const listener = httpListener('ingress', [{ name: 'all', domains: ['*'], routes: [{ match: { prefix: '/' }, route: { cluster: 'slow' } }] }]) as { address: unknown };
    listener.address = { socket_address: { address: '127.0.0.1', port_value: listenerPort } };
    const bootstrap = {
      node: { id: 'sigterm-test', cluster: 'test' },
      admin: { address: { socket_address: { address: '127.0.0.1', port_value: adminPort } } },
      static_resources: { listeners: [listener], clusters: [staticCluster('slow', [backend.port])] },
    };
    const file = path.join(dir, 'bootstrap.json');
    fs.writeFileSync(file, JSON.stringify(bootstrap));
    const proc = spawn(process.execPath, [MESHLET, 'run', '--bootstrap', file, '--drain-timeout', String(DRAIN_TIMEOUT_S)], { stdio: ['ignore', 'pipe', 'pipe'] });
    child = proc;
    proc.stdout!.on('data', (d) => (output += d));
    proc.stderr!.on('data', (d) => (output += d));
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number }>((resolve) => proc.once('exit', (code, signal) => resolve({ code, signal, at: Date.now() })));

    // Ready once the static config is applied and the listener is bound.
    for (let i = 0; ; i++) {
      const status = await readyStatus(adminPort).catch(() => 0);
      if (status === 200) break;
      assert.ok(i < 400 && proc.exitCode === null, `meshlet never became ready: ${output}`);
      await new Promise((r) => setTimeout(r, 25));
    }

    // N slow requests, all at the backend before the signal.
    const before = backend.requests;
    const inFlight: Array<Promise<Reply>> = [];
    // A third on fresh connections, a third on keep-alive connections (kept open by the client), a third as
    // streams of one h2c session the client never closes: the drain must end each kind of connection itself.
    const agent = new http.Agent({ keepAlive: true });
    const session = http2.connect(`http://127.0.0.1:${listenerPort}`);
    session.on('error', () => undefined);
    for (let i = 0; i < IN_FLIGHT; i++) {
      const path = `/echo?delay=${BACKEND_DELAY_MS}`;
      const body = Buffer.from(`request ${i}`);
      if (i % 3 === 0) inFlight.push(h1Request(listenerPort, 'svc.test', path, { body }));
      else if (i % 3 === 1) inFlight.push(h1Request(listenerPort, 'svc.test', path, { body, agent }));
      else inFlight.push(h2Request(session, 'svc.test', path, { body }));
    }
    while (backend.requests - before < IN_FLIGHT) await new Promise((r) => setTimeout(r, 10));

    const signalledAt = Date.now();
    proc.kill('SIGTERM');

    // During the drain: /ready says 503 and the listener refuses new connections.
    let sawNotReady = false;
    for (let i = 0; i < 200 && !sawNotReady; i++) {
      sawNotReady = (await readyStatus(adminPort)) === 503;
      if (!sawNotReady) await new Promise((r) => setTimeout(r, 5));
    }
    assert.ok(sawNotReady, '/ready answers 503 while draining');
    assert.equal(await connectOutcome(listenerPort), 'ECONNREFUSED', 'new connections are refused while draining');

    const replies = await Promise.all(inFlight);
    replies.forEach((reply, i) => {
      assert.equal(reply.status, 200, `request ${i}: ${reply.body.toString()}`);
      assert.equal(reply.body.toString(), `request ${i}`);
    });
    const exit = await exited;
    agent.destroy();
    session.destroy();
    assert.deepEqual({ code: exit.code, signal: exit.signal }, { code: 0, signal: null }, output);
    // Behaviour, not speed: the process left because the work was done, well before the drain deadline.
    assert.ok(exit.at - signalledAt < DRAIN_TIMEOUT_S * 1000 - 1000, `exited ${exit.at - signalledAt} ms after SIGTERM: it waited for the drain deadline`);
    assert.match(output, /draining/);
  });
});
