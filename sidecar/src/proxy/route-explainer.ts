// Explains one hypothetical request (admin /explain): listener, route table, virtual host, route, action, cluster, hosts and the balancer's pick, read-only.

import type { HttpConnectionManagerConfig, ListenerConfig } from '../config/listener-config';
import type { LbPolicyConfig } from '../config/cluster-config';
import type { RouteMatchConfig } from '../config/route-config';
import type { Hash64 } from '../core/xxhash64';
import type { CompiledRoute } from '../router/compiled-route';
import type { CompiledVirtualHost } from '../router/compiled-virtual-host';
import { computeRequestHash } from '../router/hash-policy';
import { ObjectHeaderMap, type HeaderObject } from '../router/header-map';
import { MatchInput } from '../router/match-input';
import type { RouteRequest } from '../router/route-request';
import type { RouteTable } from '../router/route-table';
import { coarseHealth, describeHealthFlags, isExcluded } from '../upstream/host-health-flags';
import type { Host } from '../upstream/host';
import type { PriorityLoad } from '../upstream/lb/priority-load';
import { sharedPeakEwmaEstimates, type PeakEwmaEstimates } from '../upstream/lb/peak-ewma';
import type { OutlierDetector } from '../upstream/outlier/outlier-detector';
import type { UpstreamCluster } from '../upstream/upstream-cluster';
import type { ProxyRuntime } from './proxy-runtime';
import { stripPort } from './exchange';

/** The request to explain (admin `/explain` query parameters). */
export interface ExplainRequest {
  /** Host / :authority as a client would send it (port included if it would be). */
  readonly authority: string;
  /** Path with query string; default `/`. */
  readonly path: string;
  /** Default GET. */
  readonly method: string;
  /** Request headers as `[name, value]` pairs; repeated names become multiple values. */
  readonly headers: readonly (readonly [string, string])[];
  /** Only this listener; every listener with an HTTP filter chain when absent. */
  readonly listener?: string | undefined;
  /** Downstream peer IP for `source_ip` hash policies and header formatters (default 127.0.0.1). */
  readonly sourceIp?: string | undefined;
}

/** What the explainer reads: the runtime in force, the clusters, and (optionally) bound ports and outlier state. */
export interface RouteExplainerDeps {
  readonly runtime: () => ProxyRuntime | undefined;
  readonly clusters: { get(name: string): UpstreamCluster | undefined };
  /** Bound addresses by listener name (listeners configured on port 0 bind elsewhere). */
  readonly listenerAddresses?: () => ReadonlyMap<string, { readonly host: string; readonly port: number }>;
  readonly outlierDetector?: (cluster: UpstreamCluster) => OutlierDetector | undefined;
  /** Peak-EWMA estimates the balancers read (default: the process-wide table). */
  readonly peakEwma?: PeakEwmaEstimates;
}

type Json = Record<string, unknown>;

/**
 * Answers "where would this request go" the way Exchange.start and UpstreamCluster.pick decide it, without
 * changing any state: route lookup as RouteTable.match (runtime_fraction draws are the only randomness there),
 * weighted clusters listed with their shares, the request hash computed as the proxy does, the priority load and
 * each host's eligibility read from the cluster's current balancer, and the pick previewed for ring hash and
 * maglev (PriorityBalancer.previewHashPick); for the stateful or random policies the candidates and what the pick
 * depends on (rotation, active requests, peak-EWMA cost) are shown instead. The answer is plain JSON-able data.
 * Cost: O(routes + hosts) per call plus the route header mutations; admin only, never on the request path.
 */
export class RouteExplainer {
  constructor(private readonly deps: RouteExplainerDeps) {}

