// Golden tests of injectPod (through `meshlet inject`'s manifest path): fixtures in test/fixtures/inject, *.in.yaml ->
// *.out.yaml (UPDATE_GOLDEN=1 rewrites them; review the diff). Every injected pod must pass the Kubernetes schema.

import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as YAML from 'yaml';
import { DEFAULT_INJECT_SETTINGS, parseInjectSettings, type InjectSettings } from '../../../sidecar/src/inject/inject-settings';
import { injectPod, type KubeObject } from '../../../sidecar/src/inject/inject-pod';
import { injectManifests } from '../../../sidecar/src/inject/manifest-injector';
import { INJECT_FIXTURES, parseDocs, schemaProblem } from '../../support/kubernetes';

export function goldenSettings(): InjectSettings {
  const parsed = parseInjectSettings(YAML.parse(fs.readFileSync(path.join(INJECT_FIXTURES, 'settings.yaml'), 'utf8')));
  assert.ok(parsed.ok, JSON.stringify(!parsed.ok && parsed.errors));
  return parsed.value;
}

function podSpecOf(doc: KubeObject): KubeObject {
  const spec = doc['spec'] as KubeObject;
  if (doc['kind'] === 'Pod') return spec;
  return (spec['template'] as KubeObject)['spec'] as KubeObject;
}

function names(list: unknown): string[] {
  return Array.isArray(list) ? list.map((c) => String((c as KubeObject)['name'])) : [];
}

