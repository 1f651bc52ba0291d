// The webhook for real: `helm template` renders the chart's CA, serving certificate and caBundle; the injector serves
// them over HTTPS; AdmissionReviews are posted as kube-apiserver would (trusting only the caBundle, SNI = the
// Service DNS name); the returned JSONPatch, applied as the API server applies it, yields the golden pod.

import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as https from 'node:https';
import * as os from 'node:os';
import * as path from 'node:path';
import * as YAML from 'yaml';
import { InjectorServer } from '../../sidecar/src/inject/injector-server';
import { parseInjectSettings } from '../../sidecar/src/inject/inject-settings';
import { goldenSettings } from '../unit/inject/inject-pod.test';
import { injectManifests } from '../../sidecar/src/inject/manifest-injector';
import { admissionReview, applyAdmissionPatch, INJECT_FIXTURES, parseDocs, podFromTemplate, renderChart, schemaProblem } from '../support/kubernetes';

type Obj = { [key: string]: unknown };
const SERVICE_DNS = 'meshlet-injector.meshlet-system.svc';

function post(port: number, ca: string, servername: string, body: unknown): Promise<{ status: number; json: Obj }> {
  return new Promise((resolve, reject) => {
    const req = https.request({ host: '127.0.0.1', port, path: '/inject', method: 'POST', ca, servername, headers: { 'content-type': 'application/json' } }, (res) => {
      let text = '';
      res.on('data', (c) => (text += c)).on('end', () => resolve({ status: res.statusCode ?? 0, json: JSON.parse(text) as Obj }));
    });
    req.on('error', reject);
    req.end(JSON.stringify(body));
  });
}

describe('injector webhook: AdmissionReview over HTTPS with the chart-generated certificate', function () {
  this.timeout(30_000);
  let server: InjectorServer;
  let caBundle: string;
  let dir: string;
  let chartSettings: Obj;

  before(async () => {
    const docs = renderChart(4);
    const secret = docs.find((d) => d['kind'] === 'Secret')!;
    const webhook = docs.find((d) => d['kind'] === 'MutatingWebhookConfiguration')!;
    const data = secret['data'] as Record<string, string>;
    const hook = (webhook['webhooks'] as Obj[])[0]!;
    caBundle = Buffer.from(String((hook['clientConfig'] as Obj)['caBundle']), 'base64').toString('utf8');
    assert.equal(Buffer.from(data['ca.crt']!, 'base64').toString('utf8'), caBundle, 'the Secret and the webhook carry the same CA');
    chartSettings = JSON.parse(String((docs.find((d) => d['kind'] === 'ConfigMap')!['data'] as Obj)['settings.json'])) as Obj;
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'meshlet-webhook-'));
    fs.writeFileSync(path.join(dir, 'tls.crt'), Buffer.from(data['tls.crt']!, 'base64'));
    fs.writeFileSync(path.join(dir, 'tls.key'), Buffer.from(data['tls.key']!, 'base64'));
    server = await InjectorServer.start({
      settings: goldenSettings(),
      certFile: path.join(dir, 'tls.crt'),
      keyFile: path.join(dir, 'tls.key'),
      host: '127.0.0.1',
      port: 0,
      namespace: 'meshlet-system',
    });
  });
  after(async () => {
    await server?.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('the chart\'s settings.json is valid injection settings', () => {
    const parsed = parseInjectSettings(chartSettings);
    assert.ok(parsed.ok, JSON.stringify(!parsed.ok && parsed.errors));
    assert.deepEqual(parsed.value.excludedNamespaces, ['meshlet-system']);
  });

  it('a pod in a labelled namespace gets a patch that yields the golden pod', async () => {
    const deployment = YAML.parse(fs.readFileSync(path.join(INJECT_FIXTURES, 'deployment-plain.in.yaml'), 'utf8')) as Obj;
    const golden = YAML.parse(fs.readFileSync(path.join(INJECT_FIXTURES, 'deployment-plain.out.yaml'), 'utf8')) as Obj;
    const pod = podFromTemplate(deployment, 'reviews-5d8f9-abcde');
    const { status, json } = await post(server.port, caBundle, SERVICE_DNS, admissionReview(pod, 'shop', 'uid-1'));
    assert.equal(status, 200);
    const response = json['response'] as Obj;
    assert.equal(json['apiVersion'], 'admission.k8s.io/v1');
    assert.equal(response['uid'], 'uid-1');
    assert.equal(response['allowed'], true);
    assert.equal(response['patchType'], 'JSONPatch');
    const patched = applyAdmissionPatch(pod, String(response['patch']));
    assert.deepEqual(patched, podFromTemplate(golden, 'reviews-5d8f9-abcde'));
    assert.equal(schemaProblem(patched), undefined);
  });

  it('meshlet inject -f on a multi-document file gives each template what the webhook gives its pod', async () => {
    const files = ['deployment-plain', 'job', 'pod-init-containers'].map((n) => fs.readFileSync(path.join(INJECT_FIXTURES, `${n}.in.yaml`), 'utf8'));
    const stream = [...files, 'apiVersion: v1\nkind: Service\nmetadata: {name: reviews, namespace: shop}\nspec: {ports: [{port: 9080}]}\n'].join('---\n');
    const cli = injectManifests(stream, { settings: goldenSettings() });
    assert.deepEqual(cli.errors, []);
    const out = parseDocs(cli.output);
    assert.equal(out.length, 4);
    assert.deepEqual(out[3], parseDocs(stream)[3], 'non-workloads pass through unchanged');
    for (const [i, input] of parseDocs(stream).slice(0, 3).entries()) {
      const pod = input['kind'] === 'Pod' ? input : podFromTemplate(input, `p-${i}`);
      const { json } = await post(server.port, caBundle, SERVICE_DNS, admissionReview(pod, 'shop'));
      const viaWebhook = applyAdmissionPatch(pod, String((json['response'] as Obj)['patch']));
      const viaCli = out[i]!['kind'] === 'Pod' ? out[i]! : podFromTemplate(out[i]!, `p-${i}`);
      assert.deepEqual(viaWebhook, viaCli);
    }
  });

  it('a pod in kube-system is not patched', async () => {
    const pod = { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'coredns-x', namespace: 'kube-system' }, spec: { containers: [{ name: 'coredns', image: 'coredns' }] } };
    const { json } = await post(server.port, caBundle, SERVICE_DNS, admissionReview(pod, 'kube-system'));
    const response = json['response'] as Obj;
    assert.equal(response['allowed'], true);
    assert.equal(response['patch'], undefined);
  });

  it('invalid annotations are denied with the message kubectl shows', async () => {
    const pod = { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p', annotations: { 'meshlet.io/proxy-cpu': 'lots' } }, spec: { containers: [{ name: 'a', image: 'a' }] } };
    const { json } = await post(server.port, caBundle, SERVICE_DNS, admissionReview(pod, 'shop'));
    const response = json['response'] as Obj;
    assert.equal(response['allowed'], false);
    assert.match(String((response['status'] as Obj)['message']), /meshlet\.io\/proxy-cpu: "lots" is not a cpu quantity/);
  });

  it('TLS is verified against the caBundle for the Service DNS name; another name fails', async () => {
    await assert.rejects(post(server.port, caBundle, 'other.meshlet-system.svc', admissionReview({}, 'shop')), (e: NodeJS.ErrnoException) => e.code === 'ERR_TLS_CERT_ALTNAME_INVALID');
  });
});
