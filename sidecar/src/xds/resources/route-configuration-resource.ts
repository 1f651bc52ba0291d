// RDS: RouteConfiguration -> RouteConfig (virtual hosts, routes, actions, retries, header mutations), all errors collected.

import type { ErrorCollector } from '../../core/validation';
import {
  DEFAULT_MAX_DIRECT_RESPONSE_BODY_BYTES,
  DEFAULT_ROUTE_TIMEOUT_MS,
  type ClusterSpecifierConfig,
  type DirectResponseActionConfig,
  type ForwardActionConfig,
  type HashPolicyConfig,
  type HostRewriteConfig,
  type RedirectActionConfig,
  type RouteActionConfig,
  type RouteConfig,
  type RouteEntryConfig,
  type RouteMatchConfig,
  type RoutePathMatch,
  type TypedPerFilterConfig,
  type VirtualHostConfig,
  type WeightedClusterEntryConfig,
} from '../../config/route-config';
import { durationMs, durationMsOr } from './duration-ms';
import { decodeHeaderMutations } from './header-mutations';
import { decodeHeaderMatcher, decodeList, decodeQueryParameterMatcher, decodeRegex, decodeRegexRewrite } from './matchers';
import { decodeResource, stringField } from './decode-resource';
import { ROUTE_CONFIGURATION_TYPE_URL, type DecodeContext, type DecodedResource, type ResourceDependency, type XdsResourceType } from './resource-type';
import { decodeRetryPolicy } from './retry-policy';
import { canonicalTypeUrl } from './typed-config';
import type { RouteConfiguration__Output } from '../../../../xds-protos/generated/envoy/config/route/v3/RouteConfiguration';
import type { VirtualHost__Output } from '../../../../xds-protos/generated/envoy/config/route/v3/VirtualHost';
import type { Route__Output } from '../../../../xds-protos/generated/envoy/config/route/v3/Route';
import type { RouteMatch__Output } from '../../../../xds-protos/generated/envoy/config/route/v3/RouteMatch';
import type { RouteAction__Output } from '../../../../xds-protos/generated/envoy/config/route/v3/RouteAction';
import type { _envoy_config_route_v3_RouteAction_HashPolicy__Output as HashPolicy__Output } from '../../../../xds-protos/generated/envoy/config/route/v3/RouteAction';
import type { RedirectAction__Output } from '../../../../xds-protos/generated/envoy/config/route/v3/RedirectAction';
import type { DirectResponseAction__Output } from '../../../../xds-protos/generated/envoy/config/route/v3/DirectResponseAction';
import type { Any__Output } from '../../../../xds-protos/generated/google/protobuf/Any';

const PROTO_NAME = 'envoy.config.route.v3.RouteConfiguration';
const FILTER_CONFIG_TYPE_URL = 'type.googleapis.com/envoy.config.route.v3.FilterConfig';

/** typed_per_filter_config kept opaque; a `FilterConfig` wrapper is unwrapped for its `is_optional`. */
function decodeTypedPerFilterConfig(ctx: DecodeContext, map: { readonly [key: string]: Any__Output }, errors: ErrorCollector): TypedPerFilterConfig {
  const out: Record<string, TypedPerFilterConfig[string]> = {};
  for (const [name, any] of Object.entries(map)) {
    let typeUrl = canonicalTypeUrl(any.type_url);
    let value: Uint8Array = any.value;
    let isOptional = false;
    if (typeUrl === FILTER_CONFIG_TYPE_URL) {
      try {
        const fc = ctx.schema.unpackAny<{ config: Any__Output | null; is_optional: boolean }>(any);
        if (fc?.config) {
          typeUrl = canonicalTypeUrl(fc.config.type_url);
          value = fc.config.value;
        }
        isOptional = fc?.is_optional ?? false;
      } catch (err) {
        errors.add(`cannot decode FilterConfig: ${(err as Error).message}`, `typed_per_filter_config[${JSON.stringify(name)}]`);
      }
    }
    out[name] = { typeUrl, value, isOptional };
  }
  return out;
}

