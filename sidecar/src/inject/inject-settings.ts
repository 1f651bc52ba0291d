// The mesh-wide injection settings (the chart's ConfigMap, `meshlet inject --config`): defaults and validation.

import { ErrorCollector, type Validation } from '../core/validation';

/**
 * Fixed ports of an injected pod (Istio's convention): 15001/15006 capture, admin on 127.0.0.1:15000 only (as
 * Envoy's under Istio), health on the pod IP: 15021 serves the probes and Prometheus and nothing else.
 */
export const PROXY_PORTS = { outbound: 15001, inbound: 15006, admin: 15000, health: 15021 } as const;

/** Names the injector adds to a pod; also how an already injected pod is recognised. */
export const INJECTED_NAMES = {
  proxy: 'meshlet-proxy',
  init: 'meshlet-init',
  tokenVolume: 'meshlet-xds-token',
  caVolume: 'meshlet-xds-ca',
} as const;

/** Annotation written on injected pods (like `sidecar.istio.io/status`): what was added, and the settings' mode. */
export const STATUS_ANNOTATION = 'meshlet.io/status';

/** Requests and limits in Kubernetes quantity syntax; an absent field is not set on the container. */
export interface ProxyResources {
  readonly cpuRequest?: string;
  readonly memoryRequest?: string;
  readonly cpuLimit?: string;
  readonly memoryLimit?: string;
}

/**
 * Where the injected sidecars get their config. Plaintext (`tls: null`) is for a go-control-plane server or
 * istiod's 15010; istiod on 15012 needs `tls` (the `istio-ca-root-cert` ConfigMap istiod publishes in every
 * namespace) and `token` (a projected ServiceAccount token, audience `istio-ca`), as Istio's injection template does.
 */
export interface XdsInjectSettings {
  /** `host:port`, e.g. `istiod.istio-system.svc:15012`. */
  readonly address: string;
  readonly tls: {
    /** ConfigMap holding the CA bundle (mounted read-only into the proxy). */
    readonly caConfigMap: string;
    /** Key in that ConfigMap (`root-cert.pem` for istiod). */
    readonly caKey: string;
    /** Name the server certificate must carry; default the address host. */
    readonly serverName?: string;
  } | null;
  readonly token: {
    /** Projected token audience (`istio-ca` for istiod). */
    readonly audience: string;
    readonly expirationSeconds: number;
  } | null;
}

/**
 * Everything injectPod needs besides the pod. Immutable; the same object for the webhook and the CLI, so both give
 * the same pod. Per-pod annotations (pod-annotations.ts) override the fields they name.
 */
export interface InjectSettings {
  readonly image: string;
  readonly imagePullPolicy: 'Always' | 'IfNotPresent' | 'Never';
  /** `native`: init container with `restartPolicy: Always` (Kubernetes >= 1.29, the Istio 1.27+/Linkerd 2.20 default); `classic`: first regular container holding the app until /ready. */
  readonly sidecarMode: 'native' | 'classic';
  /** UID/GID the proxy runs as; its own traffic is never captured (Istio's 1337). Apps must not use it. */
  readonly proxyUid: number;
  readonly xds: XdsInjectSettings;
  /** istiod's cluster id (node metadata CLUSTER_ID); `Kubernetes` by default, as istiod's. */
  readonly clusterId: string;
  /** istiod version sent as ISTIO_VERSION ('' = not sent; istiod then assumes its own). */
  readonly istioVersion: string;
  readonly tracing: {
    /** OTLP/HTTP endpoint ('' = no tracing), e.g. `http://jaeger-collector.observability:4318`. */
    readonly otlpEndpoint: string;
    /** Percent of new traces sampled, 0..100. */
    readonly samplingPercent: number;
  };
  readonly resources: ProxyResources;
  readonly logLevel: string;
  /** On SIGTERM, how long in-flight requests may finish (Istio's terminationDrainDuration). */
  readonly drainSeconds: number;
  /** `legacy` or `nft` iptables backend for the init container (Linkerd's proxyInit.iptablesMode). */
  readonly iptablesMode: 'legacy' | 'nft';
  /** Default capture exclusions, merged with the pod's annotations. */
  readonly excludeInboundPorts: readonly number[];
  readonly excludeOutboundPorts: readonly number[];
  readonly excludeOutboundIpRanges: readonly string[];
  /** Namespaces never injected (the injector's own and kube-system are always added). */
  readonly excludedNamespaces: readonly string[];
}

