// CompiledRoute: one route with everything the proxy needs precomputed (cluster choice, rewrites, timeouts, headers, replies).

import type { ForwardActionConfig, HashPolicyConfig, RetryPolicyConfig, RouteEntryConfig } from '../config/route-config';
import type { HeaderMap } from './header-map';
import type { HeaderVars } from './header-formatter';
import { compileHeaderLevels, type HeaderLevels } from './header-levels';
import type { HeaderMutations } from './header-mutations';
import type { MatchInput } from './match-input';
import { formatGrpcTimeout, parseGrpcTimeoutMs } from './grpc-timeout';
import { PathRewrite, queryStart } from './path-rewrite';
import { RegexSubstitution } from './re2-regex';
import { requestHeaderValue, type RouteRequest } from './route-request';
import { compileRouteMatcher, type RouteMatcher } from './route-matcher';
import { RouteRedirect, type RedirectResponse } from './route-redirect';

/** What a route inherits from its virtual host and route configuration. */
export interface RouteParent {
  readonly virtualHost: HeaderLevels;
  readonly routeConfig: HeaderLevels;
  readonly virtualHostRetryPolicy: RetryPolicyConfig | null;
  /** RouteConfiguration.most_specific_header_mutations_wins. */
  readonly mostSpecificHeaderMutationsWins: boolean;
}

/** Envoy's router `TimeoutData` for the first attempt: 0 = no timeout. */
export interface FinalTimeout {
  readonly globalMs: number;
  readonly perTryMs: number;
  readonly perTryIdleMs: number;
}

/** A direct_response reply. */
export interface DirectResponse {
  readonly status: number;
  readonly body: string;
}

interface WeightedEntry {
  readonly name: string;
  /** Cumulative weight: this entry owns [previous end, end). */
  readonly end: number;
  readonly headers: HeaderLevels;
  readonly hostRewriteLiteral: string | null;
}

export const UPSTREAM_RQ_TIMEOUT_HEADER = 'x-envoy-upstream-rq-timeout-ms';
export const UPSTREAM_RQ_PER_TRY_TIMEOUT_HEADER = 'x-envoy-upstream-rq-per-try-timeout-ms';
export const EXPECTED_RQ_TIMEOUT_HEADER = 'x-envoy-expected-rq-timeout-ms';

/** absl::SimpleAtoi into uint64, as Envoy parses the x-envoy-*-timeout-ms headers. */
function headerMs(value: string | undefined): number | undefined {
  if (value === undefined || !/^\s*\+?\d+\s*$/.test(value)) return undefined;
  return Number(value);
}

function notA(kind: string): never {
  throw new TypeError(`route action is not ${kind}`);
}

/**
 * One route of a virtual host, compiled once per snapshot. Forward-only members have neutral values on redirect and
 * direct-response routes (no cluster, path unchanged, default timeout); `redirect()` / `directResponse()` throw
 * TypeError on a route of another kind (a caller bug: check `action.kind`).
 */
export class CompiledRoute {
  readonly name: string;
  readonly action: RouteEntryConfig['action'];
  /** Route timeout (15 000 default, 0 = none). */
  readonly timeoutMs: number;
  readonly idleTimeoutMs: number | null;
  /** The route's retry policy, else its virtual host's, else null: the innermost wins, policies are never merged. */
  readonly retryPolicy: RetryPolicyConfig | null;
  readonly maxGrpcTimeoutMs: number | null;
  readonly grpcTimeoutOffsetMs: number | null;
  readonly hashPolicies: readonly HashPolicyConfig[];
  /** `auto_host_rewrite`: the proxy sets Host to the picked upstream host's hostname. */
  readonly autoHostRewrite: boolean;
  /** `max_stream_duration` set: Envoy's "new timeouts" (route timeout and legacy gRPC rule not applied). */
  readonly usingNewTimeouts: boolean;
  private readonly matcher: RouteMatcher;
  private readonly forward: ForwardActionConfig | null;
  private readonly weighted: readonly WeightedEntry[];
  private readonly totalWeight: number;
  private readonly pathRewrite: PathRewrite | null;
  private readonly hostRegex: RegexSubstitution | null;
  private readonly requestLevels: readonly HeaderMutations[];
  private readonly responseLevels: readonly HeaderMutations[];
  private readonly redirector: RouteRedirect | null;
  /** Some level (or weighted cluster) mutates request / response headers: callers skip building HeaderVars otherwise. */
  readonly mutatesRequestHeaders: boolean;
  readonly mutatesResponseHeaders: boolean;

