// Admin /explain against what the sidecar really does: virtual host, route, rewrites, headers and cluster match what
// the backends saw; a ring-hash pick matches the backend that served the key; an ejected host is shown ineligible.

import * as assert from 'node:assert/strict';
import type { Sidecar } from '../../sidecar/src/sidecar';
import { startHttp1Backend, type Backend } from '../support/backends';
import { h1Request } from '../support/http-clients';
import { httpListener, listenerPort, startStaticSidecar, staticCluster, T } from '../support/sidecar';

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

describe('admin /explain matches the routing and balancing decisions taken', function () {
  this.timeout(30_000);
  let sidecar: Sidecar;
  let port: number;
  const b: Backend[] = [];
  const failing: { forcedStatus?: number } = { forcedStatus: 500 };
  let flaky: Backend;
  const hostOf = new Map<string, string>(); // backend name -> 127.0.0.1:port

  before(async () => {
    for (const name of ['b0', 'b1', 'b2', 'b3']) b.push(await startHttp1Backend(name));
    flaky = await startHttp1Backend('flaky', failing);
    for (const x of [...b, flaky]) hostOf.set(x.name, `127.0.0.1:${x.port}`);
    const header = (key: string, value: string): object => ({ header: { key, value } });
    sidecar = await startStaticSidecar({
      listeners: [
        httpListener('edge', [
          {
            name: 'api',
            domains: ['api.test'],
            routes: [
              { name: 'users-canary', match: { prefix: '/users', headers: [{ name: 'x-canary', string_match: { exact: '1' } }] }, route: { cluster: 'rr', prefix_rewrite: '/info/canary' }, request_headers_to_add: [header('x-route', 'users-canary')] },
              { name: 'users', match: { prefix: '/users' }, route: { cluster: 'rr', prefix_rewrite: '/info/users', timeout: '7s' }, request_headers_to_add: [header('x-route', 'users')] },
              { name: 'sticky', match: { prefix: '/sticky' }, route: { cluster: 'ring', prefix_rewrite: '/info', hash_policy: [{ header: { header_name: 'x-user' } }] } },
              { name: 'least', match: { prefix: '/least' }, route: { cluster: 'least', prefix_rewrite: '/info' } },
              { name: 'flaky', match: { prefix: '/flaky' }, route: { cluster: 'flaky', prefix_rewrite: '/info' } },
              { name: 'old', match: { prefix: '/old' }, redirect: { path_redirect: '/new' } },
            ],
          },
          { name: 'shop', domains: ['*.shop.test'], routes: [{ name: 'shop-all', match: { prefix: '/' }, route: { cluster: 'shop', prefix_rewrite: '/info/' }, request_headers_to_add: [header('x-route', 'shop')] }] },
          { name: 'fallback', domains: ['*'], routes: [{ name: 'teapot', match: { prefix: '/' }, direct_response: { status: 418, body: { inline_string: 'short and stout' } } }] },
        ]),
        httpListener('internal', [{ name: 'internal-all', domains: ['*'], routes: [{ name: 'all', match: { prefix: '/' }, route: { cluster: 'shop' } }] }]),
      ],
      clusters: [
        staticCluster('rr', [b[0]!.port, b[1]!.port]),
        staticCluster('ring', b.map((x) => x.port), { lb_policy: 'RING_HASH' }),
        staticCluster('least', [b[2]!.port, b[3]!.port], {
          load_balancing_policy: { policies: [{ typed_extension_config: { name: 'lr', typed_config: { '@type': `${T}envoy.extensions.load_balancing_policies.least_request.v3.LeastRequest`, selection_method: 'FULL_SCAN' } } }] },
        }),
        staticCluster('shop', [b[3]!.port]),
        staticCluster('flaky', [b[0]!.port, flaky.port], {
          outlier_detection: { consecutive_5xx: 2, interval: '0.1s', base_ejection_time: '30s', max_ejection_percent: 50 },
        }),
      ],
    });
    port = listenerPort(sidecar, 'edge');
  });

  after(async () => {
    await sidecar?.stop();
    await Promise.all([...b, flaky].map((x) => x.close()));
  });

  async function explain(params: Record<string, string | string[]>): Promise<Json> {
    const search = new URLSearchParams();
    for (const [k, v] of Object.entries(params)) for (const one of Array.isArray(v) ? v : [v]) search.append(k, one);
    const reply = await h1Request(sidecar.admin.port, 'admin', `/explain?${search.toString()}`);
    assert.equal(reply.status, 200, reply.body.toString());
    return JSON.parse(reply.body.toString()) as Json;
  }

  /** The one answer of the `edge` listener. */
  async function edge(params: Record<string, string | string[]>): Promise<Json> {
    const answer = await explain({ ...params, listener: 'edge' });
    assert.equal(answer['listeners'].length, 1);
    return answer['listeners'][0] as Json;
  }

  async function send(authority: string, path: string, headers: Record<string, string> = {}): Promise<{ status: number; info: Json | undefined; headers: Record<string, unknown> }> {
    const reply = await h1Request(port, authority, path, { headers });
    const text = reply.body.toString();
    return { status: reply.status, info: reply.headers['content-type'] === 'application/json' ? (JSON.parse(text) as Json) : undefined, headers: reply.headers };
  }

  it('virtual host, route, rewrite, route headers and cluster are the ones the request took', async () => {
    const cases: { authority: string; path: string; headers: Record<string, string>; vhost: string; kind: string; route: string; cluster: string }[] = [
      { authority: 'api.test', path: '/users/7?x=1', headers: {}, vhost: 'api', kind: 'exact', route: 'users', cluster: 'rr' },
      { authority: 'api.test', path: '/users/7', headers: { 'x-canary': '1' }, vhost: 'api', kind: 'exact', route: 'users-canary', cluster: 'rr' },
      { authority: 'cart.shop.test', path: '/basket', headers: {}, vhost: 'shop', kind: 'suffix wildcard', route: 'shop-all', cluster: 'shop' },
    ];
    for (const c of cases) {
      const answer = await edge({ authority: c.authority, path: c.path, header: Object.entries(c.headers).map(([k, v]) => `${k}:${v}`) });
      assert.equal(answer['virtualHost'].name, c.vhost, c.path);
      assert.equal(answer['virtualHost'].matchKind, c.kind);
      assert.equal(answer['route'].name, c.route);
      assert.equal(answer['clusters'].length, 1);
      assert.equal(answer['clusters'][0].name, c.cluster);
      const real = await send(c.authority, c.path, c.headers);
      assert.equal(real.status, 200);
      const info = real.info!;
      assert.equal(info['path'], answer['rewrites'].path, 'the rewritten path is the one the backend received');
      assert.equal(info['headers']['x-route'], answer['requestHeaders'].set['x-route'], 'route header as explained');
      const explainedHosts = (answer['clusters'][0].hosts as Json[]).map((h) => h['address']);
      assert.ok(explainedHosts.includes(hostOf.get(info['backend'] as string)), `${info['backend']} is one of ${explainedHosts.join(', ')}`);
    }
    const users = await edge({ authority: 'api.test', path: '/users/7' });
    assert.equal(users['timeouts'].routeTimeoutMs, 7000);
    const real = await send('api.test', '/users/7');
    assert.equal(real.info!['headers']['x-envoy-expected-rq-timeout-ms'], String(users['timeouts'].routeTimeoutMs));
  });

  it('redirects, direct responses and 404s are explained as answered', async () => {
    const redirect = await edge({ authority: 'api.test', path: '/old/thing' });
    const realRedirect = await send('api.test', '/old/thing');
    assert.equal(redirect['action'].kind, 'redirect');
    assert.equal(realRedirect.status, redirect['action'].status);
    assert.equal(realRedirect.headers['location'], redirect['action'].location);

    const teapot = await edge({ authority: 'elsewhere.test', path: '/' });
    assert.equal(teapot['virtualHost'].name, 'fallback');
    assert.equal(teapot['virtualHost'].matchKind, 'wildcard *');
    assert.equal(teapot['action'].status, (await send('elsewhere.test', '/')).status);

    const none = await edge({ authority: 'api.test', path: '/nothing' });
    assert.equal(none['route'], null);
    assert.match(none['outcome'], /^404 NR/);
    assert.equal(none['routesTried'].length, 6);
    assert.equal((await send('api.test', '/nothing')).status, 404);
  });

  it('without listener=, every HTTP listener answers', async () => {
    const answer = await explain({ authority: 'cart.shop.test', path: '/x' });
    const names = (answer['listeners'] as Json[]).map((l) => l['listener']).sort();
    assert.deepEqual(names, ['edge', 'internal']);
    const internal = (answer['listeners'] as Json[]).find((l) => l['listener'] === 'internal')!;
    assert.equal(internal['route'].name, 'all');
    assert.equal(internal['address'], `127.0.0.1:${listenerPort(sidecar, 'internal')}`);
  });

  it('ring hash: the explained pick is the backend that serves the same key', async () => {
    const seen = new Set<string>();
    for (let u = 0; u < 16; u++) {
      const answer = await edge({ authority: 'api.test', path: '/sticky', header: `x-user:user-${u}` });
      const cluster = answer['clusters'][0] as Json;
      assert.equal(cluster['pick'].deterministic, true);
      assert.match(cluster['requestHash'], /^0x[0-9a-f]{16}$/);
      const real = await send('api.test', '/sticky', { 'x-user': `user-${u}` });
      assert.equal(hostOf.get(real.info!['backend'] as string), cluster['pick'].host, `user-${u}`);
      seen.add(cluster['pick'].host as string);
    }
    assert.ok(seen.size >= 2, 'keys spread over several hosts');
  });

  it('least request (full scan): the busy host shows its active request and the other is picked', async () => {
    const slow = send('api.test', '/least?delay=1500');
    let busy: Json | undefined;
    for (let i = 0; i < 50 && busy === undefined; i++) {
      const answer = await edge({ authority: 'api.test', path: '/least' });
      busy = (answer['clusters'][0].hosts as Json[]).find((h) => h['activeRequests'] === 1);
      if (busy === undefined) await new Promise((resolve) => setTimeout(resolve, 20));
    }
    assert.ok(busy !== undefined, 'the in-flight request shows as active on one host');
    const answer = await edge({ authority: 'api.test', path: '/least' });
    const candidates = answer['clusters'][0].pick.candidates as Json[];
    assert.equal(candidates[0]!['activeRequests'], 0);
    assert.notEqual(candidates[0]!['host'], busy['address']);
    const real = await send('api.test', '/least');
    assert.equal(hostOf.get(real.info!['backend'] as string), candidates[0]!['host'], 'the request went to the least loaded host, as explained');
    assert.equal((await slow).status, 200);
  });

  it('an ejected host is shown ineligible, and requests stop going to it', async () => {
    const before = await edge({ authority: 'api.test', path: '/flaky' });
    assert.ok((before['clusters'][0].hosts as Json[]).every((h) => h['eligible'] === true));
    for (let i = 0; i < 8 && flaky.requests < 2; i++) await send('api.test', '/flaky');
    assert.ok(flaky.requests >= 2);
    const after = await edge({ authority: 'api.test', path: '/flaky' });
    const hosts = after['clusters'][0].hosts as Json[];
    const ejected = hosts.find((h) => h['address'] === hostOf.get('flaky'))!;
    assert.equal(ejected['eligible'], false);
    assert.match(ejected['reason'], /unhealthy: \/failed_outlier_check/);
    assert.equal(ejected['healthFlags'], '/failed_outlier_check');
    assert.equal(ejected['outlier'].ejected, true);
    const good = hosts.find((h) => h['address'] === hostOf.get('b0'))!;
    assert.equal(good['eligible'], true);
    const served = flaky.requests;
    for (let i = 0; i < 6; i++) assert.equal((await send('api.test', '/flaky')).status, 200);
    assert.equal(flaky.requests, served, 'no request reached the host /explain calls ineligible');
  });

  it('bad queries are 400 with a reason; an unknown listener is named', async () => {
    const missing = await h1Request(sidecar.admin.port, 'admin', '/explain?path=/');
    assert.equal(missing.status, 400);
    assert.match(missing.body.toString(), /authority is required/);
    const badHeader = await h1Request(sidecar.admin.port, 'admin', '/explain?authority=a&header=novalue');
    assert.equal(badHeader.status, 400);
    const unknown = await explain({ authority: 'a', listener: 'nope' });
    assert.match(unknown['error'], /no listener named "nope"/);
  });
});