  explain(query: ExplainRequest): Json {
    const runtime = this.deps.runtime();
    const request = { authority: query.authority, path: query.path, method: query.method, headers: groupHeaders(query.headers) };
    if (runtime === undefined) return { request, error: 'no complete config yet: every request is answered 404 NR' };
    const listeners = [...runtime.snapshot.listeners.values()].filter((l) => query.listener === undefined || l.name === query.listener);
    if (query.listener !== undefined && listeners.length === 0) {
      return { request, error: `no listener named ${JSON.stringify(query.listener)}`, listeners: [...runtime.snapshot.listeners.keys()] };
    }
    const answers: Json[] = [];
    for (const listener of listeners) {
      const chains = listener.defaultFilterChain === null ? listener.filterChains : [...listener.filterChains, listener.defaultFilterChain];
      const httpChains = chains.filter((c) => c.network.kind === 'http');
      if (httpChains.length === 0) {
        if (query.listener !== undefined) answers.push({ listener: listener.name, error: 'no HTTP filter chain (TCP proxy only): requests are not routed' });
        continue;
      }
      for (const chain of httpChains) {
        answers.push({ listener: listener.name, filterChain: chain.name === '' ? null : chain.name, ...this.explainHcm(runtime, listener, chain.network as HttpConnectionManagerConfig, query) });
      }
    }
    return {
      request,
      snapshotVersion: runtime.snapshot.version,
      note: query.listener === undefined ? 'no listener given: the answer of every HTTP filter chain of every listener' : undefined,
      listeners: answers,
    };
  }

  private explainHcm(runtime: ProxyRuntime, listener: ListenerConfig, hcm: HttpConnectionManagerConfig, query: ExplainRequest): Json {
    const bound = this.deps.listenerAddresses?.().get(listener.name);
    const localPort = bound?.port ?? (listener.address.kind === 'socket' ? listener.address.port : 0);
    const localIp = bound?.host ?? (listener.address.kind === 'socket' ? listener.address.host : '127.0.0.1');
    const headers: HeaderObject = groupHeaders(query.headers);
    const contentType = headers['content-type'];
    const request: RouteRequest = {
      authority: stripPort(query.authority, hcm.stripPortMode, localPort),
      path: query.path,
      method: query.method,
      headers: new ObjectHeaderMap(headers),
      isGrpc: typeof contentType === 'string' && contentType.startsWith('application/grpc'),
      scheme: 'http',
    };
    const source = hcm.routeSource;
    const base: Json = {
      address: bound === undefined ? null : `${bound.host}:${bound.port}`,
      direction: listener.trafficDirection,
      routeTable: source.kind === 'inline' ? source.route.name : source.name,
      routeSource: source.kind === 'inline' ? 'inline route_config' : `RDS ${source.name}`,
      authorityMatched: request.authority,
      authorityNote: request.authority === query.authority ? undefined : `port removed (HCM strip_${hcm.stripPortMode === 'any' ? 'any' : 'matching'}_host_port)`,
    };
    const table = runtime.routeTable(hcm);
    if (table === undefined) return { ...base, outcome: '404 NR', why: `RDS ${source.kind === 'rds' ? source.name : ''} is not in the config` };
    const virtualHost = table.findVirtualHost(request.authority);
    if (virtualHost === undefined) return { ...base, virtualHost: null, outcome: '404 NR', why: `no virtual host domain matches ${JSON.stringify(request.authority)} and there is no '*' virtual host`, domains: table.virtualHosts.map((vh) => ({ name: vh.name, domains: vh.config.domains })) };
    const vh = { name: virtualHost.name, ...domainReason(table, virtualHost, request.authority) };
    const input = new MatchInput(request, Math.random);
    const tried: Json[] = [];
    let route: CompiledRoute | undefined;
    let index = -1;
    for (let i = 0; i < virtualHost.routes.length; i++) {
      const r = virtualHost.routes[i]!;
      const matched = r.matches(input);
      tried.push({ index: i, name: r.name === '' ? null : r.name, match: matchSummary(r.config.match), matched });
      if (matched) {
        route = r;
        index = i;
        break;
      }
    }
    const runtimeFraction = virtualHost.routes.some((r) => r.config.match.runtimeFraction !== null);
    const routing: Json = { ...base, virtualHost: vh, routesTried: tried, note: runtimeFraction ? 'some routes match on runtime_fraction: that part of the answer is one random draw' : undefined };
    if (route === undefined) return { ...routing, route: null, outcome: '404 NR', why: `no route of virtual host ${virtualHost.name} matches ${query.method} ${query.path}` };
    routing['route'] = { index, name: route.name === '' ? null : route.name, match: route.config.match };
    return { ...routing, ...this.explainAction(route, request, query, localIp, localPort) };
  }