function decodePathMatch(m: RouteMatch__Output, errors: ErrorCollector): RoutePathMatch | null {
  switch (m.path_specifier) {
    case 'prefix':
      return { kind: 'prefix', value: m.prefix ?? '' };
    case 'path':
      return { kind: 'path', value: m.path ?? '' };
    case 'safe_regex': {
      const regex = decodeRegex(m.safe_regex, errors.at('safe_regex'));
      return regex === null ? null : { kind: 'safe_regex', regex };
    }
    case 'path_separated_prefix':
      return { kind: 'path_separated_prefix', value: m.path_separated_prefix ?? '' };
    case 'connect_matcher':
      errors.add('CONNECT matching is not supported', 'connect_matcher');
      return null;
    case 'path_match_policy':
      errors.add('path_match_policy extensions (URI templates) are not supported', 'path_match_policy');
      return null;
    default:
      errors.add('route match needs prefix, path, safe_regex or path_separated_prefix');
      return null;
  }
}

function decodeRouteMatch(m: RouteMatch__Output | null, errors: ErrorCollector): RouteMatchConfig | null {
  if (m === null) {
    errors.add('match is required');
    return null;
  }
  const path = decodePathMatch(m, errors);
  // Matching on these would be silently widened if ignored, so they are rejected rather than skipped.
  if (m.tls_context !== null) errors.add('tls_context route matching is not supported', 'tls_context');
  if (m.dynamic_metadata.length > 0) errors.add('dynamic_metadata route matching is not supported', 'dynamic_metadata');
  const rf = m.runtime_fraction?.default_value ?? null;
  const denominators: Record<string, number> = { HUNDRED: 100, TEN_THOUSAND: 10_000, MILLION: 1_000_000 };
  const runtimeFraction = rf === null ? null : Math.min(1, rf.numerator / (denominators[rf.denominator] ?? 100));
  const headers = decodeList(m.headers, errors, 'headers', decodeHeaderMatcher);
  const queryParameters = decodeList(m.query_parameters, errors, 'query_parameters', decodeQueryParameterMatcher);
  if (path === null) return null;
  return { path, caseSensitive: m.case_sensitive?.value ?? true, headers, queryParameters, grpc: m.grpc !== null, runtimeFraction };
}

function decodeHashPolicy(h: HashPolicy__Output, errors: ErrorCollector): HashPolicyConfig | null {
  const terminal = h.terminal;
  switch (h.policy_specifier) {
    case 'header':
      return h.header ? { kind: 'header', headerName: h.header.header_name.toLowerCase(), regexRewrite: decodeRegexRewrite(h.header.regex_rewrite, errors.at('header').at('regex_rewrite')), terminal } : null;
    case 'cookie':
      return h.cookie ? { kind: 'cookie', name: h.cookie.name, ttlMs: durationMs(h.cookie.ttl), path: h.cookie.path, terminal } : null;
    case 'connection_properties':
      return h.connection_properties?.source_ip === true ? { kind: 'source_ip', terminal } : null;
    case 'query_parameter':
      return h.query_parameter ? { kind: 'query_parameter', name: h.query_parameter.name, terminal } : null;
    case 'filter_state':
      return h.filter_state ? { kind: 'filter_state', key: h.filter_state.key, terminal } : null;
    default:
      errors.add('hash policy needs a policy specifier');
      return null;
  }
}

function decodeClusterSpecifier(ctx: DecodeContext, a: RouteAction__Output, errors: ErrorCollector): ClusterSpecifierConfig | null {
  switch (a.cluster_specifier) {
    case 'cluster':
      return { kind: 'cluster', name: a.cluster ?? '' };
    case 'cluster_header':
      return { kind: 'cluster_header', header: (a.cluster_header ?? '').toLowerCase() };
    case 'weighted_clusters': {
      const wc = a.weighted_clusters;
      if (!wc) return null;
      const we = errors.at('weighted_clusters');
      const clusters = decodeList(wc.clusters, we, 'clusters', (c, e): WeightedClusterEntryConfig | null => {
        if (c.cluster_header !== '') {
          e.add('cluster_header in weighted clusters is not supported', 'cluster_header');
          return null;
        }
        return {
          name: c.name,
          weight: c.weight?.value ?? 0,
          hostRewriteLiteral: c.host_rewrite_specifier === 'host_rewrite_literal' ? (c.host_rewrite_literal ?? '') : null,
          typedPerFilterConfig: decodeTypedPerFilterConfig(ctx, c.typed_per_filter_config, e),
          ...decodeHeaderMutations(c, e),
        };
      });
      const totalWeight = clusters.reduce((sum, c) => sum + c.weight, 0);
      if (totalWeight <= 0) we.add('sum of weights in weighted_clusters must be greater than 0', 'clusters');
      if (wc.total_weight !== null && wc.total_weight.value !== totalWeight) we.add(`total_weight ${wc.total_weight.value} does not equal the sum of the cluster weights (${totalWeight})`, 'total_weight');
      if (wc.random_value_specifier === 'header_name') we.add('header_name random values are not supported', 'header_name');
      return { kind: 'weighted', clusters, totalWeight };
    }
    case 'cluster_specifier_plugin':
    case 'inline_cluster_specifier_plugin':
      errors.add('cluster specifier plugins are not supported', a.cluster_specifier);
      return null;
    default:
      return null; // PGV reports the missing required oneof.
  }
}