  constructor(
    readonly config: RouteEntryConfig,
    parent: RouteParent,
  ) {
    this.name = config.name;
    this.action = config.action;
    this.matcher = compileRouteMatcher(config.match);
    const a = config.action.kind === 'route' ? config.action : null;
    this.forward = a;
    this.timeoutMs = a?.timeoutMs ?? 15_000;
    this.idleTimeoutMs = a?.idleTimeoutMs ?? null;
    this.retryPolicy = a?.retryPolicy ?? parent.virtualHostRetryPolicy;
    this.maxGrpcTimeoutMs = a?.maxGrpcTimeoutMs ?? null;
    this.grpcTimeoutOffsetMs = a?.grpcTimeoutOffsetMs ?? null;
    this.hashPolicies = a?.hashPolicies ?? [];
    this.autoHostRewrite = a?.hostRewrite?.kind === 'auto';
    this.usingNewTimeouts = a?.maxStreamDuration != null;
    let end = 0;
    this.weighted =
      a?.cluster.kind === 'weighted'
        ? a.cluster.clusters.map((c) => ({ name: c.name, end: (end += c.weight), headers: compileHeaderLevels(c), hostRewriteLiteral: c.hostRewriteLiteral }))
        : [];
    this.totalWeight = end;
    this.pathRewrite = a === null ? null : PathRewrite.of(a.prefixRewrite, a.regexRewrite);
    this.hostRegex = a?.hostRewrite?.kind === 'path_regex' ? new RegexSubstitution(a.hostRewrite.regex, a.hostRewrite.substitution) : null;
    // Envoy's getHeaderParsers: most specific first (route, virtual host, route config) so the least specific is
    // evaluated last and wins, unless most_specific_header_mutations_wins reverses the order.
    const own = compileHeaderLevels(config);
    const levels = parent.mostSpecificHeaderMutationsWins ? [parent.routeConfig, parent.virtualHost, own] : [own, parent.virtualHost, parent.routeConfig];
    this.requestLevels = levels.map((l) => l.request).filter((m) => !m.isEmpty);
    this.responseLevels = levels.map((l) => l.response).filter((m) => !m.isEmpty);
    this.mutatesRequestHeaders = this.requestLevels.length > 0 || this.weighted.some((w) => !w.headers.request.isEmpty);
    this.mutatesResponseHeaders = this.responseLevels.length > 0 || this.weighted.some((w) => !w.headers.response.isEmpty);
    this.redirector = config.action.kind === 'redirect' ? new RouteRedirect(config.action) : null;
  }

  /** Whether this route matches (used by RouteTable in route order). */
  matches(input: MatchInput): boolean {
    return this.matcher.matches(input);
  }

  /**
   * The upstream cluster: the plain cluster; for weighted clusters the entry owning `floor(random01 * total)` in
   * [0, w1), [w1, w1+w2)... (Envoy's pickWeightedCluster with a value in [0,1) instead of `random % total`); for
   * `cluster_header` the header's first value, undefined when it is absent or empty (the proxy answers NC).
   */
  selectCluster(request: RouteRequest, random01: number): string | undefined {
    const a = this.forward;
    if (a === null) return undefined;
    const c = a.cluster;
    if (c.kind === 'cluster') return c.name;
    if (c.kind === 'cluster_header') {
      const v = c.header.charCodeAt(0) === 58 ? requestHeaderValue(request, c.header) : request.headers.getAll(c.header)[0];
      return v === undefined || v === '' ? undefined : v;
    }
    const selected = Math.min(Math.floor(random01 * this.totalWeight), this.totalWeight - 1);
    for (const e of this.weighted) if (selected < e.end) return e.name;
    return undefined;
  }