  private explainAction(route: CompiledRoute, request: RouteRequest, query: ExplainRequest, localIp: string, localPort: number): Json {
    const action = route.config.action;
    if (action.kind === 'direct_response') {
      const reply = route.directResponse();
      return { action: { kind: 'direct_response', status: reply.status, bodyBytes: Buffer.byteLength(reply.body) }, outcome: `${reply.status} direct response` };
    }
    if (action.kind === 'redirect') {
      const reply = route.redirect(request);
      return { action: { kind: 'redirect', status: reply.status, location: reply.location }, outcome: `${reply.status} redirect to ${reply.location}` };
    }
    const sourceIp = query.sourceIp ?? '127.0.0.1';
    const connection = { remoteAddress: sourceIp, remotePort: 0, localAddress: localIp, localPort };
    const spec = action.cluster;
    let candidates: { name: string | undefined; share: number | null; why: string }[];
    if (spec.kind === 'cluster') {
      candidates = [{ name: spec.name, share: null, why: 'the route names one cluster' }];
    } else if (spec.kind === 'cluster_header') {
      const name = route.selectCluster(request, 0);
      candidates = [{ name, share: null, why: name === undefined ? `header ${spec.header} is absent or empty: 503 NC` : `from header ${spec.header}` }];
    } else {
      const total = spec.clusters.reduce((a, c) => a + c.weight, 0);
      candidates = spec.clusters.map((c) => ({ name: c.name, share: total === 0 ? 0 : Math.round((10_000 * c.weight) / total) / 100, why: `weight ${c.weight} of ${total}: one random draw per request picks the cluster` }));
    }
    const timeout = route.finalTimeout(request);
    const forward: Json = {
      action: {
        kind: spec.kind === 'weighted' ? 'weighted_clusters' : spec.kind,
        ...(spec.kind === 'weighted' ? { weights: spec.clusters.map((c) => ({ cluster: c.name, weight: c.weight })) } : {}),
        ...(spec.kind === 'cluster_header' ? { header: spec.header } : {}),
        priority: action.priority,
      },
      rewrites: {
        path: route.rewritePath(query.path),
        pathRewritten: route.rewritePath(query.path) !== query.path,
        host: route.autoHostRewrite ? '(auto_host_rewrite: the picked host name)' : (route.hostRewrite(request, candidates[0]?.name) ?? null),
        prefixRewrite: action.prefixRewrite,
        regexRewrite: action.regexRewrite,
      },
      timeouts: {
        routeTimeoutMs: timeout.globalMs,
        perTryTimeoutMs: timeout.perTryMs,
        perTryIdleTimeoutMs: timeout.perTryIdleMs,
        idleTimeoutMs: route.idleTimeoutMs,
        note: timeout.globalMs === 0 ? 'no route timeout' : undefined,
      },
      retryPolicy: route.retryPolicy === null ? null : { ...route.retryPolicy, source: action.retryPolicy === null ? 'virtual host' : 'route' },
      requestHeaders: routeHeaderChanges(route, request, candidates[0]?.name, sourceIp, localIp, localPort),
      hashPolicies: route.hashPolicies,
    };
    const clusters = candidates.map((c) => this.explainCluster(c.name, c.share, c.why, route, request, connection));
    const first = clusters[0];
    const outcome = clusters.length === 1 && first !== undefined ? (first['outcome'] as string) : `one of ${clusters.length} weighted clusters`;
    return { ...forward, clusters, outcome };
  }