function decodeHostRewrite(a: RouteAction__Output, errors: ErrorCollector): HostRewriteConfig | null {
  switch (a.host_rewrite_specifier) {
    case 'host_rewrite_literal':
      return { kind: 'literal', value: a.host_rewrite_literal ?? '' };
    case 'auto_host_rewrite':
      return a.auto_host_rewrite?.value === true ? { kind: 'auto' } : null;
    case 'host_rewrite_header':
      return { kind: 'header', header: (a.host_rewrite_header ?? '').toLowerCase() };
    case 'host_rewrite_path_regex': {
      const r = decodeRegexRewrite(a.host_rewrite_path_regex, errors.at('host_rewrite_path_regex'));
      return r === null ? null : { kind: 'path_regex', ...r };
    }
    default:
      return null;
  }
}

function decodeRouteAction(ctx: DecodeContext, a: RouteAction__Output, errors: ErrorCollector): ForwardActionConfig | null {
  const start = errors.errors.length;
  const cluster = decodeClusterSpecifier(ctx, a, errors);
  const regexRewrite = decodeRegexRewrite(a.regex_rewrite, errors.at('regex_rewrite'));
  if (a.prefix_rewrite !== '' && regexRewrite !== null) errors.add('cannot specify both prefix_rewrite and regex_rewrite', 'regex_rewrite');
  if (a.path_rewrite_policy !== null) errors.add('path_rewrite_policy extensions are not supported', 'path_rewrite_policy');
  if (a.retry_policy_typed_config !== null) errors.add('retry_policy_typed_config is not supported', 'retry_policy_typed_config');
  if (a.request_mirror_policies.length > 0) errors.warn('request mirroring is not implemented; mirror policies are ignored', 'request_mirror_policies');
  if (a.hedge_policy !== null) errors.warn('hedging is not implemented; hedge_policy is ignored', 'hedge_policy');
  if (a.internal_redirect_policy !== null) errors.warn('internal redirects are not implemented; redirects are passed downstream', 'internal_redirect_policy');
  const msd = a.max_stream_duration;
  const action: ForwardActionConfig = {
    kind: 'route',
    cluster: cluster ?? { kind: 'cluster', name: '' },
    clusterNotFoundResponseCode: a.cluster_not_found_response_code as ForwardActionConfig['clusterNotFoundResponseCode'],
    prefixRewrite: a.prefix_rewrite === '' ? null : a.prefix_rewrite,
    regexRewrite,
    hostRewrite: decodeHostRewrite(a, errors),
    timeoutMs: durationMsOr(a.timeout, DEFAULT_ROUTE_TIMEOUT_MS),
    idleTimeoutMs: durationMs(a.idle_timeout),
    retryPolicy: decodeRetryPolicy(a.retry_policy, errors.at('retry_policy')),
    hashPolicies: decodeList(a.hash_policy, errors, 'hash_policy', decodeHashPolicy),
    maxGrpcTimeoutMs: durationMs(a.max_grpc_timeout),
    grpcTimeoutOffsetMs: durationMs(a.grpc_timeout_offset),
    maxStreamDuration:
      msd === null
        ? null
        : { maxStreamDurationMs: durationMs(msd.max_stream_duration), grpcTimeoutHeaderMaxMs: durationMs(msd.grpc_timeout_header_max), grpcTimeoutHeaderOffsetMs: durationMs(msd.grpc_timeout_header_offset) },
    priority: a.priority === 'HIGH' ? 'HIGH' : 'DEFAULT',
    upgradeConfigs: a.upgrade_configs.map((u) => ({ upgradeType: u.upgrade_type.toLowerCase(), enabled: u.enabled?.value ?? true })),
  };
  return errors.errors.length > start || cluster === null ? null : action;
}

