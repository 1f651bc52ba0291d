// /stats/prometheus after a scripted scenario: parsed with a Prometheus text parser, counters match the requests,
// errors, retries, no-healthy-host replies and ejections the script caused; /stats shows the same in plain text.

import * as assert from 'node:assert/strict';
import * as http from 'node:http';
import type { Sidecar } from '../../sidecar/src/sidecar';
import { HostHealthFlags } from '../../sidecar/src/upstream/host-health-flags';
import { startHttp1Backend, type Backend } from '../support/backends';
import { h1Request } from '../support/http-clients';
import { httpListener, listenerPort, startStaticSidecar, staticCluster } from '../support/sidecar';

// The package ships no type declarations.
const parsePrometheusTextFormat = require('parse-prometheus-text-format') as (text: string) => unknown;

interface Family { name: string; type: string; metrics: { value?: string; labels?: Record<string, string>; count?: string; buckets?: Record<string, string> }[] }

function get(port: number, path: string): Promise<{ status: number; type: string; body: string }> {
  return new Promise((resolve, reject) => {
    http.get({ host: '127.0.0.1', port, path }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, type: String(res.headers['content-type']), body }));
    }).on('error', reject);
  });
}

function value(families: Family[], name: string, labels: Record<string, string>): number | undefined {
  const family = families.find((f) => f.name === name);
  const metric = family?.metrics.find((m) => Object.entries(labels).every(([k, v]) => m.labels?.[k] === v));
  if (metric === undefined) return undefined;
  return Number(metric.value ?? metric.count);
}