export const DEFAULT_INJECT_SETTINGS: InjectSettings = {
  image: 'ghcr.io/meshlet/meshlet:0.1.0',
  imagePullPolicy: 'IfNotPresent',
  sidecarMode: 'native',
  proxyUid: 1337,
  xds: { address: 'istiod.istio-system.svc:15012', tls: { caConfigMap: 'istio-ca-root-cert', caKey: 'root-cert.pem' }, token: { audience: 'istio-ca', expirationSeconds: 43200 } },
  clusterId: 'Kubernetes',
  istioVersion: '',
  tracing: { otlpEndpoint: '', samplingPercent: 1 },
  resources: { cpuRequest: '100m', memoryRequest: '128Mi', memoryLimit: '512Mi' },
  logLevel: 'info',
  drainSeconds: 5,
  iptablesMode: 'nft',
  excludeInboundPorts: [],
  excludeOutboundPorts: [],
  excludeOutboundIpRanges: [],
  excludedNamespaces: ['kube-system'],
};

/** Always excluded from injection, whatever the settings say (a broken injector must not lock these out). */
export const ALWAYS_EXCLUDED_NAMESPACES: readonly string[] = ['kube-system', 'kube-public', 'kube-node-lease'];

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/**
 * Settings from plain JSON (the ConfigMap's `settings.json`, or a YAML file), over the defaults. Unknown keys and
 * wrong types are errors, every one listed with its path. Never throws.
 */
