// The request path tells observers (stats, outlier detection, tracing) about every exchange and attempt.

import * as assert from 'node:assert/strict';
import type { Sidecar } from '../../sidecar/src/sidecar';
import type { AttemptResult, ExchangeObserver, ExchangeSummary } from '../../sidecar/src/proxy/exchange-observer';
import { startHttp1Backend, type Backend } from '../support/backends';
import { h1Request } from '../support/http-clients';
import { httpListener, listenerPort, startStaticSidecar, staticCluster } from '../support/sidecar';

describe('exchange observers', function () {
  this.timeout(20_000);
  let sidecar: Sidecar;
  let backend: Backend;
  let port: number;
  const events: string[] = [];
  const results: AttemptResult[] = [];
  const summaries: ExchangeSummary[] = [];
  const observer: ExchangeObserver = {
    exchangeStarted: (x) => events.push(`start ${x.method} ${x.path}`),
    attemptStarted: (_x, a, headers) => {
      events.push(`attempt ${a.number} ${a.cluster.name}`);
      headers['x-observer'] = 'added';
    },
    attemptEnded: (_x, a, r) => {
      events.push(`attempt-end ${a.number} ${r.kind}`);
      results.push(r);
    },
    exchangeEnded: (x, s) => {
      events.push(`end ${s.status} ${s.flag ?? '-'} route=${x.routeName ?? '-'} cluster=${x.clusterName ?? '-'}`);
      summaries.push(s);
    },
  };

  before(async () => {
    backend = await startHttp1Backend('a');
    sidecar = await startStaticSidecar({
      listeners: [httpListener('l', [{ name: 'v', domains: ['*'], routes: [
        { name: 'retrying', match: { prefix: '/retry' }, route: { cluster: 'first_refused', retry_policy: { retry_on: 'connect-failure', num_retries: 1, retry_host_predicate: [{ name: 'envoy.retry_host_predicates.previous_hosts', typed_config: { '@type': 'type.googleapis.com/envoy.extensions.retry.host.previous_hosts.v3.PreviousHostsPredicate' } }] } } },
        { name: 'empty', match: { prefix: '/empty' }, route: { cluster: 'empty' } },
        { name: 'ok', match: { prefix: '/' }, route: { cluster: 'a' } },
      ] }])],
      clusters: [staticCluster('a', [backend.port]), staticCluster('empty', []), staticCluster('first_refused', [1, backend.port], { lb_policy: 'ROUND_ROBIN' })],
    });
    sidecar.proxy.observers.push(observer);
    port = listenerPort(sidecar, 'l');
  });
  after(async () => {
    await sidecar?.stop();
    await backend?.close();
  });
  beforeEach(() => {
    events.length = 0;
    results.length = 0;
    summaries.length = 0;
  });

  it('reports the exchange, one attempt with its response status, and lets attemptStarted add headers', async () => {
    const reply = await h1Request(port, 'x', '/info?x=1');
    assert.equal(JSON.parse(reply.body.toString()).headers['x-observer'], 'added');
    assert.deepEqual(events, ['start GET /info?x=1', 'attempt 1 a', 'attempt-end 1 response', 'end 200 - route=ok cluster=a']);
    assert.deepEqual(results[0], { kind: 'response', status: 200, grpcStatus: undefined });
  });

  it('reports each retry attempt and the local-reply flag', async () => {
    for (let i = 0; i < 2; i += 1) await h1Request(port, 'x', '/retry');
    assert.ok(results.some((r) => r.kind === 'connect_failure'), JSON.stringify(events));
    assert.ok(summaries.every((s) => s.status === 200));
    assert.ok(summaries.some((s) => s.attempts === 2));
    events.length = 0;
    await h1Request(port, 'x', '/empty');
    assert.deepEqual(events, ['start GET /empty', 'end 503 UH route=empty cluster=empty']);
  });
});
