// The chart without a cluster: `helm lint --strict` (Helm 4 and 3 from npm), `helm template` with the defaults and
// with every documented option, each object validated against the Kubernetes schemas (kubernetes-models),
// the webhook's selectors, values.schema.json, and `meshlet inject` as a post-renderer (Helm 3 path, Helm 4 plugin).

import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseInjectSettings } from '../../sidecar/src/inject/inject-settings';
import { CHART, REPO, helm, parseDocs, renderChart, schemaProblem } from '../support/kubernetes';

type Obj = { [key: string]: unknown };

/** Every documented option set to a non-default value, in one render. */
const ALL_OPTIONS = [
  'image.repository=registry.example/meshlet', 'image.tag=9.9.9', 'image.pullPolicy=Always',
  'injector.replicas=3', 'injector.failurePolicy=Ignore', 'injector.timeoutSeconds=5', 'injector.reinvocationPolicy=IfNeeded', 'injector.port=8443',
  'injector.tls.validityDays=365', 'injector.podDisruptionBudget.minAvailable=2', 'injector.nodeSelector.kubernetes\\.io/os=linux',
  'sidecar.mode=classic', 'sidecar.proxyUid=2102', 'sidecar.xds.address=istiod.istio-system.svc:15012', 'sidecar.xds.tls.serverName=istiod.istio-system.svc',
  'sidecar.xds.tls.caConfigMap=mesh-ca', 'sidecar.xds.tls.caKey=ca.pem', 'sidecar.xds.token.audience=istio-ca', 'sidecar.xds.token.expirationSeconds=3600',
  'sidecar.clusterId=east', 'sidecar.istioVersion=1.27.0', 'sidecar.tracing.otlpEndpoint=http://jaeger-collector.observability:4318', 'sidecar.tracing.samplingPercent=100',
  'sidecar.resources.cpuRequest=50m', 'sidecar.resources.memoryRequest=64Mi', 'sidecar.resources.cpuLimit=1', 'sidecar.resources.memoryLimit=256Mi',
  'sidecar.logLevel=debug', 'sidecar.drainSeconds=15', 'sidecar.iptablesMode=legacy',
  'sidecar.excludeInboundPorts={8081}', 'sidecar.excludeOutboundPorts={5432,6379}', 'sidecar.excludeOutboundIpRanges={10.96.0.0/12}', 'sidecar.excludedNamespaces={monitoring}',
];
const VALUE_SETS: Record<string, string[]> = {
  defaults: [],
  'every option': ALL_OPTIONS,
  'plaintext xDS (go-control-plane)': ['sidecar.xds.address=xds.mesh.svc:18000', 'sidecar.xds.tls.enabled=false', 'sidecar.xds.token.enabled=false'],
  'cert-manager': ['injector.tls.certManager.enabled=true'],
  'cert-manager with an issuer': ['injector.tls.certManager.enabled=true', 'injector.tls.certManager.issuerName=corp-ca', 'injector.tls.certManager.issuerKind=ClusterIssuer'],
  'single replica (no PDB)': ['injector.replicas=1'],
};