export function parseInjectSettings(raw: unknown, base: InjectSettings = DEFAULT_INJECT_SETTINGS): Validation<InjectSettings> {
  const ec = ErrorCollector.root();
  if (raw === null || raw === undefined) return ec.result(base);
  if (typeof raw !== 'object' || Array.isArray(raw)) {
    ec.add('injection settings must be an object');
    return ec.result(base);
  }
  const obj = raw as Record<string, Json>;
  const out: { -readonly [K in keyof InjectSettings]: InjectSettings[K] } = { ...base };
  const known = new Set(Object.keys(base));
  for (const key of Object.keys(obj)) if (!known.has(key)) ec.add(`unknown setting`, key);

  const str = (key: string, value: Json | undefined, where: ErrorCollector, pattern?: RegExp): string | undefined => {
    if (value === undefined) return undefined;
    if (typeof value !== 'string' || (pattern !== undefined && !pattern.test(value))) {
      where.add(`expected ${pattern === undefined ? 'a string' : `a string matching ${pattern}`}, got ${JSON.stringify(value)}`, key);
      return undefined;
    }
    return value;
  };
  const num = (key: string, value: Json | undefined, where: ErrorCollector, min: number, max: number): number | undefined => {
    if (value === undefined) return undefined;
    if (typeof value !== 'number' || !(value >= min && value <= max)) {
      where.add(`expected a number from ${min} to ${max}, got ${JSON.stringify(value)}`, key);
      return undefined;
    }
    return value;
  };
  const oneOf = <T extends string>(key: string, value: Json | undefined, options: readonly T[]): T | undefined => {
    if (value === undefined) return undefined;
    if (typeof value !== 'string' || !(options as readonly string[]).includes(value)) {
      ec.add(`expected one of ${options.join(', ')}, got ${JSON.stringify(value)}`, key);
      return undefined;
    }
    return value as T;
  };
  const list = <T>(key: string, value: Json | undefined, check: (item: Json) => T | undefined, what: string): T[] | undefined => {
    if (value === undefined) return undefined;
    if (!Array.isArray(value)) {
      ec.add(`expected a list of ${what}`, key);
      return undefined;
    }
    const items: T[] = [];
    value.forEach((item, i) => {
      const parsed = check(item);
      if (parsed === undefined) ec.at(key).add(`expected ${what}, got ${JSON.stringify(item)}`, i);
      else items.push(parsed);
    });
    return items;
  };
  const port = (item: Json): number | undefined => (typeof item === 'number' && Number.isInteger(item) && item >= 1 && item <= 65535 ? item : undefined);
  const cidr = (item: Json): string | undefined => (typeof item === 'string' && parseCidr(item) !== undefined ? item : undefined);
  const name = (item: Json): string | undefined => (typeof item === 'string' && item !== '' ? item : undefined);

  const image = str('image', obj['image'], ec, /^\S+$/);
  if (image !== undefined) out.image = image;
  const pull = oneOf('imagePullPolicy', obj['imagePullPolicy'], ['Always', 'IfNotPresent', 'Never'] as const);
  if (pull !== undefined) out.imagePullPolicy = pull;
  const mode = oneOf('sidecarMode', obj['sidecarMode'], ['native', 'classic'] as const);
  if (mode !== undefined) out.sidecarMode = mode;
  const uid = num('proxyUid', obj['proxyUid'], ec, 1, 2147483647);
  if (uid !== undefined) out.proxyUid = uid;
  if (obj['xds'] !== undefined) {
    const xds = parseXds(obj['xds'], ec.at('xds'), base.xds);
    if (xds !== undefined) out.xds = xds;
  }
  const clusterId = str('clusterId', obj['clusterId'], ec);
  if (clusterId !== undefined) out.clusterId = clusterId;
  const istioVersion = str('istioVersion', obj['istioVersion'], ec);
  if (istioVersion !== undefined) out.istioVersion = istioVersion;
  const tracing = obj['tracing'];
  if (tracing !== undefined) {
    if (tracing === null || typeof tracing !== 'object' || Array.isArray(tracing)) ec.add('expected an object', 'tracing');
    else {
      const endpoint = str('otlpEndpoint', tracing['otlpEndpoint'], ec.at('tracing'), /^(|https?:\/\/\S+)$/);
      const sampling = num('samplingPercent', tracing['samplingPercent'], ec.at('tracing'), 0, 100);
      out.tracing = { otlpEndpoint: endpoint ?? base.tracing.otlpEndpoint, samplingPercent: sampling ?? base.tracing.samplingPercent };
    }
  }
  const resources = obj['resources'];
  if (resources !== undefined) {
    if (resources === null || typeof resources !== 'object' || Array.isArray(resources)) ec.add('expected an object', 'resources');
    else {
      const r: { -readonly [K in keyof ProxyResources]: ProxyResources[K] } = {};
      for (const key of ['cpuRequest', 'memoryRequest', 'cpuLimit', 'memoryLimit'] as const) {
        const value = resources[key];
        if (value === undefined || value === '') continue;
        const problem = typeof value === 'string' ? quantityProblem(value, key.startsWith('cpu') ? 'cpu' : 'memory') : 'expected a string';
        if (problem !== undefined) ec.at('resources').add(problem, key);
        else r[key] = value as string;
      }
      for (const key of Object.keys(resources)) if (!['cpuRequest', 'memoryRequest', 'cpuLimit', 'memoryLimit'].includes(key)) ec.at('resources').add('unknown setting', key);
      out.resources = r;
    }
  }
  const logLevel = oneOf('logLevel', obj['logLevel'], LOG_LEVELS);
  if (logLevel !== undefined) out.logLevel = logLevel;
  const drain = num('drainSeconds', obj['drainSeconds'], ec, 0, 3600);
  if (drain !== undefined) out.drainSeconds = drain;
  const iptablesMode = oneOf('iptablesMode', obj['iptablesMode'], ['legacy', 'nft'] as const);
  if (iptablesMode !== undefined) out.iptablesMode = iptablesMode;
  const exIn = list('excludeInboundPorts', obj['excludeInboundPorts'], port, 'a port number');
  if (exIn !== undefined) out.excludeInboundPorts = exIn;
  const exOut = list('excludeOutboundPorts', obj['excludeOutboundPorts'], port, 'a port number');
  if (exOut !== undefined) out.excludeOutboundPorts = exOut;
  const exCidr = list('excludeOutboundIpRanges', obj['excludeOutboundIpRanges'], cidr, 'a CIDR');
  if (exCidr !== undefined) out.excludeOutboundIpRanges = exCidr;
  const exNs = list('excludedNamespaces', obj['excludedNamespaces'], name, 'a namespace');
  if (exNs !== undefined) out.excludedNamespaces = exNs;
  return ec.result<InjectSettings>(out);
}