  private explainCluster(name: string | undefined, share: number | null, why: string, route: CompiledRoute, request: RouteRequest, connection: { remoteAddress: string; remotePort: number; localAddress: string; localPort: number }): Json {
    const cluster = name === undefined ? undefined : this.deps.clusters.get(name);
    if (cluster === undefined) return { name: name ?? null, share, why, exists: false, outcome: '503 NC (no such cluster)' };
    const policy = cluster.config.lbPolicy;
    const hashed = route.hashPolicies.length > 0 && (policy.kind === 'ring_hash' || policy.kind === 'maglev') ? computeRequestHash(route.hashPolicies, request, connection) : undefined;
    const breaker = cluster.breakerFor(route.config.action.kind === 'route' ? route.config.action.priority : 'DEFAULT');
    const head: Json = {
      name: cluster.name,
      share,
      why,
      exists: true,
      discoveryType: cluster.config.discoveryType,
      lbPolicy: policy,
      circuitBreaker: { maxRequests: breaker.limits.maxRequests, activeRequests: breaker.requests, full: breaker.requests >= breaker.limits.maxRequests },
    };
    if (cluster.config.discoveryType === 'ORIGINAL_DST') {
      return { ...head, hosts: cluster.hosts.map((h) => this.hostBase(cluster, h)), pick: { deterministic: true, why: 'ORIGINAL_DST: the connection\'s original destination (or x-envoy-original-dst-host) is the host' }, outcome: 'forwarded to the original destination' };
    }
    const balancer = cluster.currentBalancer;
    const load = balancer?.load;
    const failOnPanic = cluster.config.commonLbConfig.zoneAware?.failTrafficOnPanic === true;
    const hosts = cluster.hosts.map((h) => ({ ...this.hostBase(cluster, h), ...eligibility(h, load, failOnPanic) }));
    const eligible = cluster.hosts.filter((_h, i) => hosts[i]!.eligible === true);
    const pick = this.explainPick(cluster, policy, hashed?.hash, eligible, load);
    const breakerFull = breaker.requests >= breaker.limits.maxRequests;
    const pickedHost = pick['host'];
    const outcome = breakerFull ? '503 UO (circuit breaker full)' : eligible.length === 0 ? '503 UH (no eligible host)' : typeof pickedHost === 'string' ? `forwarded to ${pickedHost}` : `forwarded to one of ${eligible.length} eligible host(s)`;
    return {
      ...head,
      requestHash: hashed === undefined ? undefined : hashed.hash === undefined ? null : hashHex(hashed.hash),
      setCookie: hashed?.setCookie,
      priorityLoad: load === undefined ? null : priorityLoadView(load, failOnPanic),
      hosts,
      pick,
      outcome,
    };
  }

  private hostBase(cluster: UpstreamCluster, h: Host): Json {
    const outlier = this.deps.outlierDetector?.(cluster)?.hostView(h);
    return {
      address: h.key,
      hostname: h.hostname === '' ? undefined : h.hostname,
      weight: h.weight,
      priority: h.priority,
      locality: h.locality.region === '' && h.locality.zone === '' && h.locality.subZone === '' ? undefined : h.locality,
      healthFlags: describeHealthFlags(h.healthFlags),
      health: coarseHealth(h.healthFlags),
      excluded: isExcluded(h.healthFlags),
      activeRequests: h.activeRequests,
      outlier: outlier === undefined ? undefined : { ejected: outlier.ejected, numEjections: outlier.numEjections, successRate: outlier.successRate },
    };
  }