describe('metrics: /stats/prometheus after a scripted scenario', function () {
  this.timeout(20_000);
  let ok1: Backend;
  let ok2: Backend;
  let bad: Backend;
  let sidecar: Sidecar;

  before(async () => {
    ok1 = await startHttp1Backend('ok1');
    ok2 = await startHttp1Backend('ok2');
    bad = await startHttp1Backend('bad', { forcedStatus: 503 });
    sidecar = await startStaticSidecar({
      listeners: [httpListener('ingress', [{
        name: 'all',
        domains: ['*'],
        routes: [
          { match: { prefix: '/ok' }, route: { cluster: 'ok' } },
          { match: { prefix: '/fail' }, route: { cluster: 'bad', retry_policy: { retry_on: '5xx', num_retries: 2 } } },
          { match: { prefix: '/none' }, route: { cluster: 'empty' } },
        ],
      }])],
      clusters: [staticCluster('ok', [ok1.port, ok2.port]), staticCluster('bad', [bad.port]), staticCluster('empty', [])],
    });
  });
  after(async () => {
    await sidecar.stop();
    await Promise.all([ok1.close(), ok2.close(), bad.close()]);
  });

  it('counts requests, classes, retries, no-healthy-host, membership and ejections', async () => {
    const port = listenerPort(sidecar, 'ingress');
    for (let i = 0; i < 5; i++) assert.equal((await h1Request(port, 'svc', '/ok')).status, 200);
    for (let i = 0; i < 2; i++) assert.equal((await h1Request(port, 'svc', '/fail')).status, 503);
    assert.equal((await h1Request(port, 'svc', '/none')).status, 503);
    assert.equal((await h1Request(port, 'svc', '/nowhere')).status, 404);
    // Act as outlier detection (the flag's owner) and eject one host of `ok`.
    const okCluster = sidecar.clusters.get('ok');
    const host = okCluster?.hosts[0];
    assert.ok(host !== undefined);
    host.healthFlags = host.healthFlags | HostHealthFlags.OUTLIER_EJECTED;

    const scrape = await get(sidecar.admin.port, '/stats/prometheus');
    assert.equal(scrape.status, 200);
    assert.match(scrape.type, /^text\/plain; version=0\.0\.4/);
    const families = parsePrometheusTextFormat(scrape.body) as Family[];
    const c = (name: string) => ({ envoy_cluster_name: name });
    assert.equal(value(families, 'envoy_cluster_upstream_rq_total', c('ok')), 5);
    assert.equal(value(families, 'envoy_cluster_upstream_rq_xx', { ...c('ok'), envoy_response_code_class: '2' }), 5);
    assert.equal(value(families, 'envoy_cluster_upstream_rq_total', c('bad')), 6, '2 requests x 3 attempts');
    assert.equal(value(families, 'envoy_cluster_upstream_rq_xx', { ...c('bad'), envoy_response_code_class: '5' }), 6);
    assert.equal(value(families, 'envoy_cluster_upstream_rq_retry', c('bad')), 4);
    assert.equal(value(families, 'envoy_cluster_upstream_rq_retry', c('ok')), 0);
    assert.equal(value(families, 'envoy_cluster_upstream_cx_none_healthy', c('empty')), 1);
    // The parser folds labelled histograms into one sample, so histogram lines are checked as text.
    assert.match(scrape.body, /^envoy_cluster_upstream_rq_time_count\{envoy_cluster_name="ok"\} 5$/m);
    assert.match(scrape.body, /^envoy_cluster_upstream_rq_time_bucket\{envoy_cluster_name="ok",le="\+Inf"\} 5$/m);
    assert.equal(value(families, 'envoy_cluster_membership_total', c('ok')), 2);
    assert.equal(value(families, 'envoy_cluster_membership_healthy', c('ok')), 1);
    assert.equal(value(families, 'envoy_cluster_outlier_detection_ejections_active', c('ok')), 1);
    assert.equal(value(families, 'envoy_cluster_outlier_detection_ejections_active', c('bad')), 0);
    const l = { envoy_http_conn_manager_prefix: 'ingress' };
    assert.equal(value(families, 'envoy_http_downstream_rq_total', l), 9);
    assert.equal(value(families, 'envoy_http_downstream_rq_xx', { ...l, envoy_response_code_class: '2' }), 5);
    assert.equal(value(families, 'envoy_http_downstream_rq_xx', { ...l, envoy_response_code_class: '4' }), 1);
    assert.equal(value(families, 'envoy_http_downstream_rq_xx', { ...l, envoy_response_code_class: '5' }), 3);
    assert.equal(value(families, 'envoy_http_downstream_rq_active', l), 0);
    assert.equal(value(families, 'meshlet_http_downstream_rq_response_flag', { ...l, response_flag: 'UH' }), 1);
    assert.equal(value(families, 'meshlet_http_downstream_rq_response_flag', { ...l, response_flag: 'NR' }), 1);
    assert.ok((value(families, 'envoy_listener_downstream_cx_total', { envoy_listener_name: 'ingress' }) ?? 0) >= 9);
    assert.ok((value(families, 'process_resident_memory_bytes', {}) ?? 0) > 0);
    // No high-cardinality labels: no paths, no addresses.
    assert.doesNotMatch(scrape.body, /\/ok|\/fail|127\.0\.0\.1/);

    const plain = await get(sidecar.admin.port, '/stats?filter=upstream_rq_total');
    assert.equal(plain.status, 200);
    assert.match(plain.body, /^envoy_cluster_upstream_rq_total\{envoy_cluster_name="bad"\}: 6$/m);
    assert.doesNotMatch(plain.body, /membership/);
  });

  it('POST /logging changes the diagnostic level at run time', async () => {
    const res = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = http.request({ host: '127.0.0.1', port: sidecar.admin.port, path: '/logging?level=debug', method: 'POST' }, (r) => {
        let body = '';
        r.on('data', (c: Buffer) => (body += c.toString()));
        r.on('end', () => resolve({ status: r.statusCode ?? 0, body }));
      });
      req.on('error', reject);
      req.end();
    });
    assert.equal(res.status, 200);
    assert.match(res.body, /active level: debug/);
  });
});
