// injectPod: the one pure pod mutation shared by the webhook (`meshlet injector`) and the CLI (`meshlet inject`).

import { ALWAYS_EXCLUDED_NAMESPACES, INJECTED_NAMES, PROXY_PORTS, STATUS_ANNOTATION, type InjectSettings } from './inject-settings';
import { ANNOTATIONS, readPodAnnotations, type PodSettings } from './pod-annotations';

/** A Kubernetes object as plain JSON. */
export type KubeObject = { [key: string]: unknown };

/** Where the pod is going. */
export interface InjectContext {
  /** The pod's namespace: the AdmissionReview's `request.namespace`, the manifest's, or `--namespace`. */
  readonly namespace: string;
  /** Kind of the workload whose template this is (`Job`, `CronJob`, ...), when known; `ownerReferences` is read too. */
  readonly ownerKind?: string;
  /** The injector's own namespace: never injected. */
  readonly injectorNamespace?: string;
}

/** The outcome, as a value: the webhook maps `refused` to a denial, `skipped` to an allowed pod without a patch. */
export type InjectResult =
  | { readonly kind: 'injected'; readonly pod: KubeObject; readonly warnings: readonly string[] }
  | { readonly kind: 'skipped'; readonly reason: string; readonly warnings: readonly string[] }
  | { readonly kind: 'refused'; readonly errors: readonly string[] };

/** Where the proxy finds the xDS CA bundle and the projected token. */
const CA_DIR = '/var/run/secrets/meshlet/xds-ca';
const TOKEN_DIR = '/var/run/secrets/tokens';
const TOKEN_FILE = 'xds-token';

/**
 * Returns the pod with the sidecar added, or why not. Pure (the input is not modified) and idempotent (an injected
 * pod is skipped). Mirrors Istio's injection template and Linkerd's partials:
 * - `meshlet-init` (iptables, NET_ADMIN/NET_RAW, root) first among the init containers, so the user's own init
 *   containers already run with the mesh (istio/istio#27382).
 * - native mode: `meshlet-proxy` as the second init container with `restartPolicy: Always` and a startupProbe on
 *   /ready (Kubernetes >= 1.29): the app starts after the proxy is ready, the proxy stops after the app, and a Job
 *   completes (istio/istio#11045, linkerd/linkerd2#11461).
 * - classic mode: `meshlet-proxy` first in `containers` with a blocking `postStart: meshlet wait` (Istio's
 *   holdApplicationUntilProxyStarts). Refused for Job pods, which it would keep alive forever.
 * - node identity env from the downward API (node id `sidecar~IP~pod.ns~ns.svc.cluster.local` is derived by the
 *   proxy), xDS CA + projected token volumes for istiod, resources, drain, OTLP.
 * - admin on 127.0.0.1:15000 only; probes and Prometheus on the read-only health port 15021 (Istio's status port:
 *   /config_dump, /drain and /logging are not reachable from the cluster).
 * Never injected: opted-out pods, hostNetwork pods (the rules would change the node's network), kube-system and the
 * injector's own namespace. Invalid annotations and conflicting pods are refused with one message each.
 */