  /** The balancer's pick: previewed for hash policies, otherwise the candidates and what the pick depends on. */
  private explainPick(cluster: UpstreamCluster, policy: LbPolicyConfig, hash: Hash64 | undefined, eligible: readonly Host[], load: PriorityLoad | undefined): Json {
    const spread = load === undefined ? '' : prioritySpread(load);
    const locality = cluster.config.commonLbConfig.localityWeighted && policy.kind !== 'ring_hash' && policy.kind !== 'maglev' ? ' Locality-weighted: a locality is chosen first (EDF over effective locality weights).' : '';
    switch (policy.kind) {
      case 'ring_hash':
      case 'maglev': {
        const kind = policy.kind === 'ring_hash' ? 'ring' : 'Maglev table';
        if (hash === undefined) return { deterministic: false, why: `no hash policy produced a hash for this request, so the ${kind} is looked up with a random value (acts like RANDOM).${spread}`, candidates: eligible.map((h) => h.key) };
        const preview = cluster.currentBalancer?.previewHashPick(hash);
        if (preview === undefined) return { deterministic: false, why: 'no balancer (no hosts)' };
        return {
          deterministic: true,
          host: preview.host?.key ?? null,
          priority: preview.priority,
          source: preview.panic ? 'all hosts (priority in panic)' : preview.degraded ? 'degraded hosts' : 'healthy hosts',
          why: `hash ${hashHex(hash)}: hash % 100 + 1 = ${preview.percent} falls in priority ${preview.priority}'s ${preview.degraded ? 'degraded' : 'healthy'} load; the ${kind} of its ${preview.panic ? 'hosts' : 'eligible hosts'} maps the hash to ${preview.host?.key ?? 'no host'}. Retries with previous_hosts move along the ${kind}.`,
        };
      }
      case 'round_robin':
      case 'cluster_provided': {
        const total = eligible.reduce((a, h) => a + h.weight, 0);
        const equal = eligible.every((h) => h.weight === eligible[0]?.weight);
        const slow = policy.kind === 'round_robin' && policy.slowStart !== null ? ` Slow start (window ${policy.slowStart.windowMs} ms) scales the weight of hosts added or recovered within the window.` : '';
        return {
          deterministic: false,
          why: `${equal ? 'plain rotation: the next host in turn' : 'weighted rotation (EDF): each host in proportion to its weight'}; the position in the rotation is balancer state and is not advanced by /explain.${spread}${locality}${slow}`,
          candidates: eligible.map((h) => ({ host: h.key, weight: h.weight, share: total === 0 ? 0 : Math.round((10_000 * h.weight) / total) / 100 })),
        };
      }
      case 'random':
        return { deterministic: false, why: `uniformly random among the eligible hosts of the chosen priority.${spread}${locality}`, candidates: eligible.map((h) => ({ host: h.key, share: Math.round(10_000 / Math.max(1, eligible.length)) / 100 })) };
      case 'least_request': {
        const equal = eligible.every((h) => h.weight === eligible[0]?.weight);
        const weighted = !equal || policy.activeRequestBiasExplicit;
        const bias = policy.activeRequestBias;
        const candidates = eligible
          .map((h) => ({ host: h.key, activeRequests: h.activeRequests, weight: h.weight, score: weighted ? round3(h.weight / Math.pow(h.activeRequests + 1, bias)) : undefined }))
          .sort((a, b) => (weighted ? (b.score ?? 0) - (a.score ?? 0) : a.activeRequests - b.activeRequests));
        const least = candidates[0]?.activeRequests;
        const why = weighted
          ? `weighted least request: EDF over weight / (active + 1)^${bias}; hosts with higher score are picked more often.`
          : policy.selectionMethod === 'FULL_SCAN'
            ? `full scan: the host with the fewest active requests (now ${least ?? '-'}), ties broken at random.`
            : `power of ${policy.choiceCount} choices: ${policy.choiceCount} random draws, the one with the fewest active requests wins (fewest now: ${least ?? '-'}).`;
        return { deterministic: false, why: `${why}${spread}${locality}`, candidates };
      }
      case 'peak_ewma': {
        const estimates = this.deps.peakEwma ?? sharedPeakEwmaEstimates;
        const candidates = eligible
          .map((h) => {
            const rttMs = estimates.peek(h, policy);
            return { host: h.key, rttEstimateMs: round3(rttMs), measured: estimates.has(h), activeRequests: h.activeRequests, cost: round3(rttMs * (h.activeRequests + 1)) };
          })
          .sort((a, b) => a.cost - b.cost);
        return {
          deterministic: false,
          why: `peak-EWMA P2C: two distinct random hosts, the lower cost = RTT estimate x (active + 1) wins; ${candidates[0]?.host ?? 'no host'} (lowest cost) wins any pair it is drawn in.${spread}${locality}`,
          candidates,
        };
      }
    }
  }
}

