// `meshlet inject -f`: injectPod over the pod templates of a multi-document YAML stream (kubectl, GitOps, Helm post-renderer).

import * as YAML from 'yaml';
import type { InjectSettings } from './inject-settings';
import { injectPod, type KubeObject } from './inject-pod';

/** Workload kinds whose pod template is injected, and where the template is (Istio's kube-inject list plus Pod). */
const TEMPLATE_PATHS: Readonly<Record<string, readonly string[]>> = {
  Pod: [],
  Deployment: ['spec', 'template'],
  StatefulSet: ['spec', 'template'],
  DaemonSet: ['spec', 'template'],
  ReplicaSet: ['spec', 'template'],
  ReplicationController: ['spec', 'template'],
  Job: ['spec', 'template'],
  CronJob: ['spec', 'jobTemplate', 'spec', 'template'],
};

export interface ManifestInjectOptions {
  readonly settings: InjectSettings;
  /** Namespace of objects that set none (`--namespace`, Helm's release namespace); default `default`. */
  readonly defaultNamespace?: string;
  /** The injector's namespace, never injected (as the webhook). */
  readonly injectorNamespace?: string;
}

export interface ManifestInjectResult {
  /** The stream with every injectable template injected; other documents exactly as given. */
  readonly output: string;
  /** `Deployment/default/web: injected`, `... skipped: <reason>` (one per workload, for stderr). */
  readonly report: readonly string[];
  /** Refusals (invalid annotations, conflicts) and YAML errors; output should not be used when non-empty. */
  readonly errors: readonly string[];
  readonly warnings: readonly string[];
}

/**
 * Injects every workload of a multi-document YAML stream (and the items of a `List`). The pod template gets exactly
 * what the webhook would give the pod created from it, since both call injectPod with the same settings. Documents
 * that are not workloads, and templates that are skipped, are copied through unchanged. Never throws.
 */
export function injectManifests(text: string, options: ManifestInjectOptions): ManifestInjectResult {
  const report: string[] = [];
  const errors: string[] = [];
  const warnings: string[] = [];
  const docs = YAML.parseAllDocuments(text, { uniqueKeys: true });
  const out: string[] = [];
  docs.forEach((doc, index) => {
    if (doc.errors.length > 0) {
      for (const e of doc.errors) errors.push(`document ${index + 1}: invalid YAML: ${e.message.split('\n')[0]}`);
      return;
    }
    const value = doc.toJS() as unknown;
    if (value === null || value === undefined) {
      if (doc.toString().trim() !== '' && doc.toString().trim() !== 'null') out.push(doc.toString());
      return;
    }
    const changed = injectObject(value as KubeObject, options, { report, errors, warnings });
    out.push(changed ? YAML.stringify(value, { lineWidth: 0 }) : doc.toString());
  });
  return { output: out.map((d) => (d.endsWith('\n') ? d : `${d}\n`)).join('---\n'), report, errors, warnings };
}

interface Sink {
  readonly report: string[];
  readonly errors: string[];
  readonly warnings: string[];
}

/** Injects in place; true when something changed. */
function injectObject(object: KubeObject, options: ManifestInjectOptions, sink: Sink): boolean {
  const kind = object['kind'];
  if (kind === 'List' && Array.isArray(object['items'])) {
    let changed = false;
    for (const item of object['items']) if (item !== null && typeof item === 'object' && injectObject(item as KubeObject, options, sink)) changed = true;
    return changed;
  }
  if (typeof kind !== 'string') return false;
  const path = TEMPLATE_PATHS[kind];
  if (path === undefined) return false;
  const metadata = (object['metadata'] ?? {}) as KubeObject;
  const namespace = typeof metadata['namespace'] === 'string' && metadata['namespace'] !== '' ? metadata['namespace'] : options.defaultNamespace ?? 'default';
  const label = `${kind}/${namespace}/${String(metadata['name'] ?? '?')}`;
  let parent: KubeObject | undefined;
  let template: KubeObject | undefined = object;
  for (const key of path) {
    parent = template;
    const next: unknown = template?.[key];
    template = next !== null && typeof next === 'object' ? (next as KubeObject) : undefined;
  }
  if (template === undefined) {
    sink.errors.push(`${label}: no pod template at ${path.join('.')}`);
    return false;
  }
  const result = injectPod(template, options.settings, {
    namespace,
    ...(kind === 'Pod' ? {} : { ownerKind: kind }),
    ...(options.injectorNamespace === undefined ? {} : { injectorNamespace: options.injectorNamespace }),
  });
  switch (result.kind) {
    case 'refused':
      for (const e of result.errors) sink.errors.push(`${label}: ${e}`);
      return false;
    case 'skipped':
      sink.report.push(`${label}: skipped: ${result.reason}`);
      for (const w of result.warnings) sink.warnings.push(`${label}: ${w}`);
      return false;
    case 'injected': {
      sink.report.push(`${label}: injected`);
      for (const w of result.warnings) sink.warnings.push(`${label}: ${w}`);
      if (parent === undefined) {
        for (const key of Object.keys(object)) delete object[key];
        Object.assign(object, result.pod);
      } else parent[path[path.length - 1] ?? 'template'] = result.pod;
      return true;
    }
  }
}