describe('inject: golden pods', () => {
  const settings = goldenSettings();
  for (const name of ['deployment-plain', 'pod-init-containers', 'pod-annotated', 'pod-classic', 'job']) {
    it(`${name}: matches ${name}.out.yaml and validates`, () => {
      const input = fs.readFileSync(path.join(INJECT_FIXTURES, `${name}.in.yaml`), 'utf8');
      const result = injectManifests(input, { settings });
      assert.deepEqual(result.errors, []);
      const golden = path.join(INJECT_FIXTURES, `${name}.out.yaml`);
      if (process.env['UPDATE_GOLDEN'] === '1') fs.writeFileSync(golden, result.output);
      assert.equal(result.output, fs.readFileSync(golden, 'utf8'));
      for (const doc of parseDocs(result.output)) assert.equal(schemaProblem(doc), undefined);
    });
  }

  it('native mode: meshlet-init, then meshlet-proxy (restartPolicy Always, startupProbe), then the user\'s init containers', () => {
    const [pod] = parseDocs(fs.readFileSync(path.join(INJECT_FIXTURES, 'pod-init-containers.out.yaml'), 'utf8'));
    const spec = podSpecOf(pod!);
    assert.deepEqual(names(spec['initContainers']), ['meshlet-init', 'meshlet-proxy', 'migrate']);
    const proxy = (spec['initContainers'] as KubeObject[])[1]!;
    assert.equal(proxy['restartPolicy'], 'Always');
    assert.deepEqual((proxy['startupProbe'] as KubeObject)['httpGet'], { path: '/ready', port: 15021 });
    assert.deepEqual(names(spec['containers']), ['orders']);
    assert.deepEqual(names(spec['volumes']), ['scratch', 'meshlet-xds-token', 'meshlet-xds-ca']);
  });

  it('a Job gets a native sidecar only: no regular container that would keep the pod alive', () => {
    const [job] = parseDocs(fs.readFileSync(path.join(INJECT_FIXTURES, 'job.out.yaml'), 'utf8'));
    const spec = podSpecOf(job!);
    assert.deepEqual(names(spec['containers']), ['report']);
    assert.equal((spec['initContainers'] as KubeObject[])[1]!['restartPolicy'], 'Always');
  });

  it('a Job in classic mode is left alone with the reason (a classic sidecar would never exit)', () => {
    const job = YAML.parse(fs.readFileSync(path.join(INJECT_FIXTURES, 'job.in.yaml'), 'utf8')) as KubeObject;
    const classic = { ...settings, sidecarMode: 'classic' as const };
    const result = injectManifests(YAML.stringify(job), { settings: classic });
    assert.match(result.report.join('\n'), /skipped: a classic sidecar would keep this Job's pod running forever/);
    // The same decision for a pod the Job controller created (ownerReferences), as the webhook sees it.
    const pod: KubeObject = { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'r-1', ownerReferences: [{ apiVersion: 'batch/v1', kind: 'Job', name: 'r', uid: 'u' }] }, spec: { containers: [{ name: 'r', image: 'r' }] } };
    assert.equal(injectPod(pod, classic, { namespace: 'shop' }).kind, 'skipped');
  });

  it('classic mode: proxy first with a blocking postStart, default-container annotation for kubectl', () => {
    const [pod] = parseDocs(fs.readFileSync(path.join(INJECT_FIXTURES, 'pod-classic.out.yaml'), 'utf8'));
    const spec = podSpecOf(pod!);
    assert.deepEqual(names(spec['containers']), ['meshlet-proxy', 'app', 'logger']);
    assert.deepEqual(((spec['containers'] as KubeObject[])[0]!['lifecycle'] as KubeObject)['postStart'], { exec: { command: ['meshlet', 'wait', '--timeout', '120'] } });
    assert.equal(((pod!['metadata'] as KubeObject)['annotations'] as KubeObject)['kubectl.kubernetes.io/default-container'], 'app');
  });

  it('annotations reach the init container args and the proxy env/resources, merged with the mesh defaults', () => {
    const [pod] = parseDocs(fs.readFileSync(path.join(INJECT_FIXTURES, 'pod-annotated.out.yaml'), 'utf8'));
    const [init, proxy] = podSpecOf(pod!)['initContainers'] as KubeObject[];
    const args = (init!['args'] as string[]).join(' ');
    assert.match(args, /--include-inbound-ports 9080 /);
    assert.match(args, /--exclude-outbound-ports 5432,6379 /);
    assert.match(args, /--exclude-outbound-ip-ranges 10\.96\.0\.0\/12,fd00::\/8 /);
    assert.deepEqual(proxy!['resources'], { requests: { cpu: '250m', memory: '128Mi' }, limits: { memory: '1Gi' } });
    const env = Object.fromEntries((proxy!['env'] as KubeObject[]).map((e) => [e['name'], e['value']]));
    assert.equal(env['MESHLET_LOG_LEVEL'], 'debug');
    assert.equal(env['OTEL_TRACES_SAMPLER_ARG'], '1');
    assert.deepEqual(proxy!['args'], ['run', '--drain-timeout', '20']);
  });

  it('admin stays on loopback; probes, the container port and the iptables exclusion are the health port 15021', () => {
    for (const mode of ['native', 'classic'] as const) {
      const result = injectPod({ kind: 'Pod', metadata: { name: 'p' }, spec: { containers: [{ name: 'app', image: 'a' }] } }, { ...settings, sidecarMode: mode }, { namespace: 'shop' });
      assert.equal(result.kind, 'injected', mode);
      const spec = podSpecOf(result.kind === 'injected' ? result.pod : {});
      const proxy = [...(spec['initContainers'] as KubeObject[]), ...(spec['containers'] as KubeObject[])].find((c) => c['name'] === 'meshlet-proxy')!;
      const env = Object.fromEntries((proxy['env'] as KubeObject[]).map((e) => [e['name'], e['value']]));
      assert.equal(env['MESHLET_ADMIN_ADDRESS'], '127.0.0.1:15000', `${mode}: /config_dump, /drain, /logging unreachable from the cluster`);
      assert.equal(env['MESHLET_HEALTH_ADDRESS'], '0.0.0.0:15021', mode);
      assert.deepEqual(proxy['ports'], [{ name: 'meshlet-health', containerPort: 15021, protocol: 'TCP' }], mode);
      const probes = ['readinessProbe', 'livenessProbe', ...(mode === 'native' ? ['startupProbe'] : [])];
      for (const probe of probes) assert.equal(((proxy[probe] as KubeObject)['httpGet'] as KubeObject)['port'], 15021, `${mode} ${probe}`);
      assert.equal(((proxy['livenessProbe'] as KubeObject)['httpGet'] as KubeObject)['path'], '/live');
      const init = (spec['initContainers'] as KubeObject[])[0]!;
      const args = init['args'] as string[];
      assert.equal(args[args.indexOf('--exclude-inbound-ports') + 1], '15021', `${mode}: 15000 is loopback-only, no exclusion needed`);
    }
    // A pod's own exclusions are kept after 15021, without repeating it.
    const annotated = injectPod({ kind: 'Pod', metadata: { name: 'p', annotations: { 'meshlet.io/exclude-inbound-ports': '8081,15021' } }, spec: { containers: [{ name: 'app', image: 'a' }] } }, settings, { namespace: 'shop' });
    const initArgs = annotated.kind === 'injected' ? ((podSpecOf(annotated.pod)['initContainers'] as KubeObject[])[0]!['args'] as string[]) : [];
    assert.equal(initArgs[initArgs.indexOf('--exclude-inbound-ports') + 1], '15021,8081');
  });

  it('an already injected pod is left alone (idempotent)', () => {
    const injected = fs.readFileSync(path.join(INJECT_FIXTURES, 'deployment-plain.out.yaml'), 'utf8');
    const again = injectManifests(injected, { settings });
    assert.equal(again.output, injected);
    assert.match(again.report.join('\n'), /skipped: already injected/);
  });

  it('refuses invalid annotations with one clear message each, never an invalid pod', () => {
    const pod: KubeObject = {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: {
        name: 'bad',
        annotations: {
          'meshlet.io/proxy-cpu': 'lots',
          'meshlet.io/proxy-memory': '2Gi',
          'meshlet.io/proxy-memory-limit': '1Gi',
          'meshlet.io/exclude-outbound-ports': '5432,http',
          'meshlet.io/exclude-outbound-ip-ranges': '10.0.0.0/33',
          'meshlet.io/trace-sampling': '150',
          'meshlet.io/sidecar-mode': 'sometimes',
          'meshlet.io/inject': 'maybe',
        },
      },
      spec: { containers: [{ name: 'app', image: 'app' }] },
    };
    const result = injectPod(pod, settings, { namespace: 'shop' });
    assert.equal(result.kind, 'refused');
    assert.deepEqual(result.kind === 'refused' ? result.errors : [], [
      'annotation meshlet.io/inject: "maybe" must be "true" or "false"',
      'annotation meshlet.io/sidecar-mode: "sometimes" must be "native" or "classic"',
      'annotation meshlet.io/proxy-cpu: "lots" is not a cpu quantity (e.g. 100m or 0.5)',
      'proxy memory request 2Gi is above its limit 1Gi (annotations meshlet.io/proxy-memory / meshlet.io/proxy-memory-limit)',
      'annotation meshlet.io/exclude-outbound-ports: "5432,http" must be a comma-separated list of ports (1-65535)',
      'annotation meshlet.io/exclude-outbound-ip-ranges: "10.0.0.0/33" has invalid CIDRs (10.0.0.0/33); expected e.g. 10.0.0.0/8,fd00::/8',
      'annotation meshlet.io/trace-sampling: "150" must be a percentage from 0 to 100',
    ]);
  });

  it('refuses pods that would silently bypass the mesh (app as the proxy UID, reserved ports)', () => {
    const pod: KubeObject = { metadata: {}, spec: { securityContext: { runAsUser: 1337 }, containers: [{ name: 'app', image: 'a', ports: [{ containerPort: 15001 }] }] } };
    const result = injectPod(pod, settings, { namespace: 'shop' });
    assert.equal(result.kind, 'refused');
    assert.match(result.kind === 'refused' ? result.errors.join('\n') : '', /port 15001, reserved[\s\S]*runs as UID 1337/);
    for (const port of [15021, 15000]) {
      const app: KubeObject = { metadata: {}, spec: { containers: [{ name: 'app', image: 'a', ports: [{ containerPort: port }] }] } };
      const refused = injectPod(app, settings, { namespace: 'shop' });
      assert.deepEqual(refused.kind === 'refused' ? refused.errors : [], [`container "app" uses port ${port}, reserved for the meshlet sidecar (15001, 15006, 15000, 15021)`]);
    }
  });

  it('skips opted-out pods, hostNetwork pods, kube-system and the injector namespace', () => {
    const pod = (meta: KubeObject, spec: KubeObject = {}): KubeObject => ({ metadata: meta, spec: { containers: [{ name: 'a', image: 'a' }], ...spec } });
    const reason = (p: KubeObject, ns: string): string => {
      const r = injectPod(p, settings, { namespace: ns, injectorNamespace: 'meshlet-system' });
      return r.kind === 'skipped' ? r.reason : r.kind;
    };
    assert.match(reason(pod({ labels: { 'meshlet.io/inject': 'false' } }), 'shop'), /opted out/);
    assert.match(reason(pod({ annotations: { 'meshlet.io/inject': 'false' } }), 'shop'), /opted out/);
    assert.match(reason(pod({}, { hostNetwork: true }), 'shop'), /hostNetwork/);
    assert.match(reason(pod({}), 'kube-system'), /never injected/);
    assert.match(reason(pod({}), 'meshlet-system'), /never injected/);
    assert.equal(reason(pod({}), 'shop'), 'injected');
  });

  it('does not modify its input', () => {
    const pod: KubeObject = { metadata: { labels: { app: 'x' } }, spec: { containers: [{ name: 'a', image: 'a' }] } };
    const before = JSON.stringify(pod);
    injectPod(pod, DEFAULT_INJECT_SETTINGS, { namespace: 'shop' });
    assert.equal(JSON.stringify(pod), before);
  });

  it('settings: every problem listed with its path', () => {
    const parsed = parseInjectSettings({ sidecarMode: 'hybrid', proxyUid: 0, resources: { cpuRequest: 'x' }, xds: { address: 'nohost' }, typo: 1 });
    assert.ok(!parsed.ok);
    assert.deepEqual(parsed.errors.map((e) => e.path).sort(), ['proxyUid', 'resources.cpuRequest', 'sidecarMode', 'typo', 'xds.address']);
  });
});
