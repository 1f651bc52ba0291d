// Per-pod `meshlet.io/*` annotations: the known keys, their validation, and the settings they override.

import { parseCidr, quantityProblem, type InjectSettings, type ProxyResources } from './inject-settings';

export const ANNOTATION_PREFIX = 'meshlet.io/';

/**
 * The per-pod annotations (values as strings, as Kubernetes requires). Mirrors Istio's `sidecar.istio.io/proxyCPU`,
 * `traffic.sidecar.istio.io/excludeOutboundPorts`... and Linkerd's `config.linkerd.io/skip-outbound-ports`, under
 * one prefix. Resource annotations merge with the mesh defaults field by field (istio/istio#34822: setting one
 * must not silently drop the others).
 */
export const ANNOTATIONS = {
  inject: 'meshlet.io/inject',
  sidecarMode: 'meshlet.io/sidecar-mode',
  proxyCpu: 'meshlet.io/proxy-cpu',
  proxyMemory: 'meshlet.io/proxy-memory',
  proxyCpuLimit: 'meshlet.io/proxy-cpu-limit',
  proxyMemoryLimit: 'meshlet.io/proxy-memory-limit',
  includeInboundPorts: 'meshlet.io/include-inbound-ports',
  excludeInboundPorts: 'meshlet.io/exclude-inbound-ports',
  excludeOutboundPorts: 'meshlet.io/exclude-outbound-ports',
  excludeOutboundIpRanges: 'meshlet.io/exclude-outbound-ip-ranges',
  logLevel: 'meshlet.io/log-level',
  traceSampling: 'meshlet.io/trace-sampling',
  drainSeconds: 'meshlet.io/drain-seconds',
  status: 'meshlet.io/status',
} as const;

/** The pod's effective settings: the mesh settings with the annotations applied. */
export interface PodSettings extends InjectSettings {
  /** `*` = every inbound port (the default), else the listed ones only (empty = no inbound capture). */
  readonly includeInboundPorts: '*' | readonly number[];
}

export interface AnnotationResult {
  /** `false` when the pod opted out (`meshlet.io/inject: "false"`, as label or annotation). */
  readonly inject: boolean;
  readonly settings: PodSettings;
  /** One clear message per invalid annotation (`meshlet.io/proxy-cpu: "lots" is not a cpu quantity ...`). */
  readonly errors: readonly string[];
  /** Unknown `meshlet.io/` keys (typos): reported, not fatal. */
  readonly warnings: readonly string[];
}

const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'];
const KNOWN = new Set<string>(Object.values(ANNOTATIONS));