function decodeRedirect(r: RedirectAction__Output, errors: ErrorCollector): RedirectActionConfig | null {
  const codes: Record<string, RedirectActionConfig['responseCode']> = { MOVED_PERMANENTLY: 301, FOUND: 302, SEE_OTHER: 303, TEMPORARY_REDIRECT: 307, PERMANENT_REDIRECT: 308 };
  let path: RedirectActionConfig['path'] = null;
  if (r.path_rewrite_specifier === 'path_redirect') path = { kind: 'path', value: r.path_redirect ?? '' };
  else if (r.path_rewrite_specifier === 'prefix_rewrite') path = { kind: 'prefix', value: r.prefix_rewrite ?? '' };
  else if (r.path_rewrite_specifier === 'regex_rewrite') {
    const rr = decodeRegexRewrite(r.regex_rewrite, errors.at('regex_rewrite'));
    if (rr === null) return null;
    path = { kind: 'regex', ...rr };
  }
  return {
    kind: 'redirect',
    scheme: r.scheme_rewrite_specifier === 'https_redirect' ? (r.https_redirect === true ? 'https' : null) : r.scheme_rewrite_specifier === 'scheme_redirect' ? (r.scheme_redirect ?? '').toLowerCase() : null,
    host: r.host_redirect === '' ? null : r.host_redirect,
    port: r.port_redirect === 0 ? null : r.port_redirect,
    path,
    responseCode: codes[r.response_code] ?? 301,
    stripQuery: r.strip_query,
  };
}

function decodeDirectResponse(d: DirectResponseAction__Output, maxBodyBytes: number, errors: ErrorCollector): DirectResponseActionConfig | null {
  let body: string | null = null;
  const b = d.body;
  if (b !== null) {
    if (b.specifier === 'inline_string') body = b.inline_string ?? '';
    else if (b.specifier === 'inline_bytes') body = Buffer.from(b.inline_bytes ?? new Uint8Array()).toString('utf8');
    else {
      errors.add('only inline_string and inline_bytes direct response bodies are supported', 'body');
      return null;
    }
    if (Buffer.byteLength(body) > maxBodyBytes) {
      errors.add(`response body size is ${Buffer.byteLength(body)} bytes; maximum is ${maxBodyBytes}`, 'body');
      return null;
    }
  }
  return { kind: 'direct_response', status: d.status, body };
}

function decodeRoute(ctx: DecodeContext, r: Route__Output, maxBodyBytes: number, errors: ErrorCollector): RouteEntryConfig | null {
  const start = errors.errors.length;
  const match = decodeRouteMatch(r.match, errors.at('match'));
  let action: RouteActionConfig | null = null;
  switch (r.action) {
    case 'route':
      action = r.route ? decodeRouteAction(ctx, r.route, errors.at('route')) : null;
      break;
    case 'redirect':
      action = r.redirect ? decodeRedirect(r.redirect, errors.at('redirect')) : null;
      break;
    case 'direct_response':
      action = r.direct_response ? decodeDirectResponse(r.direct_response, maxBodyBytes, errors.at('direct_response')) : null;
      break;
    case 'filter_action':
    case 'non_forwarding_action':
      errors.add(`${r.action} routes are not supported`, r.action);
      break;
    default:
      errors.add('route needs an action: route, redirect or direct_response');
  }
  const typedPerFilterConfig = decodeTypedPerFilterConfig(ctx, r.typed_per_filter_config, errors);
  const mutations = decodeHeaderMutations(r, errors);
  if (match === null || action === null || errors.errors.length > start) return null;
  return { name: r.name, match, action, typedPerFilterConfig, ...mutations };
}