export function injectPod(pod: KubeObject, mesh: InjectSettings, context: InjectContext): InjectResult {
  const metadata = asObject(pod['metadata']);
  const spec = asObject(pod['spec']);
  const annotations = stringMap(metadata['annotations']);
  const labels = stringMap(metadata['labels']);
  const excluded = new Set([...ALWAYS_EXCLUDED_NAMESPACES, ...mesh.excludedNamespaces, ...(context.injectorNamespace === undefined ? [] : [context.injectorNamespace])]);
  if (excluded.has(context.namespace)) return skipped(`namespace ${context.namespace} is never injected`);
  if (annotations[STATUS_ANNOTATION] !== undefined || hasProxy(spec)) return skipped('already injected');
  if (spec['hostNetwork'] === true) return skipped('hostNetwork pods are not injected (iptables would change the node\'s network)');

  const read = readPodAnnotations(annotations, labels, mesh);
  if (read.errors.length > 0) return { kind: 'refused', errors: read.errors };
  if (!read.inject) return skipped(`opted out (${ANNOTATIONS.inject}=false)`, read.warnings);
  const settings = read.settings;

  const containers = asArray(spec['containers']);
  const initContainers = asArray(spec['initContainers']);
  const conflicts = findConflicts(containers, initContainers, spec, settings);
  if (conflicts.length > 0) return { kind: 'refused', errors: conflicts };

  const ownerKinds = [context.ownerKind, ...asArray(metadata['ownerReferences']).map((o) => asObject(o)['kind'])];
  const isJob = ownerKinds.some((k) => k === 'Job' || k === 'CronJob');
  if (isJob && settings.sidecarMode === 'classic') {
    return skipped(`a classic sidecar would keep this Job's pod running forever; use ${ANNOTATIONS.sidecarMode}: native (Kubernetes >= 1.29)`, read.warnings);
  }

  const proxy = proxyContainer(settings, labels, context.namespace);
  const init = initContainer(settings);
  const next: KubeObject = structuredClone(pod);
  const nextMeta = asObject(next['metadata']);
  const nextSpec = asObject(next['spec']);
  next['metadata'] = nextMeta;
  next['spec'] = nextSpec;
  if (settings.sidecarMode === 'native') {
    nextSpec['initContainers'] = [init, { ...proxy, restartPolicy: 'Always', startupProbe: readyProbe(1, 600) }, ...initContainers.map(clone)];
  } else {
    nextSpec['initContainers'] = [init, ...initContainers.map(clone)];
    nextSpec['containers'] = [{ ...proxy, lifecycle: { postStart: { exec: { command: ['meshlet', 'wait', '--timeout', '120'] } } } }, ...containers.map(clone)];
  }
  const volumes = proxyVolumes(settings);
  if (volumes.length > 0) nextSpec['volumes'] = [...asArray(nextSpec['volumes']).map(clone), ...volumes];
  const nextAnnotations: Record<string, string> = { ...annotations };
  nextAnnotations[STATUS_ANNOTATION] = JSON.stringify({
    mode: settings.sidecarMode,
    initContainers: settings.sidecarMode === 'native' ? [INJECTED_NAMES.init, INJECTED_NAMES.proxy] : [INJECTED_NAMES.init],
    containers: settings.sidecarMode === 'native' ? [] : [INJECTED_NAMES.proxy],
    volumes: volumes.map((v) => v['name']),
  });
  // `kubectl logs/exec` default to the first container, which is the proxy in classic mode (as Istio does).
  const firstApp = asObject(containers[0])['name'];
  if (settings.sidecarMode === 'classic' && typeof firstApp === 'string' && annotations['kubectl.kubernetes.io/default-container'] === undefined) {
    nextAnnotations['kubectl.kubernetes.io/default-container'] = firstApp;
  }
  nextMeta['annotations'] = nextAnnotations;
  return { kind: 'injected', pod: next, warnings: read.warnings };
}

function skipped(reason: string, warnings: readonly string[] = []): InjectResult {
  return { kind: 'skipped', reason, warnings };
}

function hasProxy(spec: KubeObject): boolean {
  return [...asArray(spec['containers']), ...asArray(spec['initContainers'])].some((c) => asObject(c)['name'] === INJECTED_NAMES.proxy);
}

/** What would make the injected pod invalid or silently broken: said now, not discovered in production. */
function findConflicts(containers: unknown[], initContainers: unknown[], spec: KubeObject, settings: PodSettings): string[] {
  const problems: string[] = [];
  const reserved = new Set<number>(Object.values(PROXY_PORTS));
  const names = new Set<string>(Object.values(INJECTED_NAMES));
  const podUid = asObject(spec['securityContext'])['runAsUser'];
  for (const raw of [...initContainers, ...containers]) {
    const c = asObject(raw);
    const name = String(c['name'] ?? '');
    if (names.has(name)) problems.push(`container name "${name}" is reserved for the meshlet sidecar`);
    for (const p of asArray(c['ports'])) {
      const port = asObject(p)['containerPort'];
      if (typeof port === 'number' && reserved.has(port)) problems.push(`container "${name}" uses port ${port}, reserved for the meshlet sidecar (${[...reserved].join(', ')})`);
    }
    const uid = asObject(c['securityContext'])['runAsUser'] ?? podUid;
    if (uid === settings.proxyUid) problems.push(`container "${name}" runs as UID ${settings.proxyUid}, the proxy's UID: its traffic would bypass the sidecar (choose another UID)`);
  }
  for (const v of asArray(spec['volumes'])) {
    const name = asObject(v)['name'];
    if (name === INJECTED_NAMES.tokenVolume || name === INJECTED_NAMES.caVolume) problems.push(`volume name "${String(name)}" is reserved for the meshlet sidecar`);
  }
  return problems;
}