  /** The upstream path: prefix_rewrite or regex_rewrite applied, query string preserved; unchanged without a rewrite. */
  rewritePath(path: string): string {
    if (this.pathRewrite === null) return path;
    return this.pathRewrite.rewrite(path, this.matcher.matchedLength(path.slice(0, queryStart(path))));
  }

  /**
   * The Host to send upstream, or undefined to keep the request's (and for `auto_host_rewrite`, which the proxy
   * applies with the upstream host). Literal; `host_rewrite_header`'s first value when non-empty; `host_rewrite_path_regex`
   * applied to the path without query. A weighted cluster's `host_rewrite_literal` applies when the route has none of
   * these (Envoy sets it first, then the route's own rewrite overwrites it).
   */
  hostRewrite(request: RouteRequest, clusterName?: string): string | undefined {
    const h = this.forward?.hostRewrite ?? null;
    if (h !== null) {
      switch (h.kind) {
        case 'literal':
          return h.value;
        case 'header': {
          const v = h.header.charCodeAt(0) === 58 ? requestHeaderValue(request, h.header) : request.headers.getAll(h.header)[0];
          if (v !== undefined && v !== '') return v;
          break;
        }
        case 'path_regex':
          return (this.hostRegex as RegexSubstitution).replaceAll(request.path.slice(0, queryStart(request.path)));
        case 'auto':
          break;
      }
    }
    return clusterName === undefined ? undefined : (this.weightedEntry(clusterName)?.hostRewriteLiteral ?? undefined);
  }

  /**
   * Envoy's `FilterUtility::finalTimeout` for the first attempt:
   * - without `max_stream_duration`: a gRPC request on a route with `max_grpc_timeout` takes its `grpc-timeout`
   *   (absent = infinite), minus `grpc_timeout_offset` when the offset is smaller, capped at `max_grpc_timeout`
   *   unless that is 0; other requests take the route timeout. With `max_stream_duration` the global timeout is 0;
   * - `x-envoy-expected-rq-timeout-ms` when `respectExpectedRqTimeout` (router option) and present, else
   *   `x-envoy-upstream-rq-timeout-ms`, overrides it when it parses as an integer;
   * - per try: `x-envoy-upstream-rq-per-try-timeout-ms`, else the retry policy's; dropped when >= a non-zero global.
   */
  finalTimeout(request: RouteRequest, respectExpectedRqTimeout = false): FinalTimeout {
    let globalMs = 0;
    if (!this.usingNewTimeouts) {
      if (request.isGrpc && this.maxGrpcTimeoutMs !== null) {
        let grpc = parseGrpcTimeoutMs(request.headers.get('grpc-timeout')) ?? 0;
        const offset = this.grpcTimeoutOffsetMs;
        if (offset !== null && offset < grpc) grpc -= offset;
        const max = this.maxGrpcTimeoutMs;
        if (max !== 0 && (grpc === 0 || grpc > max)) grpc = max;
        globalMs = grpc;
      } else {
        globalMs = this.timeoutMs;
      }
    }
    const h = request.headers;
    const expected = respectExpectedRqTimeout ? h.get(EXPECTED_RQ_TIMEOUT_HEADER) : undefined;
    globalMs = headerMs(expected !== undefined ? expected : h.get(UPSTREAM_RQ_TIMEOUT_HEADER)) ?? globalMs;
    let perTryMs = headerMs(h.get(UPSTREAM_RQ_PER_TRY_TIMEOUT_HEADER)) ?? this.retryPolicy?.perTryTimeoutMs ?? 0;
    if (perTryMs >= globalMs && globalMs !== 0) perTryMs = 0;
    return { globalMs, perTryMs, perTryIdleMs: this.retryPolicy?.perTryIdleTimeoutMs ?? 0 };
  }