/** Repeated header names become arrays, names lower-cased (as node delivers them). */
function groupHeaders(pairs: readonly (readonly [string, string])[]): HeaderObject {
  const out: HeaderObject = {};
  for (const [rawName, value] of pairs) {
    const name = rawName.toLowerCase();
    const prev = out[name];
    out[name] = prev === undefined ? value : Array.isArray(prev) ? [...prev, value] : [prev, value];
  }
  return out;
}

/** One line per route match: `prefix /api, header x-canary exact "1", grpc`. */
function matchSummary(m: RouteMatchConfig): string {
  const path = m.path;
  const parts = [`${path.kind} ${path.kind === 'safe_regex' ? path.regex : path.value}${m.caseSensitive ? '' : ' (any case)'}`];
  for (const h of m.headers) parts.push(`header ${h.name}${h.invert ? ' not' : ''} ${h.match.kind}${'value' in h.match ? ` ${JSON.stringify(h.match.value)}` : 'regex' in h.match ? ` ${JSON.stringify(h.match.regex)}` : ''}`);
  for (const q of m.queryParameters) parts.push(`query ${q.name} ${q.match.kind}${'value' in q.match ? ` ${JSON.stringify(q.match.value)}` : ''}`);
  if (m.grpc) parts.push('grpc');
  if (m.runtimeFraction !== null) parts.push(`runtime_fraction ${m.runtimeFraction}`);
  return parts.join(', ');
}

/** Which domain of the chosen virtual host took the authority, and by which rule (DomainIndex precedence). */
function domainReason(table: RouteTable, vh: CompiledVirtualHost, authority: string): Json {
  const host = authority.toLowerCase();
  let best: { domain: string; kind: string; rank: number; length: number } | undefined;
  for (const domain of vh.config.domains) {
    let kind: string | undefined;
    let rank = 0;
    let length = 0;
    if (domain === host) [kind, rank, length] = ['exact', 4, domain.length];
    else if (domain === '*') [kind, rank, length] = ['wildcard *', 1, 0];
    else if (domain.startsWith('*') && host.length > domain.length - 1 && host.endsWith(domain.slice(1))) [kind, rank, length] = ['suffix wildcard', 3, domain.length - 1];
    else if (domain.endsWith('*') && host.length > domain.length - 1 && host.startsWith(domain.slice(0, -1))) [kind, rank, length] = ['prefix wildcard', 2, domain.length - 1];
    if (kind !== undefined && (best === undefined || rank > best.rank || (rank === best.rank && length > best.length))) best = { domain, kind, rank, length };
  }
  const order = 'exact, then the longest suffix wildcard (*.x), then the longest prefix wildcard (x.*), then *';
  if (best === undefined) return { matchedDomain: null, why: `chosen by the route table (${order})`, domains: vh.config.domains };
  const others = table.virtualHosts.length - 1;
  return { matchedDomain: best.domain, matchKind: best.kind, why: `${JSON.stringify(authority)} matches ${best.kind} domain ${JSON.stringify(best.domain)}; precedence: ${order}${others > 0 ? `; ${others} other virtual host(s) in the table` : ''}`, domains: vh.config.domains };
}