describe('helm chart charts/meshlet', function () {
  this.timeout(60_000);

  for (const major of [4, 3] as const) {
    it(`helm ${major}: lint --strict passes`, () => {
      const r = helm(major, ['lint', '--strict', CHART]);
      assert.equal(r.status, 0, r.stdout + r.stderr);
    });
  }

  for (const [name, values] of Object.entries(VALUE_SETS)) {
    it(`template (${name}) renders objects that validate against the Kubernetes schemas`, () => {
      const docs = renderChart(4, values);
      const problems = docs.map(schemaProblem).filter((p): p is string => p !== undefined && p !== 'skipped');
      assert.deepEqual(problems, []);
      const kinds = docs.map((d) => d['kind']);
      assert.ok(kinds.includes('MutatingWebhookConfiguration') && kinds.includes('Deployment') && kinds.includes('Service'));
      if (values.includes('injector.tls.certManager.enabled=true')) assert.ok(kinds.includes('Certificate') && !kinds.includes('Secret'));
      const settings = parseInjectSettings(JSON.parse(String((docs.find((d) => d['kind'] === 'ConfigMap')!['data'] as Obj)['settings.json'])));
      assert.ok(settings.ok, `the rendered settings.json must load in the injector: ${JSON.stringify(!settings.ok && settings.errors)}`);
    });
  }

  it('helm 3 renders the same objects as helm 4 (certificates aside)', () => {
    const strip = (docs: Obj[]): string => JSON.stringify(docs.map((d) => (d['kind'] === 'Secret' ? { kind: 'Secret' } : d)).map((d) => {
      if (d['kind'] !== 'MutatingWebhookConfiguration') return d;
      const copy = structuredClone(d);
      for (const w of copy['webhooks'] as Obj[]) delete (w['clientConfig'] as Obj)['caBundle'];
      return copy;
    }));
    assert.equal(strip(renderChart(3, ALL_OPTIONS)), strip(renderChart(4, ALL_OPTIONS)));
  });

  it('webhook: CREATE pods only, namespace label opt-in, never its own namespace or kube-system, pod opt-out, configurable failurePolicy', () => {
    const hook = ((renderChart(4).find((d) => d['kind'] === 'MutatingWebhookConfiguration')!['webhooks']) as Obj[])[0]!;
    assert.deepEqual(hook['rules'], [{ operations: ['CREATE'], apiGroups: [''], apiVersions: ['v1'], resources: ['pods'], scope: 'Namespaced' }]);
    assert.deepEqual(hook['namespaceSelector'], { matchExpressions: [
      { key: 'meshlet.io/injection', operator: 'In', values: ['enabled'] },
      { key: 'kubernetes.io/metadata.name', operator: 'NotIn', values: ['meshlet-system', 'kube-system'] },
    ] });
    assert.deepEqual(hook['objectSelector'], { matchExpressions: [{ key: 'meshlet.io/inject', operator: 'NotIn', values: ['false'] }] });
    assert.equal(hook['failurePolicy'], 'Fail');
    assert.equal(hook['sideEffects'], 'None');
    const ignore = ((renderChart(4, ['injector.failurePolicy=Ignore']).find((d) => d['kind'] === 'MutatingWebhookConfiguration')!['webhooks']) as Obj[])[0]!;
    assert.equal(ignore['failurePolicy'], 'Ignore');
    const deployment = renderChart(4).find((d) => d['kind'] === 'Deployment')!;
    const podLabels = (((deployment['spec'] as Obj)['template'] as Obj)['metadata'] as Obj)['labels'] as Obj;
    assert.equal(podLabels['meshlet.io/inject'], 'false', 'the injector pod opts out of injection');
  });

  it('values.schema.json rejects bad values with the path', () => {
    for (const [set, path] of [['injector.failurePolicy=Sometimes', '/injector/failurePolicy'], ['sidecar.mode=hybrid', '/sidecar/mode'], ['sidecar.resources.cpuRequest=lots', '/sidecar/resources/cpuRequest'], ['sidecar.xds.address=nohost', '/sidecar/xds/address']] as const) {
      const r = helm(4, ['template', 'meshlet', CHART, '--set', set]);
      assert.notEqual(r.status, 0, set);
      assert.match(r.stderr, new RegExp(path.replace(/\//g, '\\/')), set);
    }
  });

  describe('meshlet inject as a Helm post-renderer', () => {
    const meshlet = path.join(REPO, 'dist', 'sidecar', 'src', 'main.js');
    const settingsFile = path.join(REPO, 'test', 'fixtures', 'inject', 'settings.yaml');
    let dir: string;
    let demoChart: string;
    before(() => {
      dir = fs.mkdtempSync(path.join(os.tmpdir(), 'meshlet-postrender-'));
      demoChart = path.join(REPO, 'examples', 'kubernetes', 'demo-chart');
      // Helm 3: an executable path. It runs `meshlet inject -f -` with the settings.
      fs.writeFileSync(path.join(dir, 'post-render.sh'), `#!/bin/sh\nexec "${process.execPath}" "${meshlet}" inject -f - --config "${settingsFile}"\n`, { mode: 0o755 });
    });
    after(() => fs.rmSync(dir, { recursive: true, force: true }));

    const check = (stdout: string): void => {
      const docs = parseDocs(stdout);
      const deployments = docs.filter((d) => d['kind'] === 'Deployment');
      assert.ok(deployments.length >= 2);
      for (const d of deployments) {
        const spec = ((d['spec'] as Obj)['template'] as Obj)['spec'] as Obj;
        assert.deepEqual((spec['initContainers'] as Obj[]).slice(0, 2).map((c) => c['name']), ['meshlet-init', 'meshlet-proxy']);
        assert.equal(schemaProblem(d), undefined);
        // Admin on loopback; the kubelet and Prometheus reach the read-only health port 15021 only.
        const proxy = (spec['initContainers'] as Obj[])[1]!;
        const env = Object.fromEntries((proxy['env'] as Obj[]).map((e) => [e['name'], e['value']]));
        assert.equal(env['MESHLET_ADMIN_ADDRESS'], '127.0.0.1:15000');
        assert.equal(env['MESHLET_HEALTH_ADDRESS'], '0.0.0.0:15021');
        assert.deepEqual(proxy['ports'], [{ name: 'meshlet-health', containerPort: 15021, protocol: 'TCP' }]);
        for (const probe of ['readinessProbe', 'livenessProbe', 'startupProbe']) assert.equal(((proxy[probe] as Obj)['httpGet'] as Obj)['port'], 15021, probe);
      }
      assert.ok(docs.some((d) => d['kind'] === 'Service'), 'other objects pass through');
    };

    it('helm 3 --post-renderer <executable>', () => {
      const r = helm(3, ['template', 'demo', demoChart, '--namespace', 'demo', '--post-renderer', path.join(dir, 'post-render.sh')]);
      assert.equal(r.status, 0, r.stderr);
      check(r.stdout);
    });

    it('helm 4 --post-renderer <postrenderer/v1 plugin> (examples/kubernetes/helm-plugin)', () => {
      // The plugin runs `meshlet` from PATH with MESHLET_INJECT_CONFIG; a shim stands in for the installed binary.
      const bin = path.join(dir, 'bin');
      fs.mkdirSync(bin, { recursive: true });
      fs.writeFileSync(path.join(bin, 'meshlet'), `#!/bin/sh\nexec "${process.execPath}" "${meshlet}" "$@"\n`, { mode: 0o755 });
      const home = path.join(dir, 'helm-home');
      const env = { ...process.env, PATH: `${bin}:${process.env['PATH'] ?? ''}`, MESHLET_INJECT_CONFIG: settingsFile, HELM_CACHE_HOME: path.join(home, 'cache'), HELM_CONFIG_HOME: path.join(home, 'config'), HELM_DATA_HOME: path.join(home, 'data') };
      const run = (args: string[]): { status: number | null; stdout: string; stderr: string } =>
        // eslint-disable-next-line @typescript-eslint/no-require-imports
        (require('node:child_process') as typeof import('node:child_process')).spawnSync(path.join(REPO, '.tools', 'helm4', 'helm'), args, { encoding: 'utf8', env });
      const install = run(['plugin', 'install', path.join(REPO, 'examples', 'kubernetes', 'helm-plugin')]);
      assert.equal(install.status, 0, install.stderr);
      const r = run(['template', 'demo', demoChart, '--namespace', 'demo', '--post-renderer', 'meshlet-inject']);
      assert.equal(r.status, 0, r.stderr);
      check(r.stdout);
    });
  });
});