  /** The global (route) timeout in ms for this request, 0 = none: `finalTimeout(request).globalMs`. */
  effectiveTimeoutMs(request: RouteRequest): number {
    return this.finalTimeout(request).globalMs;
  }

  /**
   * Envoy's header side of finalTimeout / setTimeoutHeaders for the first attempt: removes the
   * `x-envoy-upstream-rq-(per-try-)timeout-ms` headers, and with an expected timeout (per try, else global; none when
   * 0) sets `x-envoy-expected-rq-timeout-ms` when `insertExpected` (router not suppressing Envoy headers) and rewrites
   * `grpc-timeout` for gRPC requests on routes with `max_grpc_timeout` (legacy timeouts only).
   */
  setTimeoutHeaders(headers: HeaderMap, timeout: FinalTimeout, isGrpc: boolean, insertExpected: boolean): void {
    headers.remove(UPSTREAM_RQ_TIMEOUT_HEADER);
    headers.remove(UPSTREAM_RQ_PER_TRY_TIMEOUT_HEADER);
    const expected = timeout.perTryMs !== 0 ? timeout.perTryMs : timeout.globalMs;
    if (expected <= 0) return;
    if (insertExpected) headers.set(EXPECTED_RQ_TIMEOUT_HEADER, String(expected));
    if (isGrpc && !this.usingNewTimeouts && this.maxGrpcTimeoutMs !== null) headers.set('grpc-timeout', formatGrpcTimeout(expected));
  }

  /**
   * Applies request header mutations as Envoy's finalizeRequestHeaders: the picked weighted cluster's level first (when
   * `clusterName` names one), then route, virtual host, route configuration — so the least specific level wins a
   * conflict — or route configuration, virtual host, route with `most_specific_header_mutations_wins`. Each level
   * removes, then formats (`%REQ()%` reads `headers` as mutated so far), then overwrites, then appends.
   */
  applyRequestHeaders(headers: HeaderMap, vars: HeaderVars, clusterName?: string): void {
    if (clusterName !== undefined && this.weighted.length > 0) this.weightedEntry(clusterName)?.headers.request.apply(headers, vars, headers);
    for (const level of this.requestLevels) level.apply(headers, vars, headers);
  }

  /**
   * Applies response header mutations in the same order as the request side (weighted cluster first, then by
   * `most_specific_header_mutations_wins`). `%REQ()%` reads `vars.request.headers`. Also for redirects and direct
   * responses (Envoy finalizes their response headers with the route's).
   */
  applyResponseHeaders(headers: HeaderMap, vars: HeaderVars, clusterName?: string): void {
    if (clusterName !== undefined && this.weighted.length > 0) this.weightedEntry(clusterName)?.headers.response.apply(headers, vars, null);
    for (const level of this.responseLevels) level.apply(headers, vars, null);
  }

  /** The redirect reply for a redirect route. */
  redirect(request: RouteRequest): RedirectResponse {
    if (this.redirector === null) return notA('redirect');
    return this.redirector.redirect(request, this.matcher.matchedLength(request.path.slice(0, queryStart(request.path))));
  }

  /** The reply of a direct_response route (no body = empty string). */
  directResponse(): DirectResponse {
    const a = this.action;
    if (a.kind !== 'direct_response') return notA('direct_response');
    return { status: a.status, body: a.body ?? '' };
  }

  private weightedEntry(name: string): WeightedEntry | undefined {
    for (const e of this.weighted) if (e.name === name) return e;
    return undefined;
  }
}