function decodeVirtualHost(ctx: DecodeContext, vh: VirtualHost__Output, maxBodyBytes: number, errors: ErrorCollector): VirtualHostConfig | null {
  const start = errors.errors.length;
  if (vh.matcher !== null) errors.add('the generic matcher API (matcher) is not supported; use routes', 'matcher');
  if (vh.retry_policy_typed_config !== null) errors.add('retry_policy_typed_config is not supported', 'retry_policy_typed_config');
  if (vh.request_mirror_policies.length > 0) errors.warn('request mirroring is not implemented; mirror policies are ignored', 'request_mirror_policies');
  const routes = decodeList(vh.routes, errors, 'routes', (r, e) => decodeRoute(ctx, r, maxBodyBytes, e));
  const config: VirtualHostConfig = {
    name: vh.name,
    domains: vh.domains.map((d) => d.toLowerCase()),
    routes,
    requireTls: vh.require_tls as VirtualHostConfig['requireTls'],
    retryPolicy: decodeRetryPolicy(vh.retry_policy, errors.at('retry_policy')),
    hashPolicies: [],
    typedPerFilterConfig: decodeTypedPerFilterConfig(ctx, vh.typed_per_filter_config, errors),
    includeRequestAttemptCount: vh.include_request_attempt_count,
    includeAttemptCountInResponse: vh.include_attempt_count_in_response,
    ...decodeHeaderMutations(vh, errors),
  };
  return errors.errors.length > start ? null : config;
}

/**
 * Decodes a RouteConfiguration already PGV-checked by the caller (RDS resource or inline in an HCM). Adds Envoy's
 * extra rules: unique virtual host names and unique domains across virtual hosts. `errors` is at the route config.
 */
export function decodeRouteConfig(ctx: DecodeContext, rc: RouteConfiguration__Output, errors: ErrorCollector): RouteConfig | null {
  const start = errors.errors.length;
  if (rc.vhds !== null) errors.add('VHDS is not supported', 'vhds');
  if (rc.cluster_specifier_plugins.length > 0) errors.add('cluster specifier plugins are not supported', 'cluster_specifier_plugins');
  if (rc.request_mirror_policies.length > 0) errors.warn('request mirroring is not implemented; mirror policies are ignored', 'request_mirror_policies');
  const maxBodyBytes = rc.max_direct_response_body_size_bytes?.value ?? DEFAULT_MAX_DIRECT_RESPONSE_BODY_BYTES;
  const virtualHosts = decodeList(rc.virtual_hosts, errors, 'virtual_hosts', (vh, e) => decodeVirtualHost(ctx, vh, maxBodyBytes, e));
  // Envoy (RouteMatcher): "Only unique values for domains are permitted"; virtual host names must be unique too.
  const domainOwner = new Map<string, string>();
  const names = new Set<string>();
  rc.virtual_hosts.forEach((vh, i) => {
    const at = errors.at('virtual_hosts').at(i);
    if (names.has(vh.name)) at.add(`duplicate virtual host name ${JSON.stringify(vh.name)}`, 'name');
    names.add(vh.name);
    vh.domains.forEach((d, j) => {
      const domain = d.toLowerCase();
      const owner = domainOwner.get(domain);
      if (owner !== undefined) at.at('domains').add(`only unique values for domains are permitted: ${JSON.stringify(domain)} is also in virtual host ${JSON.stringify(owner)}`, j);
      else domainOwner.set(domain, vh.name);
    });
  });
  const config: RouteConfig = {
    name: rc.name,
    virtualHosts,
    validateClusters: rc.validate_clusters === null ? null : rc.validate_clusters.value,
    mostSpecificHeaderMutationsWins: rc.most_specific_header_mutations_wins,
    maxDirectResponseBodySizeBytes: maxBodyBytes,
    typedPerFilterConfig: decodeTypedPerFilterConfig(ctx, rc.typed_per_filter_config, errors),
    ...decodeHeaderMutations(rc, errors),
  };
  return errors.errors.length > start ? null : config;
}

/** The RDS resource type. */
export const routeConfigurationResource: XdsResourceType<RouteConfig> = {
  typeUrl: ROUTE_CONFIGURATION_TYPE_URL,
  protoName: PROTO_NAME,
  shortName: 'RDS',
  allResourcesRequiredInSotW: false,
  decode(ctx: DecodeContext, message: unknown): DecodedResource<RouteConfig> {
    return decodeResource(ctx, PROTO_NAME, message, stringField(message, 'name'), 'route configuration', (rc: RouteConfiguration__Output, errors) => decodeRouteConfig(ctx, rc, errors));
  },
  dependencies(): readonly ResourceDependency[] {
    return [];
  },
};
