// Sticky sessions through the real sidecar: RING_HASH and MAGLEV clusters with route hash policies on loopback backends.

import * as assert from 'node:assert/strict';
import type { Sidecar } from '../../sidecar/src/sidecar';
import { startHttp1Backend, type Backend } from '../support/backends';
import { httpListener, listenerPort, startStaticSidecar, staticCluster } from '../support/sidecar';
import { h1Request } from '../support/http-clients';

describe('sticky sessions (ring hash, maglev, hash policies) through meshlet', function () {
  this.timeout(30_000);
  let sidecar: Sidecar;
  let port: number;
  const backends: Backend[] = [];

  before(async () => {
    for (const name of ['b0', 'b1', 'b2', 'b3']) backends.push(await startHttp1Backend(name));
    const ports = backends.map((b) => b.port);
    sidecar = await startStaticSidecar({
      listeners: [
        httpListener('edge', [
          {
            name: 'sticky',
            domains: ['*'],
            routes: [
              { match: { prefix: '/ring' }, route: { cluster: 'ring', hash_policy: [{ header: { header_name: 'x-user' } }] } },
              { match: { prefix: '/maglev' }, route: { cluster: 'maglev', hash_policy: [{ header: { header_name: 'x-user' } }] } },
              { match: { prefix: '/cookie' }, route: { cluster: 'ring', hash_policy: [{ cookie: { name: 'sticky', ttl: '3600s', path: '/' } }] } },
            ],
          },
        ]),
      ],
      clusters: [staticCluster('ring', ports, { lb_policy: 'RING_HASH' }), staticCluster('maglev', ports, { lb_policy: 'MAGLEV' })],
    });
    port = listenerPort(sidecar, 'edge');
  });

  after(async () => {
    await sidecar?.stop();
    await Promise.all(backends.map((b) => b.close()));
  });

  async function backendFor(path: string, headers: Record<string, string>): Promise<{ backend: string; setCookie: string[] | undefined }> {
    const reply = await h1Request(port, 'sticky.test', path, { headers });
    assert.equal(reply.status, 200);
    return { backend: String(reply.headers['x-backend']), setCookie: reply.headers['set-cookie'] };
  }

  for (const path of ['/ring', '/maglev']) {
    it(`${path}: the same x-user always lands on the same backend, and users spread over backends`, async () => {
      const seen = new Set<string>();
      for (let u = 0; u < 12; u++) {
        const first = (await backendFor(path, { 'x-user': `user-${u}` })).backend;
        seen.add(first);
        for (let i = 0; i < 4; i++) assert.equal((await backendFor(path, { 'x-user': `user-${u}` })).backend, first, `user-${u}`);
      }
      assert.ok(seen.size >= 2, `12 users all went to ${[...seen].join(',')}`);
    });
  }

  it('cookie policy: a request without the cookie gets a Set-Cookie; sending it back sticks to one backend', async () => {
    const first = await backendFor('/cookie', {});
    assert.ok(first.setCookie !== undefined && first.setCookie.length === 1, 'Set-Cookie added');
    const cookie = first.setCookie[0]!;
    assert.match(cookie, /^sticky="[0-9a-f]{16}"; Max-Age=3600; Path=\/; HttpOnly$/);
    const value = cookie.split(';')[0]!;
    const again = await backendFor('/cookie', { cookie: value });
    assert.equal(again.setCookie, undefined);
    for (let i = 0; i < 4; i++) assert.equal((await backendFor('/cookie', { cookie: value })).backend, again.backend);
  });
});