function readyProbe(periodSeconds: number, failureThreshold: number): KubeObject {
  return { httpGet: { path: '/ready', port: PROXY_PORTS.health }, periodSeconds, failureThreshold, timeoutSeconds: 1 };
}

function proxyContainer(settings: PodSettings, labels: Readonly<Record<string, string>>, namespace: string): KubeObject {
  const field = (name: string, path: string): KubeObject => ({ name, valueFrom: { fieldRef: { apiVersion: 'v1', fieldPath: path } } });
  const value = (name: string, v: string): KubeObject => ({ name, value: v });
  const env: KubeObject[] = [
    field('POD_NAME', 'metadata.name'),
    field('POD_NAMESPACE', 'metadata.namespace'),
    field('INSTANCE_IP', 'status.podIP'),
    field('SERVICE_ACCOUNT', 'spec.serviceAccountName'),
    value('CLUSTER_ID', settings.clusterId),
    ...(settings.istioVersion === '' ? [] : [value('ISTIO_VERSION', settings.istioVersion)]),
    value('INTERCEPTION_MODE', 'REDIRECT'),
    // Labels are known at admission (the ReplicaSet sets them on the pod); istiod's fallback when it can't find the pod.
    value('MESHLET_NODE_LABELS', JSON.stringify(labels)),
    value('MESHLET_XDS_ADDRESS', settings.xds.address),
    // Admin (config dump, drain, log level) stays on loopback, as Envoy's under Istio; the kubelet and Prometheus
    // reach the read-only health server on the pod IP (Istio's 15021/15090, Linkerd's 4191).
    value('MESHLET_ADMIN_ADDRESS', `127.0.0.1:${PROXY_PORTS.admin}`),
    value('MESHLET_HEALTH_ADDRESS', `0.0.0.0:${PROXY_PORTS.health}`),
    value('MESHLET_LOG_LEVEL', settings.logLevel),
  ];
  const mounts: KubeObject[] = [];
  if (settings.xds.tls !== null) {
    env.push(value('MESHLET_XDS_CA', `${CA_DIR}/${settings.xds.tls.caKey}`));
    if (settings.xds.tls.serverName !== undefined) env.push(value('MESHLET_XDS_SERVER_NAME', settings.xds.tls.serverName));
    mounts.push({ name: INJECTED_NAMES.caVolume, mountPath: CA_DIR, readOnly: true });
  }
  if (settings.xds.token !== null) {
    env.push(value('MESHLET_XDS_TOKEN', `${TOKEN_DIR}/${TOKEN_FILE}`), value('MESHLET_XDS_TOKEN_AUDIENCE', settings.xds.token.audience));
    mounts.push({ name: INJECTED_NAMES.tokenVolume, mountPath: TOKEN_DIR, readOnly: true });
  }
  if (settings.tracing.otlpEndpoint !== '') {
    // The OpenTelemetry SDK environment variables (opentelemetry.io/docs/specs/otel/configuration/sdk-environment-variables).
    env.push(
      value('OTEL_EXPORTER_OTLP_ENDPOINT', settings.tracing.otlpEndpoint),
      value('OTEL_TRACES_SAMPLER', 'parentbased_traceidratio'),
      value('OTEL_TRACES_SAMPLER_ARG', String(settings.tracing.samplingPercent / 100)),
    );
    // Spans named after the workload, `<app>.<namespace>` as Istio's default tracing service name.
    const app = labels['app.kubernetes.io/name'] ?? labels['app'];
    if (app !== undefined) env.push(value('OTEL_SERVICE_NAME', `${app}.${namespace}`));
  }
  const requests: Record<string, string> = {};
  const limits: Record<string, string> = {};
  if (settings.resources.cpuRequest !== undefined) requests['cpu'] = settings.resources.cpuRequest;
  if (settings.resources.memoryRequest !== undefined) requests['memory'] = settings.resources.memoryRequest;
  if (settings.resources.cpuLimit !== undefined) limits['cpu'] = settings.resources.cpuLimit;
  if (settings.resources.memoryLimit !== undefined) limits['memory'] = settings.resources.memoryLimit;
  return {
    name: INJECTED_NAMES.proxy,
    image: settings.image,
    imagePullPolicy: settings.imagePullPolicy,
    args: ['run', '--drain-timeout', String(settings.drainSeconds)],
    env,
    ports: [{ name: 'meshlet-health', containerPort: PROXY_PORTS.health, protocol: 'TCP' }],
    readinessProbe: readyProbe(5, 3),
    livenessProbe: { httpGet: { path: '/live', port: PROXY_PORTS.health }, periodSeconds: 10, failureThreshold: 6, timeoutSeconds: 1 },
    resources: { ...(Object.keys(requests).length > 0 ? { requests } : {}), ...(Object.keys(limits).length > 0 ? { limits } : {}) },
    securityContext: {
      runAsUser: settings.proxyUid,
      runAsGroup: settings.proxyUid,
      runAsNonRoot: true,
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
      capabilities: { drop: ['ALL'] },
    },
    ...(mounts.length > 0 ? { volumeMounts: mounts } : {}),
  };
}