/** The request headers the route's mutations and timeout rules set and remove (as the exchange applies them). */
function routeHeaderChanges(route: CompiledRoute, request: RouteRequest, clusterName: string | undefined, sourceIp: string, localIp: string, localPort: number): Json {
  const before = (request.headers as ObjectHeaderMap).object;
  const copy: HeaderObject = {};
  for (const [k, v] of Object.entries(before)) copy[k] = Array.isArray(v) ? [...v] : v;
  const map = new ObjectHeaderMap(copy);
  const vars = { request, downstreamRemoteIp: sourceIp, downstreamRemotePort: 0, downstreamLocalIp: localIp, downstreamLocalPort: localPort, upstreamHost: null, protocol: 'HTTP/1.1', startTimeMs: Date.now() };
  route.setTimeoutHeaders(map, route.finalTimeout(request), request.isGrpc, true);
  route.applyRequestHeaders(map, vars, clusterName);
  const set: Record<string, string | string[]> = {};
  const removed: string[] = [];
  for (const [k, v] of Object.entries(copy)) if (v !== undefined && JSON.stringify(v) !== JSON.stringify(before[k])) set[k] = v;
  for (const k of Object.keys(before)) if (copy[k] === undefined) removed.push(k);
  return { set, removed };
}

/** Whether a host is in the source the balancer picks from, and why not (mirrors PriorityBalancer's build). */
function eligibility(h: Host, load: PriorityLoad | undefined, failOnPanic: boolean): { eligible: boolean; reason?: string } {
  if (load === undefined) return { eligible: false, reason: 'no balancer' };
  const p = h.priority;
  const flags = describeHealthFlags(h.healthFlags);
  if (load.panic[p] === true) {
    if (failOnPanic) return { eligible: false, reason: `priority ${p} is in panic and fail_traffic_on_panic is set: no host is used` };
    return { eligible: true, reason: `priority ${p} is in panic: every host is used, healthy or not${flags === 'healthy' ? '' : ` (this one: ${flags})`}` };
  }
  const health = coarseHealth(h.healthFlags);
  if (health === 'unhealthy') return { eligible: false, reason: `unhealthy: ${flags}` };
  if (health === 'degraded') {
    return (load.degradedLoad[p] ?? 0) > 0 ? { eligible: true, reason: `degraded (${flags}); priority ${p} degraded hosts take ${load.degradedLoad[p]}% of requests` } : { eligible: false, reason: `degraded (${flags}) and priority ${p} sends no load to degraded hosts` };
  }
  if ((load.healthyLoad[p] ?? 0) === 0) return { eligible: false, reason: `healthy, but priority ${p} receives 0% of the load (higher priorities are healthy enough)` };
  return { eligible: true };
}

function priorityLoadView(load: PriorityLoad, failOnPanic: boolean): Json {
  return {
    healthyLoadPercent: load.healthyLoad,
    degradedLoadPercent: load.degradedLoad,
    healthPercent: load.health,
    panic: load.panic,
    totalPanic: load.totalPanic,
    failTrafficOnPanic: failOnPanic,
  };
}

/** " Priority load: P0 100%." style sentence, or '' for the single-priority all-healthy case. */
function prioritySpread(load: PriorityLoad): string {
  const parts: string[] = [];
  load.healthyLoad.forEach((v, p) => {
    if (v > 0) parts.push(`P${p} ${v}%`);
  });
  load.degradedLoad.forEach((v, p) => {
    if (v > 0) parts.push(`P${p} degraded ${v}%`);
  });
  const panic = load.panic.some((x) => x) ? ` Panic at ${load.panic.flatMap((x, p) => (x ? [`P${p}`] : [])).join(', ')}: all hosts of that priority are used.` : '';
  if (parts.length === 1 && parts[0] === 'P0 100%' && panic === '') return '';
  return ` The priority is drawn per request: ${parts.join(', ')}.${panic}`;
}

function hashHex(h: Hash64): string {
  return `0x${h.hi.toString(16).padStart(8, '0')}${h.lo.toString(16).padStart(8, '0')}`;
}

function round3(x: number): number {
  return Math.round(x * 1000) / 1000;
}
