import * as assert from 'node:assert/strict';
import { AdminServer } from '../../../sidecar/src/admin/admin-server';
import { configDumpEndpoint } from '../../../sidecar/src/admin/config-dump-endpoint';
import { probeEndpoints } from '../../../sidecar/src/admin/probe-endpoints';

describe('AdminServer', () => {
  let ready = false;
  let admin: AdminServer;

  before(async () => {
    admin = await AdminServer.start({
      host: '127.0.0.1',
      port: 0,
      endpoints: [...probeEndpoints(() => ready), configDumpEndpoint(() => ({ clusters: new Map([['a', { hosts: new Set(['h']) }]]) }))],
    });
  });
  after(() => admin.stop());

  it('answers /ready 503 before the first snapshot and 200 after', async () => {
    ready = false;
    assert.equal((await fetch(`http://${admin.address}/ready`)).status, 503);
    ready = true;
    assert.equal((await fetch(`http://${admin.address}/ready`)).status, 200);
  });

  it('serves /config_dump as JSON, turning Maps and Sets into objects and arrays', async () => {
    const res = await fetch(`http://${admin.address}/config_dump`);
    assert.equal(res.headers.get('content-type'), 'application/json');
    assert.deepEqual(await res.json(), { clusters: { a: { hosts: ['h'] } } });
  });

  it('answers unknown paths with 404 listing the endpoints, and wrong methods with 405', async () => {
    const missing = await fetch(`http://${admin.address}/nope`);
    assert.equal(missing.status, 404);
    assert.match(await missing.text(), /GET \/config_dump/);
    const wrong = await fetch(`http://${admin.address}/ready`, { method: 'POST' });
    assert.equal(wrong.status, 405);
    assert.equal(wrong.headers.get('allow'), 'GET');
  });

  it('answers HEAD on GET routes without a body', async () => {
    ready = true;
    const head = await fetch(`http://${admin.address}/ready`, { method: 'HEAD' });
    assert.equal(head.status, 200);
    assert.equal(await head.text(), '');
  });

  it('a bind failure rejects with the server name and address', async () => {
    await assert.rejects(
      AdminServer.start({ host: '127.0.0.1', port: admin.port, name: 'health', endpoints: [] }),
      (error: Error) => error.message.startsWith(`health server cannot listen on 127.0.0.1:${admin.port}: `) && /EADDRINUSE/.test(error.message),
    );
  });
});
