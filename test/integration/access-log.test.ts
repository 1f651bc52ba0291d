// The access log in a scripted scenario: one line per request, matched by x-request-id, with the status,
// response flag, cluster, upstream host and attempts the proxy actually produced.

import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { Sidecar } from '../../sidecar/src/sidecar';
import type { AccessLogLine } from '../../sidecar/src/observability/access-log';
import { startHttp1Backend, type Backend } from '../support/backends';
import { h1Request } from '../support/http-clients';
import { httpListener, listenerPort, startStaticSidecar, staticCluster } from '../support/sidecar';

describe('access log: one line per request, with flags', function () {
  this.timeout(20_000);
  let ok: Backend;
  let bad: Backend;
  let sidecar: Sidecar;
  let dir: string;
  let file: string;

  before(async () => {
    ok = await startHttp1Backend('ok');
    bad = await startHttp1Backend('bad', { forcedStatus: 503 });
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'meshlet-access-'));
    file = path.join(dir, 'access.log');
    sidecar = await startStaticSidecar({
      listeners: [httpListener('ingress', [{
        name: 'all',
        domains: ['*'],
        routes: [
          { name: 'ok-route', match: { prefix: '/ok' }, route: { cluster: 'ok' } },
          { name: 'fail-route', match: { prefix: '/fail' }, route: { cluster: 'bad', retry_policy: { retry_on: '5xx', num_retries: 1 } } },
          { name: 'none-route', match: { prefix: '/none' }, route: { cluster: 'empty' } },
        ],
      }])],
      clusters: [staticCluster('ok', [ok.port]), staticCluster('bad', [bad.port]), staticCluster('empty', [])],
    }, { accessLog: file });
  });
  after(async () => {
    await sidecar.stop();
    await Promise.all([ok.close(), bad.close()]);
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('matches the requests one to one', async () => {
    const port = listenerPort(sidecar, 'ingress');
    const script: { id: string; path: string; status: number; flags: string; cluster: string | null; host: string | null; attempts: number; route: string | null }[] = [];
    for (let i = 0; i < 4; i++) script.push({ id: `ok-${i}`, path: `/ok/${i}`, status: 200, flags: '-', cluster: 'ok', host: `127.0.0.1:${ok.port}`, attempts: 1, route: 'ok-route' });
    // Retries exhausted, the last upstream 503 forwarded: Envoy flags it URX.
    script.push({ id: 'fail-0', path: '/fail', status: 503, flags: 'URX', cluster: 'bad', host: `127.0.0.1:${bad.port}`, attempts: 2, route: 'fail-route' });
    script.push({ id: 'none-0', path: '/none', status: 503, flags: 'UH', cluster: 'empty', host: null, attempts: 0, route: 'none-route' });
    script.push({ id: 'nr-0', path: '/nowhere', status: 404, flags: 'NR', cluster: null, host: null, attempts: 0, route: null });
    for (const step of script) {
      const reply = await h1Request(port, 'shop.local', `${step.path}?secret=1`, { headers: { 'x-request-id': step.id } });
      assert.equal(reply.status, step.status, step.id);
    }
    await sidecar.telemetry.accessLog?.flush();
    const lines = fs.readFileSync(file, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as AccessLogLine);
    assert.equal(lines.length, script.length);
    for (const step of script) {
      const line = lines.find((l) => l.request_id === step.id);
      assert.ok(line !== undefined, `a line for ${step.id}`);
      assert.deepEqual(
        { status: line.status, flags: line.flags, cluster: line.upstream_cluster, host: line.upstream_host, attempts: line.attempts, route: line.route, path: line.path, method: line.method, authority: line.authority, proto: line.proto },
        { status: step.status, flags: step.flags, cluster: step.cluster, host: step.host, attempts: step.attempts, route: step.route, path: step.path, method: 'GET', authority: 'shop.local', proto: 'HTTP/1.1' },
        step.id,
      );
      assert.ok(line.dur_ms >= 0 && line.start_ms > 0);
      assert.equal(line.trace_id, null, 'tracing is off');
    }
    assert.equal(sidecar.telemetry.accessLog?.dropped, 0);
  });
});