/** The `meshlet iptables` arguments for this pod (also what `--dry-run` shows). */
export function iptablesArgs(settings: PodSettings): string[] {
  const args = [
    'iptables',
    '--proxy-uid', String(settings.proxyUid),
    '--outbound-port', String(PROXY_PORTS.outbound),
    '--inbound-port', String(PROXY_PORTS.inbound),
    '--include-inbound-ports', settings.includeInboundPorts === '*' ? '*' : settings.includeInboundPorts.join(','),
    // The health port stays reachable for the kubelet's probes and Prometheus, like Istio's 15020/15021/15090. Admin
    // needs no exclusion (Istio has none for 15000): it listens on loopback, which PREROUTING never sees, and a
    // connection to POD_IP:15000 is captured like any app port, and its passthrough dials POD_IP:15000: nothing there.
    '--exclude-inbound-ports', [PROXY_PORTS.health, ...settings.excludeInboundPorts.filter((p) => p !== PROXY_PORTS.health)].join(','),
  ];
  if (settings.excludeOutboundPorts.length > 0) args.push('--exclude-outbound-ports', settings.excludeOutboundPorts.join(','));
  if (settings.excludeOutboundIpRanges.length > 0) args.push('--exclude-outbound-ip-ranges', settings.excludeOutboundIpRanges.join(','));
  args.push('--mode', settings.iptablesMode);
  return args;
}

function initContainer(settings: PodSettings): KubeObject {
  return {
    name: INJECTED_NAMES.init,
    image: settings.image,
    imagePullPolicy: settings.imagePullPolicy,
    args: iptablesArgs(settings),
    resources: { requests: { cpu: '10m', memory: '32Mi' }, limits: { cpu: '100m', memory: '64Mi' } },
    // Root with NET_ADMIN/NET_RAW only, as istio-init without CNI (restricted Pod Security needs a CNI: not in v1).
    securityContext: {
      runAsUser: 0,
      runAsGroup: 0,
      runAsNonRoot: false,
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: false,
      capabilities: { add: ['NET_ADMIN', 'NET_RAW'], drop: ['ALL'] },
    },
  };
}

function proxyVolumes(settings: PodSettings): KubeObject[] {
  const volumes: KubeObject[] = [];
  if (settings.xds.token !== null) {
    volumes.push({
      name: INJECTED_NAMES.tokenVolume,
      projected: { sources: [{ serviceAccountToken: { audience: settings.xds.token.audience, expirationSeconds: settings.xds.token.expirationSeconds, path: TOKEN_FILE } }] },
    });
  }
  if (settings.xds.tls !== null) {
    volumes.push({ name: INJECTED_NAMES.caVolume, configMap: { name: settings.xds.tls.caConfigMap, items: [{ key: settings.xds.tls.caKey, path: settings.xds.tls.caKey }] } });
  }
  return volumes;
}

function asObject(value: unknown): KubeObject {
  return value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as KubeObject) : {};
}

function asArray(value: unknown): unknown[] {
  return Array.isArray(value) ? value : [];
}

function clone<T>(value: T): T {
  return structuredClone(value);
}

function stringMap(value: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(asObject(value))) if (typeof v === 'string') out[k] = v;
  return out;
}