/** Reads the pod's annotations (and the `meshlet.io/inject` label) over the mesh settings. Pure; never throws. */
export function readPodAnnotations(
  annotations: Readonly<Record<string, string>>,
  labels: Readonly<Record<string, string>>,
  mesh: InjectSettings,
): AnnotationResult {
  const errors: string[] = [];
  const warnings: string[] = [];
  const settings: { -readonly [K in keyof PodSettings]: PodSettings[K] } = { ...mesh, includeInboundPorts: '*' };
  const bad = (key: string, value: string, why: string): void => {
    errors.push(`annotation ${key}: "${value}" ${why}`);
  };

  let inject = true;
  for (const [source, value] of [['label', labels[ANNOTATIONS.inject]], ['annotation', annotations[ANNOTATIONS.inject]]] as const) {
    if (value === undefined) continue;
    const flag = parseBool(value);
    if (flag === undefined) errors.push(`${source} ${ANNOTATIONS.inject}: "${value}" must be "true" or "false"`);
    else if (!flag) inject = false;
  }

  for (const [key, value] of Object.entries(annotations)) {
    if (!key.startsWith(ANNOTATION_PREFIX) || KNOWN.has(key)) continue;
    warnings.push(`unknown annotation ${key} ignored (known: ${[...KNOWN].filter((k) => k !== ANNOTATIONS.status).join(', ')})`);
    void value;
  }

  const mode = annotations[ANNOTATIONS.sidecarMode];
  if (mode !== undefined) {
    if (mode === 'native' || mode === 'classic') settings.sidecarMode = mode;
    else bad(ANNOTATIONS.sidecarMode, mode, 'must be "native" or "classic"');
  }

  const resources: { -readonly [K in keyof ProxyResources]: ProxyResources[K] } = { ...mesh.resources };
  for (const [key, field, kind] of [
    [ANNOTATIONS.proxyCpu, 'cpuRequest', 'cpu'],
    [ANNOTATIONS.proxyMemory, 'memoryRequest', 'memory'],
    [ANNOTATIONS.proxyCpuLimit, 'cpuLimit', 'cpu'],
    [ANNOTATIONS.proxyMemoryLimit, 'memoryLimit', 'memory'],
  ] as const) {
    const value = annotations[key];
    if (value === undefined) continue;
    const problem = quantityProblem(value.trim(), kind);
    if (problem === undefined) resources[field] = value.trim();
    else errors.push(`annotation ${key}: ${problem}`);
  }
  // A request above its limit is refused by the API server; say so here, naming the annotations.
  for (const [request, limit, kind] of [['cpuRequest', 'cpuLimit', 'cpu'], ['memoryRequest', 'memoryLimit', 'memory']] as const) {
    const r = resources[request];
    const l = resources[limit];
    if (r !== undefined && l !== undefined && quantityValue(r) > quantityValue(l)) {
      errors.push(`proxy ${kind} request ${r} is above its limit ${l} (annotations ${kind === 'cpu' ? `${ANNOTATIONS.proxyCpu} / ${ANNOTATIONS.proxyCpuLimit}` : `${ANNOTATIONS.proxyMemory} / ${ANNOTATIONS.proxyMemoryLimit}`})`);
    }
  }
  settings.resources = resources;

  const include = annotations[ANNOTATIONS.includeInboundPorts];
  if (include !== undefined) {
    if (include.trim() === '*') settings.includeInboundPorts = '*';
    else {
      const ports = parsePorts(include);
      if (ports === undefined) bad(ANNOTATIONS.includeInboundPorts, include, 'must be "*" or a comma-separated list of ports (1-65535)');
      else settings.includeInboundPorts = ports;
    }
  }
  for (const [key, field] of [
    [ANNOTATIONS.excludeInboundPorts, 'excludeInboundPorts'],
    [ANNOTATIONS.excludeOutboundPorts, 'excludeOutboundPorts'],
  ] as const) {
    const value = annotations[key];
    if (value === undefined) continue;
    const ports = parsePorts(value);
    if (ports === undefined) bad(key, value, 'must be a comma-separated list of ports (1-65535)');
    else settings[field] = unique([...mesh[field], ...ports]);
  }
  const cidrs = annotations[ANNOTATIONS.excludeOutboundIpRanges];
  if (cidrs !== undefined) {
    const items = splitList(cidrs);
    const invalid = items.filter((c) => parseCidr(c) === undefined);
    if (invalid.length > 0) bad(ANNOTATIONS.excludeOutboundIpRanges, cidrs, `has invalid CIDRs (${invalid.join(', ')}); expected e.g. 10.0.0.0/8,fd00::/8`);
    else settings.excludeOutboundIpRanges = unique([...mesh.excludeOutboundIpRanges, ...items]);
  }

  const logLevel = annotations[ANNOTATIONS.logLevel];
  if (logLevel !== undefined) {
    if (LOG_LEVELS.includes(logLevel)) settings.logLevel = logLevel;
    else bad(ANNOTATIONS.logLevel, logLevel, `must be one of ${LOG_LEVELS.join(', ')}`);
  }
  const sampling = annotations[ANNOTATIONS.traceSampling];
  if (sampling !== undefined) {
    const n = /^\d+(?:\.\d+)?$/.test(sampling.trim()) ? Number(sampling) : NaN;
    if (n >= 0 && n <= 100) settings.tracing = { ...mesh.tracing, samplingPercent: n };
    else bad(ANNOTATIONS.traceSampling, sampling, 'must be a percentage from 0 to 100');
  }
  const drain = annotations[ANNOTATIONS.drainSeconds];
  if (drain !== undefined) {
    const n = /^\d+$/.test(drain.trim()) ? Number(drain) : NaN;
    if (n >= 0 && n <= 3600) settings.drainSeconds = n;
    else bad(ANNOTATIONS.drainSeconds, drain, 'must be whole seconds from 0 to 3600');
  }
  return { inject, settings, errors, warnings };
}

function parseBool(value: string): boolean | undefined {
  const v = value.trim().toLowerCase();
  if (v === 'true' || v === 'enabled') return true;
  if (v === 'false' || v === 'disabled') return false;
  return undefined;
}

function splitList(value: string): string[] {
  return value.split(',').map((s) => s.trim()).filter((s) => s !== '');
}

/** `80,8080` -> ports; undefined when any item is not a port. `""` is the empty list. */
function parsePorts(value: string): number[] | undefined {
  const ports: number[] = [];
  for (const item of splitList(value)) {
    if (!/^\d{1,5}$/.test(item)) return undefined;
    const port = Number(item);
    if (port < 1 || port > 65535) return undefined;
    ports.push(port);
  }
  return unique(ports);
}

function unique<T>(items: readonly T[]): T[] {
  return [...new Set(items)];
}

const SUFFIX: Readonly<Record<string, number>> = {
  '': 1, n: 1e-9, u: 1e-6, m: 1e-3, k: 1e3, M: 1e6, G: 1e9, T: 1e12, P: 1e15, E: 1e18,
  Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40, Pi: 2 ** 50, Ei: 2 ** 60,
};

/** A validated quantity as a number (for request <= limit). */
function quantityValue(q: string): number {
  const match = /^\+?([\d.]+)([a-zA-Z]*)$/.exec(q);
  return match === null ? NaN : Number(match[1]) * (SUFFIX[match[2] ?? ''] ?? NaN);
}