function parseXds(raw: Json, ec: ErrorCollector, base: XdsInjectSettings): XdsInjectSettings | undefined {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    ec.add('expected an object');
    return undefined;
  }
  for (const key of Object.keys(raw)) if (!['address', 'tls', 'token'].includes(key)) ec.add('unknown setting', key);
  const address = raw['address'] ?? base.address;
  if (typeof address !== 'string' || !/^(?:\[[^\]]+\]|[^:[\]\s]+):\d{1,5}$/.test(address)) ec.add(`expected HOST:PORT, got ${JSON.stringify(address)}`, 'address');
  let tls = base.tls;
  const rawTls = raw['tls'];
  if (rawTls === null) tls = null;
  else if (rawTls !== undefined) {
    if (typeof rawTls !== 'object' || Array.isArray(rawTls)) ec.add('expected an object or null', 'tls');
    else {
      const caConfigMap = rawTls['caConfigMap'] ?? 'istio-ca-root-cert';
      const caKey = rawTls['caKey'] ?? 'root-cert.pem';
      const serverName = rawTls['serverName'];
      if (typeof caConfigMap !== 'string' || caConfigMap === '') ec.at('tls').add('expected a ConfigMap name', 'caConfigMap');
      if (typeof caKey !== 'string' || caKey === '') ec.at('tls').add('expected a key name', 'caKey');
      if (serverName !== undefined && serverName !== '' && typeof serverName !== 'string') ec.at('tls').add('expected a DNS name', 'serverName');
      tls = {
        caConfigMap: String(caConfigMap),
        caKey: String(caKey),
        ...(typeof serverName === 'string' && serverName !== '' ? { serverName } : {}),
      };
    }
  }
  let token = base.token;
  const rawToken = raw['token'];
  if (rawToken === null) token = null;
  else if (rawToken !== undefined) {
    if (typeof rawToken !== 'object' || Array.isArray(rawToken)) ec.add('expected an object or null', 'token');
    else {
      const audience = rawToken['audience'] ?? 'istio-ca';
      const expiration = rawToken['expirationSeconds'] ?? 43200;
      if (typeof audience !== 'string' || audience === '') ec.at('token').add('expected an audience', 'audience');
      // The kubelet refuses projected tokens shorter than 10 minutes.
      if (typeof expiration !== 'number' || !Number.isInteger(expiration) || expiration < 600) ec.at('token').add('expected whole seconds >= 600', 'expirationSeconds');
      token = { audience: String(audience), expirationSeconds: Number(expiration) };
    }
  }
  return { address: String(address), tls, token };
}

const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const;

/** Why `value` is not a valid Kubernetes quantity for cpu or memory, or undefined when it is. */
export function quantityProblem(value: string, kind: 'cpu' | 'memory'): string | undefined {
  // resource.Quantity: a decimal number with an optional binary (Ki..Ei) or decimal (n u m k M G T P E) suffix.
  if (!/^\+?(?:\d+(?:\.\d*)?|\.\d+)(?:Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E)?$/.test(value)) {
    return `"${value}" is not a ${kind} quantity (e.g. ${kind === 'cpu' ? '100m or 0.5' : '128Mi or 1Gi'})`;
  }
  if (Number.parseFloat(value.replace(/^\+/, '')) === 0) return `"${value}" must be more than zero`;
  return undefined;
}

/** `a.b.c.d/n` or an IPv6 prefix; undefined when invalid. */
export function parseCidr(text: string): { readonly family: 4 | 6; readonly bits: number } | undefined {
  const match = /^([^/]+)\/(\d{1,3})$/.exec(text.trim());
  if (match === null) return undefined;
  const address = match[1] ?? '';
  const bits = Number(match[2]);
  if (/^\d{1,3}(?:\.\d{1,3}){3}$/.test(address)) {
    if (address.split('.').some((octet) => Number(octet) > 255) || bits > 32) return undefined;
    return { family: 4, bits };
  }
  if (address.includes(':') && /^[0-9a-fA-F:.]+$/.test(address) && bits <= 128 && (address.match(/::/g) ?? []).length <= 1) return { family: 6, bits };
  return undefined;
}
